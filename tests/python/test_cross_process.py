# SPDX-License-Identifier: Apache-2.0
"""A Python-hosted peer in its own process serving steps written in Python, invoked from other
processes: the C++ command-line tool and this process's C++-backed client."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap

import pytest

import blazen
from conftest import PEER_BIN

PEER_SCRIPT = textwrap.dedent('''
    import asyncio
    import blazen

    def shout(ctx, event):
        ctx.state["shouted"] = True
        return blazen.StopEvent(result={"text": event.data["text"].upper()})

    async def count(ctx, event):
        await asyncio.sleep(0.01)
        return {"length": len(event.data["text"]), "caller": ctx.caller_node_id}

    def explode(ctx, event):
        raise KeyError("missing piece")

    blazen.register_step_builder("py::shout", shout)
    blazen.register_step_builder("py::count", count)
    blazen.register_step_builder("py::explode", explode)

    async def main():
        server = blazen.BlazenPeerServer("py-peer")
        task = asyncio.create_task(server.serve("127.0.0.1:0"))
        print("listening on", await server.wait_serving(), flush=True)
        await task

    asyncio.run(main())
''')


@pytest.fixture(scope="module")
def python_peer():
    env = {k: v for k, v in os.environ.items() if k != "BLAZEN_PEER_TOKEN"}
    proc = subprocess.Popen([sys.executable, "-c", PEER_SCRIPT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        pytest.fail("python peer did not start: " + line + proc.stderr.read())
    yield line.split()[-1]
    proc.terminate()
    proc.wait(timeout=60)
    proc.stdout.close()
    proc.stderr.close()


def cli(*args):
    env = {k: v for k, v in os.environ.items() if k != "BLAZEN_PEER_TOKEN"}
    return subprocess.run([PEER_BIN, *args], capture_output=True, text=True, timeout=120, env=env)


def test_cli_invokes_a_python_step(python_peer):
    done = cli("invoke", "--peer", python_peer, "--workflow", "shout", "--steps", "py::shout",
               "--input", json.dumps({"text": "hello"}))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["result"] == {"text": "HELLO"}
    assert out["state"] == {"shouted": True}


def test_cli_sees_a_failing_python_step_as_a_workflow_error(python_peer):
    done = cli("invoke", "--peer", python_peer, "--workflow", "x", "--steps", "py::explode",
               "--input", "{}")
    assert "missing piece" in done.stdout + done.stderr
    # The peer is still up afterwards.
    again = cli("invoke", "--peer", python_peer, "--workflow", "shout", "--steps", "py::shout",
                "--input", json.dumps({"text": "ok"}))
    assert again.returncode == 0, again.stderr


def test_python_client_invokes_async_python_step_in_another_process(python_peer):
    async def scenario():
        client = await blazen.BlazenPeerClient.connect(python_peer, "parent-node")
        count = await client.invoke_sub_workflow(
            blazen.SubWorkflowRequest("count", step_ids=["py::count"], input={"text": "abcd"}))
        echo = await client.invoke_sub_workflow(
            blazen.SubWorkflowRequest("echo", input={"builtin": True}))
        return count, echo

    count, echo = asyncio.run(scenario())
    assert count.error is None
    assert count.result_value() == {"length": 4, "caller": "parent-node"}
    # The built-in steps are served by a Python-hosted peer too.
    assert echo.result_value() == {"builtin": True}
