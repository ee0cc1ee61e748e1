// SPDX-License-Identifier: Apache-2.0
#pragma once
// The `Range` request header of GET /v1/peer/refs/{uuid} (RFC 9110 section 14), adapted to the
// transport-neutral PlanByteRange. Pure: no HTTP library types.

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/status.h"
#include "core/uuid.h"
#include "server/detail/byte_range.h"

namespace blazen::server::http_transport {

/// One parsed `Range: bytes=...` header.
struct RangeSpec {
  enum class Kind {
    /// No header, a malformed one, another unit, or several ranges: serve the whole payload.
    kWhole,
    /// `bytes=first-` or `bytes=first-last`.
    kFromTo,
    /// `bytes=-n`: the last n bytes.
    kSuffix,
  };
  Kind kind = Kind::kWhole;
  std::uint64_t first = 0;
  std::optional<std::uint64_t> last;
  std::uint64_t suffix = 0;
  friend bool operator==(const RangeSpec&, const RangeSpec&) = default;
};

/// Parses a Range header value. Anything RFC 9110 lets a server ignore (malformed syntax, other
/// units, several ranges, last < first) is Kind::kWhole.
[[nodiscard]] RangeSpec ParseRangeHeader(std::optional<std::string_view> value);

/// The bytes to send of a payload of `total` bytes for `spec`: nullopt for the whole payload (200),
/// a range for a partial answer (206), kOutOfRange when the range is unsatisfiable (416): a first
/// byte at or past the end, or a suffix of 0 bytes or of an empty payload.
[[nodiscard]] Result<std::optional<detail::ByteRange>> ResolveRange(const Uuid& key,
                                                                    const RangeSpec& spec,
                                                                    std::uint64_t total);

}  // namespace blazen::server::http_transport
