// SPDX-License-Identifier: Apache-2.0
#pragma once
// DeviceTensor: a tensor session ref whose data stays in the runtime's DevicePool (device memory,
// or host memory on the fallback) until a deref reads it. Serialization happens only in Read:
// the NPY header comes from a host string, the data is copied device -> pinned staging -> caller
// buffer chunk by chunk (DESIGN.md sections 5-6).

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/session_ref.h"
#include "core/status.h"
#include "core/tensor.h"
#include "gpu/device_buffer.h"
#include "gpu/runtime.h"
#include "gpu/stream.h"

namespace blazen::gpu {

/// A C-order tensor held in a DeviceBuffer from a GpuRuntime's pool, served as an NPY v1.0
/// payload (type tag "tensor.npy", byte-identical to HostTensorValue's for the same data).
/// resident_bytes() is the data size, charged to location() ("cuda:N" or "host") by the
/// session-ref registry. Keeps its runtime alive; destroying the tensor returns its bytes to the
/// pool on stream(). Reads, and the final free, are ordered on stream(), which must outlive the
/// tensor: use the runtime's stream() (or set_stream() to it once the producer is synchronized)
/// for tensors that outlive a run. Thread-safe for concurrent Read calls and const getters; the
/// non-const members are for the producer, before the tensor is shared.
class DeviceTensor final : public SessionValue {
 public:
  /// An uninitialized tensor of `dtype` and `shape` allocated on `stream` (does not synchronize
  /// it); the producer fills buffer() on `stream`. kInvalidArgument for a negative dim, more than
  /// kNpyMaxDims dims, or a byte size that does not fit in memory; kResourceExhausted when the
  /// pool's budget or the device is exhausted.
  [[nodiscard]] static Result<std::shared_ptr<DeviceTensor>> Allocate(
      GpuRuntime& runtime, DType dtype, std::vector<std::int64_t> shape, StreamView stream);

  /// A tensor holding a copy of host `data` (TensorElementCount(dtype, shape) * DTypeSize(dtype)
  /// bytes in C order, little-endian), copied on `stream`, which is synchronized before return.
  /// Errors as Allocate, plus kInternal for device copy failures.
  [[nodiscard]] static Result<std::shared_ptr<DeviceTensor>> FromHost(
      GpuRuntime& runtime, DType dtype, std::vector<std::int64_t> shape, const void* data,
      StreamView stream);

  ~DeviceTensor() override;
  DeviceTensor(const DeviceTensor&) = delete;
  DeviceTensor& operator=(const DeviceTensor&) = delete;
  DeviceTensor(DeviceTensor&&) = delete;
  DeviceTensor& operator=(DeviceTensor&&) = delete;

  [[nodiscard]] std::string_view type_tag() const override { return kTensorNpyTypeTag; }
  /// NPY header plus data bytes.
  [[nodiscard]] std::uint64_t size_bytes() const override;
  /// Data bytes (what the tensor occupies at location()).
  [[nodiscard]] std::uint64_t resident_bytes() const override { return buffer_.size(); }
  /// The pool's location: "cuda:N" or "host".
  [[nodiscard]] std::string location() const override { return location_; }

  /// Copies NPY payload bytes [offset, offset + out.size()) into `out`: header bytes from host
  /// memory, data bytes from the buffer. Device data goes through one pinned staging buffer in
  /// chunks of the staging size (copy on stream(), synchronize, memcpy into `out`), waiting for a
  /// free staging buffer if all are lent; host data is memcpy'd directly. kOutOfRange when the
  /// range extends past size_bytes(); kInternal for device failures. Thread-safe.
  [[nodiscard]] Status Read(std::uint64_t offset, std::span<std::uint8_t> out) const override;

  /// Lends NPY payload bytes from `offset` (see SessionValue::Lend); a chunk never spans the
  /// header and the data. Header bytes and host-memory data are views (no copy). Device data is
  /// copied into one pinned staging buffer (at most its size per chunk), acquired within
  /// `options` (kDeadlineExceeded / kCancelled otherwise) and synchronized on stream(); the chunk
  /// owns that buffer, so it is the very memory a transport sends, and returns it to the pool when
  /// destroyed.
  [[nodiscard]] Result<LentChunk> Lend(std::uint64_t offset, std::size_t max_bytes,
                                       std::shared_ptr<const void> keepalive,
                                       const LendOptions& options) const override;
  /// Only device data blocks (staging buffer, copy).
  [[nodiscard]] bool lend_may_block() const override { return buffer_.is_device(); }

  /// Lend's device path, usable whatever the memory: data bytes always go through a staging
  /// buffer that the chunk owns. Same contract as Lend.
  [[nodiscard]] Result<LentChunk> LendThroughStaging(std::uint64_t offset, std::size_t max_bytes,
                                                     std::shared_ptr<const void> keepalive,
                                                     const LendOptions& options) const;

  /// Read's device path, usable whatever the memory: data bytes always go through a staging
  /// buffer in staging-sized chunks. Same contract as Read.
  [[nodiscard]] Status ReadThroughStaging(std::uint64_t offset, std::span<std::uint8_t> out) const;

  [[nodiscard]] DType dtype() const { return dtype_; }
  [[nodiscard]] const std::vector<std::int64_t>& shape() const { return shape_; }
  /// The NPY header that precedes the data in the payload.
  [[nodiscard]] const std::string& header() const { return header_; }
  /// The data (device memory when buffer().is_device()).
  [[nodiscard]] const DeviceBuffer& buffer() const { return buffer_; }
  /// The data, for the producer to fill on stream().
  [[nodiscard]] DeviceBuffer& mutable_buffer() { return buffer_; }
  /// The stream reads and the final free are ordered on.
  [[nodiscard]] StreamView stream() const { return buffer_.stream(); }
  /// Moves reads and the final free to `stream`; the caller orders it after the producer's work
  /// (e.g. by synchronizing the producer's stream first).
  void set_stream(StreamView stream) { buffer_.set_stream(stream); }
  /// The runtime whose pool holds the data.
  [[nodiscard]] GpuRuntime& runtime() const { return *runtime_; }

 private:
  DeviceTensor(std::shared_ptr<GpuRuntime> runtime, DType dtype, std::vector<std::int64_t> shape,
               DeviceBuffer buffer);
  [[nodiscard]] Status CheckRange(std::uint64_t offset, std::size_t length) const;
  // Copies the header part of [offset, offset + out.size()) and returns how many bytes it wrote.
  std::size_t ReadHeader(std::uint64_t offset, std::span<std::uint8_t> out) const;
  // A view of header bytes from `offset` (< header size), at most `n`, ending with the header.
  LentChunk LendHeader(std::uint64_t offset, std::size_t n,
                       std::shared_ptr<const void> keepalive) const;

  // Declared first so it is destroyed last: the buffer's bytes go back to the runtime's pool.
  const std::shared_ptr<GpuRuntime> runtime_;
  const DType dtype_;
  const std::vector<std::int64_t> shape_;
  const std::string header_;
  const std::string location_;
  DeviceBuffer buffer_;
};

}  // namespace blazen::gpu
