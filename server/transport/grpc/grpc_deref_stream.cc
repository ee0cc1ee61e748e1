// SPDX-License-Identifier: Apache-2.0
// DerefSessionRefStream's reactor: a ring of chunk buffers lent to gRPC as slices.

#include "server/transport/grpc/grpc_deref_stream.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
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

thread_local bool on_deref_executor = false;

// One streaming deref. Each DerefChunk carries a chunk the value lent (RefLease::Lend): a view of
// host memory, or a pinned staging buffer holding device bytes. The chunk itself is the gRPC
// slice, so payload bytes are never copied on the way out; the slice's destroy callback drops it
// (OnWriteDone does not mean gRPC is done with the memory). At most `buffers` chunks exist per
// stream at once (lent ahead, on the wire, or held by gRPC), so memory is bounded whatever the
// ref's size. Values whose Lend may block (device copies, staging waits) lend on the deref
// executor, never on a gRPC thread, and the next chunk is lent while the previous one is written.
// The state is shared with in-flight slices and lend tasks and outlives the reactor until the
// last of them is gone; the lease (and so the value) lives exactly as long.
class DerefStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  struct State;

  DerefStream(DerefStreamContext context, detail::DerefPlan plan, DerefStreamOptions options);

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
  DerefStreamContext context;
  detail::DerefPlan plan;
  bool may_block = false;
  std::string constant_fields;  // encoded total_size + type_tag (same for every chunk)
  std::uint64_t next_lend = 0;  // offset of the next chunk to lend
  std::uint32_t chunk = 0;
  std::size_t max_chunks = 0;
  std::size_t chunks = 0;  // lent and not yet dropped: ready, being lent, or held by gRPC
  std::optional<LentChunk> ready;
  std::uint64_t ready_offset = 0;
  std::optional<Status> failed;  // reported once no write is in flight
  grpc::ByteBuffer current;
  std::atomic<bool> cancelled{false};
  bool lending = false;
  bool sent_any = false;
  bool writing = false;
  bool finished = false;

  struct SliceHold {
    std::shared_ptr<State> state;
    LentChunk chunk;
  };

  // Slice destroy callback: runs on whatever gRPC thread drops the last reference, possibly inside
  // gRPC's transport code, so it only drops the chunk; restarting a stalled stream happens on the
  // pump thread, never from here.
  static void ReturnChunk(void* user_data) {
    std::unique_ptr<SliceHold> hold(static_cast<SliceHold*>(user_data));
    std::shared_ptr<State> state = std::move(hold->state);
    hold.reset();  // the chunk goes back (staging buffer to its pool) before anything else
    bool stalled = false;
    {
      std::lock_guard lock(state->mu);
      --state->chunks;
      stalled = state->reactor != nullptr && !state->writing && !state->finished &&
                !state->lending && !state->ready;
    }
    if (stalled) {
      state->context.pump->Post([state] {
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

  LendOptions LendOptionsOf() {
    LendOptions options;
    options.deadline = context.deadline;
    options.cancelled = [self = weak_from_this()] {
      auto state = self.lock();
      return state == nullptr || state->cancelled.load();
    };
    return options;
  }

  // Lends the chunk at next_lend into `ready`, here or on the executor.
  void StartLendLocked() {
    const std::uint64_t offset = next_lend;
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(chunk, plan.range.end - offset));
    ++chunks;
    if (!may_block) {
      OnLent(offset, plan.lease.Lend(offset, n, {}));
      return;
    }
    lending = true;
    Status queued = context.executor->Submit([self = shared_from_this(), offset, n] {
      on_deref_executor = true;
      Result<LentChunk> lent = self->plan.lease.Lend(offset, n, self->LendOptionsOf());
      on_deref_executor = false;
      std::lock_guard lock(self->mu);
      self->lending = false;
      self->OnLent(offset, std::move(lent));
      self->PumpLocked();
    });
    if (!queued.ok()) {
      lending = false;
      --chunks;
      failed = Status::ResourceExhausted("the deref executor is full: " + queued.message());
    }
  }

  void OnLent(std::uint64_t offset, Result<LentChunk> lent) {
    if (!lent.ok()) {
      --chunks;
      if (!failed) failed = detail::PeerOperations::LendFailed(plan.key, lent.status());
      return;
    }
    ready_offset = offset;
    next_lend = offset + lent->size();
    ready = std::move(*lent);
  }

  void StartWriteLocked() {
    LentChunk lent = std::move(*ready);
    ready.reset();
    const std::size_t n = lent.size();
    grpc::Slice header(proto_wire::EncodeDerefChunkHeader(ready_offset, constant_fields, n));
    if (n == 0) {  // the empty chunk of an empty range: a header and nothing to hold
      --chunks;
      current = grpc::ByteBuffer(&header, 1);
    } else {
      const std::uint8_t* data = lent.data();
      auto* hold = new SliceHold{shared_from_this(), std::move(lent)};
      grpc::Slice slices[2] = {std::move(header), grpc::Slice(const_cast<std::uint8_t*>(data), n,
                                                              &State::ReturnChunk, hold)};
      current = grpc::ByteBuffer(slices, 2);
    }
    context.ops->AddDerefBytes(context.call, n);
    sent_any = true;
    writing = true;
    reactor->StartWrite(&current);
  }

  void PumpLocked() {
    if (reactor == nullptr || finished || writing) return;
    if (cancelled.load())
      return FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    if (failed) return FinishLocked(grpc_util::ToGrpcStatus(*failed));
    const bool empty_range = plan.range.size() == 0;
    if (empty_range && !sent_any) {  // one empty chunk tells the client the size and that's all
      ++chunks;
      ready = LentChunk();
      ready_offset = plan.range.begin;
    }
    if (ready) StartWriteLocked();
    if (!writing && !lending && next_lend >= plan.range.end) {
      return FinishLocked(grpc::Status::OK);
    }
    // Lend ahead: the next chunk is prepared while this one is on the wire.
    if (!ready && !lending && next_lend < plan.range.end && chunks < max_chunks) {
      StartLendLocked();
      if (!writing && (ready || failed)) PumpLocked();
    }
  }
};

DerefStream::DerefStream(DerefStreamContext context, detail::DerefPlan plan,
                         DerefStreamOptions options)
    : state_(std::make_shared<State>()) {
  State& s = *state_;
  s.reactor = this;
  s.constant_fields = proto_wire::EncodeDerefChunkConstantFields(plan.total, plan.type_tag);
  s.next_lend = plan.range.begin;
  s.may_block = plan.lease.value().lend_may_block();
  s.context = std::move(context);
  s.plan = std::move(plan);
  s.chunk = options.chunk_bytes;
  // A lending value that blocks lends pinned staging buffers, which the whole node shares:
  // two per stream (one on the wire, one being filled) keep the copy overlapped without letting
  // a few slow readers hold every buffer.
  s.max_chunks = std::max<std::size_t>(1, options.buffers);
  if (s.may_block) s.max_chunks = std::min<std::size_t>(s.max_chunks, 2);
}

void DerefStream::OnWriteDone(bool ok) {
  // The written message is dropped outside the lock: dropping it may run ReturnChunk.
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
  state_->cancelled = true;  // also stops a lend waiting for a staging buffer
  std::lock_guard lock(state_->mu);
  state_->PumpLocked();
}

void DerefStream::OnDone() {
  grpc::ByteBuffer unsent;  // breaks the state -> message -> slice -> state cycle
  std::optional<LentChunk> unused;
  {
    std::lock_guard lock(state_->mu);
    unsent.Swap(&state_->current);
    unused.swap(state_->ready);
    state_->reactor = nullptr;
  }
  delete this;
}

}  // namespace

bool OnDerefExecutorThread() { return on_deref_executor; }

grpc::ServerWriteReactor<grpc::ByteBuffer>* StartDerefStream(DerefStreamContext context,
                                                             detail::DerefPlan plan,
                                                             DerefStreamOptions options) {
  auto* stream = new DerefStream(std::move(context), std::move(plan), options);
  // A copy: finishing at once may run OnDone, which deletes the reactor.
  std::shared_ptr<DerefStream::State> state = stream->state();
  std::lock_guard lock(state->mu);
  state->PumpLocked();
  return stream;
}

}  // namespace blazen::server::grpc_transport
