// SPDX-License-Identifier: Apache-2.0
// gpu/ on a real CUDA device: the stream-ordered pool, budget and out-of-memory mapping on the
// device, pinned staging, and byte-exact NPY reads of device tensors. Every test skips itself when
// no CUDA device is visible (ctest label "gpu").

#include <cuda_runtime_api.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/session_ref.h"
#include "core/tensor.h"
#include "gpu/cuda_async_pool_resource.h"
#include "gpu/device_buffer.h"
#include "gpu/device_pool.h"
#include "gpu/device_tensor.h"
#include "gpu/runtime.h"
#include "tests/gpu/memory_resource_contract.h"
#include "tests/testing/status_matchers.h"

namespace blazen::gpu {
namespace {

using ::blazen::testing::StatusIs;
using ::testing::HasSubstr;

constexpr const char* kNoDevice = "no CUDA device is visible";

std::shared_ptr<GpuRuntime> DeviceRuntime(std::uint64_t budget = std::uint64_t{256} << 20,
                                          std::size_t chunk = std::size_t{1} << 20,
                                          std::size_t buffers = 8) {
  GpuRuntimeOptions options;
  options.budget_bytes = budget;
  options.staging_chunk_bytes = chunk;
  options.staging_buffers = buffers;
  auto runtime = GpuRuntime::Create(options);
  EXPECT_TRUE(runtime.ok()) << runtime.status();
  if (!runtime.ok()) return nullptr;
  EXPECT_TRUE((*runtime)->is_cuda()) << (*runtime)->Describe();
  return *runtime;
}

std::vector<std::uint8_t> Pattern(std::size_t bytes, std::uint32_t seed) {
  std::vector<std::uint8_t> data(bytes);
  std::mt19937 rng(seed);
  for (std::uint8_t& b : data) b = static_cast<std::uint8_t>(rng());
  return data;
}

std::vector<std::uint8_t> ReadAll(const SessionValue& value) {
  std::vector<std::uint8_t> out(value.size_bytes());
  const Status status = value.Read(0, out);
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

std::unique_ptr<MemoryResource> MakeCudaPool() {
  if (VisibleCudaDeviceCount() == 0) return nullptr;
  auto resource = CudaAsyncPoolResource::Create(0);
  EXPECT_TRUE(resource.ok()) << resource.status();
  return resource.ok() ? std::move(*resource) : nullptr;
}

TEST(CudaDeviceTest, RuntimePicksTheDevice) {
  if (VisibleCudaDeviceCount() == 0) GTEST_SKIP() << kNoDevice;
  auto runtime = DeviceRuntime();
  ASSERT_NE(runtime, nullptr);
  EXPECT_TRUE(runtime->is_cuda());
  EXPECT_EQ(runtime->device(), 0);
  EXPECT_EQ(runtime->location(), "cuda:0");
  EXPECT_FALSE(runtime->device_name().empty());
  EXPECT_GT(runtime->total_memory_bytes(), 0u);
  EXPECT_TRUE(runtime->fallback_reason().empty());
  EXPECT_TRUE(runtime->pool().is_device());
  EXPECT_TRUE(runtime->staging().pinned());
  EXPECT_FALSE(runtime->stream().is_null());
  BLAZEN_ASSERT_OK_AND_ASSIGN(CudaStream stream, runtime->CreateStream());
  EXPECT_FALSE(stream.is_null());
  BLAZEN_EXPECT_OK(stream.Synchronize());
}

TEST(CudaDeviceTest, DefaultBudgetIsNinetyPercentOfFreeDeviceMemory) {
  if (VisibleCudaDeviceCount() == 0) GTEST_SKIP() << kNoDevice;
  BLAZEN_ASSERT_OK_AND_ASSIGN(std::shared_ptr<GpuRuntime> runtime,
                              GpuRuntime::Create(GpuRuntimeOptions{}));
  ASSERT_TRUE(runtime->is_cuda());
  EXPECT_GT(runtime->budget_bytes(), 0u);
  EXPECT_LE(runtime->budget_bytes(), runtime->total_memory_bytes() / 10 * 9 + 1);
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::uint64_t free90, BudgetFromPercentOfFreeMemory(90.0, 0));
  EXPECT_GT(free90, 0u);
}

TEST(CudaDeviceTest, PoolAllocatesDeviceMemoryFromTheStreamOrderedPool) {
  if (VisibleCudaDeviceCount() == 0) GTEST_SKIP() << kNoDevice;
  auto runtime = DeviceRuntime();
  ASSERT_NE(runtime, nullptr);
  BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceBuffer buffer,
                              DeviceBuffer::Allocate(1 << 20, runtime->pool(), runtime->stream()));
  EXPECT_TRUE(buffer.is_device());
  cudaPointerAttributes attributes{};
  ASSERT_EQ(cudaPointerGetAttributes(&attributes, buffer.data()), cudaSuccess);
  EXPECT_EQ(attributes.type, cudaMemoryTypeDevice);
  EXPECT_EQ(attributes.device, 0);
  auto& upstream = dynamic_cast<CudaAsyncPoolResource&>(runtime->pool().upstream());
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::uint64_t reserved, upstream.reserved_bytes());
  EXPECT_GE(reserved, std::uint64_t{1} << 20);
  EXPECT_EQ(runtime->pool().in_use_bytes(), std::uint64_t{1} << 20);
}

TEST(CudaDeviceTest, PoolReuseNeedsNoNewDeviceMemoryInSteadyState) {
  if (VisibleCudaDeviceCount() == 0) GTEST_SKIP() << kNoDevice;
  auto runtime = DeviceRuntime();
  ASSERT_NE(runtime, nullptr);
  auto& upstream = dynamic_cast<CudaAsyncPoolResource&>(runtime->pool().upstream());
  constexpr std::size_t kBytes = std::size_t{1} << 20;
  {
    BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceBuffer warm,
                                DeviceBuffer::Allocate(kBytes, runtime->pool(), runtime->stream()));
  }
  BLAZEN_ASSERT_OK(runtime->stream().Synchronize());
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::uint64_t high_before, upstream.reserved_bytes_high());
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::uint64_t kept, upstream.reserved_bytes());
  EXPECT_GE(kept, kBytes) << "the raised release threshold keeps freed memory in the pool";
  for (int i = 0; i < 1000; ++i) {
    BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceBuffer buffer,
                                DeviceBuffer::Allocate(kBytes, runtime->pool(), runtime->stream()));
    if (i % 100 == 0) {
      BLAZEN_ASSERT_OK(runtime->stream().Synchronize());
    }
  }
  BLAZEN_ASSERT_OK(runtime->stream().Synchronize());
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::uint64_t high_after, upstream.reserved_bytes_high());
  EXPECT_EQ(high_after, high_before) << "steady state reused the pool's memory";
  const DevicePoolStats stats = runtime->pool().stats();
  EXPECT_EQ(stats.allocations, 1001u);
  EXPECT_EQ(stats.frees, 1001u);
  EXPECT_EQ(stats.in_use_bytes, 0u);
  EXPECT_EQ(stats.peak_bytes, kBytes);
}

TEST(CudaDeviceTest, BudgetExhaustionOnTheDeviceChangesNothing) {
  if (VisibleCudaDeviceCount() == 0) GTEST_SKIP() << kNoDevice;
  auto runtime = DeviceRuntime(/*budget=*/std::uint64_t{1} << 20);
  ASSERT_NE(runtime, nullptr);
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      DeviceBuffer held, DeviceBuffer::Allocate(768 << 10, runtime->pool(), runtime->stream()));
  const DevicePoolStats before = runtime->pool().stats();
  EXPECT_THAT(DeviceBuffer::Allocate(512 << 10, runtime->pool(), runtime->stream()),
              StatusIs(StatusCode::kResourceExhausted,
                       HasSubstr("cuda:0 cannot allocate 524288 bytes: 786432 bytes in use of a "
                                 "budget of 1048576 bytes")));
  DevicePoolStats expected = before;
  expected.failures += 1;
  EXPECT_EQ(runtime->pool().stats(), expected);
  EXPECT_THAT(DeviceTensor::Allocate(*runtime, DType::kF32, {1 << 17}, runtime->stream()),
              StatusIs(StatusCode::kResourceExhausted));
}

TEST(CudaDeviceTest, RealDeviceOutOfMemoryIsResourceExhausted) {
  if (VisibleCudaDeviceCount() == 0) GTEST_SKIP() << kNoDevice;
  auto upstream = MakeCudaPool();
  ASSERT_NE(upstream, nullptr);
  BLAZEN_ASSERT_OK_AND_ASSIGN(std::unique_ptr<DevicePool> pool,
                              DevicePool::Create(std::move(upstream), UINT64_MAX));
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_bytes, &total_bytes), cudaSuccess);
  EXPECT_THAT(pool->Allocate(total_bytes * 2, StreamView()),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("cuda:0")));
  EXPECT_EQ(pool->in_use_bytes(), 0u);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "the error state was cleared";
  BLAZEN_ASSERT_OK_AND_ASSIGN(void* ptr, pool->Allocate(4096, StreamView()));
  pool->Deallocate(ptr, 4096, StreamView());
  BLAZEN_EXPECT_OK(StreamView().Synchronize());
}

TEST(CudaDeviceTest, DeviceBufferCopiesRoundTrip) {
  if (VisibleCudaDeviceCount() == 0) GTEST_SKIP() << kNoDevice;
  auto runtime = DeviceRuntime();
  ASSERT_NE(runtime, nullptr);
  const std::vector<std::uint8_t> src = Pattern(3 << 20, 4);
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      DeviceBuffer a, DeviceBuffer::Allocate(src.size(), runtime->pool(), runtime->stream()));
  BLAZEN_ASSERT_OK(a.CopyFromHost(src.data(), src.size(), runtime->stream()));
  BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceBuffer b, a.Copy(runtime->stream()));
  std::vector<std::uint8_t> out(src.size());
  BLAZEN_ASSERT_OK(b.CopyToHost(out.data(), 0, out.size(), runtime->stream()));
  EXPECT_EQ(out, src);
  std::vector<std::uint8_t> part(1000);
  BLAZEN_ASSERT_OK(b.CopyToHost(part.data(), 12345, part.size(), runtime->stream()));
  EXPECT_TRUE(std::equal(part.begin(), part.end(), src.begin() + 12345));
  EXPECT_THAT(b.CopyToHost(part.data(), src.size() - 10, part.size(), runtime->stream()),
              StatusIs(StatusCode::kOutOfRange));
}

TEST(CudaDeviceTest, HostToDeviceToNpyIsByteExact) {
  if (VisibleCudaDeviceCount() == 0) GTEST_SKIP() << kNoDevice;
  struct Case {
    DType dtype;
    std::vector<std::int64_t> shape;
  };
  const std::vector<Case> cases = {{DType::kF32, {3, 4}},      {DType::kF16, {2, 3, 5}},
                                   {DType::kI32, {}},          {DType::kU8, {0, 9}},
                                   {DType::kF32, {1024, 384}}, {DType::kI64, {3, 100003}}};
  // A small staging chunk so large tensors take many chunks.
  auto runtime = DeviceRuntime(std::uint64_t{256} << 20, /*chunk=*/64 << 10, /*buffers=*/2);
  ASSERT_NE(runtime, nullptr);
  std::uint32_t seed = 1;
  for (const Case& c : cases) {
    const std::size_t bytes =
        static_cast<std::size_t>(*TensorElementCount(c.dtype, c.shape)) * DTypeSize(c.dtype);
    const std::vector<std::uint8_t> data = Pattern(bytes, ++seed);
    BLAZEN_ASSERT_OK_AND_ASSIGN(auto host, HostTensorValue::Create(c.dtype, c.shape, data));
    BLAZEN_ASSERT_OK_AND_ASSIGN(
        auto device,
        DeviceTensor::FromHost(*runtime, c.dtype, c.shape, data.data(), runtime->stream()));
    EXPECT_EQ(device->location(), "cuda:0");
    EXPECT_EQ(device->resident_bytes(), bytes);
    const std::vector<std::uint8_t> expected = ReadAll(*host);
    ASSERT_EQ(ReadAll(*device), expected) << DTypeName(c.dtype);
    std::mt19937_64 rng(seed);
    for (int trial = 0; trial < 50; ++trial) {
      const std::uint64_t offset = rng() % (expected.size() + 1);
      const std::size_t length = rng() % (expected.size() - offset + 1);
      std::vector<std::uint8_t> out(length);
      BLAZEN_ASSERT_OK(device->Read(offset, out));
      ASSERT_TRUE(std::equal(out.begin(), out.end(),
                             expected.begin() + static_cast<std::ptrdiff_t>(offset)))
          << "offset " << offset << " length " << length;
    }
  }
  EXPECT_EQ(runtime->staging().available(), 2u);
}

TEST(CudaDeviceTest, ConcurrentReadsOfADeviceTensorAreByteExact) {
  if (VisibleCudaDeviceCount() == 0) GTEST_SKIP() << kNoDevice;
  auto runtime = DeviceRuntime(std::uint64_t{256} << 20, /*chunk=*/256 << 10, /*buffers=*/3);
  ASSERT_NE(runtime, nullptr);
  const std::vector<std::int64_t> shape = {4096, 256};
  const std::vector<std::uint8_t> data = Pattern(4096 * 256 * 4, 77);
  BLAZEN_ASSERT_OK_AND_ASSIGN(auto host, HostTensorValue::Create(DType::kF32, shape, data));
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      std::shared_ptr<const DeviceTensor> tensor,
      DeviceTensor::FromHost(*runtime, DType::kF32, shape, data.data(), runtime->stream()));
  const std::vector<std::uint8_t> expected = ReadAll(*host);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) + 100);
      for (int i = 0; i < 40; ++i) {
        const std::uint64_t offset = rng() % expected.size();
        const std::size_t length =
            rng() % std::min<std::uint64_t>(expected.size() - offset, std::uint64_t{1} << 20);
        std::vector<std::uint8_t> out(length);
        if (!tensor->Read(offset, out).ok() ||
            !std::equal(out.begin(), out.end(),
                        expected.begin() + static_cast<std::ptrdiff_t>(offset))) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(runtime->staging().available(), 3u);
}

TEST(CudaDeviceTest, LentDeviceChunksArePinnedStagingBuffersWithTheRightBytes) {
  if (VisibleCudaDeviceCount() == 0) GTEST_SKIP() << kNoDevice;
  auto runtime = DeviceRuntime(std::uint64_t{256} << 20, /*chunk=*/256 << 10, /*buffers=*/2);
  ASSERT_NE(runtime, nullptr);
  const std::vector<std::int64_t> shape = {1024, 384};
  const std::vector<std::uint8_t> data = Pattern(1024 * 384 * 4, 91);
  BLAZEN_ASSERT_OK_AND_ASSIGN(auto host, HostTensorValue::Create(DType::kF32, shape, data));
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      std::shared_ptr<const DeviceTensor> tensor,
      DeviceTensor::FromHost(*runtime, DType::kF32, shape, data.data(), runtime->stream()));
  EXPECT_TRUE(tensor->lend_may_block()) << "device data is copied through staging";
  const std::vector<std::uint8_t> expected = ReadAll(*host);
  std::vector<std::uint8_t> got;
  std::optional<LentChunk> previous;  // two chunks alive at once, as a deref stream keeps them
  while (got.size() < expected.size()) {
    BLAZEN_ASSERT_OK_AND_ASSIGN(LentChunk chunk, tensor->Lend(got.size(), 1 << 20, tensor, {}));
    ASSERT_LE(chunk.size(), std::size_t{256} << 10);
    got.insert(got.end(), chunk.data(), chunk.data() + chunk.size());
    previous = std::move(chunk);
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(runtime->staging().available(), 1u) << "the last chunk still holds its buffer";
  previous.reset();
  EXPECT_EQ(runtime->staging().available(), 2u);
}

TEST(CudaDeviceTest, ThousandRegistryCyclesReturnDevicePoolToZero) {
  if (VisibleCudaDeviceCount() == 0) GTEST_SKIP() << kNoDevice;
  auto runtime = DeviceRuntime();
  ASSERT_NE(runtime, nullptr);
  SessionRefRegistry registry;
  for (int i = 0; i < 1000; ++i) {
    const std::string run_id = "run-" + std::to_string(i);
    BLAZEN_ASSERT_OK_AND_ASSIGN(
        auto tensor,
        DeviceTensor::Allocate(*runtime, DType::kF32, {256, 1 + i % 64}, runtime->stream()));
    BLAZEN_ASSERT_OK(registry.Insert(std::move(tensor), RefLifetime::kUntilContextDrop,
                                     RefOwner{run_id, std::nullopt}));
    ASSERT_EQ(registry.EndRun(run_id, /*run_failed=*/false), 1u);
    ASSERT_EQ(runtime->pool().in_use_bytes(), 0u) << "cycle " << i;
  }
  BLAZEN_ASSERT_OK(runtime->stream().Synchronize());
  EXPECT_EQ(runtime->pool().stats().allocations, 1000u);
  EXPECT_EQ(runtime->pool().stats().frees, 1000u);
}

}  // namespace
}  // namespace blazen::gpu

namespace blazen::gpu::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(
    CudaResources, MemoryResourceContractTest,
    ::testing::Values(ResourceFactory{"CudaAsyncPool", ::blazen::gpu::MakeCudaPool},
                      ResourceFactory{"DevicePoolOverCudaAsyncPool",
                                      []() -> std::unique_ptr<MemoryResource> {
                                        auto upstream = ::blazen::gpu::MakeCudaPool();
                                        if (upstream == nullptr) return nullptr;
                                        auto pool = DevicePool::Create(std::move(upstream),
                                                                       std::uint64_t{1} << 30);
                                        return pool.ok() ? std::move(*pool) : nullptr;
                                      }}),
    ResourceName);

}  // namespace
}  // namespace blazen::gpu::testing
