# SPDX-License-Identifier: Apache-2.0
"""``PeerPool``: one client over many peers. Each invocation goes to the peer the routing policy
picks (``least_loaded`` by default: two random choices weighted by capacity, fed by the load report
of every answer); derefs and releases go to the peer that holds the ref; ``response.peer`` names
the peer that served an invocation. The native pool keeps each peer's health (its health watch
stream plus passive ejection) and retries calls that never reached a peer elsewhere."""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

from . import _async, _native
from ._client import _ClientBase, _check_request, _deadline, _ref_uuid
from ._types import ClientTlsConfig, SubWorkflowRequest, _final


def _pool_args(endpoints: Sequence[str] | None, discover: str | None) -> tuple[list[str], str]:
    if isinstance(endpoints, str):
        raise TypeError("endpoints must be a list of endpoint URLs, not one str")
    if (endpoints is None) == (discover is None):
        raise ValueError("give either endpoints or discover=")
    if endpoints is not None:
        items = list(endpoints)
        if not items:
            raise ValueError("endpoints must not be empty")
        if not all(isinstance(e, str) for e in items):
            raise TypeError("endpoints must be str")
        return items, ""
    if not isinstance(discover, str):
        raise TypeError("discover must be a str URL (dns:///name:port, etcd://host:port/prefix)")
    return [], discover


@_final
class PeerPool(_ClientBase):
    """A pool of peers, used like :class:`BlazenPeerClient`.

    ``PeerPool(["host-a:50051", "http+json://host-b:8080"], node_id="parent")`` or
    ``PeerPool(discover="etcd://127.0.0.1:2379/blazen/peers", node_id="parent")``.
    The constructor contacts the peers and waits up to ``startup_wait_secs`` (3 s by default) for
    their first answers; in asyncio code prefer ``await PeerPool.connect(...)``. Raises PeerError
    (invalid argument) for an unknown policy, an empty or malformed list or URL, and PeerError
    (transport) when the discovery source cannot be reached."""

    __slots__ = ("_native",)

    def __init__(self, endpoints: Sequence[str] | None = None, *, node_id: str,
                 discover: str | None = None, policy: str = "least_loaded",
                 tls: ClientTlsConfig | None = None, token: str | None = None,
                 connect_timeout_secs: float | None = None, deadline_secs: float | None = None,
                 parent_run_id: str | None = None,
                 startup_wait_secs: float | None = None) -> None:
        items, url = _pool_args(endpoints, discover)
        if not isinstance(node_id, str) or not isinstance(policy, str):
            raise TypeError("node_id and policy must be str")
        if tls is not None and not isinstance(tls, ClientTlsConfig):
            raise TypeError("tls must come from load_client_tls()")
        self._native = _native._PeerClient.new_pool(items, url, node_id, policy, tls, token,
                                                    connect_timeout_secs,
                                                    _deadline(deadline_secs), parent_run_id,
                                                    startup_wait_secs)

    @staticmethod
    def connect(endpoints: Sequence[str] | None = None, **kwargs: Any):
        """Awaitable of a :class:`PeerPool` made on a worker thread (same arguments as the
        constructor)."""
        return _async.submit(lambda _cancel: PeerPool(endpoints, **kwargs))

    @property
    def node_id(self) -> str:
        return self._native.node_id

    @property
    def endpoint(self) -> str:
        """The discovery URL, or the endpoints joined by ','."""
        return self._native.endpoint

    @property
    def policy(self) -> str:
        return self._native.pool_policy()

    def peers(self) -> list[dict]:
        """The peers now: endpoint, node_id, healthy, load, outstanding, picks, labels, ..."""
        return json.loads(self._native.pool_json())["peers"]

    def describe_pool(self) -> dict:
        """The pool as a dict: policy, source, peers and counters."""
        return json.loads(self._native.pool_json())

    def metrics_text(self) -> str:
        """The pool's counters in Prometheus text form (``blazen_pool_*``)."""
        return self._native.pool_metrics_text()

    def wait_for_healthy(self, count: int, timeout_secs: float):
        """Awaitable of whether ``count`` peers are in the pick set within ``timeout_secs``."""
        return _async.submit(lambda _cancel: self._native.pool_wait_for_healthy(count,
                                                                                timeout_secs))

    def invoke_sub_workflow(self, request: SubWorkflowRequest, *,
                            deadline_secs: float | None = None,
                            parent_run_id: str | None = None):
        """Runs a sub-workflow on the peer the policy picks. Awaitable of a
        :class:`SubWorkflowResponse` whose ``peer`` names that peer."""
        _check_request(request, SubWorkflowRequest)
        return self._invoke(request, _deadline(deadline_secs), parent_run_id)

    def deref_session_ref(self, ref_uuid: str, *, deadline_secs: float | None = None):
        """Awaitable of a session ref's payload, fetched from the peer that holds it."""
        uuid = _ref_uuid(ref_uuid)
        return self._submit("deref", (uuid,), (_deadline(deadline_secs),))

    def deref_to_file(self, ref_uuid: str, path: str | os.PathLike[str], *,
                      deadline_secs: float | None = None):
        """Streams a session ref from its holder into ``path``."""
        uuid = _ref_uuid(ref_uuid)
        return self._deref_to_file(uuid, os.fspath(path), _deadline(deadline_secs))

    def release_session_ref(self, ref_uuid: str, *, deadline_secs: float | None = None):
        """Releases a session ref on its holder."""
        uuid = _ref_uuid(ref_uuid)
        return self._submit("release", (uuid,), (_deadline(deadline_secs),))

    def release_scope(self, parent_run_id: str):
        """Releases ``parent_run_id``'s UntilParentFinish refs on every peer; the total count."""
        return self._submit("release_scope", (parent_run_id,))

    def describe(self):
        """Awaitable of the description of one peer the policy picks (see :meth:`peers`)."""
        return self._submit("describe")

    def __repr__(self) -> str:
        return f"PeerPool(source={self.endpoint!r}, policy={self.policy!r})"
