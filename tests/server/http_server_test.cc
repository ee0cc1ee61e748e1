// SPDX-License-Identifier: Apache-2.0
// The HTTP/JSON server at the wire level, driven by a plain HTTP client (no code of our client
// except in the TLS case): upstream-shaped bodies, error statuses and bodies for bad input, Range
// requests, the event stream, /healthz, /metrics parsed as Prometheus text, tokens, limits, slow
// clients and TLS with client certificates. After every bad input the server keeps serving.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "client/http_client.h"
#include "core/builtin_steps.h"
#include "core/engine.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/peer_error.h"
#include "core/tls.h"
#include "server/transport/http/http_service.h"
#include "server/peer_node.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace blazen::server {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr const char* kJson = "application/json";
constexpr const char* kExampleUuid = "00112233-4455-6677-8899-aabbccddeeff";

std::unique_ptr<PeerNode> StartNode(PeerNodeOptions options = {}) {
  spdlog::set_level(spdlog::level::warn);
  options.listen_address = "127.0.0.1:0";
  if (!options.http_listen_address) options.http_listen_address = "127.0.0.1:0";
  if (options.node_id == "blazen-peer") options.node_id = "http-test";
  Result<std::unique_ptr<PeerNode>> node = PeerNode::Start(std::move(options));
  EXPECT_TRUE(node.ok()) << node.status();
  return node.ok() ? std::move(node).value() : nullptr;
}

httplib::Client Client(const PeerNode& node) {
  httplib::Client client("127.0.0.1", node.http_port());
  client.set_read_timeout(30s);
  return client;
}

json Body(const httplib::Result& r) { return ParseJson(r->body).value_or(json("<not json>")); }

// Asserts a non-2xx answer with our error body: `{"error": <contains>, "code": <code>, ...}`.
void ExpectError(const httplib::Result& r, int status, const std::string& code,
                 const std::string& contains, const std::string& kind = "") {
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, status) << r->body;
  const json body = Body(r);
  ASSERT_TRUE(body.is_object()) << r->body;
  ASSERT_TRUE(body.contains("error") && body["error"].is_string()) << r->body;
  EXPECT_THAT(body["error"].get<std::string>(), HasSubstr(contains));
  EXPECT_EQ(body.value("code", ""), code) << r->body;
  if (!kind.empty()) {
    EXPECT_EQ(body.value("kind", ""), kind) << r->body;
  }
  EXPECT_EQ(r->get_header_value("Content-Type"), kJson);
}

void ExpectServing(const PeerNode& node) {
  auto client = Client(node);
  auto r = client.Post("/v1/peer/invoke_sub_workflow",
                       R"({"envelope_version":1,"workflow_name":"wf","step_ids":["blazen::echo"],)"
                       R"("input_json":[49],"timeout_secs":30})",
                       kJson);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

std::string InvokeBody(const std::vector<std::string>& steps, const json& input) {
  return EncodeJson(MakeSubWorkflowRequest("wf", steps, input, 30).value()).value();
}

std::string MakeBlob(const PeerNode& node, std::uint64_t bytes) {
  auto client = Client(node);
  auto r = client.Post("/v1/peer/invoke_sub_workflow",
                       InvokeBody({"blazen::host_blob"}, {{"bytes", bytes}}), kJson);
  EXPECT_TRUE(r && r->status == 200);
  if (!r || r->status != 200) return "";
  const json body = Body(r);
  EXPECT_EQ(body["remote_refs"].size(), 1u) << r->body;
  return body["remote_refs"].begin().key();
}

// --- Upstream routes with upstream-shaped bodies ------------------------------------------------

TEST(HttpServerTest, SpecExampleRequestGetsAnUpstreamShapedResponse) {
  auto node = StartNode();
  auto client = Client(*node);
  // Spec section 2.3 example (a), with a step this peer has.
  auto r =
      client.Post("/v1/peer/invoke_sub_workflow", {{"X-Blazen-Peer-Node-Id", "upstream-parent"}},
                  R"({"envelope_version":1,"workflow_name":"wf","step_ids":["blazen::echo"],)"
                  R"("input_json":[123,34,120,34,58,49,125],"timeout_secs":60})",
                  kJson);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), kJson);
  // Exactly upstream's field order, bytes as arrays of integers, every field present.
  const std::regex shape(
      R"(^\{"envelope_version":1,"state_json":\{\},"result_json":\[[0-9,]+\],"remote_refs":\{\},"error":null\}$)");
  EXPECT_TRUE(std::regex_match(r->body, shape)) << r->body;
  const SubWorkflowResponse response = DecodeSubWorkflowResponseJson(r->body).value();
  EXPECT_EQ(ParseJson(*response.result_json).value(), json({{"x", 1}}));

  // Example (b): timeout null; the default workflow `echo` runs when step_ids is empty.
  r = client.Post("/v1/peer/invoke_sub_workflow",
                  R"({"envelope_version":1,"workflow_name":"echo","step_ids":[],)"
                  R"("input_json":[123,34,120,34,58,49,125],"timeout_secs":null})",
                  kJson);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  // A serde_bytes field given as a string is accepted, as upstream's decoder does.
  r = client.Post("/v1/peer/invoke_sub_workflow",
                  R"({"envelope_version":1,"workflow_name":"wf","step_ids":["blazen::echo"],)"
                  R"("input_json":"42","unknown_field":true})",
                  kJson);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Body(r)["result_json"], json({52, 50}));
}

TEST(HttpServerTest, WorkflowErrorIsA200WithError) {
  auto node = StartNode();
  auto client = Client(*node);
  auto r = client.Post("/v1/peer/invoke_sub_workflow",
                       InvokeBody({"blazen::fail"}, {{"message", "boom"}}), kJson);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json body = Body(r);
  EXPECT_THAT(body["error"].get<std::string>(), HasSubstr("boom"));
  EXPECT_TRUE(body.contains("result_json"));
  EXPECT_TRUE(body["result_json"].is_null());
}

TEST(HttpServerTest, DerefAndReleaseRoutes) {
  auto node = StartNode();
  auto client = Client(*node);
  const std::string ref = MakeBlob(*node, 300);
  auto r = client.Post("/v1/peer/deref_session_ref",
                       R"({"envelope_version":1,"ref_uuid":")" + ref + R"("})", kJson);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json body = Body(r);
  EXPECT_EQ(body["envelope_version"], 1);
  ASSERT_EQ(body["payload"].size(), 300u);
  for (std::size_t i = 0; i < 300; ++i) ASSERT_EQ(body["payload"][i], HostBlobByte(i));
  EXPECT_TRUE(r->body.starts_with(R"({"envelope_version":1,"payload":[0,1,2,)")) << r->body;

  // UUIDs in the simple upper-case form are accepted, as upstream's decoder does.
  std::string simple;
  for (char c : ref) {
    if (c != '-') simple += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  r = client.Post("/v1/peer/release_session_ref",
                  R"({"envelope_version":1,"ref_uuid":")" + simple + R"("})", kJson);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"envelope_version":1,"released":true})");
  r = client.Post("/v1/peer/release_session_ref",
                  R"({"envelope_version":1,"ref_uuid":")" + ref + R"("})", kJson);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, R"({"envelope_version":1,"released":false})");
  ExpectError(client.Post("/v1/peer/deref_session_ref",
                          R"({"envelope_version":1,"ref_uuid":")" + ref + R"("})", kJson),
              404, "NOT_FOUND", "session ref " + ref + " not found");
}

TEST(HttpServerTest, JsonDerefOfABigRefPointsToTheStreamedRoute) {
  PeerNodeOptions options;
  options.http_max_json_deref_bytes = 1000;
  auto node = StartNode(options);
  auto client = Client(*node);
  const std::string small = MakeBlob(*node, 1000);
  const std::string big = MakeBlob(*node, 1001);
  auto r = client.Post("/v1/peer/deref_session_ref",
                       R"({"envelope_version":1,"ref_uuid":")" + small + R"("})", kJson);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  ExpectError(client.Post("/v1/peer/deref_session_ref",
                          R"({"envelope_version":1,"ref_uuid":")" + big + R"("})", kJson),
              429, "RESOURCE_EXHAUSTED", "stream it with GET /v1/peer/refs/" + big);
  r = client.Get("/v1/peer/refs/" + big);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), 1001u);
}

// --- Bad input: the status a user expects, a JSON error body, and the server keeps serving -----

TEST(HttpServerTest, BadBodiesAreRejectedAndTheServerKeepsServing) {
  auto node = StartNode();
  auto client = Client(*node);
  const std::string invoke = "/v1/peer/invoke_sub_workflow";
  struct Case {
    std::string route;
    std::string body;
    int status;
    std::string code;
    std::string contains;
  };
  const std::vector<Case> cases = {
      {invoke, "{not json", 400, "INVALID_ARGUMENT", "json decode failed"},
      {invoke, "", 400, "INVALID_ARGUMENT", "json decode failed"},
      {invoke, "[1,2]", 400, "INVALID_ARGUMENT", "json decode failed"},
      {invoke, std::string(100'000, '['), 400, "INVALID_ARGUMENT", "depth"},
      // Wrong types.
      {invoke, R"({"envelope_version":"1","workflow_name":"wf","step_ids":[],"input_json":[49]})",
       400, "INVALID_ARGUMENT", "envelope_version"},
      {invoke, R"({"envelope_version":1,"workflow_name":"wf","step_ids":5,"input_json":[49]})", 400,
       "INVALID_ARGUMENT", "step_ids"},
      {invoke,
       R"({"envelope_version":1,"workflow_name":"wf","step_ids":[],"input_json":[49],"timeout_secs":-1})",
       400, "INVALID_ARGUMENT", "timeout_secs"},
      // A byte value out of range.
      {invoke, R"({"envelope_version":1,"workflow_name":"wf","step_ids":[],"input_json":[49,256]})",
       400, "INVALID_ARGUMENT", "input_json[1]"},
      // A missing non-Option field.
      {invoke, R"({"workflow_name":"wf","step_ids":[],"input_json":[49]})", 400, "INVALID_ARGUMENT",
       "envelope_version"},
      {invoke, R"({"envelope_version":1,"workflow_name":"wf","step_ids":["blazen::echo"]})", 400,
       "INVALID_ARGUMENT", "input_json"},
      // Input bytes that are not JSON.
      {invoke,
       R"({"envelope_version":1,"workflow_name":"wf","step_ids":["blazen::echo"],"input_json":[123]})",
       400, "INVALID_ARGUMENT", "invalid input JSON"},
      {"/v1/peer/deref_session_ref", R"({"envelope_version":1,"ref_uuid":"not-a-uuid"})", 400,
       "INVALID_ARGUMENT", "ref_uuid"},
      {"/v1/peer/release_session_ref", R"({"envelope_version":1,"ref_uuid":[0,1]})", 400,
       "INVALID_ARGUMENT", "ref_uuid"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body.substr(0, 120));
    ExpectError(client.Post(c.route, c.body, kJson), c.status, c.code, c.contains);
    ExpectServing(*node);
  }
}

TEST(HttpServerTest, ProtocolErrorsHaveUpstreamTextsAndKinds) {
  auto node = StartNode();
  auto client = Client(*node);
  ExpectError(client.Post("/v1/peer/invoke_sub_workflow",
                          InvokeBody({"does_not_exist::step"}, json::object()), kJson),
              404, "NOT_FOUND", "unknown step id `does_not_exist::step`", "unknown_step");
  for (const std::string route : {"/v1/peer/invoke_sub_workflow", "/v1/peer/deref_session_ref",
                                  "/v1/peer/release_session_ref"}) {
    SCOPED_TRACE(route);
    ExpectError(client.Post(route,
                            R"({"envelope_version":2,"workflow_name":"wf","step_ids":[],)"
                            R"("input_json":[49],"ref_uuid":")" +
                                std::string(kExampleUuid) + R"("})",
                            kJson),
                412, "FAILED_PRECONDITION", "envelope version 2 is newer than supported 1",
                "envelope_version");
  }
  // Spec example DerefRequest for a ref that does not exist.
  ExpectError(
      client.Post("/v1/peer/deref_session_ref",
                  R"({"envelope_version":1,"ref_uuid":")" + std::string(kExampleUuid) + R"("})",
                  kJson),
      404, "NOT_FOUND", std::string("session ref ") + kExampleUuid + " not found");
  ExpectServing(*node);
}

TEST(HttpServerTest, UnknownRoutesAndMethodsAre404WithAJsonBody) {
  auto node = StartNode();
  auto client = Client(*node);
  ExpectError(client.Get("/v1/peer/nope"), 404, "NOT_FOUND", "/v1/peer/nope");
  ExpectError(client.Post("/v1/peer/nope", "{}", kJson), 404, "NOT_FOUND", "/v1/peer/nope");
  ExpectError(client.Get("/v1/peer/invoke_sub_workflow"), 404, "NOT_FOUND", "GET");
  ExpectError(client.Get("/v1/peer/refs/not-a-uuid"), 400, "INVALID_ARGUMENT", "ref_uuid");
  ExpectServing(*node);
}

TEST(HttpServerTest, OversizedBodyIs413) {
  PeerNodeOptions options;
  options.max_request_bytes = 64 * 1024;
  auto node = StartNode(options);
  auto client = Client(*node);
  const std::string big = InvokeBody({"blazen::echo"}, std::string(200'000, 'x'));
  ExpectError(client.Post("/v1/peer/invoke_sub_workflow", big, kJson), 413, "RESOURCE_EXHAUSTED",
              "larger");
  ExpectServing(*node);
  // Our client maps it to ResourceExhaustedError.
  auto peer = client::HttpPeerClient::NewHttp(node->http_endpoint(), "t");
  EXPECT_THROW(
      (void)peer->InvokeSubWorkflow(
          MakeSubWorkflowRequest("wf", {"blazen::echo"}, std::string(200'000, 'x'), 30).value()),
      ResourceExhaustedError);
}

// A client that sends part of a request and stalls holds one connection only: other clients are
// served meanwhile, and the server drops the stalled connection after its read timeout.
TEST(HttpServerTest, SlowClientDoesNotBlockOthersAndIsDropped) {
  auto refs = std::make_shared<SessionRefRegistry>();
  auto engine = std::make_shared<Engine>(EngineOptions{}, refs);
  AddBuiltinWorkflows(*engine);
  http_transport::HttpServiceOptions options;
  options.node_id = "slow-test";
  options.listen_address = "127.0.0.1:0";
  options.threads = 4;
  options.read_timeout = 1s;
  auto service = http_transport::HttpService::Start(options, engine);
  ASSERT_TRUE(service.ok()) << service.status();
  const int port = (*service)->port();

  std::vector<int> stalled;
  for (int i = 0; i < 2; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    // One stalls inside the headers, one inside the body.
    const std::string partial =
        i == 0 ? std::string("POST /v1/peer/invoke_sub_workflow HTTP/1.1\r\nHost: x\r\n")
               : std::string(
                     "POST /v1/peer/invoke_sub_workflow HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"env");
    ASSERT_EQ(::send(fd, partial.data(), partial.size(), 0), static_cast<ssize_t>(partial.size()));
    stalled.push_back(fd);
  }
  httplib::Client client("127.0.0.1", port);
  const auto started = std::chrono::steady_clock::now();
  auto r = client.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 900ms);
  for (int fd : stalled) {
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[512];
    // The server gives up on the stalled request: it closes (0) or answers with an error, then
    // closes; it never waits forever.
    ssize_t n = 0;
    const auto t0 = std::chrono::steady_clock::now();
    while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) {
    }
    EXPECT_EQ(n, 0) << "connection not closed by the server";
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
    ::close(fd);
  }
  r = client.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  (*service)->Stop();
  engine->Shutdown(0ms);
}

// --- Streamed deref with Range -------------------------------------------------------------------

TEST(HttpServerTest, RefDownloadWholeAndRanges) {
  auto node = StartNode();
  auto client = Client(*node);
  constexpr std::uint64_t kSize = 3'000'000;  // spans several 1 MiB reads
  const std::string ref = MakeBlob(*node, kSize);
  const std::string path = "/v1/peer/refs/" + ref;
  auto expect_bytes = [](const std::string& body, std::uint64_t offset) {
    for (std::size_t i = 0; i < body.size(); ++i) {
      ASSERT_EQ(static_cast<std::uint8_t>(body[i]), HostBlobByte(offset + i)) << offset + i;
    }
  };

  auto r = client.Get(path);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/octet-stream");
  EXPECT_EQ(r->get_header_value("Accept-Ranges"), "bytes");
  EXPECT_EQ(r->get_header_value("X-Blazen-Type-Tag"), "bytes");
  EXPECT_EQ(r->get_header_value("X-Blazen-Total-Size"), std::to_string(kSize));
  ASSERT_EQ(r->body.size(), kSize);
  expect_bytes(r->body, 0);

  struct RangeCase {
    std::string header;
    std::uint64_t begin;
    std::uint64_t end;  // exclusive
  };
  for (const RangeCase& c : std::vector<RangeCase>{{"bytes=10-19", 10, 20},
                                                   {"bytes=2999990-", 2999990, kSize},
                                                   {"bytes=-5", kSize - 5, kSize},
                                                   {"bytes=1048570-2097160", 1048570, 2097161},
                                                   {"bytes=2999999-4000000", 2999999, kSize}}) {
    SCOPED_TRACE(c.header);
    r = client.Get(path, {{"Range", c.header}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 206) << r->body.substr(0, 200);
    EXPECT_EQ(r->get_header_value("Content-Range"), "bytes " + std::to_string(c.begin) + "-" +
                                                        std::to_string(c.end - 1) + "/" +
                                                        std::to_string(kSize));
    ASSERT_EQ(r->body.size(), c.end - c.begin);
    expect_bytes(r->body, c.begin);
  }
  // Past the end: 416 with our error body (and the size in Content-Range).
  r = client.Get(path, {{"Range", "bytes=3000000-"}});
  ExpectError(r, 416, "OUT_OF_RANGE", "past the end");
  EXPECT_EQ(r->get_header_value("Content-Range"), "bytes */3000000");
  // Several ranges: the whole payload (RFC 9110 lets a server ignore Range).
  r = client.Get(path, {{"Range", "bytes=0-1,5-6"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), kSize);
  // A header that does not parse is refused before routing, still with a JSON body.
  for (const std::string header : {"bytes=abc", "items=0-1"}) {
    SCOPED_TRACE(header);
    ExpectError(client.Get(path, {{"Range", header}}), 416, "OUT_OF_RANGE", "Range");
  }
  // Unknown ref: 404 JSON even with a Range header (the range is not applied to the error body).
  ExpectError(client.Get("/v1/peer/refs/" + std::string(kExampleUuid), {{"Range", "bytes=0-3"}}),
              404, "NOT_FOUND", "not found");
  // A client that disconnects mid-download does not stop the server.
  {
    httplib::Client quitter("127.0.0.1", node->http_port());
    std::size_t seen = 0;
    auto partial = quitter.Get(path, [&](const char*, std::size_t n) {
      seen += n;
      return seen < 100'000;
    });
    EXPECT_FALSE(partial);
  }
  ExpectServing(*node);
}

// --- Event stream --------------------------------------------------------------------------------

TEST(HttpServerTest, EventStreamIsNewlineDelimitedJsonEndingWithTheResponse) {
  auto node = StartNode();
  auto client = Client(*node);
  auto r = client.Post("/v1/peer/stream_sub_workflow_events",
                       InvokeBody({"blazen::echo"}, {{"a", 1}}), kJson);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/x-ndjson");
  std::vector<SubWorkflowEvent> events;
  std::istringstream lines(r->body);
  for (std::string line; std::getline(lines, line);) {
    Result<SubWorkflowEvent> event = DecodeSubWorkflowEventJson(line);
    ASSERT_TRUE(event.ok()) << event.status() << ": " << line;
    events.push_back(*event);
  }
  ASSERT_GE(events.size(), 2u);
  for (std::size_t i = 0; i + 1 < events.size(); ++i) EXPECT_FALSE(events[i].response);
  ASSERT_TRUE(events.back().response);
  EXPECT_EQ(ParseJson(*events.back().response->result_json).value(), json({{"a", 1}}));
  EXPECT_TRUE(r->body.ends_with("\n"));

  ExpectError(client.Post("/v1/peer/stream_sub_workflow_events",
                          InvokeBody({"does_not_exist::step"}, 1), kJson),
              404, "NOT_FOUND", "unknown step id", "unknown_step");
}

// --- Health, metrics, token ----------------------------------------------------------------------

// A strict parser of the Prometheus text format 0.0.4: every line is a `# HELP name text`,
// `# TYPE name type` or a sample `name{label="value",...} value`; each TYPE comes before its
// samples and at most once per family. Returns sample -> value keyed by `name{labels}` as written.
struct Scrape {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
  std::string error;
};

Scrape ParsePrometheus(const std::string& text) {
  Scrape out;
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$)");
  static const std::regex kType(
      R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? ([-+]?([0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|Inf|NaN))( -?[0-9]+)?$)");
  if (text.empty() || text.back() != '\n') out.error = "text does not end with a newline";
  std::istringstream lines(text);
  int n = 0;
  for (std::string line; std::getline(lines, line);) {
    ++n;
    std::smatch m;
    const std::string where = "line " + std::to_string(n) + ": '" + line + "'";
    if (line.empty()) continue;
    if (line.starts_with("#")) {
      if (std::regex_match(line, m, kType)) {
        if (out.types.count(m[1]) != 0) return out.error = "second TYPE at " + where, out;
        out.types[m[1]] = m[2];
      } else if (!std::regex_match(line, kHelp)) {
        return out.error = "bad comment at " + where, out;
      }
      continue;
    }
    if (!std::regex_match(line, m, kSample)) return out.error = "bad sample at " + where, out;
    std::string family = m[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (family.ends_with(s) && out.types.count(family.substr(0, family.size() - s.size())) &&
          out.types[family.substr(0, family.size() - s.size())] == "histogram") {
        family = family.substr(0, family.size() - s.size());
      }
    }
    if (out.types.count(family) == 0) return out.error = "sample before its TYPE at " + where, out;
    const std::string key = std::string(m[1]) + std::string(m[2]);
    if (out.samples.count(key) != 0) return out.error = "duplicate sample at " + where, out;
    const std::string value = m[7];
    out.samples[key] =
        value.ends_with("Inf") ? (value[0] == '-' ? -1.0 / 0.0 : 1.0 / 0.0) : std::stod(value);
  }
  return out;
}

TEST(HttpServerTest, PrometheusParserRejectsMalformedText) {
  EXPECT_EQ(ParsePrometheus("# TYPE a counter\na 1\n").error, "");
  EXPECT_NE(ParsePrometheus("a 1\n").error, "");                         // no TYPE
  EXPECT_NE(ParsePrometheus("# TYPE a counter\na{b=1} 1\n").error, "");  // unquoted label
  EXPECT_NE(ParsePrometheus("# TYPE a counter\na one\n").error, "");     // bad value
  EXPECT_NE(ParsePrometheus("# TYPE a counter\na 1").error, "");         // no final newline
  EXPECT_NE(ParsePrometheus("# TYPE a counter\n# TYPE a gauge\n").error, "");
}

TEST(HttpServerTest, HealthzAndMetricsScrapeAsPrometheusText) {
  PeerNodeOptions options;
  options.token = "metrics-token";
  auto node = StartNode(options);
  auto client = Client(*node);
  const httplib::Headers auth = {{"Authorization", "Bearer metrics-token"}};

  auto r = client.Get("/healthz");  // no token needed
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Body(r)["status"], "ok");
  EXPECT_EQ(Body(r)["node_id"], "http-test");
  ExpectError(client.Get("/metrics"), 401, "UNAUTHENTICATED", "missing authorization header");

  // Some traffic: two successful invocations, a workflow error, an unknown step, a download.
  for (int i = 0; i < 2; ++i) {
    r = client.Post("/v1/peer/invoke_sub_workflow", auth, InvokeBody({"blazen::echo"}, i), kJson);
    ASSERT_TRUE(r && r->status == 200);
  }
  r = client.Post("/v1/peer/invoke_sub_workflow", auth,
                  InvokeBody({"blazen::fail"}, {{"message", "x"}}), kJson);
  ASSERT_TRUE(r && r->status == 200);
  r = client.Post("/v1/peer/invoke_sub_workflow", auth, InvokeBody({"nope::step"}, 1), kJson);
  ASSERT_TRUE(r && r->status == 404);
  r = client.Post("/v1/peer/invoke_sub_workflow", auth,
                  InvokeBody({"blazen::host_blob"}, {{"bytes", 5000}}), kJson);
  ASSERT_TRUE(r && r->status == 200);
  const std::string ref = Body(r)["remote_refs"].begin().key();
  r = client.Get("/v1/peer/refs/" + ref, auth);
  ASSERT_TRUE(r && r->status == 200);

  r = client.Get("/metrics", auth);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_THAT(r->get_header_value("Content-Type"), HasSubstr("text/plain; version=0.0.4"));
  const Scrape scrape = ParsePrometheus(r->body);
  ASSERT_EQ(scrape.error, "") << r->body;
  const auto value = [&](const std::string& key) {
    auto it = scrape.samples.find(key);
    EXPECT_NE(it, scrape.samples.end()) << key << " missing in\n" << r->body;
    return it == scrape.samples.end() ? -1.0 : it->second;
  };
  EXPECT_EQ(scrape.types.at("blazen_peer_invocations_total"), "counter");
  EXPECT_EQ(scrape.types.at("blazen_peer_invocation_duration_seconds"), "histogram");
  EXPECT_EQ(value(R"(blazen_peer_invocations_total{transport="http",status="ok"})"), 3);
  EXPECT_EQ(value(R"(blazen_peer_invocations_total{transport="http",status="workflow_error"})"), 1);
  EXPECT_EQ(value(R"(blazen_peer_invocations_total{transport="http",status="not_found"})"), 1);
  const double count = value(R"(blazen_peer_invocation_duration_seconds_count{transport="http"})");
  EXPECT_EQ(count, 5);
  EXPECT_EQ(value(R"(blazen_peer_invocation_duration_seconds_bucket{transport="http",le="+Inf"})"),
            count);
  EXPECT_GE(value(R"(blazen_peer_invocation_duration_seconds_sum{transport="http"})"), 0);
  // Buckets are cumulative.
  double previous = 0;
  for (const auto& [key, v] : scrape.samples) {
    if (key.starts_with("blazen_peer_invocation_duration_seconds_bucket") &&
        key.find("+Inf") == std::string::npos) {
      EXPECT_LE(v, count) << key;
    }
  }
  for (double le : {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0}) {
    std::ostringstream k;
    k << R"(blazen_peer_invocation_duration_seconds_bucket{transport="http",le=")" << le << "\"}";
    const double v = value(k.str());
    EXPECT_GE(v, previous) << k.str();
    previous = v;
  }
  EXPECT_EQ(value(R"(blazen_peer_deref_bytes_total{transport="http"})"), 5000);
  EXPECT_EQ(value(R"(blazen_peer_live_refs{lifetime="until_parent_finish",location="host"})"), 1);
  EXPECT_EQ(value(R"(blazen_peer_live_ref_bytes{lifetime="until_parent_finish",location="host"})"),
            5000);
  EXPECT_EQ(scrape.types.at("blazen_peer_pool_in_use_bytes"), "gauge");
  EXPECT_EQ(scrape.types.at("blazen_peer_pool_peak_bytes"), "gauge");
  EXPECT_EQ(scrape.types.at("blazen_peer_pool_budget_bytes"), "gauge");
  EXPECT_EQ(node->metrics().invocations("http", "ok"), 3u);
}

TEST(HttpServerTest, TokenIsRequiredOnEveryRouteButHealthz) {
  PeerNodeOptions options;
  options.token = "s3cret";
  auto node = StartNode(options);
  auto client = Client(*node);
  const std::string body = InvokeBody({"blazen::echo"}, 1);
  const std::string ref_body =
      R"({"envelope_version":1,"ref_uuid":")" + std::string(kExampleUuid) + R"("})";
  for (const auto& [headers, message] : std::vector<std::pair<httplib::Headers, std::string>>{
           {{}, "missing authorization header"},
           {{{"Authorization", "Basic s3cret"}}, "Bearer scheme"},
           {{{"Authorization", "Bearer wrong"}}, "token mismatch"}}) {
    SCOPED_TRACE(message);
    ExpectError(client.Post("/v1/peer/invoke_sub_workflow", headers, body, kJson), 401,
                "UNAUTHENTICATED", message, "unauthenticated");
    ExpectError(client.Post("/v1/peer/deref_session_ref", headers, ref_body, kJson), 401,
                "UNAUTHENTICATED", message);
    ExpectError(client.Post("/v1/peer/release_session_ref", headers, ref_body, kJson), 401,
                "UNAUTHENTICATED", message);
    ExpectError(client.Post("/v1/peer/stream_sub_workflow_events", headers, body, kJson), 401,
                "UNAUTHENTICATED", message);
    ExpectError(client.Get("/v1/peer/refs/" + std::string(kExampleUuid), headers), 401,
                "UNAUTHENTICATED", message);
  }
  auto r = client.Post("/v1/peer/invoke_sub_workflow", {{"Authorization", "Bearer s3cret"}}, body,
                       kJson);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST(HttpServerTest, HealthzReportsDrainingDuringShutdown) {
  auto refs = std::make_shared<SessionRefRegistry>();
  auto engine = std::make_shared<Engine>(EngineOptions{}, refs);
  http_transport::HttpServiceOptions options;
  options.node_id = "drain-test";
  options.listen_address = "127.0.0.1:0";
  auto service = http_transport::HttpService::Start(options, engine);
  ASSERT_TRUE(service.ok()) << service.status();
  httplib::Client client("127.0.0.1", (*service)->port());
  auto r = client.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  (*service)->BeginShutdown();
  r = client.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(Body(r)["status"], "draining");
  (*service)->Stop();
  engine->Shutdown(0ms);
}

TEST(HttpServerTest, BindFailureIsAClearError) {
  auto first = StartNode();
  PeerNodeOptions options;
  options.listen_address = "127.0.0.1:0";
  options.http_listen_address = "127.0.0.1:" + std::to_string(first->http_port());
  Result<std::unique_ptr<PeerNode>> second = PeerNode::Start(options);
  EXPECT_THAT(second, testing::StatusIs(StatusCode::kUnavailable, HasSubstr("HTTP")));
  options.http_listen_address = "no-port";
  EXPECT_THAT(PeerNode::Start(options), testing::StatusIs(StatusCode::kInvalidArgument));
}

TEST(HttpServerTest, ConcurrentInvocations) {
  auto node = StartNode();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 48; ++i) {
    threads.emplace_back([&, i] {
      auto client = Client(*node);
      auto r = client.Post("/v1/peer/invoke_sub_workflow", InvokeBody({"blazen::echo"}, i), kJson);
      if (!r) {
        ADD_FAILURE() << "request " << i << ": " << httplib::to_string(r.error());
      } else if (r->status != 200) {
        ADD_FAILURE() << "request " << i << ": " << r->status << " " << r->body;
      } else if (ParseJson(*DecodeSubWorkflowResponseJson(r->body)->result_json).value() ==
                 json(i)) {
        ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 48);
}

TEST(HttpServerTest, GracefulShutdownLetsInFlightInvocationsFinish) {
  auto node = StartNode();
  const int port = node->http_port();
  std::optional<int> status;
  std::string body;
  std::thread caller([&] {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(30s);
    auto r = client.Post("/v1/peer/invoke_sub_workflow",
                         InvokeBody({"blazen::sleep"}, {{"seconds", 0.5}}), kJson);
    if (r) {
      status = r->status;
      body = r->body;
    }
  });
  std::this_thread::sleep_for(150ms);
  node->Shutdown(10s);
  caller.join();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 200) << body;
  EXPECT_EQ(DecodeSubWorkflowResponseJson(body)->error, std::nullopt) << body;
  httplib::Client late("127.0.0.1", port);
  late.set_connection_timeout(2s);
  EXPECT_FALSE(late.Get("/healthz"));
}

// --- TLS with client certificates ----------------------------------------------------------------

TEST(HttpServerTest, MutualTls) {
  testing::TestPki pki;
  ASSERT_EQ(pki.error(), "");
  PeerNodeOptions options;
  options.tls =
      LoadServerTls(pki.Path("server.pem"), pki.Path("server.key"), pki.Path("ca.pem")).value();
  auto node = StartNode(options);
  ASSERT_NE(node, nullptr);
  EXPECT_TRUE(node->http_endpoint().starts_with("https://")) << node->http_endpoint();
  const std::string body = InvokeBody({"blazen::echo"}, 7);

  // A client with a certificate from the CA is served.
  {
    httplib::SSLClient ssl("127.0.0.1", node->http_port(), pki.Path("client.pem"),
                           pki.Path("client.key"));
    ssl.set_ca_cert_path(pki.Path("ca.pem").c_str());
    ssl.enable_server_certificate_verification(true);
    auto r = ssl.Post("/v1/peer/invoke_sub_workflow", body, kJson);
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
  }
  // Without a client certificate, or with one from another CA, the handshake fails.
  for (const std::string& who : {std::string(), std::string("other-client")}) {
    SCOPED_TRACE(who.empty() ? "anonymous" : who);
    std::unique_ptr<httplib::SSLClient> ssl =
        who.empty()
            ? std::make_unique<httplib::SSLClient>("127.0.0.1", node->http_port())
            : std::make_unique<httplib::SSLClient>("127.0.0.1", node->http_port(),
                                                   pki.Path(who + ".pem"), pki.Path(who + ".key"));
    ssl->set_ca_cert_path(pki.Path("ca.pem").c_str());
    auto r = ssl->Post("/v1/peer/invoke_sub_workflow", body, kJson);
    EXPECT_FALSE(r && r->status == 200);
  }
  // Plaintext HTTP to the TLS port fails.
  httplib::Client plain("127.0.0.1", node->http_port());
  auto r = plain.Post("/v1/peer/invoke_sub_workflow", body, kJson);
  EXPECT_FALSE(r && r->status == 200);

  // Our client with ClientTlsConfig (hostname verified against the certificate's SAN).
  client::HttpClientOptions tls_options;
  tls_options.tls =
      LoadClientTls(pki.Path("client.pem"), pki.Path("client.key"), pki.Path("ca.pem")).value();
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    auto peer = client::HttpPeerClient::NewHttp(
        "https://" + host + ":" + std::to_string(node->http_port()), "tls-test", tls_options);
    const SubWorkflowResponse response =
        peer->InvokeSubWorkflow(MakeSubWorkflowRequest("wf", {"blazen::echo"}, 7, 30).value());
    EXPECT_EQ(ParseJson(*response.result_json).value(), json(7));
  }
  client::HttpClientOptions foreign;
  foreign.tls =
      LoadClientTls(pki.Path("other-client.pem"), pki.Path("other-client.key"), pki.Path("ca.pem"))
          .value();
  auto intruder = client::HttpPeerClient::NewHttp(node->http_endpoint(), "intruder", foreign);
  EXPECT_THROW((void)intruder->InvokeSubWorkflow(
                   MakeSubWorkflowRequest("wf", {"blazen::echo"}, 7, 30).value()),
               TransportError);
}

}  // namespace
}  // namespace blazen::server
