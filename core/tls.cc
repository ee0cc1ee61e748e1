// SPDX-License-Identifier: Apache-2.0
// Reading and eager OpenSSL validation of the mutual-TLS PEM files. Every OpenSSL object is owned
// by a unique_ptr, and every failure path drains this thread's OpenSSL error queue into the
// message.

#include "core/tls.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstddef>
#include <ctime>
#include <memory>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "core/detail/file_io.h"
#include "core/detail/ssl_context.h"

namespace blazen {
namespace {

// Large enough for any real CA bundle (the system bundle is ~200 KiB); stops /dev/zero and
// mistaken multi-gigabyte paths early. Also keeps sizes within BIO_new_mem_buf's `int`.
constexpr std::size_t kMaxPemFileBytes = 8 * 1024 * 1024;

// At most this many queued OpenSSL errors go into one message.

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free_all(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct OpenSslFreeDeleter {
  void operator()(void* ptr) const { OPENSSL_free(ptr); }
};

using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;
template <typename T>
using OpenSslPtr = std::unique_ptr<T, OpenSslFreeDeleter>;

Status TlsError(std::string message) {
  return Status(StatusCode::kInvalidArgument, std::move(message), ErrorKind::kTls);
}

using detail::OsErrorText;
using detail::ReadFileCapped;

// Reads `path` into `out`; `what` is the role in the message ("server cert", "CA cert", ...).
Status ReadPemFile(const std::string& path, std::string_view what, std::string& out) {
  if (const int err = ReadFileCapped(path, kMaxPemFileBytes, out); err != 0) {
    return TlsError("failed to read " + std::string(what) + " " + path + ": " + OsErrorText(err));
  }
  return Status::Ok();
}

// True when the most recent queued error is PEM's "no start line", i.e. the input ran out before
// another "-----BEGIN" line: the normal end of a PEM file, or a file without any PEM block.
bool LastErrorIsNoStartLine() {
  const unsigned long err = ERR_peek_last_error();
  return ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
}

Result<BioPtr> NewMemBio(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr)
    return Status::InvalidArgument(detail::DrainOpenSslErrors("cannot allocate a BIO"));
  return bio;
}

// Parses every certificate block of `pem` (at least one required). Blocks of other types are
// skipped, as TLS stacks skip them; a malformed block of any type is an error. The failure message
// is the bare reason, for the caller to prefix.
Result<std::vector<X509Ptr>> ParseCertificates(const std::string& pem) {
  ERR_clear_error();
  BLAZEN_ASSIGN_OR_RETURN(BioPtr bio, NewMemBio(pem));
  std::vector<X509Ptr> certs;
  for (int block = 1;; ++block) {
    char* raw_name = nullptr;
    char* raw_header = nullptr;
    unsigned char* raw_data = nullptr;
    long length = 0;
    const int read_ok = PEM_read_bio(bio.get(), &raw_name, &raw_header, &raw_data, &length);
    const OpenSslPtr<char> name(raw_name);
    const OpenSslPtr<char> header(raw_header);
    const OpenSslPtr<unsigned char> data(raw_data);
    if (read_ok != 1) {
      if (LastErrorIsNoStartLine()) {
        ERR_clear_error();
        break;
      }
      return Status::InvalidArgument("PEM block " + std::to_string(block) + ": " +
                                     detail::DrainOpenSslErrors("malformed PEM block"));
    }
    const std::string_view type(name.get());
    const bool trusted = type == PEM_STRING_X509_TRUSTED;
    if (type != PEM_STRING_X509 && type != PEM_STRING_X509_OLD && !trusted) continue;
    const unsigned char* cursor = data.get();
    X509Ptr cert(trusted ? d2i_X509_AUX(nullptr, &cursor, length)
                         : d2i_X509(nullptr, &cursor, length));
    const std::string where = "certificate " + std::to_string(certs.size() + 1) + " (PEM block " +
                              std::to_string(block) + "): ";
    if (cert == nullptr) {
      return Status::InvalidArgument(where + detail::DrainOpenSslErrors("malformed certificate"));
    }
    if (cursor != data.get() + length) {
      return Status::InvalidArgument(where + "trailing bytes after the certificate");
    }
    certs.push_back(std::move(cert));
  }
  if (certs.empty()) return Status::InvalidArgument("no PEM certificate found");
  return certs;
}

// Records that OpenSSL asked for a passphrase, and refuses it (no interactive prompt, ever).
int RefusePassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* asked) {
  *static_cast<bool*>(asked) = true;
  return -1;
}

// True when `pem` has a "-----BEGIN ...PRIVATE KEY-----" line (any key type, encrypted or not).
bool HasPrivateKeyBlock(std::string_view pem) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  for (std::size_t pos = pem.find(kBegin); pos != std::string_view::npos;
       pos = pem.find(kBegin, pos + 1)) {
    const std::size_t eol = pem.find('\n', pos);
    const std::string_view line =
        pem.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    if (line.find("PRIVATE KEY-----") != std::string_view::npos) return true;
  }
  return false;
}

// Parses the first private key of `pem`; the failure message is the bare reason.
Result<EvpPkeyPtr> ParsePrivateKey(const std::string& pem) {
  // OpenSSL's decoder reports a file without any key block only as "unsupported"; say it plainly.
  if (!HasPrivateKeyBlock(pem)) return Status::InvalidArgument("no PEM private key found");
  ERR_clear_error();
  BLAZEN_ASSIGN_OR_RETURN(BioPtr bio, NewMemBio(pem));
  bool passphrase_asked = false;
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, RefusePassphrase, &passphrase_asked));
  if (passphrase_asked) {
    ERR_clear_error();
    return Status::InvalidArgument(
        "the key is encrypted; encrypted private keys are not supported (store it unencrypted with "
        "restrictive file permissions)");
  }
  if (key == nullptr) {
    return Status::InvalidArgument("malformed private key: " +
                                   detail::DrainOpenSslErrors("no details"));
  }
  return key;
}

// UTC ISO 8601 text of an ASN.1 time, or a placeholder when it cannot be decoded.
std::string FormatAsn1Time(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    ERR_clear_error();
    return "<undecodable time>";
  }
  char buf[32];
  if (std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) return "<undecodable time>";
  return buf;
}

std::string SubjectText(const X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) {
    ERR_clear_error();
    return {};
  }
  // RFC 2253 order and escaping, but UTF-8 kept readable instead of escaped byte by byte.
  constexpr unsigned long kFlags =
      XN_FLAG_RFC2253 & ~static_cast<unsigned long>(ASN1_STRFLGS_ESC_MSB);
  if (X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, kFlags) < 0) {
    ERR_clear_error();
    return {};
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  if (size <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(size));
}

// Fails unless `leaf` is valid now; `what` is "server cert" or "client cert".
Status CheckCurrentlyValid(const X509* leaf, const std::string& what, const std::string& path) {
  const ASN1_TIME* not_before = X509_get0_notBefore(leaf);
  const ASN1_TIME* not_after = X509_get0_notAfter(leaf);
  // X509_cmp_current_time: -1 when the time is at or before now, 1 when after, 0 on error.
  const int before_cmp = X509_cmp_current_time(not_before);
  const int after_cmp = X509_cmp_current_time(not_after);
  if (before_cmp == 0 || after_cmp == 0) {
    ERR_clear_error();
    return TlsError(what + " " + path + " has an undecodable validity period");
  }
  if (before_cmp > 0) {
    return TlsError(what + " " + path + " is not valid before " + FormatAsn1Time(not_before));
  }
  if (after_cmp < 0) {
    return TlsError(what + " " + path + " expired at " + FormatAsn1Time(not_after));
  }
  return Status::Ok();
}

Status ParseFailure(const std::string& what, const std::string& path, const Status& reason) {
  return TlsError("failed to parse " + what + " " + path + ": " + reason.message());
}

// Shared body of LoadServerTls / LoadClientTls; `role` is "server" or "client".
template <typename Config>
Result<Config> LoadTls(const std::string& role, const std::string& cert_path,
                       const std::string& key_path, const std::string& ca_path) {
  const std::string cert_what = role + " cert";
  const std::string key_what = role + " key";
  const std::string ca_what = "CA cert";

  Config config;
  config.cert_path = cert_path;
  config.key_path = key_path;
  config.ca_path = ca_path;
  BLAZEN_RETURN_IF_ERROR(ReadPemFile(cert_path, cert_what, config.cert_chain_pem));
  BLAZEN_RETURN_IF_ERROR(ReadPemFile(key_path, key_what, config.private_key_pem));
  BLAZEN_RETURN_IF_ERROR(ReadPemFile(ca_path, ca_what, config.ca_pem));

  Result<std::vector<X509Ptr>> chain = ParseCertificates(config.cert_chain_pem);
  if (!chain.ok()) return ParseFailure(cert_what, cert_path, chain.status());
  Result<EvpPkeyPtr> key = ParsePrivateKey(config.private_key_pem);
  if (!key.ok()) return ParseFailure(key_what, key_path, key.status());

  X509* leaf = chain->front().get();
  ERR_clear_error();
  if (X509_check_private_key(leaf, key->get()) != 1) {
    ERR_clear_error();
    return TlsError(key_what + " " + key_path + " does not match certificate " + cert_path);
  }

  Result<std::vector<X509Ptr>> ca = ParseCertificates(config.ca_pem);
  if (!ca.ok()) return ParseFailure(ca_what, ca_path, ca.status());

  BLAZEN_RETURN_IF_ERROR(CheckCurrentlyValid(leaf, cert_what, cert_path));

  // Decoders probed on the way may have queued errors even though the load succeeded.
  ERR_clear_error();
  config.leaf_subject = SubjectText(leaf);
  config.leaf_not_before = FormatAsn1Time(X509_get0_notBefore(leaf));
  config.leaf_not_after = FormatAsn1Time(X509_get0_notAfter(leaf));
  return config;
}

}  // namespace

Result<ServerTlsConfig> LoadServerTls(const std::string& cert_path, const std::string& key_path,
                                      const std::string& ca_path) {
  return LoadTls<ServerTlsConfig>("server", cert_path, key_path, ca_path);
}

Result<ClientTlsConfig> LoadClientTls(const std::string& cert_path, const std::string& key_path,
                                      const std::string& ca_path) {
  return LoadTls<ClientTlsConfig>("client", cert_path, key_path, ca_path);
}

}  // namespace blazen
