# SPDX-License-Identifier: Apache-2.0
"""The package surface without a peer: names, constants, value types, reprs and validation."""

from __future__ import annotations

import asyncio
import math

import pytest

import blazen

UPSTREAM_NAMES = [
    "BlazenPeerServer", "BlazenPeerClient", "HttpPeerClient", "SubWorkflowRequest",
    "SubWorkflowResponse", "DerefRequest", "DerefResponse", "ReleaseRequest", "ReleaseResponse",
    "PeerRemoteRefDescriptor", "SessionRefRegistry", "RegistryKey", "RemoteRefDescriptor",
    "RefLifetime", "StepDeserializerRegistry", "register_step_builder", "lookup_step_builder",
    "registered_step_ids", "resolve_peer_token", "load_client_tls", "load_server_tls",
    "PeerError", "BlazenError", "PEER_TOKEN_ENV", "ENVELOPE_VERSION", "_SessionRegistryHandle",
]


def test_upstream_names_exist():
    missing = [name for name in UPSTREAM_NAMES if not hasattr(blazen, name)]
    assert missing == []


def test_constants_and_exception_naming():
    assert blazen.ENVELOPE_VERSION == 1
    assert blazen.PEER_TOKEN_ENV == "BLAZEN_PEER_TOKEN"
    assert blazen.PeerError.__name__ == "PeerException"
    assert blazen.BlazenError.__name__ == "BlazenException"
    assert issubclass(blazen.PeerError, blazen.BlazenError)
    assert issubclass(blazen.BlazenError, Exception)
    assert issubclass(blazen.PeerTlsError, blazen.PeerError)


def test_resolve_peer_token(monkeypatch):
    assert blazen.resolve_peer_token() is None
    monkeypatch.setenv("BLAZEN_PEER_TOKEN", "")
    assert blazen.resolve_peer_token() is None
    monkeypatch.setenv("BLAZEN_PEER_TOKEN", " abc ")
    assert blazen.resolve_peer_token() == " abc "


def test_sub_workflow_request():
    request = blazen.SubWorkflowRequest("wf", ["a", "b"], {"x": 1, 2: (1, 2)}, 60)
    assert request.envelope_version == 1
    assert request.workflow_name == "wf"
    assert request.step_ids == ["a", "b"]
    assert request.step_ids is not request.step_ids
    assert request.timeout_secs == 60
    assert request.input_value() == {"x": 1, "2": [1, 2]}
    assert repr(request) == 'SubWorkflowRequest(workflow_name="wf", steps=2, timeout_secs=Some(60))'
    empty = blazen.SubWorkflowRequest(workflow_name="w\"q")
    assert empty.input_value() == {} and empty.step_ids == [] and empty.timeout_secs is None
    assert repr(empty) == 'SubWorkflowRequest(workflow_name="w\\"q", steps=0, timeout_secs=None)'


def test_sub_workflow_request_json_rules():
    big = 1 << 70
    request = blazen.SubWorkflowRequest(
        "wf", input={"t": True, "n": None, "big": big, "nan": math.nan, "i": -5, "f": 0.5})
    value = request.input_value()
    assert value["t"] is True and value["n"] is None and value["i"] == -5 and value["f"] == 0.5
    assert isinstance(value["big"], float) and value["big"] == float(big)
    assert value["nan"] is None


def test_sub_workflow_request_validation():
    with pytest.raises(TypeError):
        blazen.SubWorkflowRequest("wf", input=[1, 2])
    with pytest.raises(TypeError):
        blazen.SubWorkflowRequest("wf", step_ids="blazen::echo")
    with pytest.raises(TypeError):
        blazen.SubWorkflowRequest("wf", input={"x": object()})
    with pytest.raises(OverflowError):
        blazen.SubWorkflowRequest("wf", timeout_secs=-1)
    with pytest.raises(TypeError):
        blazen.SubWorkflowRequest(42)


def test_sub_workflow_response_has_no_constructor():
    with pytest.raises(TypeError, match="No constructor defined"):
        blazen.SubWorkflowResponse()
    with pytest.raises(TypeError, match="No constructor defined"):
        blazen.BlazenPeerClient()


def test_descriptors():
    d = blazen.PeerRemoteRefDescriptor("n1", "T", 1700000000000)
    assert (d.origin_node_id, d.type_tag, d.created_at_epoch_ms) == ("n1", "T", 1700000000000)
    assert repr(d) == ('PeerRemoteRefDescriptor(origin_node_id="n1", type_tag="T", '
                       'created_at_epoch_ms=1700000000000)')
    assert repr(blazen.RemoteRefDescriptor("n1", "T", 1)).startswith("RemoteRefDescriptor(")


def test_deref_and_release_types():
    upper = "00112233445566778899AABBCCDDEEFF"
    request = blazen.DerefRequest(upper)
    assert request.ref_uuid == "00112233-4455-6677-8899-aabbccddeeff"
    assert request.envelope_version == 1
    assert repr(request) == "DerefRequest(ref_uuid=00112233-4455-6677-8899-aabbccddeeff)"
    assert repr(blazen.ReleaseRequest(upper)).startswith("ReleaseRequest(ref_uuid=00112233-")
    with pytest.raises(blazen.PeerError, match="invalid UUID"):
        blazen.DerefRequest("nope")
    with pytest.raises(blazen.PeerError, match="invalid UUID"):
        blazen.ReleaseRequest("")
    response = blazen.DerefResponse([1, 2, 3])
    assert response.payload == b"\x01\x02\x03" and response.envelope_version == 1
    assert repr(response) == "DerefResponse(payload_len=3)"
    assert repr(blazen.ReleaseResponse(True)) == "ReleaseResponse(released=true)"
    assert blazen.ReleaseResponse(False).released is False


def test_registry_key():
    key = blazen.RegistryKey("00112233-4455-6677-8899-AABBCCDDEEFF")
    assert str(key) == "00112233-4455-6677-8899-aabbccddeeff"
    assert repr(key) == "RegistryKey(00112233-4455-6677-8899-aabbccddeeff)"
    assert key == blazen.RegistryKey(str(key)) and hash(key) == hash(blazen.RegistryKey(str(key)))
    assert blazen.RegistryKey.new_random() != blazen.RegistryKey.new_random()
    with pytest.raises(ValueError, match="invalid UUID"):
        blazen.RegistryKey("zz")


def test_ref_lifetime_enum():
    assert blazen.RefLifetime.UntilContextDrop == 0
    assert blazen.RefLifetime.UntilExplicitDrop == 1
    assert blazen.RefLifetime.UntilSnapshot == 2
    assert blazen.RefLifetime.UntilParentFinish == 3
    assert len({blazen.RefLifetime.UntilContextDrop, blazen.RefLifetime.UntilParentFinish}) == 2


def test_session_ref_registry_fresh():
    registry = blazen.SessionRefRegistry()
    key = blazen.RegistryKey.new_random()
    assert registry.len() == 0 and registry.is_empty()
    assert registry.lifetime_of(key) is None
    assert registry.get_remote(key) is None and not registry.is_remote(key)
    assert registry.remove(key) is False
    assert registry.remote_entries() == []
    assert registry.clear_on_context_drop(False) == 0
    assert repr(registry) == "SessionRefRegistry(len=0)"
    with pytest.raises(ValueError):
        registry.lifetime_of("not a uuid")

    async def async_twins():
        return (await registry.alen(), await registry.ais_empty(),
                await registry.alifetime_of(key), await registry.aremove(key))

    assert asyncio.run(async_twins()) == (0, True, None, False)
    handle = registry.handle()
    assert isinstance(handle, blazen._SessionRegistryHandle)
    assert repr(handle) == "_SessionRegistryHandle(len=0)"
    assert handle.registry().len() == 0


def test_with_session_refs_type_checks():
    server = blazen.BlazenPeerServer("n")
    server.with_session_refs(blazen._SessionRegistryHandle())
    server.with_session_refs(blazen.SessionRefRegistry())
    with pytest.raises(TypeError):
        server.with_session_refs("registry")
    assert repr(server) == 'BlazenPeerServer(node_id="n")'
    assert server.port is None and server.endpoint is None


def test_register_step_builder_validation():
    with pytest.raises(TypeError):
        blazen.register_step_builder(123, lambda ctx, ev: None)
    with pytest.raises(TypeError):
        blazen.register_step_builder("tests::not_callable", 42)
    with pytest.raises(TypeError):
        blazen.register_step_builder("tests::bad_accepts", lambda c, e: None, accepts="x")
    assert blazen.register_step_builder("tests::api_once", lambda c, e: 1) is True
    assert blazen.register_step_builder("tests::api_once", lambda c, e: 2) is False
    assert blazen.lookup_step_builder("tests::api_once")

    @blazen.step("tests::decorated")
    def decorated(ctx, event):
        return event.data

    assert callable(decorated) and "tests::decorated" in blazen.registered_step_ids()


def test_tensor_from_payload_roundtrip():
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.ones((2, 5), dtype=np.float32))
    array = blazen.tensor_from_payload(buf.getvalue())
    assert array.shape == (2, 5) and array.dtype == np.float32
    assert blazen.tensor_from_payload(blazen.DerefResponse(buf.getvalue())).shape == (2, 5)


def test_events():
    start = blazen.StartEvent({"a": 1})
    stop = blazen.StopEvent(result=[1])
    assert start.type == "blazen::StartEvent" and start.data == {"a": 1}
    assert stop.type == "blazen::StopEvent" and stop.result == [1]
    assert blazen.Event("x::Y", {"k": 2}).payload == {"k": 2}


@pytest.mark.parametrize("name", ["SubWorkflowRequest", "SubWorkflowResponse", "DerefRequest",
                                  "ReleaseResponse", "RegistryKey", "SessionRefRegistry",
                                  "BlazenPeerServer", "BlazenPeerClient", "HttpPeerClient"])
def test_public_classes_are_final_as_upstream(name):
    base = getattr(blazen, name)
    with pytest.raises(TypeError, match="not an acceptable base type"):
        type("Sub", (base,), {})
