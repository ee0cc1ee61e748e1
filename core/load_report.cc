// SPDX-License-Identifier: Apache-2.0
// LoadReport's compact text form.

#include "core/load_report.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <string>

namespace blazen {
namespace {

Status Bad(std::string_view key, std::string_view value) {
  return Status::InvalidArgument("load report: bad value '" + std::string(value) + "' for '" +
                                 std::string(key) + "'");
}

Status ReadU64(std::string_view key, std::string_view value, std::uint64_t& out) {
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || end != value.data() + value.size() || value.empty()) {
    return Bad(key, value);
  }
  return Status::Ok();
}

Status ReadWeight(std::string_view value, double& out) {
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || end != value.data() + value.size() || value.empty() ||
      !std::isfinite(out) || out <= 0) {
    return Bad("w", value);
  }
  return Status::Ok();
}

Status ReadPair(std::string_view key, std::string_view value, LoadReport& report) {
  if (key == "v") {
    std::uint64_t version = 0;
    BLAZEN_RETURN_IF_ERROR(ReadU64(key, value, version));
    if (version != 1) return Bad(key, value);
    return Status::Ok();
  }
  if (key == "w") return ReadWeight(value, report.capacity_weight);
  std::uint64_t* field = key == "s"    ? &report.seq
                         : key == "f"  ? &report.in_flight
                         : key == "q"  ? &report.queued
                         : key == "m"  ? &report.max_concurrency
                         : key == "pu" ? &report.pool_in_use_bytes
                         : key == "pb" ? &report.pool_budget_bytes
                         : key == "r"  ? &report.resident_ref_bytes
                                       : nullptr;
  if (field == nullptr) return Status::Ok();  // a newer peer's field
  return ReadU64(key, value, *field);
}

}  // namespace

std::string EncodeLoadReport(const LoadReport& r) {
  // One allocation, no intermediate strings: this runs for every response a peer sends. The
  // text is formatted into a stack buffer (keys ~30 bytes, 7 integers <= 20 digits each, one
  // double <= 24 characters: well under its size), then copied into the string once.
  char buffer[256];
  char* at = buffer;
  char* const end = buffer + sizeof(buffer);
  const auto put = [&at, end](std::string_view key, auto value) {
    if (static_cast<std::size_t>(end - at) < key.size() + 32) return;  // cannot happen; see above
    std::memcpy(at, key.data(), key.size());
    at += key.size();
    at = std::to_chars(at, end, value).ptr;
  };
  put("v=", 1u);
  put(";s=", r.seq);
  put(";f=", r.in_flight);
  put(";q=", r.queued);
  put(";m=", r.max_concurrency);
  put(";pu=", r.pool_in_use_bytes);
  put(";pb=", r.pool_budget_bytes);
  put(";r=", r.resident_ref_bytes);
  put(";w=", r.capacity_weight);  // shortest form that reads back exactly
  return std::string(buffer, at);
}

Result<LoadReport> ParseLoadReport(std::string_view text) {
  LoadReport report;
  while (!text.empty()) {
    const std::size_t semi = text.find(';');
    const std::string_view pair = text.substr(0, semi);
    text = semi == std::string_view::npos ? std::string_view() : text.substr(semi + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument("load report: '" + std::string(pair) + "' is not key=value");
    }
    BLAZEN_RETURN_IF_ERROR(ReadPair(pair.substr(0, eq), pair.substr(eq + 1), report));
  }
  return report;
}

}  // namespace blazen
