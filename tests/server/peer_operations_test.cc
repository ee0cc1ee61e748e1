// SPDX-License-Identifier: Apache-2.0
// The transport-neutral middle layer on its own, without any transport: admission, call metadata,
// invocations (counted once, finished once), deref planning and its range rule, whole-ref reads
// with limits, release, release-scope validation and the catch-all.

#include "server/detail/peer_operations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <stdexcept>

#include "core/builtin_steps.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "tests/testing/status_matchers.h"

namespace blazen::server::detail {
namespace {

using ::blazen::testing::StatusIs;
using ::testing::HasSubstr;
using json = nlohmann::json;
using namespace std::chrono_literals;

class PeerOperationsTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(std::nullopt); }
  void TearDown() override { engine_->Shutdown(0ms); }

  void Make(std::optional<std::string> token) {
    if (engine_) engine_->Shutdown(0ms);
    refs_ = std::make_shared<SessionRefRegistry>();
    engine_ = std::make_shared<Engine>(EngineOptions{}, refs_);
    AddBuiltinWorkflows(*engine_);
    PeerOperationsOptions options;
    options.node_id = "ops-test";
    options.token = std::move(token);
    ops_ = std::make_shared<PeerOperations>(options, engine_);
  }

  CallMeta Call(std::map<std::string, std::string> headers = {}) {
    return CallMeta::From("test",
                          [headers](std::string_view name) -> std::optional<std::string_view> {
                            auto it = headers.find(std::string(name));
                            if (it == headers.end()) return std::nullopt;
                            return std::string_view(it->second);
                          });
  }

  // Runs `request` through Invoke and returns what finish received plus the encoded response.
  std::pair<Status, std::optional<SubWorkflowResponse>> RunInvoke(const CallMeta& call,
                                                                  const SubWorkflowRequest& r) {
    auto finished = std::make_shared<std::promise<Status>>();
    std::future<Status> done = finished->get_future();
    std::optional<SubWorkflowResponse> seen;
    auto finishes = std::make_shared<std::atomic<int>>(0);
    ops_->Invoke(
        call, r, std::make_shared<CancellationToken>(), /*allow_inline=*/false,
        [&](const SubWorkflowResponse& response) {
          seen = response;
          return Status::Ok();
        },
        [finished, finishes](const Status& st) {
          ++*finishes;
          finished->set_value(st);
        });
    Status st = done.get();
    EXPECT_EQ(finishes->load(), 1);
    return {st, seen};
  }

  Uuid MakeBlob(std::uint64_t bytes, const CallMeta& call) {
    auto [st, response] = RunInvoke(
        call,
        MakeSubWorkflowRequest("wf", {"blazen::host_blob"},
                               json{{"bytes", bytes}, {"lifetime", "until_parent_finish"}}, 30)
            .value());
    EXPECT_TRUE(st.ok()) << st;
    EXPECT_TRUE(response && !response->error) << (response ? *response->error : "");
    return response->remote_refs.begin()->first;
  }

  std::shared_ptr<SessionRefRegistry> refs_;
  std::shared_ptr<Engine> engine_;
  std::shared_ptr<PeerOperations> ops_;
};

TEST(CallMetaTest, ReadsTheThreeHeadersAndTruncatesTheCaller) {
  std::map<std::string, std::string> headers = {{"authorization", "Bearer x"},
                                                {"x-blazen-peer-node-id", std::string(300, 'n')},
                                                {"x-blazen-parent-run-id", "parent-1"}};
  CallMeta meta =
      CallMeta::From("grpc", [&](std::string_view name) -> std::optional<std::string_view> {
        auto it = headers.find(std::string(name));
        if (it == headers.end()) return std::nullopt;
        return std::string_view(it->second);
      });
  EXPECT_EQ(meta.transport, "grpc");
  EXPECT_EQ(meta.authorization, "Bearer x");
  EXPECT_EQ(meta.caller, std::string(256, 'n'));
  EXPECT_EQ(meta.parent_run_id, "parent-1");

  headers = {{"x-blazen-parent-run-id", ""}};
  meta = CallMeta::From("http", [&](std::string_view name) -> std::optional<std::string_view> {
    auto it = headers.find(std::string(name));
    if (it == headers.end()) return std::nullopt;
    return std::string_view(it->second);
  });
  EXPECT_EQ(meta.caller, "-");
  EXPECT_FALSE(meta.authorization.has_value());
  EXPECT_FALSE(meta.parent_run_id.has_value()) << "an empty parent run id is no parent run id";
}

TEST_F(PeerOperationsTest, AdmissionChecksTheTokenThenTheEnvelope) {
  BLAZEN_EXPECT_OK(ops_->Authorize(Call(), "x"));  // no token configured
  Make("s3cret");
  EXPECT_THAT(ops_->Authorize(Call(), "x"), StatusIs(StatusCode::kUnauthenticated));
  EXPECT_THAT(ops_->Authorize(Call({{"authorization", "Bearer wrong"}}), "x"),
              StatusIs(StatusCode::kUnauthenticated));
  const CallMeta good = Call({{"authorization", "Bearer s3cret"}});
  BLAZEN_EXPECT_OK(ops_->Authorize(good, "x"));
  BLAZEN_EXPECT_OK(ops_->Admit(good, "x", 1));
  EXPECT_THAT(ops_->Admit(good, "x", 2), StatusIs(StatusCode::kFailedPrecondition));
  // The token is checked before the envelope.
  EXPECT_THAT(ops_->Admit(Call(), "x", 2), StatusIs(StatusCode::kUnauthenticated));
  // An empty token means none.
  Make("");
  BLAZEN_EXPECT_OK(ops_->Authorize(Call(), "x"));
}

TEST_F(PeerOperationsTest, InvokeCountsEachOutcomeOnceAndFinishesOnce) {
  const CallMeta call = Call();
  auto [ok, response] =
      RunInvoke(call, MakeSubWorkflowRequest("wf", {"blazen::echo"}, json{{"a", 1}}, 30).value());
  BLAZEN_EXPECT_OK(ok);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(*response->result_json, R"({"a":1})");

  auto [failed, failed_response] = RunInvoke(
      call, MakeSubWorkflowRequest("wf", {"blazen::fail"}, json{{"message", "m"}}, 30).value());
  BLAZEN_EXPECT_OK(failed);
  ASSERT_TRUE(failed_response && failed_response->error);

  auto [unknown, none] =
      RunInvoke(call, MakeSubWorkflowRequest("wf", {"nope::step"}, 1, 30).value());
  EXPECT_THAT(unknown, StatusIs(StatusCode::kNotFound));
  EXPECT_FALSE(none.has_value()) << "encode must not run for a run that never started";

  ops_->RecordRejectedInvocation(call, Status::InvalidArgument("bad"));
  EXPECT_EQ(ops_->metrics().invocations("test", "ok"), 1u);
  EXPECT_EQ(ops_->metrics().invocations("test", "workflow_error"), 1u);
  EXPECT_EQ(ops_->metrics().invocations("test", "not_found"), 1u);
  EXPECT_EQ(ops_->metrics().invocations("test", "invalid_argument"), 1u);
}

TEST_F(PeerOperationsTest, AnEncoderThatThrowsFailsTheCallInsteadOfTheProcess) {
  auto finished = std::make_shared<std::promise<Status>>();
  std::future<Status> done = finished->get_future();
  ops_->Invoke(
      Call(), MakeSubWorkflowRequest("wf", {"blazen::echo"}, 1, 30).value(),
      std::make_shared<CancellationToken>(), /*allow_inline=*/true,
      [](const SubWorkflowResponse&) -> Status { throw std::runtime_error("encoder broke"); },
      [finished](const Status& st) { finished->set_value(st); });
  EXPECT_THAT(done.get(), StatusIs(StatusCode::kInternal, HasSubstr("encoder broke")));
  EXPECT_EQ(ops_->metrics().invocations("test", "internal"), 1u);
}

TEST_F(PeerOperationsTest, EventStreamDeliversEveryEventAndCountsOnTheLast) {
  auto finished = std::make_shared<std::promise<void>>();
  std::future<void> done = finished->get_future();
  auto types = std::make_shared<std::vector<std::string>>();
  BLAZEN_ASSERT_OK(ops_->StartEventStream(
      Call(), MakeSubWorkflowRequest("wf", {"blazen::echo"}, "x", 30).value(),
      std::make_shared<CancellationToken>(), [finished, types](const SubWorkflowEvent& event) {
        types->push_back(event.event_type);
        if (event.response) finished->set_value();
      }));
  done.get();
  const std::vector<std::string> seen = *types;
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.back(), "blazen::StopEvent");
  EXPECT_EQ(ops_->metrics().invocations("test", "ok"), 1u);
  EXPECT_THAT(ops_->StartEventStream(Call(), MakeSubWorkflowRequest("wf", {"x::y"}, 1, 30).value(),
                                     nullptr, [](const SubWorkflowEvent&) { FAIL(); }),
              StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(ops_->metrics().invocations("test", "not_found"), 1u);
}

TEST_F(PeerOperationsTest, OpenDerefPlansRangesAndKeepsTheValueAfterRelease) {
  const CallMeta call = Call();
  const Uuid key = MakeBlob(1000, call);
  BLAZEN_ASSERT_OK_AND_ASSIGN(DerefPlan whole,
                              ops_->OpenDeref(call, key, 0, std::nullopt, EmptyAtEnd::kAllowed));
  EXPECT_EQ(whole.range, (ByteRange{0, 1000}));
  EXPECT_EQ(whole.total, 1000u);
  EXPECT_EQ(whole.type_tag, "bytes");
  BLAZEN_ASSERT_OK_AND_ASSIGN(DerefPlan part,
                              ops_->OpenDeref(call, key, 990, 100, EmptyAtEnd::kAllowed));
  EXPECT_EQ(part.range, (ByteRange{990, 1000}));
  EXPECT_THAT(ops_->OpenDeref(call, key, 1001, std::nullopt, EmptyAtEnd::kAllowed),
              StatusIs(StatusCode::kOutOfRange, HasSubstr(key.ToString())));
  EXPECT_THAT(ops_->OpenDeref(call, Uuid::NewV4(), 0, std::nullopt, EmptyAtEnd::kAllowed),
              StatusIs(StatusCode::kNotFound));
  // A release during a deref: the ref is gone for new calls, the plan still reads it.
  EXPECT_TRUE(ops_->Release(call, key));
  EXPECT_FALSE(ops_->Release(call, key));
  std::vector<std::uint8_t> bytes(10);
  BLAZEN_EXPECT_OK(part.lease.value().Read(990, bytes));
  EXPECT_THAT(ops_->OpenDeref(call, key, 0, std::nullopt, EmptyAtEnd::kAllowed),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(PeerOperationsTest, ReadWholeEnforcesItsLimitAndCountsBytes) {
  const CallMeta call = Call();
  const Uuid key = MakeBlob(5000, call);
  BLAZEN_ASSERT_OK_AND_ASSIGN(std::vector<std::uint8_t> bytes, ops_->ReadWhole(call, key));
  ASSERT_EQ(bytes.size(), 5000u);
  EXPECT_EQ(bytes[300], 300 % 251);
  EXPECT_THAT(ops_->ReadWhole(call, key, 4999, "; use the stream"),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("; use the stream")));
  EXPECT_THAT(ops_->ReadWhole(call, Uuid::NewV4()), StatusIs(StatusCode::kNotFound));
  const std::string text = ops_->metrics().Render(*refs_, nullptr);
  EXPECT_THAT(text, HasSubstr("blazen_peer_deref_bytes_total{transport=\"test\"} 5000"));
}

TEST_F(PeerOperationsTest, ReleaseScopeValidatesThenReleasesOnlyThatScope) {
  const Uuid mine = MakeBlob(10, Call({{"x-blazen-parent-run-id", "p1"}}));
  const Uuid other = MakeBlob(10, Call({{"x-blazen-parent-run-id", "p2"}}));
  EXPECT_THAT(ops_->ReleaseScope(Call(), 1, ""), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ops_->ReleaseScope(Call(), 2, "p1"), StatusIs(StatusCode::kFailedPrecondition));
  BLAZEN_ASSERT_OK_AND_ASSIGN(std::uint64_t released, ops_->ReleaseScope(Call(), 1, "p1"));
  EXPECT_EQ(released, 1u);
  EXPECT_THAT(refs_->Acquire(mine), StatusIs(StatusCode::kNotFound));
  BLAZEN_EXPECT_OK(refs_->Acquire(other).status());
}

TEST_F(PeerOperationsTest, DescribeNamesTheNodeAndItsSteps) {
  const PeerDescription d = ops_->Describe();
  EXPECT_EQ(d.node_id, "ops-test");
  EXPECT_THAT(d.step_ids, ::testing::Contains("blazen::echo"));
}

TEST(RunGuardedTest, TurnsExceptionsIntoInternal) {
  EXPECT_THAT(RunGuarded([]() -> Status { throw std::runtime_error("boom"); }),
              StatusIs(StatusCode::kInternal, HasSubstr("boom")));
  EXPECT_THAT(RunGuarded([]() -> Status { throw 42; }), StatusIs(StatusCode::kInternal));
  EXPECT_THAT(RunGuarded([] { return Status::NotFound("n"); }), StatusIs(StatusCode::kNotFound));
}

TEST(PlanByteRangeTest, EveryEdge) {
  const Uuid key = Uuid::NewV4();
  auto plan = [&](std::uint64_t total, std::uint64_t offset, std::optional<std::uint64_t> length,
                  EmptyAtEnd at_end) { return PlanByteRange(key, total, offset, length, at_end); };
  EXPECT_EQ(*plan(100, 0, std::nullopt, EmptyAtEnd::kAllowed), (ByteRange{0, 100}));
  EXPECT_EQ(*plan(100, 10, 20, EmptyAtEnd::kAllowed), (ByteRange{10, 30}));
  EXPECT_EQ(*plan(100, 90, 20, EmptyAtEnd::kAllowed), (ByteRange{90, 100}));
  EXPECT_EQ(*plan(100, 10, UINT64_MAX, EmptyAtEnd::kAllowed), (ByteRange{10, 100}));
  EXPECT_EQ(*plan(100, 100, std::nullopt, EmptyAtEnd::kAllowed), (ByteRange{100, 100}));
  EXPECT_EQ(*plan(0, 0, std::nullopt, EmptyAtEnd::kAllowed), (ByteRange{0, 0}));
  EXPECT_EQ(*plan(100, 10, 0, EmptyAtEnd::kAllowed), (ByteRange{10, 10}));
  EXPECT_THAT(plan(100, 101, std::nullopt, EmptyAtEnd::kAllowed),
              StatusIs(StatusCode::kOutOfRange, HasSubstr("offset 101 is past the end")));
  EXPECT_THAT(plan(100, 100, std::nullopt, EmptyAtEnd::kOutOfRange),
              StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(plan(0, 0, 5, EmptyAtEnd::kOutOfRange), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(plan(100, UINT64_MAX, 1, EmptyAtEnd::kAllowed), StatusIs(StatusCode::kOutOfRange));
}

}  // namespace
}  // namespace blazen::server::detail
