// SPDX-License-Identifier: Apache-2.0
// PinnedStagingPool: fixed buffers, blocking Acquire, return on handle destruction.

#include "gpu/pinned_staging.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "gpu/memory_resource.h"
#include "gpu/runtime.h"
#include "tests/testing/status_matchers.h"

namespace blazen::gpu {
namespace {

using ::blazen::testing::StatusIs;

std::unique_ptr<PinnedStagingPool> MakeStaging(std::size_t chunk, std::size_t count) {
  auto pool = PinnedStagingPool::Create(chunk, count);
  EXPECT_TRUE(pool.ok()) << pool.status();
  return pool.ok() ? std::move(*pool) : nullptr;
}

TEST(PinnedStagingPoolTest, CreateRejectsZeroSizes) {
  EXPECT_THAT(PinnedStagingPool::Create(0, 4), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(PinnedStagingPool::Create(1024, 0), StatusIs(StatusCode::kInvalidArgument));
}

TEST(PinnedStagingPoolTest, LendsDistinctAlignedBuffersOfTheChunkSize) {
  auto pool = MakeStaging(4096, 3);
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->chunk_bytes(), 4096u);
  EXPECT_EQ(pool->count(), 3u);
  EXPECT_EQ(pool->available(), 3u);
  std::vector<StagingBuffer> lent;
  std::set<std::uint8_t*> addresses;
  for (int i = 0; i < 3; ++i) {
    lent.push_back(pool->Acquire());
    ASSERT_TRUE(lent.back());
    EXPECT_EQ(lent.back().size(), 4096u);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(lent.back().data()) % kAllocationAlignment, 0u);
    std::memset(lent.back().data(), i, lent.back().size());
    addresses.insert(lent.back().data());
  }
  EXPECT_EQ(addresses.size(), 3u);
  EXPECT_EQ(pool->available(), 0u);
}

TEST(PinnedStagingPoolTest, DestroyingTheHandleReturnsTheBuffer) {
  auto pool = MakeStaging(64, 1);
  std::uint8_t* first = nullptr;
  {
    StagingBuffer buffer = pool->Acquire();
    first = buffer.data();
    EXPECT_EQ(pool->available(), 0u);
  }
  EXPECT_EQ(pool->available(), 1u);
  StagingBuffer again = pool->Acquire();
  EXPECT_EQ(again.data(), first) << "the same memory is lent again: nothing is allocated";
  again.Release();
  EXPECT_FALSE(again);
  EXPECT_EQ(pool->available(), 1u);
}

TEST(PinnedStagingPoolTest, MovedHandleReturnsTheBufferOnce) {
  auto pool = MakeStaging(64, 2);
  StagingBuffer a = pool->Acquire();
  StagingBuffer b = std::move(a);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(pool->available(), 1u);
  StagingBuffer c = pool->Acquire();
  c = std::move(b);  // returns c's buffer, takes b's
  EXPECT_EQ(pool->available(), 1u);
  c.Release();
  EXPECT_EQ(pool->available(), 2u);
}

TEST(PinnedStagingPoolTest, TryAcquireReturnsNulloptWhenAllAreLent) {
  auto pool = MakeStaging(64, 2);
  std::optional<StagingBuffer> a = pool->TryAcquire();
  std::optional<StagingBuffer> b = pool->TryAcquire();
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(pool->TryAcquire().has_value());
  a.reset();
  EXPECT_TRUE(pool->TryAcquire().has_value());
}

TEST(PinnedStagingPoolTest, AcquireBlocksUntilABufferIsReturned) {
  auto pool = MakeStaging(64, 1);
  StagingBuffer held = pool->Acquire();
  std::atomic<bool> acquired{false};
  std::thread waiter([&] {
    StagingBuffer buffer = pool->Acquire();
    acquired = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(acquired.load()) << "Acquire must wait while every buffer is lent";
  held.Release();
  waiter.join();
  EXPECT_TRUE(acquired.load());
  EXPECT_EQ(pool->available(), 1u);
}

TEST(PinnedStagingPoolTest, AcquireWithADeadlineGivesUpInTime) {
  auto pool = MakeStaging(64, 1);
  StagingBuffer held = pool->Acquire();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(pool->Acquire(start + std::chrono::milliseconds(50), {}),
              StatusIs(StatusCode::kDeadlineExceeded));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  EXPECT_THAT(pool->Acquire(start, {}), StatusIs(StatusCode::kDeadlineExceeded))
      << "a deadline in the past fails at once when nothing is free";
  held.Release();
  BLAZEN_ASSERT_OK_AND_ASSIGN(StagingBuffer got, pool->Acquire(start, {}));
  EXPECT_TRUE(got) << "a free buffer is lent even past the deadline";
}

TEST(PinnedStagingPoolTest, AcquireStopsWhenCancelledAndWakesWhenABufferReturns) {
  auto pool = MakeStaging(64, 1);
  StagingBuffer held = pool->Acquire();
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    cancel = true;
  });
  EXPECT_THAT(
      pool->Acquire(std::chrono::steady_clock::time_point::max(), [&] { return cancel.load(); }),
      StatusIs(StatusCode::kCancelled));
  canceller.join();

  std::thread returner([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    held.Release();
  });
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      StagingBuffer got, pool->Acquire(std::chrono::steady_clock::now() + std::chrono::seconds(10),
                                       [] { return false; }));
  EXPECT_TRUE(got);
  returner.join();
}

TEST(PinnedStagingPoolTest, ManyThreadsShareFewBuffersExclusively) {
  constexpr std::size_t kBuffers = 2;
  constexpr int kThreads = 8;
  constexpr int kRounds = 200;
  auto pool = MakeStaging(256, kBuffers);
  std::atomic<int> lent{0};
  std::atomic<int> max_lent{0};
  std::atomic<int> corrupted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        StagingBuffer buffer = pool->Acquire();
        const int now = ++lent;
        int seen = max_lent.load();
        while (now > seen && !max_lent.compare_exchange_weak(seen, now)) {
        }
        const auto mark = static_cast<std::uint8_t>(t + 1);
        std::memset(buffer.data(), mark, buffer.size());
        std::this_thread::yield();
        for (std::size_t k = 0; k < buffer.size(); ++k) {
          if (buffer.data()[k] != mark) {
            ++corrupted;
            break;
          }
        }
        --lent;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(corrupted.load(), 0) << "a buffer was lent to two threads at once";
  EXPECT_LE(max_lent.load(), static_cast<int>(kBuffers));
  EXPECT_EQ(pool->available(), kBuffers);
}

TEST(PinnedStagingPoolTest, PageableWithoutADevice) {
  if (VisibleCudaDeviceCount() > 0) GTEST_SKIP() << "a CUDA device is visible";
  auto pool = MakeStaging(1024, 2);
  EXPECT_FALSE(pool->pinned()) << "without a driver the staging memory is ordinary host memory";
}

}  // namespace
}  // namespace blazen::gpu
