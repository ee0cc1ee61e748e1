// SPDX-License-Identifier: Apache-2.0
#pragma once
// The one decision every deref makes, whatever the transport: given the payload size and the
// caller's offset and length, which bytes go out, or which error. gRPC's streamed deref and HTTP's
// Range both adapt their own request forms to it (see grpc_service.cc and http_range.h).

#include <cstdint>
#include <optional>

#include "core/status.h"
#include "core/uuid.h"

namespace blazen::server::detail {

/// A half-open byte range [begin, end) of a payload.
struct ByteRange {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  [[nodiscard]] std::uint64_t size() const { return end - begin; }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

/// What happens to a range that starts exactly at the end of the payload.
enum class EmptyAtEnd {
  /// An empty range (gRPC: an offset equal to the size streams one empty chunk, so a resuming
  /// client learns that nothing is left).
  kAllowed,
  /// kOutOfRange (HTTP: RFC 9110 calls a first-byte-pos at or past the end unsatisfiable).
  kOutOfRange,
};

/// Bytes [offset, offset + length) of the payload of session ref `key` (`total` bytes), clamped
/// to the end; `length` unset means "to the end". kOutOfRange (`offset N is past the end of
/// session ref <uuid> (T bytes)`) when `offset` > `total`, or `offset` == `total` under
/// EmptyAtEnd::kOutOfRange (then also for an empty payload). Pure; thread-safe.
[[nodiscard]] Result<ByteRange> PlanByteRange(const Uuid& key, std::uint64_t total,
                                              std::uint64_t offset,
                                              std::optional<std::uint64_t> length,
                                              EmptyAtEnd at_end);

}  // namespace blazen::server::detail
