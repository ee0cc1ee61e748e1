// SPDX-License-Identifier: Apache-2.0
#pragma once
// The benchmark payload: byte i of every transfer is HostBlobByte(i) = i % 251, whether it comes
// from a blazen::host_blob ref or from a control server's prefilled buffer. Receivers check it so
// that no measurement can count a broken transfer.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <span>

#include "core/builtin_steps.h"

namespace blazen::bench {

/// Fills `out` with the payload bytes that start at payload offset `offset`. Thread-safe.
inline void FillPattern(std::span<std::uint8_t> out, std::uint64_t offset) {
  // The pattern repeats every 251 bytes: write one period, then double the filled prefix.
  const std::size_t period = std::min<std::size_t>(out.size(), 251);
  for (std::size_t i = 0; i < period; ++i) out[i] = HostBlobByte(offset + i);
  std::size_t filled = period;
  while (filled < out.size()) {
    const std::size_t n = std::min(filled, out.size() - filled);
    std::memcpy(out.data() + filled, out.data(), n);
    filled += n;
  }
}

/// Returns true when `bytes` equal the payload bytes at payload offset `offset`: every byte when
/// `full`, else only the first and the last byte (cheap enough for timed runs). Thread-safe.
inline bool MatchesPattern(std::uint64_t offset, std::span<const std::uint8_t> bytes, bool full) {
  if (bytes.empty()) return true;
  if (!full) {
    return bytes.front() == HostBlobByte(offset) &&
           bytes.back() == HostBlobByte(offset + bytes.size() - 1);
  }
  constexpr std::size_t kBlock = 64 * 1024;
  static const std::array<std::uint8_t, kBlock + 251> kTable = [] {
    std::array<std::uint8_t, kBlock + 251> table{};
    FillPattern(table, 0);
    return table;
  }();
  for (std::size_t done = 0; done < bytes.size();) {
    const std::size_t n = std::min(kBlock, bytes.size() - done);
    const std::size_t phase = static_cast<std::size_t>((offset + done) % 251);
    if (std::memcmp(bytes.data() + done, kTable.data() + phase, n) != 0) return false;
    done += n;
  }
  return true;
}

}  // namespace blazen::bench
