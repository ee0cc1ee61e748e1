// SPDX-License-Identifier: Apache-2.0
#pragma once
// The control servers of the peer benchmark, run as `blazen_peer_bench control-server`: a raw
// gRPC server (service bench.Control: unary Echo, a plain protobuf Stream and a zero-copy
// StreamZeroCopy) and a raw TCP server. Both serve ranges of one prefilled buffer whose byte i is
// i % 251, the same bytes a blazen::host_blob ref holds.

#include <cstdint>
#include <string>

namespace blazen::bench {

/// Which control server to run.
enum class ControlKind { kGrpc, kTcp };

/// Settings of a control server. Plain value type.
struct ControlServerOptions {
  ControlKind kind = ControlKind::kGrpc;
  /// host:port to listen on; port 0 picks a free port.
  std::string listen = "127.0.0.1:0";
  /// Size of the prefilled buffer: requests may ask for any range inside it.
  std::uint64_t bytes = std::uint64_t{1} << 30;
};

/// Wire format of one raw TCP request: the client sends these 24 bytes (host byte order, the
/// control is local) and the server answers with exactly `length` bytes of the buffer starting
/// at `offset`, in send() calls of `chunk_bytes`. A connection may carry any number of requests,
/// one after the other.
struct TcpRangeRequest {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::uint64_t chunk_bytes = 0;
};

/// Fills the buffer, starts the server, prints `listening on HOST:PORT` on standard output and
/// serves until SIGINT or SIGTERM. Returns the process exit code. Throws std::runtime_error when
/// the server cannot start.
int RunControlServer(const ControlServerOptions& options);

}  // namespace blazen::bench
