// SPDX-License-Identifier: Apache-2.0
#pragma once
// The receiving end of a benchmarked deref: a sink that checks the payload pattern and keeps
// nothing, so that a measurement times the transport and cannot count a broken transfer.

#include <atomic>
#include <cstdint>
#include <span>
#include <string_view>

#include "client/deref_sink.h"
#include "client/peer_client.h"
#include "core/status.h"
#include "core/uuid.h"

namespace blazen::bench {

/// A deref sink that keeps nothing: it checks each written range against the payload pattern
/// (first and last byte, or every byte when `full`) and counts the bytes. Write is thread-safe
/// (parallel streams write concurrently); Begin and Finish are called once each.
class CheckingSink final : public client::DerefSink {
 public:
  explicit CheckingSink(bool full) : full_(full) {}

  Status Begin(std::uint64_t total_size, std::string_view) override;
  /// Returns kDataLoss when `bytes` differ from the pattern at `offset`.
  Status Write(std::uint64_t offset, std::span<const std::uint8_t> bytes) override;
  /// Returns kDataLoss when fewer or more bytes than announced arrived.
  Status Finish() override;

  /// True once Finish succeeded.
  [[nodiscard]] bool finished() const { return finished_; }

 private:
  const bool full_;
  std::uint64_t total_ = 0;
  std::atomic<std::uint64_t> received_{0};
  bool finished_ = false;
};

/// Fetches the whole ref `ref` of `bytes` bytes once through `peer` into a CheckingSink; returns
/// the number of streams the client used. Throws the client's PeerError, or std::runtime_error
/// when the size is wrong.
int DerefOnce(client::BlazenPeerClient& peer, const Uuid& ref, std::uint64_t bytes, bool full);

}  // namespace blazen::bench
