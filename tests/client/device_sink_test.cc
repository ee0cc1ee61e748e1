// SPDX-License-Identifier: Apache-2.0
// DeviceSink: the Begin/Write/Finish contract, pool budget accounting, tensor views, and (when the
// server library is built) a tensor ref streamed from a peer into the parent's pool over parallel
// ranges. Runs over the host fallback everywhere; on a CUDA machine the same tests exercise the
// pinned bounce buffers and asynchronous host-to-device copies.

#include "client/device_sink.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include "core/tensor.h"
#include "gpu/runtime.h"
#include "tests/testing/status_matchers.h"

namespace blazen::client {
namespace {

using ::blazen::testing::IsOk;
using ::blazen::testing::StatusIs;
using ::testing::HasSubstr;

std::shared_ptr<gpu::GpuRuntime> Runtime(std::uint64_t budget = std::uint64_t{256} << 20) {
  gpu::GpuRuntimeOptions options;
  options.budget_bytes = budget;
  options.staging_buffers = 2;
  Result<std::shared_ptr<gpu::GpuRuntime>> runtime = gpu::GpuRuntime::Create(options);
  EXPECT_TRUE(runtime.ok()) << runtime.status();
  return *runtime;
}

std::vector<std::uint8_t> Pattern(std::size_t n, std::uint8_t salt) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 131 + salt) % 251);
  return v;
}

std::vector<std::uint8_t> ReadBack(const gpu::DeviceBuffer& buffer, std::size_t offset,
                                   std::size_t n) {
  std::vector<std::uint8_t> out(n);
  EXPECT_THAT(buffer.CopyToHost(out.data(), offset, n, gpu::StreamView()), IsOk());
  return out;
}

TEST(DeviceSinkTest, OutOfOrderAndConcurrentWritesLandInPlace) {
  auto runtime = Runtime();
  DeviceSinkOptions options;
  options.staging_chunk_bytes = 4096;  // forces pieces and lane reuse
  options.staging_buffers = 3;
  const std::vector<std::uint8_t> payload = Pattern(1 << 20, 7);
  {
    DeviceSink sink(runtime, options);
    ASSERT_THAT(sink.Begin(payload.size(), "bytes"), IsOk());
    EXPECT_EQ(runtime->pool().stats().in_use_bytes, payload.size());
    // Four threads, each writing its quarter back to front in 10000-byte pieces.
    std::vector<std::thread> threads;
    const std::size_t quarter = payload.size() / 4;
    for (std::size_t t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        const std::size_t begin = t * quarter;
        std::size_t end = begin + quarter;
        while (end > begin) {
          const std::size_t start = end >= begin + 10000 ? end - 10000 : begin;
          EXPECT_THAT(sink.Write(start, std::span(payload).subspan(start, end - start)), IsOk());
          end = start;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    ASSERT_THAT(sink.Finish(), IsOk());
    EXPECT_EQ(sink.on_device(), runtime->is_cuda());
    EXPECT_EQ(sink.type_tag(), "bytes");
    EXPECT_EQ(ReadBack(sink.buffer(), 0, payload.size()), payload);
    EXPECT_THAT(sink.Tensor().status(),
                StatusIs(StatusCode::kFailedPrecondition, HasSubstr("not tensor.npy")));
  }
  // The sink gave its bytes back to the pool.
  EXPECT_EQ(runtime->pool().stats().in_use_bytes, 0u);
}

TEST(DeviceSinkTest, TensorViewPointsAtTheDataAfterTheNpyHeader) {
  auto runtime = Runtime();
  const std::vector<std::int64_t> shape = {3, 5};
  std::vector<float> values(15);
  std::iota(values.begin(), values.end(), -2.5f);
  const std::string header = NpyHeader(DType::kF32, shape);
  std::vector<std::uint8_t> payload(header.begin(), header.end());
  const auto* raw = reinterpret_cast<const std::uint8_t*>(values.data());
  payload.insert(payload.end(), raw, raw + values.size() * sizeof(float));

  DeviceSink sink(runtime);
  ASSERT_THAT(sink.Begin(payload.size(), kTensorNpyTypeTag), IsOk());
  EXPECT_THAT(sink.Tensor().status(), StatusIs(StatusCode::kFailedPrecondition));
  // Data first, then the header in two pieces.
  ASSERT_THAT(sink.Write(header.size(), std::span(payload).subspan(header.size())), IsOk());
  ASSERT_THAT(sink.Write(0, std::span(payload).subspan(0, 5)), IsOk());
  ASSERT_THAT(sink.Write(5, std::span(payload).subspan(5, header.size() - 5)), IsOk());
  ASSERT_THAT(sink.Finish(), IsOk());
  BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceTensorView view, sink.Tensor());
  EXPECT_EQ(view.dtype, DType::kF32);
  EXPECT_EQ(view.shape, shape);
  EXPECT_EQ(view.offset, header.size());
  EXPECT_EQ(view.offset % 64, 0u);
  EXPECT_EQ(view.bytes, values.size() * sizeof(float));
  EXPECT_EQ(view.data, static_cast<const std::byte*>(sink.buffer().data()) + header.size());
  std::vector<float> back(values.size());
  const std::vector<std::uint8_t> bytes = ReadBack(sink.buffer(), header.size(), view.bytes);
  std::memcpy(back.data(), bytes.data(), bytes.size());
  EXPECT_EQ(back, values);

  gpu::DeviceBuffer kept = sink.TakeBuffer();
  EXPECT_EQ(kept.size(), payload.size());
  EXPECT_THAT(sink.Tensor().status(),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("TakeBuffer")));
}

TEST(DeviceSinkTest, MismatchedTensorPayloadIsInvalidArgument) {
  auto runtime = Runtime();
  const std::string header = NpyHeader(DType::kF32, std::vector<std::int64_t>{4});
  std::vector<std::uint8_t> payload(header.begin(), header.end());
  payload.resize(payload.size() + 12);  // 3 floats where the header promises 4
  DeviceSink sink(runtime);
  ASSERT_THAT(sink.Begin(payload.size(), kTensorNpyTypeTag), IsOk());
  ASSERT_THAT(sink.Write(0, payload), IsOk());
  ASSERT_THAT(sink.Finish(), IsOk());
  EXPECT_THAT(sink.Tensor().status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("does not match")));
}

TEST(DeviceSinkTest, BudgetAndContractViolationsAreClearErrors) {
  auto runtime = Runtime(std::uint64_t{1} << 20);
  {
    DeviceSink sink(runtime);
    EXPECT_THAT(sink.Begin(std::uint64_t{2} << 20, "bytes"),
                StatusIs(StatusCode::kResourceExhausted));
  }
  EXPECT_EQ(runtime->pool().stats().in_use_bytes, 0u);

  DeviceSink sink(runtime);
  const std::vector<std::uint8_t> bytes = Pattern(16, 1);
  EXPECT_THAT(sink.Write(0, bytes), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(sink.Finish(), StatusIs(StatusCode::kFailedPrecondition));
  ASSERT_THAT(sink.Begin(16, "bytes"), IsOk());
  EXPECT_THAT(sink.Begin(16, "bytes"), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(sink.Write(1, bytes), StatusIs(StatusCode::kOutOfRange));
  ASSERT_THAT(sink.Write(0, bytes), IsOk());
  ASSERT_THAT(sink.Finish(), IsOk());
  EXPECT_THAT(sink.Finish(), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(sink.Write(0, bytes), StatusIs(StatusCode::kFailedPrecondition));

  DeviceSinkOptions zero;
  zero.staging_buffers = 0;
  DeviceSink bad(runtime, zero);
  EXPECT_THAT(bad.Begin(16, "bytes"), StatusIs(StatusCode::kInvalidArgument));
  DeviceSink none(nullptr);
  EXPECT_THAT(none.Begin(16, "bytes"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(DeviceSinkTest, AbandonedSinkFreesItsBytes) {
  auto runtime = Runtime();
  {
    DeviceSink sink(runtime);
    ASSERT_THAT(sink.Begin(1 << 20, "bytes"), IsOk());
    const std::vector<std::uint8_t> half = Pattern(1 << 19, 3);
    ASSERT_THAT(sink.Write(0, half), IsOk());
    // No Finish: a failed deref.
  }
  EXPECT_EQ(runtime->pool().stats().in_use_bytes, 0u);
}

}  // namespace
}  // namespace blazen::client
