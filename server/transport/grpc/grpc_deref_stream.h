// SPDX-License-Identifier: Apache-2.0
#pragma once
// The write reactor of DerefSessionRefStream: streams a planned deref (PeerOperations::OpenDeref)
// as DerefChunk messages whose payload slices point at the stream's own chunk buffers, so no
// payload byte is copied into a protobuf message. Memory per stream is bounded by a small ring of
// buffers whatever the ref's size.

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "server/detail/peer_operations.h"

namespace blazen::server::grpc_transport {

/// Restarts deref streams that stalled because every chunk buffer was still on the wire: a
/// buffer comes back from a slice's destroy callback, which may run inside gRPC's transport code
/// where starting a write is not allowed, so the restart is posted here. One per service; streams
/// share it through a shared_ptr, so it lives as long as the last stream that may post to it.
/// Thread-safe.
class PumpThread {
 public:
  PumpThread();
  /// Stops the thread (joins it, or detaches when the last reference drops on the thread itself).
  ~PumpThread();
  PumpThread(const PumpThread&) = delete;
  PumpThread& operator=(const PumpThread&) = delete;

  /// Runs `task` on the pump thread.
  void Post(std::function<void()> task);

 private:
  struct Queue;
  std::shared_ptr<Queue> queue_;
  std::thread thread_;
};

struct DerefStreamOptions {
  /// Bytes per DerefChunk (already clamped by the service).
  std::uint32_t chunk_bytes = 1u << 20;
  /// Chunk buffers of one stream (chunks on the wire at once).
  std::size_t buffers = 4;
};

/// Starts streaming `plan` on a new reactor that deletes itself when the call is done. `ops`
/// counts the bytes sent. Never blocks on the network.
[[nodiscard]] grpc::ServerWriteReactor<grpc::ByteBuffer>* StartDerefStream(
    std::shared_ptr<const detail::PeerOperations> ops, detail::CallMeta call,
    detail::DerefPlan plan, DerefStreamOptions options, std::shared_ptr<PumpThread> pump);

}  // namespace blazen::server::grpc_transport
