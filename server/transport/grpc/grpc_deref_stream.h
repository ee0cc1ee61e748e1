// SPDX-License-Identifier: Apache-2.0
#pragma once
// The write reactor of DerefSessionRefStream: streams a planned deref (PeerOperations::OpenDeref)
// as DerefChunk messages whose payload slices are the chunks the value lends (RefLease::Lend: host
// memory as is, device bytes in a pinned staging buffer), so no payload byte is copied on the way
// out. Memory per stream is bounded by a small number of chunks whatever the ref's size, and
// nothing that may block runs on a gRPC thread.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "core/thread_pool.h"
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
  /// Bytes per DerefChunk at most (already clamped by the service; a value may lend fewer).
  std::uint32_t chunk_bytes = 1u << 20;
  /// Chunks of one stream that may exist at once (lent ahead, on the wire, or held by gRPC); at
  /// most 2 for values whose lends block (they hold the node's shared staging buffers).
  std::size_t buffers = 4;
};

/// What a stream needs of its service and call.
struct DerefStreamContext {
  /// Counts the bytes sent.
  std::shared_ptr<const detail::PeerOperations> ops;
  detail::CallMeta call;
  /// Restarts stalled streams (see PumpThread).
  std::shared_ptr<PumpThread> pump;
  /// Runs the lends that may block (device values); owned by the service, which outlives every
  /// stream's reactor.
  ThreadPool* executor = nullptr;
  /// The call's deadline: a lend waiting for a staging buffer gives up then.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

/// Starts streaming `plan` on a new reactor that deletes itself when the call is done. Never
/// blocks: lends that may block run on `context.executor`.
[[nodiscard]] grpc::ServerWriteReactor<grpc::ByteBuffer>* StartDerefStream(
    DerefStreamContext context, detail::DerefPlan plan, DerefStreamOptions options);

/// True on a deref executor thread while it lends a chunk (tests check where lends ran).
[[nodiscard]] bool OnDerefExecutorThread();

}  // namespace blazen::server::grpc_transport
