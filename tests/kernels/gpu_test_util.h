// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers of the GPU kernel tests: device detection (tests skip without a device) and a minimal
// owning device array. Tests may call the CUDA runtime directly; library code may not.

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

namespace blazen::kernels::testing {

/// True when a CUDA device is usable. Without a GPU (or driver) cudaGetDeviceCount fails; the
/// error is cleared so it cannot leak into later checks.
inline bool CudaDeviceAvailable() {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    return false;
  }
  return count > 0;
}

/// Device memory for `size` elements of T; move-only. A failed allocation is a test failure and
/// leaves data() null. Not thread-safe.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(std::size_t size) : size_(size) {
    if (size == 0) return;
    void* p = nullptr;
    const cudaError_t error = cudaMalloc(&p, size * sizeof(T));
    if (error != cudaSuccess) {
      ADD_FAILURE() << "cudaMalloc(" << size * sizeof(T) << "): " << cudaGetErrorString(error);
      static_cast<void>(cudaGetLastError());
      size_ = 0;
      return;
    }
    data_ = static_cast<T*>(p);
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) {
    if (data_ != nullptr) {
      EXPECT_EQ(cudaMemcpy(data_, host.data(), size_ * sizeof(T), cudaMemcpyHostToDevice),
                cudaSuccess);
    }
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  DeviceArray(DeviceArray&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  DeviceArray& operator=(DeviceArray&& other) noexcept {
    if (this != &other) {
      Free();
      data_ = other.data_;
      size_ = other.size_;
      other.data_ = nullptr;
      other.size_ = 0;
    }
    return *this;
  }
  ~DeviceArray() { Free(); }

  [[nodiscard]] T* data() const { return data_; }
  [[nodiscard]] std::size_t size() const { return size_; }

  /// Waits for the default stream (where the tests launch), then copies the contents back.
  [[nodiscard]] std::vector<T> ToHost() const {
    std::vector<T> host(size_);
    EXPECT_EQ(cudaStreamSynchronize(nullptr), cudaSuccess);
    if (size_ > 0) {
      EXPECT_EQ(cudaMemcpy(host.data(), data_, size_ * sizeof(T), cudaMemcpyDeviceToHost),
                cudaSuccess);
    }
    return host;
  }

 private:
  void Free() {
    if (data_ != nullptr) {
      EXPECT_EQ(cudaFree(data_), cudaSuccess);
    }
    data_ = nullptr;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace blazen::kernels::testing

/// Skips the current test when no CUDA device is visible (CPU-only machines and CI).
#define BLAZEN_SKIP_WITHOUT_CUDA_DEVICE()                     \
  do {                                                        \
    if (!::blazen::kernels::testing::CudaDeviceAvailable()) { \
      GTEST_SKIP() << "no CUDA device visible";               \
    }                                                         \
  } while (false)
