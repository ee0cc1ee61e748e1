# SPDX-License-Identifier: Apache-2.0
"""``BlazenPeerServer``: a peer node hosted in this process, started, awaited and shut down from
asyncio while the native node serves on its own threads."""

from __future__ import annotations

import ipaddress
from typing import Any

from . import _async, _native
from ._errors import PeerError, _error, _invalid
from ._registry import SessionRefRegistry, _SessionRegistryHandle
from ._types import ServerTlsConfig, _final, _rust_str


def _parse_socket_addr(addr: str) -> str:
    if not isinstance(addr, str):
        raise TypeError("addr must be a str")
    host, sep, port = addr.rpartition(":")
    try:
        if not sep or not port.isdigit() or int(port) > 65535:
            raise ValueError(addr)
        if host.startswith("[") and host.endswith("]"):
            ipaddress.IPv6Address(host[1:-1])
        else:
            ipaddress.IPv4Address(host)
    except ValueError:
        raise _invalid(f'invalid socket address "{addr}": invalid socket address syntax') from None
    return addr


@_final
class BlazenPeerServer:
    """A peer node hosted in this process: serves the BlazenPeer gRPC service with every
    registered step (built-in and Python ones).

    Extensions over upstream: ``tls`` (from :func:`load_server_tls`: mutual TLS), ``token``
    (default: ``BLAZEN_PEER_TOKEN``; ``""`` disables it), ``http`` (also serve the HTTP/JSON
    transport on this address, for :class:`HttpPeerClient`), ``default_workflows`` (workflow
    name -> step ids run when a request names the workflow and no steps), ``port`` / ``endpoint`` /
    ``http_endpoint`` once bound,
    :meth:`wait_serving`, :meth:`shutdown` and :meth:`session_refs`.
    """

    def __init__(self, node_id: str, *, tls: ServerTlsConfig | None = None,
                 token: str | None = None, http: str | None = None,
                 default_workflows: dict[str, list[str]] | None = None,
                 worker_threads: int | None = None,
                 default_timeout_secs: float | None = None,
                 shutdown_grace_secs: float = 5.0) -> None:
        if not isinstance(node_id, str):
            raise TypeError("node_id must be a str")
        if tls is not None and not isinstance(tls, ServerTlsConfig):
            raise TypeError("tls must come from load_server_tls()")
        self._node_id = node_id
        self._tls = tls
        self._token = token
        self._http = None if http is None else _parse_socket_addr(http)
        self._default_workflows = {str(k): list(v) for k, v in (default_workflows or {}).items()}
        self._worker_threads = worker_threads
        self._default_timeout_secs = default_timeout_secs
        self._shutdown_grace_secs = shutdown_grace_secs
        self._handle: _SessionRegistryHandle | None = None
        self._consumed = False
        self._node: Any = None
        self._start_error: BaseException | None = None
        self._started = None  # asyncio.Event, made on the serving loop

    def with_session_refs(self, registry: "_SessionRegistryHandle | SessionRefRegistry") -> None:
        """Makes the server keep its session refs in ``registry`` (as upstream: the node adopts the
        handle's registry), so the handle and every registry view made from it see the refs the
        node's runs create, and refs already in it are served too."""
        if isinstance(registry, SessionRefRegistry):
            registry = registry.handle()
        if not isinstance(registry, _SessionRegistryHandle):
            raise TypeError("with_session_refs expects a _SessionRegistryHandle")
        if self._consumed:
            raise _error(PeerError, "server already consumed by serve()", "FAILED_PRECONDITION",
                         "transport")
        self._handle = registry

    def serve(self, addr: str):
        """Binds ``addr`` (an IP literal and port, e.g. ``"0.0.0.0:7443"``; port 0 picks a free
        one) and serves until the awaiting task is cancelled or :meth:`shutdown` is called.
        An invalid address raises PeerError at once; a failed bind raises when awaited."""
        listen = _parse_socket_addr(addr)
        return self._serve(listen)

    async def _serve(self, listen: str) -> None:
        import asyncio

        if self._started is None:
            self._started = asyncio.Event()
        if self._consumed:
            raise _error(PeerError, "server already consumed by serve()", "FAILED_PRECONDITION",
                         "transport")
        self._consumed = True
        token = self._token
        try:
            node = await _async.submit(lambda _cancel: _native._PeerNode.start(
                self._node_id, listen, self._tls, token if token else None, token is None,
                self._http, self._worker_threads, self._default_timeout_secs,
                self._shutdown_grace_secs,
                self._handle._slot if self._handle is not None else None))
        except BaseException as exc:
            self._start_error = exc
            self._started.set()
            raise
        for name, steps in self._default_workflows.items():
            node.set_default_workflow(name, steps)
        self._node = node
        self._started.set()
        waiting = _async.submit(lambda _cancel: node.wait())
        try:
            await asyncio.shield(waiting)
        finally:
            # Cancelled (or done): stop serving (in-flight runs get the grace period), and return
            # only once the waiting thread has left native code.
            await asyncio.shield(_async.submit(lambda _cancel: node.shutdown(None)))
            await asyncio.shield(waiting)

    async def wait_serving(self) -> str:
        """Waits until :meth:`serve` has bound its address; returns the endpoint
        (``http://host:port``). Raises the bind error if binding failed."""
        import asyncio

        if self._started is None:
            self._started = asyncio.Event()
        await self._started.wait()
        if self._start_error is not None:
            raise self._start_error
        return self._node.endpoint

    async def shutdown(self, grace_secs: float | None = None) -> None:
        """Stops serving (in-flight runs get ``grace_secs``); :meth:`serve` then returns."""
        node = self._node
        if node is not None:
            await _async.submit(lambda _cancel: node.shutdown(grace_secs))

    @property
    def node_id(self) -> str:
        return self._node_id

    @property
    def port(self) -> int | None:
        """The bound port once serving, else None."""
        return None if self._node is None else self._node.port

    @property
    def endpoint(self) -> str | None:
        """``http://host:port`` (``https://`` with TLS) once serving, else None."""
        return None if self._node is None else self._node.endpoint

    @property
    def http_endpoint(self) -> str | None:
        """``http://host:port`` of the HTTP/JSON transport once serving with ``http=``."""
        if self._node is None or self._http is None:
            return None
        return self._node.http_endpoint

    def session_refs(self) -> SessionRefRegistry:
        """A view of the serving node's session-ref registry."""
        if self._node is None:
            raise _error(PeerError, "server is not serving", "FAILED_PRECONDITION", "transport")
        slot = _native.new_registry_slot()
        self._node.bind_registry(slot)
        return SessionRefRegistry._from_slot(slot)

    def __repr__(self) -> str:
        return f"BlazenPeerServer(node_id={_rust_str(self._node_id)})"
