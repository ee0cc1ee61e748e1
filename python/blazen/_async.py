# SPDX-License-Identifier: Apache-2.0
"""Runs blocking native calls (which release the GIL) on a worker thread and hands back an asyncio
future resolved on the caller's loop with ``loop.call_soon_threadsafe``. Cancelling the future
cancels the native call through its CallCancel, so the call stops on the wire too."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable

from . import _native


def submit(fn: Callable[[Any], Any]) -> "asyncio.Future[Any]":
    """Calls ``fn(cancel)`` on a new daemon thread; returns a future of its result.

    Must be called with a running event loop (``RuntimeError`` otherwise, as upstream). The future
    carries ``_blazen_finished``, a ``threading.Event`` set once the worker thread is done.
    """
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    cancel = _native.CallCancel()
    finished = threading.Event()

    def resolve(ok: bool, value: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def worker() -> None:
        try:
            outcome = (True, fn(cancel))
        except BaseException as exc:  # handed to the awaiting task, never lost on this thread
            outcome = (False, exc)
        finished.set()
        try:
            loop.call_soon_threadsafe(resolve, *outcome)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more

    def on_done(done: "asyncio.Future[Any]") -> None:
        if done.cancelled():
            cancel.cancel()

    future.add_done_callback(on_done)
    future._blazen_finished = finished  # type: ignore[attr-defined]
    threading.Thread(target=worker, name="blazen-call", daemon=True).start()
    return future
