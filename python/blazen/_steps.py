# SPDX-License-Identifier: Apache-2.0
"""Python steps: events, the step context, and the trampoline the native engine calls.

The engine runs a step on one of its worker threads, takes the GIL and calls :func:`_run_step`.
A plain function runs right there; an ``async def`` step runs on a dedicated event-loop thread
while the worker waits (and cancels it when the run is cancelled or passes its deadline). Whatever
the step raises becomes the run's ``response.error``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from typing import Any, Iterator

from . import _json, _native

START_EVENT = "blazen::StartEvent"
STOP_EVENT = "blazen::StopEvent"


class Event:
    """A workflow event: a type id and a JSON payload (a dict)."""

    __slots__ = ("type", "payload")

    def __init__(self, type: str, payload: dict | None = None) -> None:  # noqa: A002
        if not isinstance(type, str):
            raise TypeError("event type must be a str")
        self.type = type
        self.payload = {} if payload is None else payload

    @property
    def data(self) -> Any:
        """``payload["data"]`` (the input of a StartEvent)."""
        return self.payload.get("data") if isinstance(self.payload, dict) else None

    @property
    def result(self) -> Any:
        """``payload["result"]`` (the result of a StopEvent)."""
        return self.payload.get("result") if isinstance(self.payload, dict) else None

    def __repr__(self) -> str:
        return f"Event(type={self.type!r}, payload={self.payload!r})"


class StartEvent(Event):
    """``blazen::StartEvent{data}``: starts a run."""

    __slots__ = ()

    def __init__(self, data: Any = None) -> None:
        super().__init__(START_EVENT, {"data": data})


class StopEvent(Event):
    """``blazen::StopEvent{result}``: ends the run with ``result``."""

    __slots__ = ()

    def __init__(self, result: Any = None) -> None:
        super().__init__(STOP_EVENT, {"result": result})


def _make_event(event_type: str, payload: Any) -> Event:
    cls = {START_EVENT: StartEvent, STOP_EVENT: StopEvent}.get(event_type, Event)
    event = object.__new__(cls)
    event.type = event_type
    event.payload = payload
    return event


class _State:
    """``ctx.state``: the run's JSON state (exported in ``response.state_values()``), as a
    mapping."""

    __slots__ = ("_native",)

    def __init__(self, native: Any) -> None:
        self._native = native

    def __getitem__(self, key: str) -> Any:
        text = self._native.get_state(key)
        if text is None:
            raise KeyError(key)
        return _json.loads(text)

    def __setitem__(self, key: str, value: Any) -> None:
        self._native.set_state(str(key), _json.dumps(value))

    def __delitem__(self, key: str) -> None:
        if not self._native.remove_state(key):
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._native.get_state(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._native.state_snapshot())

    def __len__(self) -> int:
        return len(self._native.state_snapshot())

    def get(self, key: str, default: Any = None) -> Any:
        text = self._native.get_state(key)
        return default if text is None else _json.loads(text)

    def keys(self) -> list[str]:
        return list(self._native.state_snapshot())

    def items(self) -> list[tuple[str, Any]]:
        return [(k, _json.loads(v)) for k, v in self._native.state_snapshot().items()]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.items())


class StepContext:
    """What a Python step sees of its run. Valid only while the step runs."""

    __slots__ = ("_native", "state")

    def __init__(self, native: Any) -> None:
        self._native = native
        self.state = _State(native)

    @property
    def run_id(self) -> str:
        return self._native.run_id

    @property
    def workflow_name(self) -> str:
        return self._native.workflow_name

    @property
    def parent_run_id(self) -> str | None:
        return self._native.parent_run_id

    @property
    def caller_node_id(self) -> str:
        return self._native.caller_node_id

    def cancelled(self) -> bool:
        """True once the run was cancelled or passed its deadline: return early."""
        return self._native.cancelled()

    def insert_bytes(self, data: bytes, type_tag: str = "bytes",
                     lifetime: "_native.RefLifetime | None" = None) -> str:
        """Keeps ``data`` on this peer as a session ref; returns its UUID. With the default
        lifetime (UntilParentFinish) it is listed in ``response.remote_refs()``."""
        if lifetime is None:
            lifetime = _native.RefLifetime.UntilParentFinish
        return self._native.insert_bytes(bytes(data), type_tag, lifetime)

    def insert_tensor(self, array: Any, lifetime: "_native.RefLifetime | None" = None) -> str:
        """Keeps a numpy array (float32, float16, int32, int64 or uint8) on this peer as a
        ``tensor.npy`` session ref; returns its UUID."""
        import numpy as np

        if lifetime is None:
            lifetime = _native.RefLifetime.UntilParentFinish
        arr = np.ascontiguousarray(array)
        names = {"float32": "f32", "float16": "f16", "int32": "i32", "int64": "i64", "uint8": "u8"}
        if arr.dtype.name not in names:
            raise TypeError(f"unsupported tensor dtype {arr.dtype}; use one of {sorted(names)}")
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        return self._native.insert_tensor(names[arr.dtype.name], list(arr.shape), arr.tobytes(),
                                          lifetime)

    def read_ref(self, ref_uuid: str) -> tuple[str, bytes]:
        """``(type_tag, payload)`` of a session ref held by this peer."""
        return self._native.read_ref(ref_uuid)

    def __repr__(self) -> str:
        valid = self._native.valid
        return f"StepContext(run_id={self._native.run_id!r})" if valid else "StepContext(<ended>)"


_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _step_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="blazen-steps", daemon=True).start()
            _loop = loop
        return _loop


def _run_awaitable(awaitable: Any, native_ctx: Any) -> Any:
    async def main() -> Any:
        return await awaitable

    future = asyncio.run_coroutine_threadsafe(main(), _step_loop())
    while True:
        done, _ = concurrent.futures.wait([future], timeout=0.05)
        if done:
            return future.result()
        if native_ctx.cancelled():
            future.cancel()
            raise asyncio.CancelledError("the run was cancelled or passed its deadline")


def _events_out(out: Any) -> list[tuple[str, str]]:
    if out is None:
        return []
    if isinstance(out, Event):
        return [(out.type, _json.dumps(out.payload))]
    if isinstance(out, (list, tuple)) and all(isinstance(item, Event) for item in out):
        return [(item.type, _json.dumps(item.payload)) for item in out]
    return [(STOP_EVENT, _json.dumps({"result": out}))]


def _run_step(fn: Any, event_type: str, payload_json: str, native_ctx: Any) -> tuple[bool, Any]:
    """Called by the engine (GIL held): ``(True, [(type, payload_json), ...])`` or
    ``(False, message)``."""
    try:
        event = _make_event(event_type, _json.loads(payload_json))
        out = fn(StepContext(native_ctx), event)
        if inspect.isawaitable(out):
            out = _run_awaitable(out, native_ctx)
        return True, _events_out(out)
    except (Exception, asyncio.CancelledError) as exc:
        return False, f"{type(exc).__name__}: {exc}"
