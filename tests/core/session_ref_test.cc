// SPDX-License-Identifier: Apache-2.0
// SessionRefRegistry: lifetime rules, idle TTL on an injected clock, capacity limits, byte
// accounting that follows leases, run scoping of remote_refs, destruction outside the lock and
// concurrent use.

#include "core/session_ref.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace blazen {
namespace {

using ::blazen::testing::IsOk;
using ::blazen::testing::StatusIs;
using ::testing::HasSubstr;

// Payload whose bytes encode its size, so a reader can check what it got.
std::vector<std::uint8_t> Pattern(std::size_t n) {
  std::vector<std::uint8_t> bytes(n);
  for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<std::uint8_t>((n + i * 7) & 0xFF);
  return bytes;
}

std::shared_ptr<const SessionValue> Bytes(std::size_t n, std::string tag = "bytes") {
  return std::make_shared<HostBytesValue>(std::move(tag), Pattern(n));
}

// A value with a chosen location and resident size that reports its destruction.
class ProbeValue final : public SessionValue {
 public:
  ProbeValue(std::uint64_t resident, std::string location, std::function<void()> on_destroy = {})
      : resident_(resident), location_(std::move(location)), on_destroy_(std::move(on_destroy)) {}
  ~ProbeValue() override {
    if (on_destroy_) on_destroy_();
  }
  ProbeValue(const ProbeValue&) = delete;
  ProbeValue& operator=(const ProbeValue&) = delete;
  ProbeValue(ProbeValue&&) = delete;
  ProbeValue& operator=(ProbeValue&&) = delete;

  std::string_view type_tag() const override { return "probe"; }
  std::uint64_t size_bytes() const override { return 3; }
  std::uint64_t resident_bytes() const override { return resident_; }
  std::string location() const override { return location_; }
  Status Read(std::uint64_t offset, std::span<std::uint8_t> out) const override {
    if (offset > 3 || out.size() > 3 - offset) return Status::OutOfRange("probe");
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(offset + i);
    return Status::Ok();
  }

 private:
  std::uint64_t resident_;
  std::string location_;
  std::function<void()> on_destroy_;
};

// A steady clock and an epoch clock that only move when the test says so.
struct FakeClock {
  std::shared_ptr<std::atomic<std::int64_t>> steady_ms =
      std::make_shared<std::atomic<std::int64_t>>(0);
  std::shared_ptr<std::atomic<std::uint64_t>> epoch_ms =
      std::make_shared<std::atomic<std::uint64_t>>(1'700'000'000'000);

  RegistryClock Clock() const {
    RegistryClock clock;
    clock.steady_now = [ms = steady_ms] {
      return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms->load()));
    };
    clock.epoch_ms_now = [ms = epoch_ms] { return ms->load(); };
    return clock;
  }
  void Advance(std::chrono::milliseconds d) { steady_ms->fetch_add(d.count()); }
};

RegistryOptions WithTtl(const FakeClock& clock, std::chrono::milliseconds ttl) {
  RegistryOptions options;
  options.parent_finish_idle_ttl = ttl;
  options.clock = clock.Clock();
  return options;
}

RefOwner Owner(std::string run, std::optional<std::string> parent = std::nullopt) {
  return RefOwner{std::move(run), std::move(parent)};
}

std::uint64_t ResidentAt(const SessionRefRegistry& registry, const std::string& location) {
  const RegistryStats stats = registry.Stats();
  auto it = stats.resident_bytes_by_location.find(location);
  return it == stats.resident_bytes_by_location.end() ? 0 : it->second;
}

std::vector<std::uint8_t> ReadAll(const SessionValue& value) {
  std::vector<std::uint8_t> out(value.size_bytes());
  EXPECT_THAT(value.Read(0, out), IsOk());
  return out;
}

TEST(RefLifetimeTest, NamesRoundTrip) {
  EXPECT_EQ(RefLifetimeName(RefLifetime::kUntilContextDrop), "until_context_drop");
  EXPECT_EQ(RefLifetimeName(RefLifetime::kUntilParentFinish), "until_parent_finish");
  EXPECT_EQ(RefLifetimeName(RefLifetime::kUntilExplicitDrop), "until_explicit_drop");
  for (RefLifetime lifetime : {RefLifetime::kUntilContextDrop, RefLifetime::kUntilParentFinish,
                               RefLifetime::kUntilExplicitDrop}) {
    BLAZEN_ASSERT_OK_AND_ASSIGN(RefLifetime parsed, ParseRefLifetime(RefLifetimeName(lifetime)));
    EXPECT_EQ(parsed, lifetime);
  }
}

TEST(RefLifetimeTest, ParseRejectsUnknownNames) {
  for (const char* bad :
       {"", "until_snapshot", "UntilContextDrop", "until_context_drop ", "UNTIL_EXPLICIT_DROP"}) {
    EXPECT_THAT(ParseRefLifetime(bad),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("until_parent_finish")))
        << bad;
  }
}

TEST(HostBytesValueTest, ReadsAnyRangeAndRejectsPastTheEnd) {
  HostBytesValue value("bytes", {10, 11, 12, 13, 14});
  EXPECT_EQ(value.type_tag(), "bytes");
  EXPECT_EQ(value.size_bytes(), 5u);
  EXPECT_EQ(value.resident_bytes(), 5u);
  EXPECT_EQ(value.location(), "host");

  std::vector<std::uint8_t> out(3);
  BLAZEN_ASSERT_OK(value.Read(2, out));
  EXPECT_EQ(out, (std::vector<std::uint8_t>{12, 13, 14}));
  BLAZEN_EXPECT_OK(value.Read(5, std::span<std::uint8_t>()));  // empty read at the end

  EXPECT_THAT(value.Read(3, out), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(value.Read(6, std::span<std::uint8_t>()), StatusIs(StatusCode::kOutOfRange));
  // offset + size wraps around 2^64: must still be out of range.
  EXPECT_THAT(value.Read(std::numeric_limits<std::uint64_t>::max() - 1, out),
              StatusIs(StatusCode::kOutOfRange));
  EXPECT_EQ(out, (std::vector<std::uint8_t>{12, 13, 14}));  // failed reads write nothing
}

TEST(SessionRefRegistryTest, InsertRejectsNullValue) {
  SessionRefRegistry registry;
  EXPECT_THAT(registry.Insert(nullptr, RefLifetime::kUntilExplicitDrop, Owner("run")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(registry.size(), 0u);
}

TEST(SessionRefRegistryTest, InsertRecordsInfoFromTheValueAndTheClock) {
  FakeClock clock;
  RegistryOptions options;
  options.clock = clock.Clock();
  SessionRefRegistry registry(std::move(options));
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      Uuid key, registry.Insert(Bytes(42, "embedding"), RefLifetime::kUntilParentFinish,
                                Owner("run-1", "parent-9")));
  EXPECT_EQ(key.version(), 4);
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_EQ(registry.LifetimeOf(key), RefLifetime::kUntilParentFinish);

  std::optional<RefInfo> info = registry.Info(key);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->key, key);
  EXPECT_EQ(info->lifetime, RefLifetime::kUntilParentFinish);
  EXPECT_EQ(info->type_tag, "embedding");
  EXPECT_EQ(info->created_at_epoch_ms, 1'700'000'000'000u);
  EXPECT_EQ(info->owner.run_id, "run-1");
  EXPECT_EQ(info->owner.parent_run_id, "parent-9");
  EXPECT_EQ(info->size_bytes, 42u);
  EXPECT_EQ(info->resident_bytes, 42u);
  EXPECT_EQ(info->location, "host");

  BLAZEN_ASSERT_OK_AND_ASSIGN(RefLease lease, registry.Acquire(key));
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease.info().key, key);
  EXPECT_EQ(ReadAll(lease.value()), Pattern(42));

  // Keys are fresh random v4 values.
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      Uuid other, registry.Insert(Bytes(1), RefLifetime::kUntilExplicitDrop, Owner("run-1")));
  EXPECT_NE(other, key);
}

TEST(SessionRefRegistryTest, AcquireOfUnknownKeyIsNotFoundNamingTheKey) {
  SessionRefRegistry registry;
  const Uuid key = Uuid::Parse("00112233-4455-4677-8899-AABBCCDDEEFF").value();
  EXPECT_THAT(registry.Acquire(key),
              StatusIs(StatusCode::kNotFound,
                       "session ref 00112233-4455-4677-8899-aabbccddeeff not found"));
  EXPECT_FALSE(registry.Info(key).has_value());
  EXPECT_FALSE(registry.LifetimeOf(key).has_value());
}

TEST(SessionRefRegistryTest, ReleaseTwiceReturnsTrueThenFalse) {
  SessionRefRegistry registry;
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      Uuid key, registry.Insert(Bytes(8), RefLifetime::kUntilExplicitDrop, Owner("run")));
  EXPECT_TRUE(registry.Release(key));
  EXPECT_FALSE(registry.Release(key));
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_THAT(registry.Acquire(key), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(ResidentAt(registry, "host"), 0u);
}

TEST(SessionRefRegistryTest, ReleaseRemovesAnyLifetime) {
  SessionRefRegistry registry;
  for (RefLifetime lifetime : {RefLifetime::kUntilContextDrop, RefLifetime::kUntilParentFinish,
                               RefLifetime::kUntilExplicitDrop}) {
    BLAZEN_ASSERT_OK_AND_ASSIGN(Uuid key, registry.Insert(Bytes(4), lifetime, Owner("run", "p")));
    EXPECT_TRUE(registry.Release(key)) << RefLifetimeName(lifetime);
  }
  EXPECT_EQ(registry.size(), 0u);
}

// Inserts one ref of each lifetime for `run` (parent `parent`) and returns the keys in lifetime
// order: context drop, parent finish, explicit drop.
std::vector<Uuid> InsertOneOfEach(SessionRefRegistry& registry, const std::string& run,
                                  const std::optional<std::string>& parent) {
  std::vector<Uuid> keys;
  for (RefLifetime lifetime : {RefLifetime::kUntilContextDrop, RefLifetime::kUntilParentFinish,
                               RefLifetime::kUntilExplicitDrop}) {
    Result<Uuid> key = registry.Insert(Bytes(10), lifetime, Owner(run, parent));
    EXPECT_TRUE(key.ok()) << key.status();
    keys.push_back(key.value_or(Uuid()));
  }
  return keys;
}

TEST(SessionRefRegistryTest, EndRunPurgesOnlyThatRunsContextDropRefs) {
  SessionRefRegistry registry;
  const std::vector<Uuid> a = InsertOneOfEach(registry, "run-a", "parent");
  const std::vector<Uuid> b = InsertOneOfEach(registry, "run-b", "parent");

  EXPECT_EQ(registry.EndRun("run-a", /*run_failed=*/false), 1u);
  EXPECT_EQ(registry.size(), 5u);
  EXPECT_FALSE(registry.LifetimeOf(a[0]).has_value());
  EXPECT_EQ(registry.LifetimeOf(a[1]), RefLifetime::kUntilParentFinish);
  EXPECT_EQ(registry.LifetimeOf(a[2]), RefLifetime::kUntilExplicitDrop);
  for (const Uuid& key : b) EXPECT_TRUE(registry.LifetimeOf(key).has_value());
  EXPECT_EQ(ResidentAt(registry, "host"), 50u);

  EXPECT_EQ(registry.EndRun("run-a", false), 0u);  // idempotent
  EXPECT_EQ(registry.EndRun("run-unknown", false), 0u);
  EXPECT_EQ(registry.size(), 5u);
}

TEST(SessionRefRegistryTest, FailedRunPurgesEveryRefItCreated) {
  SessionRefRegistry registry;
  const std::vector<Uuid> a = InsertOneOfEach(registry, "run-a", "parent");
  const std::vector<Uuid> b = InsertOneOfEach(registry, "run-b", "parent");

  EXPECT_EQ(registry.EndRun("run-a", /*run_failed=*/true), 3u);
  EXPECT_EQ(registry.size(), 3u);
  for (const Uuid& key : a) EXPECT_FALSE(registry.LifetimeOf(key).has_value());
  for (const Uuid& key : b) EXPECT_TRUE(registry.LifetimeOf(key).has_value());
  EXPECT_EQ(ResidentAt(registry, "host"), 30u);
}

TEST(SessionRefRegistryTest, ReleaseScopeRemovesOnlyParentFinishRefsOfThatParent) {
  SessionRefRegistry registry;
  const std::vector<Uuid> p1 = InsertOneOfEach(registry, "run-a", "parent-1");
  const std::vector<Uuid> p1b = InsertOneOfEach(registry, "run-b", "parent-1");
  const std::vector<Uuid> p2 = InsertOneOfEach(registry, "run-c", "parent-2");
  const std::vector<Uuid> none = InsertOneOfEach(registry, "run-d", std::nullopt);

  EXPECT_EQ(registry.ReleaseScope("parent-1"), 2u);
  EXPECT_EQ(registry.size(), 10u);
  EXPECT_FALSE(registry.LifetimeOf(p1[1]).has_value());
  EXPECT_FALSE(registry.LifetimeOf(p1b[1]).has_value());
  for (const auto* keys : {&p1, &p1b}) {
    EXPECT_TRUE(registry.LifetimeOf((*keys)[0]).has_value());
    EXPECT_TRUE(registry.LifetimeOf((*keys)[2]).has_value());
  }
  for (const auto* keys : {&p2, &none}) {
    for (const Uuid& key : *keys) EXPECT_TRUE(registry.LifetimeOf(key).has_value());
  }
  // The run id is not a parent id, and an empty id does not match refs without a parent.
  EXPECT_EQ(registry.ReleaseScope("run-c"), 0u);
  EXPECT_EQ(registry.ReleaseScope(""), 0u);
  EXPECT_EQ(registry.ReleaseScope("parent-1"), 0u);
  EXPECT_EQ(registry.size(), 10u);
}

TEST(SessionRefRegistryTest, ExplicitDropSurvivesEveryPurgeButRelease) {
  FakeClock clock;
  SessionRefRegistry registry(WithTtl(clock, std::chrono::milliseconds(100)));
  BLAZEN_ASSERT_OK_AND_ASSIGN(Uuid key, registry.Insert(Bytes(16), RefLifetime::kUntilExplicitDrop,
                                                        Owner("run", "parent")));

  EXPECT_EQ(registry.EndRun("run", /*run_failed=*/false), 0u);
  EXPECT_EQ(registry.ReleaseScope("parent"), 0u);
  clock.Advance(std::chrono::hours(24 * 365));
  EXPECT_EQ(registry.ExpireIdle(), 0u);
  EXPECT_EQ(registry.LifetimeOf(key), RefLifetime::kUntilExplicitDrop);
  EXPECT_TRUE(registry.Release(key));
}

TEST(SessionRefRegistryTest, ExpireIdleFollowsTheInjectedClockAndAcquireRefreshes) {
  FakeClock clock;
  SessionRefRegistry registry(WithTtl(clock, std::chrono::milliseconds(1000)));
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      Uuid touched, registry.Insert(Bytes(4), RefLifetime::kUntilParentFinish, Owner("r", "p")));
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      Uuid idle, registry.Insert(Bytes(4), RefLifetime::kUntilParentFinish, Owner("r", "p")));
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      Uuid context, registry.Insert(Bytes(4), RefLifetime::kUntilContextDrop, Owner("r", "p")));

  clock.Advance(std::chrono::milliseconds(600));
  BLAZEN_ASSERT_OK(registry.Acquire(touched));    // idle timer of `touched` restarts at t=600
  clock.Advance(std::chrono::milliseconds(400));  // t=1000: `idle` is exactly at the TTL
  EXPECT_EQ(registry.ExpireIdle(), 0u);
  clock.Advance(std::chrono::milliseconds(1));  // t=1001: `idle` is past it, `touched` is not
  EXPECT_EQ(registry.ExpireIdle(), 1u);
  EXPECT_FALSE(registry.LifetimeOf(idle).has_value());
  EXPECT_TRUE(registry.LifetimeOf(touched).has_value());

  clock.Advance(std::chrono::milliseconds(600));  // t=1601: `touched` idle for 1001 ms
  EXPECT_EQ(registry.ExpireIdle(), 1u);
  EXPECT_FALSE(registry.LifetimeOf(touched).has_value());
  // Context-drop refs are not subject to the TTL.
  EXPECT_EQ(registry.LifetimeOf(context), RefLifetime::kUntilContextDrop);
  EXPECT_EQ(registry.size(), 1u);
}

TEST(SessionRefRegistryTest, EntryLimitRejectsWithoutChangingAnything) {
  RegistryOptions options;
  options.max_entries = 3;
  SessionRefRegistry registry(std::move(options));
  std::vector<Uuid> keys;
  for (int i = 0; i < 3; ++i) {
    BLAZEN_ASSERT_OK_AND_ASSIGN(
        Uuid key, registry.Insert(Bytes(5), RefLifetime::kUntilExplicitDrop, Owner("run")));
    keys.push_back(key);
  }
  const RegistryStats before = registry.Stats();
  EXPECT_THAT(registry.Insert(Bytes(5), RefLifetime::kUntilExplicitDrop, Owner("run")),
              StatusIs(StatusCode::kResourceExhausted, "session ref limit reached: 3 entries"));
  EXPECT_EQ(registry.size(), 3u);
  EXPECT_EQ(ResidentAt(registry, "host"), 15u);
  EXPECT_EQ(registry.Stats().live, before.live);
  for (const Uuid& key : keys) BLAZEN_EXPECT_OK(registry.Acquire(key));

  // A freed slot can be reused.
  EXPECT_TRUE(registry.Release(keys[0]));
  BLAZEN_EXPECT_OK(registry.Insert(Bytes(5), RefLifetime::kUntilExplicitDrop, Owner("run")));
}

TEST(SessionRefRegistryTest, DefaultEntryLimitIsUpstreamsTenThousand) {
  EXPECT_EQ(RegistryOptions{}.max_entries, 10'000u);
  EXPECT_EQ(RegistryOptions{}.default_max_bytes_per_location, std::uint64_t{16} << 30);
}

TEST(SessionRefRegistryTest, ByteLimitIsPerLocationAndNamesTheLimit) {
  RegistryOptions options;
  options.max_bytes_per_location = {{"host", 1000}, {"cuda:0", 300}};
  options.default_max_bytes_per_location = 50;
  SessionRefRegistry registry(std::move(options));
  BLAZEN_ASSERT_OK(registry.Insert(std::make_shared<ProbeValue>(900, "host"),
                                   RefLifetime::kUntilExplicitDrop, Owner("run")));
  EXPECT_THAT(registry.Insert(std::make_shared<ProbeValue>(200, "host"),
                              RefLifetime::kUntilExplicitDrop, Owner("run")),
              StatusIs(StatusCode::kResourceExhausted,
                       "session ref byte limit for host exceeded: 900 in use + 200 requested > "
                       "1000"));
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_EQ(ResidentAt(registry, "host"), 900u);

  // Exactly up to the limit is fine; other locations have their own budgets.
  BLAZEN_ASSERT_OK(registry.Insert(std::make_shared<ProbeValue>(100, "host"),
                                   RefLifetime::kUntilExplicitDrop, Owner("run")));
  BLAZEN_ASSERT_OK(registry.Insert(std::make_shared<ProbeValue>(300, "cuda:0"),
                                   RefLifetime::kUntilExplicitDrop, Owner("run")));
  EXPECT_THAT(registry.Insert(std::make_shared<ProbeValue>(1, "cuda:0"),
                              RefLifetime::kUntilExplicitDrop, Owner("run")),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("cuda:0")));
  // An unlisted location uses the default budget.
  EXPECT_THAT(registry.Insert(std::make_shared<ProbeValue>(51, "cuda:1"),
                              RefLifetime::kUntilExplicitDrop, Owner("run")),
              StatusIs(StatusCode::kResourceExhausted,
                       "session ref byte limit for cuda:1 exceeded: 0 in use + 51 requested > 50"));
  BLAZEN_ASSERT_OK(registry.Insert(std::make_shared<ProbeValue>(50, "cuda:1"),
                                   RefLifetime::kUntilExplicitDrop, Owner("run")));

  const RegistryStats stats = registry.Stats();
  EXPECT_EQ(stats.entries, 4u);
  EXPECT_EQ(stats.resident_bytes_by_location.at("host"), 1000u);
  EXPECT_EQ(stats.resident_bytes_by_location.at("cuda:0"), 300u);
  EXPECT_EQ(stats.resident_bytes_by_location.at("cuda:1"), 50u);
}

TEST(SessionRefRegistryTest, ByteLimitCheckDoesNotOverflow) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  RegistryOptions options;
  options.default_max_bytes_per_location = kMax;
  SessionRefRegistry registry(std::move(options));
  BLAZEN_ASSERT_OK(registry.Insert(std::make_shared<ProbeValue>(10, "host"),
                                   RefLifetime::kUntilExplicitDrop, Owner("run")));
  // 10 + (kMax - 5) wraps to 4 if computed naively.
  EXPECT_THAT(registry.Insert(std::make_shared<ProbeValue>(kMax - 5, "host"),
                              RefLifetime::kUntilExplicitDrop, Owner("run")),
              StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(ResidentAt(registry, "host"), 10u);
  EXPECT_EQ(registry.size(), 1u);
}

TEST(SessionRefRegistryTest, LeaseHeldAcrossReleaseKeepsValueReadableAndBytesCounted) {
  RegistryOptions options;
  options.max_bytes_per_location = {{"host", 100}};
  SessionRefRegistry registry(std::move(options));
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      Uuid key, registry.Insert(Bytes(60), RefLifetime::kUntilParentFinish, Owner("run", "p")));
  BLAZEN_ASSERT_OK_AND_ASSIGN(RefLease lease, registry.Acquire(key));
  RefLease copy = lease;

  EXPECT_TRUE(registry.Release(key));
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_THAT(registry.Acquire(key), StatusIs(StatusCode::kNotFound));
  // The value is still readable and its bytes are still in use...
  EXPECT_EQ(ReadAll(lease.value()), Pattern(60));
  EXPECT_EQ(lease.info().key, key);
  RegistryStats stats = registry.Stats();
  EXPECT_EQ(stats.entries, 0u);
  EXPECT_TRUE(stats.live.empty());
  EXPECT_EQ(stats.resident_bytes_by_location.at("host"), 60u);
  // ...so they count against the limit.
  EXPECT_THAT(registry.Insert(Bytes(50), RefLifetime::kUntilExplicitDrop, Owner("run")),
              StatusIs(StatusCode::kResourceExhausted,
                       "session ref byte limit for host exceeded: 60 in use + 50 requested > "
                       "100"));

  lease = RefLease();
  EXPECT_EQ(ResidentAt(registry, "host"), 60u);  // `copy` still holds it
  EXPECT_EQ(ReadAll(copy.value()), Pattern(60));
  copy = RefLease();
  EXPECT_EQ(ResidentAt(registry, "host"), 0u);
  BLAZEN_EXPECT_OK(registry.Insert(Bytes(50), RefLifetime::kUntilExplicitDrop, Owner("run")));
  EXPECT_EQ(ResidentAt(registry, "host"), 50u);
}

TEST(SessionRefRegistryTest, ValueIsDestroyedWhenRemovedAndUnleased) {
  auto destroyed = std::make_shared<std::atomic<int>>(0);
  SessionRefRegistry registry;
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      Uuid key,
      registry.Insert(std::make_shared<ProbeValue>(7, "host", [destroyed] { ++*destroyed; }),
                      RefLifetime::kUntilExplicitDrop, Owner("run")));
  {
    BLAZEN_ASSERT_OK_AND_ASSIGN(RefLease lease, registry.Acquire(key));
    EXPECT_TRUE(registry.Release(key));
    EXPECT_EQ(destroyed->load(), 0);
  }
  EXPECT_EQ(destroyed->load(), 1);
  EXPECT_EQ(ResidentAt(registry, "host"), 0u);
}

TEST(SessionRefRegistryTest, LeaseMayOutliveTheRegistry) {
  auto destroyed = std::make_shared<std::atomic<int>>(0);
  RefLease lease;
  {
    SessionRefRegistry registry;
    BLAZEN_ASSERT_OK_AND_ASSIGN(
        Uuid key,
        registry.Insert(std::make_shared<ProbeValue>(7, "host", [destroyed] { ++*destroyed; }),
                        RefLifetime::kUntilExplicitDrop, Owner("run")));
    BLAZEN_ASSERT_OK_AND_ASSIGN(lease, registry.Acquire(key));
  }
  EXPECT_EQ(destroyed->load(), 0);
  std::vector<std::uint8_t> out(3);
  BLAZEN_EXPECT_OK(lease.value().Read(0, out));
  EXPECT_EQ(out, (std::vector<std::uint8_t>{0, 1, 2}));
  lease = RefLease();
  EXPECT_EQ(destroyed->load(), 1);
}

TEST(SessionRefRegistryTest, RefsOutlivingRunListsOnlyThatRunsSurvivingRefs) {
  FakeClock clock;
  RegistryOptions options;
  options.clock = clock.Clock();
  SessionRefRegistry registry(std::move(options));
  clock.epoch_ms->store(1000);
  const std::vector<Uuid> a = InsertOneOfEach(registry, "run-a", "parent");
  clock.epoch_ms->store(2000);
  const std::vector<Uuid> b = InsertOneOfEach(registry, "run-b", "parent");
  clock.epoch_ms->store(3000);
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      Uuid tensor_b,
      registry.Insert(Bytes(4, "tensor.npy"), RefLifetime::kUntilExplicitDrop, Owner("run-b")));

  const std::map<Uuid, RemoteRefDescriptor> refs_a = registry.RefsOutlivingRun("run-a", "node-1");
  ASSERT_EQ(refs_a.size(), 2u);
  EXPECT_EQ(refs_a.at(a[1]),
            (RemoteRefDescriptor{
                .origin_node_id = "node-1", .type_tag = "bytes", .created_at_epoch_ms = 1000}));
  EXPECT_EQ(refs_a.at(a[2]),
            (RemoteRefDescriptor{
                .origin_node_id = "node-1", .type_tag = "bytes", .created_at_epoch_ms = 1000}));
  EXPECT_FALSE(refs_a.contains(a[0]));  // context-drop refs are never listed

  const std::map<Uuid, RemoteRefDescriptor> refs_b = registry.RefsOutlivingRun("run-b", "node-2");
  ASSERT_EQ(refs_b.size(), 3u);
  EXPECT_TRUE(refs_b.contains(b[1]));
  EXPECT_TRUE(refs_b.contains(b[2]));
  EXPECT_EQ(refs_b.at(b[1]).created_at_epoch_ms, 2000u);
  EXPECT_EQ(refs_b.at(b[1]).origin_node_id, "node-2");
  EXPECT_EQ(refs_b.at(tensor_b), (RemoteRefDescriptor{.origin_node_id = "node-2",
                                                      .type_tag = "tensor.npy",
                                                      .created_at_epoch_ms = 3000}));

  EXPECT_TRUE(registry.RefsOutlivingRun("run-c", "node-1").empty());
  // A released ref is no longer listed.
  EXPECT_TRUE(registry.Release(a[1]));
  EXPECT_EQ(registry.RefsOutlivingRun("run-a", "node-1").size(), 1u);
}

TEST(SessionRefRegistryTest, StatsCountLiveRefsPerLifetimeAndLocation) {
  SessionRefRegistry registry;
  BLAZEN_ASSERT_OK(registry.Insert(std::make_shared<ProbeValue>(10, "host"),
                                   RefLifetime::kUntilContextDrop, Owner("run")));
  BLAZEN_ASSERT_OK(registry.Insert(std::make_shared<ProbeValue>(20, "host"),
                                   RefLifetime::kUntilContextDrop, Owner("run")));
  BLAZEN_ASSERT_OK(registry.Insert(std::make_shared<ProbeValue>(300, "cuda:0"),
                                   RefLifetime::kUntilParentFinish, Owner("run", "p")));
  BLAZEN_ASSERT_OK(registry.Insert(std::make_shared<ProbeValue>(4000, "host"),
                                   RefLifetime::kUntilExplicitDrop, Owner("run")));

  RegistryStats stats = registry.Stats();
  EXPECT_EQ(stats.entries, 4u);
  ASSERT_EQ(stats.live.size(), 3u);
  const auto bucket = [&](RefLifetime lifetime, const std::string& location) {
    return stats.live.at({lifetime, location});
  };
  EXPECT_EQ(bucket(RefLifetime::kUntilContextDrop, "host").count, 2u);
  EXPECT_EQ(bucket(RefLifetime::kUntilContextDrop, "host").resident_bytes, 30u);
  EXPECT_EQ(bucket(RefLifetime::kUntilParentFinish, "cuda:0").count, 1u);
  EXPECT_EQ(bucket(RefLifetime::kUntilParentFinish, "cuda:0").resident_bytes, 300u);
  EXPECT_EQ(bucket(RefLifetime::kUntilExplicitDrop, "host").count, 1u);
  EXPECT_EQ(bucket(RefLifetime::kUntilExplicitDrop, "host").resident_bytes, 4000u);
  EXPECT_EQ(stats.resident_bytes_by_location.at("host"), 4030u);
  EXPECT_EQ(stats.resident_bytes_by_location.at("cuda:0"), 300u);

  EXPECT_EQ(registry.EndRun("run", /*run_failed=*/true), 4u);
  stats = registry.Stats();
  EXPECT_EQ(stats.entries, 0u);
  EXPECT_TRUE(stats.live.empty());
  EXPECT_EQ(stats.resident_bytes_by_location.at("host"), 0u);
  EXPECT_EQ(stats.resident_bytes_by_location.at("cuda:0"), 0u);
}

// Each removal path must destroy the value after unlocking: the probe's destructor asks the
// registry for its size from another thread and fails the test if that blocks.
class DestroyOutsideLockTest : public ::testing::TestWithParam<int> {};

TEST_P(DestroyOutsideLockTest, RemovedValueIsDestroyedAfterTheMutexIsReleased) {
  // Declared before the registry so that they outlive it.
  std::atomic<bool> armed{true};
  std::atomic<bool> lock_was_free{false};
  std::atomic<bool> destructor_ran{false};
  std::atomic<bool> probe_done{false};
  std::thread prober;
  FakeClock clock;
  SessionRefRegistry registry(WithTtl(clock, std::chrono::milliseconds(10)));
  auto on_destroy = [&] {
    if (!armed) return;
    destructor_ran = true;
    prober = std::thread([&registry, &probe_done] {
      (void)registry.size();  // blocks while the destroying thread holds the registry's mutex
      probe_done = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!probe_done && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    lock_was_free = probe_done.load();
  };
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      Uuid key, registry.Insert(std::make_shared<ProbeValue>(1, "host", on_destroy),
                                RefLifetime::kUntilParentFinish, Owner("run", "parent")));
  switch (GetParam()) {
    case 0:
      EXPECT_TRUE(registry.Release(key));
      break;
    case 1:
      EXPECT_EQ(registry.ReleaseScope("parent"), 1u);
      break;
    case 2:
      EXPECT_EQ(registry.EndRun("run", /*run_failed=*/true), 1u);
      break;
    case 3:
      clock.Advance(std::chrono::milliseconds(11));
      EXPECT_EQ(registry.ExpireIdle(), 1u);
      break;
  }
  armed = false;
  if (prober.joinable()) prober.join();  // the mutex is free here in any case
  EXPECT_TRUE(destructor_ran);
  EXPECT_TRUE(lock_was_free);
}

std::string RemovalName(const ::testing::TestParamInfo<int>& info) {
  constexpr const char* kNames[] = {"Release", "ReleaseScope", "EndRun", "ExpireIdle"};
  return kNames[info.param];
}

INSTANTIATE_TEST_SUITE_P(SessionRefRegistryTest, DestroyOutsideLockTest,
                         ::testing::Values(0, 1, 2, 3), RemovalName);

TEST(SessionRefRegistryTest, ConcurrentInsertAcquireReleaseKeepsCountsConsistent) {
  constexpr int kThreads = 8;
  constexpr int kOpsPerThread = 2500;  // 20,000 operations in all
  SessionRefRegistry registry;

  std::mutex published_mu;
  std::vector<Uuid> published;  // keys any thread may try to acquire
  std::atomic<int> read_errors{0};
  std::vector<std::vector<Uuid>> kept(kThreads);
  std::vector<std::uint64_t> kept_bytes(kThreads, 0);

  auto verify = [&](const RefLease& lease) {
    const std::vector<std::uint8_t> expected = Pattern(lease.value().size_bytes());
    std::vector<std::uint8_t> out(expected.size());
    if (!lease.value().Read(0, out).ok() || out != expected) ++read_errors;
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string run = "run-" + std::to_string(t);
      std::vector<std::pair<Uuid, std::size_t>> mine;
      std::size_t next_release = 0;
      std::uint32_t rng = 12345u + static_cast<std::uint32_t>(t);
      for (int i = 0; i < kOpsPerThread; ++i) {
        rng = rng * 1664525u + 1013904223u;
        switch (i % 4) {
          case 0:
          case 1: {
            const std::size_t n = 1 + (rng >> 8) % 64;
            const auto lifetime = static_cast<RefLifetime>((rng >> 20) % 3);
            Result<Uuid> key = registry.Insert(Bytes(n), lifetime, Owner(run, "parent"));
            if (!key.ok()) {
              ++read_errors;
              break;
            }
            mine.emplace_back(*key, n);
            if (i % 16 == 0) {
              std::lock_guard<std::mutex> lock(published_mu);
              published.push_back(*key);
            }
            break;
          }
          case 2: {
            // Acquire one of ours (must exist) and one published by anyone (may be gone).
            if (next_release < mine.size()) {
              const auto& [key, n] = mine[next_release + (rng >> 8) % (mine.size() - next_release)];
              Result<RefLease> lease = registry.Acquire(key);
              if (!lease.ok() || lease->value().size_bytes() != n) {
                ++read_errors;
              } else {
                verify(*lease);
              }
            }
            Uuid other;
            {
              std::lock_guard<std::mutex> lock(published_mu);
              if (!published.empty()) other = published[(rng >> 4) % published.size()];
            }
            if (Result<RefLease> lease = registry.Acquire(other); lease.ok()) verify(*lease);
            if (i % 64 == 2) (void)registry.Stats();  // walks every entry: keep it rare
            break;
          }
          case 3:
            if (next_release < mine.size()) {
              if (!registry.Release(mine[next_release].first)) ++read_errors;
              ++next_release;
            }
            break;
        }
      }
      for (std::size_t i = next_release; i < mine.size(); ++i) {
        kept[static_cast<std::size_t>(t)].push_back(mine[i].first);
        kept_bytes[static_cast<std::size_t>(t)] += mine[i].second;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(read_errors.load(), 0);
  std::size_t expected_entries = 0;
  std::uint64_t expected_bytes = 0;
  for (int t = 0; t < kThreads; ++t) {
    expected_entries += kept[static_cast<std::size_t>(t)].size();
    expected_bytes += kept_bytes[static_cast<std::size_t>(t)];
  }
  // Each thread inserts 1250 and releases 625.
  EXPECT_EQ(expected_entries, static_cast<std::size_t>(kThreads) * 625);
  EXPECT_EQ(registry.size(), expected_entries);
  RegistryStats stats = registry.Stats();
  EXPECT_EQ(stats.entries, expected_entries);
  EXPECT_EQ(stats.resident_bytes_by_location.at("host"), expected_bytes);
  std::uint64_t live_count = 0;
  std::uint64_t live_bytes = 0;
  for (const auto& [bucket_key, bucket] : stats.live) {
    live_count += bucket.count;
    live_bytes += bucket.resident_bytes;
  }
  EXPECT_EQ(live_count, expected_entries);
  EXPECT_EQ(live_bytes, expected_bytes);
  for (int t = 0; t < kThreads; ++t) {
    for (const Uuid& key : kept[static_cast<std::size_t>(t)]) {
      ASSERT_TRUE(registry.LifetimeOf(key).has_value());
    }
  }

  // A failed end of every run purges everything and returns every byte.
  std::size_t purged = 0;
  for (int t = 0; t < kThreads; ++t) {
    purged += registry.EndRun("run-" + std::to_string(t), /*run_failed=*/true);
  }
  EXPECT_EQ(purged, expected_entries);
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_EQ(ResidentAt(registry, "host"), 0u);
}

TEST(SessionRefRegistryTest, KeysClearAndClearOnContextDrop) {
  SessionRefRegistry registry;
  std::vector<Uuid> keys;
  for (RefLifetime lifetime : {RefLifetime::kUntilContextDrop, RefLifetime::kUntilParentFinish,
                               RefLifetime::kUntilExplicitDrop}) {
    BLAZEN_ASSERT_OK_AND_ASSIGN(Uuid key, registry.Insert(Bytes(3), lifetime, Owner("run")));
    keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(registry.Keys(), keys);
  // A borrowed registry is left alone; an owned one loses all but UntilExplicitDrop.
  EXPECT_EQ(registry.ClearOnContextDrop(false), 0u);
  EXPECT_EQ(registry.size(), 3u);
  EXPECT_EQ(registry.ClearOnContextDrop(true), 2u);
  ASSERT_EQ(registry.Keys().size(), 1u);
  EXPECT_EQ(registry.LifetimeOf(registry.Keys()[0]), RefLifetime::kUntilExplicitDrop);
  EXPECT_EQ(registry.Clear(), 1u);
  EXPECT_TRUE(registry.Keys().empty());
  EXPECT_TRUE(registry.Stats().live.empty());
  EXPECT_EQ(registry.Clear(), 0u);
}

TEST(SessionRefRegistryTest, PerRunBookkeepingFollowsEveryRemovalPath) {
  SessionRefRegistry registry;
  const auto insert = [&](RefLifetime lifetime, RefOwner owner) {
    Result<Uuid> key = registry.Insert(Bytes(4), lifetime, std::move(owner));
    EXPECT_TRUE(key.ok()) << key.status();
    return key.value_or(Uuid());
  };
  const Uuid a1 = insert(RefLifetime::kUntilContextDrop, Owner("run-a"));
  const Uuid a2 = insert(RefLifetime::kUntilParentFinish, Owner("run-a", "parent-p"));
  const Uuid a3 = insert(RefLifetime::kUntilExplicitDrop, Owner("run-a"));
  insert(RefLifetime::kUntilContextDrop, Owner("run-b"));
  const Uuid b2 = insert(RefLifetime::kUntilParentFinish, Owner("run-b"));
  const auto outliving = [&](const char* run) {
    std::vector<Uuid> keys;
    for (const auto& [key, descriptor] : registry.RefsOutlivingRun(run, "node")) {
      keys.push_back(key);
    }
    return keys;
  };
  const auto sorted = [](std::vector<Uuid> keys) {
    std::sort(keys.begin(), keys.end());
    return keys;
  };

  EXPECT_TRUE(registry.Release(a1));  // by key: the run's purge has nothing left to do
  EXPECT_EQ(registry.EndRun("run-a", /*run_failed=*/false), 0u);
  EXPECT_EQ(outliving("run-a"), sorted({a2, a3}));
  EXPECT_EQ(registry.ReleaseScope("parent-p"), 1u);  // by scope
  EXPECT_EQ(outliving("run-a"), std::vector<Uuid>{a3});
  EXPECT_EQ(registry.EndRun("run-b", /*run_failed=*/false), 1u);  // its context-drop ref
  EXPECT_EQ(outliving("run-b"), std::vector<Uuid>{b2});
  EXPECT_EQ(registry.Clear(), 2u);  // a3 and b2
  EXPECT_TRUE(outliving("run-a").empty());
  EXPECT_TRUE(outliving("run-b").empty());
  EXPECT_EQ(registry.EndRun("run-b", /*run_failed=*/true), 0u);
  // A run id seen before starts afresh.
  const Uuid again = insert(RefLifetime::kUntilParentFinish, Owner("run-a"));
  EXPECT_EQ(outliving("run-a"), std::vector<Uuid>{again});
  EXPECT_EQ(registry.EndRun("run-a", /*run_failed=*/true), 1u);
  EXPECT_EQ(registry.size(), 0u);
}

TEST(SessionRefRegistryTest, EndRunTouchesOnlyItsOwnRefsAmongMany) {
  SessionRefRegistry registry;
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(registry
                    .Insert(Bytes(1), RefLifetime::kUntilExplicitDrop,
                            Owner("other-" + std::to_string(i % 50)))
                    .ok());
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(registry.Insert(Bytes(1), RefLifetime::kUntilContextDrop, Owner("mine")).ok());
  }
  EXPECT_TRUE(registry.RefsOutlivingRun("mine", "node").empty());
  EXPECT_EQ(registry.EndRun("mine", /*run_failed=*/false), 3u);
  EXPECT_EQ(registry.size(), 2000u);
  EXPECT_EQ(registry.RefsOutlivingRun("other-7", "node").size(), 40u);
}

}  // namespace
}  // namespace blazen
