// SPDX-License-Identifier: Apache-2.0
// The etcd:// discovery source: a range over the prefix, then a watch from the next revision on a
// thread of its own; a broken watch is followed by a backoff and a fresh range.

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "client/pool/discovery/detail/etcd_codec.h"
#include "client/pool/discovery/detail/peer_set.h"
#include "client/pool/discovery/detail/sources.h"
#include "client/pool/discovery/etcd_client.h"
#include "core/logging.h"

namespace blazen::client::pool::detail {
namespace {

// A watch that received nothing for this long is opened again from where it was (etcd sends
// nothing while nothing changes; this also notices a silently dead connection).
constexpr std::chrono::seconds kWatchIdleTimeout{30};
// Backoff between attempts to re-list after a broken watch.
constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};

class EtcdSource final : public Discovery {
 public:
  EtcdSource(std::string url, EtcdAddress address, DiscoveryOptions options)
      : url_(std::move(url)),
        key_prefix_(address.prefix + "/"),
        client_(address.server.host, address.server.port, options.etcd_timeout) {}
  ~EtcdSource() override { Stop(); }

  std::string_view scheme() const override { return "etcd"; }
  std::string describe() const override { return url_; }

  Status Start(DiscoveryCallback on_update) override {
    {
      std::lock_guard lock(mu_);
      if (started_ || stopping_) {
        return Status::FailedPrecondition("discovery '" + url_ + "' was already started");
      }
      started_ = true;
    }
    publisher_.Open(std::move(on_update));
    if (Status listed = Relist(); !listed.ok()) {
      // Nothing was delivered; a later Start may try again.
      std::lock_guard lock(mu_);
      started_ = false;
      return Status::Unavailable("etcd discovery '" + url_ + "': " + listed.message());
    }
    std::lock_guard lock(mu_);
    if (!stopping_) thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    publisher_.Close();
    cancel_.Cancel();
    std::lock_guard join_lock(join_mu_);
    if (thread_.joinable()) thread_.join();
  }

 private:
  // Replaces the known keys by a fresh range and delivers the set. Runs on Start's thread, then
  // only on the source thread (which Start creates after it), so peers_ needs no lock.
  Status Relist() {
    BLAZEN_ASSIGN_OR_RETURN(EtcdRangeResult range, client_.Range(key_prefix_));
    peers_.clear();
    for (const EtcdKeyValue& kv : range.kvs) Apply(kv);
    revision_ = range.revision;
    Publish();
    return Status::Ok();
  }

  // Records the value of a put key; a malformed value removes the key from the set.
  void Apply(const EtcdKeyValue& kv) {
    Result<DiscoveredPeer> peer = DecodePeerValue(kv.value);
    if (!peer.ok()) {
      BLAZEN_LOG_WARN("etcd discovery '{}': skipping key '{}': {}", url_, kv.key,
                      peer.status().message());
      peers_.erase(kv.key);
      return;
    }
    peers_[kv.key] = *std::move(peer);
  }

  void Publish() {
    std::vector<DiscoveredPeer> peers;
    peers.reserve(peers_.size());
    for (const auto& [key, peer] : peers_) peers.push_back(peer);
    publisher_.Publish(std::move(peers));
  }

  bool OnWatchResponse(const EtcdWatchResponse& response) {
    watch_answered_ = true;
    if (response.events.empty()) return true;
    for (const EtcdWatchEvent& event : response.events) {
      if (event.type == EtcdWatchEvent::Type::kDelete) {
        peers_.erase(event.kv.key);
      } else {
        Apply(event.kv);
      }
      revision_ = std::max(revision_, event.kv.mod_revision);
    }
    Publish();
    return true;
  }

  // Waits `delay` unless stopped; returns false when stopping.
  bool Sleep(std::chrono::milliseconds delay) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, delay, [this] { return stopping_; });
  }

  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  void Run() {
    std::chrono::milliseconds backoff = kMinBackoff;
    while (!stopping()) {
      watch_answered_ = false;
      const Status watched = client_.Watch(
          key_prefix_, revision_ + 1,
          [this](const EtcdWatchResponse& response) { return OnWatchResponse(response); }, cancel_,
          kWatchIdleTimeout);
      if (stopping()) break;
      if (watch_answered_) backoff = kMinBackoff;
      if (watched.code() == StatusCode::kDeadlineExceeded) continue;
      BLAZEN_LOG_WARN("etcd discovery '{}': watch ended ({}); listing again", url_,
                      watched.ToString());
      // Re-list until it works: events may have been missed while the watch was down.
      while (Sleep(backoff)) {
        backoff = std::min(backoff * 2, kMaxBackoff);
        const Status listed = Relist();
        if (listed.ok()) break;
        BLAZEN_LOG_WARN("etcd discovery '{}': {}; keeping the last peer set", url_,
                        listed.message());
      }
    }
  }

  const std::string url_;
  const std::string key_prefix_;
  EtcdClient client_;
  PeerSetPublisher publisher_;
  EtcdWatchCancel cancel_;

  // Source-thread state (see Relist).
  std::map<std::string, DiscoveredPeer> peers_;
  std::int64_t revision_ = 0;
  bool watch_answered_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool stopping_ = false;
  std::mutex join_mu_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Discovery> MakeEtcdSource(std::string url, EtcdAddress address,
                                          DiscoveryOptions options) {
  return std::make_unique<EtcdSource>(std::move(url), std::move(address), std::move(options));
}

}  // namespace blazen::client::pool::detail
