// SPDX-License-Identifier: Apache-2.0
#pragma once
// Client of the raw gRPC control server (service bench.Control in bench/bench_control.proto): the
// unary echo, the plain protobuf server stream read with the generated stub, and the zero-copy
// server stream read as raw messages. Every transfer checks the payload pattern.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace blazen::bench {

/// One channel to the gRPC control server, kept open across calls. Movable, not copyable.
/// Thread safety: externally synchronized.
class GrpcControlClient {
 public:
  /// Opens a channel to `host_port` without message size limits and waits up to 10 s for it to
  /// connect. Throws std::runtime_error when it does not.
  explicit GrpcControlClient(const std::string& host_port);
  ~GrpcControlClient();
  GrpcControlClient(const GrpcControlClient&) = delete;
  GrpcControlClient& operator=(const GrpcControlClient&) = delete;
  GrpcControlClient(GrpcControlClient&&) noexcept;
  GrpcControlClient& operator=(GrpcControlClient&&) noexcept;

  /// Sets the request of Echo: a Blob whose bytes field holds `payload_bytes` bytes.
  void SetEchoPayload(std::size_t payload_bytes);

  /// One unary Echo call with the request set by SetEchoPayload. Throws std::runtime_error when
  /// the call fails or the reply is not as long as the request.
  void Echo();

  /// Streams [0, bytes) in messages of `chunk` bytes with the generated stub (each Blob parsed
  /// into a std::string) and checks them (every byte when `full`, else the first and last of
  /// each message). Throws std::runtime_error on a failed call, wrong bytes or a short stream.
  void PlainStream(std::uint64_t bytes, std::uint32_t chunk, bool full);

  /// Like PlainStream, but reads raw grpc::ByteBuffer messages with the same sync reader the
  /// peer's client uses for its deref, and checks them in place without a protobuf parse.
  void ZeroCopyStream(std::uint64_t bytes, std::uint32_t chunk, bool full);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace blazen::bench
