// SPDX-License-Identifier: Apache-2.0
// HttpPeerClient against a scripted HTTP server: URL handling and no I/O before the first call,
// the request it sends, error mapping for our and for upstream-style error bodies, a response with
// a newer envelope, and DerefTo resuming with Range after the stream breaks.

#include "client/http_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "client/deref_sink.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/peer_error.h"

namespace blazen::client {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::uint8_t PatternByte(std::uint64_t i) { return static_cast<std::uint8_t>((i * 7 + 3) % 256); }

// An httplib server on 127.0.0.1 with routes set by each test.
class ScriptedServer {
 public:
  ScriptedServer() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~ScriptedServer() {
    server_.stop();
    thread_.join();
  }
  httplib::Server& server() { return server_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

SubWorkflowRequest EchoRequest() {
  return MakeSubWorkflowRequest("wf", {"blazen::echo"}, 1, 30).value();
}

TEST(HttpClientTest, NewHttpValidatesTheUrlAndDoesNoIo) {
  EXPECT_THROW((void)HttpPeerClient::NewHttp("ftp://x:1", "n"), TransportError);
  EXPECT_THROW((void)HttpPeerClient::NewHttp("127.0.0.1:80", "n"), TransportError);
  EXPECT_THROW((void)HttpPeerClient::NewHttp("http://:80", "n"), TransportError);
  EXPECT_THROW((void)HttpPeerClient::NewHttp("http://h:99999", "n"), TransportError);
  EXPECT_THROW((void)HttpPeerClient::NewHttp("http://h:1", "bad\nid"), InvalidArgumentError);
  HttpClientOptions tls;
  tls.tls = ClientTlsConfig{};
  EXPECT_THROW((void)HttpPeerClient::NewHttp("http://h:1", "n", tls), TransportError);
  // Nothing listens on port 1: NewHttp succeeds, the first call fails with kUnavailable.
  auto client = HttpPeerClient::NewHttp("http://127.0.0.1:1/", "n");
  EXPECT_EQ(client->base_url(), "http://127.0.0.1:1/");
  EXPECT_EQ(client->node_id(), "n");
  try {
    (void)client->InvokeSubWorkflow(EchoRequest());
    FAIL() << "no exception";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), StatusCode::kUnavailable);
  }
}

TEST(HttpClientTest, SendsUpstreamHeadersAndBodyUnderThePathPrefix) {
  ScriptedServer s;
  std::mutex mu;
  httplib::Headers seen;
  std::string body;
  s.server().Post("/base/v1/peer/invoke_sub_workflow",
                  [&](const httplib::Request& req, httplib::Response& res) {
                    std::lock_guard lock(mu);
                    seen = req.headers;
                    body = req.body;
                    res.set_content(R"({"envelope_version":1,"state_json":{},"result_json":[49],)"
                                    R"("remote_refs":{},"error":null})",
                                    "application/json");
                  });
  HttpClientOptions options;
  options.token = "tok";
  options.parent_run_id = "parent-1";
  auto client = HttpPeerClient::NewHttp(s.url() + "/base//", "caller-7", options);
  const SubWorkflowResponse response = client->InvokeSubWorkflow(EchoRequest());
  EXPECT_EQ(response.result_json, "1");
  std::lock_guard lock(mu);
  EXPECT_EQ(body, EncodeJson(EchoRequest()).value());
  auto header = [&](const std::string& k) {
    auto it = seen.find(k);
    return it == seen.end() ? std::string("<none>") : it->second;
  };
  EXPECT_EQ(header("Content-Type"), "application/json");
  EXPECT_EQ(header("X-Blazen-Peer-Node-Id"), "caller-7");
  EXPECT_EQ(header("Authorization"), "Bearer tok");
  EXPECT_EQ(header("X-Blazen-Parent-Run-Id"), "parent-1");
}

TEST(HttpClientTest, ErrorBodiesMapToPeerErrors) {
  ScriptedServer s;
  std::atomic<int> status{0};
  std::string reply;
  std::mutex mu;
  s.server().Post(".*", [&](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(mu);
    res.status = status.load();
    res.set_content(reply, "application/json");
  });
  auto client = HttpPeerClient::NewHttp(s.url(), "n");
  auto set = [&](int code, std::string text) {
    std::lock_guard lock(mu);
    status = code;
    reply = std::move(text);
  };
  DerefRequest deref;
  // Our body: code and kind decide the class.
  set(404, R"({"error":"unknown step id `x`","code":"NOT_FOUND","kind":"unknown_step"})");
  EXPECT_THROW((void)client->InvokeSubWorkflow(EchoRequest()), UnknownStepError);
  // Upstream-style bodies carry only `error`: the HTTP status decides.
  set(404, R"({"error":"session ref 1 not found"})");
  try {
    (void)client->DerefSessionRef(deref);
    FAIL() << "no exception";
  } catch (const NotFoundError& e) {
    EXPECT_EQ(e.message(), "session ref 1 not found");
  }
  set(401, R"({"error":"token mismatch"})");
  EXPECT_THROW((void)client->DerefSessionRef(deref), UnauthenticatedError);
  set(412, R"({"error":"envelope version 2 is newer than supported 1"})");
  EXPECT_THROW((void)client->DerefSessionRef(deref), EnvelopeVersionError);
  set(400, R"({"error":"json decode failed: x"})");
  EXPECT_THROW((void)client->DerefSessionRef(deref), InvalidArgumentError);
  set(413, "");
  EXPECT_THROW((void)client->DerefSessionRef(deref), ResourceExhaustedError);
  // Not JSON: quoted like upstream's client does.
  set(502, "bad gateway");
  try {
    (void)client->DerefSessionRef(deref);
    FAIL() << "no exception";
  } catch (const TransportError& e) {
    EXPECT_THAT(e.message(), HasSubstr("HTTP 502 from /v1/peer/deref_session_ref: bad gateway"));
  }
  // A 200 whose body does not decode is an EncodeError; a newer envelope in a response is
  // EnvelopeVersionError.
  set(200, R"({"envelope_version":1})");
  EXPECT_THROW((void)client->DerefSessionRef(deref), EncodeError);
  set(200, R"({"envelope_version":2,"payload":[]})");
  EXPECT_THROW((void)client->DerefSessionRef(deref), EnvelopeVersionError);
  set(200, R"({"envelope_version":2,"released":true})");
  EXPECT_THROW((void)client->ReleaseSessionRef(ReleaseRequest{}), EnvelopeVersionError);
  set(200, R"({"envelope_version":1,"payload":[1,2,3]})");
  EXPECT_EQ(client->DerefSessionRef(deref).payload, (ByteVector{1, 2, 3}));
}

// Serves a payload of `size` bytes; the first `breaks` responses are cut after `cut` bytes.
void ServeBreakingPayload(httplib::Server& server, std::uint64_t size, int breaks,
                          std::uint64_t cut, std::vector<std::string>& ranges, std::mutex& mu) {
  auto remaining_breaks = std::make_shared<std::atomic<int>>(breaks);
  server.Get(R"(/v1/peer/refs/(.+))", [=, &ranges, &mu](const httplib::Request& req,
                                                        httplib::Response& res) {
    const_cast<httplib::Request&>(req).ranges.clear();
    std::uint64_t begin = 0;
    {
      std::lock_guard lock(mu);
      ranges.push_back(req.get_header_value("Range"));
    }
    if (req.has_header("Range")) {
      begin = std::stoull(req.get_header_value("Range").substr(6));
      res.status = 206;
      res.set_header("Content-Range", "bytes " + std::to_string(begin) + "-" +
                                          std::to_string(size - 1) + "/" + std::to_string(size));
    }
    res.set_header("X-Blazen-Total-Size", std::to_string(size));
    res.set_header("X-Blazen-Type-Tag", "pattern");
    const bool cut_this = remaining_breaks->fetch_sub(1) > 0;
    res.set_content_provider(static_cast<std::size_t>(size - begin), "application/octet-stream",
                             [=](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                               if (cut_this && offset >= cut)
                                 return false;  // drop the connection mid-body
                               std::string chunk(std::min<std::size_t>(length, 4096), '\0');
                               if (cut_this)
                                 chunk.resize(std::min<std::size_t>(chunk.size(), cut - offset));
                               for (std::size_t i = 0; i < chunk.size(); ++i) {
                                 chunk[i] = static_cast<char>(PatternByte(begin + offset + i));
                               }
                               return sink.write(chunk.data(), chunk.size());
                             });
  });
}

TEST(HttpClientTest, DerefToResumesWithRangeAfterABrokenStream) {
  ScriptedServer s;
  std::vector<std::string> ranges;
  std::mutex mu;
  constexpr std::uint64_t kSize = 100'000;
  ServeBreakingPayload(s.server(), kSize, /*breaks=*/2, /*cut=*/30'000, ranges, mu);
  auto client = HttpPeerClient::NewHttp(s.url(), "n");
  HostBufferSink sink;
  std::uint64_t last_progress = 0;
  const DerefResult result = client->DerefTo(Uuid::NewV4(), sink, [&](const DerefProgress& p) {
    EXPECT_GT(p.received, last_progress);
    EXPECT_EQ(p.total, kSize);
    last_progress = p.received;
  });
  EXPECT_EQ(result.total_size, kSize);
  EXPECT_EQ(result.type_tag, "pattern");
  EXPECT_EQ(result.streams, 1);
  EXPECT_EQ(result.resumes, 2);
  EXPECT_EQ(last_progress, kSize);
  ASSERT_EQ(sink.data().size(), kSize);
  for (std::uint64_t i = 0; i < kSize; ++i) ASSERT_EQ(sink.data()[i], PatternByte(i)) << i;
  std::lock_guard lock(mu);
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges[0], "");
  EXPECT_EQ(ranges[1], "bytes=30000-");  // the first missing byte
  EXPECT_EQ(ranges[2], "bytes=60000-");
}

TEST(HttpClientTest, DerefToGivesUpAfterMaxResumes) {
  ScriptedServer s;
  std::vector<std::string> ranges;
  std::mutex mu;
  ServeBreakingPayload(s.server(), 100'000, /*breaks=*/100, /*cut=*/1000, ranges, mu);
  HttpClientOptions options;
  options.max_resume_attempts = 2;
  auto client = HttpPeerClient::NewHttp(s.url(), "n", options);
  HostBufferSink sink;
  EXPECT_THROW((void)client->DerefTo(Uuid::NewV4(), sink), TransportError);
  std::lock_guard lock(mu);
  EXPECT_EQ(ranges.size(), 3u);  // the first attempt and two resumes
}

TEST(HttpClientTest, DerefToRejectsAResumeAtTheWrongOffset) {
  ScriptedServer s;
  std::atomic<int> calls{0};
  s.server().Get(R"(/v1/peer/refs/(.+))", [&](const httplib::Request& req, httplib::Response& res) {
    const_cast<httplib::Request&>(req).ranges.clear();
    const bool first = calls.fetch_add(1) == 0;
    res.set_header("X-Blazen-Total-Size", "10000");
    // The resume answers 200 with the whole payload instead of 206 at the asked offset.
    res.set_content_provider(10000, "application/octet-stream",
                             [first](std::size_t offset, std::size_t, httplib::DataSink& sink) {
                               if (first && offset >= 5000) return false;
                               std::string chunk(1000, 'x');
                               return sink.write(chunk.data(), chunk.size());
                             });
  });
  auto client = HttpPeerClient::NewHttp(s.url(), "n");
  HostBufferSink sink;
  try {
    (void)client->DerefTo(Uuid::NewV4(), sink);
    FAIL() << "no exception";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), StatusCode::kDataLoss);
  }
}

}  // namespace
}  // namespace blazen::client
