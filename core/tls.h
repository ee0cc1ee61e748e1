// SPDX-License-Identifier: Apache-2.0
#pragma once
// TLS material for mutual TLS: certificate chain, private key and CA bundle, read from PEM files
// and validated eagerly with OpenSSL at startup, before any network I/O. The transports (gRPC SSL
// credentials, the HTTP server) apply the PEM texts held here; nothing in this header depends on a
// TLS library.

#include <string>

#include "core/status.h"

namespace blazen {

/// The PEM texts and where they came from. Holds copies of the file contents exactly as read, so
/// a transport can hand them to its TLS stack unchanged. Value type; thread-compatible.
struct TlsFiles {
  /// The certificate file: the leaf certificate first, then any intermediates.
  std::string cert_chain_pem;
  /// The private key of the leaf certificate (unencrypted PEM, any key type OpenSSL supports).
  std::string private_key_pem;
  /// The CA bundle that verifies the other side's certificate (one or more certificates).
  std::string ca_pem;

  std::string cert_path;
  std::string key_path;
  std::string ca_path;

  /// For logs: the leaf certificate's subject (RFC 2253, e.g. `CN=node-1,O=example`) and its
  /// validity window as UTC ISO 8601 (`2030-01-31T12:00:00Z`).
  std::string leaf_subject;
  std::string leaf_not_before;
  std::string leaf_not_after;
};

/// Server side of mutual TLS: the node's identity plus the CA that client certificates must chain
/// to (the server requests and verifies client certificates). Upstream `ServerTlsConfig`.
struct ServerTlsConfig : TlsFiles {};

/// Client side of mutual TLS: the client's identity plus the CA that the server certificate must
/// chain to. Upstream `ClientTlsConfig`.
struct ClientTlsConfig : TlsFiles {};

/// Loads and validates the server's TLS files (upstream `load_server_tls`). Reads the files in the
/// order cert, key, CA (the first failure wins), then checks, in this order: the cert file holds at
/// least one certificate and every certificate block parses; the key parses (encrypted keys are
/// rejected); the key matches the leaf (first) certificate; the CA file holds at least one
/// certificate and every certificate block parses; the leaf is currently valid (not expired, not
/// yet valid). PEM blocks of other types are ignored, as the TLS stacks ignore them.
///
/// Every failure is kInvalidArgument with ErrorKind::kTls attached (a TlsError at public edges),
/// and its message names the offending path:
/// - `failed to read server cert|server key|CA cert <path>: <OS reason>`
/// - `failed to parse server cert|server key|CA cert <path>: <reason>`
/// - `server key <key path> does not match certificate <cert path>`
/// - `server cert <path> expired at <notAfter>` / `server cert <path> is not valid before
///   <notBefore>`
/// Thread-safe. Clears the calling thread's OpenSSL error queue (it is empty on return).
[[nodiscard]] Result<ServerTlsConfig> LoadServerTls(const std::string& cert_path,
                                                    const std::string& key_path,
                                                    const std::string& ca_path);

/// Loads and validates a client's TLS files (upstream `load_client_tls`): the same reads, checks,
/// codes and messages as LoadServerTls with `client cert` / `client key` in place of `server cert`
/// / `server key` (the CA file is still `CA cert`). Thread-safe.
[[nodiscard]] Result<ClientTlsConfig> LoadClientTls(const std::string& cert_path,
                                                    const std::string& key_path,
                                                    const std::string& ca_path);

}  // namespace blazen
