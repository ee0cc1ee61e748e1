// SPDX-License-Identifier: Apache-2.0
// Range planning, per-range chunk validation and the resume rule of the streaming deref.

#include "client/detail/deref_ranges.h"

#include <algorithm>
#include <string>

namespace blazen::client::detail {

std::vector<ByteRange> SplitRange(std::uint64_t begin, std::uint64_t end, std::size_t parts,
                                  std::uint64_t align) {
  std::vector<ByteRange> ranges;
  if (end <= begin) return ranges;
  const std::uint64_t length = end - begin;
  const std::uint64_t n = std::max<std::uint64_t>(1, parts);
  const std::uint64_t share = length / n;
  const bool aligned = align > 0 && share >= align;
  std::uint64_t at = begin;
  for (std::uint64_t i = 1; i <= n; ++i) {
    std::uint64_t boundary = end;
    if (i < n) {
      // begin + length * i / n without overflow: length / n * i + (length % n) * i / n.
      boundary = begin + share * i + (length % n) * i / n;
      if (aligned) boundary -= boundary % align;
    }
    if (boundary > at) {
      ranges.push_back({at, boundary});
      at = boundary;
    }
  }
  return ranges;
}

DerefPlan PlanDeref(std::uint64_t total_size, std::uint64_t received, std::uint64_t chunk_size,
                    std::size_t parallel_streams, std::uint64_t parallel_threshold) {
  DerefPlan plan{total_size, {}};
  if (parallel_streams <= 1 || total_size < parallel_threshold || received >= total_size) {
    return plan;
  }
  const std::vector<ByteRange> ranges = SplitRange(0, total_size, parallel_streams, chunk_size);
  if (ranges.size() <= 1) return plan;
  plan.first_end = std::max(ranges.front().end, received);
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    ByteRange range = ranges[i];
    if (range.end <= plan.first_end) continue;
    range.begin = std::max(range.begin, plan.first_end);
    plan.others.push_back(range);
  }
  return plan;
}

RangeCursor::RangeCursor(std::uint64_t begin, std::optional<std::uint64_t> end,
                         std::optional<std::uint64_t> total_size)
    : next_(begin), end_(end), total_(total_size) {}

StreamRequestRange RangeCursor::StartAttempt() {
  asked_end_ = end_;
  const std::uint64_t length = end_.has_value() && *end_ > next_ ? *end_ - next_ : 0;
  return {next_, length};
}

Result<std::uint64_t> RangeCursor::Accept(std::uint64_t offset, std::uint64_t size,
                                          std::uint64_t total_size) {
  const auto span_text = [&] {
    return "of " + std::to_string(size) + " bytes at offset " + std::to_string(offset);
  };
  if (total_.has_value() && *total_ != total_size) {
    return Status::DataLoss("deref stream changed the payload size from " +
                            std::to_string(*total_) + " to " + std::to_string(total_size));
  }
  if (offset != next_) {
    return Status::DataLoss("deref chunk " + span_text() + " does not start at the next byte " +
                            std::to_string(next_) + (offset < next_ ? " (overlap)" : " (gap)"));
  }
  if (offset > total_size || size > total_size - offset) {
    return Status::DataLoss("deref chunk " + span_text() + " runs past the payload size " +
                            std::to_string(total_size));
  }
  // The end the server was asked to stop at: the range end of this attempt, else the payload end.
  const std::uint64_t asked_end = asked_end_.value_or(total_size);
  if (size > asked_end - std::min(asked_end, offset)) {
    return Status::DataLoss("deref chunk " + span_text() + " runs past the requested end " +
                            std::to_string(asked_end));
  }
  total_ = total_size;
  if (!end_.has_value()) end_ = total_size;
  // Bytes past a lowered end belong to another stream: keep only the part inside this range.
  const std::uint64_t take = std::min(size, *end_ - std::min(*end_, offset));
  next_ += take;
  ++chunks_;
  return take;
}

void RangeCursor::SetEnd(std::uint64_t end) { end_ = std::max(end, next_); }

bool RangeCursor::overshoots() const {
  if (!end_.has_value()) return false;
  if (!asked_end_.has_value()) return total_.has_value() ? *total_ > *end_ : true;
  return *asked_end_ > *end_;
}

bool IsResumableCode(StatusCode code, bool cancelled_by_us) {
  switch (code) {
    case StatusCode::kUnavailable:
    case StatusCode::kInternal:
    case StatusCode::kUnknown:
      return true;
    case StatusCode::kCancelled:
      return !cancelled_by_us;
    default:
      return false;
  }
}

bool ShouldResume(StatusCode code, bool cancelled_by_us, const RangeCursor& cursor,
                  int resumes_done, int max_attempts) {
  return IsResumableCode(code, cancelled_by_us) && cursor.chunks() > 0 &&
         resumes_done < max_attempts;
}

std::chrono::milliseconds ResumeBackoff(int attempt) {
  const int shift = std::clamp(attempt - 1, 0, 6);
  return std::min(std::chrono::milliseconds(20 << shift), std::chrono::milliseconds(1000));
}

}  // namespace blazen::client::detail
