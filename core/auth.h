// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shared-secret bearer-token authentication. The node resolves its token at startup (environment
// or token file); every gRPC call and HTTP route then runs CheckBearerToken on the request's
// `authorization` header before any handler logic. Transport-agnostic: no gRPC or HTTP types here.

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace blazen {

/// The environment variable that holds the shared peer token (upstream `PEER_TOKEN_ENV`).
inline constexpr std::string_view kPeerTokenEnv = "BLAZEN_PEER_TOKEN";

/// The scheme prefix of the `authorization` header value, trailing space included.
inline constexpr std::string_view kBearerPrefix = "Bearer ";

/// Returns the value of `BLAZEN_PEER_TOKEN` when it is set, non-empty and valid UTF-8; otherwise
/// nullopt (upstream `resolve_peer_token`). The value is returned verbatim (no trimming).
/// Thread safety: reads the process environment, so it must not race with setenv/unsetenv.
[[nodiscard]] std::optional<std::string> ResolvePeerToken();

/// Reads a token from the file at `path` and strips trailing whitespace (spaces, tabs, CR, LF,
/// VT, FF), so a file written with `echo` works. Leading and interior characters are kept.
///
/// Returns:
/// - kNotFound when the file does not exist; the message names `path` and the OS reason.
/// - kInvalidArgument when the file cannot be read (permissions, a directory, larger than
///   64 KiB), naming `path` and the reason; when nothing is left after stripping
///   (`token file <path> is empty`); or when the token contains a control character (it could not
///   travel in an `authorization` header), naming the byte offset.
/// Thread-safe.
[[nodiscard]] Result<std::string> ReadTokenFile(const std::string& path);

/// Compares two tokens in constant time: the running time depends neither on the position of the
/// first difference nor on whether the lengths match (both inputs are hashed with SHA-256 and the
/// digests compared with a constant-time compare). Returns true iff `a` and `b` are byte-for-byte
/// equal. Fails closed (false) if hashing fails. Thread-safe.
[[nodiscard]] bool TokensEqual(std::string_view a, std::string_view b);

/// The server-side token check for one request. `authorization_header` is the value of the
/// request's `authorization` header or metadata entry (nullopt when absent); `expected_token` is
/// the node's configured token. Callers invoke this only when a token is configured; an empty
/// `expected_token` matches nothing (fails closed).
///
/// Returns OK when the header is exactly `Bearer <expected_token>` (scheme case-sensitive, single
/// space, no trimming). Otherwise kUnauthenticated with ErrorKind::kUnauthenticated attached and
/// the message `missing authorization header` (no header), `authorization header must use Bearer
/// scheme` (the value does not start with `Bearer `) or `token mismatch`. Thread-safe.
[[nodiscard]] Status CheckBearerToken(std::optional<std::string_view> authorization_header,
                                      std::string_view expected_token);

}  // namespace blazen
