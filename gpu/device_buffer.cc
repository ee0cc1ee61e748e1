// SPDX-License-Identifier: Apache-2.0
// DeviceBuffer: pool-backed bytes freed in stream order.

#include "gpu/device_buffer.h"

#include <cstring>
#include <string>
#include <utility>

#include "gpu/detail/backend.h"

namespace blazen::gpu {
namespace {

Status CheckRange(std::size_t offset, std::size_t bytes, std::size_t size, const char* what) {
  if (offset > size || bytes > size - offset) {
    return Status::OutOfRange(std::string(what) + " of " + std::to_string(bytes) +
                              " bytes at offset " + std::to_string(offset) +
                              " exceeds the buffer size " + std::to_string(size));
  }
  return Status::Ok();
}

}  // namespace

DeviceBuffer::DeviceBuffer(void* data, std::size_t size, StreamView stream,
                           DevicePool* pool) noexcept
    : data_(data), size_(size), stream_(stream), pool_(pool), is_device_(pool->is_device()) {}

DeviceBuffer::~DeviceBuffer() { Reset(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      stream_(std::exchange(other.stream_, StreamView())),
      pool_(std::exchange(other.pool_, nullptr)),
      is_device_(std::exchange(other.is_device_, false)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    Reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    stream_ = std::exchange(other.stream_, StreamView());
    pool_ = std::exchange(other.pool_, nullptr);
    is_device_ = std::exchange(other.is_device_, false);
  }
  return *this;
}

void DeviceBuffer::Reset() noexcept {
  if (pool_ != nullptr && size_ != 0) pool_->Deallocate(data_, size_, stream_);
  data_ = nullptr;
  size_ = 0;
  pool_ = nullptr;
  is_device_ = false;
}

Result<DeviceBuffer> DeviceBuffer::Allocate(std::size_t bytes, DevicePool& pool,
                                            StreamView stream) {
  BLAZEN_ASSIGN_OR_RETURN(void* data, pool.Allocate(bytes, stream));
  return DeviceBuffer(data, bytes, stream, &pool);
}

Result<DeviceBuffer> DeviceBuffer::Copy(StreamView stream) const {
  if (pool_ == nullptr) return DeviceBuffer();
  BLAZEN_ASSIGN_OR_RETURN(DeviceBuffer copy, Allocate(size_, *pool_, stream));
  if (size_ == 0) return copy;
  if (is_device_) {
    BLAZEN_RETURN_IF_ERROR(detail::CopyAsync(copy.data_, data_, size_, stream));
  } else {
    std::memcpy(copy.data_, data_, size_);
  }
  return copy;
}

Status DeviceBuffer::CopyFromHost(const void* src, std::size_t bytes, StreamView stream) {
  BLAZEN_RETURN_IF_ERROR(CheckRange(0, bytes, size_, "copy from host"));
  if (bytes == 0) return Status::Ok();
  if (!is_device_) {
    std::memcpy(data_, src, bytes);
    return Status::Ok();
  }
  BLAZEN_RETURN_IF_ERROR(detail::CopyAsync(data_, src, bytes, stream));
  return stream.Synchronize();
}

Status DeviceBuffer::CopyFromHostAsync(std::size_t offset, const void* src, std::size_t bytes,
                                       StreamView stream) {
  BLAZEN_RETURN_IF_ERROR(CheckRange(offset, bytes, size_, "copy from host"));
  if (bytes == 0) return Status::Ok();
  auto* dst = static_cast<std::byte*>(data_) + offset;
  if (!is_device_) {
    std::memcpy(dst, src, bytes);
    return Status::Ok();
  }
  return detail::CopyAsync(dst, src, bytes, stream);
}

Status DeviceBuffer::CopyToHost(void* dst, std::size_t offset, std::size_t bytes,
                                StreamView stream) const {
  BLAZEN_RETURN_IF_ERROR(CheckRange(offset, bytes, size_, "copy to host"));
  if (bytes == 0) return Status::Ok();
  const auto* src = static_cast<const std::byte*>(data_) + offset;
  if (!is_device_) {
    std::memcpy(dst, src, bytes);
    return Status::Ok();
  }
  BLAZEN_RETURN_IF_ERROR(detail::CopyAsync(dst, src, bytes, stream));
  return stream.Synchronize();
}

}  // namespace blazen::gpu
