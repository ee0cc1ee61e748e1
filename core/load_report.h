// SPDX-License-Identifier: Apache-2.0
#pragma once
// LoadReport: what a peer says about its load on every response (gRPC trailing metadata and HTTP
// response header `x-blazen-load`), so that a router learns it without extra calls, and what
// DescribePeer reports too. Transport-free: the compact text form is shared by server and client.
//
// Wire form (ASCII, ';'-separated key=value pairs, unknown keys ignored so that peers may add
// fields): `v=1;s=<seq>;f=<in flight>;q=<queued>;m=<max concurrency>;pu=<pool bytes in use>;
// pb=<pool budget bytes>;r=<resident ref bytes>;w=<capacity weight>`.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace blazen {

/// The response header / trailing metadata key (lower case; HTTP lookups are case-insensitive).
inline constexpr std::string_view kLoadReportHeader = "x-blazen-load";

/// One load report. Value type.
struct LoadReport {
  /// Increases with every report a peer makes (per process), so a router keeps only the newest.
  std::uint64_t seq = 0;
  /// Runs executing now.
  std::uint64_t in_flight = 0;
  /// Runs accepted and waiting for a worker.
  std::uint64_t queued = 0;
  /// Runs the peer executes at once (its workers).
  std::uint64_t max_concurrency = 0;
  /// Bytes in use / budget of the peer's memory pool (the GPU pool; host memory on the fallback).
  std::uint64_t pool_in_use_bytes = 0;
  std::uint64_t pool_budget_bytes = 0;
  /// Bytes held by the peer's session refs (all locations).
  std::uint64_t resident_ref_bytes = 0;
  /// Relative capacity for weighted routing (`serve --capacity-weight`); > 0.
  double capacity_weight = 1.0;

  friend bool operator==(const LoadReport&, const LoadReport&) = default;
};

/// The compact wire form (see the file comment).
[[nodiscard]] std::string EncodeLoadReport(const LoadReport& report);

/// Parses the wire form. Missing keys keep their defaults; unknown keys are ignored.
/// kInvalidArgument (naming the key) for a pair without '=', a number that does not parse or
/// overflows, a capacity weight that is not a finite positive number, or a version other than 1.
[[nodiscard]] Result<LoadReport> ParseLoadReport(std::string_view text);

}  // namespace blazen
