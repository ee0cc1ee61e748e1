// SPDX-License-Identifier: Apache-2.0
#pragma once
// DeviceBuffer: RAII ownership of bytes from a DevicePool (device memory, or host memory on the
// fallback). Every device allocation that outlives a function (tensor data, kernel outputs) is
// one of these; the destructor returns the bytes to the pool on the buffer's stream.

#include <cstddef>

#include "core/status.h"
#include "gpu/device_pool.h"
#include "gpu/stream.h"

namespace blazen::gpu {

/// Owns `size()` bytes allocated from a DevicePool, associated with a stream: the destructor
/// frees the bytes on that stream, so work already enqueued on it may still use them. Move-only;
/// a moved-from buffer is valid and empty (size 0, null data). Copying needs a stream, so it is
/// the explicit Copy(stream). The pool, and the buffer's stream, must outlive the buffer.
/// Externally synchronized for non-const methods; the const copy methods may run concurrently.
class DeviceBuffer {
 public:
  /// An empty buffer (no pool, no bytes).
  DeviceBuffer() noexcept = default;
  /// Frees the bytes on stream() (does not synchronize it).
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  /// Takes `other`'s bytes, pool and stream; `other` becomes empty.
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  /// Frees this buffer's bytes, then takes `other`'s; `other` becomes empty.
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;

  /// Allocates `bytes` uninitialized bytes from `pool` on `stream` (does not synchronize it).
  /// `bytes == 0` gives an empty buffer bound to `pool`. kResourceExhausted when the pool's
  /// budget or the device is exhausted (see DevicePool::Allocate); kInternal for device failures.
  [[nodiscard]] static Result<DeviceBuffer> Allocate(std::size_t bytes, DevicePool& pool,
                                                     StreamView stream = StreamView());

  /// A new buffer from the same pool with the same bytes, allocated and copied on `stream` (does
  /// not synchronize it). Errors as Allocate.
  [[nodiscard]] Result<DeviceBuffer> Copy(StreamView stream) const;

  /// Copies `bytes` bytes from host memory `src` to the start of the buffer on `stream` and
  /// synchronizes `stream`, so `src` may be reused on return. kOutOfRange when bytes > size();
  /// kInternal for device failures. On the host fallback a memcpy.
  [[nodiscard]] Status CopyFromHost(const void* src, std::size_t bytes, StreamView stream);

  /// Enqueues a copy of `bytes` bytes from host memory `src` to buffer bytes [offset, offset +
  /// bytes) on `stream` and returns without synchronizing it: `src` must stay valid and unchanged
  /// until `stream` is synchronized, and should be pinned (a pageable `src` makes the copy
  /// synchronous and several times slower). kOutOfRange when the range exceeds size(); kInternal
  /// for device failures. On the host fallback a memcpy, complete on return. Safe to call
  /// concurrently for disjoint ranges.
  [[nodiscard]] Status CopyFromHostAsync(std::size_t offset, const void* src, std::size_t bytes,
                                         StreamView stream);

  /// Copies buffer bytes [offset, offset + bytes) into host memory `dst` on `stream` and
  /// synchronizes `stream`, so `dst` holds the bytes on return. Pinned `dst` memory makes device
  /// copies several times faster. kOutOfRange when the range exceeds size(); kInternal for device
  /// failures. On the host fallback a memcpy. Safe to call concurrently.
  [[nodiscard]] Status CopyToHost(void* dst, std::size_t offset, std::size_t bytes,
                                  StreamView stream) const;

  /// The bytes (device memory when is_device()); nullptr when empty.
  [[nodiscard]] void* data() noexcept { return data_; }
  [[nodiscard]] const void* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  /// The stream the bytes are freed on.
  [[nodiscard]] StreamView stream() const noexcept { return stream_; }
  /// Makes `stream` the stream the bytes are freed on. The caller orders it after the work on the
  /// previous stream that uses the bytes (e.g. by synchronizing that stream).
  void set_stream(StreamView stream) noexcept { stream_ = stream; }
  /// The pool the bytes come from; nullptr for a default-constructed or moved-from buffer.
  [[nodiscard]] DevicePool* pool() const noexcept { return pool_; }
  /// True when the bytes are device memory (false on the host fallback and when empty).
  [[nodiscard]] bool is_device() const noexcept { return is_device_; }

 private:
  DeviceBuffer(void* data, std::size_t size, StreamView stream, DevicePool* pool) noexcept;
  void Reset() noexcept;

  void* data_ = nullptr;
  std::size_t size_ = 0;
  StreamView stream_;
  DevicePool* pool_ = nullptr;
  bool is_device_ = false;
};

}  // namespace blazen::gpu
