# SPDX-License-Identifier: Apache-2.0
"""The value types of the peer protocol (requests, responses, ref descriptors), the native value
types and constants they use, and the helpers that give every public class upstream's shape:
sealed (``_final``), no constructor where upstream has none, Rust-style reprs."""

from __future__ import annotations

from types import FunctionType, ModuleType
from typing import Any, Callable, Iterable

from . import _json, _native
from ._errors import PeerEncodeError, _error

ENVELOPE_VERSION: int = _native.ENVELOPE_VERSION
PEER_TOKEN_ENV: str = _native.PEER_TOKEN_ENV

RefLifetime = _native.RefLifetime
ServerTlsConfig = _native.ServerTlsConfig
ClientTlsConfig = _native.ClientTlsConfig


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


def _final(cls: type) -> type:
    """Seals a public class, as upstream's classes are (subclassing raises TypeError)."""

    def __init_subclass__(sub: type, **kwargs: Any) -> None:
        raise TypeError(f"type '{cls.__name__}' is not an acceptable base type")

    cls.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment]
    return cls


def _present_as(package: str, objects: Iterable[object], modules: Iterable[ModuleType]) -> None:
    """Gives the classes and functions among ``objects`` that ``modules`` define, their methods
    and their private base classes the ``__module__`` ``package``: the package re-exports them
    and they present themselves as its own (reprs, pickling, help())."""
    names = {module.__name__ for module in modules}

    def adopt(obj: Any) -> None:
        if getattr(obj, "__module__", None) not in names:
            return
        obj.__module__ = package
        if isinstance(obj, type):
            for member in vars(obj).values():
                for fn in (getattr(member, "__func__", member), getattr(member, "fget", None),
                           getattr(member, "fset", None)):
                    if isinstance(fn, FunctionType):
                        adopt(fn)
            for base in obj.__bases__:
                adopt(base)

    for obj in list(objects):
        if isinstance(obj, (type, FunctionType)):
            adopt(obj)


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
class ServedBy:
    """Which peer served a call: its node id, its endpoint, and every peer the call was sent to
    (more than one when a pool retried it elsewhere)."""

    __slots__ = ("node_id", "endpoint", "tried")

    def __init__(self, node_id: str, endpoint: str, tried: list[str] | None = None) -> None:
        self.node_id = node_id
        self.endpoint = endpoint
        self.tried = list(tried or [])

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ServedBy) and self.node_id == other.node_id
                and self.endpoint == other.endpoint)

    def __hash__(self) -> int:
        return hash((self.node_id, self.endpoint))

    def __str__(self) -> str:
        return f"{self.node_id or '?'} ({self.endpoint})"

    def __repr__(self) -> str:
        return f"ServedBy(node_id={self.node_id!r}, endpoint={self.endpoint!r})"


@_final
class SubWorkflowResponse:
    """The outcome of a sub-workflow. ``error`` set means the remote run failed."""

    __slots__ = ("_envelope_version", "_state_json", "_result_json", "_remote_refs", "_error",
                 "_peer")
    __init__ = _no_constructor("SubWorkflowResponse")

    @classmethod
    def _from_native(cls, raw: tuple) -> "SubWorkflowResponse":
        response = object.__new__(cls)
        envelope, state, result, refs, error = raw[:5]
        # Invocations add the peer that served them: (node_id, endpoint, peers tried).
        response._peer = ServedBy(*raw[5:8]) if len(raw) >= 8 else None
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
    def peer(self) -> "ServedBy | None":
        """The peer that ran the sub-workflow (a :class:`PeerPool` names it; a single client
        gives its endpoint and an empty node id)."""
        return self._peer

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
