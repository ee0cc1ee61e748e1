# SPDX-License-Identifier: Apache-2.0
"""blazen.PeerPool against three `blazen-peer serve` processes: routed invocations name the peer
that served them, refs are dereffed from their holder, a peer killed with SIGKILL leaves the pool
and calls keep succeeding on the others, and the restarted peer is picked again. Bad arguments are
clear errors."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time

import pytest

import blazen
from conftest import PEER_BIN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_peer(node_id: str, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "BLAZEN_PEER_TOKEN"}
    proc = subprocess.Popen([PEER_BIN, "serve", "--node-id", node_id, "--listen",
                             f"127.0.0.1:{port}", "--max-concurrency", "4", "--grace", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        pytest.fail(f"peer {node_id} did not start: {line!r}")
    return proc


@pytest.fixture
def fleet():
    ports = [free_port() for _ in range(3)]
    procs = {f"pool-{i}": start_peer(f"pool-{i}", port) for i, port in enumerate(ports)}
    yield procs, ports
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()


def request(steps, data, workflow="wf"):
    return blazen.SubWorkflowRequest(workflow, steps, data, timeout_secs=30)


def test_routed_invocations_name_the_peer_and_refs_come_from_their_holder(fleet):
    procs, ports = fleet

    async def main():
        pool = await blazen.PeerPool.connect([f"127.0.0.1:{p}" for p in ports], node_id="parent",
                                             policy="round_robin")
        assert pool.policy == "round_robin"
        assert await pool.wait_for_healthy(3, 5.0)
        served = {}
        refs = {}
        for i in range(6):
            response = await pool.invoke_sub_workflow(
                request(["blazen::host_blob"], {"bytes": 1000 + i}))
            assert response.error is None
            peer = response.peer
            assert peer.node_id in procs
            assert peer.endpoint == f"127.0.0.1:{ports[int(peer.node_id[-1])]}"
            served[peer.node_id] = served.get(peer.node_id, 0) + 1
            (ref, descriptor), = response.remote_refs().items()
            assert descriptor.origin_node_id == peer.node_id
            refs[ref] = 1000 + i
        assert served == {"pool-0": 2, "pool-1": 2, "pool-2": 2}
        for ref, size in refs.items():
            payload = await pool.deref_session_ref(ref)
            assert len(payload) == size
            assert payload[:5] == bytes(range(5))
            assert await pool.release_session_ref(ref)
        with pytest.raises(blazen.PeerNotFoundError):
            await pool.deref_session_ref(next(iter(refs)))  # released: the pool forgot it
        peers = pool.peers()
        assert sorted(p["node_id"] for p in peers) == sorted(procs)
        assert all(p["healthy"] and p["picks"] == 2 for p in peers)
        assert "blazen_pool_requests_total 6" in pool.metrics_text()

    asyncio.run(main())


def test_a_killed_peer_leaves_and_a_restarted_one_is_picked_again(fleet):
    procs, ports = fleet
    pool = blazen.PeerPool([f"127.0.0.1:{p}" for p in ports], node_id="parent")

    async def load(seconds: float, failures: list, served: dict):
        end = time.monotonic() + seconds

        async def worker():
            while time.monotonic() < end:
                try:
                    response = await pool.invoke_sub_workflow(request(["blazen::busy"],
                                                                      {"ms": 5}))
                    served[response.peer.node_id] = served.get(response.peer.node_id, 0) + 1
                except blazen.PeerError as e:
                    failures.append(str(e))

        await asyncio.gather(*(worker() for _ in range(4)))

    async def main():
        assert await pool.wait_for_healthy(3, 5.0)
        failures: list = []
        served: dict = {}
        task = asyncio.create_task(load(1.5, failures, served))
        await asyncio.sleep(0.3)
        procs["pool-1"].send_signal(signal.SIGKILL)
        procs["pool-1"].wait(timeout=10)
        killed_at = time.monotonic()
        while any(p["node_id"] == "pool-1" and p["healthy"] for p in pool.peers()):
            assert time.monotonic() - killed_at < 0.5, "the killed peer is still in the pick set"
            await asyncio.sleep(0.005)
        await task
        # Only calls already running on the killed peer may fail (they reached a step: not
        # retryable); at most one per concurrent worker.
        assert len(failures) <= 4, failures
        after: list = []
        served_after: dict = {}
        await load(0.3, after, served_after)
        assert after == []
        assert "pool-1" not in served_after

        procs["pool-1"] = start_peer("pool-1", ports[1])
        restarted_at = time.monotonic()
        assert await pool.wait_for_healthy(3, 5.0)
        assert time.monotonic() - restarted_at < 5.0
        served_again: dict = {}
        await load(0.3, after, served_again)
        assert after == []
        assert served_again.get("pool-1", 0) > 0

    asyncio.run(main())


def test_bad_pool_arguments_are_clear_errors():
    with pytest.raises(ValueError):
        blazen.PeerPool(node_id="parent")
    with pytest.raises(ValueError):
        blazen.PeerPool([], node_id="parent")
    with pytest.raises(TypeError):
        blazen.PeerPool("127.0.0.1:1", node_id="parent")
    with pytest.raises(blazen.PeerInvalidArgumentError, match="unknown routing policy 'best'"):
        blazen.PeerPool(["127.0.0.1:1"], node_id="parent", policy="best", startup_wait_secs=0.1)
    with pytest.raises(blazen.PeerInvalidArgumentError):
        blazen.PeerPool(discover="nope://x", node_id="parent")
    start = time.monotonic()
    with pytest.raises(blazen.PeerTransportError):
        blazen.PeerPool(discover=f"etcd://127.0.0.1:{free_port()}/blazen", node_id="parent")
    assert time.monotonic() - start < 10
