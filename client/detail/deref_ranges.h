// SPDX-License-Identifier: Apache-2.0
#pragma once
// Range bookkeeping of the streaming deref, kept free of gRPC so it can be tested alone: how a
// payload is split into parallel ranges, how one range's stream is checked chunk by chunk
// (contiguous, inside the range and the payload, consistent total size), and when a failed stream
// is resumed from the first missing byte.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/status.h"

namespace blazen::client::detail {

/// The half-open byte range [begin, end).
struct ByteRange {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;

  [[nodiscard]] std::uint64_t size() const { return end - begin; }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

/// Splits [begin, end) into at most `parts` contiguous, non-empty ranges of nearly equal size that
/// cover it exactly. Inner boundaries are rounded down to multiples of `align` (when `align` > 0
/// and each part is at least `align` long), so that a stream's chunks end exactly on them; ranges
/// that rounding leaves empty are dropped. `parts` 0 is treated as 1. Empty input gives no ranges.
[[nodiscard]] std::vector<ByteRange> SplitRange(std::uint64_t begin, std::uint64_t end,
                                                std::size_t parts, std::uint64_t align);

/// What one stream attempt asks the server for: `length` bytes from `offset` (0 = to the end).
struct StreamRequestRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  friend bool operator==(const StreamRequestRange&, const StreamRequestRange&) = default;
};

/// How a deref proceeds once the first chunk of the first stream told the payload size.
struct DerefPlan {
  /// Where the first stream (which asked for everything from offset 0) stops.
  std::uint64_t first_end = 0;
  /// The other ranges, each fetched by its own stream on its own connection, in order.
  std::vector<ByteRange> others;
};

/// Plans a deref of `total_size` bytes after the first stream received its first `received` bytes
/// in chunks of `chunk_size`. Parallel only when `parallel_streams` > 1 and
/// `total_size` >= `parallel_threshold`: the payload is split into `parallel_streams` ranges
/// (aligned to `chunk_size`); the first stream keeps the first range (extended to `received` when
/// it already got more) and each other range goes to another stream. Otherwise the first stream
/// fetches everything: `{total_size, {}}`.
[[nodiscard]] DerefPlan PlanDeref(std::uint64_t total_size, std::uint64_t received,
                                  std::uint64_t chunk_size, std::size_t parallel_streams,
                                  std::uint64_t parallel_threshold);

/// Tracks one range of a deref across the stream attempts that fetch it: which byte comes next,
/// where the range ends, and whether each received chunk fits. Externally synchronized (one per
/// stream thread).
class RangeCursor {
 public:
  /// A range from `begin` to `end`; no `end` means "to the end of the payload", learned from the
  /// first chunk. `total_size` is the payload size when already known.
  RangeCursor(std::uint64_t begin, std::optional<std::uint64_t> end,
              std::optional<std::uint64_t> total_size = std::nullopt);

  /// Starts a stream attempt: returns the request's (offset, length) — length 0 means "to the
  /// end" — and remembers how far the server was asked to go.
  [[nodiscard]] StreamRequestRange StartAttempt();

  /// Checks the chunk [offset, offset + size) of a payload of `total_size` bytes against the
  /// range and advances. Returns how many of its leading bytes belong to the range: all of them,
  /// except when the range end was lowered (SetEnd) below what the current attempt asked for, in
  /// which case a chunk crossing the end is cut there. kDataLoss (naming the offsets) when the
  /// chunk does not start at next(), runs past what the attempt asked for or past the payload, or
  /// when `total_size` differs from the size seen before. Never advances on failure.
  [[nodiscard]] Result<std::uint64_t> Accept(std::uint64_t offset, std::uint64_t size,
                                             std::uint64_t total_size);

  /// Lowers the range end to `end` (>= next(); clamped up to next() otherwise). Used when the
  /// first stream learns the size and hands the rest of the payload to parallel streams.
  void SetEnd(std::uint64_t end);

  /// The first byte not received yet.
  [[nodiscard]] std::uint64_t next() const { return next_; }
  [[nodiscard]] std::optional<std::uint64_t> end() const { return end_; }
  [[nodiscard]] std::optional<std::uint64_t> total_size() const { return total_; }
  /// Chunks accepted over all attempts.
  [[nodiscard]] std::uint64_t chunks() const { return chunks_; }
  /// True when the end is known and every byte up to it was received.
  [[nodiscard]] bool complete() const { return end_.has_value() && next_ >= *end_; }
  /// True when the current attempt asked the server for bytes past end(), so its stream must be
  /// cancelled once complete().
  [[nodiscard]] bool overshoots() const;

 private:
  std::uint64_t next_;
  std::optional<std::uint64_t> end_;
  std::optional<std::uint64_t> total_;
  std::optional<std::uint64_t> asked_end_;  // nullopt: asked for everything to the end
  std::uint64_t chunks_ = 0;
};

/// Whether a stream that ended with `code` may be resumed: UNAVAILABLE, INTERNAL, UNKNOWN, and
/// CANCELLED when the client did not cancel it itself. DEADLINE_EXCEEDED never is (the deadline
/// covers the whole deref), nor are protocol or caller errors.
[[nodiscard]] bool IsResumableCode(StatusCode code, bool cancelled_by_us);

/// Whether to start another attempt after a failed one: the code is resumable, the range received
/// at least one chunk (a stream that never delivered anything is not retried: the failure is not
/// transient in any way the client can tell), and fewer than `max_attempts` resumes were made.
[[nodiscard]] bool ShouldResume(StatusCode code, bool cancelled_by_us, const RangeCursor& cursor,
                                int resumes_done, int max_attempts);

/// Pause before resume number `attempt` (1-based): 20 ms doubling, at most 1 s.
[[nodiscard]] std::chrono::milliseconds ResumeBackoff(int attempt);

}  // namespace blazen::client::detail
