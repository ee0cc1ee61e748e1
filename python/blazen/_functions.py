# SPDX-License-Identifier: Apache-2.0
"""The package's module-level functions: the peer token, TLS material loaded and checked up front,
the process-global step registry (Python steps, lookups) and decoding tensor refs."""

from __future__ import annotations

import os
from typing import Any, Callable

from . import _native
from ._steps import StartEvent
from ._types import ClientTlsConfig, DerefResponse, ServerTlsConfig

def resolve_peer_token() -> str | None:
    """The value of ``BLAZEN_PEER_TOKEN`` when it is set and non-empty, else None."""
    return _native.resolve_peer_token()


def load_server_tls(cert_pem_path: str | os.PathLike[str], key_pem_path: str | os.PathLike[str],
                    ca_pem_path: str | os.PathLike[str]) -> ServerTlsConfig:
    """Reads and validates the server's certificate, key and CA (PEM) now, before any network
    I/O. Raises PeerError (PeerTlsError) naming the offending file. Pass the result to
    ``BlazenPeerServer(..., tls=...)``."""
    return _native.load_server_tls(os.fspath(cert_pem_path), os.fspath(key_pem_path),
                                   os.fspath(ca_pem_path))


def load_client_tls(cert_pem_path: str | os.PathLike[str], key_pem_path: str | os.PathLike[str],
                    ca_pem_path: str | os.PathLike[str]) -> ClientTlsConfig:
    """Client counterpart of :func:`load_server_tls`; pass the result to
    ``BlazenPeerClient.connect(..., tls=...)``."""
    return _native.load_client_tls(os.fspath(cert_pem_path), os.fspath(key_pem_path),
                                   os.fspath(ca_pem_path))


def register_step_builder(step_id: str, builder: Callable[..., Any], *,
                          accepts: list[str] | None = None, emits: list[str] | None = None,
                          max_concurrency: int = 0, timeout_secs: float | None = None) -> bool:
    """Registers a Python step under ``step_id`` in the process-global step registry.

    ``builder`` is called as ``builder(ctx, event)`` (a plain function or ``async def``) for each
    event whose type is in ``accepts`` (default: ``["blazen::StartEvent"]``). It returns an
    :class:`Event`, a list of events, None (emits nothing) or any other JSON value, which ends the
    run with that result. ``emits`` documents what it emits. Whatever it raises becomes the run's
    ``response.error``. The first registration of an id wins: returns False (and ignores
    ``builder``) when ``step_id`` is taken.
    """
    if not isinstance(step_id, str):
        raise TypeError("step_id must be a str")
    if not callable(builder):
        raise TypeError("builder must be callable: builder(ctx, event)")
    if accepts is None:
        accepts = [StartEvent().type]
    if isinstance(accepts, str) or not all(isinstance(a, str) for a in accepts):
        raise TypeError("accepts must be a list of event type ids")
    if emits is not None and (isinstance(emits, str) or
                              not all(isinstance(e, str) for e in emits)):
        raise TypeError("emits must be a list of event type ids")
    return _native.register_python_step(step_id, builder, list(accepts), max_concurrency,
                                        timeout_secs)


def step(step_id: str, *, accepts: list[str] | None = None, emits: list[str] | None = None,
         max_concurrency: int = 0, timeout_secs: float | None = None) -> Callable[[Any], Any]:
    """Decorator form of :func:`register_step_builder`; returns the function unchanged."""

    def decorate(fn: Any) -> Any:
        register_step_builder(step_id, fn, accepts=accepts, emits=emits,
                              max_concurrency=max_concurrency, timeout_secs=timeout_secs)
        return fn

    return decorate


def lookup_step_builder(step_id: str) -> bool:
    """True when a step is registered under ``step_id``."""
    if not isinstance(step_id, str):
        raise TypeError("step_id must be a str")
    return _native.lookup_step_builder(step_id)


def registered_step_ids() -> list[str]:
    """Every registered step id (sorted)."""
    return _native.registered_step_ids()


def tensor_from_payload(payload: bytes | "DerefResponse") -> Any:
    """Decodes a ``tensor.npy`` ref payload (an NPY file) into a ``numpy.ndarray``."""
    import io

    import numpy as np

    if isinstance(payload, DerefResponse):
        payload = payload.payload
    return np.load(io.BytesIO(bytes(payload)), allow_pickle=False)
