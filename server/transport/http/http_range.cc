// SPDX-License-Identifier: Apache-2.0
// Range header parsing and resolution (RFC 9110 section 14).

#include "server/transport/http/http_range.h"

#include <algorithm>
#include <string>

namespace blazen::server::http_transport {
namespace {

bool ParseU64(std::string_view text, std::uint64_t& out) {
  if (text.empty() || text.size() > 19) return false;
  out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}

}  // namespace

RangeSpec ParseRangeHeader(std::optional<std::string_view> value) {
  RangeSpec whole;
  if (!value) return whole;
  std::string_view v = *value;
  constexpr std::string_view kPrefix = "bytes=";
  if (v.substr(0, kPrefix.size()) != kPrefix) return whole;
  v.remove_prefix(kPrefix.size());
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.find(',') != std::string_view::npos) return whole;
  const auto dash = v.find('-');
  if (dash == std::string_view::npos) return whole;
  const std::string_view first = v.substr(0, dash);
  const std::string_view last = v.substr(dash + 1);
  RangeSpec spec;
  if (first.empty()) {
    if (!ParseU64(last, spec.suffix)) return whole;
    spec.kind = RangeSpec::Kind::kSuffix;
    return spec;
  }
  if (!ParseU64(first, spec.first)) return whole;
  if (!last.empty()) {
    std::uint64_t b = 0;
    if (!ParseU64(last, b) || b < spec.first) return whole;
    spec.last = b;
  }
  spec.kind = RangeSpec::Kind::kFromTo;
  return spec;
}

Result<std::optional<detail::ByteRange>> ResolveRange(const Uuid& key, const RangeSpec& spec,
                                                      std::uint64_t total) {
  using detail::EmptyAtEnd;
  switch (spec.kind) {
    case RangeSpec::Kind::kWhole:
      return std::optional<detail::ByteRange>();
    case RangeSpec::Kind::kSuffix: {
      if (spec.suffix == 0 || total == 0) {
        return Status::OutOfRange("range bytes=-" + std::to_string(spec.suffix) +
                                  " selects nothing of session ref " + key.ToString() + " (" +
                                  std::to_string(total) + " bytes)");
      }
      BLAZEN_ASSIGN_OR_RETURN(
          detail::ByteRange range,
          detail::PlanByteRange(key, total, total - std::min(spec.suffix, total), std::nullopt,
                                EmptyAtEnd::kOutOfRange));
      return std::optional<detail::ByteRange>(range);
    }
    case RangeSpec::Kind::kFromTo: {
      std::optional<std::uint64_t> length;
      // last is inclusive; last - first + 1 cannot overflow past a clamp to the end.
      if (spec.last) length = *spec.last - spec.first + 1;
      BLAZEN_ASSIGN_OR_RETURN(
          detail::ByteRange range,
          detail::PlanByteRange(key, total, spec.first, length, EmptyAtEnd::kOutOfRange));
      return std::optional<detail::ByteRange>(range);
    }
  }
  return std::optional<detail::ByteRange>();
}

}  // namespace blazen::server::http_transport
