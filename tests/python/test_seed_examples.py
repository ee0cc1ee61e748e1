# SPDX-License-Identifier: Apache-2.0
"""Every code block of the Python distributed-workflows guide (the seed document), run as written
with only host names, ports and certificate paths substituted. Fragments that assume an enclosing
coroutine (``await`` at top level, ``client`` / ``request`` / ``response`` in scope) run inside one
that provides those names."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import blazen
from conftest import PEER_BIN

# --- The code blocks, verbatim -------------------------------------------------------------------

STEP_REGISTRATION = '''
from blazen import lookup_step_builder, registered_step_ids

print(registered_step_ids())     # every step ID the peer can serve
print(lookup_step_builder("my_app::analyze"))   # True / False
'''

STARTING_THE_SERVER = '''
import asyncio
from blazen import BlazenPeerServer

async def main():
    server = BlazenPeerServer("node-b")
    # Bind and serve forever. Raises PeerError if the bind fails.
    await server.serve("0.0.0.0:7443")

asyncio.run(main())
'''

CONNECT_AND_INVOKE = '''
import asyncio
from blazen import BlazenPeerClient, SubWorkflowRequest

async def main():
    client = await BlazenPeerClient.connect("http://node-b.local:7443", "node-a")

    request = SubWorkflowRequest(
        workflow_name="analyze-pipeline",
        step_ids=["my_app::analyze", "my_app::summarize"],
        input={"document": "..."},
        timeout_secs=60,
    )

    response = await client.invoke_sub_workflow(request)

    if response.error is not None:
        print(f"remote workflow failed: {response.error}")
    else:
        print("result:", response.result_value())
        print("state:", response.state_values())

asyncio.run(main())
'''

HTTP_CLIENT = '''
import asyncio
from blazen import (
    HttpPeerClient,
    SubWorkflowRequest,
    DerefRequest,
    ReleaseRequest,
)

async def main():
    client = HttpPeerClient.new_http("https://peer.example.com", "node-a")

    request = SubWorkflowRequest("analyze-pipeline", input={"document": "..."})
    response = await client.invoke_sub_workflow(request)

    for ref_uuid, descriptor in response.remote_refs().items():
        deref = await client.deref_session_ref(DerefRequest(ref_uuid))
        # `deref.payload` is the raw bytes the origin node's serializer produced.
        await client.release_session_ref(ReleaseRequest(ref_uuid))

asyncio.run(main())
'''

LAZY_DEREF = '''
for ref_uuid, descriptor in response.remote_refs().items():
    payload: bytes = await client.deref_session_ref(ref_uuid)
    # Deserialize `payload` using whatever codec matches `descriptor.type_tag`.
'''

RELEASE = '''
released = await client.release_session_ref(ref_uuid)
# released is True if the ref was found and dropped, False if it was already gone.
'''

MTLS = '''
from blazen import load_server_tls, load_client_tls

# Server side -- run during startup.
load_server_tls(
    "/certs/server.crt",
    "/certs/server.key",
    "/certs/ca.crt",
)

# Client side -- run before BlazenPeerClient.connect(...).
load_client_tls(
    "/certs/client.crt",
    "/certs/client.key",
    "/certs/ca.crt",
)
'''

TOKEN = '''
from blazen import PEER_TOKEN_ENV, resolve_peer_token

token = resolve_peer_token()  # str | None -- None if env var is unset or empty
if token is None:
    raise RuntimeError(f"{PEER_TOKEN_ENV} must be set in production")
'''

ERROR_HANDLING = '''
from blazen import PeerError

try:
    response = await client.invoke_sub_workflow(request)
except PeerError as e:
    # Transport, protocol, TLS, encode, unknown-step, envelope-version, etc.
    print(f"peer RPC failed: {e}")
else:
    if response.error is not None:
        print(f"remote workflow failed: {response.error}")
    else:
        print(response.result_value())
'''

ENVELOPE = '''
from blazen import ENVELOPE_VERSION

print("client envelope:", ENVELOPE_VERSION)
print("request envelope:", request.envelope_version)
print("response envelope:", response.envelope_version)
'''

# --- Harness -------------------------------------------------------------------------------------


class BackgroundPeer:
    """A BlazenPeerServer serving from its own event loop thread, so that a snippet can call
    asyncio.run() in the test's thread."""

    def __init__(self, node_id="node-b", **kwargs):
        self.server = blazen.BlazenPeerServer(node_id, shutdown_grace_secs=1.0, **kwargs)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stop_event = None
        self.done = asyncio.run_coroutine_threadsafe(self._main(), self.loop)
        self.endpoint = asyncio.run_coroutine_threadsafe(self._ready(), self.loop).result(30)

    async def _ready(self):
        while self.stop_event is None:
            await asyncio.sleep(0.01)
        return await self.server.wait_serving()

    async def _main(self):
        self.stop_event = asyncio.Event()
        task = asyncio.create_task(self.server.serve("127.0.0.1:0"))
        await self.stop_event.wait()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    def stop(self):
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.done.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


@pytest.fixture(scope="module")
def peer():
    background = BackgroundPeer()
    yield background
    background.stop()


def run_snippet(code, **names):
    exec(compile(code, "<seed snippet>", "exec"), dict(names))


def run_fragment(code, **names):
    """Runs a fragment that uses ``await`` at top level inside a coroutine with ``names`` in
    scope; returns that coroutine's locals."""
    params = ", ".join(names)
    source = (f"async def __fragment({params}):\n" + textwrap.indent(code, "    ") +
              "\n    return locals()\n")
    namespace = {}
    exec(compile(source, "<seed fragment>", "exec"), namespace)
    return namespace["__fragment"](**names)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Tests ---------------------------------------------------------------------------------------


def test_step_registration_block(capsys):
    run_snippet(STEP_REGISTRATION)
    ids_line, found_line = capsys.readouterr().out.splitlines()
    ids = eval(ids_line)  # a printed list of str
    for expected in ("blazen::echo", "blazen::embed", "my_app::analyze", "my_app::summarize"):
        assert expected in ids
    assert found_line == "True"


def test_starting_the_server_block_serves_until_stopped():
    port = free_port()
    code = STARTING_THE_SERVER.replace("0.0.0.0:7443", f"127.0.0.1:{port}")
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.time() < deadline, "the server never started listening"
                time.sleep(0.1)

        async def echo():
            client = await blazen.BlazenPeerClient.connect(f"http://127.0.0.1:{port}", "node-a")
            response = await client.invoke_sub_workflow(
                blazen.SubWorkflowRequest("echo", input={"ping": 1}))
            return response.result_value()

        assert asyncio.run(echo()) == {"ping": 1}
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()


def test_starting_the_server_block_raises_peer_error_when_the_bind_fails():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = STARTING_THE_SERVER.replace("0.0.0.0:7443", f"127.0.0.1:{port}")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120)
    assert proc.returncode != 0
    assert "blazen.Peer" in proc.stderr  # a PeerError subclass ended the program
    assert f"127.0.0.1:{port}" in proc.stderr


def test_connect_and_invoke_block(peer, capsys):
    run_snippet(CONNECT_AND_INVOKE.replace("http://node-b.local:7443", peer.endpoint))
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "result: {'summary': '...', 'words': 1}",
        "state: {'summarized_by': 'analyze-pipeline', 'word_count': 1}",
    ]


def test_http_client_block(tmp_path):
    path = tmp_path / "blob.bin"
    background = BackgroundPeer(
        http="127.0.0.1:0",
        default_workflows={"analyze-pipeline": ["my_app::analyze", "my_app::summarize"]})
    try:
        base_url = background.server.http_endpoint
        assert base_url.startswith("http://127.0.0.1:")
        code = HTTP_CLIENT.replace("https://peer.example.com", base_url)
        run_snippet(code)  # runs to the end without raising

        # The same calls, observed: the block's request, then deref and release of a ref.
        async def observe():
            client = blazen.HttpPeerClient.new_http(base_url, "node-a")
            response = await client.invoke_sub_workflow(
                blazen.SubWorkflowRequest("analyze-pipeline", input={"document": "..."}))
            blob = await client.invoke_sub_workflow(blazen.SubWorkflowRequest(
                "blob", step_ids=["blazen::host_blob"], input={"bytes": 300}))
            (ref_uuid,) = blob.remote_refs()
            deref = await client.deref_session_ref(blazen.DerefRequest(ref_uuid))
            written = await client.deref_to_file(ref_uuid, path)
            assert written.total_size == 300 and path.read_bytes() == deref.payload
            released = await client.release_session_ref(blazen.ReleaseRequest(ref_uuid))
            again = await client.release_session_ref(blazen.ReleaseRequest(ref_uuid))
            with pytest.raises(blazen.PeerNotFoundError):
                await client.deref_session_ref(blazen.DerefRequest(ref_uuid))
            return response, deref, released, again

        response, deref, released, again = asyncio.run(observe())
    finally:
        background.stop()
    assert response.result_value() == {"summary": "...", "words": 1}
    assert response.state_values() == {"summarized_by": "analyze-pipeline", "word_count": 1}
    assert deref.payload == bytes(i % 251 for i in range(300))
    assert deref.envelope_version == 1
    assert released.released is True and again.released is False


def _invoke_blob(endpoint, lifetime="until_parent_finish"):
    async def go():
        client = await blazen.BlazenPeerClient.connect(endpoint, "node-a")
        request = blazen.SubWorkflowRequest(
            "blob", step_ids=["blazen::host_blob"], input={"bytes": 1000, "lifetime": lifetime})
        return client, request, await client.invoke_sub_workflow(request)

    return go


def test_lazy_deref_and_release_blocks(peer):
    async def scenario():
        client, request, response = await _invoke_blob(peer.endpoint)()
        assert response.error is None
        assert len(response.remote_refs()) == 1
        scope = await run_fragment(LAZY_DEREF, client=client, response=response)
        assert scope["payload"] == bytes(i % 251 for i in range(1000))
        assert scope["descriptor"].type_tag == "bytes"
        assert scope["descriptor"].origin_node_id == "node-b"
        ref_uuid = scope["ref_uuid"]
        first = await run_fragment(RELEASE, client=client, ref_uuid=ref_uuid)
        second = await run_fragment(RELEASE, client=client, ref_uuid=ref_uuid)
        return first["released"], second["released"]

    assert asyncio.run(scenario()) == (True, False)


def test_ref_lifetime_through_a_session_registry_handle():
    # "From Python you can inspect the policy of a known key via registry.lifetime_of(key)".
    registry = blazen.SessionRefRegistry()

    async def scenario():
        server = blazen.BlazenPeerServer("node-b", shutdown_grace_secs=1.0)
        server.with_session_refs(registry.handle())
        task = asyncio.create_task(server.serve("127.0.0.1:0"))
        endpoint = await server.wait_serving()
        # The node adopted the handle's registry (upstream's direction), not the other way round.
        assert blazen._native.registry_same(registry._slot, server.session_refs()._slot)
        try:
            lifetimes = []
            for name in ("until_parent_finish", "until_explicit_drop"):
                _, _, response = await _invoke_blob(endpoint, name)()
                (ref_uuid,) = response.remote_refs()
                lifetimes.append(registry.lifetime_of(blazen.RegistryKey(ref_uuid)))
                assert blazen.RegistryKey(ref_uuid) in registry.keys()
                assert await registry.akeys() == registry.keys()
                assert await registry.alifetime_of(blazen.RegistryKey(ref_uuid)) == lifetimes[-1]
                assert registry.remove(blazen.RegistryKey(ref_uuid)) is True
                assert registry.lifetime_of(blazen.RegistryKey(ref_uuid)) is None
            # Upstream's purge rules: a borrowed registry keeps everything, an owned one keeps
            # only UntilExplicitDrop refs; drain drops the rest.
            for name in ("until_parent_finish", "until_explicit_drop"):
                await _invoke_blob(endpoint, name)()
            assert registry.clear_on_context_drop(False) == 0
            assert await registry.aclear_on_context_drop(True) == 1
            assert [registry.lifetime_of(k) for k in registry.keys()] == [
                blazen.RefLifetime.UntilExplicitDrop]
            assert registry.drain() == 1 and registry.keys() == [] and registry.is_empty()
            return lifetimes
        finally:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    assert asyncio.run(scenario()) == [blazen.RefLifetime.UntilParentFinish,
                                       blazen.RefLifetime.UntilExplicitDrop]


def test_mtls_block(pki):
    code = (MTLS.replace("/certs/server.crt", str(pki / "server.pem"))
            .replace("/certs/server.key", str(pki / "server.key"))
            .replace("/certs/client.crt", str(pki / "client.pem"))
            .replace("/certs/client.key", str(pki / "client.key"))
            .replace("/certs/ca.crt", str(pki / "ca.pem")))
    run_snippet(code)
    # With the original paths (not on this machine) the loaders fail before any network I/O.
    with pytest.raises(blazen.PeerError, match="/certs/server.crt"):
        run_snippet(MTLS)


def test_token_block(monkeypatch):
    with pytest.raises(RuntimeError, match="BLAZEN_PEER_TOKEN must be set in production"):
        run_snippet(TOKEN)
    monkeypatch.setenv("BLAZEN_PEER_TOKEN", "")
    with pytest.raises(RuntimeError):
        run_snippet(TOKEN)
    monkeypatch.setenv("BLAZEN_PEER_TOKEN", "s3cret")
    run_snippet(TOKEN)


def test_error_handling_block_all_three_outcomes(peer, capsys):
    async def scenario():
        client = await blazen.BlazenPeerClient.connect(peer.endpoint, "node-a")
        requests = [
            blazen.SubWorkflowRequest("x", step_ids=["no_such::step"]),
            blazen.SubWorkflowRequest("x", step_ids=["blazen::fail"], input={"message": "boom"}),
            blazen.SubWorkflowRequest("echo", input={"ok": True}),
        ]
        for request in requests:
            await run_fragment(ERROR_HANDLING, client=client, request=request)

    asyncio.run(scenario())
    unknown, failed, ok = capsys.readouterr().out.splitlines()
    assert unknown.startswith("peer RPC failed: ") and "unknown step id `no_such::step`" in unknown
    assert failed.startswith("remote workflow failed: ") and "boom" in failed
    assert ok == "{'ok': True}"


def test_envelope_block(peer, capsys):
    async def scenario():
        client = await blazen.BlazenPeerClient.connect(peer.endpoint, "node-a")
        request = blazen.SubWorkflowRequest("echo")
        response = await client.invoke_sub_workflow(request)
        await run_fragment(ENVELOPE, request=request, response=response)

    asyncio.run(scenario())
    assert capsys.readouterr().out.splitlines() == [
        "client envelope: 1", "request envelope: 1", "response envelope: 1"]


def test_cli_tool_is_available():
    # The cross-process tests use the C++ CLI; make a missing binary an explicit failure here.
    assert subprocess.run([PEER_BIN, "--help"], capture_output=True).returncode in (0, 1, 2)
