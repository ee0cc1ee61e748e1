# SPDX-License-Identifier: Apache-2.0
"""Interop over HTTP/JSON: clients that share no code with ours (curl, and Python's json/urllib)
send upstream-shaped bodies (spec section 2.3, including its worked examples) to every route of a
`blazen-peer serve --http 127.0.0.1:0` process, as an upstream HttpPeerClient would."""

import json
import os
import re
import shutil
import signal
import subprocess
import urllib.error
import urllib.request

import pytest

PEER = os.environ.get("BLAZEN_PEER_BIN", "blazen-peer")
EXAMPLE_UUID = "00112233-4455-6677-8899-aabbccddeeff"
X1 = [123, 34, 120, 34, 58, 49, 125]  # the bytes of {"x":1}, as in the spec's examples


def blob_byte(i):
    return i % 251


@pytest.fixture(scope="module")
def base():
    proc = subprocess.Popen(
        [PEER, "serve", "--node-id", "http-interop", "--listen", "127.0.0.1:0",
         "--http", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "BLAZEN_PEER_TOKEN"},
    )
    first = proc.stdout.readline()
    second = proc.stdout.readline()
    if not first.startswith("listening on ") or not second.startswith("http listening on "):
        proc.kill()
        pytest.fail("peer did not start: " + first + second)
    yield "http://" + second.split()[-1]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def post(base, route, body, headers=None):
    """POST like upstream's HttpPeerClient: compact JSON, exactly its two headers."""
    data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    req = urllib.request.Request(
        base + route,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "X-Blazen-Peer-Node-Id": "upstream-py",
                 **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def get(base, route, headers=None):
    req = urllib.request.Request(base + route, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def invoke_body(steps, input_bytes, timeout=60, workflow="wf"):
    return {"envelope_version": 1, "workflow_name": workflow, "step_ids": steps,
            "input_json": list(input_bytes), "timeout_secs": timeout}


def make_blob(base, size):
    status, body, _ = post(base, "/v1/peer/invoke_sub_workflow",
                           invoke_body(["blazen::host_blob"], json.dumps({"bytes": size}).encode()))
    assert status == 200, body
    refs = json.loads(body)["remote_refs"]
    assert len(refs) == 1
    return next(iter(refs))


def expect_error(status, body, want_status, contains):
    assert status == want_status, body
    err = json.loads(body)
    assert isinstance(err["error"], str) and contains in err["error"], err


# --- spec section 2.3 worked examples -----------------------------------------------------------

def test_spec_example_a_with_echo_step(base):
    # Example (a) byte for byte, with a step id this peer registers.
    body = (b'{"envelope_version":1,"workflow_name":"wf","step_ids":["blazen::echo"],'
            b'"input_json":[123,34,120,34,58,49,125],"timeout_secs":60}')
    status, out, headers = post(base, "/v1/peer/invoke_sub_workflow", body)
    assert status == 200, out
    assert headers["Content-Type"] == "application/json"
    # Upstream's serde_json layout: compact, declaration order, every field present.
    assert re.fullmatch(
        rb'\{"envelope_version":1,"state_json":\{\},"result_json":\[[0-9,]+\],'
        rb'"remote_refs":\{\},"error":null\}', out), out
    resp = json.loads(out)
    assert json.loads(bytes(resp["result_json"])) == {"x": 1}


def test_spec_example_b_default_workflow_and_null_timeout(base):
    body = (b'{"envelope_version":1,"workflow_name":"echo","step_ids":[],'
            b'"input_json":[123,34,120,34,58,49,125],"timeout_secs":null}')
    status, out, _ = post(base, "/v1/peer/invoke_sub_workflow", body)
    assert status == 200, out
    assert json.loads(bytes(json.loads(out)["result_json"])) == {"x": 1}


def test_spec_deref_and_release_examples_for_a_missing_ref(base):
    body = b'{"envelope_version":1,"ref_uuid":"00112233-4455-6677-8899-aabbccddeeff"}'
    status, out, _ = post(base, "/v1/peer/deref_session_ref", body)
    expect_error(status, out, 404, f"session ref {EXAMPLE_UUID} not found")
    status, out, _ = post(base, "/v1/peer/release_session_ref", body)
    assert status == 200 and out == b'{"envelope_version":1,"released":false}'


def test_state_export_and_workflow_error_shapes(base):
    status, out, _ = post(base, "/v1/peer/invoke_sub_workflow",
                          invoke_body(["blazen::state_set", "blazen::echo"], b'{"k":42}'))
    assert status == 200, out
    resp = json.loads(out)
    assert resp["state_json"] == {"k": [52, 50]}  # plain Vec<u8>: an array, as in example (c)
    status, out, _ = post(base, "/v1/peer/invoke_sub_workflow",
                          invoke_body(["blazen::fail"], b'{"message":"boom"}'))
    assert status == 200, out
    resp = json.loads(out)
    assert resp["result_json"] is None and resp["remote_refs"] == {} and resp["state_json"] == {}
    assert resp["error"] == "workflow error: step 'fail' failed: boom"


# --- upstream routes with upstream-shaped bodies -------------------------------------------------

def test_blob_deref_release_round_trip(base):
    key = make_blob(base, 1000)
    status, out, _ = post(base, "/v1/peer/deref_session_ref",
                          {"envelope_version": 1, "ref_uuid": key})
    assert status == 200, out
    resp = json.loads(out)
    assert resp["envelope_version"] == 1
    assert resp["payload"] == [blob_byte(i) for i in range(1000)]
    # Simple upper-case UUIDs are accepted, as upstream's decoder accepts them.
    simple = key.replace("-", "").upper()
    status, out, _ = post(base, "/v1/peer/release_session_ref",
                          {"envelope_version": 1, "ref_uuid": simple})
    assert status == 200 and out == b'{"envelope_version":1,"released":true}'
    status, out, _ = post(base, "/v1/peer/deref_session_ref",
                          {"envelope_version": 1, "ref_uuid": key})
    expect_error(status, out, 404, f"session ref {key} not found")


def test_protocol_errors(base):
    status, out, _ = post(base, "/v1/peer/invoke_sub_workflow",
                          invoke_body(["does_not_exist::step"], b"{}"))
    expect_error(status, out, 404, "unknown step id `does_not_exist::step`")
    newer = dict(invoke_body(["blazen::echo"], b"{}"), envelope_version=2)
    status, out, _ = post(base, "/v1/peer/invoke_sub_workflow", newer)
    expect_error(status, out, 412, "envelope version 2 is newer than supported 1")
    status, out, _ = post(base, "/v1/peer/invoke_sub_workflow", b"{not json")
    expect_error(status, out, 400, "json decode failed")
    bad_byte = dict(invoke_body(["blazen::echo"], b"{}"), input_json=[123, 256])
    status, out, _ = post(base, "/v1/peer/invoke_sub_workflow", bad_byte)
    expect_error(status, out, 400, "input_json")
    status, out, _ = get(base, "/v1/peer/no_such_route")
    expect_error(status, out, 404, "no_such_route")


# --- extensions ----------------------------------------------------------------------------------

def test_ref_download_with_range(base):
    size = 2_500_000
    key = make_blob(base, size)
    status, out, headers = get(base, "/v1/peer/refs/" + key)
    assert status == 200 and len(out) == size
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["X-Blazen-Type-Tag"] == "bytes"
    assert out[:300] == bytes(blob_byte(i) for i in range(300))
    assert out[-10:] == bytes(blob_byte(i) for i in range(size - 10, size))
    status, out, headers = get(base, "/v1/peer/refs/" + key, {"Range": "bytes=1000000-1000099"})
    assert status == 206
    assert headers["Content-Range"] == f"bytes 1000000-1000099/{size}"
    assert out == bytes(blob_byte(i) for i in range(1000000, 1000100))
    status, out, _ = get(base, "/v1/peer/refs/" + key, {"Range": f"bytes={size}-"})
    expect_error(status, out, 416, "past the end")


def test_event_stream_is_ndjson_ending_with_the_response(base):
    status, out, headers = post(base, "/v1/peer/stream_sub_workflow_events",
                                invoke_body(["blazen::echo"], b'{"x":1}'))
    assert status == 200, out
    assert headers["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in out.decode().splitlines() if line]
    assert len(lines) >= 2
    assert all(line["response"] is None for line in lines[:-1])
    final = lines[-1]["response"]
    assert final["error"] is None and json.loads(bytes(final["result_json"])) == {"x": 1}


def test_healthz_and_metrics(base):
    status, out, _ = get(base, "/healthz")
    assert status == 200 and json.loads(out)["status"] == "ok"
    post(base, "/v1/peer/invoke_sub_workflow", invoke_body(["blazen::echo"], b"1"))
    status, out, headers = get(base, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = out.decode()
    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"'
                        r'(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? [-+]?([0-9.eE+-]+|Inf|NaN)$')
    for line in text.splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or sample.match(line), line
    m = re.search(r'^blazen_peer_invocations_total\{transport="http",status="ok"\} (\d+)$', text,
                  re.M)
    assert m and int(m.group(1)) >= 1


# --- curl ---------------------------------------------------------------------------------------

def curl(*args):
    return subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=60, check=False)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed (scripts/setup.sh)")
def test_curl_against_every_route(base):
    out = curl("-X", "POST", "-H", "Content-Type: application/json",
               "-H", "X-Blazen-Peer-Node-Id: curl",
               "--data", '{"envelope_version":1,"workflow_name":"wf","step_ids":["blazen::host_blob"],'
                         '"input_json":"{\\"bytes\\":4096}","timeout_secs":60}',
               "-w", "\n%{http_code}", base + "/v1/peer/invoke_sub_workflow")
    body, code = out.stdout.decode().rsplit("\n", 1)
    assert code == "200", out
    key = next(iter(json.loads(body)["remote_refs"]))

    # Streamed download, then a resume of its second half with --range, as a client would.
    out = curl("-o", "-", base + "/v1/peer/refs/" + key)
    assert out.returncode == 0 and out.stdout == bytes(blob_byte(i) for i in range(4096))
    out = curl("-o", "-", "--range", "2048-", base + "/v1/peer/refs/" + key)
    assert out.stdout == bytes(blob_byte(i) for i in range(2048, 4096))

    ref_body = json.dumps({"envelope_version": 1, "ref_uuid": key})
    out = curl("-X", "POST", "-H", "Content-Type: application/json", "--data", ref_body,
               base + "/v1/peer/deref_session_ref")
    assert json.loads(out.stdout)["payload"] == [blob_byte(i) for i in range(4096)]
    out = curl("-X", "POST", "-H", "Content-Type: application/json", "--data", ref_body,
               base + "/v1/peer/release_session_ref")
    assert out.stdout == b'{"envelope_version":1,"released":true}'

    out = curl("-N", "-X", "POST", "-H", "Content-Type: application/json",
               "--data", '{"envelope_version":1,"workflow_name":"echo","step_ids":[],'
                         '"input_json":[123,125]}',
               base + "/v1/peer/stream_sub_workflow_events")
    lines = out.stdout.decode().strip().split("\n")
    assert json.loads(lines[-1])["response"]["error"] is None

    out = curl("-w", "%{http_code}", "-o", "/dev/null", base + "/healthz")
    assert out.stdout == b"200"
    out = curl(base + "/metrics")
    assert b"# TYPE blazen_peer_invocations_total counter" in out.stdout


def test_cli_client_over_http_json(base):
    peer = "http+json://" + base[len("http://"):]
    out = subprocess.run([PEER, "invoke", "--peer", peer, "--workflow", "wf",
                          "--steps", "blazen::host_blob", "--input", '{"bytes":777}'],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    refs = json.loads(out.stdout)["refs"]
    key = next(iter(refs))
    out = subprocess.run([PEER, "deref", "--peer", peer, key], capture_output=True, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout == bytes(blob_byte(i) for i in range(777))
    out = subprocess.run([PEER, "release", "--peer", peer, key], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "released"
    out = subprocess.run([PEER, "describe", "--peer", peer], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    described = json.loads(out.stdout)
    assert described["envelope_version"] == 1 and "blazen::echo" in described["step_ids"]
    assert described["default_workflows"]["echo"] == ["blazen::echo"]
    assert described["devices"][0]["location"] == "host"
    # release-scope: a parent run's until_parent_finish refs go in one call.
    out = subprocess.run([PEER, "invoke", "--peer", peer, "--parent-run-id", "run-77", "--workflow",
                          "wf", "--steps", "blazen::host_blob", "--input", '{"bytes":5}'],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([PEER, "release-scope", "--peer", peer, "run-77"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "1", (out.stdout, out.stderr)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed (scripts/setup.sh)")
def test_describe_and_release_scope_routes(base):
    out = curl(base + "/v1/peer/describe")
    described = json.loads(out.stdout)
    assert set(described) == {"node_id", "envelope_version", "version", "step_ids",
                              "default_workflows", "devices", "live_refs", "labels",
                              "gpu_model", "capacity_weight", "load"}
    out = curl("-w", "\n%{http_code}", "-H", "Content-Type: application/json", "-d",
               '{"envelope_version":1,"parent_run_id":"nobody"}', base + "/v1/peer/release_scope")
    body, code = out.stdout.decode().rsplit("\n", 1)
    assert code == "200" and json.loads(body) == {"envelope_version": 1, "released": 0}
    for bad, status in (('{"envelope_version":1}', "400"), ('{"envelope_version":2,'
                        '"parent_run_id":"x"}', "412"), ('{"envelope_version":1,'
                        '"parent_run_id":""}', "400"), ("not json", "400")):
        out = curl("-w", "\n%{http_code}", "-H", "Content-Type: application/json", "-d", bad,
                   base + "/v1/peer/release_scope")
        body, code = out.stdout.decode().rsplit("\n", 1)
        assert code == status, (bad, code, body)
        assert "error" in json.loads(body)
