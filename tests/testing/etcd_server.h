// SPDX-License-Identifier: Apache-2.0
#pragma once
// A real, private etcd for tests: /usr/bin/etcd (Debian's etcd-server, installed by
// scripts/setup.sh) on free loopback ports with a temporary data directory, started by fork/exec
// and killed (SIGTERM, then SIGKILL) and cleaned up by the destructor. Needs blazen::discovery
// (the readiness probe is an EtcdClient range).

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/pool/discovery/etcd_client.h"
#include "core/status.h"

namespace blazen::testing {

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and read back), or 0.
inline int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

/// One etcd server process. Not thread-safe (a test fixture).
class EtcdServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/etcd";

  /// Starts etcd and waits (at most 5 s) until it answers a range. kFailedPrecondition when
  /// /usr/bin/etcd is missing (the message says to run scripts/setup.sh); kUnavailable when it
  /// does not become ready (the message holds the end of its log).
  static Result<std::unique_ptr<EtcdServer>> Start() {
    if (::access(kBinary, X_OK) != 0) {
      return Status::FailedPrecondition(
          std::string(kBinary) +
          " is missing: the etcd tests need Debian's etcd-server; run scripts/setup.sh");
    }
    Status last = Status::Unavailable("etcd did not start");
    // A free port may be taken again before etcd binds it: try a few times.
    for (int attempt = 0; attempt < 3; ++attempt) {
      std::unique_ptr<EtcdServer> server(new EtcdServer());
      const char* base = std::getenv("BLAZEN_TEST_TMPDIR");
      std::filesystem::path parent = base != nullptr ? base : "/tmp";
      std::error_code ec;
      std::filesystem::create_directories(parent, ec);
      std::string pattern = (parent / "etcd-XXXXXX").string();
      if (::mkdtemp(pattern.data()) == nullptr) return Status::Internal("mkdtemp failed");
      server->dir_ = pattern;
      server->client_port_ = FreeLoopbackPort();
      server->peer_port_ = FreeLoopbackPort();
      if (server->client_port_ == 0 || server->peer_port_ == 0) {
        return Status::Internal("no free loopback port");
      }
      last = server->Spawn();
      if (last.ok()) return server;
    }
    return last;
  }

  ~EtcdServer() {
    Terminate(SIGTERM);
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  /// The client port.
  [[nodiscard]] int port() const { return client_port_; }
  /// `http://127.0.0.1:PORT`.
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  /// `etcd://127.0.0.1:PORT<prefix>`: the discovery URL of the keys under `prefix`.
  [[nodiscard]] std::string discovery_url(const std::string& prefix) const {
    return "etcd://127.0.0.1:" + std::to_string(port()) + prefix;
  }
  /// A client of this server.
  [[nodiscard]] client::pool::EtcdClient client(
      std::chrono::milliseconds timeout = std::chrono::seconds(2)) const {
    return client::pool::EtcdClient("127.0.0.1", port(), timeout);
  }

  /// Kills the process at once (SIGKILL, as a crash); the data directory stays for Restart.
  void Kill() { Terminate(SIGKILL); }

  /// Starts the process again on the same ports and data directory (after Kill).
  [[nodiscard]] Status Restart() {
    Terminate(SIGKILL);
    return Spawn();
  }

 private:
  EtcdServer() = default;

  Status Spawn() {
    const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    std::vector<std::string> args = {
        kBinary, "--name=t", "--data-dir=" + dir_ + "/data", "--listen-client-urls=" + client,
        "--advertise-client-urls=" + client, "--listen-peer-urls=" + peer,
        "--initial-advertise-peer-urls=" + peer, "--initial-cluster=t=" + peer,
        // One member: short raft timers make it ready in ~0.2 s.
        "--heartbeat-interval=50", "--election-timeout=500"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log = dir_ + "/etcd.log";
    const pid_t pid = ::fork();
    if (pid < 0) return Status::Internal("fork failed");
    if (pid == 0) {
      // Child: only async-signal-safe calls until exec.
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    client::pool::EtcdClient probe("127.0.0.1", client_port_, std::chrono::milliseconds(500));
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return Status::Unavailable("etcd exited at start; log:\n" + LogTail());
      }
      if (probe.Range("/").ok()) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    Terminate(SIGKILL);
    return Status::Unavailable("etcd not ready after 5 s; log:\n" + LogTail());
  }

  // Sends `sig` (SIGTERM: SIGKILL after 2 s) and reaps the process.
  void Terminate(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
  }

  std::string LogTail() const {
    std::ifstream in(dir_ + "/etcd.log");
    std::stringstream text;
    text << in.rdbuf();
    const std::string all = text.str();
    return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
  }

  std::string dir_;
  int client_port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace blazen::testing
