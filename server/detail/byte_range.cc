// SPDX-License-Identifier: Apache-2.0
// PlanByteRange: the transport-neutral range rule of every deref.

#include "server/detail/byte_range.h"

#include <algorithm>
#include <string>

namespace blazen::server::detail {

Result<ByteRange> PlanByteRange(const Uuid& key, std::uint64_t total, std::uint64_t offset,
                                std::optional<std::uint64_t> length, EmptyAtEnd at_end) {
  if (offset > total || (offset == total && at_end == EmptyAtEnd::kOutOfRange)) {
    return Status::OutOfRange("offset " + std::to_string(offset) +
                              " is past the end of session ref " + key.ToString() + " (" +
                              std::to_string(total) + " bytes)");
  }
  const std::uint64_t remaining = total - offset;
  const std::uint64_t n = length ? std::min(*length, remaining) : remaining;
  return ByteRange{offset, offset + n};
}

}  // namespace blazen::server::detail
