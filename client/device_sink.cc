// SPDX-License-Identifier: Apache-2.0
// DeviceSink: deref into device memory through pinned bounce buffers.

#include "client/device_sink.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace blazen::client {
namespace {

constexpr std::uint64_t kHeadBytes = std::uint64_t{64} << 10;

}  // namespace

DeviceSink::DeviceSink(std::shared_ptr<gpu::GpuRuntime> runtime, DeviceSinkOptions options)
    : runtime_(std::move(runtime)), options_(options) {}

DeviceSink::~DeviceSink() {
  // The buffer and the bounce buffers must outlive every copy that uses them.
  (void)WaitForAllCopies();
}

Status DeviceSink::Begin(std::uint64_t total_size, std::string_view type_tag) {
  if (begun_) return Status::FailedPrecondition("DeviceSink::Begin called twice");
  if (runtime_ == nullptr) return Status::InvalidArgument("DeviceSink needs a GPU runtime");
  if (options_.staging_chunk_bytes == 0 || options_.staging_buffers == 0) {
    return Status::InvalidArgument("DeviceSink needs a non-zero staging size and count");
  }
  begun_ = true;
  type_tag_ = std::string(type_tag);
  total_size_ = total_size;
  try {
    head_.resize(static_cast<std::size_t>(std::min(total_size, kHeadBytes)));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("DeviceSink: cannot allocate the header copy");
  }
  if (total_size > std::numeric_limits<std::size_t>::max()) {
    return Status::ResourceExhausted("DeviceSink: a payload of " + std::to_string(total_size) +
                                     " bytes does not fit this address space");
  }
  BLAZEN_ASSIGN_OR_RETURN(
      buffer_, gpu::DeviceBuffer::Allocate(static_cast<std::size_t>(total_size), runtime_->pool(),
                                           runtime_->stream()));
  if (!buffer_.is_device()) return Status::Ok();  // host fallback: Write copies in place
  // The allocation is ordered on the runtime's stream; the copies run on the lanes' streams.
  BLAZEN_RETURN_IF_ERROR(runtime_->stream().Synchronize());
  BLAZEN_ASSIGN_OR_RETURN(
      staging_pool_,
      gpu::PinnedStagingPool::Create(options_.staging_chunk_bytes, options_.staging_buffers));
  for (std::size_t i = 0; i < options_.staging_buffers; ++i) {
    auto lane = std::make_unique<Lane>();
    lane->staging = staging_pool_->Acquire();
    BLAZEN_ASSIGN_OR_RETURN(lane->stream, runtime_->CreateStream());
    free_lanes_.push_back(lane.get());
    lanes_.push_back(std::move(lane));
  }
  return Status::Ok();
}

DeviceSink::Lane* DeviceSink::AcquireLane() {
  std::unique_lock lock(mu_);
  lane_returned_.wait(lock, [this] { return !free_lanes_.empty(); });
  Lane* lane = free_lanes_.front();
  free_lanes_.pop_front();
  return lane;
}

void DeviceSink::ReturnLane(Lane* lane) {
  {
    std::lock_guard lock(mu_);
    free_lanes_.push_back(lane);
  }
  lane_returned_.notify_one();
}

Status DeviceSink::Write(std::uint64_t offset, std::span<const std::uint8_t> bytes) {
  if (!begun_ || finished_) {
    return Status::FailedPrecondition("DeviceSink::Write outside Begin ... Finish");
  }
  if (offset > total_size_ || bytes.size() > total_size_ - offset) {
    return Status::OutOfRange("DeviceSink::Write of " + std::to_string(bytes.size()) +
                              " bytes at offset " + std::to_string(offset) +
                              " exceeds the payload size " + std::to_string(total_size_));
  }
  if (offset < head_.size()) {  // disjoint Writes touch disjoint bytes of head_
    const std::size_t n = std::min<std::size_t>(bytes.size(), head_.size() - offset);
    std::memcpy(head_.data() + offset, bytes.data(), n);
  }
  if (!buffer_.is_device()) {
    return buffer_.CopyFromHostAsync(static_cast<std::size_t>(offset), bytes.data(), bytes.size(),
                                     gpu::StreamView());
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const std::size_t n = std::min(bytes.size() - done, options_.staging_chunk_bytes);
    Lane* lane = AcquireLane();
    Status st = Status::Ok();
    if (lane->in_flight) {
      // The lane's previous copy must be done before its bounce buffer is refilled.
      st = lane->stream.Synchronize();
      lane->in_flight = false;
    }
    if (st.ok()) {
      std::memcpy(lane->staging.data(), bytes.data() + done, n);
      st = buffer_.CopyFromHostAsync(static_cast<std::size_t>(offset + done), lane->staging.data(),
                                     n, lane->stream.view());
      lane->in_flight = st.ok();
    }
    ReturnLane(lane);
    if (!st.ok()) {
      std::lock_guard lock(mu_);
      if (copy_error_.ok()) copy_error_ = st;
      return st;
    }
    done += n;
  }
  return Status::Ok();
}

Status DeviceSink::WaitForAllCopies() {
  Status first = Status::Ok();
  std::lock_guard lock(mu_);
  for (const auto& lane : lanes_) {
    if (!lane->in_flight) continue;
    Status st = lane->stream.Synchronize();
    lane->in_flight = false;
    if (!st.ok() && first.ok()) first = st;
  }
  if (!copy_error_.ok()) return copy_error_;
  return first;
}

Status DeviceSink::Finish() {
  if (!begun_) return Status::FailedPrecondition("DeviceSink::Finish before Begin");
  if (finished_) return Status::FailedPrecondition("DeviceSink::Finish called twice");
  finished_ = true;
  return WaitForAllCopies();
}

Result<DeviceTensorView> DeviceSink::Tensor() const {
  if (!finished_) return Status::FailedPrecondition("DeviceSink::Tensor before Finish");
  if (type_tag_ != kTensorNpyTypeTag) {
    return Status::FailedPrecondition("DeviceSink::Tensor: the payload is '" + type_tag_ +
                                      "', not " + std::string(kTensorNpyTypeTag));
  }
  if (buffer_.size() != total_size_ || (total_size_ != 0 && buffer_.data() == nullptr)) {
    return Status::FailedPrecondition("DeviceSink::Tensor after TakeBuffer");
  }
  BLAZEN_ASSIGN_OR_RETURN(NpyInfo info, ParseNpyHeader(head_));
  if (info.data_offset + info.data_bytes != total_size_) {
    return Status::InvalidArgument("tensor payload of " + std::to_string(total_size_) +
                                   " bytes does not match its NPY header (" +
                                   std::to_string(info.data_offset) + " + " +
                                   std::to_string(info.data_bytes) + " bytes)");
  }
  DeviceTensorView view;
  view.dtype = info.dtype;
  view.shape = std::move(info.shape);
  view.offset = info.data_offset;
  view.bytes = info.data_bytes;
  view.data = static_cast<const std::byte*>(buffer_.data()) + info.data_offset;
  return view;
}

}  // namespace blazen::client
