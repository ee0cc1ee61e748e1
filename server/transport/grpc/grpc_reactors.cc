// SPDX-License-Identifier: Apache-2.0
// Shared reactors of the BlazenPeer service.

#include "server/transport/grpc/grpc_reactors.h"

#include <string>
#include <string_view>

#include "core/load_report.h"

namespace blazen::server::grpc_transport {

void Reply(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
           const Status& status) {
  grpc_util::AddErrorKindTrailer(*context, status);
  reactor->Finish(grpc_util::ToGrpcStatus(status));
}

detail::CallMeta CallMetaOf(const grpc::CallbackServerContext* context) {
  const auto& md = context->client_metadata();
  return detail::CallMeta::From("grpc",
                                [&md](std::string_view key) -> std::optional<std::string_view> {
                                  auto it = md.find(grpc::string_ref(key.data(), key.size()));
                                  if (it == md.end()) return std::nullopt;
                                  return std::string_view(it->second.data(), it->second.size());
                                });
}

void AddLoadTrailer(grpc::CallbackServerContext* context, const detail::PeerOperations& ops) {
  context->AddTrailingMetadata(std::string(kLoadReportHeader), ops.LoadHeader());
}

void CancellableUnaryReactor::FinishOnce(const Status& status) {
  if (finished_.exchange(true)) return;
  AddLoadTrailer(context_, *ops_);
  Reply(context_, this, status);
}

// --- EventStream ---------------------------------------------------------------------------------

std::shared_ptr<EventStream> EventStream::Create(std::shared_ptr<CancellationToken> token) {
  auto stream = std::shared_ptr<EventStream>(new EventStream(std::move(token)));
  stream->self_ = stream;  // kept alive until OnDone
  return stream;
}

void EventStream::Push(peer::v1::PostcardResponse item, bool last) {
  std::lock_guard lock(mu_);
  if (finished_) return;
  queue_.push_back(std::move(item));
  if (last) last_queued_ = true;
  PumpLocked();
}

void EventStream::FinishWith(const Status& status) {
  std::lock_guard lock(mu_);
  if (finished_) return;
  finished_ = true;
  Finish(grpc_util::ToGrpcStatus(status));
}

void EventStream::OnWriteDone(bool ok) {
  std::lock_guard lock(mu_);
  writing_ = false;
  if (!ok) {
    token_->Cancel();
    if (!finished_) {
      finished_ = true;
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client stopped reading"));
    }
    return;
  }
  PumpLocked();
}

void EventStream::OnCancel() {
  token_->Cancel();
  std::lock_guard lock(mu_);
  if (!finished_ && !writing_) {
    finished_ = true;
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }
}

void EventStream::OnDone() {
  std::shared_ptr<EventStream> self;
  std::lock_guard lock(mu_);
  finished_ = true;  // late pushes from the engine are dropped
  self = std::move(self_);
}

void EventStream::PumpLocked() {
  if (writing_ || finished_) return;
  if (queue_.empty()) {
    if (last_queued_) {
      finished_ = true;
      Finish(grpc::Status::OK);
    }
    return;
  }
  current_ = std::move(queue_.front());
  queue_.pop_front();
  writing_ = true;
  StartWrite(&current_);
}

}  // namespace blazen::server::grpc_transport
