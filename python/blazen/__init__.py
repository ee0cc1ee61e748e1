# SPDX-License-Identifier: Apache-2.0
"""blazen: distributed Blazen workflows over a C++ peer.

The public surface follows upstream Blazen's Python peer API (``BlazenPeerServer``,
``BlazenPeerClient``, ``SubWorkflowRequest`` ...), backed by the C++ client and server of
blazen-peer. Importing the package registers the node's built-in steps (``blazen::echo``,
``blazen::embed``, ...). Beyond upstream: Python callables can be registered as steps, TLS
configs are applied, ``_SessionRegistryHandle`` is usable, tensor refs decode to numpy, and
``deref_to_file`` streams refs of any size to disk.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any, Callable

from . import _async, _json, _native
from ._steps import Event, StartEvent, StepContext, StopEvent

__all__ = [
    "BlazenError",
    "BlazenPeerClient",
    "BlazenPeerServer",
    "ClientTlsConfig",
    "DerefFileResult",
    "DerefRequest",
    "DerefResponse",
    "ENVELOPE_VERSION",
    "Event",
    "HttpPeerClient",
    "PEER_TOKEN_ENV",
    "PeerError",
    "PeerRemoteRefDescriptor",
    "RefLifetime",
    "RegistryKey",
    "ReleaseRequest",
    "ReleaseResponse",
    "RemoteRefDescriptor",
    "ServerTlsConfig",
    "SessionRefRegistry",
    "StartEvent",
    "StepContext",
    "StepDeserializerRegistry",
    "StopEvent",
    "SubWorkflowRequest",
    "SubWorkflowResponse",
    "load_client_tls",
    "load_server_tls",
    "lookup_step_builder",
    "register_step_builder",
    "registered_step_ids",
    "resolve_peer_token",
    "step",
    "tensor_from_payload",
]

# --- Exceptions and constants --------------------------------------------------------------------

BlazenError = _native.BlazenError
PeerError = _native.PeerError
PeerTransportError = _native.PeerTransportError
PeerEncodeError = _native.PeerEncodeError
PeerEnvelopeVersionError = _native.PeerEnvelopeVersionError
PeerWorkflowError = _native.PeerWorkflowError
PeerTlsError = _native.PeerTlsError
PeerUnknownStepError = _native.PeerUnknownStepError
PeerUnauthenticatedError = _native.PeerUnauthenticatedError
PeerNotFoundError = _native.PeerNotFoundError
PeerDeadlineExceededError = _native.PeerDeadlineExceededError
PeerResourceExhaustedError = _native.PeerResourceExhaustedError
PeerInvalidArgumentError = _native.PeerInvalidArgumentError

ENVELOPE_VERSION: int = _native.ENVELOPE_VERSION
PEER_TOKEN_ENV: str = _native.PEER_TOKEN_ENV

RefLifetime = _native.RefLifetime
ServerTlsConfig = _native.ServerTlsConfig
ClientTlsConfig = _native.ClientTlsConfig


def _error(cls: type, message: str, code: str, kind: str) -> BaseException:
    exc = cls(message)
    exc.code = code
    exc.kind = kind
    return exc


def _invalid(message: str) -> BaseException:
    return _error(PeerInvalidArgumentError, message, "INVALID_ARGUMENT", "invalid_argument")


def _rust_str(text: str) -> str:
    # Rust's Debug rendering of a string, as upstream's reprs show names.
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _no_constructor(name: str) -> Callable[..., None]:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        raise TypeError(f"No constructor defined for {name}")

    return __init__


# --- Module-level functions ----------------------------------------------------------------------


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


# --- Value types ---------------------------------------------------------------------------------


def _final(cls: type) -> type:
    """Seals a public class, as upstream's classes are (subclassing raises TypeError)."""

    def __init_subclass__(sub: type, **kwargs: Any) -> None:
        raise TypeError(f"type '{cls.__name__}' is not an acceptable base type")

    cls.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment]
    return cls


@_final
class SubWorkflowRequest:
    """A request to run a sub-workflow on a peer."""

    __slots__ = ("_workflow_name", "_step_ids", "_input_json", "_timeout_secs")

    def __init__(self, workflow_name: str, step_ids: list[str] | None = None,
                 input: dict | None = None, timeout_secs: int | None = None) -> None:  # noqa: A002
        if not isinstance(workflow_name, str):
            raise TypeError("workflow_name must be a str")
        if step_ids is None:
            step_ids = []
        if isinstance(step_ids, (str, bytes)) or not isinstance(step_ids, (list, tuple)):
            raise TypeError("step_ids must be a list of str")
        if not all(isinstance(s, str) for s in step_ids):
            raise TypeError("step_ids must be a list of str")
        if input is None:
            input = {}
        if not isinstance(input, dict):
            raise TypeError(f"input must be a dict, not {type(input).__name__}")
        if timeout_secs is not None:
            if isinstance(timeout_secs, bool) or not isinstance(timeout_secs, int):
                raise TypeError("timeout_secs must be an int")
            if timeout_secs < 0:
                raise OverflowError("can't convert negative int to unsigned")
            if timeout_secs >= 1 << 64:
                raise OverflowError("timeout_secs too large")
        self._workflow_name = workflow_name
        self._step_ids = list(step_ids)
        self._input_json = _json.dumps(input)
        self._timeout_secs = timeout_secs

    @property
    def envelope_version(self) -> int:
        return ENVELOPE_VERSION

    @property
    def workflow_name(self) -> str:
        return self._workflow_name

    @property
    def step_ids(self) -> list[str]:
        return list(self._step_ids)

    @property
    def timeout_secs(self) -> int | None:
        return self._timeout_secs

    def input_value(self) -> Any:
        """The input, decoded from its JSON form."""
        try:
            return _json.loads(self._input_json)
        except ValueError as exc:
            raise _error(PeerEncodeError, f"invalid input JSON: {exc}", "INVALID_ARGUMENT",
                         "encode") from None

    def __repr__(self) -> str:
        timeout = "None" if self._timeout_secs is None else f"Some({self._timeout_secs})"
        return (f"SubWorkflowRequest(workflow_name={_rust_str(self._workflow_name)}, "
                f"steps={len(self._step_ids)}, timeout_secs={timeout})")


class _Descriptor:
    __slots__ = ("_origin_node_id", "_type_tag", "_created_at_epoch_ms")

    def __init__(self, origin_node_id: str, type_tag: str, created_at_epoch_ms: int) -> None:
        if not isinstance(origin_node_id, str) or not isinstance(type_tag, str):
            raise TypeError("origin_node_id and type_tag must be str")
        if isinstance(created_at_epoch_ms, bool) or not isinstance(created_at_epoch_ms, int):
            raise TypeError("created_at_epoch_ms must be an int")
        if created_at_epoch_ms < 0:
            raise OverflowError("can't convert negative int to unsigned")
        self._origin_node_id = origin_node_id
        self._type_tag = type_tag
        self._created_at_epoch_ms = created_at_epoch_ms

    @property
    def origin_node_id(self) -> str:
        return self._origin_node_id

    @property
    def type_tag(self) -> str:
        return self._type_tag

    @property
    def created_at_epoch_ms(self) -> int:
        return self._created_at_epoch_ms

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(origin_node_id={_rust_str(self._origin_node_id)}, "
                f"type_tag={_rust_str(self._type_tag)}, "
                f"created_at_epoch_ms={self._created_at_epoch_ms})")


@_final
class PeerRemoteRefDescriptor(_Descriptor):
    """Describes a session ref that stayed on the peer: who holds it, its type, when it was made."""

    __slots__ = ()


@_final
class RemoteRefDescriptor(_Descriptor):
    """The core variant of :class:`PeerRemoteRefDescriptor` (same fields)."""

    __slots__ = ()


@_final
class SubWorkflowResponse:
    """The outcome of a sub-workflow. ``error`` set means the remote run failed."""

    __slots__ = ("_envelope_version", "_state_json", "_result_json", "_remote_refs", "_error")
    __init__ = _no_constructor("SubWorkflowResponse")

    @classmethod
    def _from_native(cls, raw: tuple) -> "SubWorkflowResponse":
        response = object.__new__(cls)
        envelope, state, result, refs, error = raw
        response._envelope_version = envelope
        response._state_json = state
        response._result_json = result
        response._remote_refs = {
            uuid: PeerRemoteRefDescriptor(origin, tag, created)
            for uuid, origin, tag, created in refs
        }
        response._error = error
        return response

    @property
    def envelope_version(self) -> int:
        return self._envelope_version

    @property
    def error(self) -> str | None:
        return self._error

    def result_value(self) -> Any:
        """The StopEvent result, decoded; None when the run produced none."""
        if self._result_json is None:
            return None
        try:
            return _json.loads(self._result_json)
        except ValueError as exc:
            raise _error(PeerEncodeError, f"invalid result JSON: {exc}", "DATA_LOSS",
                         "encode") from None

    def state_values(self) -> dict[str, Any]:
        """The run's exported ``ctx.state``, decoded."""
        out = {}
        for key, value in self._state_json.items():
            try:
                out[key] = _json.loads(value)
            except ValueError as exc:
                raise _error(PeerEncodeError, f"invalid state JSON: {exc}", "DATA_LOSS",
                             "encode") from None
        return out

    def remote_refs(self) -> dict[str, PeerRemoteRefDescriptor]:
        """Refs the run left on the peer, keyed by lowercase hyphenated UUID."""
        return dict(self._remote_refs)

    def __repr__(self) -> str:
        error = "None" if self._error is None else f"Some({_rust_str(self._error)})"
        return f"SubWorkflowResponse(refs={len(self._remote_refs)}, error={error})"


class _RefRequest:
    __slots__ = ("_ref_uuid",)

    def __init__(self, ref_uuid: str) -> None:
        if not isinstance(ref_uuid, str):
            raise TypeError("ref_uuid must be a str")
        self._ref_uuid = _native.parse_uuid(ref_uuid)

    @property
    def envelope_version(self) -> int:
        return ENVELOPE_VERSION

    @property
    def ref_uuid(self) -> str:
        return self._ref_uuid

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ref_uuid={self._ref_uuid})"


@_final
class DerefRequest(_RefRequest):
    """Asks for a session ref's payload. Invalid UUIDs raise PeerError."""

    __slots__ = ()


@_final
class ReleaseRequest(_RefRequest):
    """Asks a peer to drop a session ref. Invalid UUIDs raise PeerError."""

    __slots__ = ()


@_final
class DerefResponse:
    """A session ref's payload."""

    __slots__ = ("_payload", "_envelope_version")

    def __init__(self, payload: bytes | bytearray | memoryview | list[int], *,
                 envelope_version: int = ENVELOPE_VERSION) -> None:
        self._payload = bytes(payload)
        self._envelope_version = envelope_version

    @property
    def envelope_version(self) -> int:
        return self._envelope_version

    @property
    def payload(self) -> bytes:
        return self._payload

    def __repr__(self) -> str:
        return f"DerefResponse(payload_len={len(self._payload)})"


@_final
class ReleaseResponse:
    """Whether a release removed the ref (False: it was already gone)."""

    __slots__ = ("_released", "_envelope_version")

    def __init__(self, released: bool, *, envelope_version: int = ENVELOPE_VERSION) -> None:
        self._released = bool(released)
        self._envelope_version = envelope_version

    @property
    def envelope_version(self) -> int:
        return self._envelope_version

    @property
    def released(self) -> bool:
        return self._released

    def __repr__(self) -> str:
        return f"ReleaseResponse(released={'true' if self._released else 'false'})"


@_final
class DerefFileResult:
    """What ``BlazenPeerClient.deref_to_file`` wrote."""

    __slots__ = ("path", "total_size", "type_tag", "streams", "resumes")

    def __init__(self, path: str, total_size: int, type_tag: str, streams: int,
                 resumes: int) -> None:
        self.path = path
        self.total_size = total_size
        self.type_tag = type_tag
        self.streams = streams
        self.resumes = resumes

    def __repr__(self) -> str:
        return (f"DerefFileResult(path={self.path!r}, total_size={self.total_size}, "
                f"type_tag={self.type_tag!r})")


# --- Session refs and the step registry ----------------------------------------------------------


@_final
class RegistryKey:
    """The key of a session ref (a UUID). Invalid text raises ValueError."""

    __slots__ = ("_uuid",)

    def __init__(self, uuid_str: str) -> None:
        if not isinstance(uuid_str, str):
            raise TypeError("uuid_str must be a str")
        try:
            self._uuid = _native.parse_uuid(uuid_str)
        except PeerError as exc:
            raise ValueError(str(exc).split(": ", 1)[-1]) from None

    @staticmethod
    def new_random() -> "RegistryKey":
        return RegistryKey(_native.new_uuid())

    def __str__(self) -> str:
        return self._uuid

    def __repr__(self) -> str:
        return f"RegistryKey({self._uuid})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RegistryKey) and other._uuid == self._uuid

    def __hash__(self) -> int:
        return hash(("RegistryKey", self._uuid))


def _key_text(key: RegistryKey | str) -> str:
    if isinstance(key, RegistryKey):
        return str(key)
    if isinstance(key, str):
        return str(RegistryKey(key))
    raise TypeError("key must be a RegistryKey (or a UUID str)")


@_final
class _SessionRegistryHandle:
    """A shareable handle on a session-ref registry. ``BlazenPeerServer.with_session_refs(h)``
    links it to the server: once the server serves, every :class:`SessionRefRegistry` made from
    ``h`` sees the server's refs (the ones its runs create and remote parents deref)."""

    __slots__ = ("_slot",)

    def __init__(self, registry: "SessionRefRegistry | None" = None) -> None:
        self._slot = registry._slot if registry is not None else _native.new_registry_slot()

    def registry(self) -> "SessionRefRegistry":
        """A :class:`SessionRefRegistry` view of this handle."""
        return SessionRefRegistry._from_slot(self._slot)

    def __repr__(self) -> str:
        return f"_SessionRegistryHandle(len={_native.registry_size(self._slot)})"


@_final
class SessionRefRegistry:
    """A view of a session-ref registry. Each method has an ``a``-prefixed awaitable twin."""

    __slots__ = ("_slot",)

    def __init__(self) -> None:
        self._slot = _native.new_registry_slot()

    @classmethod
    def _from_slot(cls, slot: Any) -> "SessionRefRegistry":
        registry = object.__new__(cls)
        registry._slot = slot
        return registry

    def handle(self) -> _SessionRegistryHandle:
        """A :class:`_SessionRegistryHandle` sharing this registry."""
        return _SessionRegistryHandle(self)

    def len(self) -> int:
        """Number of live refs."""
        return _native.registry_size(self._slot)

    def is_empty(self) -> bool:
        return self.len() == 0

    def keys(self) -> list[RegistryKey]:
        """Keys of the live refs."""
        return [RegistryKey(k) for k in _native.registry_keys(self._slot)]

    def lifetime_of(self, key: RegistryKey | str) -> "RefLifetime | None":
        """The lifetime of a live ref, or None when there is none."""
        return _native.registry_lifetime_of(self._slot, _key_text(key))

    def info(self, key: RegistryKey | str) -> dict | None:
        """Metadata of a live ref (lifetime, type tag, size, location, owner run), or None."""
        return _native.registry_info(self._slot, _key_text(key))

    def get_remote(self, key: RegistryKey | str) -> RemoteRefDescriptor | None:
        """None: this registry holds only values of its own node, never remote placeholders."""
        _key_text(key)
        return None

    def is_remote(self, key: RegistryKey | str) -> bool:
        return self.get_remote(key) is not None

    def remote_entries(self) -> list[tuple[RegistryKey, RemoteRefDescriptor]]:
        return []

    def remove(self, key: RegistryKey | str) -> bool:
        """Drops a ref; True when it was there."""
        return _native.registry_remove(self._slot, _key_text(key))

    def drain(self) -> int:
        """Drops every ref; returns how many."""
        return _native.registry_clear(self._slot)

    def clear_on_context_drop(self, owns_registry: bool) -> int:
        """With ``owns_registry``: drops every UntilContextDrop and UntilParentFinish ref and
        returns how many; otherwise drops nothing (a borrowed registry is its owner's to purge)."""
        return _native.registry_clear_on_context_drop(self._slot, bool(owns_registry))

    def release_scope(self, parent_run_id: str) -> int:
        """Drops every UntilParentFinish ref created for ``parent_run_id``; returns how many."""
        return _native.registry_release_scope(self._slot, parent_run_id)

    def __repr__(self) -> str:
        return f"SessionRefRegistry(len={self.len()})"

    # Awaitable twins (run on a worker thread; the GIL is released while the registry works).
    def alen(self):
        return _async.submit(lambda _cancel: self.len())

    def ais_empty(self):
        return _async.submit(lambda _cancel: self.is_empty())

    def akeys(self):
        return _async.submit(lambda _cancel: self.keys())

    def alifetime_of(self, key):
        text = _key_text(key)
        return _async.submit(lambda _cancel: self.lifetime_of(text))

    def aget_remote(self, key):
        text = _key_text(key)
        return _async.submit(lambda _cancel: self.get_remote(text))

    def ais_remote(self, key):
        text = _key_text(key)
        return _async.submit(lambda _cancel: self.is_remote(text))

    def aremote_entries(self):
        return _async.submit(lambda _cancel: self.remote_entries())

    def aremove(self, key):
        text = _key_text(key)
        return _async.submit(lambda _cancel: self.remove(text))

    def adrain(self):
        return _async.submit(lambda _cancel: self.drain())

    def aclear_on_context_drop(self, owns_registry: bool):
        return _async.submit(lambda _cancel: self.clear_on_context_drop(owns_registry))


@_final
class StepDeserializerRegistry:
    """A stateless view of the process-global step registry."""

    __slots__ = ()

    def len(self) -> int:
        return len(registered_step_ids())

    def is_empty(self) -> bool:
        return self.len() == 0

    def step_ids(self) -> list[str]:
        return registered_step_ids()

    def contains(self, step_id: str) -> bool:
        return lookup_step_builder(step_id)

    def __repr__(self) -> str:
        return f"StepDeserializerRegistry(len={self.len()})"


# --- Server --------------------------------------------------------------------------------------


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


# --- Clients -------------------------------------------------------------------------------------


def _deadline(deadline_secs: float | None) -> float | None:
    if deadline_secs is not None and not deadline_secs > 0:
        raise ValueError("deadline_secs must be positive")
    return deadline_secs


@_final
class BlazenPeerClient:
    """A gRPC connection to a peer. Create it with ``await BlazenPeerClient.connect(...)``.
    Calls may run concurrently; each returns an awaitable and cancelling it cancels the call."""

    __slots__ = ("_native",)
    __init__ = _no_constructor("BlazenPeerClient")

    @staticmethod
    def connect(endpoint: str, node_id: str, *, tls: ClientTlsConfig | None = None,
                token: str | None = None, connect_timeout_secs: float | None = None,
                deadline_secs: float | None = None, parent_run_id: str | None = None):
        """Connects to ``endpoint`` (``http://host:port``, ``https://host:port`` or
        ``host:port``) as ``node_id``. ``tls`` (from :func:`load_client_tls`) enables mutual TLS;
        ``token`` defaults to ``BLAZEN_PEER_TOKEN``. Awaitable of a :class:`BlazenPeerClient`."""
        if not isinstance(endpoint, str) or not isinstance(node_id, str):
            raise TypeError("endpoint and node_id must be str")
        if tls is not None and not isinstance(tls, ClientTlsConfig):
            raise TypeError("tls must come from load_client_tls()")
        deadline = _deadline(deadline_secs)

        def call(_cancel: Any) -> BlazenPeerClient:
            client = object.__new__(BlazenPeerClient)
            client._native = _native._Client.connect(endpoint, node_id, tls, token,
                                                     connect_timeout_secs, deadline,
                                                     parent_run_id)
            return client

        return _async.submit(call)

    @property
    def node_id(self) -> str:
        return self._native.node_id

    @property
    def endpoint(self) -> str:
        return self._native.endpoint

    def invoke_sub_workflow(self, request: SubWorkflowRequest, *,
                            deadline_secs: float | None = None,
                            parent_run_id: str | None = None):
        """Runs a sub-workflow on the peer. Awaitable of a :class:`SubWorkflowResponse`; a run
        that failed comes back with ``error`` set, protocol failures raise PeerError."""
        if not isinstance(request, SubWorkflowRequest):
            raise TypeError("request must be a SubWorkflowRequest")
        deadline = _deadline(deadline_secs)
        native = self._native
        return _async.submit(lambda cancel: SubWorkflowResponse._from_native(native.invoke(
            request._workflow_name, request._step_ids, request._input_json,
            request._timeout_secs, cancel, deadline, parent_run_id)))

    def deref_session_ref(self, ref_uuid: str, *, deadline_secs: float | None = None):
        """Awaitable of a session ref's payload (bytes). An invalid UUID raises PeerError now."""
        uuid = _native.parse_uuid(ref_uuid) if isinstance(ref_uuid, str) else None
        if uuid is None:
            raise TypeError("ref_uuid must be a str")
        deadline = _deadline(deadline_secs)
        native = self._native
        return _async.submit(lambda cancel: native.deref(uuid, cancel, deadline))

    def deref_to_file(self, ref_uuid: str, path: str | os.PathLike[str], *,
                      deadline_secs: float | None = None):
        """Streams a session ref of any size into ``path`` (bounded memory, parallel and resumable
        over the streaming RPC). Awaitable of a :class:`DerefFileResult`."""
        uuid = _native.parse_uuid(ref_uuid) if isinstance(ref_uuid, str) else None
        if uuid is None:
            raise TypeError("ref_uuid must be a str")
        target = os.fspath(path)
        deadline = _deadline(deadline_secs)
        native = self._native

        def call(cancel: Any) -> DerefFileResult:
            total, tag, streams, resumes = native.deref_to_file(uuid, target, cancel, deadline)
            return DerefFileResult(target, total, tag, streams, resumes)

        return _async.submit(call)

    def release_session_ref(self, ref_uuid: str, *, deadline_secs: float | None = None):
        """Awaitable of True when the ref was dropped, False when it was already gone."""
        uuid = _native.parse_uuid(ref_uuid) if isinstance(ref_uuid, str) else None
        if uuid is None:
            raise TypeError("ref_uuid must be a str")
        deadline = _deadline(deadline_secs)
        native = self._native
        return _async.submit(lambda cancel: native.release(uuid, cancel, deadline))

    def release_scope(self, parent_run_id: str):
        """Awaitable of how many UntilParentFinish refs of ``parent_run_id`` were dropped."""
        native = self._native
        return _async.submit(lambda cancel: native.release_scope(parent_run_id, cancel))

    def describe(self):
        """Awaitable of the peer's description (node id, steps, devices, live refs)."""
        native = self._native
        return _async.submit(lambda cancel: native.describe(cancel))

    def __repr__(self) -> str:
        return f"BlazenPeerClient(endpoint={self.endpoint!r}, node_id={self.node_id!r})"


@_final
class HttpPeerClient:
    """The HTTP/JSON peer client (``HttpPeerClient.new_http(base_url, node_id)``)."""

    __slots__ = ("_native", "_base_url", "_node_id")
    __init__ = _no_constructor("HttpPeerClient")

    @staticmethod
    def new_http(base_url: str, node_id: str, *, tls: ClientTlsConfig | None = None,
                 token: str | None = None, parent_run_id: str | None = None) -> "HttpPeerClient":
        """A client of the peer's HTTP/JSON transport at ``base_url``. Synchronous; no I/O
        happens until the first call. ``token`` defaults to ``BLAZEN_PEER_TOKEN``."""
        if not isinstance(base_url, str) or not isinstance(node_id, str):
            raise TypeError("base_url and node_id must be str")
        if not getattr(_native, "HAVE_HTTP_CLIENT", False):
            raise NotImplementedError(
                "HttpPeerClient is not available in this build: the native HTTP client was not "
                "compiled in")
        client = object.__new__(HttpPeerClient)
        if tls is not None and not isinstance(tls, ClientTlsConfig):
            raise TypeError("tls must come from load_client_tls()")
        client._native = _native._HttpClient.new_http(base_url, node_id, tls, token,
                                                      parent_run_id)
        client._base_url = base_url
        client._node_id = node_id
        return client

    def invoke_sub_workflow(self, request: SubWorkflowRequest):
        if not isinstance(request, SubWorkflowRequest):
            raise TypeError("request must be a SubWorkflowRequest")
        native = self._native
        return _async.submit(lambda cancel: SubWorkflowResponse._from_native(native.invoke(
            request._workflow_name, request._step_ids, request._input_json,
            request._timeout_secs, cancel)))

    def deref_session_ref(self, request: DerefRequest):
        if not isinstance(request, DerefRequest):
            raise TypeError("request must be a DerefRequest")
        native = self._native

        def call(cancel: Any) -> DerefResponse:
            envelope, payload = native.deref(request.ref_uuid, cancel)
            return DerefResponse(payload, envelope_version=envelope)

        return _async.submit(call)

    def release_session_ref(self, request: ReleaseRequest):
        if not isinstance(request, ReleaseRequest):
            raise TypeError("request must be a ReleaseRequest")
        native = self._native

        def call(cancel: Any) -> ReleaseResponse:
            envelope, released = native.release(request.ref_uuid, cancel)
            return ReleaseResponse(released, envelope_version=envelope)

        return _async.submit(call)

    def deref_to_file(self, ref_uuid: str, path: str | os.PathLike[str]):
        """Streams a session ref into ``path`` (GET /v1/peer/refs/{uuid}, resumable).
        Awaitable of a :class:`DerefFileResult`."""
        uuid = _native.parse_uuid(ref_uuid) if isinstance(ref_uuid, str) else None
        if uuid is None:
            raise TypeError("ref_uuid must be a str")
        target = os.fspath(path)
        native = self._native

        def call(cancel: Any) -> DerefFileResult:
            total, tag, streams, resumes = native.deref_to_file(uuid, target, cancel)
            return DerefFileResult(target, total, tag, streams, resumes)

        return _async.submit(call)

    def release_scope(self, parent_run_id: str):
        """Awaitable of how many UntilParentFinish refs of ``parent_run_id`` were dropped
        (POST /v1/peer/release_scope)."""
        native = self._native
        return _async.submit(lambda cancel: native.release_scope(parent_run_id, cancel))

    def describe(self):
        """Awaitable of the peer's description (GET /v1/peer/describe), the same dict
        :meth:`BlazenPeerClient.describe` returns."""
        native = self._native
        return _async.submit(lambda cancel: native.describe(cancel))

    def __repr__(self) -> str:
        return f"HttpPeerClient(base_url={self._base_url!r}, node_id={self._node_id!r})"
