# SPDX-License-Identifier: Apache-2.0
"""Interop: a client that shares no code with ours (Python grpcio, raw postcard bytes built by hand
from the spec's worked examples) talks to a `blazen-peer serve` process over h2c, as an upstream
Blazen client would."""

import json
import os
import signal
import subprocess
import time
import uuid

import grpc
import pytest

PEER = os.environ.get("BLAZEN_PEER_BIN", "blazen-peer")
SERVICE = "/blazen.peer.v1.BlazenPeer/"


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def pc_bytes(b):
    return varint(len(b)) + b


def pc_str(s):
    return pc_bytes(s.encode("utf-8"))


def envelope(payload):
    """PostcardRequest{bytes postcard_payload = 1}, proto3 wire form."""
    return (b"\x0a" + varint(len(payload)) + payload) if payload else b""


def unwrap(message):
    """PostcardResponse -> postcard payload."""
    if not message:
        return b""
    assert message[0] == 0x0A, message[:4]
    i, length, shift = 1, 0, 0
    while True:
        byte = message[i]
        length |= (byte & 0x7F) << shift
        i += 1
        shift += 7
        if byte < 0x80:
            break
    return message[i : i + length]


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def varint(self):
        out, shift = 0, 0
        while True:
            b = self.data[self.pos]
            self.pos += 1
            out |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return out

    def byte(self):
        self.pos += 1
        return self.data[self.pos - 1]

    def bytes(self):
        n = self.varint()
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def option(self, read):
        tag = self.byte()
        assert tag in (0, 1)
        return read() if tag else None


def decode_response(payload):
    r = Reader(payload)
    version = r.varint()
    state = {}
    for _ in range(r.varint()):
        key = r.bytes().decode()
        state[key] = r.bytes()
    result = r.option(r.bytes)
    refs = {}
    for _ in range(r.varint()):
        key = uuid.UUID(bytes=bytes(r.bytes()))
        refs[key] = (r.bytes().decode(), r.bytes().decode(), r.varint())
    error = r.option(lambda: r.bytes().decode())
    return version, state, result, refs, error


def request(workflow, steps, input_json, timeout=None, version=1):
    out = varint(version) + pc_str(workflow) + varint(len(steps))
    for s in steps:
        out += pc_str(s)
    out += pc_bytes(input_json)
    out += (b"\x01" + varint(timeout)) if timeout is not None else b"\x00"
    return out


@pytest.fixture(scope="module")
def peer():
    proc = subprocess.Popen(
        [PEER, "serve", "--node-id", "interop-node", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "BLAZEN_PEER_TOKEN"},
    )
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        pytest.fail("peer did not start: " + line + proc.stderr.read())
    address = line.split()[-1]
    channel = grpc.insecure_channel(address)
    grpc.channel_ready_future(channel).result(timeout=10)
    yield channel
    channel.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def unary(channel, method, payload):
    call = channel.unary_unary(
        SERVICE + method, request_serializer=lambda b: b, response_deserializer=lambda b: b
    )
    return unwrap(call(envelope(payload), timeout=30))


def test_spec_example_a_shape_invokes_echo(peer):
    # Spec 2.2 (a) with the echo step: exact upstream layout built by hand.
    payload = request("wf", ["blazen::echo"], b'{"x":1}', timeout=60)
    assert payload[:4] == bytes([0x01, 0x02, 0x77, 0x66])
    version, state, result, refs, error = decode_response(unary(peer, "InvokeSubWorkflow", payload))
    assert version == 1 and error is None
    assert json.loads(result) == {"x": 1}
    assert state == {} and refs == {}


def test_default_workflow_with_empty_step_list(peer):
    payload = bytes.fromhex("01 04 65 63 68 6f 00 07 7B 22 78 22 3A 31 7D 00".replace(" ", ""))
    _, _, result, _, error = decode_response(unary(peer, "InvokeSubWorkflow", payload))
    assert error is None and json.loads(result) == {"x": 1}


def test_unknown_step_is_not_found_with_upstream_text(peer):
    with pytest.raises(grpc.RpcError) as e:
        unary(peer, "InvokeSubWorkflow", request("wf", ["does_not_exist::step"], b"{}"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert e.value.details() == "unknown step id `does_not_exist::step`"


def test_garbage_payload_is_invalid_argument(peer):
    with pytest.raises(grpc.RpcError) as e:
        unary(peer, "InvokeSubWorkflow", b"\x01\x02\xff")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert e.value.details().startswith("postcard decode failed: ")


def test_newer_envelope_is_failed_precondition(peer):
    with pytest.raises(grpc.RpcError) as e:
        unary(peer, "InvokeSubWorkflow", request("wf", ["blazen::echo"], b"{}", version=2))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert e.value.details() == "envelope version 2 is newer than supported 1"


def test_workflow_error_is_ok_with_error_field(peer):
    _, _, result, _, error = decode_response(
        unary(peer, "InvokeSubWorkflow", request("wf", ["blazen::fail"], b'{"message":"boom"}'))
    )
    assert result is None
    assert error == "workflow error: step 'fail' failed: boom"


def test_blob_deref_release_round_trip(peer):
    _, _, result, refs, error = decode_response(
        unary(peer, "InvokeSubWorkflow", request("wf", ["blazen::host_blob"], b'{"bytes":1000}'))
    )
    assert error is None and len(refs) == 1
    key, (origin, type_tag, created_ms) = next(iter(refs.items()))
    assert origin == "interop-node" and type_tag == "bytes"
    assert abs(created_ms - time.time() * 1000) < 120_000
    assert json.loads(result)["ref"] == str(key)

    deref = unary(peer, "DerefSessionRef", b"\x01" + pc_bytes(key.bytes))
    r = Reader(deref)
    assert r.varint() == 1
    assert bytes(r.bytes()) == bytes(i % 251 for i in range(1000))

    release = varint(1) + pc_bytes(key.bytes)
    assert unary(peer, "ReleaseSessionRef", release) == b"\x01\x01"
    assert unary(peer, "ReleaseSessionRef", release) == b"\x01\x00"
    with pytest.raises(grpc.RpcError) as e:
        unary(peer, "DerefSessionRef", b"\x01" + pc_bytes(key.bytes))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert e.value.details() == f"session ref {key} not found"


def test_uuid_of_fifteen_bytes_is_invalid_argument(peer):
    with pytest.raises(grpc.RpcError) as e:
        unary(peer, "DerefSessionRef", b"\x01\x0f" + bytes(15))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_stream_events_ends_with_the_response(peer):
    call = peer.unary_stream(
        SERVICE + "StreamSubWorkflowEvents",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    items = [unwrap(m) for m in call(envelope(request("wf", ["blazen::echo"], b"[1,2]")), timeout=30)]
    assert len(items) == 2
    # SubWorkflowEvent{version, event_type, step_id, data_json, timestamp_ms, response}
    r = Reader(items[-1])
    assert r.varint() == 1
    assert r.bytes() == b"blazen::StopEvent"
    assert r.bytes() == b"blazen::echo"
    assert json.loads(r.bytes()) == {"result": [1, 2]}
    assert r.varint() > 0
    assert r.byte() == 1
    version, _, result, _, error = decode_response(items[-1][r.pos :])
    assert version == 1 and error is None and json.loads(result) == [1, 2]
