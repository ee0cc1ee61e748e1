// SPDX-License-Identifier: Apache-2.0
// CudaStream / StreamView: ownership, and the null stream of the host fallback.

#include "gpu/stream.h"

#include <gtest/gtest.h>

#include <type_traits>
#include <utility>

#include "gpu/runtime.h"
#include "tests/testing/status_matchers.h"

namespace blazen::gpu {
namespace {

static_assert(std::is_trivially_copyable_v<StreamView>);
static_assert(!std::is_copy_constructible_v<CudaStream>);
static_assert(std::is_nothrow_move_constructible_v<CudaStream>);
static_assert(std::is_nothrow_move_assignable_v<CudaStream>);

TEST(StreamTest, DefaultViewIsTheNullStreamAndSynchronizes) {
  constexpr StreamView view;
  static_assert(view.is_null());
  EXPECT_EQ(view.handle(), nullptr);
  BLAZEN_EXPECT_OK(view.Synchronize());
  EXPECT_EQ(view, StreamView(nullptr));
}

TEST(StreamTest, DefaultCudaStreamOwnsNothing) {
  CudaStream stream;
  EXPECT_TRUE(stream.is_null());
  EXPECT_TRUE(stream.view().is_null());
  BLAZEN_EXPECT_OK(stream.Synchronize());
}

TEST(StreamTest, CreateGivesTheNullStreamWithoutADevice) {
  if (VisibleCudaDeviceCount() > 0) GTEST_SKIP() << "a CUDA device is visible";
  BLAZEN_ASSERT_OK_AND_ASSIGN(CudaStream stream, CudaStream::Create());
  EXPECT_TRUE(stream.is_null());
  BLAZEN_EXPECT_OK(stream.Synchronize());
}

TEST(StreamTest, MoveLeavesTheSourceNull) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(CudaStream a, CudaStream::Create());
  void* const handle = a.handle();
  CudaStream b(std::move(a));
  EXPECT_EQ(b.handle(), handle);
  EXPECT_TRUE(a.is_null());  // NOLINT(bugprone-use-after-move): moved-from is the null stream
  CudaStream c;
  c = std::move(b);
  EXPECT_EQ(c.handle(), handle);
  EXPECT_TRUE(b.is_null());  // NOLINT(bugprone-use-after-move)
  BLAZEN_EXPECT_OK(c.Synchronize());
}

}  // namespace
}  // namespace blazen::gpu
