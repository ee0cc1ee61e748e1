// SPDX-License-Identifier: Apache-2.0
// OpenSSL helpers: error text, certificate + key installation, certificate iteration.

#include "core/detail/ssl_context.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

namespace blazen::detail {
namespace {

constexpr int kMaxReportedOpenSslErrors = 4;

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

BioPtr BioOf(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
}

}  // namespace

std::string DrainOpenSslErrors(std::string_view fallback) {
  std::string text;
  int count = 0;
  while (const unsigned long err = ERR_get_error()) {
    if (count++ >= kMaxReportedOpenSslErrors) continue;
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text.empty() ? std::string(fallback) : text;
}

Status UseCertificateAndKey(SSL_CTX& ctx, std::string_view role, const std::string& cert_chain_pem,
                            const std::string& cert_path, const std::string& private_key_pem,
                            const std::string& key_path) {
  const auto fail = [role](std::string_view what, const std::string& path) {
    return Status(StatusCode::kInvalidArgument,
                  "cannot use " + std::string(role) + " " + std::string(what) + " " + path + ": " +
                      DrainOpenSslErrors(),
                  ErrorKind::kTls);
  };
  BioPtr chain = BioOf(cert_chain_pem);
  X509* leaf = chain ? PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr) : nullptr;
  if (leaf == nullptr || SSL_CTX_use_certificate(&ctx, leaf) != 1) {
    if (leaf != nullptr) X509_free(leaf);
    return fail("cert", cert_path);
  }
  X509_free(leaf);
  while (X509* extra = PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add_extra_chain_cert(&ctx, extra) != 1) X509_free(extra);  // ctx owns it on success
  }
  ERR_clear_error();  // the loop ends on an expected "no start line"
  BioPtr key_bio = BioOf(private_key_pem);
  EVP_PKEY* key =
      key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr) : nullptr;
  const bool key_ok = key != nullptr && SSL_CTX_use_PrivateKey(&ctx, key) == 1 &&
                      SSL_CTX_check_private_key(&ctx) == 1;
  if (key != nullptr) EVP_PKEY_free(key);
  if (!key_ok) return fail("key", key_path);
  return Status::Ok();
}

int ForEachCertificate(const std::string& pem, const std::function<void(X509*)>& fn) {
  BioPtr bio = BioOf(pem);
  if (!bio) return 0;
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    fn(cert);
    X509_free(cert);
    ++count;
  }
  ERR_clear_error();  // the loop ends on an expected "no start line"
  return count;
}

Status ConfigureServerSsl(SSL_CTX& ctx, const ServerTlsConfig& tls) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  BLAZEN_RETURN_IF_ERROR(UseCertificateAndKey(ctx, "server", tls.cert_chain_pem, tls.cert_path,
                                              tls.private_key_pem, tls.key_path));
  X509_STORE* store = SSL_CTX_get_cert_store(&ctx);
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  const int added = ForEachCertificate(tls.ca_pem, [&](X509* cert) {
    X509_STORE_add_cert(store, cert);
    if (names != nullptr) {
      if (X509_NAME* name = X509_NAME_dup(X509_get_subject_name(cert))) {
        sk_X509_NAME_push(names, name);
      }
    }
  });
  if (names != nullptr) SSL_CTX_set_client_CA_list(&ctx, names);
  if (added == 0) {
    return Status(StatusCode::kInvalidArgument, "CA cert " + tls.ca_path + " holds no certificate",
                  ErrorKind::kTls);
  }
  SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return Status::Ok();
}

}  // namespace blazen::detail
