// SPDX-License-Identifier: Apache-2.0
#pragma once
// OpenSSL helpers shared by the TLS loaders and the transports that configure an SSL_CTX from the
// PEM texts of a ServerTlsConfig / ClientTlsConfig (the HTTP server and client).

#include <openssl/ssl.h>

#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/tls.h"

namespace blazen::detail {

/// Empties this thread's OpenSSL error queue and returns its first few entries joined with "; ",
/// or `fallback` when the queue was empty.
[[nodiscard]] std::string DrainOpenSslErrors(std::string_view fallback = "unknown OpenSSL error");

/// Installs the leaf certificate and intermediates of `cert_chain_pem` and the matching
/// `private_key_pem` on `ctx`. kInvalidArgument (kind kTls) naming `role` ("server", "client") and
/// the file path when a PEM does not load or the key does not match the certificate.
[[nodiscard]] Status UseCertificateAndKey(SSL_CTX& ctx, std::string_view role,
                                          const std::string& cert_chain_pem,
                                          const std::string& cert_path,
                                          const std::string& private_key_pem,
                                          const std::string& key_path);

/// Calls `fn` with each certificate of `pem`, in order (the certificate is freed after the call;
/// `fn` takes a reference of its own to keep it). Returns how many there were.
int ForEachCertificate(const std::string& pem, const std::function<void(X509*)>& fn);

/// Configures `ctx` as a TLS server of `tls`: TLS 1.2 or newer, the identity (leaf,
/// intermediates, key) and the CA that client certificates must chain to; clients without a valid
/// certificate fail the handshake. kInvalidArgument (kind kTls) as UseCertificateAndKey, or when
/// the CA PEM holds no certificate.
[[nodiscard]] Status ConfigureServerSsl(SSL_CTX& ctx, const ServerTlsConfig& tls);

}  // namespace blazen::detail
