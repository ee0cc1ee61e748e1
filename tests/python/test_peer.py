# SPDX-License-Identifier: Apache-2.0
"""A peer served from this process and the gRPC client against it: invocation, state, refs,
embeddings decoded with numpy, Python steps (plain, async, failing, producing tensors), errors,
tokens, mutual TLS, cancellation and an event loop that is never blocked."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

import blazen
from conftest import run, served


async def connect(server, **kwargs):
    return await blazen.BlazenPeerClient.connect(server.endpoint, "parent", **kwargs)


# --- Python steps registered for these tests ------------------------------------------------------


def _failing(ctx, event):
    raise ValueError("step exploded: " + str(event.data.get("why")))


async def _async_square(ctx, event):
    await asyncio.sleep(0.01)
    ctx.state["squared_by"] = "async"
    return {"square": event.data["x"] ** 2, "run_id_len": len(ctx.run_id)}


def _make_tensor(ctx, event):
    rows, cols = event.data["shape"]
    array = np.arange(rows * cols, dtype=np.float32).reshape(rows, cols)
    ref = ctx.insert_tensor(array)
    kind, payload = ctx.read_ref(ref)
    return {"ref": ref, "type_tag": kind, "payload_len": len(payload)}


def _slow(ctx, event):
    deadline = time.time() + 30
    while time.time() < deadline and not ctx.cancelled():
        time.sleep(0.01)
    if ctx.cancelled():
        _slow_saw_cancel.set()
    return {"cancelled": ctx.cancelled()}


def _keep_context(ctx, event):
    _kept.append(ctx)
    return None if event.data.get("emit_nothing") else blazen.StopEvent(result="kept")


def _bytes_refs(ctx, event):
    try:
        ctx.insert_bytes(b"x", "snap", blazen.RefLifetime.UntilSnapshot)
        snapshot_refused = ""
    except ValueError as exc:
        snapshot_refused = str(exc)
    ctx.state["snapshot_refused"] = snapshot_refused
    scratch = ctx.insert_bytes(b"temp", "scratch", blazen.RefLifetime.UntilContextDrop)
    kept = ctx.insert_bytes(b"\x00\x01keep", "my.Blob", blazen.RefLifetime.UntilExplicitDrop)
    return {"scratch": scratch, "kept": kept, "seen": ctx.read_ref(kept)[0]}


_kept = []
_slow_saw_cancel = threading.Event()
blazen.register_step_builder("tests::failing", _failing)
blazen.register_step_builder("tests::async_square", _async_square)
blazen.register_step_builder("tests::make_tensor", _make_tensor)
blazen.register_step_builder("tests::slow", _slow)
blazen.register_step_builder("tests::keep_context", _keep_context)
blazen.register_step_builder("tests::bytes_refs", _bytes_refs)


# --- Tests ---------------------------------------------------------------------------------------


def test_builtin_steps_are_registered_on_import():
    ids = blazen.registered_step_ids()
    for step_id in ("blazen::echo", "blazen::embed", "blazen::host_blob", "blazen::fail",
                    "blazen::sleep", "blazen::tensor_random", "blazen::similarity_topk"):
        assert step_id in ids
        assert blazen.lookup_step_builder(step_id)
    assert not blazen.lookup_step_builder("nope::nothing")
    assert blazen.StepDeserializerRegistry().contains("blazen::echo")


def test_invoke_echo_result_and_state():
    async def scenario():
        async with served() as server:
            client = await connect(server)
            echoed = await client.invoke_sub_workflow(
                blazen.SubWorkflowRequest("echo", input={"a": [1, 2.5, None, True], "b": "x"}))
            state = await client.invoke_sub_workflow(blazen.SubWorkflowRequest(
                "state", step_ids=["blazen::state_set", "blazen::echo"], input={"k": {"v": 1}}))
            return echoed, state

    echoed, state = run(scenario())
    assert echoed.error is None
    assert echoed.result_value() == {"a": [1, 2.5, None, True], "b": "x"}
    assert echoed.remote_refs() == {}
    assert state.state_values() == {"k": {"v": 1}}
    assert repr(echoed) == "SubWorkflowResponse(refs=0, error=None)"


def test_python_steps_plain_async_and_failing():
    async def scenario():
        async with served() as server:
            client = await connect(server)
            square = await client.invoke_sub_workflow(blazen.SubWorkflowRequest(
                "sq", step_ids=["tests::async_square"], input={"x": 7}))
            failed = await client.invoke_sub_workflow(blazen.SubWorkflowRequest(
                "f", step_ids=["tests::failing"], input={"why": "testing"}))
            # The peer survives a failing step and keeps serving.
            again = await client.invoke_sub_workflow(blazen.SubWorkflowRequest(
                "sq", step_ids=["tests::async_square"], input={"x": 3}))
            return square, failed, again

    square, failed, again = run(scenario())
    assert square.error is None
    assert square.result_value() == {"square": 49, "run_id_len": 36}
    assert square.state_values() == {"squared_by": "async"}
    assert failed.result_value() is None
    assert "tests::failing" in failed.error
    assert "ValueError: step exploded: testing" in failed.error
    assert again.result_value()["square"] == 9


def test_step_context_is_invalid_after_the_step():
    async def scenario():
        async with served() as server:
            client = await connect(server)
            return await client.invoke_sub_workflow(blazen.SubWorkflowRequest(
                "k", step_ids=["tests::keep_context"]))

    assert run(scenario()).result_value() == "kept"
    with pytest.raises(RuntimeError, match="after its step returned"):
        _kept[-1].run_id


def test_python_tensor_ref_deref_and_release():
    async def scenario():
        async with served() as server:
            client = await connect(server)
            response = await client.invoke_sub_workflow(blazen.SubWorkflowRequest(
                "t", step_ids=["tests::make_tensor"], input={"shape": [3, 4]}))
            result = response.result_value()
            payload = await client.deref_session_ref(result["ref"])
            refs = response.remote_refs()
            released = await client.release_session_ref(result["ref"])
            with pytest.raises(blazen.PeerNotFoundError):
                await client.deref_session_ref(result["ref"])
            return result, refs, payload, released

    result, refs, payload, released = run(scenario())
    assert result["type_tag"] == "tensor.npy"
    assert refs[result["ref"]].type_tag == "tensor.npy"
    assert len(payload) == result["payload_len"]
    array = blazen.tensor_from_payload(payload)
    np.testing.assert_array_equal(array, np.arange(12, dtype=np.float32).reshape(3, 4))
    assert released is True


def test_python_step_byte_refs_follow_their_lifetimes():
    async def scenario():
        async with served() as server:
            client = await connect(server)
            response = await client.invoke_sub_workflow(blazen.SubWorkflowRequest(
                "b", step_ids=["tests::bytes_refs"]))
            result = response.result_value()
            kept = await client.deref_session_ref(result["kept"])
            with pytest.raises(blazen.PeerNotFoundError):  # purged when the run ended
                await client.deref_session_ref(result["scratch"])
            lifetime = server.session_refs().lifetime_of(result["kept"])
            assert await client.release_session_ref(result["kept"])
            return response, result, kept, lifetime

    response, result, kept, lifetime = run(scenario())
    assert result["seen"] == "my.Blob"
    assert list(response.remote_refs()) == [result["kept"]]
    assert response.remote_refs()[result["kept"]].type_tag == "my.Blob"
    assert kept == b"\x00\x01keep"
    assert lifetime == blazen.RefLifetime.UntilExplicitDrop
    assert "UntilSnapshot is not supported" in response.state_values()["snapshot_refused"]


def test_embedding_ref_decodes_to_numpy_with_the_expected_shape(tmp_path):
    texts = ["the quick brown fox", "jumps over", "the lazy dog"]

    async def scenario():
        async with served() as server:
            client = await connect(server)
            response = await client.invoke_sub_workflow(
                blazen.SubWorkflowRequest("embed", input={"texts": texts}, timeout_secs=120))
            assert response.error is None, response.error
            result = response.result_value()
            payload = await client.deref_session_ref(result["ref"])
            written = await client.deref_to_file(result["ref"], tmp_path / "emb.npy")
            assert await client.release_session_ref(result["ref"])
            return response, result, payload, written

    response, result, payload, written = run(scenario())
    assert result["shape"][0] == len(texts)
    embeddings = blazen.tensor_from_payload(payload)
    assert embeddings.dtype == np.float32
    assert list(embeddings.shape) == result["shape"]
    assert embeddings.shape == (3, response.state_values()["model"]["dim"])
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-4)
    assert written.type_tag == "tensor.npy" and written.total_size == len(payload)
    np.testing.assert_array_equal(np.load(tmp_path / "emb.npy"), embeddings)
    assert response.remote_refs()[result["ref"]].origin_node_id == "node-b"


def test_peer_errors_are_typed():
    async def scenario():
        async with served() as server:
            client = await connect(server)
            with pytest.raises(blazen.PeerUnknownStepError) as unknown:
                await client.invoke_sub_workflow(
                    blazen.SubWorkflowRequest("x", step_ids=["missing::step"]))
            with pytest.raises(blazen.PeerNotFoundError):
                await client.deref_session_ref(blazen.RegistryKey.new_random().__str__())
            assert await client.release_session_ref(str(blazen.RegistryKey.new_random())) is False
            return unknown.value

    error = run(scenario())
    assert isinstance(error, blazen.PeerError) and isinstance(error, blazen.BlazenError)
    assert error.code == "NOT_FOUND" and error.kind == "unknown_step"
    assert "unknown step id `missing::step`" in str(error)


def test_invalid_uuid_raises_at_call_time_without_a_loop():
    async def scenario():
        async with served() as server:
            client = await connect(server)
            with pytest.raises(blazen.PeerError, match="invalid UUID"):
                client.deref_session_ref("not-a-uuid")  # raised before any awaitable exists
            with pytest.raises(blazen.PeerError, match="invalid UUID"):
                client.release_session_ref("1234")

    run(scenario())


def test_connect_failure_raises_peer_error():
    async def scenario():
        with pytest.raises(blazen.PeerTransportError):
            await blazen.BlazenPeerClient.connect("http://127.0.0.1:1", "parent",
                                                  connect_timeout_secs=2)
        with pytest.raises(blazen.PeerError):
            await blazen.BlazenPeerClient.connect("ftp://nowhere", "parent")

    run(scenario())


def test_serve_address_errors():
    server = blazen.BlazenPeerServer("node-x")
    with pytest.raises(blazen.PeerError, match='invalid socket address "localhost:7443"'):
        server.serve("localhost:7443")
    with pytest.raises(blazen.PeerError):
        server.serve("127.0.0.1")

    async def twice():
        async with served() as first:
            with pytest.raises(blazen.PeerError, match=str(first.port)):
                await blazen.BlazenPeerServer("dup").serve(f"127.0.0.1:{first.port}")
            with pytest.raises(blazen.PeerError, match="already consumed"):
                await first.serve("127.0.0.1:0")

    run(twice())


def test_cancelling_an_invoke_cancels_the_call_and_the_run():
    async def scenario():
        async with served() as server:
            client = await connect(server)
            request = blazen.SubWorkflowRequest("s", step_ids=["tests::slow"])
            future = client.invoke_sub_workflow(request)
            await asyncio.sleep(0.5)
            started = time.monotonic()
            future.cancel()
            with pytest.raises(asyncio.CancelledError):
                await future
            # The worker thread's blocking call returned because the RPC was cancelled.
            finished = await asyncio.to_thread(future._blazen_finished.wait, 10)
            elapsed = time.monotonic() - started
            # The peer saw the cancellation too: the run's context turned cancelled.
            saw_cancel = await asyncio.to_thread(_slow_saw_cancel.wait, 10)
            echoed = await client.invoke_sub_workflow(blazen.SubWorkflowRequest("echo",
                                                                                input={"n": 1}))
            return finished, elapsed, saw_cancel, echoed.result_value()

    finished, elapsed, saw_cancel, echoed = run(scenario())
    assert finished and elapsed < 10
    assert saw_cancel
    assert echoed == {"n": 1}


def test_cancelling_an_http_call_closes_its_connection():
    async def scenario():
        async with served(http="127.0.0.1:0") as server:
            client = blazen.HttpPeerClient.new_http(server.http_endpoint, "parent")
            future = client.invoke_sub_workflow(
                blazen.SubWorkflowRequest("s", step_ids=["blazen::sleep"], input={"seconds": 30}))
            await asyncio.sleep(0.5)
            started = time.monotonic()
            future.cancel()
            with pytest.raises(asyncio.CancelledError):
                await future
            # The worker thread's blocking HTTP request returned because its socket was closed.
            finished = await asyncio.to_thread(future._blazen_finished.wait, 10)
            elapsed = time.monotonic() - started
            echoed = await client.invoke_sub_workflow(blazen.SubWorkflowRequest("echo",
                                                                                input={"n": 2}))
            return finished, elapsed, echoed.result_value()

    finished, elapsed, echoed = run(scenario())
    assert finished and elapsed < 10
    assert echoed == {"n": 2}


def test_http_client_describes_the_peer_and_releases_a_scope():
    async def scenario():
        async with served(http="127.0.0.1:0") as server:
            grpc_client = await connect(server, parent_run_id="py-scope")
            await grpc_client.invoke_sub_workflow(blazen.SubWorkflowRequest(
                "b", step_ids=["blazen::host_blob"], input={"bytes": 8}))
            http = blazen.HttpPeerClient.new_http(server.http_endpoint, "parent")
            over_http, over_grpc = await http.describe(), await grpc_client.describe()
            released = await http.release_scope("py-scope")
            return over_http, over_grpc, released, await http.release_scope("py-scope")

    over_http, over_grpc, released, again = run(scenario())
    assert over_http["node_id"] == over_grpc["node_id"] == "node-b"
    assert over_http["step_ids"] == over_grpc["step_ids"]
    assert over_http["default_workflows"]["embed"] == ["blazen::embed"]
    assert (released, again) == (1, 0)


def test_calls_do_not_block_the_event_loop():
    async def scenario():
        async with served() as server:
            client = await connect(server)
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.02)
                    ticks += 1

            tick_task = asyncio.create_task(ticker())
            responses = await asyncio.gather(*[
                client.invoke_sub_workflow(blazen.SubWorkflowRequest(
                    "sleep", step_ids=["blazen::sleep"], input={"seconds": 1}))
                for _ in range(3)])
            tick_task.cancel()
            return ticks, responses

    ticks, responses = run(scenario())
    assert all(r.error is None for r in responses)
    assert ticks >= 20  # ~1 s of sleeping runs, concurrent, while the loop kept ticking


def test_token_is_enforced(monkeypatch):
    monkeypatch.setenv(blazen.PEER_TOKEN_ENV, "secret-token")
    assert blazen.resolve_peer_token() == "secret-token"

    async def scenario():
        async with served() as server:  # token from BLAZEN_PEER_TOKEN
            good = await connect(server)  # token from BLAZEN_PEER_TOKEN too
            bad = await connect(server, token="wrong")
            ok = await good.invoke_sub_workflow(blazen.SubWorkflowRequest("echo"))
            with pytest.raises(blazen.PeerUnauthenticatedError):
                await bad.invoke_sub_workflow(blazen.SubWorkflowRequest("echo"))
            return ok

    assert run(scenario()).error is None


def test_tls_loaders_on_good_and_bad_pems(pki, tmp_path):
    server_tls = blazen.load_server_tls(pki / "server.pem", pki / "server.key", pki / "ca.pem")
    client_tls = blazen.load_client_tls(str(pki / "client.pem"), str(pki / "client.key"),
                                        str(pki / "ca.pem"))
    assert isinstance(server_tls, blazen.ServerTlsConfig)
    assert client_tls.leaf_subject == "CN=client"
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
    with pytest.raises(blazen.PeerTlsError, match=str(garbage)):
        blazen.load_server_tls(garbage, pki / "server.key", pki / "ca.pem")
    with pytest.raises(blazen.PeerTlsError, match="does not match"):
        blazen.load_client_tls(pki / "client.pem", pki / "server.key", pki / "ca.pem")
    with pytest.raises(blazen.PeerTlsError, match="missing.pem"):
        blazen.load_client_tls(pki / "client.pem", pki / "client.key", tmp_path / "missing.pem")


def test_mutual_tls_is_applied(pki):
    server_tls = blazen.load_server_tls(pki / "server.pem", pki / "server.key", pki / "ca.pem")
    client_tls = blazen.load_client_tls(pki / "client.pem", pki / "client.key", pki / "ca.pem")
    other_tls = blazen.load_client_tls(pki / "other-client.pem", pki / "other-client.key",
                                       pki / "other-ca.pem")

    async def scenario():
        async with served(tls=server_tls) as server:
            assert server.endpoint.startswith("https://")
            url = f"https://localhost:{server.port}"
            client = await blazen.BlazenPeerClient.connect(url, "parent", tls=client_tls)
            ok = await client.invoke_sub_workflow(blazen.SubWorkflowRequest("echo", input={"t": 1}))
            with pytest.raises(blazen.PeerError):
                rogue = await blazen.BlazenPeerClient.connect(url, "rogue", tls=other_tls,
                                                              connect_timeout_secs=3)
                await rogue.invoke_sub_workflow(blazen.SubWorkflowRequest("echo"))
            with pytest.raises(blazen.PeerError):
                plain = await blazen.BlazenPeerClient.connect(f"http://127.0.0.1:{server.port}",
                                                              "plain", connect_timeout_secs=3)
                await plain.invoke_sub_workflow(blazen.SubWorkflowRequest("echo"))
            return ok.result_value()

    assert run(scenario()) == {"t": 1}


def test_server_session_refs_view_and_describe():
    async def scenario():
        async with served() as server:
            client = await connect(server)
            response = await client.invoke_sub_workflow(blazen.SubWorkflowRequest(
                "b", step_ids=["blazen::host_blob"], input={"bytes": 10}))
            (ref,) = response.remote_refs()
            refs = server.session_refs()
            info = refs.info(ref)
            described = await client.describe()
            released = await client.release_session_ref(ref)
            return refs, info, described, released, ref

    refs, info, described, released, ref = run(scenario())
    assert info["type_tag"] == "bytes" and info["size_bytes"] == 10
    assert info["lifetime"] == blazen.RefLifetime.UntilParentFinish
    assert described["node_id"] == "node-b"
    assert "blazen::echo" in described["step_ids"]
    assert released


def test_no_running_loop_raises_runtime_error():
    with pytest.raises(RuntimeError):
        blazen.BlazenPeerClient.connect("http://127.0.0.1:1", "x")
