// SPDX-License-Identifier: Apache-2.0
// DeviceTensor on the host backend: NPY bytes identical to HostTensorValue's at any offset and
// staging chunk size, pool accounting through the session-ref registry, concurrent reads.

#include "gpu/device_tensor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/session_ref.h"
#include "core/tensor.h"
#include "gpu/runtime.h"
#include "tests/testing/status_matchers.h"

namespace blazen::gpu {
namespace {

using ::blazen::testing::StatusIs;

std::shared_ptr<GpuRuntime> HostRuntime(std::uint64_t budget = std::uint64_t{64} << 20,
                                        std::size_t chunk = 4096, std::size_t buffers = 4) {
  GpuRuntimeOptions options;
  options.budget_bytes = budget;
  options.staging_chunk_bytes = chunk;
  options.staging_buffers = buffers;
  options.force_host = true;
  auto runtime = GpuRuntime::Create(options);
  EXPECT_TRUE(runtime.ok()) << runtime.status();
  return runtime.ok() ? *runtime : nullptr;
}

std::vector<std::uint8_t> Pattern(std::size_t bytes, std::uint32_t seed) {
  std::vector<std::uint8_t> data(bytes);
  std::mt19937 rng(seed);
  for (std::uint8_t& b : data) b = static_cast<std::uint8_t>(rng());
  return data;
}

std::vector<std::uint8_t> ReadAll(const SessionValue& value) {
  std::vector<std::uint8_t> out(value.size_bytes());
  EXPECT_TRUE(value.Read(0, out).ok());
  return out;
}

struct TensorCase {
  DType dtype;
  std::vector<std::int64_t> shape;
};

std::vector<TensorCase> Cases() {
  return {{DType::kF32, {3, 4}},    {DType::kF16, {2, 3, 5}},      {DType::kI32, {}},
          {DType::kI64, {17}},      {DType::kU8, {0, 7}},          {DType::kU8, {1000}},
          {DType::kF32, {64, 384}}, {DType::kI64, {1, 1, 1, 1, 3}}};
}

std::size_t DataBytes(const TensorCase& c) {
  return static_cast<std::size_t>(*TensorElementCount(c.dtype, c.shape)) * DTypeSize(c.dtype);
}

TEST(DeviceTensorTest, ReportsTheTensorNpyContract) {
  auto runtime = HostRuntime();
  const std::vector<std::uint8_t> data = Pattern(3 * 4 * 4, 1);
  BLAZEN_ASSERT_OK_AND_ASSIGN(auto tensor, DeviceTensor::FromHost(*runtime, DType::kF32, {3, 4},
                                                                  data.data(), runtime->stream()));
  const std::string header = NpyHeader(DType::kF32, std::vector<std::int64_t>{3, 4});
  EXPECT_EQ(tensor->type_tag(), kTensorNpyTypeTag);
  EXPECT_EQ(tensor->header(), header);
  EXPECT_EQ(tensor->size_bytes(), header.size() + data.size());
  EXPECT_EQ(tensor->resident_bytes(), data.size());
  EXPECT_EQ(tensor->location(), "host");
  EXPECT_EQ(tensor->dtype(), DType::kF32);
  EXPECT_EQ(tensor->shape(), (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(&tensor->runtime(), runtime.get());
  EXPECT_EQ(runtime->pool().in_use_bytes(), data.size());
}

TEST(DeviceTensorTest, NpyBytesAreIdenticalToHostTensorValue) {
  auto runtime = HostRuntime();
  std::uint32_t seed = 10;
  for (const TensorCase& c : Cases()) {
    const std::vector<std::uint8_t> data = Pattern(DataBytes(c), ++seed);
    BLAZEN_ASSERT_OK_AND_ASSIGN(auto host, HostTensorValue::Create(c.dtype, c.shape, data));
    BLAZEN_ASSERT_OK_AND_ASSIGN(
        auto device, DeviceTensor::FromHost(*runtime, c.dtype, c.shape, data.data(), StreamView()));
    ASSERT_EQ(device->size_bytes(), host->size_bytes());
    EXPECT_EQ(ReadAll(*device), ReadAll(*host)) << DTypeName(c.dtype);
    std::vector<std::uint8_t> staged(device->size_bytes());
    BLAZEN_ASSERT_OK(device->ReadThroughStaging(0, staged));
    EXPECT_EQ(staged, ReadAll(*host));
  }
}

TEST(DeviceTensorTest, ArbitraryRangesMatchHostTensorValueForAnyStagingChunk) {
  const std::vector<std::int64_t> shape = {37, 29};  // 1073 f32 = 4292 data bytes, odd sizes
  const std::vector<std::uint8_t> data = Pattern(37 * 29 * 4, 99);
  BLAZEN_ASSERT_OK_AND_ASSIGN(auto host, HostTensorValue::Create(DType::kF32, shape, data));
  const std::vector<std::uint8_t> expected = ReadAll(*host);
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{64}, std::size_t{1000},
                            std::size_t{4096}, std::size_t{1} << 20}) {
    auto runtime = HostRuntime(1 << 20, chunk, 2);
    BLAZEN_ASSERT_OK_AND_ASSIGN(auto tensor, DeviceTensor::FromHost(*runtime, DType::kF32, shape,
                                                                    data.data(), StreamView()));
    std::mt19937_64 rng(chunk);
    for (int trial = 0; trial < 300; ++trial) {
      const std::uint64_t offset = rng() % (expected.size() + 1);
      const std::size_t length = rng() % (expected.size() - offset + 1);
      std::vector<std::uint8_t> via_read(length, 0xEE);
      std::vector<std::uint8_t> via_staging(length, 0xDD);
      BLAZEN_ASSERT_OK(tensor->Read(offset, via_read));
      BLAZEN_ASSERT_OK(tensor->ReadThroughStaging(offset, via_staging));
      const std::vector<std::uint8_t> want(
          expected.begin() + static_cast<std::ptrdiff_t>(offset),
          expected.begin() + static_cast<std::ptrdiff_t>(offset + length));
      ASSERT_EQ(via_read, want) << "chunk " << chunk << " offset " << offset << " len " << length;
      ASSERT_EQ(via_staging, want)
          << "chunk " << chunk << " offset " << offset << " len " << length;
    }
    // The header/data boundary, exactly.
    const std::size_t h = tensor->header().size();
    for (std::size_t start : {h - 1, h, h + 1}) {
      std::vector<std::uint8_t> out(3);
      BLAZEN_ASSERT_OK(tensor->ReadThroughStaging(start, out));
      EXPECT_EQ(out, std::vector<std::uint8_t>(
                         expected.begin() + static_cast<std::ptrdiff_t>(start),
                         expected.begin() + static_cast<std::ptrdiff_t>(start + 3)));
    }
    EXPECT_EQ(runtime->staging().available(), 2u) << "every Read returns its staging buffer";
  }
}

TEST(DeviceTensorTest, ReadsPastTheEndAreOutOfRange) {
  auto runtime = HostRuntime();
  const std::vector<std::uint8_t> data = Pattern(40, 3);
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      auto tensor, DeviceTensor::FromHost(*runtime, DType::kU8, {40}, data.data(), StreamView()));
  const std::uint64_t size = tensor->size_bytes();
  std::vector<std::uint8_t> one(1);
  std::vector<std::uint8_t> empty;
  EXPECT_THAT(tensor->Read(size, one), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(tensor->ReadThroughStaging(size, one), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(tensor->Read(size + 1, empty), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(tensor->Read(UINT64_MAX, one), StatusIs(StatusCode::kOutOfRange));
  std::vector<std::uint8_t> all_plus_one(size + 1);
  EXPECT_THAT(tensor->Read(0, all_plus_one), StatusIs(StatusCode::kOutOfRange));
  BLAZEN_EXPECT_OK(tensor->Read(size, empty));
  BLAZEN_EXPECT_OK(tensor->Read(size - 1, one));
  EXPECT_EQ(one[0], data.back());
}

TEST(DeviceTensorTest, InvalidShapesAreRejectedWithoutTouchingThePool) {
  auto runtime = HostRuntime();
  EXPECT_THAT(DeviceTensor::Allocate(*runtime, DType::kF32, {2, -1}, StreamView()),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(
      DeviceTensor::Allocate(*runtime, DType::kU8, std::vector<std::int64_t>(33, 1), StreamView()),
      StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(DeviceTensor::Allocate(*runtime, DType::kI64, {INT64_MAX, INT64_MAX}, StreamView()),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(DeviceTensor::FromHost(*runtime, DType::kU8, {4}, nullptr, StreamView()),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(runtime->pool().in_use_bytes(), 0u);
}

TEST(DeviceTensorTest, AllocationBeyondTheBudgetIsResourceExhausted) {
  auto runtime = HostRuntime(/*budget=*/4096);
  BLAZEN_ASSERT_OK_AND_ASSIGN(auto fits,
                              DeviceTensor::Allocate(*runtime, DType::kF32, {1024}, StreamView()));
  EXPECT_THAT(DeviceTensor::Allocate(*runtime, DType::kU8, {1}, StreamView()),
              StatusIs(StatusCode::kResourceExhausted, ::testing::HasSubstr("budget of 4096")));
  EXPECT_EQ(runtime->pool().in_use_bytes(), 4096u);
}

TEST(DeviceTensorTest, AllocateLetsTheProducerFillTheBuffer) {
  auto runtime = HostRuntime();
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      auto tensor, DeviceTensor::Allocate(*runtime, DType::kI32, {4}, runtime->stream()));
  const std::vector<std::int32_t> values = {1, -2, 3, -4};
  BLAZEN_ASSERT_OK(tensor->mutable_buffer().CopyFromHost(values.data(), 16, tensor->stream()));
  std::vector<std::uint8_t> bytes(16);
  BLAZEN_ASSERT_OK(tensor->Read(tensor->header().size(), bytes));
  std::vector<std::int32_t> back(4);
  std::memcpy(back.data(), bytes.data(), 16);
  EXPECT_EQ(back, values);
}

TEST(DeviceTensorTest, DestroyingTheTensorReturnsItsBytesToThePool) {
  auto runtime = HostRuntime();
  {
    BLAZEN_ASSERT_OK_AND_ASSIGN(
        auto tensor, DeviceTensor::Allocate(*runtime, DType::kF32, {256, 16}, StreamView()));
    EXPECT_EQ(runtime->pool().in_use_bytes(), 256u * 16u * 4u);
  }
  EXPECT_EQ(runtime->pool().in_use_bytes(), 0u);
  EXPECT_EQ(runtime->pool().stats().frees, 1u);
}

TEST(DeviceTensorTest, KeepsTheRuntimeAliveWhileItHoldsPoolMemory) {
  auto runtime = HostRuntime();
  GpuRuntime* raw = runtime.get();
  const std::vector<std::uint8_t> data = Pattern(100, 5);
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      auto tensor, DeviceTensor::FromHost(*runtime, DType::kU8, {100}, data.data(), StreamView()));
  runtime.reset();  // the tensor still owns a reference
  EXPECT_EQ(&tensor->runtime(), raw);
  std::vector<std::uint8_t> out(100);
  BLAZEN_ASSERT_OK(tensor->ReadThroughStaging(tensor->header().size(), out));
  EXPECT_EQ(out, data);
  EXPECT_EQ(tensor->runtime().pool().in_use_bytes(), 100u);
}

TEST(DeviceTensorTest, RegistryReleaseReturnsPoolBytes) {
  auto runtime = HostRuntime();
  SessionRefRegistry registry;
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      auto tensor, DeviceTensor::Allocate(*runtime, DType::kF32, {128, 8}, StreamView()));
  BLAZEN_ASSERT_OK_AND_ASSIGN(const Uuid key,
                              registry.Insert(std::move(tensor), RefLifetime::kUntilExplicitDrop,
                                              RefOwner{"run-1", std::nullopt}));
  EXPECT_EQ(runtime->pool().in_use_bytes(), 4096u);
  const std::optional<RefInfo> info = registry.Info(key);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->type_tag, "tensor.npy");
  EXPECT_EQ(info->location, "host");
  EXPECT_EQ(info->resident_bytes, 4096u);
  EXPECT_EQ(registry.Stats().resident_bytes_by_location.at("host"), 4096u);

  EXPECT_TRUE(registry.Release(key));
  EXPECT_EQ(runtime->pool().in_use_bytes(), 0u);
  EXPECT_EQ(registry.Stats().resident_bytes_by_location.at("host"), 0u);
}

TEST(DeviceTensorTest, LeaseKeepsTheBytesUntilTheDerefEnds) {
  auto runtime = HostRuntime();
  SessionRefRegistry registry;
  const std::vector<std::uint8_t> data = Pattern(512, 8);
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      auto tensor, DeviceTensor::FromHost(*runtime, DType::kU8, {512}, data.data(), StreamView()));
  BLAZEN_ASSERT_OK_AND_ASSIGN(const Uuid key,
                              registry.Insert(std::move(tensor), RefLifetime::kUntilExplicitDrop,
                                              RefOwner{"run-1", std::nullopt}));
  BLAZEN_ASSERT_OK_AND_ASSIGN(RefLease lease, registry.Acquire(key));
  EXPECT_TRUE(registry.Release(key));
  EXPECT_EQ(runtime->pool().in_use_bytes(), 512u) << "a deref in flight keeps the memory";
  std::vector<std::uint8_t> out(512);
  BLAZEN_ASSERT_OK(lease.value().Read(lease.value().size_bytes() - 512, out));
  EXPECT_EQ(out, data);
  lease = RefLease();
  EXPECT_EQ(runtime->pool().in_use_bytes(), 0u);
}

TEST(DeviceTensorTest, ThousandCyclesOfUntilContextDropTensorsReturnThePoolToZero) {
  auto runtime = HostRuntime();
  SessionRefRegistry registry;
  for (int i = 0; i < 1000; ++i) {
    const std::string run_id = "run-" + std::to_string(i);
    BLAZEN_ASSERT_OK_AND_ASSIGN(
        auto tensor,
        DeviceTensor::Allocate(*runtime, DType::kF32, {16, 1 + i % 32}, runtime->stream()));
    BLAZEN_ASSERT_OK(registry.Insert(std::move(tensor), RefLifetime::kUntilContextDrop,
                                     RefOwner{run_id, std::nullopt}));
    ASSERT_GT(runtime->pool().in_use_bytes(), 0u);
    ASSERT_EQ(registry.EndRun(run_id, /*run_failed=*/false), 1u);
    ASSERT_EQ(runtime->pool().in_use_bytes(), 0u) << "cycle " << i;
  }
  const DevicePoolStats stats = runtime->pool().stats();
  EXPECT_EQ(stats.in_use_bytes, 0u);
  EXPECT_EQ(stats.allocations, 1000u);
  EXPECT_EQ(stats.frees, 1000u);
  EXPECT_EQ(registry.size(), 0u);
}

TEST(DeviceTensorTest, RegistryByteLimitAppliesToTheTensorsLocation) {
  auto runtime = HostRuntime();
  RegistryOptions options;
  options.max_bytes_per_location = {{"host", 1000}};
  SessionRefRegistry registry(options);
  BLAZEN_ASSERT_OK_AND_ASSIGN(auto small,
                              DeviceTensor::Allocate(*runtime, DType::kU8, {600}, StreamView()));
  BLAZEN_ASSERT_OK_AND_ASSIGN(auto big,
                              DeviceTensor::Allocate(*runtime, DType::kU8, {600}, StreamView()));
  BLAZEN_ASSERT_OK(registry.Insert(std::move(small), RefLifetime::kUntilContextDrop,
                                   RefOwner{"r", std::nullopt}));
  EXPECT_THAT(registry.Insert(big, RefLifetime::kUntilContextDrop, RefOwner{"r", std::nullopt}),
              StatusIs(StatusCode::kResourceExhausted));
  big.reset();
  EXPECT_EQ(runtime->pool().in_use_bytes(), 600u);
  registry.EndRun("r", false);
  EXPECT_EQ(runtime->pool().in_use_bytes(), 0u);
}

TEST(DeviceTensorTest, ConcurrentReadsAreByteExact) {
  // Fewer staging buffers than readers: some Reads wait for a buffer.
  auto runtime = HostRuntime(std::uint64_t{16} << 20, /*chunk=*/4096, /*buffers=*/3);
  const std::vector<std::int64_t> shape = {256, 257};
  const std::vector<std::uint8_t> data = Pattern(256 * 257 * 2, 42);
  BLAZEN_ASSERT_OK_AND_ASSIGN(auto host, HostTensorValue::Create(DType::kF16, shape, data));
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      std::shared_ptr<const DeviceTensor> tensor,
      DeviceTensor::FromHost(*runtime, DType::kF16, shape, data.data(), StreamView()));
  const std::vector<std::uint8_t> expected = ReadAll(*host);
  constexpr int kThreads = 8;
  std::atomic<int> mismatches{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) + 1);
      for (int i = 0; i < 100; ++i) {
        const std::uint64_t offset = rng() % expected.size();
        const std::size_t length = rng() % std::min<std::uint64_t>(expected.size() - offset, 20000);
        std::vector<std::uint8_t> out(length);
        const Status status =
            (i % 2 == 0) ? tensor->ReadThroughStaging(offset, out) : tensor->Read(offset, out);
        if (!status.ok()) {
          ++errors;
          continue;
        }
        if (!std::equal(out.begin(), out.end(),
                        expected.begin() + static_cast<std::ptrdiff_t>(offset))) {
          ++mismatches;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(runtime->staging().available(), 3u);
}

// Lends the whole payload through `lend` chunk by chunk.
template <typename LendFn>
std::vector<std::uint8_t> LendAll(const SessionValue& value, std::size_t max, LendFn lend) {
  std::vector<std::uint8_t> out;
  while (out.size() < value.size_bytes()) {
    Result<LentChunk> chunk = lend(out.size(), max);
    EXPECT_TRUE(chunk.ok()) << chunk.status();
    if (!chunk.ok()) break;
    EXPECT_GT(chunk->size(), 0u);
    out.insert(out.end(), chunk->data(), chunk->data() + chunk->size());
  }
  return out;
}

TEST(DeviceTensorTest, LendMatchesReadBothWaysAndNeverSpansTheHeader) {
  auto runtime = HostRuntime(std::uint64_t{64} << 20, /*chunk=*/4096, /*buffers=*/2);
  const std::vector<std::uint8_t> data = Pattern(4 * 3000, 5);
  BLAZEN_ASSERT_OK_AND_ASSIGN(auto tensor, DeviceTensor::FromHost(*runtime, DType::kF32, {3000},
                                                                  data.data(), StreamView()));
  EXPECT_FALSE(tensor->lend_may_block()) << "host memory: views only";
  const std::vector<std::uint8_t> expected = ReadAll(*tensor);
  const std::size_t header = tensor->header().size();
  for (std::size_t max :
       {std::size_t{1}, std::size_t{100}, std::size_t{4096}, std::size_t{1} << 20}) {
    EXPECT_EQ(
        LendAll(*tensor, max,
                [&](std::uint64_t o, std::size_t n) { return tensor->Lend(o, n, tensor, {}); }),
        expected)
        << max;
    EXPECT_EQ(LendAll(*tensor, max,
                      [&](std::uint64_t o, std::size_t n) {
                        Result<LentChunk> chunk = tensor->LendThroughStaging(o, n, tensor, {});
                        // Data chunks come in staging buffers, at most one buffer each.
                        if (chunk.ok() && o >= header) {
                          EXPECT_LE(chunk->size(), 4096u);
                        }
                        return chunk;
                      }),
              expected)
        << max;
  }
  BLAZEN_ASSERT_OK_AND_ASSIGN(LentChunk head, tensor->Lend(0, 1 << 20, tensor, {}));
  EXPECT_EQ(head.size(), header);
  EXPECT_THAT(tensor->Lend(tensor->size_bytes(), 1, tensor, {}), StatusIs(StatusCode::kOutOfRange));
}

TEST(DeviceTensorTest, AStagedChunkOwnsItsBufferUntilDropped) {
  auto runtime = HostRuntime(std::uint64_t{64} << 20, /*chunk=*/1024, /*buffers=*/2);
  const std::vector<std::uint8_t> data = Pattern(8192, 9);
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      auto tensor, DeviceTensor::FromHost(*runtime, DType::kU8, {8192}, data.data(), StreamView()));
  const std::uint64_t at = tensor->header().size();
  ASSERT_EQ(runtime->staging().available(), 2u);
  std::optional<LentChunk> a = tensor->LendThroughStaging(at, 1024, tensor, {}).value();
  std::optional<LentChunk> b = tensor->LendThroughStaging(at + 1024, 1024, tensor, {}).value();
  EXPECT_EQ(runtime->staging().available(), 0u);
  EXPECT_TRUE(std::equal(a->data(), a->data() + a->size(), data.begin()));
  // Every buffer is lent: a third lend waits, then gives up at its deadline or when cancelled.
  LendOptions soon;
  soon.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(30);
  EXPECT_THAT(tensor->LendThroughStaging(at, 1024, tensor, soon),
              StatusIs(StatusCode::kDeadlineExceeded));
  LendOptions cancelled;
  cancelled.cancelled = [] { return true; };
  EXPECT_THAT(tensor->LendThroughStaging(at, 1024, tensor, cancelled),
              StatusIs(StatusCode::kCancelled));
  a.reset();
  EXPECT_EQ(runtime->staging().available(), 1u);
  BLAZEN_ASSERT_OK_AND_ASSIGN(LentChunk c, tensor->LendThroughStaging(at + 2048, 1024, tensor, {}));
  EXPECT_TRUE(std::equal(c.data(), c.data() + c.size(), data.begin() + 2048));
  b.reset();
}

}  // namespace
}  // namespace blazen::gpu
