// SPDX-License-Identifier: Apache-2.0
// ConnectPeer and the transport registry without a peer: unknown schemes, malformed URLs,
// registration rules, a custom registered transport, how ConnectOptions reaches each transport, and
// PeerClient's non-virtual methods forwarding (defaults included) to the implementation.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/connect.h"
#include "client/deref_sink.h"
#include "client/http_client.h"
#include "client/peer_client.h"
#include "client/peer_client_interface.h"
#include "core/peer_error.h"

namespace blazen::client {
namespace {

using namespace std::chrono_literals;

ConnectOptions NoEnvToken() {
  ConnectOptions options;
  options.token_from_env = false;
  return options;
}

// Expects `connect` to throw TransportError with `code` and a message naming `url`.
template <typename Fn>
void ExpectTransportError(Fn&& connect, StatusCode code, const std::string& url) {
  try {
    (void)connect();
    ADD_FAILURE() << "no exception for '" << url << "'";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(e.message().find(url), std::string::npos) << e.what();
  }
}

// A PeerClient that records what reaches it.
class RecordingClient final : public PeerClient {
 public:
  RecordingClient(std::string url, std::string node_id, ConnectOptions options)
      : url_(std::move(url)), node_id_(std::move(node_id)), options_(std::move(options)) {}

  const std::string& node_id() const override { return node_id_; }
  const std::string& endpoint() const override { return url_; }
  const ConnectOptions& options() const { return options_; }

  std::vector<std::string> calls;
  CallOptions last_call;
  bool last_progress_set = false;

 private:
  SubWorkflowResponse DoInvokeSubWorkflow(const SubWorkflowRequest& request,
                                          const CallOptions& call) override {
    Record("invoke:" + request.workflow_name, call);
    return {};
  }
  SubWorkflowResponse DoStreamSubWorkflowEvents(const SubWorkflowRequest& request,
                                                const std::function<void(const SubWorkflowEvent&)>&,
                                                const CallOptions& call) override {
    Record("stream:" + request.workflow_name, call);
    return {};
  }
  ByteVector DoDerefSessionRef(const Uuid& ref, const CallOptions& call) override {
    Record("deref:" + ref.ToString(), call);
    return {7};
  }
  DerefResult DoDerefTo(const Uuid& ref, DerefSink&,
                        const std::function<void(const DerefProgress&)>& progress,
                        const CallOptions& call) override {
    Record("deref_to:" + ref.ToString(), call);
    last_progress_set = static_cast<bool>(progress);
    return DerefResult{3, "bytes", 1, 0};
  }
  bool DoReleaseSessionRef(const Uuid& ref, const CallOptions& call) override {
    Record("release:" + ref.ToString(), call);
    return true;
  }
  std::uint64_t DoReleaseScope(const std::string& parent_run_id, const CallOptions& call) override {
    Record("release_scope:" + parent_run_id, call);
    return 2;
  }
  PeerDescription DoDescribePeer(const CallOptions& call) override {
    Record("describe", call);
    PeerDescription d;
    d.node_id = "recorded";
    return d;
  }
  void DoWatchHealth(const std::function<void(bool)>& on_change, std::chrono::milliseconds,
                     const CallOptions& call) override {
    Record("watch_health", call);
    on_change(true);
  }

  void Record(std::string what, const CallOptions& call) {
    calls.push_back(std::move(what));
    last_call = call;
  }

  std::string url_;
  std::string node_id_;
  ConnectOptions options_;
};

std::unique_ptr<PeerClient> MakeRecording(const std::string& url, std::string node_id,
                                          const ConnectOptions& options) {
  return std::make_unique<RecordingClient>(url, std::move(node_id), options);
}

TEST(ConnectPeerTest, UnknownSchemeIsAnInvalidArgumentTransportErrorNamingTheUrl) {
  for (const std::string url : {"ftp://x:1", "grpc://127.0.0.1:1", "json+http://127.0.0.1:1",
                                "http+grpc://127.0.0.1:1", "no scheme://x"}) {
    SCOPED_TRACE(url);
    ExpectTransportError([&] { return ConnectPeer(url, "parent", NoEnvToken()); },
                         StatusCode::kInvalidArgument, url);
  }
}

TEST(ConnectPeerTest, MalformedUrlsAreInvalidArgumentTransportErrors) {
  // The scheme is known; the transport refuses the rest of the URL before any I/O.
  for (const std::string url : {"", "host", "no port here", "http://host:99999", "https://",
                                "http+json://", "https+json://h:1/x?query", "http+json://u@h:1"}) {
    SCOPED_TRACE(url);
    try {
      (void)ConnectPeer(url, "parent", NoEnvToken());
      ADD_FAILURE() << "accepted '" << url << "'";
    } catch (const TransportError& e) {
      EXPECT_EQ(e.code(), StatusCode::kInvalidArgument) << e.what();
    }
  }
}

TEST(ConnectPeerTest, TlsOptionsWithAPlaintextUrlAreRefusedByBothTransports) {
  ConnectOptions options = NoEnvToken();
  options.tls = ClientTlsConfig{};
  for (const std::string url : {"http://127.0.0.1:1", "http+json://127.0.0.1:1"}) {
    SCOPED_TRACE(url);
    try {
      (void)ConnectPeer(url, "parent", options);
      ADD_FAILURE() << "accepted TLS options with '" << url << "'";
    } catch (const TransportError& e) {
      EXPECT_EQ(e.code(), StatusCode::kInvalidArgument) << e.what();
    }
  }
}

TEST(ConnectPeerTest, NodeIdThatCannotTravelIsInvalidArgumentOverBothTransports) {
  for (const std::string url : {"http://127.0.0.1:1", "http+json://127.0.0.1:1"}) {
    SCOPED_TRACE(url);
    EXPECT_THROW((void)ConnectPeer(url, "bad\nnode", NoEnvToken()), InvalidArgumentError);
  }
}

TEST(ConnectPeerTest, HttpJsonSchemesMakeAnHttpClientOnTheRewrittenUrl) {
  // NewHttp does no I/O, so this needs no peer.
  for (const auto& [url, base] : std::vector<std::pair<std::string, std::string>>{
           {"http+json://127.0.0.1:1", "http://127.0.0.1:1"},
           {"https+json://127.0.0.1:1/prefix/", "https://127.0.0.1:1/prefix/"},
           {"HTTP+JSON://127.0.0.1:1", "http://127.0.0.1:1"}}) {
    SCOPED_TRACE(url);
    std::unique_ptr<PeerClient> client = ConnectPeer(url, "parent", NoEnvToken());
    auto* http = dynamic_cast<HttpPeerClient*>(client.get());
    ASSERT_NE(http, nullptr);
    EXPECT_EQ(client->endpoint(), base);
    EXPECT_EQ(http->base_url(), base);
    EXPECT_EQ(client->node_id(), "parent");
  }
}

TEST(ConnectPeerTest, GrpcSchemesGoToTheGrpcClient) {
  // With nobody listening, only the gRPC client fails at connect time (HTTP connects per call):
  // the eager-connect error shows which transport the scheme chose.
  ConnectOptions options = NoEnvToken();
  options.connect_timeout = 2s;
  for (const std::string url : {"http://127.0.0.1:1", "127.0.0.1:1"}) {
    SCOPED_TRACE(url);
    ExpectTransportError([&] { return ConnectPeer(url, "parent", options); },
                         StatusCode::kUnavailable, url);
  }
}

TEST(ConnectPeerTest, BuiltinRegistryKnowsTheFiveSchemes) {
  PeerTransportRegistry registry;
  EXPECT_TRUE(registry.schemes().empty());
  RegisterBuiltinPeerTransports(registry);
  EXPECT_EQ(registry.schemes(),
            (std::vector<std::string>{"", "http", "http+json", "https", "https+json"}));
  EXPECT_GE(DefaultPeerTransportRegistry().schemes().size(), 5u);
}

TEST(ConnectPeerTest, EmptyRegistryRefusesEveryUrl) {
  const PeerTransportRegistry registry;
  ExpectTransportError([&] { return registry.Connect("http://127.0.0.1:1", "p", NoEnvToken()); },
                       StatusCode::kInvalidArgument, "http://127.0.0.1:1");
  ExpectTransportError([&] { return registry.Connect("127.0.0.1:1", "p", NoEnvToken()); },
                       StatusCode::kInvalidArgument, "127.0.0.1:1");
}

TEST(ConnectPeerTest, RegisteredSchemeIsUsedWithTheWholeUrlNodeIdAndOptions) {
  PeerTransportRegistry registry;
  RegisterBuiltinPeerTransports(registry);
  registry.Register("pool+static", MakeRecording);
  ConnectOptions options = NoEnvToken();
  options.token = "secret";
  options.parallel_streams = 3;
  for (const std::string url : {"pool+static://a:1,b:2", "POOL+Static://a:1"}) {
    SCOPED_TRACE(url);
    std::unique_ptr<PeerClient> client = registry.Connect(url, "parent", options);
    auto* recording = dynamic_cast<RecordingClient*>(client.get());
    ASSERT_NE(recording, nullptr);
    EXPECT_EQ(recording->endpoint(), url);
    EXPECT_EQ(recording->node_id(), "parent");
    EXPECT_EQ(recording->options().token, std::optional<std::string>("secret"));
    EXPECT_EQ(recording->options().parallel_streams, 3u);
  }
  // The built-ins are still there and the custom scheme does not leak into other registries.
  EXPECT_NE(dynamic_cast<HttpPeerClient*>(
                registry.Connect("http+json://127.0.0.1:1", "p", NoEnvToken()).get()),
            nullptr);
  PeerTransportRegistry other;
  RegisterBuiltinPeerTransports(other);
  EXPECT_THROW((void)other.Connect("pool+static://a:1", "p", NoEnvToken()), TransportError);
}

TEST(ConnectPeerTest, RegisterPeerTransportExtendsConnectPeer) {
  // A scheme of its own per run, so that --gtest_repeat does not register it twice.
  static std::atomic<int> run{0};
  const std::string scheme = "test-transport" + std::to_string(run.fetch_add(1));
  const std::string url = scheme + "://anywhere";
  EXPECT_THROW((void)ConnectPeer(url, "parent", NoEnvToken()), TransportError);
  RegisterPeerTransport(scheme, MakeRecording);
  std::unique_ptr<PeerClient> client = ConnectPeer(url, "parent", NoEnvToken());
  ASSERT_NE(dynamic_cast<RecordingClient*>(client.get()), nullptr);
  EXPECT_EQ(client->endpoint(), url);
}

TEST(ConnectPeerTest, RegistrationRulesAreEnforced) {
  PeerTransportRegistry registry;
  RegisterBuiltinPeerTransports(registry);
  for (const char* taken : {"http", "HTTPS", "http+json", ""}) {
    SCOPED_TRACE(taken);
    try {
      registry.Register(taken, MakeRecording);
      ADD_FAILURE() << "replaced '" << taken << "'";
    } catch (const TransportError& e) {
      EXPECT_EQ(e.code(), StatusCode::kAlreadyExists);
    }
  }
  for (const char* bad : {"1abc", "a b", "x://", "+json"}) {
    SCOPED_TRACE(bad);
    try {
      registry.Register(bad, MakeRecording);
      ADD_FAILURE() << "registered '" << bad << "'";
    } catch (const TransportError& e) {
      EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
    }
  }
  try {
    registry.Register("no-factory", PeerTransportFactory());
    ADD_FAILURE() << "registered an empty factory";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
  }
  // A failed registration leaves the registry as it was.
  EXPECT_EQ(registry.schemes().size(), 5u);
}

TEST(ConnectPeerTest, FactoryThatMakesNoClientIsAnInternalTransportError) {
  PeerTransportRegistry registry;
  registry.Register("null", [](const std::string&, std::string, const ConnectOptions&) {
    return std::unique_ptr<PeerClient>();
  });
  try {
    (void)registry.Connect("null://x", "p", NoEnvToken());
    ADD_FAILURE() << "no exception";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), StatusCode::kInternal);
  }
}

TEST(ConnectOptionsTest, DefaultsAreEachTransportsDefaults) {
  const ClientOptions grpc = ToClientOptions(ConnectOptions{});
  const ClientOptions grpc_default;
  EXPECT_FALSE(grpc.tls.has_value());
  EXPECT_FALSE(grpc.token.has_value());
  EXPECT_EQ(grpc.token_from_env, grpc_default.token_from_env);
  EXPECT_FALSE(grpc.parent_run_id.has_value());
  EXPECT_EQ(grpc.connect_timeout, grpc_default.connect_timeout);
  EXPECT_EQ(grpc.default_deadline, grpc_default.default_deadline);
  EXPECT_EQ(grpc.chunk_bytes, grpc_default.chunk_bytes);
  EXPECT_EQ(grpc.parallel_streams, grpc_default.parallel_streams);
  EXPECT_EQ(grpc.parallel_threshold_bytes, grpc_default.parallel_threshold_bytes);
  EXPECT_EQ(grpc.max_resume_attempts, grpc_default.max_resume_attempts);

  const HttpClientOptions http = ToHttpClientOptions(ConnectOptions{});
  const HttpClientOptions http_default;
  EXPECT_FALSE(http.tls.has_value());
  EXPECT_FALSE(http.token.has_value());
  EXPECT_EQ(http.token_from_env, http_default.token_from_env);
  EXPECT_FALSE(http.parent_run_id.has_value());
  EXPECT_EQ(http.connect_timeout, http_default.connect_timeout);
  EXPECT_EQ(http.read_timeout, http_default.read_timeout);
  EXPECT_EQ(http.max_resume_attempts, http_default.max_resume_attempts);
}

TEST(ConnectOptionsTest, EverySettingReachesTheTransportsThatReadIt) {
  ConnectOptions options;
  options.tls = ClientTlsConfig{};
  options.tls->ca_pem = "ca";
  options.token = "tok";
  options.token_from_env = false;
  options.parent_run_id = "run";
  options.connect_timeout = 1234ms;
  options.max_resume_attempts = 9;
  options.default_deadline = 5678ms;
  options.chunk_bytes = 4096;
  options.parallel_streams = 6;
  options.parallel_threshold_bytes = 77;
  options.read_timeout = 4321ms;

  const ClientOptions grpc = ToClientOptions(options);
  ASSERT_TRUE(grpc.tls.has_value());
  EXPECT_EQ(grpc.tls->ca_pem, "ca");
  EXPECT_EQ(grpc.token, options.token);
  EXPECT_FALSE(grpc.token_from_env);
  EXPECT_EQ(grpc.parent_run_id, options.parent_run_id);
  EXPECT_EQ(grpc.connect_timeout, 1234ms);
  EXPECT_EQ(grpc.max_resume_attempts, 9);
  EXPECT_EQ(grpc.default_deadline, 5678ms);
  EXPECT_EQ(grpc.chunk_bytes, 4096u);
  EXPECT_EQ(grpc.parallel_streams, 6u);
  EXPECT_EQ(grpc.parallel_threshold_bytes, 77u);

  const HttpClientOptions http = ToHttpClientOptions(options);
  ASSERT_TRUE(http.tls.has_value());
  EXPECT_EQ(http.tls->ca_pem, "ca");
  EXPECT_EQ(http.token, options.token);
  EXPECT_FALSE(http.token_from_env);
  EXPECT_EQ(http.parent_run_id, options.parent_run_id);
  EXPECT_EQ(http.connect_timeout, 1234ms);
  EXPECT_EQ(http.max_resume_attempts, 9);
  EXPECT_EQ(http.read_timeout, 4321ms);
}

TEST(PeerClientInterfaceTest, PublicMethodsForwardToTheImplementationWithTheirDefaults) {
  RecordingClient recording("url", "node", ConnectOptions{});
  PeerClient& client = recording;
  const Uuid ref = Uuid::NewV4();
  SubWorkflowRequest request;
  request.workflow_name = "wf";
  HostBufferSink sink;

  (void)client.InvokeSubWorkflow(request);
  (void)client.StreamSubWorkflowEvents(request, [](const SubWorkflowEvent&) {});
  EXPECT_EQ(client.DerefSessionRef(ref), ByteVector{7});
  EXPECT_EQ(client.DerefTo(ref, sink).total_size, 3u);
  EXPECT_FALSE(recording.last_progress_set);
  EXPECT_TRUE(client.ReleaseSessionRef(ref));
  EXPECT_EQ(client.ReleaseScope("parent"), 2u);
  EXPECT_EQ(client.DescribePeer().node_id, "recorded");
  EXPECT_FALSE(recording.last_call.deadline.has_value());
  EXPECT_FALSE(recording.last_call.parent_run_id.has_value());
  EXPECT_EQ(recording.last_call.cancel, nullptr);

  CallOptions call;
  call.deadline = 250ms;
  call.parent_run_id = "p";
  (void)client.DerefTo(
      ref, sink, [](const DerefProgress&) {}, call);
  EXPECT_TRUE(recording.last_progress_set);
  EXPECT_EQ(recording.last_call.deadline, std::optional(250ms));
  EXPECT_EQ(recording.last_call.parent_run_id, std::optional<std::string>("p"));

  EXPECT_EQ(
      recording.calls,
      (std::vector<std::string>{"invoke:wf", "stream:wf", "deref:" + ref.ToString(),
                                "deref_to:" + ref.ToString(), "release:" + ref.ToString(),
                                "release_scope:parent", "describe", "deref_to:" + ref.ToString()}));
}

}  // namespace
}  // namespace blazen::client
