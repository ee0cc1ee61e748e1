// SPDX-License-Identifier: Apache-2.0
#pragma once
// ServerTransport: what PeerNode needs of every transport it serves (gRPC, HTTP/JSON, any later
// one), so that the node composes N of them uniformly. A transport is created already serving by
// its own factory (StartGrpcTransport, HttpService::Start, ...) over the node's PeerOperations;
// after that the node only asks for its address and stops it.

#include <chrono>
#include <string>
#include <string_view>

namespace blazen::server {

/// One listening transport of a node. Thread-safe.
class ServerTransport {
 public:
  virtual ~ServerTransport() = default;

  /// "grpc" or "http": metrics label and log name.
  [[nodiscard]] virtual std::string_view name() const = 0;
  /// The bound port.
  [[nodiscard]] virtual int port() const = 0;
  /// `http://host:port` or `https://host:port`, as a client would dial it.
  [[nodiscard]] virtual std::string endpoint() const = 0;

  /// Starts draining: health checks report not serving; calls keep being served. Quick, idempotent.
  virtual void BeginShutdown() = 0;
  /// Stops accepting calls and lets in-flight ones finish until `deadline`, then cancels what is
  /// left (where the transport can). Blocks until then. Idempotent; safe from any thread.
  virtual void Shutdown(std::chrono::system_clock::time_point deadline) = 0;
  /// Blocks until every call of the transport has ended (after Shutdown).
  virtual void Wait() = 0;
};

}  // namespace blazen::server
