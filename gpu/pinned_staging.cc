// SPDX-License-Identifier: Apache-2.0
// PinnedStagingPool: fixed page-locked host buffers lent with a blocking Acquire.

#include "gpu/pinned_staging.h"

#include <algorithm>
#include <cassert>
#include <string>
#include <utility>

#include "core/logging.h"
#include "gpu/detail/backend.h"

namespace blazen::gpu {

StagingBuffer::~StagingBuffer() { Release(); }

StagingBuffer::StagingBuffer(StagingBuffer&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      index_(std::exchange(other.index_, 0)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

StagingBuffer& StagingBuffer::operator=(StagingBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = std::exchange(other.pool_, nullptr);
    index_ = std::exchange(other.index_, 0);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void StagingBuffer::Release() noexcept {
  if (pool_ != nullptr) std::exchange(pool_, nullptr)->Return(index_);
  index_ = 0;
  data_ = nullptr;
  size_ = 0;
}

Result<std::unique_ptr<PinnedStagingPool>> PinnedStagingPool::Create(std::size_t chunk_bytes,
                                                                     std::size_t count) {
  if (chunk_bytes == 0 || count == 0) {
    return Status::InvalidArgument(
        "staging pool needs a positive chunk size and buffer count (got " +
        std::to_string(chunk_bytes) + " bytes x " + std::to_string(count) + ")");
  }
  std::vector<Block> blocks;
  blocks.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    Result<detail::StagingAllocation> allocation = detail::AllocateStaging(chunk_bytes);
    if (!allocation.ok()) {
      for (const Block& done : blocks) detail::FreeStaging({done.ptr, done.pinned});
      return allocation.status();
    }
    blocks.push_back(Block{allocation->ptr, allocation->pinned});
  }
  return std::unique_ptr<PinnedStagingPool>(new PinnedStagingPool(chunk_bytes, std::move(blocks)));
}

PinnedStagingPool::PinnedStagingPool(std::size_t chunk_bytes, std::vector<Block> blocks)
    : chunk_bytes_(chunk_bytes),
      blocks_(std::move(blocks)),
      pinned_(
          std::all_of(blocks_.begin(), blocks_.end(), [](const Block& b) { return b.pinned; })) {
  free_.reserve(blocks_.size());
  // Lend low indices first (LIFO from the back).
  for (std::size_t i = blocks_.size(); i > 0; --i) free_.push_back(i - 1);
}

PinnedStagingPool::~PinnedStagingPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.size() != blocks_.size()) {
      BLAZEN_LOG_ERROR("staging pool destroyed with {} buffer(s) still lent",
                       blocks_.size() - free_.size());
      assert(free_.size() == blocks_.size() && "staging pool destroyed with lent buffers");
    }
  }
  for (const Block& block : blocks_) detail::FreeStaging({block.ptr, block.pinned});
}

StagingBuffer PinnedStagingPool::LendLocked() {
  const std::size_t index = free_.back();
  free_.pop_back();
  return StagingBuffer(this, index, static_cast<std::uint8_t*>(blocks_[index].ptr), chunk_bytes_);
}

StagingBuffer PinnedStagingPool::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  returned_.wait(lock, [this] { return !free_.empty(); });
  return LendLocked();
}

Result<StagingBuffer> PinnedStagingPool::Acquire(std::chrono::steady_clock::time_point deadline,
                                                 const std::function<bool()>& cancelled) {
  // Cancellation has no callback to wake us: poll it at this period while waiting.
  constexpr auto kPoll = std::chrono::milliseconds(5);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (!free_.empty()) return LendLocked();
    if (cancelled && cancelled()) {
      return Status::Cancelled("cancelled while waiting for a staging buffer");
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return Status::DeadlineExceeded("no staging buffer came free before the deadline (" +
                                      std::to_string(blocks_.size()) + " in use)");
    }
    if (!cancelled && deadline == std::chrono::steady_clock::time_point::max()) {
      returned_.wait(lock, [this] { return !free_.empty(); });
      continue;
    }
    const auto wake = cancelled ? std::min(deadline, now + kPoll) : deadline;
    returned_.wait_until(lock, wake, [this] { return !free_.empty(); });
  }
}

std::optional<StagingBuffer> PinnedStagingPool::TryAcquire() {
  std::lock_guard<std::mutex> lock(mu_);
  if (free_.empty()) return std::nullopt;
  return LendLocked();
}

std::size_t PinnedStagingPool::available() const {
  std::lock_guard<std::mutex> lock(mu_);
  return free_.size();
}

void PinnedStagingPool::Return(std::size_t index) noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // free_ has capacity for every buffer (reserved in the constructor): push_back cannot throw.
    free_.push_back(index);
  }
  returned_.notify_one();
}

}  // namespace blazen::gpu
