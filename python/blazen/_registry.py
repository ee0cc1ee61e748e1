# SPDX-License-Identifier: Apache-2.0
"""Session refs and the step registry as Python sees them: ``RegistryKey``, the shareable
``_SessionRegistryHandle``, the ``SessionRefRegistry`` view (each method with an awaitable
``a``-prefixed twin) and the ``StepDeserializerRegistry`` view of the process-global steps."""

from __future__ import annotations

import asyncio  # noqa: F401  (named by the twins' annotations)
import inspect
from typing import Any, Callable

from . import _async, _native
from ._errors import PeerError
from ._functions import lookup_step_builder, registered_step_ids
from ._types import RefLifetime, RemoteRefDescriptor, _final  # noqa: F401  (annotations)


def _awaitable_twin(method: Callable[..., Any],
                    **convert: Callable[[Any], Any]) -> Callable[..., Any]:
    """The awaitable twin ``a<name>`` of the registry method ``method``.

    Calling the twin binds its arguments to ``method``'s signature and applies ``convert`` (one
    function per parameter name, e.g. key validation) right away, so bad arguments raise in the
    caller; then it returns ``_async.submit``'s future of ``method``'s result, computed on a worker
    thread (native registry calls release the GIL). Without a running event loop it raises
    RuntimeError. The registry call is not cancellable: cancelling the future only drops it.
    """
    name = method.__name__
    params = inspect.signature(method)

    def twin(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = params.bind(self, *args, **kwargs)
        for param, fn in convert.items():
            if param in bound.arguments:
                bound.arguments[param] = fn(bound.arguments[param])
        call_args, call_kwargs = bound.args[1:], bound.kwargs
        return _async.submit(lambda _cancel: getattr(self, name)(*call_args, **call_kwargs))

    signature = params
    if isinstance(params.return_annotation, str):
        result = params.return_annotation.strip("'\"")  # quoted: "RefLifetime | None"
        signature = params.replace(return_annotation=f"asyncio.Future[{result}]")
    twin.__name__ = f"a{name}"
    twin.__qualname__ = f"{method.__qualname__.rpartition('.')[0]}.a{name}"
    twin.__module__ = method.__module__
    twin.__doc__ = f"Awaitable of :meth:`{name}`, run on a worker thread." + (
        f" {method.__doc__}" if method.__doc__ else "")
    twin.__signature__ = signature  # type: ignore[attr-defined]
    twin.__annotations__ = {
        p.name: p.annotation for p in signature.parameters.values()
        if p.annotation is not inspect.Parameter.empty}
    if signature.return_annotation is not inspect.Signature.empty:
        twin.__annotations__["return"] = signature.return_annotation
    return twin


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
    # A key is checked and normalized in the caller, before the future is made.
    alen = _awaitable_twin(len)
    ais_empty = _awaitable_twin(is_empty)
    akeys = _awaitable_twin(keys)
    alifetime_of = _awaitable_twin(lifetime_of, key=_key_text)
    aget_remote = _awaitable_twin(get_remote, key=_key_text)
    ais_remote = _awaitable_twin(is_remote, key=_key_text)
    aremote_entries = _awaitable_twin(remote_entries)
    aremove = _awaitable_twin(remove, key=_key_text)
    adrain = _awaitable_twin(drain)
    aclear_on_context_drop = _awaitable_twin(clear_on_context_drop)


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
