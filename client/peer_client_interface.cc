// SPDX-License-Identifier: Apache-2.0
// CallCancel, and the out-of-line destructor that anchors PeerClient's vtable in one object file.

#include "client/peer_client_interface.h"

#include <utility>

namespace blazen::client {

// --- CallCancel ----------------------------------------------------------------------------------

void CallCancel::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_) return;
  cancelled_ = true;
  for (auto& [id, on_cancel] : callbacks_) on_cancel();
}

bool CallCancel::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

std::uint64_t CallCancel::Register(std::function<void()> on_cancel) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::uint64_t id = next_id_++;
  // A call that starts after Cancel is cancelled before it goes out (TryCancel before the call
  // starts makes gRPC cancel it as soon as it does).
  if (cancelled_) on_cancel();
  callbacks_.emplace(id, std::move(on_cancel));
  return id;
}

void CallCancel::Unregister(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  callbacks_.erase(id);
}

// --- PeerClient ----------------------------------------------------------------------------------

PeerClient::~PeerClient() = default;

}  // namespace blazen::client
