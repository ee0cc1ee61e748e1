// SPDX-License-Identifier: Apache-2.0
// The peer-side signals a router reads: the load report on every gRPC response (trailing metadata)
// and every HTTP response (header), DescribePeer's labels / weight / GPU model / load, the
// benchmark step blazen::busy with --slowdown, and the validation of those options.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "blazen/peer/v1/blazen_peer.grpc.pb.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/load_report.h"
#include "core/postcard.h"
#include "server/peer_node.h"
#include "tests/testing/status_matchers.h"

namespace blazen::server {
namespace {

namespace pb = ::blazen::peer::v1;
using ::blazen::testing::StatusIs;
using json = nlohmann::json;
using namespace std::chrono_literals;

class LoadReportServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PeerNodeOptions options;
    options.node_id = "load-test";
    options.listen_address = "127.0.0.1:0";
    options.http_listen_address = "127.0.0.1:0";
    options.engine.worker_threads = 3;
    options.labels = {{"gpu", "h100"}, {"region", "eu"}};
    options.capacity_weight = 3.0;
    options.slowdown = 2.0;
    auto node = PeerNode::Start(options);
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = std::move(node).value();
    stub_ = pb::BlazenPeer::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(node_->port()), grpc::InsecureChannelCredentials()));
  }

  // Invokes over gRPC; returns the status and the load report of the response.
  std::pair<grpc::Status, LoadReport> Invoke(std::vector<std::string> steps, const json& input,
                                             std::chrono::milliseconds deadline = 30s,
                                             SubWorkflowResponse* response = nullptr,
                                             bool answered_by_peer = true) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    pb::PostcardRequest request;
    const ByteVector payload =
        EncodePostcard(MakeSubWorkflowRequest("wf", std::move(steps), input, 30).value()).value();
    request.set_postcard_payload(payload.data(), payload.size());
    pb::PostcardResponse out;
    grpc::Status st = stub_->InvokeSubWorkflow(&ctx, request, &out);
    if (st.ok() && response != nullptr) {
      *response = DecodeSubWorkflowResponse(AsBytes(out.postcard_payload())).value();
    }
    // A call that ran out of time locally has no answer from the peer, so no report.
    return {st, answered_by_peer ? TrailerOf(ctx) : LoadReport{}};
  }

  static LoadReport TrailerOf(const grpc::ClientContext& ctx) {
    const auto& md = ctx.GetServerTrailingMetadata();
    auto it = md.find(std::string(kLoadReportHeader));
    EXPECT_NE(it, md.end()) << "no load report on the response";
    if (it == md.end()) return {};
    Result<LoadReport> report = ParseLoadReport(std::string(it->second.data(), it->second.size()));
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : LoadReport{};
  }

  std::unique_ptr<PeerNode> node_;
  std::unique_ptr<pb::BlazenPeer::Stub> stub_;
};

TEST_F(LoadReportServerTest, EveryGrpcResponseCarriesANewerLoadReport) {
  auto [ok, first] = Invoke({"blazen::echo"}, 1);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(first.max_concurrency, 3u);
  EXPECT_EQ(first.capacity_weight, 3.0);
  EXPECT_GT(first.pool_budget_bytes, 0u);
  auto [failed, second] = Invoke({"nope::step"}, 1);
  EXPECT_EQ(failed.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_GT(second.seq, first.seq) << "errors carry a report too, and sequences grow";

  SubWorkflowResponse blob;
  ASSERT_TRUE(Invoke({"blazen::host_blob"}, json{{"bytes", 5000}}, 30s, &blob).first.ok());
  grpc::ClientContext ctx;
  pb::DescribePeerRequest request;
  request.set_envelope_version(1);
  pb::DescribePeerResponse described;
  ASSERT_TRUE(stub_->DescribePeer(&ctx, request, &described).ok());
  const LoadReport trailer = TrailerOf(ctx);
  EXPECT_EQ(trailer.resident_ref_bytes, 5000u);
  EXPECT_EQ(described.labels().at("gpu"), "h100");
  EXPECT_EQ(described.labels().at("region"), "eu");
  EXPECT_EQ(described.capacity_weight(), 3.0);
  EXPECT_EQ(described.gpu_model(), "") << "the host fallback has no GPU model";
  EXPECT_EQ(described.load().max_concurrency(), 3u);
  EXPECT_EQ(described.load().resident_ref_bytes(), 5000u);

  grpc::ClientContext stream_ctx;
  pb::DerefStreamRequest deref;
  deref.set_ref_uuid(blob.remote_refs.begin()->first.ToString());
  deref.set_envelope_version(1);
  auto reader = stub_->DerefSessionRefStream(&stream_ctx, deref);
  pb::DerefChunk chunk;
  while (reader->Read(&chunk)) {
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_GT(TrailerOf(stream_ctx).seq, trailer.seq);
}

TEST_F(LoadReportServerTest, EveryHttpAnswerCarriesTheLoadHeader) {
  httplib::Client client("127.0.0.1", node_->http_port());
  const std::string body =
      EncodeJson(MakeSubWorkflowRequest("wf", {"blazen::echo"}, 1, 30).value()).value();
  std::uint64_t last_seq = 0;
  for (const char* path : {"/healthz", "/v1/peer/describe", "/metrics"}) {
    auto r = client.Get(path);
    ASSERT_TRUE(r) << path;
    Result<LoadReport> report = ParseLoadReport(r->get_header_value("X-Blazen-Load"));
    ASSERT_TRUE(report.ok()) << path << ": " << report.status();
    EXPECT_GT(report->seq, last_seq);
    last_seq = report->seq;
  }
  auto invoked = client.Post("/v1/peer/invoke_sub_workflow", body, "application/json");
  ASSERT_TRUE(invoked && invoked->status == 200);
  EXPECT_TRUE(ParseLoadReport(invoked->get_header_value("X-Blazen-Load")).ok());
  auto bad = client.Post("/v1/peer/invoke_sub_workflow", "{", "application/json");
  ASSERT_TRUE(bad && bad->status == 400);
  EXPECT_TRUE(ParseLoadReport(bad->get_header_value("X-Blazen-Load")).ok());
  auto described = client.Get("/v1/peer/describe");
  const json d = ParseJson(described->body).value();
  EXPECT_EQ(d["labels"]["gpu"], "h100");
  EXPECT_EQ(d["capacity_weight"], 3.0);
}

TEST_F(LoadReportServerTest, BusyOccupiesASlotForItsTimeTimesTheSlowdown) {
  auto running = std::async(std::launch::async, [&] {
    SubWorkflowResponse response;
    auto [st, report] = Invoke({"blazen::busy"}, json{{"ms", 150}}, 30s, &response);
    EXPECT_TRUE(st.ok());
    return response;
  });
  // While it runs, the load reports one run in flight (busy is a pooled run).
  bool seen_in_flight = false;
  for (int i = 0; i < 100 && !seen_in_flight; ++i) {
    seen_in_flight = Invoke({"blazen::echo"}, 1).second.in_flight >= 1;
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(seen_in_flight);
  const SubWorkflowResponse done = running.get();
  ASSERT_FALSE(done.error.has_value()) << *done.error;
  const json result = ParseJson(*done.result_json).value();
  EXPECT_GE(result["slept_ms"].get<double>(), 300.0) << "150 ms at slowdown 2";
}

TEST_F(LoadReportServerTest, BusyStopsAtTheCallersDeadline) {
  const auto start = std::chrono::steady_clock::now();
  auto [st, report] =
      Invoke({"blazen::busy"}, json{{"ms", 60'000}}, 200ms, nullptr, /*answered_by_peer=*/false);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The run itself ends too (cancelled with the call), not 120 s later.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (node_->engine().active_runs() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(node_->engine().active_runs(), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  auto [bad, unused] = Invoke({"blazen::busy"}, json{{"ms", -1}});
  ASSERT_TRUE(bad.ok());  // a step's input error is a workflow error, not a call error
}

TEST(LoadReportOptionsTest, WeightAndSlowdownMustBePositive) {
  PeerNodeOptions options;
  options.listen_address = "127.0.0.1:0";
  options.capacity_weight = 0.0;
  EXPECT_THAT(PeerNode::Start(options), StatusIs(StatusCode::kInvalidArgument));
  options.capacity_weight.reset();
  options.slowdown = -1;
  EXPECT_THAT(PeerNode::Start(options), StatusIs(StatusCode::kInvalidArgument));
  options.slowdown = 1;
  auto node = PeerNode::Start(options);
  ASSERT_TRUE(node.ok());
  grpc::ClientContext ctx;
  pb::DescribePeerRequest request;
  request.set_envelope_version(1);
  pb::DescribePeerResponse described;
  auto stub = pb::BlazenPeer::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string((*node)->port()), grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(stub->DescribePeer(&ctx, request, &described).ok());
  EXPECT_EQ(described.capacity_weight(), 1.0) << "the host fallback's default weight";
}

}  // namespace
}  // namespace blazen::server
