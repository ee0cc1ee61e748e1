// SPDX-License-Identifier: Apache-2.0
#pragma once
// Client of the raw TCP control server (bench/controls/control_server.h): K sockets that fetch
// ranges of the control's prefilled buffer and check the payload pattern.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace blazen::bench {

/// K connections to the TCP control server, kept open across transfers (as gRPC channels are).
/// Not copyable or movable. Thread safety: externally synchronized (Fetch runs its own threads).
class TcpControlClient {
 public:
  /// Connects `connections` sockets to the IPv4 `host_port`, each with a receive buffer of
  /// `chunk` bytes. Throws std::runtime_error when an address is not IPv4 or a connect fails.
  TcpControlClient(const std::string& host_port, std::size_t connections, std::size_t chunk);
  ~TcpControlClient();
  TcpControlClient(const TcpControlClient&) = delete;
  TcpControlClient& operator=(const TcpControlClient&) = delete;
  TcpControlClient(TcpControlClient&&) = delete;
  TcpControlClient& operator=(TcpControlClient&&) = delete;

  /// Fetches [0, bytes) as one contiguous range per connection, all at once (one thread per
  /// connection when there are several), sent by the server in send() calls of `chunk` bytes.
  /// Checks every byte when `full`, else the first and last byte of each recv(). Throws
  /// std::runtime_error on a socket error, a closed connection or wrong bytes.
  void Fetch(std::uint64_t bytes, std::uint64_t chunk, bool full);

 private:
  void FetchRange(std::size_t lane, std::uint64_t offset, std::uint64_t length, std::uint64_t chunk,
                  bool full);

  std::vector<int> fds_;
  std::vector<std::vector<std::uint8_t>> buffers_;
};

}  // namespace blazen::bench
