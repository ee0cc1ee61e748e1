// SPDX-License-Identifier: Apache-2.0
// DeviceBuffer: allocation through the pool, move semantics, freeing, host copies.

#include "gpu/device_buffer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <numeric>
#include <type_traits>
#include <utility>
#include <vector>

#include "gpu/memory_resource.h"
#include "tests/testing/status_matchers.h"

namespace blazen::gpu {
namespace {

using ::blazen::testing::StatusIs;

static_assert(!std::is_copy_constructible_v<DeviceBuffer>);
static_assert(!std::is_copy_assignable_v<DeviceBuffer>);
static_assert(std::is_nothrow_move_constructible_v<DeviceBuffer>);
static_assert(std::is_nothrow_move_assignable_v<DeviceBuffer>);

class DeviceBufferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BLAZEN_ASSERT_OK_AND_ASSIGN(
        pool_, DevicePool::Create(std::make_unique<HostMemoryResource>(), 1 << 20));
  }
  std::unique_ptr<DevicePool> pool_;
};

TEST_F(DeviceBufferTest, DefaultConstructedIsEmpty) {
  DeviceBuffer buffer;
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.size(), 0u);
  EXPECT_EQ(buffer.data(), nullptr);
  EXPECT_EQ(buffer.pool(), nullptr);
  EXPECT_FALSE(buffer.is_device());
}

TEST_F(DeviceBufferTest, AllocateChargesThePoolAndDestructorFrees) {
  {
    BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceBuffer buffer,
                                DeviceBuffer::Allocate(4096, *pool_, StreamView()));
    EXPECT_EQ(buffer.size(), 4096u);
    EXPECT_NE(buffer.data(), nullptr);
    EXPECT_EQ(buffer.pool(), pool_.get());
    EXPECT_FALSE(buffer.is_device());
    EXPECT_EQ(pool_->in_use_bytes(), 4096u);
  }
  const DevicePoolStats stats = pool_->stats();
  EXPECT_EQ(stats.in_use_bytes, 0u);
  EXPECT_EQ(stats.allocations, 1u);
  EXPECT_EQ(stats.frees, 1u);
}

TEST_F(DeviceBufferTest, MoveConstructionTransfersOwnershipAndEmptiesTheSource) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceBuffer a, DeviceBuffer::Allocate(100, *pool_, StreamView()));
  void* const data = a.data();
  DeviceBuffer b(std::move(a));
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(b.size(), 100u);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is valid and empty
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(a.pool(), nullptr);
  EXPECT_EQ(pool_->in_use_bytes(), 100u);
  { DeviceBuffer sink(std::move(b)); }
  EXPECT_EQ(pool_->in_use_bytes(), 0u);
  EXPECT_EQ(pool_->stats().frees, 1u) << "exactly one free for one allocation";
}

TEST_F(DeviceBufferTest, MoveAssignmentFreesTheOldBytes) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceBuffer a, DeviceBuffer::Allocate(100, *pool_, StreamView()));
  BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceBuffer b, DeviceBuffer::Allocate(300, *pool_, StreamView()));
  EXPECT_EQ(pool_->in_use_bytes(), 400u);
  b = std::move(a);
  EXPECT_EQ(b.size(), 100u);
  EXPECT_EQ(pool_->in_use_bytes(), 100u);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move)
  a = DeviceBuffer();
  b = DeviceBuffer();
  EXPECT_EQ(pool_->in_use_bytes(), 0u);
  EXPECT_EQ(pool_->stats().frees, 2u);
}

TEST_F(DeviceBufferTest, MovedFromBufferCanBeReused) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceBuffer a, DeviceBuffer::Allocate(10, *pool_, StreamView()));
  DeviceBuffer b = std::move(a);
  BLAZEN_ASSERT_OK_AND_ASSIGN(a, DeviceBuffer::Allocate(20, *pool_, StreamView()));
  EXPECT_EQ(a.size(), 20u);
  EXPECT_EQ(pool_->in_use_bytes(), 30u);
}

TEST_F(DeviceBufferTest, CopyFromHostAndBackRoundTrips) {
  std::vector<std::uint8_t> src(1000);
  std::iota(src.begin(), src.end(), std::uint8_t{7});
  BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceBuffer buffer,
                              DeviceBuffer::Allocate(src.size(), *pool_, StreamView()));
  BLAZEN_ASSERT_OK(buffer.CopyFromHost(src.data(), src.size(), StreamView()));
  std::vector<std::uint8_t> all(src.size());
  BLAZEN_ASSERT_OK(buffer.CopyToHost(all.data(), 0, all.size(), StreamView()));
  EXPECT_EQ(all, src);
  std::vector<std::uint8_t> middle(100);
  BLAZEN_ASSERT_OK(buffer.CopyToHost(middle.data(), 450, middle.size(), StreamView()));
  EXPECT_EQ(middle, std::vector<std::uint8_t>(src.begin() + 450, src.begin() + 550));
}

TEST_F(DeviceBufferTest, CopiesOutsideTheBufferAreOutOfRange) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceBuffer buffer,
                              DeviceBuffer::Allocate(64, *pool_, StreamView()));
  std::vector<std::uint8_t> host(128);
  EXPECT_THAT(buffer.CopyFromHost(host.data(), 65, StreamView()),
              StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(buffer.CopyToHost(host.data(), 60, 5, StreamView()),
              StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(buffer.CopyToHost(host.data(), 65, 0, StreamView()),
              StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(buffer.CopyToHost(host.data(), SIZE_MAX, 2, StreamView()),
              StatusIs(StatusCode::kOutOfRange));
  BLAZEN_EXPECT_OK(buffer.CopyToHost(host.data(), 64, 0, StreamView()));
}

TEST_F(DeviceBufferTest, CopyDuplicatesTheBytesFromTheSamePool) {
  std::vector<std::uint8_t> src(256);
  std::iota(src.begin(), src.end(), std::uint8_t{0});
  BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceBuffer a, DeviceBuffer::Allocate(256, *pool_, StreamView()));
  BLAZEN_ASSERT_OK(a.CopyFromHost(src.data(), src.size(), StreamView()));
  BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceBuffer b, a.Copy(StreamView()));
  EXPECT_NE(b.data(), a.data());
  EXPECT_EQ(b.pool(), pool_.get());
  EXPECT_EQ(pool_->in_use_bytes(), 512u);
  std::vector<std::uint8_t> out(256);
  BLAZEN_ASSERT_OK(b.CopyToHost(out.data(), 0, out.size(), StreamView()));
  EXPECT_EQ(out, src);
}

TEST_F(DeviceBufferTest, ZeroByteBufferIsEmptyAndCostsNothing) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceBuffer buffer, DeviceBuffer::Allocate(0, *pool_, StreamView()));
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.pool(), pool_.get());
  BLAZEN_EXPECT_OK(buffer.CopyFromHost(nullptr, 0, StreamView()));
  EXPECT_EQ(pool_->stats(), DevicePoolStats{});
}

TEST_F(DeviceBufferTest, AllocationBeyondTheBudgetIsResourceExhausted) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceBuffer a,
                              DeviceBuffer::Allocate(1 << 19, *pool_, StreamView()));
  EXPECT_THAT(DeviceBuffer::Allocate((1 << 19) + 1, *pool_, StreamView()),
              StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(pool_->in_use_bytes(), std::uint64_t{1} << 19);
}

TEST_F(DeviceBufferTest, SetStreamChangesTheFreeingStream) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceBuffer buffer, DeviceBuffer::Allocate(8, *pool_, StreamView()));
  EXPECT_TRUE(buffer.stream().is_null());
  int token = 0;
  buffer.set_stream(StreamView(&token));  // never dereferenced by host memory
  EXPECT_EQ(buffer.stream().handle(), &token);
  buffer.set_stream(StreamView());
}

}  // namespace
}  // namespace blazen::gpu
