// SPDX-License-Identifier: Apache-2.0
#pragma once
// The MemoryResource contract, written once and instantiated per implementation: host memory and
// the pool over it in blazen_gpu_tests, the CUDA pool resource in blazen_gpu_device_tests.
// Include this header from exactly one source file per test binary.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "gpu/memory_resource.h"
#include "gpu/stream.h"
#include "tests/testing/status_matchers.h"

namespace blazen::gpu::testing {

/// One implementation under test: a name for the test and a factory. A factory may return null
/// to skip (e.g. no CUDA device is visible).
struct ResourceFactory {
  std::string name;
  std::function<std::unique_ptr<MemoryResource>()> make;
};

/// Prints the implementation's name (ctest test names include the parameter).
inline void PrintTo(const ResourceFactory& factory, std::ostream* os) { *os << factory.name; }

inline std::string ResourceName(const ::testing::TestParamInfo<ResourceFactory>& info) {
  return info.param.name;
}

class MemoryResourceContractTest : public ::testing::TestWithParam<ResourceFactory> {
 protected:
  void SetUp() override {
    resource_ = GetParam().make();
    if (resource_ == nullptr) GTEST_SKIP() << GetParam().name << " is not available here";
  }
  std::unique_ptr<MemoryResource> resource_;
};

TEST_P(MemoryResourceContractTest, AllocatesAlignedBlocks) {
  for (std::size_t bytes :
       {std::size_t{1}, std::size_t{255}, std::size_t{4096}, std::size_t{1} << 20}) {
    BLAZEN_ASSERT_OK_AND_ASSIGN(void* ptr, resource_->Allocate(bytes, StreamView()));
    ASSERT_NE(ptr, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(ptr) % kAllocationAlignment, 0u) << bytes;
    if (!resource_->is_device()) std::memset(ptr, 0xAB, bytes);  // host memory is writable
    resource_->Deallocate(ptr, bytes, StreamView());
  }
  BLAZEN_EXPECT_OK(StreamView().Synchronize());
}

TEST_P(MemoryResourceContractTest, ZeroBytesIsNull) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(void* ptr, resource_->Allocate(0, StreamView()));
  EXPECT_EQ(ptr, nullptr);
  resource_->Deallocate(nullptr, 0, StreamView());
}

TEST_P(MemoryResourceContractTest, LocationMatchesKind) {
  const std::string location = resource_->location();
  if (resource_->is_device()) {
    EXPECT_THAT(location, ::testing::StartsWith("cuda:"));
  } else {
    EXPECT_EQ(location, "host");
  }
}

TEST_P(MemoryResourceContractTest, DistinctLiveBlocksDoNotOverlap) {
  constexpr std::size_t kBytes = 1000;
  std::vector<void*> blocks;
  for (int i = 0; i < 32; ++i) {
    BLAZEN_ASSERT_OK_AND_ASSIGN(void* ptr, resource_->Allocate(kBytes, StreamView()));
    blocks.push_back(ptr);
  }
  std::vector<std::uintptr_t> starts;
  for (void* p : blocks) starts.push_back(reinterpret_cast<std::uintptr_t>(p));
  std::sort(starts.begin(), starts.end());
  for (std::size_t i = 1; i < starts.size(); ++i) EXPECT_GE(starts[i] - starts[i - 1], kBytes);
  for (void* p : blocks) resource_->Deallocate(p, kBytes, StreamView());
  BLAZEN_EXPECT_OK(StreamView().Synchronize());
}

TEST_P(MemoryResourceContractTest, ConcurrentAllocateAndDeallocate) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 200;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const auto bytes = static_cast<std::size_t>(64 + 32 * ((i + t) % 17));
        Result<void*> ptr = resource_->Allocate(bytes, StreamView());
        if (!ptr.ok() || *ptr == nullptr) {
          ++failures[static_cast<std::size_t>(t)];
          continue;
        }
        resource_->Deallocate(*ptr, bytes, StreamView());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int f : failures) EXPECT_EQ(f, 0);
  BLAZEN_EXPECT_OK(StreamView().Synchronize());
}

}  // namespace blazen::gpu::testing
