# SPDX-License-Identifier: Apache-2.0
"""The peer clients: ``BlazenPeerClient`` (gRPC) and ``HttpPeerClient`` (HTTP/JSON). Both check
their arguments in the caller and run the native call on a worker thread; cancelling the awaitable
cancels the call through its CallCancel (see ``_async``)."""

from __future__ import annotations

import os
from typing import Any, Callable

from . import _async, _native
from ._types import (ClientTlsConfig, DerefFileResult, DerefRequest, DerefResponse,
                     ReleaseRequest, ReleaseResponse, SubWorkflowRequest, SubWorkflowResponse,
                     _final, _no_constructor)


def _deadline(deadline_secs: float | None) -> float | None:
    if deadline_secs is not None and not deadline_secs > 0:
        raise ValueError("deadline_secs must be positive")
    return deadline_secs


def _ref_uuid(ref_uuid: str) -> str:
    # The canonical text of a ref's UUID; invalid text raises PeerError in the caller.
    uuid = _native.parse_uuid(ref_uuid) if isinstance(ref_uuid, str) else None
    if uuid is None:
        raise TypeError("ref_uuid must be a str")
    return uuid


def _check_request(request: Any, cls: type) -> None:
    if not isinstance(request, cls):
        raise TypeError(f"request must be a {cls.__name__}")


class _ClientBase:
    """What both clients share: how a native call runs, and the operations whose native calls
    take the same arguments. Each native call takes its arguments, then the call's CallCancel,
    then the transport's per-call options (the gRPC client's deadline and parent run id)."""

    __slots__ = ()

    def _submit(self, method: str, args: tuple = (), options: tuple = (),
                then: Callable[[Any], Any] | None = None) -> Any:
        """A future of ``then(native.<method>(*args, cancel, *options))``, run on a worker
        thread; ``then`` builds the public result from the native one."""
        native = self._native

        def call(cancel: Any) -> Any:
            out = getattr(native, method)(*args, cancel, *options)
            return out if then is None else then(out)

        return _async.submit(call)

    def _invoke(self, request: SubWorkflowRequest, *options: Any) -> Any:
        return self._submit("invoke", (request._workflow_name, request._step_ids,
                                       request._input_json, request._timeout_secs),
                            options, SubWorkflowResponse._from_native)

    def _deref_to_file(self, uuid: str, target: str, *options: Any) -> Any:
        def result(out: tuple) -> DerefFileResult:
            total, tag, streams, resumes = out
            return DerefFileResult(target, total, tag, streams, resumes)

        return self._submit("deref_to_file", (uuid, target), options, result)


@_final
class BlazenPeerClient(_ClientBase):
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
            client._native = _native._PeerClient.connect(endpoint, node_id, tls, token,
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
        _check_request(request, SubWorkflowRequest)
        return self._invoke(request, _deadline(deadline_secs), parent_run_id)

    def deref_session_ref(self, ref_uuid: str, *, deadline_secs: float | None = None):
        """Awaitable of a session ref's payload (bytes). An invalid UUID raises PeerError now."""
        uuid = _ref_uuid(ref_uuid)
        return self._submit("deref", (uuid,), (_deadline(deadline_secs),))

    def deref_to_file(self, ref_uuid: str, path: str | os.PathLike[str], *,
                      deadline_secs: float | None = None):
        """Streams a session ref of any size into ``path`` (bounded memory, parallel and resumable
        over the streaming RPC). Awaitable of a :class:`DerefFileResult`."""
        uuid = _ref_uuid(ref_uuid)
        target = os.fspath(path)
        return self._deref_to_file(uuid, target, _deadline(deadline_secs))

    def release_session_ref(self, ref_uuid: str, *, deadline_secs: float | None = None):
        """Awaitable of True when the ref was dropped, False when it was already gone."""
        uuid = _ref_uuid(ref_uuid)
        return self._submit("release", (uuid,), (_deadline(deadline_secs),))

    def release_scope(self, parent_run_id: str):
        """Awaitable of how many UntilParentFinish refs of ``parent_run_id`` were dropped."""
        return self._submit("release_scope", (parent_run_id,))

    def describe(self):
        """Awaitable of the peer's description (node id, steps, devices, live refs)."""
        return self._submit("describe")

    def __repr__(self) -> str:
        return f"BlazenPeerClient(endpoint={self.endpoint!r}, node_id={self.node_id!r})"


@_final
class HttpPeerClient(_ClientBase):
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
        client._native = _native._PeerClient.new_http(base_url, node_id, tls, token,
                                                          parent_run_id)
        client._base_url = base_url
        client._node_id = node_id
        return client

    def invoke_sub_workflow(self, request: SubWorkflowRequest):
        _check_request(request, SubWorkflowRequest)
        return self._invoke(request)

    def deref_session_ref(self, request: DerefRequest):
        _check_request(request, DerefRequest)

        def response(out: tuple) -> DerefResponse:
            envelope, payload = out
            return DerefResponse(payload, envelope_version=envelope)

        return self._submit("deref_response", (request.ref_uuid,), then=response)

    def release_session_ref(self, request: ReleaseRequest):
        _check_request(request, ReleaseRequest)

        def response(out: tuple) -> ReleaseResponse:
            envelope, released = out
            return ReleaseResponse(released, envelope_version=envelope)

        return self._submit("release_response", (request.ref_uuid,), then=response)

    def deref_to_file(self, ref_uuid: str, path: str | os.PathLike[str]):
        """Streams a session ref into ``path`` (GET /v1/peer/refs/{uuid}, resumable).
        Awaitable of a :class:`DerefFileResult`."""
        uuid = _ref_uuid(ref_uuid)
        target = os.fspath(path)
        return self._deref_to_file(uuid, target)

    def release_scope(self, parent_run_id: str):
        """Awaitable of how many UntilParentFinish refs of ``parent_run_id`` were dropped
        (POST /v1/peer/release_scope)."""
        return self._submit("release_scope", (parent_run_id,))

    def describe(self):
        """Awaitable of the peer's description (GET /v1/peer/describe), the same dict
        :meth:`BlazenPeerClient.describe` returns."""
        return self._submit("describe")

    def __repr__(self) -> str:
        return f"HttpPeerClient(base_url={self._base_url!r}, node_id={self._node_id!r})"
