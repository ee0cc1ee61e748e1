// SPDX-License-Identifier: Apache-2.0
// Uuid generation (OpenSSL RAND_bytes), parsing and formatting.

#include "core/uuid.h"

#include <openssl/rand.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ostream>

namespace blazen {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses exactly 32 hex digits (hyphens already removed) into `out`.
bool ParseHex32(std::string_view hex, Uuid::Bytes& out) {
  if (hex.size() != 32) return false;
  for (std::size_t i = 0; i < 16; ++i) {
    const int hi = HexValue(hex[2 * i]);
    const int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return true;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

Uuid Uuid::NewV4() {
  Bytes bytes;
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    std::fprintf(stderr, "blazen: the system CSPRNG failed; cannot mint session-ref keys\n");
    std::abort();
  }
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | 0x40);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return Uuid(bytes);
}

Uuid Uuid::NewV4Fast() {
  // splitmix64 over a per-thread state seeded from the CSPRNG.
  thread_local std::uint64_t state = [] {
    std::uint64_t seed = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof(seed)) != 1) {
      seed =
          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
    return seed;
  }();
  const auto next = [] {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  Bytes bytes;
  const std::uint64_t hi = next();
  const std::uint64_t lo = next();
  std::memcpy(bytes.data(), &hi, 8);
  std::memcpy(bytes.data() + 8, &lo, 8);
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | 0x40);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return Uuid(bytes);
}

Result<Uuid> Uuid::Parse(std::string_view text) {
  std::string_view body = text;
  if (StartsWithIgnoreCase(body, "urn:uuid:")) {
    body.remove_prefix(9);
  } else if (body.size() == 38 && body.front() == '{' && body.back() == '}') {
    body = body.substr(1, 36);
  }
  Bytes bytes{};
  if (body.size() == 32) {
    if (ParseHex32(body, bytes)) return Uuid(bytes);
  } else if (body.size() == 36) {
    // Groups 8-4-4-4-12: hyphens exactly at 8, 13, 18, 23.
    if (body[8] == '-' && body[13] == '-' && body[18] == '-' && body[23] == '-') {
      std::string hex;
      hex.reserve(32);
      for (char c : body) {
        if (c != '-') hex.push_back(c);
      }
      if (hex.size() == 32 && ParseHex32(hex, bytes)) return Uuid(bytes);
    }
  }
  return Status::InvalidArgument("invalid UUID `" + std::string(text.substr(0, 64)) +
                                 "`: expected 32 hex digits, optionally hyphenated 8-4-4-4-12");
}

Result<Uuid> Uuid::FromBytes(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != 16) {
    return Status::InvalidArgument("invalid UUID: expected 16 bytes, got " +
                                   std::to_string(bytes.size()));
  }
  Bytes out;
  for (std::size_t i = 0; i < 16; ++i) out[i] = bytes[i];
  return Uuid(out);
}

std::string Uuid::ToString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes_[i] >> 4]);
    out.push_back(kHex[bytes_[i] & 0x0F]);
  }
  return out;
}

std::ostream& operator<<(std::ostream& os, const Uuid& uuid) { return os << uuid.ToString(); }

}  // namespace blazen
