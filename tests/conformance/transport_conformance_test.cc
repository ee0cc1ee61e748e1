// SPDX-License-Identifier: Apache-2.0
// One contract suite for every transport: the same cases and the same expected outcomes (results,
// PeerError types and codes) over gRPC (BlazenPeerClient) and HTTP/JSON (HttpPeerClient), both
// used through the PeerClient interface that ConnectPeer returns, against one in-process peer that
// serves both.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/connect.h"
#include "client/deref_sink.h"
#include "client/peer_client_interface.h"
#include "core/builtin_steps.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/peer_error.h"
#include "server/peer_node.h"

namespace blazen {
namespace {

using client::DerefResult;
using client::HostBufferSink;
using json = nlohmann::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr const char* kToken = "conformance-token";

enum class Kind { kGrpc, kHttp };

// The URL that selects the transport: the gRPC endpoint as is, or the HTTP endpoint with the
// `+json` scheme (and a trailing slash, which the HTTP client ignores).
std::string UrlOf(const server::PeerNode& node, Kind kind) {
  if (kind == Kind::kGrpc) return node.endpoint();
  std::string url = node.http_endpoint() + "/";
  return url.insert(url.find("://"), "+json");
}

SubWorkflowRequest Request(std::vector<std::string> steps, const json& input) {
  return MakeSubWorkflowRequest("conformance", std::move(steps), input, 30).value();
}

json ResultOf(const SubWorkflowResponse& response) {
  EXPECT_FALSE(response.error.has_value()) << *response.error;
  return ParseJson(response.result_json.value_or("null")).value();
}

void ExpectHostBlob(const std::vector<std::uint8_t>& bytes, std::size_t size) {
  ASSERT_EQ(bytes.size(), size);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    ASSERT_EQ(bytes[i], HostBlobByte(i)) << "byte " << i;
  }
}

class TransportConformanceTest : public ::testing::TestWithParam<Kind> {
 protected:
  static void SetUpTestSuite() {
    spdlog::set_level(spdlog::level::warn);
    server::PeerNodeOptions options;
    options.node_id = "conformance-peer";
    options.listen_address = "127.0.0.1:0";
    options.http_listen_address = "127.0.0.1:0";
    options.token = kToken;
    Result<std::unique_ptr<server::PeerNode>> node = server::PeerNode::Start(std::move(options));
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = std::move(node).value().release();
  }
  static void TearDownTestSuite() {
    delete node_;
    node_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(node_, nullptr);
    transport_ = Make(kToken);
  }

  static std::unique_ptr<client::PeerClient> Make(std::optional<std::string> token) {
    client::ConnectOptions options;
    options.token = std::move(token);
    options.token_from_env = false;
    std::unique_ptr<client::PeerClient> peer =
        client::ConnectPeer(UrlOf(*node_, GetParam()), "conformance", options);
    // The scheme picked the transport under test: gRPC keeps the endpoint, HTTP its base URL.
    EXPECT_EQ(peer->endpoint(),
              GetParam() == Kind::kGrpc ? node_->endpoint() : node_->http_endpoint() + "/");
    return peer;
  }

  Uuid HostBlob(std::uint64_t bytes) {
    const SubWorkflowResponse response =
        transport_->InvokeSubWorkflow(Request({"blazen::host_blob"}, {{"bytes", bytes}}));
    EXPECT_EQ(response.remote_refs.size(), 1u);
    return response.remote_refs.empty() ? Uuid() : response.remote_refs.begin()->first;
  }

  static server::PeerNode* node_;
  std::unique_ptr<client::PeerClient> transport_;
};

server::PeerNode* TransportConformanceTest::node_ = nullptr;

TEST_P(TransportConformanceTest, InvokeEchoReturnsTheInput) {
  const json input = {{"hello", "world"}, {"n", 42}, {"list", {1, 2, 3}}};
  const SubWorkflowResponse response =
      transport_->InvokeSubWorkflow(Request({"blazen::echo"}, input));
  EXPECT_EQ(response.envelope_version, kEnvelopeVersion);
  EXPECT_EQ(ResultOf(response), input);
  EXPECT_TRUE(response.remote_refs.empty());
}

TEST_P(TransportConformanceTest, StateIsExported) {
  const SubWorkflowResponse response = transport_->InvokeSubWorkflow(
      Request({"blazen::state_set", "blazen::echo"}, {{"n", 42}, {"s", "x"}}));
  EXPECT_EQ(ResultOf(response), json({{"n", 42}, {"s", "x"}}));
  ASSERT_EQ(response.state_json.count("n"), 1u);
  EXPECT_EQ(ParseJson(response.state_json.at("n")).value(), json(42));
  EXPECT_EQ(ParseJson(response.state_json.at("s")).value(), json("x"));
}

TEST_P(TransportConformanceTest, DefaultWorkflowRunsWithoutStepIds) {
  SubWorkflowRequest request = Request({}, {{"k", 1}});
  request.workflow_name = "echo";
  EXPECT_EQ(ResultOf(transport_->InvokeSubWorkflow(request)), json({{"k", 1}}));
}

TEST_P(TransportConformanceTest, WorkflowFailureIsAResponseNotAnException) {
  const SubWorkflowResponse response =
      transport_->InvokeSubWorkflow(Request({"blazen::fail"}, {{"message", "boom"}}));
  ASSERT_TRUE(response.error.has_value());
  EXPECT_THAT(*response.error, HasSubstr("boom"));
  EXPECT_TRUE(response.remote_refs.empty());
}

TEST_P(TransportConformanceTest, UnknownStepIsUnknownStepError) {
  try {
    (void)transport_->InvokeSubWorkflow(Request({"does_not_exist::step"}, json::object()));
    FAIL() << "no exception";
  } catch (const UnknownStepError& e) {
    EXPECT_EQ(e.code(), StatusCode::kNotFound);
    EXPECT_THAT(e.message(), HasSubstr("unknown step id `does_not_exist::step`"));
  }
}

TEST_P(TransportConformanceTest, NewerEnvelopeIsEnvelopeVersionError) {
  SubWorkflowRequest request = Request({"blazen::echo"}, json::object());
  request.envelope_version = kEnvelopeVersion + 1;
  try {
    (void)transport_->InvokeSubWorkflow(request);
    FAIL() << "no exception";
  } catch (const EnvelopeVersionError& e) {
    EXPECT_EQ(e.code(), StatusCode::kFailedPrecondition);
    EXPECT_THAT(e.message(), HasSubstr("envelope version 2 is newer than supported 1"));
  }
}

TEST_P(TransportConformanceTest, OlderEnvelopeIsAccepted) {
  SubWorkflowRequest request = Request({"blazen::echo"}, json(7));
  request.envelope_version = 0;
  EXPECT_EQ(ResultOf(transport_->InvokeSubWorkflow(request)), json(7));
}

TEST_P(TransportConformanceTest, InputThatIsNotJsonIsInvalidArgumentError) {
  SubWorkflowRequest request = Request({"blazen::echo"}, json::object());
  request.input_json = "{not json";
  try {
    (void)transport_->InvokeSubWorkflow(request);
    FAIL() << "no exception";
  } catch (const InvalidArgumentError& e) {
    EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(e.message(), HasSubstr("invalid input JSON"));
  }
}

TEST_P(TransportConformanceTest, UnknownRefIsNotFound) {
  const Uuid missing = Uuid::NewV4();
  try {
    (void)transport_->DerefSessionRef(missing);
    FAIL() << "no exception";
  } catch (const NotFoundError& e) {
    EXPECT_EQ(e.code(), StatusCode::kNotFound);
    EXPECT_THAT(e.message(), HasSubstr("session ref " + missing.ToString() + " not found"));
  }
  HostBufferSink sink;
  EXPECT_THROW((void)transport_->DerefTo(missing, sink), NotFoundError);
  EXPECT_FALSE(transport_->ReleaseSessionRef(missing));
}

TEST_P(TransportConformanceTest, DerefAndReleaseRoundTrip) {
  const Uuid ref = HostBlob(1000);
  const SubWorkflowResponse described =
      transport_->InvokeSubWorkflow(Request({"blazen::echo"}, json(1)));
  EXPECT_EQ(described.remote_refs.count(ref), 0u) << "another run's ref leaked into remote_refs";
  ExpectHostBlob(transport_->DerefSessionRef(ref), 1000);
  ExpectHostBlob(transport_->DerefSessionRef(ref), 1000);  // a deref does not consume the ref
  EXPECT_TRUE(transport_->ReleaseSessionRef(ref));
  EXPECT_FALSE(transport_->ReleaseSessionRef(ref));
  EXPECT_THROW((void)transport_->DerefSessionRef(ref), NotFoundError);
}

TEST_P(TransportConformanceTest, RemoteRefDescriptorNamesThePeer) {
  const SubWorkflowResponse response =
      transport_->InvokeSubWorkflow(Request({"blazen::host_blob"}, {{"bytes", 10}}));
  ASSERT_EQ(response.remote_refs.size(), 1u);
  const auto& [key, descriptor] = *response.remote_refs.begin();
  EXPECT_EQ(descriptor.origin_node_id, "conformance-peer");
  EXPECT_EQ(descriptor.type_tag, "bytes");
  EXPECT_GT(descriptor.created_at_epoch_ms, 1'600'000'000'000u);
  EXPECT_TRUE(transport_->ReleaseSessionRef(key));
}

TEST_P(TransportConformanceTest, TokenMissingOrWrongIsUnauthenticated) {
  const Uuid ref = HostBlob(16);
  for (const std::optional<std::string>& token :
       {std::optional<std::string>(), std::optional<std::string>("wrong")}) {
    SCOPED_TRACE(token.value_or("(none)"));
    std::unique_ptr<client::PeerClient> other = Make(token);
    try {
      (void)other->InvokeSubWorkflow(Request({"blazen::echo"}, json::object()));
      ADD_FAILURE() << "invoke: no exception";
    } catch (const UnauthenticatedError& e) {
      EXPECT_EQ(e.code(), StatusCode::kUnauthenticated);
    }
    EXPECT_THROW((void)other->DerefSessionRef(ref), UnauthenticatedError);
    HostBufferSink sink;
    EXPECT_THROW((void)other->DerefTo(ref, sink), UnauthenticatedError);
    EXPECT_THROW((void)other->ReleaseSessionRef(ref), UnauthenticatedError);
  }
  // The rejected release did not remove it; the right token does.
  EXPECT_TRUE(transport_->ReleaseSessionRef(ref));
}

TEST_P(TransportConformanceTest, BigRefIsStreamedIntoASink) {
  constexpr std::size_t kSize = (24u << 20) + 12345;  // not a multiple of any chunk size
  const Uuid ref = HostBlob(kSize);
  HostBufferSink sink;
  const DerefResult result = transport_->DerefTo(ref, sink);
  EXPECT_EQ(result.total_size, kSize);
  EXPECT_EQ(result.type_tag, "bytes");
  EXPECT_EQ(sink.type_tag(), "bytes");
  EXPECT_EQ(result.resumes, 0);
  ExpectHostBlob(sink.data(), kSize);
  EXPECT_TRUE(transport_->ReleaseSessionRef(ref));
}

TEST_P(TransportConformanceTest, EmptyRefDerefs) {
  const Uuid ref = HostBlob(0);
  EXPECT_TRUE(transport_->DerefSessionRef(ref).empty());
  HostBufferSink sink;
  EXPECT_EQ(transport_->DerefTo(ref, sink).total_size, 0u);
  EXPECT_TRUE(sink.data().empty());
  EXPECT_TRUE(transport_->ReleaseSessionRef(ref));
}

// Tensor refs are read through the value's reader (device memory on a GPU peer, the host fallback
// here) by the unary and the streamed deref alike.
TEST_P(TransportConformanceTest, TensorRefDerefsAsNpyOverBothPaths) {
  const SubWorkflowResponse response = transport_->InvokeSubWorkflow(
      Request({"blazen::tensor_random"}, {{"shape", {300, 129}}, {"seed", 7}}));
  ASSERT_FALSE(response.error.has_value()) << *response.error;
  ASSERT_EQ(response.remote_refs.size(), 1u);
  const auto& [ref, descriptor] = *response.remote_refs.begin();
  EXPECT_EQ(descriptor.type_tag, "tensor.npy");
  const ByteVector unary = transport_->DerefSessionRef(ref);
  ASSERT_GT(unary.size(), 300u * 129u * 4u);
  EXPECT_EQ(std::string(unary.begin(), unary.begin() + 6), "\x93NUMPY");
  HostBufferSink sink;
  const DerefResult result = transport_->DerefTo(ref, sink);
  EXPECT_EQ(result.type_tag, "tensor.npy");
  EXPECT_EQ(sink.data(), unary);
  EXPECT_TRUE(transport_->ReleaseSessionRef(ref));
}

TEST_P(TransportConformanceTest, EventStreamEndsWithTheFinalResponse) {
  std::vector<SubWorkflowEvent> events;
  const json input = {{"x", 1}};
  const SubWorkflowResponse response = transport_->StreamSubWorkflowEvents(
      Request({"blazen::echo"}, input),
      [&events](const SubWorkflowEvent& e) { events.push_back(e); });
  EXPECT_EQ(ResultOf(response), input);
  ASSERT_GE(events.size(), 2u);
  EXPECT_FALSE(events.front().response.has_value());
  ASSERT_TRUE(events.back().response.has_value());
  EXPECT_EQ(*events.back().response, response);
  EXPECT_EQ(events.back().event_type, "blazen::StopEvent");
}

TEST_P(TransportConformanceTest, EventStreamReportsProtocolErrorsAsExceptions) {
  EXPECT_THROW(
      (void)transport_->StreamSubWorkflowEvents(Request({"does_not_exist::step"}, json::object()),
                                                [](const SubWorkflowEvent&) {}),
      UnknownStepError);
}

TEST_P(TransportConformanceTest, CancelledCallIsCancelledTransportErrorAndStopsTheRun) {
  client::CallOptions call;
  call.cancel = std::make_shared<client::CallCancel>();
  const auto start = std::chrono::steady_clock::now();
  std::thread canceller([&] {
    std::this_thread::sleep_for(300ms);
    call.cancel->Cancel();
  });
  try {
    (void)transport_->InvokeSubWorkflow(Request({"blazen::sleep"}, {{"seconds", 20}}), call);
    ADD_FAILURE() << "a cancelled call returned";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), StatusCode::kCancelled) << e.what();
  }
  canceller.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  // A call made with a cancelled token never starts.
  EXPECT_THROW((void)transport_->InvokeSubWorkflow(Request({"blazen::echo"}, 1), call),
               TransportError);
  EXPECT_EQ(ResultOf(transport_->InvokeSubWorkflow(Request({"blazen::echo"}, 1))), json(1));
}

TEST_P(TransportConformanceTest, CallDeadlineIsDeadlineExceededError) {
  client::CallOptions call;
  call.deadline = 300ms;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(
      (void)transport_->InvokeSubWorkflow(Request({"blazen::sleep"}, {{"seconds", 20}}), call),
      DeadlineExceededError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST_P(TransportConformanceTest, DescribePeerReportsTheSameNodeOverBothTransports) {
  const client::PeerDescription d = transport_->DescribePeer();
  EXPECT_EQ(d.node_id, "conformance-peer");
  EXPECT_EQ(d.envelope_version, kEnvelopeVersion);
  EXPECT_FALSE(d.version.empty());
  EXPECT_THAT(d.step_ids, ::testing::Contains("blazen::echo"));
  bool echo = false;
  for (const auto& w : d.default_workflows) {
    echo = echo ||
           (w.workflow_name == "echo" && w.step_ids == std::vector<std::string>{"blazen::echo"});
  }
  EXPECT_TRUE(echo);
  ASSERT_FALSE(d.devices.empty());
  EXPECT_EQ(d.devices[0].location, "host");
  EXPECT_GT(d.devices[0].total_memory_bytes, 0u);
  // A live ref shows up in the counts.
  const Uuid ref = HostBlob(4096);
  const client::PeerDescription after = transport_->DescribePeer();
  std::uint64_t parent_finish = 0;
  for (const auto& r : after.live_refs) {
    if (r.lifetime == "until_parent_finish" && r.location == "host") parent_finish += r.count;
  }
  EXPECT_GE(parent_finish, 1u);
  EXPECT_TRUE(transport_->ReleaseSessionRef(ref));
}

TEST_P(TransportConformanceTest, ReleaseScopeDropsOneParentRunsRefs) {
  const std::string parent = std::string("scope-") + (GetParam() == Kind::kGrpc ? "grpc" : "http");
  client::CallOptions call;
  call.parent_run_id = parent;
  const SubWorkflowResponse a =
      transport_->InvokeSubWorkflow(Request({"blazen::host_blob"}, {{"bytes", 10}}), call);
  const SubWorkflowResponse b =
      transport_->InvokeSubWorkflow(Request({"blazen::host_blob"}, {{"bytes", 20}}), call);
  const Uuid other = HostBlob(30);  // no parent run id: not in the scope
  ASSERT_EQ(a.remote_refs.size(), 1u);
  ASSERT_EQ(b.remote_refs.size(), 1u);
  EXPECT_EQ(transport_->ReleaseScope(parent), 2u);
  EXPECT_EQ(transport_->ReleaseScope(parent), 0u);
  EXPECT_THROW((void)transport_->DerefSessionRef(a.remote_refs.begin()->first), NotFoundError);
  EXPECT_EQ(transport_->DerefSessionRef(other).size(), 30u);
  EXPECT_TRUE(transport_->ReleaseSessionRef(other));
}

INSTANTIATE_TEST_SUITE_P(Transports, TransportConformanceTest,
                         ::testing::Values(Kind::kGrpc, Kind::kHttp),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return info.param == Kind::kGrpc ? "grpc" : "http";
                         });

}  // namespace
}  // namespace blazen
