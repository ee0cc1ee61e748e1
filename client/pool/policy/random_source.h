// SPDX-License-Identifier: Apache-2.0
#pragma once
// RandomSource: the random bits of the randomized pickers (`random`, `least_loaded`), injectable
// so tests and the routing simulator replay the same choices from a seed. The default,
// CounterRandomSource, is lock-free: each draw takes a ticket from an atomic counter and hashes
// (seed, ticket), so concurrent pickers never share a generator state.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace blazen::client::pool {

/// A source of uniformly distributed 64-bit values. Implementations are thread-safe.
class RandomSource {
 public:
  virtual ~RandomSource();
  RandomSource(const RandomSource&) = delete;
  RandomSource& operator=(const RandomSource&) = delete;
  RandomSource(RandomSource&&) = delete;
  RandomSource& operator=(RandomSource&&) = delete;

  /// The next value. Thread-safe.
  [[nodiscard]] virtual std::uint64_t Next() = 0;

  /// A value in [0, n) for n > 0 (Lemire's multiply-shift; the bias is below n / 2^64). Returns 0
  /// for n == 0.
  [[nodiscard]] std::size_t Below(std::size_t n);

 protected:
  RandomSource() = default;
};

/// Counter-based generator: value i is SplitMix64's output for seed + i * golden gamma, i.e. the
/// SplitMix64 sequence of `seed`. Single-threaded use replays exactly from the seed; under
/// concurrency every draw is still a distinct element of that sequence. Thread-safe, lock-free.
class CounterRandomSource final : public RandomSource {
 public:
  explicit CounterRandomSource(std::uint64_t seed) : seed_(seed) {}
  [[nodiscard]] std::uint64_t Next() override;

 private:
  const std::uint64_t seed_;
  std::atomic<std::uint64_t> ticket_{0};
};

/// A CounterRandomSource seeded with `seed`.
[[nodiscard]] std::shared_ptr<RandomSource> MakeRandomSource(std::uint64_t seed);

/// SplitMix64's finalizer: a bijective 64-bit mix with full avalanche (also used for hashing).
[[nodiscard]] inline std::uint64_t Mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace blazen::client::pool
