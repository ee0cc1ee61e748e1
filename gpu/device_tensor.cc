// SPDX-License-Identifier: Apache-2.0
// DeviceTensor: NPY serialization of pool-resident tensor data, performed only on Read.

#include "gpu/device_tensor.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "gpu/pinned_staging.h"

namespace blazen::gpu {
namespace {

Result<std::size_t> DataBytes(DType dtype, const std::vector<std::int64_t>& shape) {
  BLAZEN_ASSIGN_OR_RETURN(const std::uint64_t count, TensorElementCount(dtype, shape));
  const std::uint64_t bytes = count * DTypeSize(dtype);  // no overflow: checked above
  if (bytes > std::numeric_limits<std::size_t>::max()) {
    return Status::InvalidArgument("tensor of " + std::to_string(bytes) +
                                   " bytes does not fit in memory");
  }
  return static_cast<std::size_t>(bytes);
}

}  // namespace

Result<std::shared_ptr<DeviceTensor>> DeviceTensor::Allocate(GpuRuntime& runtime, DType dtype,
                                                             std::vector<std::int64_t> shape,
                                                             StreamView stream) {
  BLAZEN_ASSIGN_OR_RETURN(const std::size_t bytes, DataBytes(dtype, shape));
  BLAZEN_ASSIGN_OR_RETURN(DeviceBuffer buffer,
                          DeviceBuffer::Allocate(bytes, runtime.pool(), stream));
  return std::shared_ptr<DeviceTensor>(
      new DeviceTensor(runtime.shared_from_this(), dtype, std::move(shape), std::move(buffer)));
}

Result<std::shared_ptr<DeviceTensor>> DeviceTensor::FromHost(GpuRuntime& runtime, DType dtype,
                                                             std::vector<std::int64_t> shape,
                                                             const void* data, StreamView stream) {
  BLAZEN_ASSIGN_OR_RETURN(std::shared_ptr<DeviceTensor> tensor,
                          Allocate(runtime, dtype, std::move(shape), stream));
  if (tensor->buffer_.size() != 0 && data == nullptr) {
    return Status::InvalidArgument("tensor data is null");
  }
  BLAZEN_RETURN_IF_ERROR(tensor->buffer_.CopyFromHost(data, tensor->buffer_.size(), stream));
  return tensor;
}

DeviceTensor::DeviceTensor(std::shared_ptr<GpuRuntime> runtime, DType dtype,
                           std::vector<std::int64_t> shape, DeviceBuffer buffer)
    : runtime_(std::move(runtime)),
      dtype_(dtype),
      shape_(std::move(shape)),
      header_(NpyHeader(dtype_, shape_)),
      location_(runtime_->location()),
      buffer_(std::move(buffer)) {}

DeviceTensor::~DeviceTensor() = default;

std::uint64_t DeviceTensor::size_bytes() const {
  return static_cast<std::uint64_t>(header_.size()) + buffer_.size();
}

Status DeviceTensor::CheckRange(std::uint64_t offset, std::size_t length) const {
  const std::uint64_t size = size_bytes();
  if (offset > size || length > size - offset) {
    return Status::OutOfRange("read of " + std::to_string(length) + " bytes at offset " +
                              std::to_string(offset) + " exceeds payload size " +
                              std::to_string(size));
  }
  return Status::Ok();
}

std::size_t DeviceTensor::ReadHeader(std::uint64_t offset, std::span<std::uint8_t> out) const {
  const std::uint64_t header_size = header_.size();
  if (offset >= header_size) return 0;
  const auto n =
      static_cast<std::size_t>(std::min<std::uint64_t>(header_size - offset, out.size()));
  std::memcpy(out.data(), header_.data() + offset, n);
  return n;
}

Status DeviceTensor::Read(std::uint64_t offset, std::span<std::uint8_t> out) const {
  if (buffer_.is_device()) return ReadThroughStaging(offset, out);
  BLAZEN_RETURN_IF_ERROR(CheckRange(offset, out.size()));
  const std::size_t written = ReadHeader(offset, out);
  if (written == out.size()) return Status::Ok();
  // The range check keeps [data_offset, data_offset + rest) inside the buffer.
  const auto data_offset = static_cast<std::size_t>(offset + written - header_.size());
  return buffer_.CopyToHost(out.data() + written, data_offset, out.size() - written, stream());
}

Status DeviceTensor::ReadThroughStaging(std::uint64_t offset, std::span<std::uint8_t> out) const {
  BLAZEN_RETURN_IF_ERROR(CheckRange(offset, out.size()));
  std::size_t written = ReadHeader(offset, out);
  if (written == out.size()) return Status::Ok();
  auto data_offset = static_cast<std::size_t>(offset + written - header_.size());
  // One staging buffer per Read: concurrent Reads each take their own, and a Read never waits
  // while holding one, so they cannot deadlock. Every chunk's copy is synchronized on stream()
  // before the buffer is reused, so it is never overwritten while a copy into it is in flight.
  StagingBuffer staging = runtime_->staging().Acquire();
  while (written < out.size()) {
    const std::size_t n = std::min(staging.size(), out.size() - written);
    BLAZEN_RETURN_IF_ERROR(buffer_.CopyToHost(staging.data(), data_offset, n, stream()));
    std::memcpy(out.data() + written, staging.data(), n);
    written += n;
    data_offset += n;
  }
  return Status::Ok();
}

LentChunk DeviceTensor::LendHeader(std::uint64_t offset, std::size_t n,
                                   std::shared_ptr<const void> keepalive) const {
  // A view of the header, ending where it ends.
  n = static_cast<std::size_t>(std::min<std::uint64_t>(header_.size() - offset, n));
  return LentChunk(reinterpret_cast<const std::uint8_t*>(header_.data()) + offset, n,
                   std::move(keepalive));
}

Result<LentChunk> DeviceTensor::Lend(std::uint64_t offset, std::size_t max_bytes,
                                     std::shared_ptr<const void> keepalive,
                                     const LendOptions& options) const {
  if (buffer_.is_device()) return LendThroughStaging(offset, max_bytes, keepalive, options);
  BLAZEN_ASSIGN_OR_RETURN(std::size_t n, LendLength(offset, max_bytes));
  if (offset < header_.size()) return LendHeader(offset, n, std::move(keepalive));
  const auto data_offset = static_cast<std::size_t>(offset - header_.size());
  return LentChunk(static_cast<const std::uint8_t*>(buffer_.data()) + data_offset, n,
                   std::move(keepalive));
}

Result<LentChunk> DeviceTensor::LendThroughStaging(std::uint64_t offset, std::size_t max_bytes,
                                                   std::shared_ptr<const void> keepalive,
                                                   const LendOptions& options) const {
  BLAZEN_ASSIGN_OR_RETURN(std::size_t n, LendLength(offset, max_bytes));
  if (offset < header_.size()) return LendHeader(offset, n, std::move(keepalive));
  const auto data_offset = static_cast<std::size_t>(offset - header_.size());
  // The chunk owns the staging buffer (returned to the pool first) and the value (whose runtime
  // owns the pool), in that order of destruction.
  struct Staged {
    std::shared_ptr<const void> keepalive;
    StagingBuffer staging;
  };
  BLAZEN_ASSIGN_OR_RETURN(StagingBuffer staging,
                          runtime_->staging().Acquire(options.deadline, options.cancelled));
  n = std::min(n, staging.size());
  BLAZEN_RETURN_IF_ERROR(buffer_.CopyToHost(staging.data(), data_offset, n, stream()));
  const std::uint8_t* data = staging.data();
  auto owner = std::make_shared<Staged>(Staged{std::move(keepalive), std::move(staging)});
  return LentChunk(data, n, std::move(owner));
}

}  // namespace blazen::gpu
