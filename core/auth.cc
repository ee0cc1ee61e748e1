// SPDX-License-Identifier: Apache-2.0
// Bearer-token resolution (environment, token file) and the constant-time server-side check.

#include "core/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <system_error>

#include "core/detail/file_io.h"
#include "core/utf8.h"

namespace blazen {
namespace {

// A token is a short secret; anything larger is certainly the wrong file.
constexpr std::size_t kMaxTokenFileBytes = 64 * 1024;

using detail::OsErrorText;
using detail::ReadFileCapped;

bool IsTrailingSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

// SHA-256 of `text` into `digest`; false if the digest could not be computed.
bool Sha256(std::string_view text, unsigned char (&digest)[EVP_MAX_MD_SIZE]) {
  unsigned int len = 0;
  return EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr) == 1 &&
         len == 32;
}

Status Unauthenticated(std::string message) {
  return Status(StatusCode::kUnauthenticated, std::move(message), ErrorKind::kUnauthenticated);
}

}  // namespace

std::optional<std::string> ResolvePeerToken() {
  const std::string name(kPeerTokenEnv);
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  std::string token(value);
  if (token.empty() || !IsValidUtf8(token)) return std::nullopt;
  return token;
}

Result<std::string> ReadTokenFile(const std::string& path) {
  std::string token;
  if (const int err = ReadFileCapped(path, kMaxTokenFileBytes, token); err != 0) {
    return Status(err == ENOENT ? StatusCode::kNotFound : StatusCode::kInvalidArgument,
                  "failed to read token file " + path + ": " + OsErrorText(err));
  }
  std::size_t end = token.size();
  while (end > 0 && IsTrailingSpace(token[end - 1])) --end;
  token.resize(end);
  if (token.empty()) return Status::InvalidArgument("token file " + path + " is empty");
  for (std::size_t i = 0; i < token.size(); ++i) {
    const auto byte = static_cast<unsigned char>(token[i]);
    if (byte < 0x20 || byte == 0x7f) {
      return Status::InvalidArgument("token file " + path +
                                     " contains a control character at byte " + std::to_string(i));
    }
  }
  return token;
}

bool TokensEqual(std::string_view a, std::string_view b) {
  // Hashing first makes the compared inputs fixed-size, so neither the position of the first
  // difference nor a length mismatch can short-circuit the comparison.
  unsigned char digest_a[EVP_MAX_MD_SIZE];
  unsigned char digest_b[EVP_MAX_MD_SIZE];
  const bool hashed_a = Sha256(a, digest_a);
  const bool hashed_b = Sha256(b, digest_b);
  if (!hashed_a || !hashed_b) return false;
  return CRYPTO_memcmp(digest_a, digest_b, 32) == 0;
}

Status CheckBearerToken(std::optional<std::string_view> authorization_header,
                        std::string_view expected_token) {
  if (!authorization_header.has_value()) return Unauthenticated("missing authorization header");
  if (!authorization_header->starts_with(kBearerPrefix)) {
    return Unauthenticated("authorization header must use Bearer scheme");
  }
  const std::string_view presented = authorization_header->substr(kBearerPrefix.size());
  // Evaluate the compare even for an empty expected token so both paths cost the same.
  const bool equal = TokensEqual(presented, expected_token);
  if (!equal || expected_token.empty()) return Unauthenticated("token mismatch");
  return Status::Ok();
}

}  // namespace blazen
