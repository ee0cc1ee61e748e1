// SPDX-License-Identifier: Apache-2.0
// Tests for LoadServerTls / LoadClientTls. The certificates are generated at run time with the
// openssl command-line tool into a fresh temporary directory: a CA, a server identity (EC key with
// an EC PARAMETERS block), a client identity (RSA PKCS#8 key), an unrelated key, encrypted keys,
// and leaves that are expired or not yet valid (signed with `openssl ca` and explicit dates).

#include "core/tls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/peer_error.h"
#include "core/status.h"
#include "tests/testing/status_matchers.h"

namespace blazen {
namespace {

namespace fs = std::filesystem;

using ::testing::AllOf;
using ::testing::ContainsRegex;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

/// Matches a Status or Result that failed with kInvalidArgument, ErrorKind::kTls attached and a
/// message matching `message_matcher`.
MATCHER_P(IsTlsError, message_matcher, "is INVALID_ARGUMENT with kind tls and a matching message") {
  const Status& s = ::blazen::testing::GetStatus(arg);
  *result_listener << "whose status is " << s.ToString() << " (kind " << ErrorKindName(s.kind())
                   << ") ";
  return s.code() == StatusCode::kInvalidArgument && s.kind() == ErrorKind::kTls &&
         ::testing::ExplainMatchResult(message_matcher, s.message(), result_listener);
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Single-quotes `text` for /bin/sh.
std::string ShellQuote(std::string_view text) {
  std::string quoted = "'";
  for (const char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

// A base64 body that decodes fine but is not DER.
constexpr std::string_view kNotDerCertificate =
    "-----BEGIN CERTIFICATE-----\n"
    "SGVsbG8sIHRoaXMgaXMgbm90IGEgY2VydGlmaWNhdGUu\n"
    "-----END CERTIFICATE-----\n";

// A certificate block whose body is not base64.
constexpr std::string_view kBadBase64Certificate =
    "-----BEGIN CERTIFICATE-----\n"
    "!!!! not base64 at all !!!!\n"
    "-----END CERTIFICATE-----\n";

constexpr std::string_view kGarbage = "this is not a PEM file\njust some text\n";

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
      skip_reason_ = "the openssl command-line tool is not installed";
      return;
    }
    fs::path parent = fs::temp_directory_path();
    if (const char* env = std::getenv("BLAZEN_TEST_TMPDIR"); env != nullptr && *env != '\0') {
      parent = env;
    }
    std::error_code ec;
    fs::create_directories(parent, ec);
    std::string templ = (parent / "blazen-tls-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) {
      setup_error_ = "mkdtemp failed under " + parent.string();
      return;
    }
    dir_ = templ;
    GenerateMaterial();
  }

  static void TearDownTestSuite() {
    if (dir_.empty()) return;
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
  }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }

  static std::string Path(std::string_view name) { return (dir_ / name).string(); }

  static std::string Write(std::string_view name, std::string_view contents) {
    std::ofstream out(dir_ / name, std::ios::binary | std::ios::trunc);
    out << contents;
    return Path(name);
  }

  static std::string Contents(std::string_view name) { return ReadAll(dir_ / name); }

  static inline fs::path dir_;

 private:
  // Runs `command` in dir_; records the first failure (with the tool's output) in setup_error_.
  static void Run(const std::string& command) {
    if (!setup_error_.empty()) return;
    const std::string full =
        "cd " + ShellQuote(dir_.string()) + " && " + command + " >openssl.log 2>&1";
    if (std::system(full.c_str()) != 0) {
      setup_error_ = "command failed: " + command + "\n" + ReadAll(dir_ / "openssl.log");
    }
  }

  static void GenerateMaterial() {
    constexpr std::string_view kCaConfig =
        "[ ca ]\n"
        "default_ca = test_ca\n"
        "[ test_ca ]\n"
        "database = index.txt\n"
        "new_certs_dir = newcerts\n"
        "serial = serial\n"
        "default_md = sha256\n"
        "policy = policy_any\n"
        "unique_subject = no\n"
        "[ policy_any ]\n"
        "commonName = supplied\n";
    Write("ca.cnf", kCaConfig);
    Write("index.txt", "");
    Write("serial", "1000\n");
    fs::create_directories(dir_ / "newcerts");
    Write("server.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");

    // CA (EC P-256, self-signed).
    Run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key");
    Run("openssl req -x509 -new -key ca.key -subj '/CN=Blazen Test CA' -days 30 -out ca.pem "
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
    // Server: traditional EC key preceded by an EC PARAMETERS block.
    Run("openssl ecparam -name prime256v1 -genkey -out server.key");
    Run("openssl req -new -key server.key -subj '/CN=server/O=blazen test' -out server.csr");
    Run("openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 "
        "-extfile server.ext -out server.pem");
    // Client: RSA 2048 in PKCS#8.
    Run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out client.key");
    Run("openssl req -new -key client.key -subj '/CN=client' -out client.csr");
    Run("openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 "
        "-out client.pem");
    // A key unrelated to every certificate.
    Run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key");
    // Encrypted keys: PKCS#8 (ENCRYPTED PRIVATE KEY) and traditional (Proc-Type header).
    Run("openssl pkey -in server.key -aes256 -passout pass:secret -out encrypted_pkcs8.key");
    Run("openssl ec -in server.key -aes128 -passout pass:secret -out encrypted_legacy.key");
    // Leaves with fixed validity windows in the past and in the future.
    Run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out dated.key");
    Run("openssl req -new -key dated.key -subj '/CN=dated' -out dated.csr");
    Run("openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in dated.csr -notext "
        "-startdate 20200101000000Z -enddate 20200102000000Z -out expired.pem");
    Run("openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in dated.csr -notext "
        "-startdate 20990101000000Z -enddate 20991231000000Z -out future.pem");
    if (!setup_error_.empty()) return;
    Write("chain.pem", Contents("server.pem") + Contents("ca.pem"));
    Write("garbage.pem", kGarbage);
    Write("empty.pem", "");
  }

  static inline std::string setup_error_;
  static inline std::string skip_reason_;
};

// --- Valid sets ------------------------------------------------------------------------------

TEST_F(TlsTest, LoadsValidServerSetWithEcKey) {
  const std::string cert = Path("server.pem");
  const std::string key = Path("server.key");
  const std::string ca = Path("ca.pem");
  ERR_raise(ERR_LIB_USER, 1);  // a stale error from earlier work on this thread
  BLAZEN_ASSERT_OK_AND_ASSIGN(ServerTlsConfig config, LoadServerTls(cert, key, ca));
  EXPECT_EQ(ERR_peek_error(), 0UL) << "OpenSSL errors left queued after a successful load";
  EXPECT_EQ(config.cert_chain_pem, Contents("server.pem"));
  EXPECT_EQ(config.private_key_pem, Contents("server.key"));
  EXPECT_EQ(config.ca_pem, Contents("ca.pem"));
  EXPECT_EQ(config.cert_path, cert);
  EXPECT_EQ(config.key_path, key);
  EXPECT_EQ(config.ca_path, ca);
  EXPECT_EQ(config.leaf_subject, "O=blazen test,CN=server");
  EXPECT_THAT(config.leaf_not_before, MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"));
  EXPECT_THAT(config.leaf_not_after, MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"));
  EXPECT_LT(config.leaf_not_before, config.leaf_not_after);
}

TEST_F(TlsTest, LoadsValidClientSetWithRsaKey) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      ClientTlsConfig config,
      LoadClientTls(Path("client.pem"), Path("client.key"), Path("ca.pem")));
  EXPECT_EQ(config.cert_chain_pem, Contents("client.pem"));
  EXPECT_EQ(config.private_key_pem, Contents("client.key"));
  EXPECT_EQ(config.ca_pem, Contents("ca.pem"));
  EXPECT_EQ(config.leaf_subject, "CN=client");
}

TEST_F(TlsTest, AcceptsChainFileWithLeafThenCa) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(ServerTlsConfig config,
                              LoadServerTls(Path("chain.pem"), Path("server.key"), Path("ca.pem")));
  EXPECT_EQ(config.cert_chain_pem, Contents("chain.pem"));
  // The key is matched against the first certificate, the leaf.
  EXPECT_EQ(config.leaf_subject, "O=blazen test,CN=server");
}

TEST_F(TlsTest, AcceptsCaBundleWithSeveralCertificates) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      ClientTlsConfig config,
      LoadClientTls(Path("client.pem"), Path("client.key"), Path("chain.pem")));
  EXPECT_EQ(config.ca_pem, Contents("chain.pem"));
}

TEST_F(TlsTest, SkipsNonCertificateBlocksInCertFile) {
  const std::string cert =
      Write("key_then_cert.pem", Contents("other.key") + Contents("server.pem"));
  BLAZEN_ASSERT_OK_AND_ASSIGN(ServerTlsConfig config,
                              LoadServerTls(cert, Path("server.key"), Path("ca.pem")));
  EXPECT_EQ(config.leaf_subject, "O=blazen test,CN=server");
}

// --- Read failures ---------------------------------------------------------------------------

TEST_F(TlsTest, MissingServerCertNamesPathAndReason) {
  const std::string missing = Path("no-such-cert.pem");
  EXPECT_THAT(LoadServerTls(missing, Path("server.key"), Path("ca.pem")),
              IsTlsError(Eq("failed to read server cert " + missing +
                            ": No such file or directory (os error 2)")));
}

TEST_F(TlsTest, MissingServerKeyNamesPathAndReason) {
  const std::string missing = Path("no-such-key.pem");
  EXPECT_THAT(LoadServerTls(Path("server.pem"), missing, Path("ca.pem")),
              IsTlsError(Eq("failed to read server key " + missing +
                            ": No such file or directory (os error 2)")));
}

TEST_F(TlsTest, MissingCaNamesPathAndReason) {
  const std::string missing = Path("no-such-ca.pem");
  EXPECT_THAT(LoadServerTls(Path("server.pem"), Path("server.key"), missing),
              IsTlsError(Eq("failed to read CA cert " + missing +
                            ": No such file or directory (os error 2)")));
  EXPECT_THAT(LoadClientTls(Path("client.pem"), Path("client.key"), missing),
              IsTlsError(Eq("failed to read CA cert " + missing +
                            ": No such file or directory (os error 2)")));
}

TEST_F(TlsTest, MissingClientFilesUseClientWording) {
  const std::string missing = Path("missing.pem");
  EXPECT_THAT(LoadClientTls(missing, Path("client.key"), Path("ca.pem")),
              IsTlsError(StartsWith("failed to read client cert " + missing + ": ")));
  EXPECT_THAT(LoadClientTls(Path("client.pem"), missing, Path("ca.pem")),
              IsTlsError(StartsWith("failed to read client key " + missing + ": ")));
}

TEST_F(TlsTest, ReadOrderIsCertThenKeyThenCa) {
  const std::string cert = Path("missing-cert.pem");
  const std::string key = Path("missing-key.pem");
  const std::string ca = Path("missing-ca.pem");
  EXPECT_THAT(LoadServerTls(cert, key, ca),
              IsTlsError(StartsWith("failed to read server cert " + cert + ": ")));
  EXPECT_THAT(LoadServerTls(Path("server.pem"), key, ca),
              IsTlsError(StartsWith("failed to read server key " + key + ": ")));
}

TEST_F(TlsTest, AllFilesAreReadBeforeAnyIsParsed) {
  const std::string missing_ca = Path("missing-ca.pem");
  EXPECT_THAT(LoadServerTls(Path("garbage.pem"), Path("garbage.pem"), missing_ca),
              IsTlsError(StartsWith("failed to read CA cert " + missing_ca + ": ")));
}

TEST_F(TlsTest, DirectoryInsteadOfFileIsReadError) {
  const std::string dir = Path("newcerts");
  EXPECT_THAT(
      LoadServerTls(dir, Path("server.key"), Path("ca.pem")),
      IsTlsError(Eq("failed to read server cert " + dir + ": Is a directory (os error 21)")));
}

// --- Certificate file ------------------------------------------------------------------------

TEST_F(TlsTest, GarbageServerCertRejected) {
  const std::string cert = Path("garbage.pem");
  EXPECT_THAT(LoadServerTls(cert, Path("server.key"), Path("ca.pem")),
              IsTlsError(Eq("failed to parse server cert " + cert + ": no PEM certificate found")));
}

TEST_F(TlsTest, EmptyCertFileRejected) {
  const std::string cert = Path("empty.pem");
  EXPECT_THAT(LoadClientTls(cert, Path("client.key"), Path("ca.pem")),
              IsTlsError(Eq("failed to parse client cert " + cert + ": no PEM certificate found")));
}

TEST_F(TlsTest, CertFileHoldingOnlyAKeyRejected) {
  const std::string cert = Path("server.key");
  EXPECT_THAT(LoadServerTls(cert, Path("server.key"), Path("ca.pem")),
              IsTlsError(Eq("failed to parse server cert " + cert + ": no PEM certificate found")));
}

TEST_F(TlsTest, CertificateBlockThatIsNotDerRejected) {
  const std::string cert = Write("not_der.pem", kNotDerCertificate);
  EXPECT_THAT(LoadServerTls(cert, Path("server.key"), Path("ca.pem")),
              IsTlsError(StartsWith("failed to parse server cert " + cert + ": certificate 1 ")));
}

TEST_F(TlsTest, CertificateBlockThatIsNotBase64Rejected) {
  const std::string cert = Write("bad_base64.pem", kBadBase64Certificate);
  EXPECT_THAT(LoadServerTls(cert, Path("server.key"), Path("ca.pem")),
              IsTlsError(StartsWith("failed to parse server cert " + cert + ": PEM block 1: ")));
}

TEST_F(TlsTest, CorruptSecondCertificateInChainRejected) {
  const std::string cert =
      Write("chain_bad_tail.pem", Contents("server.pem") + std::string(kNotDerCertificate));
  EXPECT_THAT(LoadServerTls(cert, Path("server.key"), Path("ca.pem")),
              IsTlsError(StartsWith("failed to parse server cert " + cert +
                                    ": certificate 2 (PEM block 2): ")));
}

TEST_F(TlsTest, TruncatedCertificateRejected) {
  const std::string full = Contents("server.pem");
  const std::string cert = Write("truncated.pem", full.substr(0, full.size() / 2));
  EXPECT_THAT(LoadServerTls(cert, Path("server.key"), Path("ca.pem")),
              IsTlsError(StartsWith("failed to parse server cert " + cert + ": ")));
}

// --- Key file --------------------------------------------------------------------------------

TEST_F(TlsTest, GarbageServerKeyRejected) {
  const std::string key = Path("garbage.pem");
  EXPECT_THAT(LoadServerTls(Path("server.pem"), key, Path("ca.pem")),
              IsTlsError(Eq("failed to parse server key " + key + ": no PEM private key found")));
}

TEST_F(TlsTest, KeyFileHoldingACertificateRejected) {
  const std::string key = Path("server.pem");
  EXPECT_THAT(LoadServerTls(Path("server.pem"), key, Path("ca.pem")),
              IsTlsError(Eq("failed to parse server key " + key + ": no PEM private key found")));
}

TEST_F(TlsTest, EmptyClientKeyRejected) {
  const std::string key = Path("empty.pem");
  EXPECT_THAT(LoadClientTls(Path("client.pem"), key, Path("ca.pem")),
              IsTlsError(Eq("failed to parse client key " + key + ": no PEM private key found")));
}

TEST_F(TlsTest, CorruptKeyBlockRejected) {
  std::string pem = Contents("other.key");
  const std::string_view begin = "-----BEGIN PRIVATE KEY-----\n";
  ASSERT_EQ(pem.rfind(begin, 0), 0U) << pem;
  pem.replace(begin.size(), 8, "AAAAAAAA");  // breaks the outer DER SEQUENCE
  const std::string key = Write("corrupt.key", pem);
  EXPECT_THAT(LoadServerTls(Path("server.pem"), key, Path("ca.pem")),
              IsTlsError(StartsWith("failed to parse server key " + key +
                                    ": malformed private key: error:")));
}

TEST_F(TlsTest, EncryptedPkcs8KeyRejectedWithoutPrompting) {
  const std::string key = Path("encrypted_pkcs8.key");
  EXPECT_THAT(LoadServerTls(Path("server.pem"), key, Path("ca.pem")),
              IsTlsError(AllOf(StartsWith("failed to parse server key " + key + ": "),
                               HasSubstr("encrypted private keys are not supported"))));
}

TEST_F(TlsTest, EncryptedTraditionalKeyRejectedWithoutPrompting) {
  const std::string key = Path("encrypted_legacy.key");
  EXPECT_THAT(LoadServerTls(Path("server.pem"), key, Path("ca.pem")),
              IsTlsError(AllOf(StartsWith("failed to parse server key " + key + ": "),
                               HasSubstr("encrypted private keys are not supported"))));
}

TEST_F(TlsTest, KeyNotMatchingCertificateRejected) {
  const std::string cert = Path("server.pem");
  const std::string key = Path("other.key");
  EXPECT_THAT(LoadServerTls(cert, key, Path("ca.pem")),
              IsTlsError(Eq("server key " + key + " does not match certificate " + cert)));
}

TEST_F(TlsTest, KeyOfOtherTypeThanCertificateRejected) {
  const std::string cert = Path("server.pem");
  const std::string key = Path("client.key");  // RSA key, EC certificate
  EXPECT_THAT(LoadServerTls(cert, key, Path("ca.pem")),
              IsTlsError(Eq("server key " + key + " does not match certificate " + cert)));
}

TEST_F(TlsTest, ClientKeyMismatchUsesClientWording) {
  const std::string cert = Path("client.pem");
  const std::string key = Path("server.key");
  EXPECT_THAT(LoadClientTls(cert, key, Path("ca.pem")),
              IsTlsError(Eq("client key " + key + " does not match certificate " + cert)));
}

TEST_F(TlsTest, KeyMismatchReportedBeforeBadCa) {
  const std::string key = Path("other.key");
  EXPECT_THAT(LoadServerTls(Path("server.pem"), key, Path("garbage.pem")),
              IsTlsError(StartsWith("server key " + key + " does not match")));
}

// --- CA file ---------------------------------------------------------------------------------

TEST_F(TlsTest, GarbageCaRejected) {
  const std::string ca = Path("garbage.pem");
  EXPECT_THAT(LoadServerTls(Path("server.pem"), Path("server.key"), ca),
              IsTlsError(Eq("failed to parse CA cert " + ca + ": no PEM certificate found")));
}

TEST_F(TlsTest, CaFileHoldingAPrivateKeyRejected) {
  const std::string ca = Path("ca.key");
  EXPECT_THAT(LoadClientTls(Path("client.pem"), Path("client.key"), ca),
              IsTlsError(Eq("failed to parse CA cert " + ca + ": no PEM certificate found")));
}

TEST_F(TlsTest, CorruptCaCertificateRejected) {
  const std::string ca =
      Write("ca_bad_tail.pem", Contents("ca.pem") + std::string(kNotDerCertificate));
  EXPECT_THAT(LoadServerTls(Path("server.pem"), Path("server.key"), ca),
              IsTlsError(StartsWith("failed to parse CA cert " + ca + ": certificate 2 ")));
}

// --- Validity period -------------------------------------------------------------------------

TEST_F(TlsTest, ExpiredLeafRejected) {
  const std::string cert = Path("expired.pem");
  EXPECT_THAT(LoadServerTls(cert, Path("dated.key"), Path("ca.pem")),
              IsTlsError(Eq("server cert " + cert + " expired at 2020-01-02T00:00:00Z")));
  EXPECT_THAT(LoadClientTls(cert, Path("dated.key"), Path("ca.pem")),
              IsTlsError(Eq("client cert " + cert + " expired at 2020-01-02T00:00:00Z")));
}

TEST_F(TlsTest, NotYetValidLeafRejected) {
  const std::string cert = Path("future.pem");
  EXPECT_THAT(LoadServerTls(cert, Path("dated.key"), Path("ca.pem")),
              IsTlsError(Eq("server cert " + cert + " is not valid before 2099-01-01T00:00:00Z")));
}

TEST_F(TlsTest, ExpiredCertificateBehindValidLeafIsAccepted) {
  // Only the leaf's validity is checked; the rest of the chain is the peer's to verify.
  const std::string cert =
      Write("leaf_then_expired.pem", Contents("server.pem") + Contents("expired.pem"));
  EXPECT_THAT(LoadServerTls(cert, Path("server.key"), Path("ca.pem")), testing::IsOk());
}

// --- Error plumbing --------------------------------------------------------------------------

TEST_F(TlsTest, FailureLeavesOpenSslErrorQueueEmpty) {
  ERR_clear_error();
  const std::vector<std::vector<std::string>> failing = {
      {Path("not_der.pem"), Path("server.key"), Path("ca.pem")},
      {Path("server.pem"), Path("garbage.pem"), Path("ca.pem")},
      {Path("server.pem"), Path("encrypted_pkcs8.key"), Path("ca.pem")},
      {Path("server.pem"), Path("other.key"), Path("ca.pem")},
      {Path("server.pem"), Path("server.key"), Path("garbage.pem")},
      {Path("expired.pem"), Path("dated.key"), Path("ca.pem")},
  };
  Write("not_der.pem", kNotDerCertificate);
  for (const auto& files : failing) {
    EXPECT_THAT(LoadServerTls(files[0], files[1], files[2]), IsTlsError(HasSubstr(dir_.string())));
    EXPECT_EQ(ERR_peek_error(), 0UL) << "OpenSSL errors left queued after loading " << files[0]
                                     << ", " << files[1] << ", " << files[2];
  }
}

TEST_F(TlsTest, FailureBecomesTlsErrorAtThePublicEdge) {
  const std::string missing = Path("missing.pem");
  try {
    (void)ValueOrThrow(LoadServerTls(missing, Path("server.key"), Path("ca.pem")));
    FAIL() << "expected a TlsError";
  } catch (const TlsError& e) {
    EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(e.message(), HasSubstr(missing));
  }
}

TEST_F(TlsTest, OversizedFileIsReadError) {
  const std::string big = Write("big.pem", std::string(8 * 1024 * 1024 + 1, 'A'));
  EXPECT_THAT(LoadServerTls(big, Path("server.key"), Path("ca.pem")),
              IsTlsError(AllOf(StartsWith("failed to read server cert " + big + ": "),
                               ContainsRegex("os error 27"))));
}

}  // namespace
}  // namespace blazen
