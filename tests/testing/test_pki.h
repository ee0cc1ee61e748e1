// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test certificates generated at run time with the openssl command-line tool: a CA, a server
// certificate for localhost/127.0.0.1, a client certificate, and a client certificate from a
// second, unrelated CA.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace blazen::testing {

/// A directory of PEM files: ca.pem, server.pem/.key, client.pem/.key, other-ca.pem,
/// other-client.pem/.key. Removed on destruction.
class TestPki {
 public:
  TestPki() {
    const char* base = std::getenv("BLAZEN_TEST_TMPDIR");
    std::filesystem::path parent = base ? base : std::filesystem::temp_directory_path().string();
    std::filesystem::create_directories(parent);
    std::string templ = (parent / "blazen-pki-XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = templ;
    Write("server.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    for (const char* ca : {"ca", "other-ca"}) {
      Run(std::string("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ") + ca +
          ".key");
      Run(std::string("openssl req -x509 -new -key ") + ca + ".key -subj '/CN=" + ca +
          "' -days 30 -out " + ca +
          ".pem -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign");
    }
    Leaf("server", "ca", "-extfile server.ext");
    Leaf("client", "ca", "");
    Leaf("other-client", "other-ca", "");
  }
  ~TestPki() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  /// Empty when generation worked, else what failed.
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] std::string Path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  void Run(const std::string& command) {
    if (!error_.empty()) return;
    const std::string full = "cd '" + dir_.string() + "' && " + command + " >>openssl.log 2>&1";
    if (std::system(full.c_str()) != 0) {
      std::ifstream log(dir_ / "openssl.log");
      std::stringstream text;
      text << log.rdbuf();
      error_ = "failed: " + command + "\n" + text.str();
    }
  }
  void Leaf(const std::string& name, const std::string& ca, const std::string& extra) {
    Run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + name + ".key");
    Run("openssl req -new -key " + name + ".key -subj '/CN=" + name + "' -out " + name + ".csr");
    Run("openssl x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca +
        ".key -CAcreateserial -days 30 " + extra + " -out " + name + ".pem");
  }

  std::filesystem::path dir_;
  std::string error_;
};

}  // namespace blazen::testing
