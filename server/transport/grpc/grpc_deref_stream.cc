// SPDX-License-Identifier: Apache-2.0
// DerefSessionRefStream's reactor: a ring of chunk buffers lent to gRPC as slices.

#include "server/transport/grpc/grpc_deref_stream.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <new>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "proto/grpc_status.h"
#include "proto/wire_codec.h"

namespace blazen::server::grpc_transport {

// --- PumpThread ----------------------------------------------------------------------------------

struct PumpThread::Queue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> tasks;
  bool stop = false;
};

PumpThread::PumpThread() : queue_(std::make_shared<Queue>()) {
  thread_ = std::thread([queue = queue_] {
    std::unique_lock lock(queue->mu);
    for (;;) {
      queue->cv.wait(lock, [&] { return queue->stop || !queue->tasks.empty(); });
      if (queue->tasks.empty()) return;  // stopped and drained
      std::function<void()> task = std::move(queue->tasks.front());
      queue->tasks.pop_front();
      lock.unlock();
      task();
      task = nullptr;  // may drop the last reference to this PumpThread (see the destructor)
      lock.lock();
    }
  });
}

PumpThread::~PumpThread() {
  {
    std::lock_guard lock(queue_->mu);
    queue_->stop = true;
  }
  queue_->cv.notify_all();
  // The last reference may be dropped by a task running on the pump thread itself.
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

void PumpThread::Post(std::function<void()> task) {
  {
    std::lock_guard lock(queue_->mu);
    queue_->tasks.push_back(std::move(task));
  }
  queue_->cv.notify_one();
}

namespace {

// --- DerefStream ---------------------------------------------------------------------------------

// One streaming deref. Chunk buffers form a small ring: a buffer goes back to the ring only when
// gRPC destroys the slice that wraps it (OnWriteDone does not mean gRPC is done with the memory),
// so at most `buffers` chunks of memory exist per stream whatever the ref's size. The state is
// shared with in-flight slices and outlives the reactor until the last slice is gone; the lease
// (and so the value) lives exactly as long.
class DerefStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  struct State;

  DerefStream(std::shared_ptr<const detail::PeerOperations> ops, detail::CallMeta call,
              detail::DerefPlan plan, DerefStreamOptions options, std::shared_ptr<PumpThread> pump);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  [[nodiscard]] const std::shared_ptr<State>& state() const { return state_; }

 private:
  std::shared_ptr<State> state_;
};

struct DerefStream::State : std::enable_shared_from_this<State> {
  std::mutex mu;
  DerefStream* reactor = nullptr;  // null after OnDone
  std::shared_ptr<const detail::PeerOperations> ops;
  detail::CallMeta call;
  detail::DerefPlan plan;
  std::shared_ptr<PumpThread> pump;
  std::string constant_fields;  // encoded total_size + type_tag (same for every chunk)
  std::uint64_t next = 0;
  std::uint32_t chunk = 0;
  std::size_t max_buffers = 0;
  std::size_t allocated = 0;
  std::vector<std::unique_ptr<std::uint8_t[]>> free_buffers;
  grpc::ByteBuffer current;
  bool sent_any = false;
  bool writing = false;
  bool finished = false;
  bool cancelled = false;

  struct SliceHold {
    std::shared_ptr<State> state;
    std::unique_ptr<std::uint8_t[]> buffer;
  };

  // Slice destroy callback: runs on whatever gRPC thread drops the last reference, possibly inside
  // gRPC's transport code, so it only recycles the buffer; restarting a stalled stream happens on
  // the pump thread, never from here.
  static void ReturnBuffer(void* user_data) {
    std::unique_ptr<SliceHold> hold(static_cast<SliceHold*>(user_data));
    std::shared_ptr<State> state = std::move(hold->state);
    bool stalled = false;
    {
      std::lock_guard lock(state->mu);
      state->free_buffers.push_back(std::move(hold->buffer));
      stalled = state->reactor != nullptr && !state->writing && !state->finished;
    }
    if (stalled) {
      state->pump->Post([state] {
        std::lock_guard lock(state->mu);
        state->PumpLocked();
      });
    }
  }

  void FinishLocked(const grpc::Status& status) {
    if (finished || reactor == nullptr) return;
    finished = true;
    reactor->Finish(status);
  }

  std::unique_ptr<std::uint8_t[]> TakeBufferLocked(bool& failed) {
    std::unique_ptr<std::uint8_t[]> buffer;
    if (!free_buffers.empty()) {
      buffer = std::move(free_buffers.back());
      free_buffers.pop_back();
    } else if (allocated < max_buffers) {
      buffer.reset(new (std::nothrow) std::uint8_t[chunk]);
      if (!buffer) {
        failed = true;
      } else {
        ++allocated;
      }
    }
    return buffer;
  }

  void PumpLocked() {
    if (reactor == nullptr || finished || writing) return;
    if (cancelled) return FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    if (next >= plan.range.end && sent_any) return FinishLocked(grpc::Status::OK);

    bool failed = false;
    std::unique_ptr<std::uint8_t[]> buffer = TakeBufferLocked(failed);
    if (failed) {
      return FinishLocked(grpc_util::ToGrpcStatus(
          Status::ResourceExhausted("cannot allocate a deref staging buffer")));
    }
    if (!buffer) return;  // every buffer is on the wire; ReturnBuffer pumps again
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, plan.range.end - next));
    Status read = plan.lease.value().Read(next, std::span<std::uint8_t>(buffer.get(), n));
    if (!read.ok()) {
      return FinishLocked(
          grpc_util::ToGrpcStatus(detail::PeerOperations::SerializationFailed(plan.key, read)));
    }
    auto* hold = new SliceHold{shared_from_this(), std::move(buffer)};
    grpc::Slice slices[2] = {
        grpc::Slice(proto_wire::EncodeDerefChunkHeader(next, constant_fields, n)),
        grpc::Slice(hold->buffer.get(), n, &State::ReturnBuffer, hold)};
    current = grpc::ByteBuffer(slices, 2);
    ops->AddDerefBytes(call, n);
    next += n;
    sent_any = true;
    writing = true;
    reactor->StartWrite(&current);
  }
};

DerefStream::DerefStream(std::shared_ptr<const detail::PeerOperations> ops, detail::CallMeta call,
                         detail::DerefPlan plan, DerefStreamOptions options,
                         std::shared_ptr<PumpThread> pump)
    : state_(std::make_shared<State>()) {
  State& s = *state_;
  s.reactor = this;
  s.constant_fields = proto_wire::EncodeDerefChunkConstantFields(plan.total, plan.type_tag);
  s.next = plan.range.begin;
  s.ops = std::move(ops);
  s.call = std::move(call);
  s.plan = std::move(plan);
  s.pump = std::move(pump);
  s.chunk = options.chunk_bytes;
  s.max_buffers = std::max<std::size_t>(1, options.buffers);
}

void DerefStream::OnWriteDone(bool ok) {
  // The written message is dropped outside the lock: dropping it may run ReturnBuffer.
  grpc::ByteBuffer written;
  std::lock_guard lock(state_->mu);
  written.Swap(&state_->current);
  state_->writing = false;
  if (!ok) {
    state_->cancelled = true;
    return state_->FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
  }
  state_->PumpLocked();
}

void DerefStream::OnCancel() {
  std::lock_guard lock(state_->mu);
  state_->cancelled = true;
  if (!state_->writing) state_->PumpLocked();
}

void DerefStream::OnDone() {
  grpc::ByteBuffer unsent;  // breaks the state -> message -> slice -> state cycle
  {
    std::lock_guard lock(state_->mu);
    unsent.Swap(&state_->current);
    state_->reactor = nullptr;
    state_->free_buffers.clear();  // buffers still on the wire are freed by their slices
  }
  delete this;
}

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* StartDerefStream(
    std::shared_ptr<const detail::PeerOperations> ops, detail::CallMeta call,
    detail::DerefPlan plan, DerefStreamOptions options, std::shared_ptr<PumpThread> pump) {
  auto* stream =
      new DerefStream(std::move(ops), std::move(call), std::move(plan), options, std::move(pump));
  // A copy: finishing at once may run OnDone, which deletes the reactor.
  std::shared_ptr<DerefStream::State> state = stream->state();
  std::lock_guard lock(state->mu);
  state->PumpLocked();
  return stream;
}

}  // namespace blazen::server::grpc_transport
