// SPDX-License-Identifier: Apache-2.0
// The gRPC server at the wire level, driven by the generated stub (no code of our client): status
// codes, message texts and error-kind trailers, deref (unary and streamed), events, describe,
// release scope, token auth, mTLS, request limits and graceful shutdown.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "blazen/peer/v1/blazen_peer.grpc.pb.h"
#include "core/builtin_steps.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/postcard.h"
#include "core/tls.h"
#include "proto/grpc_status.h"
#include "server/peer_node.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace blazen::server {
namespace {

namespace pb = ::blazen::peer::v1;
using json = nlohmann::json;
using namespace std::chrono_literals;

std::unique_ptr<PeerNode> StartNode(PeerNodeOptions options = {}) {
  options.listen_address = "127.0.0.1:0";
  if (options.node_id == "blazen-peer") options.node_id = "server-test";
  Result<std::unique_ptr<PeerNode>> node = PeerNode::Start(std::move(options));
  EXPECT_TRUE(node.ok()) << node.status();
  return node.ok() ? std::move(node).value() : nullptr;
}

std::unique_ptr<pb::BlazenPeer::Stub> StubFor(
    const PeerNode& node,
    std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials(),
    const std::string& host = "127.0.0.1") {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  return pb::BlazenPeer::NewStub(
      grpc::CreateCustomChannel(host + ":" + std::to_string(node.port()), std::move(creds), args));
}

pb::PostcardRequest Envelope(const ByteVector& payload) {
  pb::PostcardRequest r;
  r.set_postcard_payload(payload.data(), payload.size());
  return r;
}

pb::PostcardRequest InvokeEnvelope(std::vector<std::string> steps, const json& input,
                                   std::optional<std::uint64_t> timeout = 30) {
  return Envelope(
      EncodePostcard(MakeSubWorkflowRequest("wf", std::move(steps), input, timeout).value())
          .value());
}

std::string Trailer(const grpc::ClientContext& ctx, std::string_view key) {
  const auto& md = ctx.GetServerTrailingMetadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  return it == md.end() ? "" : std::string(it->second.data(), it->second.size());
}

struct Invoked {
  grpc::Status status;
  SubWorkflowResponse response;
  std::string kind;
};

Invoked Invoke(pb::BlazenPeer::Stub& stub, const pb::PostcardRequest& request,
               const std::string& token = "", const std::string& parent = "") {
  grpc::ClientContext ctx;
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  if (!parent.empty()) ctx.AddMetadata("x-blazen-parent-run-id", parent);
  ctx.AddMetadata("x-blazen-peer-node-id", "test-parent");
  pb::PostcardResponse out;
  Invoked result;
  result.status = stub.InvokeSubWorkflow(&ctx, request, &out);
  result.kind = Trailer(ctx, grpc_util::kErrorKindTrailer);
  if (result.status.ok()) {
    result.response = DecodeSubWorkflowResponse(AsBytes(out.postcard_payload())).value();
  }
  return result;
}

Uuid MakeBlob(pb::BlazenPeer::Stub& stub, std::uint64_t bytes, const std::string& token = "",
              const std::string& parent = "") {
  Invoked r =
      Invoke(stub, InvokeEnvelope({"blazen::host_blob"}, json{{"bytes", bytes}}), token, parent);
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.response.remote_refs.size(), 1u);
  return r.response.remote_refs.empty() ? Uuid() : r.response.remote_refs.begin()->first;
}

struct Chunk {
  std::uint64_t offset;
  std::string data;
  std::uint64_t total;
  std::string type_tag;
};

struct Streamed {
  grpc::Status status;
  std::vector<Chunk> chunks;
};

Streamed StreamDeref(pb::BlazenPeer::Stub& stub, const std::string& key, std::uint64_t offset = 0,
                     std::uint64_t length = 0, std::uint32_t chunk = 0,
                     const std::string& token = "") {
  grpc::ClientContext ctx;
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  pb::DerefStreamRequest req;
  req.set_ref_uuid(key);
  req.set_envelope_version(1);
  req.set_offset(offset);
  req.set_length(length);
  req.set_chunk_bytes(chunk);
  auto reader = stub.DerefSessionRefStream(&ctx, req);
  Streamed out;
  pb::DerefChunk c;
  while (reader->Read(&c)) {
    out.chunks.push_back({c.offset(), c.data(), c.total_size(), c.type_tag()});
  }
  out.status = reader->Finish();
  return out;
}

void ExpectPattern(const std::string& data, std::uint64_t offset) {
  for (std::size_t i = 0; i < data.size(); ++i) {
    ASSERT_EQ(static_cast<std::uint8_t>(data[i]), HostBlobByte(offset + i)) << offset + i;
  }
}

// --- Upstream RPCs -------------------------------------------------------------------------------

TEST(GrpcServerTest, InvokeEchoAndStateExport) {
  auto node = StartNode();
  auto stub = StubFor(*node);
  const json input = {{"hello", "world"}, {"n", 42}};
  Invoked r = Invoke(*stub, InvokeEnvelope({"blazen::state_set", "blazen::echo"}, input));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.response.envelope_version, 1u);
  EXPECT_FALSE(r.response.error.has_value());
  EXPECT_EQ(ParseJson(*r.response.result_json).value(), input);
  EXPECT_EQ(r.response.state_json.at("n"), "42");
}

TEST(GrpcServerTest, ProtocolErrorsHaveUpstreamCodesTextsAndKinds) {
  auto node = StartNode();
  auto stub = StubFor(*node);
  Invoked unknown = Invoke(*stub, InvokeEnvelope({"does_not_exist::step"}, json::object()));
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(unknown.status.error_message(), "unknown step id `does_not_exist::step`");
  EXPECT_EQ(unknown.kind, "unknown_step");

  pb::PostcardRequest garbage;
  garbage.set_postcard_payload(std::string("\x01\x02\xff", 3));
  Invoked bad = Invoke(*stub, garbage);
  EXPECT_EQ(bad.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad.status.error_message().rfind("postcard decode failed: ", 0), 0u);
  EXPECT_EQ(bad.kind, "encode");

  SubWorkflowRequest newer = MakeSubWorkflowRequest("wf", {"blazen::echo"}, 1, 5).value();
  newer.envelope_version = 7;
  Invoked future = Invoke(*stub, Envelope(EncodePostcard(newer).value()));
  EXPECT_EQ(future.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(future.status.error_message(), "envelope version 7 is newer than supported 1");
  EXPECT_EQ(future.kind, "envelope_version");

  SubWorkflowRequest not_json = MakeSubWorkflowRequest("wf", {"blazen::echo"}, 1, 5).value();
  not_json.input_json = "{oops";
  Invoked invalid = Invoke(*stub, Envelope(EncodePostcard(not_json).value()));
  EXPECT_EQ(invalid.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(invalid.status.error_message().rfind("invalid input JSON: ", 0), 0u);

  // The peer is still serving.
  EXPECT_TRUE(Invoke(*stub, InvokeEnvelope({"blazen::echo"}, 1)).status.ok());
}

TEST(GrpcServerTest, WorkflowFailuresAreOkResponsesWithError) {
  auto node = StartNode();
  auto stub = StubFor(*node);
  Invoked r = Invoke(*stub, InvokeEnvelope({"blazen::fail"}, json{{"message", "boom"}}));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.response.error.value_or(""), "workflow error: step 'fail' failed: boom");
  Invoked slow = Invoke(*stub, InvokeEnvelope({"blazen::sleep"}, json{{"seconds", 20}}, 1));
  ASSERT_TRUE(slow.status.ok());
  EXPECT_EQ(slow.response.error.value_or(""), "workflow timed out after 1s");
}

TEST(GrpcServerTest, UnaryDerefAndRelease) {
  auto node = StartNode();
  auto stub = StubFor(*node);
  const Uuid key = MakeBlob(*stub, 300'000);

  grpc::ClientContext ctx;
  pb::PostcardResponse out;
  ASSERT_TRUE(
      stub->DerefSessionRef(&ctx, Envelope(EncodePostcard(DerefRequest{1, key}).value()), &out)
          .ok());
  BLAZEN_ASSERT_OK_AND_ASSIGN(DerefResponse deref,
                              DecodeDerefResponse(AsBytes(out.postcard_payload())));
  ASSERT_EQ(deref.payload.size(), 300'000u);
  for (std::size_t i = 0; i < deref.payload.size(); ++i) {
    ASSERT_EQ(deref.payload[i], HostBlobByte(i)) << i;
  }

  auto release = [&] {
    grpc::ClientContext c;
    pb::PostcardResponse o;
    EXPECT_TRUE(
        stub->ReleaseSessionRef(&c, Envelope(EncodePostcard(ReleaseRequest{1, key}).value()), &o)
            .ok());
    return DecodeReleaseResponse(AsBytes(o.postcard_payload())).value().released;
  };
  EXPECT_TRUE(release());
  EXPECT_FALSE(release());

  grpc::ClientContext gone;
  grpc::Status st =
      stub->DerefSessionRef(&gone, Envelope(EncodePostcard(DerefRequest{1, key}).value()), &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "session ref " + key.ToString() + " not found");
}

TEST(GrpcServerTest, EventStreamEndsWithTheResponse) {
  auto node = StartNode();
  auto stub = StubFor(*node);
  grpc::ClientContext ctx;
  auto reader = stub->StreamSubWorkflowEvents(&ctx, InvokeEnvelope({"blazen::echo"}, "x"));
  std::vector<SubWorkflowEvent> events;
  pb::PostcardResponse item;
  while (reader->Read(&item)) {
    events.push_back(DecodeSubWorkflowEvent(AsBytes(item.postcard_payload())).value());
  }
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event_type, "blazen::StartEvent");
  EXPECT_EQ(events[1].event_type, "blazen::StopEvent");
  ASSERT_TRUE(events[1].response.has_value());
  EXPECT_EQ(*events[1].response->result_json, "\"x\"");

  grpc::ClientContext bad_ctx;
  auto bad = stub->StreamSubWorkflowEvents(&bad_ctx, InvokeEnvelope({"nope::step"}, 1));
  while (bad->Read(&item)) {
  }
  EXPECT_EQ(bad->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(GrpcServerTest, MetricsCountGrpcInvocationsAndDerefBytes) {
  auto node = StartNode();
  auto stub = StubFor(*node);
  ASSERT_TRUE(Invoke(*stub, InvokeEnvelope({"blazen::echo"}, 1)).status.ok());
  ASSERT_TRUE(Invoke(*stub, InvokeEnvelope({"blazen::fail"}, json::object())).status.ok());
  EXPECT_EQ(Invoke(*stub, InvokeEnvelope({"nope::step"}, 1)).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  const Uuid key = MakeBlob(*stub, 5000);
  grpc::ClientContext ctx;
  pb::PostcardResponse out;
  ASSERT_TRUE(
      stub->DerefSessionRef(&ctx, Envelope(EncodePostcard(DerefRequest{1, key}).value()), &out)
          .ok());
  ASSERT_TRUE(StreamDeref(*stub, key.ToString(), 1000).status.ok());
  grpc::ClientContext events_ctx;
  auto reader = stub->StreamSubWorkflowEvents(&events_ctx, InvokeEnvelope({"blazen::echo"}, 2));
  pb::PostcardResponse item;
  while (reader->Read(&item)) {
  }
  ASSERT_TRUE(reader->Finish().ok());

  EXPECT_EQ(node->metrics().invocations("grpc", "ok"), 3u);  // echo, blob, streamed echo
  EXPECT_EQ(node->metrics().invocations("grpc", "workflow_error"), 1u);
  EXPECT_EQ(node->metrics().invocations("grpc", "not_found"), 1u);
  EXPECT_EQ(node->metrics().invocations("http", "ok"), 0u);
  const std::string text = node->metrics().Render(node->session_refs(), &node->gpu_runtime());
  // 5000 bytes unary + 4000 streamed from offset 1000.
  EXPECT_NE(text.find("blazen_peer_deref_bytes_total{transport=\"grpc\"} 9000\n"),
            std::string::npos)
      << text;
}

// --- Streaming deref -----------------------------------------------------------------------------

TEST(GrpcServerTest, StreamDerefChunksRangesAndErrors) {
  auto node = StartNode();
  auto stub = StubFor(*node);
  const std::uint64_t size = (3u << 20) + 17;
  const Uuid key = MakeBlob(*stub, size);

  Streamed all = StreamDeref(*stub, key.ToString(), 0, 0, 1u << 20);
  ASSERT_TRUE(all.status.ok()) << all.status.error_message();
  ASSERT_EQ(all.chunks.size(), 4u);
  std::uint64_t expect = 0;
  for (const Chunk& c : all.chunks) {
    EXPECT_EQ(c.offset, expect);
    EXPECT_EQ(c.total, size);
    EXPECT_EQ(c.type_tag, "bytes");
    ExpectPattern(c.data, c.offset);
    expect += c.data.size();
  }
  EXPECT_EQ(expect, size);

  // A range in the middle (resume), in the simple 32-hex UUID form.
  std::string simple = key.ToString();
  simple.erase(std::remove(simple.begin(), simple.end(), '-'), simple.end());
  Streamed range = StreamDeref(*stub, simple, 1'000'000, 100'000, 65536);
  ASSERT_TRUE(range.status.ok());
  std::uint64_t got = 0;
  for (const Chunk& c : range.chunks) {
    EXPECT_EQ(c.offset, 1'000'000 + got);
    ExpectPattern(c.data, c.offset);
    got += c.data.size();
  }
  EXPECT_EQ(got, 100'000u);

  // Offset at the end: one empty chunk telling the size. Past the end: OUT_OF_RANGE.
  Streamed at_end = StreamDeref(*stub, key.ToString(), size);
  ASSERT_TRUE(at_end.status.ok());
  ASSERT_EQ(at_end.chunks.size(), 1u);
  EXPECT_TRUE(at_end.chunks[0].data.empty());
  EXPECT_EQ(at_end.chunks[0].total, size);
  EXPECT_EQ(StreamDeref(*stub, key.ToString(), size + 1).status.error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(StreamDeref(*stub, "not-a-uuid").status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(StreamDeref(*stub, Uuid::NewV4().ToString()).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(GrpcServerTest, EmptyRefStreamsOneEmptyChunk) {
  auto node = StartNode();
  auto stub = StubFor(*node);
  const Uuid key = MakeBlob(*stub, 0);
  Streamed s = StreamDeref(*stub, key.ToString());
  ASSERT_TRUE(s.status.ok());
  ASSERT_EQ(s.chunks.size(), 1u);
  EXPECT_EQ(s.chunks[0].total, 0u);
}

TEST(GrpcServerTest, ClientLeavingMidStreamFreesLeaseAndBuffers) {
  auto node = StartNode();
  auto stub = StubFor(*node);
  const std::uint64_t size = 64u << 20;
  const Uuid key = MakeBlob(*stub, size);
  {
    grpc::ClientContext ctx;
    pb::DerefStreamRequest req;
    req.set_ref_uuid(key.ToString());
    req.set_envelope_version(1);
    auto reader = stub->DerefSessionRefStream(&ctx, req);
    pb::DerefChunk c;
    ASSERT_TRUE(reader->Read(&c));
    ctx.TryCancel();
    while (reader->Read(&c)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  // Released while nobody streams it: the bytes must come back once the stream's lease is gone.
  EXPECT_TRUE(node->session_refs().Release(key));
  std::uint64_t in_use = 1;
  for (int i = 0; i < 500 && in_use != 0; ++i) {
    std::this_thread::sleep_for(10ms);
    in_use = node->session_refs().Stats().resident_bytes_by_location["host"];
  }
  EXPECT_EQ(in_use, 0u);
}

TEST(GrpcServerTest, ReleaseDuringStreamKeepsBytesUntilStreamEnds) {
  auto node = StartNode();
  auto stub = StubFor(*node);
  const std::uint64_t size = 8u << 20;
  const Uuid key = MakeBlob(*stub, size);
  grpc::ClientContext ctx;
  pb::DerefStreamRequest req;
  req.set_ref_uuid(key.ToString());
  req.set_envelope_version(1);
  req.set_chunk_bytes(1u << 20);
  auto reader = stub->DerefSessionRefStream(&ctx, req);
  pb::DerefChunk c;
  ASSERT_TRUE(reader->Read(&c));
  std::uint64_t received = c.data().size();
  EXPECT_TRUE(node->session_refs().Release(key));  // the lease keeps the value readable
  while (reader->Read(&c)) {
    ExpectPattern(c.data(), c.offset());
    received += c.data().size();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(received, size);
}

// --- Extensions ----------------------------------------------------------------------------------

TEST(GrpcServerTest, DescribePeerAndReleaseScope) {
  auto node = StartNode();
  auto stub = StubFor(*node);
  MakeBlob(*stub, 1000, "", "parent-1");
  MakeBlob(*stub, 2000, "", "parent-1");
  MakeBlob(*stub, 4000, "", "parent-2");

  grpc::ClientContext ctx;
  pb::DescribePeerRequest req;
  req.set_envelope_version(1);
  pb::DescribePeerResponse d;
  ASSERT_TRUE(stub->DescribePeer(&ctx, req, &d).ok());
  EXPECT_EQ(d.node_id(), "server-test");
  EXPECT_EQ(d.envelope_version(), 1u);
  EXPECT_NE(std::find(d.step_ids().begin(), d.step_ids().end(), "blazen::echo"),
            d.step_ids().end());
  ASSERT_GE(d.devices_size(), 1);
  EXPECT_EQ(d.devices(0).location(), "host");
  if (node->gpu_runtime().is_cuda()) {
    ASSERT_EQ(d.devices_size(), 2);
    EXPECT_EQ(d.devices(1).location(), node->gpu_runtime().location());
    EXPECT_FALSE(d.devices(1).name().empty());
  } else {
    EXPECT_EQ(d.devices(0).name().rfind("host fallback: ", 0), 0u) << d.devices(0).name();
  }
  EXPECT_EQ(d.devices(0).pool_in_use_bytes(), 7000u);
  ASSERT_EQ(d.live_refs_size(), 1);
  EXPECT_EQ(d.live_refs(0).lifetime(), "until_parent_finish");
  EXPECT_EQ(d.live_refs(0).count(), 3u);

  grpc::ClientContext scope_ctx;
  pb::ReleaseScopeRequest scope;
  scope.set_envelope_version(1);
  scope.set_parent_run_id("parent-1");
  pb::ReleaseScopeResponse released;
  ASSERT_TRUE(stub->ReleaseScope(&scope_ctx, scope, &released).ok());
  EXPECT_EQ(released.released(), 2u);
  EXPECT_EQ(node->session_refs().size(), 1u);
}

// --- Security and limits -------------------------------------------------------------------------

TEST(GrpcServerTest, TokenIsRequiredOnEveryRpc) {
  PeerNodeOptions options;
  options.token = "s3cret";
  auto node = StartNode(options);
  auto stub = StubFor(*node);
  const auto request = InvokeEnvelope({"blazen::echo"}, 1);
  Invoked missing = Invoke(*stub, request);
  EXPECT_EQ(missing.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(missing.status.error_message(), "missing authorization header");
  Invoked wrong = Invoke(*stub, request, "guess");
  EXPECT_EQ(wrong.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(wrong.status.error_message(), "token mismatch");
  EXPECT_TRUE(Invoke(*stub, request, "s3cret").status.ok());

  const Uuid key = MakeBlob(*stub, 10, "s3cret");
  EXPECT_EQ(StreamDeref(*stub, key.ToString()).status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(StreamDeref(*stub, key.ToString(), 0, 0, 0, "s3cret").status.ok());
  grpc::ClientContext deref_ctx;
  pb::PostcardResponse out;
  EXPECT_EQ(stub->DerefSessionRef(&deref_ctx,
                                  Envelope(EncodePostcard(DerefRequest{1, key}).value()), &out)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext release_ctx;
  EXPECT_EQ(stub->ReleaseSessionRef(&release_ctx,
                                    Envelope(EncodePostcard(ReleaseRequest{1, key}).value()), &out)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(node->session_refs().size(), 1u);  // nothing was released without the token
  grpc::ClientContext describe_ctx;
  pb::DescribePeerResponse d;
  EXPECT_EQ(stub->DescribePeer(&describe_ctx, pb::DescribePeerRequest(), &d).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST(GrpcServerTest, MutualTls) {
  testing::TestPki pki;
  ASSERT_EQ(pki.error(), "");
  PeerNodeOptions options;
  options.tls =
      LoadServerTls(pki.Path("server.pem"), pki.Path("server.key"), pki.Path("ca.pem")).value();
  auto node = StartNode(options);
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->endpoint().rfind("https://", 0), 0u);

  auto creds = [&](const std::string& cert, const std::string& key) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls->ca_pem;
    if (!cert.empty()) {
      const ClientTlsConfig c =
          LoadClientTls(pki.Path(cert), pki.Path(key), pki.Path("ca.pem")).value();
      ssl.pem_cert_chain = c.cert_chain_pem;
      ssl.pem_private_key = c.private_key_pem;
    }
    return grpc::SslCredentials(ssl);
  };
  const auto request = InvokeEnvelope({"blazen::echo"}, 1);
  auto good = StubFor(*node, creds("client.pem", "client.key"), "localhost");
  EXPECT_TRUE(Invoke(*good, request).status.ok());
  auto anonymous = StubFor(*node, creds("", ""), "localhost");
  EXPECT_FALSE(Invoke(*anonymous, request).status.ok());
  // other-client.pem is signed by another CA: the server must refuse it.
  grpc::SslCredentialsOptions other;
  other.pem_root_certs = options.tls->ca_pem;
  const ClientTlsConfig foreign =
      LoadClientTls(pki.Path("other-client.pem"), pki.Path("other-client.key"),
                    pki.Path("other-ca.pem"))
          .value();
  other.pem_cert_chain = foreign.cert_chain_pem;
  other.pem_private_key = foreign.private_key_pem;
  auto intruder = StubFor(*node, grpc::SslCredentials(other), "localhost");
  EXPECT_FALSE(Invoke(*intruder, request).status.ok());
  // Plaintext h2c to a TLS port fails too.
  auto plain = StubFor(*node);
  EXPECT_FALSE(Invoke(*plain, request).status.ok());
}

TEST(GrpcServerTest, OversizedRequestIsRejected) {
  PeerNodeOptions options;
  options.max_request_bytes = 4096;
  auto node = StartNode(options);
  auto stub = StubFor(*node);
  Invoked big = Invoke(*stub, InvokeEnvelope({"blazen::echo"}, std::string(10'000, 'x')));
  EXPECT_EQ(big.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Invoke(*stub, InvokeEnvelope({"blazen::echo"}, "small")).status.ok());
}

TEST(GrpcServerTest, BindFailureIsAClearError) {
  auto first = StartNode();
  PeerNodeOptions options;
  options.listen_address = "127.0.0.1:" + std::to_string(first->port());
  Result<std::unique_ptr<PeerNode>> second = PeerNode::Start(options);
  EXPECT_THAT(second, testing::StatusIs(StatusCode::kUnavailable,
                                        ::testing::HasSubstr(options.listen_address)));
}

TEST(GrpcServerTest, SixtyFourConcurrentInvocations) {
  PeerNodeOptions options;
  options.engine.worker_threads = 16;
  auto node = StartNode(options);
  auto stub = StubFor(*node);
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 64; ++i) {
    threads.emplace_back([&, i] {
      Invoked r = Invoke(*stub, InvokeEnvelope({"blazen::echo"}, json{{"i", i}}));
      if (r.status.ok() && ParseJson(*r.response.result_json).value() == json{{"i", i}}) ++good;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 64);
}

TEST(GrpcServerTest, GracefulShutdownLetsInFlightRunsFinish) {
  auto node = StartNode();
  auto stub = StubFor(*node);
  auto pending = std::async(std::launch::async, [&] {
    return Invoke(*stub, InvokeEnvelope({"blazen::sleep"}, json{{"seconds", 0.5}}));
  });
  std::this_thread::sleep_for(100ms);
  node->Shutdown(10s);
  Invoked r = pending.get();
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_FALSE(r.response.error.has_value());
  EXPECT_FALSE(Invoke(*stub, InvokeEnvelope({"blazen::echo"}, 1)).status.ok());
}

}  // namespace
}  // namespace blazen::server
