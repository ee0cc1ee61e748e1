// SPDX-License-Identifier: Apache-2.0
// BlazenPeerClient end to end against an in-process PeerNode on 127.0.0.1:0: invoke, events,
// error types, deref (unary, streamed into host memory and files, parallel), release, concurrency,
// deadlines, token auth and mutual TLS.

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

#include "client/peer_client.h"
#include "core/builtin_steps.h"
#include "core/json_codec.h"
#include "core/peer_error.h"
#include "core/tls.h"
#include "server/peer_node.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace blazen::client {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr std::uint64_t kMiB = 1 << 20;

std::unique_ptr<server::PeerNode> StartNode(server::PeerNodeOptions options = {}) {
  options.listen_address = "127.0.0.1:0";
  options.node_id = "client-e2e-peer";
  Result<std::unique_ptr<server::PeerNode>> node = server::PeerNode::Start(std::move(options));
  EXPECT_TRUE(node.ok()) << node.status();
  return node.ok() ? std::move(node).value() : nullptr;
}

ClientOptions Options() {
  ClientOptions options;
  options.token_from_env = false;
  options.default_deadline = 60s;  // a hung test fails instead of hanging
  return options;
}

SubWorkflowRequest Request(std::vector<std::string> steps, const json& input) {
  return MakeSubWorkflowRequest("wf", std::move(steps), input, 30).value();
}

json ResultOf(const SubWorkflowResponse& response) {
  EXPECT_FALSE(response.error.has_value()) << *response.error;
  EXPECT_TRUE(response.result_json.has_value());
  return json::parse(response.result_json.value_or("null"));
}

bool IsHostBlob(const std::vector<std::uint8_t>& bytes) {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != HostBlobByte(i)) {
      ADD_FAILURE() << "byte " << i << " is " << int{bytes[i]} << ", expected "
                    << int{HostBlobByte(i)};
      return false;
    }
  }
  return true;
}

std::filesystem::path TempPath(const std::string& name) {
  const char* base = std::getenv("BLAZEN_TEST_TMPDIR");
  std::filesystem::path dir =
      std::filesystem::path(base ? base : std::filesystem::temp_directory_path().string()) /
      ("client-e2e-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir / name;
}

// A sink whose Write fails from the n-th call on, recording what it saw.
class FailingSink final : public DerefSink {
 public:
  explicit FailingSink(int fail_at) : fail_at_(fail_at) {}
  Status Begin(std::uint64_t, std::string_view) override {
    ++begins;
    return Status::Ok();
  }
  Status Write(std::uint64_t, std::span<const std::uint8_t>) override {
    if (writes.fetch_add(1) + 1 >= fail_at_) return Status::ResourceExhausted("sink is full");
    return Status::Ok();
  }
  Status Finish() override {
    ++finishes;
    return Status::Ok();
  }
  std::atomic<int> begins{0};
  std::atomic<int> writes{0};
  std::atomic<int> finishes{0};

 private:
  const int fail_at_;
};

class PeerClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    spdlog::set_level(spdlog::level::warn);  // the peer logs every call at info
    node_ = StartNode().release();
  }
  static void TearDownTestSuite() {
    if (node_ != nullptr) node_->Shutdown(0ms);
    delete node_;
    node_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(node_, nullptr);
    client_ = BlazenPeerClient::Connect(node_->endpoint(), "parent-node", Options());
  }

  // Creates a host ref of `bytes` bytes on the peer and returns its key.
  Uuid HostBlob(std::uint64_t bytes, const std::string& lifetime = "until_parent_finish",
                const CallOptions& call = {}) {
    const SubWorkflowResponse response = client_->InvokeSubWorkflow(
        Request({"blazen::host_blob"}, {{"bytes", bytes}, {"lifetime", lifetime}}), call);
    const json result = ResultOf(response);
    Result<Uuid> key = Uuid::Parse(result.value("ref", std::string()));
    EXPECT_TRUE(key.ok()) << result.dump();
    return key.ok() ? *key : Uuid();
  }

  static server::PeerNode* node_;
  std::unique_ptr<BlazenPeerClient> client_;
};

server::PeerNode* PeerClientTest::node_ = nullptr;

TEST_F(PeerClientTest, EchoRoundTrip) {
  EXPECT_EQ(client_->node_id(), "parent-node");
  EXPECT_EQ(client_->endpoint(), node_->endpoint());
  const json input = {{"text", "hello"}, {"n", 42}, {"list", {1, 2, 3}}};
  const SubWorkflowResponse response = client_->InvokeSubWorkflow(Request({"blazen::echo"}, input));
  EXPECT_EQ(response.envelope_version, kEnvelopeVersion);
  EXPECT_EQ(ResultOf(response), input);
}

TEST_F(PeerClientTest, WorkflowFailureComesBackInTheResponseNotAsAnException) {
  const SubWorkflowResponse response =
      client_->InvokeSubWorkflow(Request({"blazen::fail"}, {{"message", "boom"}}));
  ASSERT_TRUE(response.error.has_value());
  EXPECT_THAT(*response.error, HasSubstr("boom"));
}

TEST_F(PeerClientTest, UnknownStepIsUnknownStepErrorWithTheUpstreamText) {
  try {
    (void)client_->InvokeSubWorkflow(Request({"does_not_exist::step"}, json::object()));
    FAIL() << "no exception";
  } catch (const UnknownStepError& e) {
    EXPECT_EQ(e.code(), StatusCode::kNotFound);
    EXPECT_THAT(e.message(), HasSubstr("unknown step id `does_not_exist::step`"));
  }
}

TEST_F(PeerClientTest, InputThatIsNotJsonIsInvalidArgumentError) {
  SubWorkflowRequest request = Request({"blazen::echo"}, json::object());
  request.input_json = "{not json";
  EXPECT_THROW((void)client_->InvokeSubWorkflow(request), InvalidArgumentError);
}

TEST_F(PeerClientTest, UnknownRefIsNotFoundErrorNotTransportError) {
  const Uuid missing = Uuid::NewV4();
  for (int variant = 0; variant < 2; ++variant) {
    try {
      if (variant == 0) {
        (void)client_->DerefSessionRef(missing);
      } else {
        HostBufferSink sink;
        (void)client_->DerefTo(missing, sink);
      }
      ADD_FAILURE() << "no exception (variant " << variant << ")";
    } catch (const TransportError& e) {
      ADD_FAILURE() << "TransportError instead of NotFoundError: " << e.what();
    } catch (const NotFoundError& e) {
      EXPECT_EQ(e.code(), StatusCode::kNotFound);
      EXPECT_THAT(e.message(), HasSubstr(missing.ToString()));
    }
  }
}

TEST_F(PeerClientTest, ReleaseReportsTrueThenFalse) {
  const Uuid ref = HostBlob(1000);
  EXPECT_TRUE(client_->ReleaseSessionRef(ref));
  EXPECT_FALSE(client_->ReleaseSessionRef(ref));
  EXPECT_THROW((void)client_->DerefSessionRef(ref), NotFoundError);
}

TEST_F(PeerClientTest, HostBlobDerefedUnary) {
  // 5 MiB: past the 4 MiB receive limit that caps upstream clients.
  const Uuid ref = HostBlob(5 * kMiB);
  const ByteVector bytes = client_->DerefSessionRef(ref);
  ASSERT_EQ(bytes.size(), 5 * kMiB);
  EXPECT_TRUE(IsHostBlob(bytes));
  EXPECT_TRUE(client_->ReleaseSessionRef(ref));
}

TEST_F(PeerClientTest, HostBlobStreamedIntoHostBuffer) {
  const Uuid ref = HostBlob(3 * kMiB);
  HostBufferSink sink;
  std::vector<DerefProgress> seen;
  const DerefResult result =
      client_->DerefTo(ref, sink, [&](const DerefProgress& p) { seen.push_back(p); });
  EXPECT_EQ(result.total_size, 3 * kMiB);
  EXPECT_EQ(result.type_tag, "bytes");
  EXPECT_EQ(result.streams, 1);  // below the 64 MiB default threshold
  EXPECT_EQ(result.resumes, 0);
  EXPECT_EQ(sink.type_tag(), "bytes");
  ASSERT_EQ(sink.data().size(), 3 * kMiB);
  EXPECT_TRUE(IsHostBlob(sink.data()));
  ASSERT_FALSE(seen.empty());
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i].received, seen[i - 1].received);
  EXPECT_EQ(seen.back().received, 3 * kMiB);
  EXPECT_EQ(seen.back().total, 3 * kMiB);
  EXPECT_TRUE(client_->ReleaseSessionRef(ref));
}

TEST_F(PeerClientTest, HostBlobStreamedIntoFile) {
  const Uuid ref = HostBlob(3 * kMiB + 17);
  const std::filesystem::path path = TempPath("blob.bin");
  FileSink sink(path.string());
  const DerefResult result = client_->DerefTo(ref, sink);
  EXPECT_EQ(result.total_size, 3 * kMiB + 17);
  std::ifstream in(path, std::ios::binary);
  const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
  ASSERT_EQ(bytes.size(), 3 * kMiB + 17);
  EXPECT_TRUE(IsHostBlob(bytes));
  std::filesystem::remove(path);
  EXPECT_TRUE(client_->ReleaseSessionRef(ref));
}

TEST_F(PeerClientTest, ParallelRangesOnSeparateConnections) {
  ClientOptions options = Options();
  options.parallel_threshold_bytes = kMiB;
  options.parallel_streams = 4;
  options.chunk_bytes = 64 * 1024;
  auto client = BlazenPeerClient::Connect(node_->endpoint(), "parent-node", options);
  const Uuid ref = HostBlob(3 * kMiB);
  for (int round = 0; round < 2; ++round) {  // the second round reuses the cached connections
    HostBufferSink sink;
    std::uint64_t last = 0;
    std::atomic<int> in_callback{0};
    const DerefResult result = client->DerefTo(ref, sink, [&](const DerefProgress& p) {
      EXPECT_EQ(in_callback.fetch_add(1), 0) << "progress called concurrently";
      EXPECT_GT(p.received, last);
      last = p.received;
      in_callback.fetch_sub(1);
    });
    EXPECT_EQ(result.streams, 4);
    EXPECT_EQ(result.total_size, 3 * kMiB);
    EXPECT_EQ(last, 3 * kMiB);
    ASSERT_EQ(sink.data().size(), 3 * kMiB);
    EXPECT_TRUE(IsHostBlob(sink.data()));
  }
  // Parallel into a file: pwrite at each range's offsets.
  const std::filesystem::path path = TempPath("parallel.bin");
  FileSink file(path.string());
  EXPECT_EQ(client->DerefTo(ref, file).streams, 4);
  std::ifstream in(path, std::ios::binary);
  const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
  ASSERT_EQ(bytes.size(), 3 * kMiB);
  EXPECT_TRUE(IsHostBlob(bytes));
  std::filesystem::remove(path);
  EXPECT_TRUE(client->ReleaseSessionRef(ref));
}

TEST_F(PeerClientTest, EmptyPayloadDerefs) {
  const Uuid ref = HostBlob(0);
  HostBufferSink sink;
  const DerefResult result = client_->DerefTo(ref, sink);
  EXPECT_EQ(result.total_size, 0u);
  EXPECT_TRUE(sink.data().empty());
  EXPECT_TRUE(client_->DerefSessionRef(ref).empty());
  EXPECT_TRUE(client_->ReleaseSessionRef(ref));
}

TEST_F(PeerClientTest, SinkFailureAbortsTheDerefWithTheSinksError) {
  const Uuid ref = HostBlob(3 * kMiB);
  for (std::size_t streams : {std::size_t{1}, std::size_t{4}}) {
    ClientOptions options = Options();
    options.parallel_threshold_bytes = kMiB;
    options.parallel_streams = streams;
    options.chunk_bytes = 64 * 1024;
    auto client = BlazenPeerClient::Connect(node_->endpoint(), "parent-node", options);
    FailingSink sink(/*fail_at=*/3);
    EXPECT_THROW(client->DerefTo(ref, sink), ResourceExhaustedError) << streams;
    EXPECT_EQ(sink.begins.load(), 1);
    EXPECT_EQ(sink.finishes.load(), 0);
  }
  EXPECT_TRUE(client_->ReleaseSessionRef(ref));
}

TEST_F(PeerClientTest, ProgressCallbackExceptionPropagates) {
  const Uuid ref = HostBlob(2 * kMiB);
  HostBufferSink sink;
  struct Stop : std::runtime_error {
    Stop() : std::runtime_error("stop") {}
  };
  EXPECT_THROW(client_->DerefTo(ref, sink, [](const DerefProgress&) { throw Stop(); }), Stop);
  // The client is still usable afterwards.
  EXPECT_TRUE(client_->ReleaseSessionRef(ref));
}

TEST_F(PeerClientTest, EventsStreamEndsWithTheFinalResponse) {
  std::vector<SubWorkflowEvent> events;
  const json input = {{"x", 1}};
  const SubWorkflowResponse response = client_->StreamSubWorkflowEvents(
      Request({"blazen::echo"}, input),
      [&](const SubWorkflowEvent& event) { events.push_back(event); });
  EXPECT_EQ(ResultOf(response), input);
  ASSERT_FALSE(events.empty());
  ASSERT_TRUE(events.back().response.has_value());
  EXPECT_EQ(*events.back().response, response);
}

TEST_F(PeerClientTest, EventCallbackExceptionCancelsAndPropagates) {
  struct Stop : std::runtime_error {
    Stop() : std::runtime_error("stop") {}
  };
  EXPECT_THROW(
      (void)client_->StreamSubWorkflowEvents(Request({"blazen::echo"}, json::object()),
                                             [](const SubWorkflowEvent&) { throw Stop(); }),
      Stop);
}

TEST_F(PeerClientTest, DescribePeer) {
  const PeerDescription description = client_->DescribePeer();
  EXPECT_EQ(description.node_id, "client-e2e-peer");
  EXPECT_EQ(description.envelope_version, kEnvelopeVersion);
  EXPECT_NE(std::find(description.step_ids.begin(), description.step_ids.end(), "blazen::echo"),
            description.step_ids.end());
  EXPECT_FALSE(description.version.empty());
}

TEST_F(PeerClientTest, ReleaseScopeDropsTheParentRunsRefs) {
  CallOptions call;
  call.parent_run_id = "run-scope-1";
  const Uuid a = HostBlob(100, "until_parent_finish", call);
  const Uuid b = HostBlob(100, "until_parent_finish", call);
  const Uuid other = HostBlob(100, "until_parent_finish");
  EXPECT_EQ(client_->ReleaseScope("run-scope-1"), 2u);
  EXPECT_THROW((void)client_->DerefSessionRef(a), NotFoundError);
  EXPECT_THROW((void)client_->DerefSessionRef(b), NotFoundError);
  EXPECT_EQ(client_->DerefSessionRef(other).size(), 100u);
  EXPECT_EQ(client_->ReleaseScope("run-scope-1"), 0u);
  EXPECT_TRUE(client_->ReleaseSessionRef(other));
}

TEST_F(PeerClientTest, ManyConcurrentCallsOnOneClient) {
  constexpr int kThreads = 16;
  constexpr int kCalls = 64;
  std::atomic<int> next{0};
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = next.fetch_add(1); i < kCalls; i = next.fetch_add(1)) {
        try {
          const json input = {{"call", i}};
          const SubWorkflowResponse response =
              client_->InvokeSubWorkflow(Request({"blazen::echo"}, input));
          if (response.result_json.has_value() && json::parse(*response.result_json) == input) {
            ok.fetch_add(1);
          }
        } catch (const std::exception& e) {
          ADD_FAILURE() << "call " << i << ": " << e.what();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), kCalls);
}

TEST_F(PeerClientTest, ConcurrentCallsOverlapInsteadOfQueueing) {
  // Upstream serializes calls on one client; here 8 one-second sleeps on one client take about a
  // second, not eight.
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      EXPECT_NO_THROW(
          (void)client_->InvokeSubWorkflow(Request({"blazen::sleep"}, {{"seconds", 1}})));
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(PeerClientTest, DeadlineIsDeadlineExceededError) {
  CallOptions call;
  call.deadline = 200ms;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(
      (void)client_->InvokeSubWorkflow(Request({"blazen::sleep"}, {{"seconds", 10}}), call),
      DeadlineExceededError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(PeerClientTest, CallCancelStopsCallsInFlightAndLaterOnes) {
  CallOptions call;
  call.cancel = std::make_shared<CallCancel>();
  const auto start = std::chrono::steady_clock::now();
  std::thread canceller([&] {
    std::this_thread::sleep_for(200ms);
    call.cancel->Cancel();
  });
  try {
    (void)client_->InvokeSubWorkflow(Request({"blazen::sleep"}, {{"seconds", 20}}), call);
    ADD_FAILURE() << "a cancelled call returned";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), StatusCode::kCancelled) << e.what();
  }
  canceller.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_TRUE(call.cancel->cancelled());
  // Already cancelled: a new call never reaches the peer; one without the token still works.
  EXPECT_THROW((void)client_->InvokeSubWorkflow(Request({"blazen::echo"}, 1), call),
               TransportError);
  EXPECT_EQ(ResultOf(client_->InvokeSubWorkflow(Request({"blazen::echo"}, 1))), json(1));
  // The peer's run saw the cancellation and ended.
  for (int i = 0; i < 500 && node_->engine().active_runs() != 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(node_->engine().active_runs(), 0u);
}

TEST(PeerClientTokenTest, TokenIsRequiredAndChecked) {
  server::PeerNodeOptions options;
  options.token = "s3cret-token";
  std::unique_ptr<server::PeerNode> node = StartNode(std::move(options));
  ASSERT_NE(node, nullptr);
  const SubWorkflowRequest request = Request({"blazen::echo"}, {{"a", 1}});

  auto anonymous = BlazenPeerClient::Connect(node->endpoint(), "parent", Options());
  EXPECT_THROW((void)anonymous->InvokeSubWorkflow(request), UnauthenticatedError);
  EXPECT_THROW((void)anonymous->DerefSessionRef(Uuid::NewV4()), UnauthenticatedError);
  HostBufferSink sink;
  EXPECT_THROW((void)anonymous->DerefTo(Uuid::NewV4(), sink), UnauthenticatedError);
  EXPECT_THROW((void)anonymous->ReleaseSessionRef(Uuid::NewV4()), UnauthenticatedError);

  ClientOptions wrong = Options();
  wrong.token = "not-the-token";
  auto impostor = BlazenPeerClient::Connect(node->endpoint(), "parent", wrong);
  EXPECT_THROW((void)impostor->InvokeSubWorkflow(request), UnauthenticatedError);

  ClientOptions right = Options();
  right.token = "s3cret-token";
  auto trusted = BlazenPeerClient::Connect(node->endpoint(), "parent", right);
  EXPECT_EQ(ResultOf(trusted->InvokeSubWorkflow(request)), json({{"a", 1}}));
  EXPECT_FALSE(trusted->ReleaseSessionRef(Uuid::NewV4()));
  node->Shutdown(0ms);
}

TEST(PeerClientTokenTest, TokenFromTheEnvironment) {
  server::PeerNodeOptions options;
  options.token = "env-token";
  std::unique_ptr<server::PeerNode> node = StartNode(std::move(options));
  ASSERT_NE(node, nullptr);
  ClientOptions from_env;
  from_env.default_deadline = 60s;  // token_from_env stays true
  ::setenv("BLAZEN_PEER_TOKEN", "env-token", 1);
  auto client = BlazenPeerClient::Connect(node->endpoint(), "parent", from_env);
  ::unsetenv("BLAZEN_PEER_TOKEN");
  EXPECT_NO_THROW((void)client->InvokeSubWorkflow(Request({"blazen::echo"}, json::object())));
  node->Shutdown(0ms);
}

TEST(PeerClientTlsTest, MutualTlsWithHttpsEndpoint) {
  blazen::testing::TestPki pki;
  if (!pki.error().empty()) GTEST_SKIP() << "cannot generate test certificates: " << pki.error();
  Result<ServerTlsConfig> server_tls =
      LoadServerTls(pki.Path("server.pem"), pki.Path("server.key"), pki.Path("ca.pem"));
  ASSERT_TRUE(server_tls.ok()) << server_tls.status();
  server::PeerNodeOptions options;
  options.tls = *server_tls;
  std::unique_ptr<server::PeerNode> node = StartNode(std::move(options));
  ASSERT_NE(node, nullptr);
  const std::string endpoint = "https://127.0.0.1:" + std::to_string(node->port());

  Result<ClientTlsConfig> client_tls =
      LoadClientTls(pki.Path("client.pem"), pki.Path("client.key"), pki.Path("ca.pem"));
  ASSERT_TRUE(client_tls.ok()) << client_tls.status();
  ClientOptions trusted = Options();
  trusted.tls = *client_tls;
  auto client = BlazenPeerClient::Connect(endpoint, "parent", trusted);
  EXPECT_EQ(ResultOf(client->InvokeSubWorkflow(Request({"blazen::echo"}, {{"tls", true}}))),
            json({{"tls", true}}));

  // A client certificate from another CA is refused (at the handshake or on the first call).
  Result<ClientTlsConfig> other =
      LoadClientTls(pki.Path("other-client.pem"), pki.Path("other-client.key"), pki.Path("ca.pem"));
  ASSERT_TRUE(other.ok()) << other.status();
  ClientOptions untrusted = Options();
  untrusted.tls = *other;
  untrusted.connect_timeout = 3s;
  EXPECT_THROW(
      {
        auto rejected = BlazenPeerClient::Connect(endpoint, "parent", untrusted);
        (void)rejected->InvokeSubWorkflow(Request({"blazen::echo"}, json::object()));
      },
      PeerError);

  // Plaintext against a TLS peer fails to connect.
  ClientOptions plaintext = Options();
  plaintext.connect_timeout = 3s;
  EXPECT_THROW(BlazenPeerClient::Connect("http://127.0.0.1:" + std::to_string(node->port()),
                                         "parent", plaintext),
               TransportError);
  node->Shutdown(0ms);
}

}  // namespace
}  // namespace blazen::client
