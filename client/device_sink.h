// SPDX-License-Identifier: Apache-2.0
#pragma once
// DeviceSink: a deref sink that lands a streamed session ref straight in the parent's own device
// memory, for parents that have a GPU. Each arriving chunk is copied into a pinned bounce buffer
// and sent host-to-device asynchronously on one of several streams, so the next chunk arrives from
// the network while the previous one crosses PCIe. On the host fallback (no usable CUDA device)
// the bytes land in the runtime's host pool instead, through the same interface.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/deref_sink.h"
#include "core/status.h"
#include "core/tensor.h"
#include "gpu/device_buffer.h"
#include "gpu/pinned_staging.h"
#include "gpu/runtime.h"
#include "gpu/stream.h"

namespace blazen::client {

/// Settings of a DeviceSink. Plain value type.
struct DeviceSinkOptions {
  /// Size of each pinned bounce buffer; larger Writes are split into pieces of this size.
  std::size_t staging_chunk_bytes = std::size_t{1} << 20;
  /// Bounce buffers, each with its own stream: host-to-device copies in flight at once.
  std::size_t staging_buffers = 4;
};

/// A tensor payload ("tensor.npy") resident in a DeviceSink's buffer.
struct DeviceTensorView {
  DType dtype = DType::kF32;
  std::vector<std::int64_t> shape;
  /// The first element: device memory on a CUDA runtime, host memory on the host fallback. Valid
  /// while the sink (or the buffer taken from it) lives.
  const void* data = nullptr;
  /// Size of the data in bytes.
  std::uint64_t bytes = 0;
  /// Byte offset of `data` in the sink's buffer (the NPY header comes first; it is a multiple of
  /// 64 for headers numpy or a peer writes).
  std::uint64_t offset = 0;
};

/// Streams a deref into one DeviceBuffer allocated from `runtime`'s pool (so the parent's own
/// budget applies). Begin allocates the buffer (kResourceExhausted naming requested / in use /
/// budget when the pool cannot hold it) and the bounce buffers; Write copies each piece through a
/// bounce buffer with an asynchronous host-to-device copy; Finish waits for every copy. The first
/// 64 KiB of the payload are also kept on the host so a tensor's NPY header can be read without a
/// device round trip. Thread safety: as DerefSink (concurrent Writes of disjoint ranges); the
/// accessors after a successful Finish.
class DeviceSink final : public DerefSink {
 public:
  explicit DeviceSink(std::shared_ptr<gpu::GpuRuntime> runtime, DeviceSinkOptions options = {});
  /// Waits for copies still in flight (a failed deref), then frees everything.
  ~DeviceSink() override;
  DeviceSink(const DeviceSink&) = delete;
  DeviceSink& operator=(const DeviceSink&) = delete;
  DeviceSink(DeviceSink&&) = delete;
  DeviceSink& operator=(DeviceSink&&) = delete;

  /// kFailedPrecondition when called twice; kInvalidArgument for zero staging size or count;
  /// kResourceExhausted when the buffer or the bounce buffers cannot be allocated.
  [[nodiscard]] Status Begin(std::uint64_t total_size, std::string_view type_tag) override;
  /// kFailedPrecondition before Begin or after Finish; kOutOfRange past total_size; kInternal when
  /// a copy failed (also reported for an earlier copy on the same stream).
  [[nodiscard]] Status Write(std::uint64_t offset, std::span<const std::uint8_t> bytes) override;
  /// Waits for every copy. kFailedPrecondition before Begin or when called twice; kInternal when
  /// a copy failed.
  [[nodiscard]] Status Finish() override;

  /// The payload (complete after a successful Finish).
  [[nodiscard]] const gpu::DeviceBuffer& buffer() const { return buffer_; }
  /// Moves the buffer out (e.g. to keep it beyond the sink); the sink is empty afterwards. The
  /// buffer is freed on the runtime's stream.
  [[nodiscard]] gpu::DeviceBuffer TakeBuffer() { return std::move(buffer_); }
  /// The type tag given to Begin.
  [[nodiscard]] const std::string& type_tag() const { return type_tag_; }
  /// True when the bytes are in device memory (false on the host fallback).
  [[nodiscard]] bool on_device() const { return buffer_.is_device(); }

  /// The tensor of a finished "tensor.npy" payload: its NPY header parsed from the host copy and
  /// the data's place in the buffer. kFailedPrecondition before Finish, after TakeBuffer, or for
  /// another type tag; kInvalidArgument when the header is malformed or the data size does not
  /// match the payload.
  [[nodiscard]] Result<DeviceTensorView> Tensor() const;

 private:
  // One bounce buffer and the stream its copies run on; `in_flight` when a copy may still read it.
  struct Lane {
    gpu::StagingBuffer staging;
    gpu::CudaStream stream;
    bool in_flight = false;
  };
  Lane* AcquireLane();
  void ReturnLane(Lane* lane);
  Status WaitForAllCopies();

  std::shared_ptr<gpu::GpuRuntime> runtime_;
  const DeviceSinkOptions options_;
  std::string type_tag_;
  std::uint64_t total_size_ = 0;
  bool begun_ = false;
  bool finished_ = false;
  std::vector<std::uint8_t> head_;  // the payload's first bytes (up to 64 KiB)

  gpu::DeviceBuffer buffer_;
  std::unique_ptr<gpu::PinnedStagingPool> staging_pool_;
  std::vector<std::unique_ptr<Lane>> lanes_;  // destroyed before the pool (their buffers return)
  std::mutex mu_;
  std::condition_variable lane_returned_;
  std::deque<Lane*> free_lanes_;  // oldest copy first; guarded by mu_
  Status copy_error_;             // first failed copy; guarded by mu_
};

}  // namespace blazen::client
