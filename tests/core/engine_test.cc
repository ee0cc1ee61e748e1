// SPDX-License-Identifier: Apache-2.0
// The workflow engine: step resolution, event routing, errors, deadlines, cancellation, the bounded
// worker pool, state export, remote_refs scoping and the end-of-run ref purge.

#include "core/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

#include "core/builtin_steps.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/step.h"
#include "tests/testing/status_matchers.h"

namespace blazen {
namespace {

using ::blazen::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;
using namespace std::chrono_literals;

SubWorkflowRequest Request(std::vector<std::string> steps, const json& input,
                           std::optional<std::uint64_t> timeout = std::nullopt,
                           std::string workflow = "wf") {
  return MakeSubWorkflowRequest(std::move(workflow), std::move(steps), input, timeout).value();
}

json ResultOf(const SubWorkflowResponse& response) {
  EXPECT_FALSE(response.error.has_value()) << *response.error;
  EXPECT_TRUE(response.result_json.has_value());
  return ParseJson(response.result_json.value_or("null")).value();
}

Step SimpleStep(std::string name, std::string accepts, StepHandler handler) {
  Step step;
  step.name = std::move(name);
  step.accepts = {std::move(accepts)};
  step.handler = std::move(handler);
  return step;
}

const std::string kStart(kStartEventType);

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    RegisterBuiltinSteps();
    RegisterStepBuilder("test::to_mid", [] {
      return SimpleStep("to_mid", kStart, [](const Event& e, Context&) -> Result<StepOutput> {
        return StepOutput{Event::Of("test::Mid", json{{"v", e.data()}})};
      });
    });
    RegisterStepBuilder("test::mid_to_stop", [] {
      return SimpleStep("mid_to_stop", "test::Mid",
                        [](const Event& e, Context&) -> Result<StepOutput> {
                          return StepOutput{Event::Stop(json{{"wrapped", e.payload["v"]}})};
                        });
    });
    RegisterStepBuilder("test::fan_out", [] {
      return SimpleStep("fan_out", kStart, [](const Event&, Context&) -> Result<StepOutput> {
        return StepOutput{Event::Of("test::Part", json{{"i", 1}}),
                          Event::Of("test::Part", json{{"i", 2}}),
                          Event::Of("test::Part", json{{"i", 3}})};
      });
    });
    RegisterStepBuilder("test::sum_parts", [] {
      return SimpleStep(
          "sum_parts", "test::Part", [](const Event& e, Context& ctx) -> Result<StepOutput> {
            const int sum = ctx.GetState("sum").value_or(0).get<int>() + e.payload["i"].get<int>();
            ctx.SetState("sum", sum);
            if (e.payload["i"] == 3) return StepOutput{Event::Stop(sum)};
            return StepOutput{};
          });
    });
    RegisterStepBuilder("test::orphan", [] {
      return SimpleStep("orphan", kStart, [](const Event&, Context&) -> Result<StepOutput> {
        return StepOutput{Event::Of("test::NobodyListens", json::object())};
      });
    });
    RegisterStepBuilder("test::thrower", [] {
      return SimpleStep("thrower", kStart, [](const Event&, Context&) -> Result<StepOutput> {
        throw std::runtime_error("kaboom");
      });
    });
    RegisterStepBuilder("test::blob_then_fail", [] {
      return SimpleStep(
          "blob_then_fail", kStart, [](const Event&, Context& ctx) -> Result<StepOutput> {
            auto v = std::make_shared<HostBytesValue>("bytes", std::vector<std::uint8_t>(10, 1));
            BLAZEN_RETURN_IF_ERROR(ctx.InsertRef(v, RefLifetime::kUntilExplicitDrop));
            return Status::Internal("after creating a ref");
          });
    });
    RegisterStepBuilder("test::blob_then_sleep", [] {
      return SimpleStep(
          "blob_then_sleep", kStart, [](const Event&, Context& ctx) -> Result<StepOutput> {
            auto v = std::make_shared<HostBytesValue>("bytes", std::vector<std::uint8_t>(10, 1));
            BLAZEN_RETURN_IF_ERROR(ctx.InsertRef(v, RefLifetime::kUntilParentFinish));
            while (!ctx.cancelled()) std::this_thread::sleep_for(1ms);
            return ctx.CheckCancelled();
          });
    });
    RegisterStepBuilder("test::slow_with_timeout", [] {
      Step step = SimpleStep("slow", kStart, [](const Event&, Context& ctx) -> Result<StepOutput> {
        while (!ctx.cancelled()) std::this_thread::sleep_for(1ms);
        return ctx.CheckCancelled();
      });
      step.timeout = 50ms;
      return step;
    });
  }

  EngineOptions Options() {
    EngineOptions options;
    options.node_id = "node-under-test";
    options.worker_threads = 8;
    return options;
  }
};

// --- Resolution and request errors -------------------------------------------------------------

TEST_F(EngineTest, EchoReturnsInputAndStampsVersion) {
  Engine engine(Options(), nullptr);
  const json input = {{"hello", "world"}, {"n", 42}};
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                              engine.Invoke(Request({"blazen::echo"}, input)));
  EXPECT_EQ(ResultOf(r), input);
  EXPECT_EQ(r.envelope_version, kEnvelopeVersion);
  EXPECT_TRUE(r.remote_refs.empty());
  EXPECT_TRUE(r.state_json.empty());
}

TEST_F(EngineTest, NonObjectInputsAreAccepted) {
  Engine engine(Options(), nullptr);
  for (const json& input : {json(7), json("text"), json::array({1, 2}), json(nullptr)}) {
    BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                                engine.Invoke(Request({"blazen::echo"}, input)));
    EXPECT_EQ(ResultOf(r), input);
  }
}

TEST_F(EngineTest, EmptyStepIdsUseTheWorkflowsDefaultSteps) {
  Engine engine(Options(), nullptr);
  AddBuiltinWorkflows(engine);
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                              engine.Invoke(Request({}, json{{"x", 1}}, std::nullopt, "echo")));
  EXPECT_EQ(ResultOf(r), (json{{"x", 1}}));
  EXPECT_THAT(engine.DefaultWorkflows().at("state"),
              ElementsAre("blazen::state_set", "blazen::echo"));
}

TEST_F(EngineTest, UnknownWorkflowWithoutStepsIsNotFoundNamingIt) {
  Engine engine(Options(), nullptr);
  EXPECT_THAT(engine.Invoke(Request({}, json::object(), std::nullopt, "no-such-flow")),
              StatusIs(StatusCode::kNotFound, HasSubstr("`no-such-flow`")));
}

TEST_F(EngineTest, UnknownStepIsNotFoundWithUpstreamText) {
  Engine engine(Options(), nullptr);
  Result<SubWorkflowResponse> r =
      engine.Invoke(Request({"blazen::echo", "does_not_exist::step"}, json::object()));
  EXPECT_THAT(r, StatusIs(StatusCode::kNotFound, "unknown step id `does_not_exist::step`"));
  EXPECT_EQ(r.status().kind(), ErrorKind::kUnknownStep);
}

TEST_F(EngineTest, InvalidInputJsonIsInvalidArgument) {
  Engine engine(Options(), nullptr);
  SubWorkflowRequest req = Request({"blazen::echo"}, json::object());
  req.input_json = "{not json";
  EXPECT_THAT(engine.Invoke(req),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("invalid input JSON: ")));
  req.input_json = std::string(1000, '[');
  EXPECT_THAT(engine.Invoke(req),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("nesting depth")));
}

TEST_F(EngineTest, NewerEnvelopeIsFailedPrecondition) {
  Engine engine(Options(), nullptr);
  SubWorkflowRequest req = Request({"blazen::echo"}, json::object());
  req.envelope_version = 2;
  EXPECT_THAT(engine.Invoke(req), StatusIs(StatusCode::kFailedPrecondition));
  req.envelope_version = 0;
  EXPECT_TRUE(engine.Invoke(req).ok());
}

// --- Routing and workflow errors ---------------------------------------------------------------

TEST_F(EngineTest, EventsRouteByTypeThroughSeveralSteps) {
  Engine engine(Options(), nullptr);
  // Order of step ids does not matter: routing is by event type.
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      SubWorkflowResponse r,
      engine.Invoke(Request({"test::mid_to_stop", "test::to_mid"}, json("payload"))));
  EXPECT_EQ(ResultOf(r), (json{{"wrapped", "payload"}}));
}

TEST_F(EngineTest, StepsMayEmitSeveralEventsAndShareState) {
  Engine engine(Options(), nullptr);
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                              engine.Invoke(Request({"test::fan_out", "test::sum_parts"}, 0)));
  EXPECT_EQ(ResultOf(r), json(6));
  EXPECT_EQ(r.state_json.at("sum"), "6");
}

TEST_F(EngineTest, StateIsExported) {
  Engine engine(Options(), nullptr);
  const json input = {{"a", 1}, {"b", "x"}, {"c", {{"nested", true}}}};
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                              engine.Invoke(Request({"blazen::state_set", "blazen::echo"}, input)));
  EXPECT_EQ(ResultOf(r), input);
  ASSERT_EQ(r.state_json.size(), 3u);
  EXPECT_EQ(r.state_json.at("a"), "1");
  EXPECT_EQ(r.state_json.at("b"), "\"x\"");
  EXPECT_EQ(ParseJson(r.state_json.at("c")).value(), (json{{"nested", true}}));
}

TEST_F(EngineTest, FailingStepEndsRunWithItsName) {
  Engine engine(Options(), nullptr);
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                              engine.Invoke(Request({"blazen::fail"}, json{{"message", "boom"}})));
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(*r.error, "workflow error: step 'fail' failed: boom");
  EXPECT_FALSE(r.result_json.has_value());
}

TEST_F(EngineTest, ThrowingStepIsCaught) {
  Engine engine(Options(), nullptr);
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                              engine.Invoke(Request({"test::thrower"}, json::object())));
  EXPECT_EQ(r.error.value_or(""), "workflow error: step 'thrower' failed: kaboom");
  // The engine is still healthy.
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse ok,
                              engine.Invoke(Request({"blazen::echo"}, json(1))));
  EXPECT_EQ(ResultOf(ok), json(1));
}

TEST_F(EngineTest, UnhandledEventFailsRun) {
  Engine engine(Options(), nullptr);
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                              engine.Invoke(Request({"test::orphan"}, json::object())));
  EXPECT_EQ(r.error.value_or(""), "workflow error: no handler for event type: test::NobodyListens");
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r2,
                              engine.Invoke(Request({"test::mid_to_stop"}, json::object())));
  EXPECT_EQ(r2.error.value_or(""), "workflow error: no handler for event type: blazen::StartEvent");
}

TEST_F(EngineTest, RunWithoutStopEventFailsInsteadOfHanging) {
  Engine engine(Options(), nullptr);
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                              engine.Invoke(Request({"blazen::state_set"}, json{{"a", 1}})));
  EXPECT_THAT(r.error.value_or(""), HasSubstr("ended without a blazen::StopEvent"));
}

// --- Deadlines and cancellation ----------------------------------------------------------------

TEST_F(EngineTest, RequestTimeoutAnswersAtTheDeadline) {
  Engine engine(Options(), nullptr);
  const auto start = std::chrono::steady_clock::now();
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                              engine.Invoke(Request({"blazen::sleep"}, json{{"seconds", 30}}, 1)));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.error.value_or(""), "workflow timed out after 1s");
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 20s);  // far below the step's 30 s: the deadline, not the step, ended it
}

TEST_F(EngineTest, DefaultTimeoutAppliesWhenRequestHasNone) {
  EngineOptions options = Options();
  options.default_timeout = 1s;
  Engine engine(options, nullptr);
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                              engine.Invoke(Request({"blazen::sleep"}, json{{"seconds", 30}})));
  EXPECT_EQ(r.error.value_or(""), "workflow timed out after 1s");
}

TEST_F(EngineTest, TimedOutRunsRefsArePurgedWhenItEnds) {
  auto refs = std::make_shared<SessionRefRegistry>();
  Engine engine(Options(), refs);
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                              engine.Invoke(Request({"test::blob_then_sleep"}, json(0), 1)));
  EXPECT_EQ(r.error.value_or(""), "workflow timed out after 1s");
  EXPECT_TRUE(r.remote_refs.empty());
  for (int i = 0; i < 500 && engine.active_runs() > 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(engine.active_runs(), 0u);
  EXPECT_EQ(refs->size(), 0u);
}

TEST_F(EngineTest, PerStepTimeout) {
  Engine engine(Options(), nullptr);
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                              engine.Invoke(Request({"test::slow_with_timeout"}, json(0), 30)));
  EXPECT_EQ(r.error.value_or(""), "workflow error: step 'slow' timed out after 50ms");
}

TEST_F(EngineTest, CancellationTokenStopsTheRun) {
  Engine engine(Options(), nullptr);
  InvocationOptions options;
  options.cancel = std::make_shared<CancellationToken>();
  std::thread canceller([token = options.cancel] {
    std::this_thread::sleep_for(100ms);
    token->Cancel();
  });
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      SubWorkflowResponse r,
      engine.Invoke(Request({"blazen::sleep"}, json{{"seconds", 30}}, 60), options));
  canceller.join();
  EXPECT_EQ(r.error.value_or(""), "workflow cancelled");
}

TEST_F(EngineTest, ShutdownCancelsRunsAndRefusesNewOnes) {
  Engine engine(Options(), nullptr);
  std::promise<SubWorkflowResponse> promise;
  BLAZEN_ASSERT_OK(engine.InvokeAsync(Request({"blazen::sleep"}, json{{"seconds", 30}}, 60), {},
                                      [&](SubWorkflowResponse r) { promise.set_value(r); }));
  std::this_thread::sleep_for(50ms);
  engine.Shutdown(100ms);
  EXPECT_EQ(promise.get_future().get().error.value_or(""), "workflow cancelled");
  EXPECT_THAT(engine.Invoke(Request({"blazen::echo"}, json(1))),
              StatusIs(StatusCode::kUnavailable));
  engine.Shutdown(0ms);  // idempotent
}

TEST_F(EngineTest, ShutdownGraceLetsShortRunsFinish) {
  Engine engine(Options(), nullptr);
  std::promise<SubWorkflowResponse> promise;
  BLAZEN_ASSERT_OK(engine.InvokeAsync(Request({"blazen::sleep"}, json{{"seconds", 0.2}}, 60), {},
                                      [&](SubWorkflowResponse r) { promise.set_value(r); }));
  engine.Shutdown(10s);
  const SubWorkflowResponse r = promise.get_future().get();
  EXPECT_FALSE(r.error.has_value()) << *r.error;
}

// --- Concurrency and the bounded pool ----------------------------------------------------------

TEST_F(EngineTest, FullPoolRejectsWithResourceExhausted) {
  EngineOptions options = Options();
  options.worker_threads = 1;
  options.max_queued_runs = 1;
  Engine engine(options, nullptr);
  std::atomic<int> done{0};
  auto count = [&](SubWorkflowResponse) { ++done; };
  const SubWorkflowRequest slow = Request({"blazen::sleep"}, json{{"seconds", 0.5}}, 60);
  BLAZEN_ASSERT_OK(engine.InvokeAsync(slow, {}, count));  // running
  std::this_thread::sleep_for(50ms);
  BLAZEN_ASSERT_OK(engine.InvokeAsync(slow, {}, count));  // queued
  EXPECT_THAT(engine.InvokeAsync(slow, {}, count),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("peer is busy")));
  for (int i = 0; i < 300 && done < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(done.load(), 2);
  // Capacity is back.
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                              engine.Invoke(Request({"blazen::echo"}, json(5))));
  EXPECT_EQ(ResultOf(r), json(5));
}

TEST_F(EngineTest, SixtyFourConcurrentInvocations) {
  Engine engine(Options(), nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < 64; ++i) {
    threads.emplace_back([&, i] {
      Result<SubWorkflowResponse> r =
          engine.Invoke(Request({"blazen::state_set", "blazen::echo"}, json{{"i", i}}));
      if (r.ok() && !r->error && ParseJson(*r->result_json).value() == json{{"i", i}} &&
          r->state_json.at("i") == std::to_string(i)) {
        ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 64);
}

TEST_F(EngineTest, MaxConcurrencyBoundsAStepAcrossRuns) {
  static std::atomic<int> running{0};
  static std::atomic<int> peak{0};
  RegisterStepBuilder("test::bounded", [] {
    Step step = SimpleStep("bounded", kStart, [](const Event&, Context&) -> Result<StepOutput> {
      const int now = ++running;
      int seen = peak.load();
      while (now > seen && !peak.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(30ms);
      --running;
      return StepOutput{Event::Stop(json(true))};
    });
    step.max_concurrency = 2;
    return step;
  });
  Engine engine(Options(), nullptr);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back(
        [&] { EXPECT_TRUE(engine.Invoke(Request({"test::bounded"}, json(0), 30)).ok()); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(peak.load(), 2);
}

// --- Session refs and remote_refs --------------------------------------------------------------

TEST_F(EngineTest, RemoteRefsListExactlyThisRunsSurvivingRefs) {
  auto refs = std::make_shared<SessionRefRegistry>();
  Engine engine(Options(), refs);
  const auto before =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  auto blob = [&](const char* lifetime) {
    return engine.Invoke(
        Request({"blazen::host_blob"}, json{{"bytes", 1000}, {"lifetime", lifetime}}));
  };
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse a, blob("until_parent_finish"));
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse b, blob("until_explicit_drop"));
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse c, blob("until_context_drop"));
  ASSERT_EQ(a.remote_refs.size(), 1u);
  ASSERT_EQ(b.remote_refs.size(), 1u);
  EXPECT_TRUE(c.remote_refs.empty());  // purged with its run
  EXPECT_NE(a.remote_refs.begin()->first, b.remote_refs.begin()->first);

  const auto& [key, descriptor] = *a.remote_refs.begin();
  EXPECT_EQ(ResultOf(a)["ref"], key.ToString());
  EXPECT_EQ(descriptor.origin_node_id, "node-under-test");
  EXPECT_EQ(descriptor.type_tag, "bytes");
  EXPECT_GE(descriptor.created_at_epoch_ms, before);
  EXPECT_LE(descriptor.created_at_epoch_ms, before + 60'000);
  EXPECT_EQ(refs->size(), 2u);
  EXPECT_EQ(refs->LifetimeOf(key), RefLifetime::kUntilParentFinish);

  // The payload is the documented pattern.
  BLAZEN_ASSERT_OK_AND_ASSIGN(RefLease lease, refs->Acquire(key));
  std::vector<std::uint8_t> bytes(1000);
  BLAZEN_ASSERT_OK(lease.value().Read(0, bytes));
  for (std::size_t i = 0; i < bytes.size(); ++i) ASSERT_EQ(bytes[i], HostBlobByte(i)) << i;
}

TEST_F(EngineTest, ConcurrentRunsSeeOnlyTheirOwnRefs) {
  auto refs = std::make_shared<SessionRefRegistry>();
  Engine engine(Options(), refs);
  constexpr int kRuns = 16;
  std::vector<SubWorkflowResponse> responses(kRuns);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRuns; ++i) {
    threads.emplace_back([&, i] {
      responses[static_cast<std::size_t>(i)] =
          engine.Invoke(Request({"blazen::host_blob"}, json{{"bytes", 64 + i}})).value();
    });
  }
  for (auto& t : threads) t.join();
  std::set<Uuid> all;
  for (int i = 0; i < kRuns; ++i) {
    const SubWorkflowResponse& r = responses[static_cast<std::size_t>(i)];
    ASSERT_EQ(r.remote_refs.size(), 1u) << i;
    const Uuid key = r.remote_refs.begin()->first;
    EXPECT_EQ(ResultOf(r)["ref"], key.ToString());
    EXPECT_EQ(refs->Info(key)->size_bytes, static_cast<std::uint64_t>(64 + i));
    all.insert(key);
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kRuns));
}

TEST_F(EngineTest, FailedRunPurgesEveryRefItCreated) {
  auto refs = std::make_shared<SessionRefRegistry>();
  Engine engine(Options(), refs);
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                              engine.Invoke(Request({"test::blob_then_fail"}, json(0))));
  EXPECT_THAT(r.error.value_or(""), HasSubstr("after creating a ref"));
  EXPECT_TRUE(r.remote_refs.empty());
  EXPECT_EQ(refs->size(), 0u);
}

TEST_F(EngineTest, ParentRunIdScopesRefsForReleaseScope) {
  auto refs = std::make_shared<SessionRefRegistry>();
  Engine engine(Options(), refs);
  InvocationOptions parent_a;
  parent_a.parent_run_id = "parent-a";
  InvocationOptions parent_b;
  parent_b.parent_run_id = "parent-b";
  const SubWorkflowRequest blob = Request({"blazen::host_blob"}, json{{"bytes", 10}});
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse a1, engine.Invoke(blob, parent_a));
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse a2, engine.Invoke(blob, parent_a));
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse b1, engine.Invoke(blob, parent_b));
  EXPECT_EQ(refs->size(), 3u);
  EXPECT_EQ(refs->ReleaseScope("parent-a"), 2u);
  EXPECT_EQ(refs->size(), 1u);
  EXPECT_TRUE(refs->LifetimeOf(b1.remote_refs.begin()->first).has_value());
  EXPECT_FALSE(refs->LifetimeOf(a1.remote_refs.begin()->first).has_value());
}

TEST_F(EngineTest, HostBlobOverTheByteLimitFailsCleanly) {
  RegistryOptions limits;
  limits.max_bytes_per_location["host"] = 4096;
  auto refs = std::make_shared<SessionRefRegistry>(limits);
  Engine engine(Options(), refs);
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                              engine.Invoke(Request({"blazen::host_blob"}, json{{"bytes", 5000}})));
  EXPECT_THAT(r.error.value_or(""), HasSubstr("step 'host_blob' failed: "));
  EXPECT_THAT(r.error.value_or(""), HasSubstr("4096"));
  EXPECT_EQ(refs->size(), 0u);
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse bad,
                              engine.Invoke(Request({"blazen::host_blob"}, json{{"bytes", -1}})));
  EXPECT_THAT(bad.error.value_or(""), HasSubstr("non-negative integer"));
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      SubWorkflowResponse bad_lifetime,
      engine.Invoke(Request({"blazen::host_blob"}, json{{"bytes", 1}, {"lifetime", "forever"}})));
  EXPECT_THAT(bad_lifetime.error.value_or(""), HasSubstr("until_parent_finish"));
}

TEST_F(EngineTest, StepsSeeTheNodeServices) {
  RegisterStepBuilder("test::read_services", [] {
    return SimpleStep("read_services", kStart,
                      [](const Event&, Context& ctx) -> Result<StepOutput> {
                        const auto* name = std::any_cast<std::string>(&ctx.services());
                        if (name == nullptr) return Status::FailedPrecondition("no services");
                        return StepOutput{Event::Stop(*name)};
                      });
  });
  EngineOptions options = Options();
  options.services = std::string("gpu-runtime-stand-in");
  Engine engine(options, nullptr);
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse r,
                              engine.Invoke(Request({"test::read_services"}, json(0))));
  EXPECT_EQ(ResultOf(r), json("gpu-runtime-stand-in"));
  Engine bare(Options(), nullptr);
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse none,
                              bare.Invoke(Request({"test::read_services"}, json(0))));
  EXPECT_THAT(none.error.value_or(""), HasSubstr("no services"));
}

// --- Inline runs -------------------------------------------------------------------------------

// A step that reports the thread it ran on (as a hash) and whether the test allowed it inline.
Step ThreadReportingStep(bool runs_inline) {
  Step step = SimpleStep("where", kStart, [](const Event&, Context&) -> Result<StepOutput> {
    return StepOutput{Event::Stop(json(std::hash<std::thread::id>{}(std::this_thread::get_id())))};
  });
  step.runs_inline = runs_inline;
  return step;
}

// Runs `request` through InvokeAsync and says whether its step ran on this thread (a pooled run may
// also finish before InvokeAsync returns, so only the thread tells them apart).
bool RanInline(Engine& engine, const SubWorkflowRequest& request, bool allow_inline) {
  InvocationOptions options;
  options.allow_inline = allow_inline;
  std::promise<SubWorkflowResponse> promise;
  const Status st = engine.InvokeAsync(
      request, options, [&](SubWorkflowResponse r) { promise.set_value(std::move(r)); });
  EXPECT_TRUE(st.ok()) << st.ToString();
  const SubWorkflowResponse response = promise.get_future().get();
  EXPECT_FALSE(response.error.has_value()) << response.error.value_or("");
  const std::size_t here = std::hash<std::thread::id>{}(std::this_thread::get_id());
  return ResultOf(response) == json(here);
}

TEST_F(EngineTest, InlineStepsRunOnTheCallersThreadOnlyWhenAllowed) {
  RegisterStepBuilder("test::inline_where", [] { return ThreadReportingStep(true); });
  RegisterStepBuilder("test::pooled_where", [] { return ThreadReportingStep(false); });
  RegisterStepBuilder("test::inline_bounded", [] {
    Step step = ThreadReportingStep(true);
    step.max_concurrency = 1;
    return step;
  });
  Engine engine(Options(), nullptr);
  EXPECT_TRUE(RanInline(engine, Request({"test::inline_where"}, json(0)), true));
  EXPECT_FALSE(RanInline(engine, Request({"test::inline_where"}, json(0)), false));
  EXPECT_FALSE(RanInline(engine, Request({"test::pooled_where"}, json(0)), true));
  // A limit on the step needs the pool's bookkeeping, so the run is not inlined.
  EXPECT_FALSE(RanInline(engine, Request({"test::inline_bounded"}, json(0)), true));
  // The built-in echo declares itself inline and still answers correctly.
  InvocationOptions inline_ok;
  inline_ok.allow_inline = true;
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse echo,
                              engine.Invoke(Request({"blazen::echo"}, json{{"k", 1}}), inline_ok));
  EXPECT_EQ(ResultOf(echo), (json{{"k", 1}}));
  // Every run leaves the active set (pooled ones just after answering).
  for (int i = 0; i < 500 && engine.active_runs() != 0; ++i) std::this_thread::sleep_for(2ms);
  EXPECT_EQ(engine.active_runs(), 0u);
}

TEST_F(EngineTest, InlineRunsAreRefusedDuringShutdown) {
  Engine engine(Options(), nullptr);
  InvocationOptions inline_ok;
  inline_ok.allow_inline = true;
  engine.Shutdown(0ms);
  EXPECT_THAT(engine.Invoke(Request({"blazen::echo"}, json(1)), inline_ok),
              StatusIs(StatusCode::kUnavailable));
}

// --- Event streaming ---------------------------------------------------------------------------

TEST_F(EngineTest, EventSinkSeesEveryEventThenTheResponse) {
  Engine engine(Options(), nullptr);
  std::vector<SubWorkflowEvent> items;
  InvocationOptions options;
  options.on_event = [&](const SubWorkflowEvent& e) { items.push_back(e); };
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      SubWorkflowResponse r,
      engine.Invoke(Request({"test::to_mid", "test::mid_to_stop"}, json("p")), options));
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].event_type, "blazen::StartEvent");
  EXPECT_EQ(ParseJson(items[0].data_json).value(), (json{{"data", "p"}}));
  EXPECT_EQ(items[1].event_type, "test::Mid");
  EXPECT_EQ(items[1].step_id, "test::to_mid");
  EXPECT_FALSE(items[1].response.has_value());
  EXPECT_EQ(items[2].event_type, "blazen::StopEvent");
  EXPECT_EQ(items[2].step_id, "test::mid_to_stop");
  ASSERT_TRUE(items[2].response.has_value());
  EXPECT_EQ(*items[2].response, r);
  EXPECT_GT(items[2].timestamp_ms, 0u);
}

TEST_F(EngineTest, EventSinkGetsFailureAsFinalItem) {
  Engine engine(Options(), nullptr);
  std::vector<SubWorkflowEvent> items;
  InvocationOptions options;
  options.on_event = [&](const SubWorkflowEvent& e) { items.push_back(e); };
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      SubWorkflowResponse r,
      engine.Invoke(Request({"blazen::fail"}, json{{"message", "nope"}}), options));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[1].event_type, "blazen::WorkflowError");
  EXPECT_EQ(items[1].step_id, "blazen::fail");
  ASSERT_TRUE(items[1].response.has_value());
  EXPECT_EQ(items[1].response->error, r.error);
}

// --- Step registry -----------------------------------------------------------------------------

TEST(StepRegistryTest, FirstRegistrationWins) {
  // The registry is process-global: a fresh id per run keeps the test repeatable.
  static int round = 0;
  const std::string id = "test::registry_first_" + std::to_string(round++);
  EXPECT_TRUE(RegisterStepBuilder(id, [] { return SimpleStep("first", kStart, nullptr); }));
  EXPECT_FALSE(RegisterStepBuilder(id, [] { return SimpleStep("second", kStart, nullptr); }));
  std::optional<Step> step = LookupStepBuilder(id);
  ASSERT_TRUE(step.has_value());
  EXPECT_EQ(step->name, "first");
  EXPECT_FALSE(LookupStepBuilder("test::never_registered").has_value());
  const std::vector<std::string> ids = RegisteredStepIds();
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end());
  EXPECT_FALSE(RegisterStepBuilder("test::null_builder", nullptr));
}

}  // namespace
}  // namespace blazen
