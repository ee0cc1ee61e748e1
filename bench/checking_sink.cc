// SPDX-License-Identifier: Apache-2.0
// A checking deref sink and one whole deref through the public client.

#include "bench/checking_sink.h"

#include <stdexcept>
#include <string>

#include "bench/pattern.h"

namespace blazen::bench {

Status CheckingSink::Begin(std::uint64_t total_size, std::string_view) {
  total_ = total_size;
  return Status::Ok();
}

Status CheckingSink::Write(std::uint64_t offset, std::span<const std::uint8_t> bytes) {
  if (!MatchesPattern(offset, bytes, full_)) {
    return Status::DataLoss("deref delivered wrong bytes in [" + std::to_string(offset) + ", +" +
                            std::to_string(bytes.size()) + ")");
  }
  received_.fetch_add(bytes.size(), std::memory_order_relaxed);
  return Status::Ok();
}

Status CheckingSink::Finish() {
  if (received_.load() != total_) {
    return Status::DataLoss("deref wrote " + std::to_string(received_.load()) + " of " +
                            std::to_string(total_) + " bytes");
  }
  finished_ = true;
  return Status::Ok();
}

int DerefOnce(client::BlazenPeerClient& peer, const Uuid& ref, std::uint64_t bytes, bool full) {
  CheckingSink sink(full);
  const client::DerefResult result = peer.DerefTo(ref, sink);
  if (!sink.finished() || result.total_size != bytes) {
    throw std::runtime_error("deref returned " + std::to_string(result.total_size) + " bytes, " +
                             "expected " + std::to_string(bytes));
  }
  return result.streams;
}

}  // namespace blazen::bench
