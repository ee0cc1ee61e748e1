// SPDX-License-Identifier: Apache-2.0
// DevicePool: budget enforcement, out-of-memory mapping, statistics and thread safety, driven by
// a limiting upstream so exhaustion is deterministic.

#include "gpu/device_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "gpu/runtime.h"
#include "tests/gpu/fake_resources.h"
#include "tests/testing/status_matchers.h"

namespace blazen::gpu {
namespace {

using ::blazen::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

DevicePoolStats Stats(std::uint64_t in_use, std::uint64_t peak, std::uint64_t allocations,
                      std::uint64_t frees, std::uint64_t failures) {
  DevicePoolStats stats;
  stats.in_use_bytes = in_use;
  stats.peak_bytes = peak;
  stats.allocations = allocations;
  stats.frees = frees;
  stats.failures = failures;
  return stats;
}

struct PoolWithUpstream {
  std::unique_ptr<DevicePool> pool;
  testing::LimitingResource* upstream;  // owned by pool
};

PoolWithUpstream MakePool(std::uint64_t budget, std::size_t capacity = std::size_t{1} << 30) {
  auto upstream = std::make_unique<testing::LimitingResource>(capacity);
  testing::LimitingResource* raw = upstream.get();
  auto pool = DevicePool::Create(std::move(upstream), budget);
  EXPECT_TRUE(pool.ok()) << pool.status();
  return {std::move(*pool), raw};
}

TEST(DevicePoolTest, CreateRejectsNullUpstreamAndZeroBudget) {
  EXPECT_THAT(DevicePool::Create(nullptr, 1024), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(DevicePool::Create(std::make_unique<HostMemoryResource>(), 0),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(DevicePoolTest, ForwardsLocationAndKindOfUpstream) {
  auto [pool, upstream] = MakePool(1024);
  EXPECT_EQ(pool->location(), "host");
  EXPECT_FALSE(pool->is_device());
  EXPECT_EQ(&pool->upstream(), upstream);
  EXPECT_EQ(pool->budget_bytes(), 1024u);
}

TEST(DevicePoolTest, AllocatesWithinBudgetAndTracksStats) {
  auto [pool, upstream] = MakePool(1000);
  BLAZEN_ASSERT_OK_AND_ASSIGN(void* a, pool->Allocate(400, StreamView()));
  BLAZEN_ASSERT_OK_AND_ASSIGN(void* b, pool->Allocate(600, StreamView()));  // exactly the budget
  EXPECT_EQ(pool->stats(), Stats(/*in_use=*/1000, /*peak=*/1000, /*allocations=*/2,
                                 /*frees=*/0, /*failures=*/0));
  EXPECT_EQ(upstream->in_use_bytes(), 1000u);
  pool->Deallocate(a, 400, StreamView());
  pool->Deallocate(b, 600, StreamView());
  EXPECT_EQ(pool->stats(), Stats(/*in_use=*/0, /*peak=*/1000, /*allocations=*/2,
                                 /*frees=*/2, /*failures=*/0));
  EXPECT_EQ(upstream->in_use_bytes(), 0u);
}

TEST(DevicePoolTest, GrowsUntilBudgetThenReportsExhaustedNamingRequestedInUseAndBudget) {
  auto [pool, upstream] = MakePool(4096);
  std::vector<void*> blocks;
  for (int i = 0; i < 4; ++i) {
    BLAZEN_ASSERT_OK_AND_ASSIGN(void* p, pool->Allocate(1000, StreamView()));
    blocks.push_back(p);
  }
  Result<void*> over = pool->Allocate(1000, StreamView());
  EXPECT_THAT(over, StatusIs(StatusCode::kResourceExhausted,
                             AllOf(HasSubstr("host"), HasSubstr("1000 bytes"),
                                   HasSubstr("4000 bytes in use"), HasSubstr("budget of 4096"))));
  for (void* p : blocks) pool->Deallocate(p, 1000, StreamView());
}

TEST(DevicePoolTest, RefusedAllocationChangesNothingButFailureCount) {
  auto [pool, upstream] = MakePool(1000);
  BLAZEN_ASSERT_OK_AND_ASSIGN(void* a, pool->Allocate(700, StreamView()));
  const DevicePoolStats before = pool->stats();
  const std::size_t upstream_calls = upstream->allocate_calls();

  EXPECT_THAT(pool->Allocate(301, StreamView()), StatusIs(StatusCode::kResourceExhausted));

  DevicePoolStats expected = before;
  expected.failures += 1;
  EXPECT_EQ(pool->stats(), expected);
  EXPECT_EQ(upstream->allocate_calls(), upstream_calls) << "the budget check must come first";
  EXPECT_EQ(upstream->in_use_bytes(), 700u);
  // The refused bytes were not reserved: what remains of the budget is still available.
  BLAZEN_ASSERT_OK_AND_ASSIGN(void* b, pool->Allocate(300, StreamView()));
  pool->Deallocate(a, 700, StreamView());
  pool->Deallocate(b, 300, StreamView());
}

TEST(DevicePoolTest, RequestLargerThanBudgetIsExhaustedWithoutOverflow) {
  auto [pool, upstream] = MakePool(1000);
  EXPECT_THAT(pool->Allocate(SIZE_MAX, StreamView()), StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(pool->stats().in_use_bytes, 0u);
  EXPECT_EQ(upstream->allocate_calls(), 0u);
}

TEST(DevicePoolTest, UpstreamOutOfMemoryBecomesResourceExhaustedAndChangesNothing) {
  // The "device" has 1000 bytes but the budget allows more: the upstream runs out first, the way
  // a real device does when another process holds memory.
  auto [pool, upstream] = MakePool(1 << 20, /*capacity=*/1000);
  BLAZEN_ASSERT_OK_AND_ASSIGN(void* a, pool->Allocate(800, StreamView()));
  const DevicePoolStats before = pool->stats();

  EXPECT_THAT(
      pool->Allocate(500, StreamView()),
      StatusIs(StatusCode::kResourceExhausted,
               AllOf(HasSubstr("500 bytes"), HasSubstr("800 bytes in use"),
                     HasSubstr("budget of 1048576"), HasSubstr("simulated device out of memory"))));
  DevicePoolStats expected = before;
  expected.failures += 1;
  EXPECT_EQ(pool->stats(), expected);
  pool->Deallocate(a, 800, StreamView());
  EXPECT_EQ(pool->stats().in_use_bytes, 0u);
}

TEST(DevicePoolTest, OtherUpstreamFailuresPassThroughAndChangeNothing) {
  auto [pool, upstream] = MakePool(1 << 20);
  upstream->FailWith(Status::Internal("device lost"));
  EXPECT_THAT(pool->Allocate(64, StreamView()),
              StatusIs(StatusCode::kInternal, HasSubstr("device lost")));
  EXPECT_EQ(pool->stats(), Stats(0, 0, 0, 0, /*failures=*/1));
  upstream->FailWith(std::nullopt);
  BLAZEN_ASSERT_OK_AND_ASSIGN(void* p, pool->Allocate(64, StreamView()));
  pool->Deallocate(p, 64, StreamView());
}

TEST(DevicePoolTest, PeakTracksTheHighWaterMark) {
  auto [pool, upstream] = MakePool(1 << 20);
  BLAZEN_ASSERT_OK_AND_ASSIGN(void* a, pool->Allocate(100, StreamView()));
  BLAZEN_ASSERT_OK_AND_ASSIGN(void* b, pool->Allocate(300, StreamView()));
  pool->Deallocate(a, 100, StreamView());
  BLAZEN_ASSERT_OK_AND_ASSIGN(void* c, pool->Allocate(50, StreamView()));
  EXPECT_EQ(pool->stats().peak_bytes, 400u);
  EXPECT_EQ(pool->stats().in_use_bytes, 350u);
  pool->Deallocate(b, 300, StreamView());
  pool->Deallocate(c, 50, StreamView());
  EXPECT_EQ(pool->stats().peak_bytes, 400u);
  EXPECT_EQ(pool->in_use_bytes(), 0u);
}

TEST(DevicePoolTest, ZeroByteRequestsTouchNeitherUpstreamNorCounters) {
  auto [pool, upstream] = MakePool(16);
  BLAZEN_ASSERT_OK_AND_ASSIGN(void* p, pool->Allocate(0, StreamView()));
  EXPECT_EQ(p, nullptr);
  pool->Deallocate(p, 0, StreamView());
  EXPECT_EQ(pool->stats(), DevicePoolStats{});
  EXPECT_EQ(upstream->allocate_calls(), 0u);
}

TEST(DevicePoolTest, ConcurrentAllocationsNeverExceedTheBudget) {
  constexpr std::uint64_t kBudget = 10'000;
  PoolWithUpstream made = MakePool(kBudget);
  DevicePool* pool = made.pool.get();
  testing::LimitingResource* upstream = made.upstream;
  constexpr int kThreads = 6;
  constexpr int kRounds = 500;
  std::atomic<int> successes{0};
  std::atomic<int> refusals{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const auto bytes = static_cast<std::size_t>(500 + 250 * ((i * 7 + t) % 9));
        Result<void*> p = pool->Allocate(bytes, StreamView());
        if (!p.ok()) {
          EXPECT_EQ(p.status().code(), StatusCode::kResourceExhausted);
          ++refusals;
          continue;
        }
        ++successes;
        std::this_thread::yield();
        pool->Deallocate(*p, bytes, StreamView());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const DevicePoolStats stats = pool->stats();
  EXPECT_LE(upstream->max_in_use_bytes(), kBudget);
  EXPECT_LE(stats.peak_bytes, kBudget);
  EXPECT_EQ(stats.in_use_bytes, 0u);
  EXPECT_EQ(stats.allocations, static_cast<std::uint64_t>(successes.load()));
  EXPECT_EQ(stats.frees, stats.allocations);
  EXPECT_EQ(stats.failures, static_cast<std::uint64_t>(refusals.load()));
  EXPECT_EQ(successes + refusals, kThreads * kRounds);
}

TEST(DevicePoolTest, BudgetFromPercentOfHostMemory) {
  const std::uint64_t physical = PhysicalMemoryBytes();
  ASSERT_GT(physical, 0u);
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::uint64_t half,
                              BudgetFromPercentOfFreeMemory(50.0, std::nullopt));
  EXPECT_NEAR(static_cast<double>(half), static_cast<double>(physical) / 2, 2.0);
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::uint64_t all,
                              BudgetFromPercentOfFreeMemory(100.0, std::nullopt));
  EXPECT_EQ(all, physical);
}

TEST(DevicePoolTest, BudgetFromPercentRejectsBadPercentages) {
  for (double percent : {0.0, -5.0, 100.5}) {
    EXPECT_THAT(BudgetFromPercentOfFreeMemory(percent, std::nullopt),
                StatusIs(StatusCode::kInvalidArgument))
        << percent;
  }
}

TEST(DevicePoolTest, BudgetFromPercentOfDeviceMemoryFailsWithoutDevice) {
  if (VisibleCudaDeviceCount() > 0) GTEST_SKIP() << "a CUDA device is visible";
  Result<std::uint64_t> budget = BudgetFromPercentOfFreeMemory(90.0, 0);
  EXPECT_FALSE(budget.ok());
  EXPECT_NE(budget.status().code(), StatusCode::kOk);
}

}  // namespace
}  // namespace blazen::gpu
