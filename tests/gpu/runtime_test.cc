// SPDX-License-Identifier: Apache-2.0
// GpuRuntime: backend selection on this machine (host fallback without a device), options.

#include "gpu/runtime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>

#include "gpu/cuda_config.h"
#include "tests/testing/status_matchers.h"

namespace blazen::gpu {
namespace {

using ::blazen::testing::StatusIs;
using ::testing::HasSubstr;

// Captures what the default logger writes while it is alive.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

GpuRuntimeOptions Options(std::uint64_t budget, bool force_host = true) {
  GpuRuntimeOptions options;
  options.budget_bytes = budget;
  options.force_host = force_host;
  return options;
}

TEST(GpuRuntimeTest, PicksTheHostFallbackWithoutADeviceAndSaysSo) {
  if (VisibleCudaDeviceCount() > 0) GTEST_SKIP() << "a CUDA device is visible";
  LogCapture log;
  BLAZEN_ASSERT_OK_AND_ASSIGN(std::shared_ptr<GpuRuntime> runtime,
                              GpuRuntime::Create(Options(1 << 20, /*force_host=*/false)));
  EXPECT_FALSE(runtime->is_cuda());
  EXPECT_EQ(runtime->device(), std::nullopt);
  EXPECT_EQ(runtime->location(), "host");
  EXPECT_EQ(runtime->device_name(), "host");
  EXPECT_FALSE(runtime->pool().is_device());
  EXPECT_FALSE(runtime->staging().pinned());
  EXPECT_TRUE(runtime->stream().is_null());
  EXPECT_FALSE(runtime->fallback_reason().empty());
  if (kBuiltWithCuda) {
    // The probe asked the CUDA runtime, which has no driver or device here.
    EXPECT_THAT(runtime->fallback_reason(), HasSubstr("cudaGetDeviceCount"));
  } else {
    EXPECT_THAT(runtime->fallback_reason(), HasSubstr("without CUDA"));
  }
  EXPECT_THAT(runtime->Describe(), HasSubstr("host fallback"));
  EXPECT_THAT(log.text(), HasSubstr("host fallback"));
  EXPECT_THAT(log.text(), HasSubstr(runtime->fallback_reason()));
}

TEST(GpuRuntimeTest, DefaultBudgetIsNinetyPercentOfMemory) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(std::shared_ptr<GpuRuntime> runtime,
                              GpuRuntime::Create(Options(/*budget=*/0)));
  ASSERT_FALSE(runtime->is_cuda());
  EXPECT_EQ(runtime->total_memory_bytes(), PhysicalMemoryBytes());
  EXPECT_NEAR(static_cast<double>(runtime->budget_bytes()),
              0.9 * static_cast<double>(runtime->total_memory_bytes()), 2.0);
}

TEST(GpuRuntimeTest, AppliesExplicitBudgetAndStagingOptions) {
  GpuRuntimeOptions options = Options(12345);
  options.staging_chunk_bytes = 4096;
  options.staging_buffers = 3;
  BLAZEN_ASSERT_OK_AND_ASSIGN(std::shared_ptr<GpuRuntime> runtime, GpuRuntime::Create(options));
  EXPECT_EQ(runtime->budget_bytes(), 12345u);
  EXPECT_EQ(runtime->pool().budget_bytes(), 12345u);
  EXPECT_EQ(runtime->staging().chunk_bytes(), 4096u);
  EXPECT_EQ(runtime->staging().count(), 3u);
  EXPECT_EQ(runtime->pool().stats(), DevicePoolStats{});
}

TEST(GpuRuntimeTest, DefaultStagingIsEightBuffersOfOneMebibyte) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(std::shared_ptr<GpuRuntime> runtime,
                              GpuRuntime::Create(Options(1 << 20)));
  EXPECT_EQ(runtime->staging().chunk_bytes(), std::size_t{1} << 20);
  EXPECT_EQ(runtime->staging().count(), 8u);
}

TEST(GpuRuntimeTest, ForceHostUsesTheHostBackend) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(std::shared_ptr<GpuRuntime> runtime,
                              GpuRuntime::Create(Options(1 << 20)));
  EXPECT_FALSE(runtime->is_cuda());
  EXPECT_EQ(runtime->location(), "host");
  EXPECT_THAT(runtime->fallback_reason(), HasSubstr("requested"));
}

TEST(GpuRuntimeTest, RejectsZeroStagingSizes) {
  GpuRuntimeOptions no_chunk = Options(1 << 20);
  no_chunk.staging_chunk_bytes = 0;
  EXPECT_THAT(GpuRuntime::Create(no_chunk), StatusIs(StatusCode::kInvalidArgument));
  GpuRuntimeOptions no_buffers = Options(1 << 20);
  no_buffers.staging_buffers = 0;
  EXPECT_THAT(GpuRuntime::Create(no_buffers), StatusIs(StatusCode::kInvalidArgument));
}

TEST(GpuRuntimeTest, RequestedDeviceIsIgnoredWithoutADevice) {
  if (VisibleCudaDeviceCount() > 0) GTEST_SKIP() << "a CUDA device is visible";
  GpuRuntimeOptions options = Options(1 << 20, /*force_host=*/false);
  options.device = 3;
  BLAZEN_ASSERT_OK_AND_ASSIGN(std::shared_ptr<GpuRuntime> runtime, GpuRuntime::Create(options));
  EXPECT_FALSE(runtime->is_cuda());
}

TEST(GpuRuntimeTest, CreateStreamOnTheHostBackendIsTheNullStream) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(std::shared_ptr<GpuRuntime> runtime,
                              GpuRuntime::Create(Options(1 << 20)));
  BLAZEN_ASSERT_OK_AND_ASSIGN(CudaStream stream, runtime->CreateStream());
  EXPECT_TRUE(stream.is_null());
  BLAZEN_EXPECT_OK(stream.Synchronize());
}

TEST(GpuRuntimeTest, VisibleDeviceCountIsZeroInHostOnlyBuilds) {
  if (kBuiltWithCuda) GTEST_SKIP() << "built with CUDA";
  EXPECT_EQ(VisibleCudaDeviceCount(), 0);
}

}  // namespace
}  // namespace blazen::gpu
