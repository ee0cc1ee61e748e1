// SPDX-License-Identifier: Apache-2.0
#include "client/pool/policy/random_source.h"

namespace blazen::client::pool {

namespace {
constexpr std::uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;
}  // namespace

RandomSource::~RandomSource() = default;

std::size_t RandomSource::Below(std::size_t n) {
  if (n == 0) return 0;
  const unsigned __int128 product =
      static_cast<unsigned __int128>(Next()) * static_cast<unsigned __int128>(n);
  return static_cast<std::size_t>(product >> 64);
}

std::uint64_t CounterRandomSource::Next() {
  // Relaxed: the ticket only has to be unique, it orders no other memory.
  const std::uint64_t ticket = ticket_.fetch_add(1, std::memory_order_relaxed);
  return Mix64(seed_ + (ticket + 1) * kGoldenGamma);
}

std::shared_ptr<RandomSource> MakeRandomSource(std::uint64_t seed) {
  return std::make_shared<CounterRandomSource>(seed);
}

}  // namespace blazen::client::pool
