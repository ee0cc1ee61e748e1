// SPDX-License-Identifier: Apache-2.0
#pragma once
// Uuid: the key of every session ref (RegistryKey upstream). Random v4 values come from OpenSSL's
// CSPRNG so keys cannot be guessed; the text form is lowercase hyphenated, as upstream prints it.

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace blazen {

/// A 128-bit UUID stored in RFC 4122 byte order (the order of its hex text). The nil UUID is the
/// default. Value type; thread-compatible.
class Uuid {
 public:
  using Bytes = std::array<std::uint8_t, 16>;

  /// The nil UUID (all zero).
  constexpr Uuid() = default;
  constexpr explicit Uuid(const Bytes& bytes) : bytes_(bytes) {}

  /// A random version-4 UUID from a cryptographically secure generator. Aborts the process if the
  /// system CSPRNG fails (there is no safe way to continue minting keys).
  [[nodiscard]] static Uuid NewV4();
  /// A random version-4 UUID from a fast per-thread generator (seeded from the CSPRNG once per
  /// thread): unique in practice but predictable to someone who sees many of them. For
  /// identifiers that grant nothing (run ids, request ids), never for session-ref keys.
  [[nodiscard]] static Uuid NewV4Fast();

  /// Parses the forms upstream's `Uuid::parse_str` accepts, case-insensitively: hyphenated
  /// (`00112233-4455-6677-8899-aabbccddeeff`), simple 32-hex, braced `{hyphenated}` and
  /// `urn:uuid:hyphenated`. Returns kInvalidArgument naming the problem otherwise.
  [[nodiscard]] static Result<Uuid> Parse(std::string_view text);

  /// Builds a UUID from exactly 16 bytes; any other length is kInvalidArgument.
  [[nodiscard]] static Result<Uuid> FromBytes(std::span<const std::uint8_t> bytes);

  /// Lowercase hyphenated text, e.g. `00112233-4455-6677-8899-aabbccddeeff`.
  [[nodiscard]] std::string ToString() const;

  [[nodiscard]] const Bytes& bytes() const { return bytes_; }
  [[nodiscard]] bool is_nil() const { return bytes_ == Bytes{}; }
  /// The version nibble (4 for NewV4 values).
  [[nodiscard]] int version() const { return bytes_[6] >> 4; }

  friend constexpr auto operator<=>(const Uuid&, const Uuid&) = default;
  friend constexpr bool operator==(const Uuid&, const Uuid&) = default;

 private:
  Bytes bytes_{};
};

std::ostream& operator<<(std::ostream& os, const Uuid& uuid);

}  // namespace blazen

template <>
struct std::hash<blazen::Uuid> {
  std::size_t operator()(const blazen::Uuid& uuid) const noexcept {
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    for (int i = 0; i < 8; ++i) {
      a = (a << 8) | uuid.bytes()[static_cast<std::size_t>(i)];
      b = (b << 8) | uuid.bytes()[static_cast<std::size_t>(i + 8)];
    }
    return static_cast<std::size_t>(a ^ (b * 0x9E3779B97F4A7C15ULL));
  }
};
