// SPDX-License-Identifier: Apache-2.0
// The raw TCP control client: one TcpRangeRequest per connection and transfer, blocking recv()
// into a chunk-sized buffer per connection.

#include "bench/controls/tcp_control_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <thread>

#include "bench/controls/control_server.h"
#include "bench/pattern.h"

namespace blazen::bench {

TcpControlClient::TcpControlClient(const std::string& host_port, std::size_t connections,
                                   std::size_t chunk) {
  const auto colon = host_port.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1))));
  if (inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    throw std::runtime_error("not an IPv4 address: " + host_port);
  }
  for (std::size_t i = 0; i < connections; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
      const std::string reason = std::strerror(errno);
      if (fd >= 0) close(fd);
      throw std::runtime_error("cannot connect to the TCP control " + host_port + ": " + reason);
    }
    fds_.push_back(fd);
    buffers_.emplace_back(chunk);
  }
}

TcpControlClient::~TcpControlClient() {
  for (int fd : fds_) close(fd);
}

void TcpControlClient::Fetch(std::uint64_t bytes, std::uint64_t chunk, bool full) {
  const std::size_t k = fds_.size();
  if (k == 1) {
    FetchRange(0, 0, bytes, chunk, full);
    return;
  }
  std::vector<std::exception_ptr> errors(k);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < k; ++i) {
    const std::uint64_t begin = bytes * i / k;
    const std::uint64_t end = bytes * (i + 1) / k;
    threads.emplace_back([this, i, begin, end, chunk, full, &errors] {
      try {
        FetchRange(i, begin, end - begin, chunk, full);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

void TcpControlClient::FetchRange(std::size_t lane, std::uint64_t offset, std::uint64_t length,
                                  std::uint64_t chunk, bool full) {
  const int fd = fds_[lane];
  const TcpRangeRequest request{offset, length, chunk};
  if (send(fd, &request, sizeof(request), MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof(request))) {
    throw std::runtime_error(std::string("TCP control send: ") + std::strerror(errno));
  }
  std::vector<std::uint8_t>& buffer = buffers_[lane];
  std::uint64_t got = 0;
  while (got < length) {
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), length - got));
    const ssize_t n = recv(fd, buffer.data(), want, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("TCP control connection closed early");
    const auto received = static_cast<std::size_t>(n);
    if (!MatchesPattern(offset + got, {buffer.data(), received}, full)) {
      throw std::runtime_error("TCP control delivered wrong bytes at " +
                               std::to_string(offset + got));
    }
    got += received;
  }
}

}  // namespace blazen::bench
