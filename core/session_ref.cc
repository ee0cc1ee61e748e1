// SPDX-License-Identifier: Apache-2.0
// Session-ref registry: lifetime rules, capacity limits and byte accounting that follows the
// memory (a value stays charged until the ref is gone and its last lease has ended).

#include "core/session_ref.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace blazen {

std::string_view RefLifetimeName(RefLifetime lifetime) {
  switch (lifetime) {
    case RefLifetime::kUntilContextDrop:
      return "until_context_drop";
    case RefLifetime::kUntilParentFinish:
      return "until_parent_finish";
    case RefLifetime::kUntilExplicitDrop:
      return "until_explicit_drop";
  }
  return "unknown";
}

Result<RefLifetime> ParseRefLifetime(std::string_view name) {
  for (RefLifetime lifetime : {RefLifetime::kUntilContextDrop, RefLifetime::kUntilParentFinish,
                               RefLifetime::kUntilExplicitDrop}) {
    if (name == RefLifetimeName(lifetime)) return lifetime;
  }
  return Status::InvalidArgument("unknown ref lifetime '" + std::string(name) +
                                 "'; expected until_context_drop, until_parent_finish or "
                                 "until_explicit_drop");
}

Result<LentChunk> LentChunk::Allocate(std::size_t size) {
  std::shared_ptr<std::uint8_t[]> buffer(new (std::nothrow) std::uint8_t[size == 0 ? 1 : size]);
  if (!buffer) {
    return Status::ResourceExhausted("cannot allocate a " + std::to_string(size) +
                                     "-byte deref chunk");
  }
  LentChunk chunk(buffer.get(), size, buffer);
  chunk.writable_ = buffer.get();
  return chunk;
}

Result<std::size_t> SessionValue::LendLength(std::uint64_t offset, std::size_t max_bytes) const {
  const std::uint64_t size = size_bytes();
  if (offset >= size || max_bytes == 0) {
    return Status::OutOfRange("cannot lend " + std::to_string(max_bytes) + " bytes at offset " +
                              std::to_string(offset) + " of a " + std::to_string(size) +
                              "-byte payload");
  }
  return static_cast<std::size_t>(std::min<std::uint64_t>(max_bytes, size - offset));
}

Result<LentChunk> SessionValue::Lend(std::uint64_t offset, std::size_t max_bytes,
                                     std::shared_ptr<const void> /*keepalive*/,
                                     const LendOptions& /*options*/) const {
  BLAZEN_ASSIGN_OR_RETURN(const std::size_t n, LendLength(offset, max_bytes));
  BLAZEN_ASSIGN_OR_RETURN(LentChunk chunk, LentChunk::Allocate(n));
  BLAZEN_RETURN_IF_ERROR(Read(offset, std::span<std::uint8_t>(chunk.mutable_data(), n)));
  return chunk;
}

Result<LentChunk> HostBytesValue::Lend(std::uint64_t offset, std::size_t max_bytes,
                                       std::shared_ptr<const void> keepalive,
                                       const LendOptions& /*options*/) const {
  BLAZEN_ASSIGN_OR_RETURN(const std::size_t n, LendLength(offset, max_bytes));
  return LentChunk(bytes_.data() + offset, n, std::move(keepalive));
}

Status HostBytesValue::Read(std::uint64_t offset, std::span<std::uint8_t> out) const {
  const std::uint64_t size = bytes_.size();
  // Written so that offset + out.size() never overflows.
  if (offset > size || out.size() > size - offset) {
    return Status::OutOfRange("read of " + std::to_string(out.size()) + " bytes at offset " +
                              std::to_string(offset) + " exceeds payload size " +
                              std::to_string(size));
  }
  if (!out.empty()) {
    std::memcpy(out.data(), bytes_.data() + offset, out.size());
  }
  return Status::Ok();
}

// Resident bytes per location. Shared with the deleters of tracked values, so it outlives the
// registry while a lease does. Its own mutex: deleters run on whatever thread drops the last
// reference, never under the registry's mutex (lock order: registry mu_, then this mu).
struct SessionRefRegistry::Accounting {
  mutable std::mutex mu;
  std::map<std::string, std::uint64_t, std::less<>> bytes;

  std::uint64_t InUse(std::string_view location) const {
    std::lock_guard<std::mutex> lock(mu);
    auto it = bytes.find(location);
    return it == bytes.end() ? 0 : it->second;
  }
  void Add(const std::string& location, std::uint64_t n) {
    std::lock_guard<std::mutex> lock(mu);
    bytes[location] += n;
    total.fetch_add(n, std::memory_order_relaxed);
  }
  void Subtract(const std::string& location, std::uint64_t n) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = bytes.find(location);
    // Every subtraction pairs with an earlier Add of the same amount.
    if (it != bytes.end()) {
      const std::uint64_t taken = std::min(it->second, n);
      it->second -= taken;
      total.fetch_sub(taken, std::memory_order_relaxed);
    }
  }
  // Sum over locations, readable without the lock (load reports read it on every response).
  std::atomic<std::uint64_t> total{0};
  std::map<std::string, std::uint64_t> Snapshot() const {
    std::lock_guard<std::mutex> lock(mu);
    return {bytes.begin(), bytes.end()};
  }
};

struct SessionRefRegistry::Entry {
  // Tracked pointer: its deleter drops the caller's value and then returns the bytes.
  std::shared_ptr<const SessionValue> value;
  std::shared_ptr<const RefInfo> info;
  // Guarded by the registry's mu_.
  std::chrono::steady_clock::time_point last_access;
};

SessionRefRegistry::SessionRefRegistry(RegistryOptions options)
    : options_(std::move(options)), accounting_(std::make_shared<Accounting>()) {}

// Entries (and values no lease holds) are destroyed here; nobody else can hold mu_ any more.
SessionRefRegistry::~SessionRefRegistry() = default;

Result<Uuid> SessionRefRegistry::Insert(std::shared_ptr<const SessionValue> value,
                                        RefLifetime lifetime, RefOwner owner) {
  if (value == nullptr) return Status::InvalidArgument("session ref value is null");

  // Everything that calls out (value getters, clocks, the CSPRNG) happens before locking.
  auto info = std::make_shared<RefInfo>();
  info->lifetime = lifetime;
  info->type_tag = std::string(value->type_tag());
  info->created_at_epoch_ms = options_.clock.epoch_ms_now();
  info->owner = std::move(owner);
  info->size_bytes = value->size_bytes();
  info->resident_bytes = value->resident_bytes();
  info->location = value->location();
  const auto now = options_.clock.steady_now();
  Uuid key = Uuid::NewV4();

  const std::uint64_t requested = info->resident_bytes;
  auto it = options_.max_bytes_per_location.find(info->location);
  const std::uint64_t limit = it == options_.max_bytes_per_location.end()
                                  ? options_.default_max_bytes_per_location
                                  : it->second;

  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.size() >= options_.max_entries) {
    return Status::ResourceExhausted(
        "session ref limit reached: " + std::to_string(options_.max_entries) + " entries");
  }
  // Inserts are serialized by mu_ and deleters only lower the count, so the check below still
  // holds when the bytes are added.
  const std::uint64_t in_use = accounting_->InUse(info->location);
  if (requested > limit || in_use > limit - requested) {
    return Status::ResourceExhausted(
        "session ref byte limit for " + info->location + " exceeded: " + std::to_string(in_use) +
        " in use + " + std::to_string(requested) + " requested > " + std::to_string(limit));
  }
  while (entries_.contains(key)) key = Uuid::NewV4();  // 2^-122 per try; cheap insurance
  info->key = key;

  // Charge first: if building the tracked pointer throws, shared_ptr runs the deleter, which
  // refunds the charge.
  accounting_->Add(info->location, requested);
  const SessionValue* raw = value.get();
  std::shared_ptr<const SessionValue> tracked(
      raw, [held = std::move(value), accounting = accounting_, location = info->location,
            requested](const SessionValue*) mutable {
        held.reset();  // destroy (or let go of) the value before its bytes are counted as free
        accounting->Subtract(location, requested);
      });

  auto entry = std::make_shared<Entry>();
  entry->value = std::move(tracked);
  entry->info = std::move(info);
  entry->last_access = now;
  by_run_[entry->info->owner.run_id].insert(key);
  entries_.emplace(key, std::move(entry));
  return key;
}

std::uint64_t SessionRefRegistry::resident_bytes() const {
  return accounting_->total.load(std::memory_order_relaxed);
}

Result<RefLease> SessionRefRegistry::Acquire(const Uuid& key) {
  const auto now = options_.clock.steady_now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    return Status::NotFound("session ref " + key.ToString() + " not found");
  }
  Entry& entry = *it->second;
  entry.last_access = now;
  RefLease lease;
  lease.value_ = entry.value;
  lease.info_ = entry.info;
  return lease;
}

std::optional<RefInfo> SessionRefRegistry::Info(const Uuid& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return *it->second->info;
}

std::optional<RefLifetime> SessionRefRegistry::LifetimeOf(const Uuid& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second->info->lifetime;
}

bool SessionRefRegistry::Release(const Uuid& key) {
  std::shared_ptr<Entry> removed;  // declared before the lock: destroyed after unlocking
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    removed = std::move(it->second);
    entries_.erase(it);
    UnindexLocked(removed->info->owner.run_id, key);
  }
  return true;
}

void SessionRefRegistry::UnindexLocked(const std::string& run_id, const Uuid& key) {
  auto it = by_run_.find(run_id);
  if (it == by_run_.end()) return;
  it->second.erase(key);
  if (it->second.empty()) by_run_.erase(it);
}

template <typename Pred>
void SessionRefRegistry::ExtractIfLocked(std::vector<std::shared_ptr<Entry>>& removed, Pred pred) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (pred(*it->second)) {
      UnindexLocked(it->second->info->owner.run_id, it->first);
      removed.push_back(std::move(it->second));
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

std::size_t SessionRefRegistry::ReleaseScope(std::string_view parent_run_id) {
  std::vector<std::shared_ptr<Entry>> removed;  // destroyed after the lock is released
  {
    std::lock_guard<std::mutex> lock(mu_);
    ExtractIfLocked(removed, [&](const Entry& e) {
      return e.info->lifetime == RefLifetime::kUntilParentFinish &&
             e.info->owner.parent_run_id.has_value() &&
             *e.info->owner.parent_run_id == parent_run_id;
    });
  }
  return removed.size();
}

std::size_t SessionRefRegistry::EndRun(std::string_view run_id, bool run_failed) {
  std::vector<std::shared_ptr<Entry>> removed;  // destroyed after the lock is released
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto run = by_run_.find(std::string(run_id));
    if (run == by_run_.end()) return 0;
    std::unordered_set<Uuid>& keys = run->second;
    for (auto k = keys.begin(); k != keys.end();) {
      auto it = entries_.find(*k);
      if (it != entries_.end() &&
          (run_failed || it->second->info->lifetime == RefLifetime::kUntilContextDrop)) {
        removed.push_back(std::move(it->second));
        entries_.erase(it);
        k = keys.erase(k);
      } else {
        ++k;
      }
    }
    if (keys.empty()) by_run_.erase(run);
  }
  return removed.size();
}

std::vector<Uuid> SessionRefRegistry::Keys() const {
  std::vector<Uuid> keys;
  {
    std::lock_guard<std::mutex> lock(mu_);
    keys.reserve(entries_.size());
    for (const auto& [key, entry] : entries_) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::size_t SessionRefRegistry::Clear() {
  std::vector<std::shared_ptr<Entry>> removed;  // destroyed after the lock is released
  {
    std::lock_guard<std::mutex> lock(mu_);
    removed.reserve(entries_.size());
    for (auto& [key, entry] : entries_) removed.push_back(std::move(entry));
    entries_.clear();
    by_run_.clear();
  }
  return removed.size();
}

std::size_t SessionRefRegistry::ClearOnContextDrop(bool owns_registry) {
  if (!owns_registry) return 0;
  std::vector<std::shared_ptr<Entry>> removed;  // destroyed after the lock is released
  {
    std::lock_guard<std::mutex> lock(mu_);
    ExtractIfLocked(removed, [](const Entry& e) {
      return e.info->lifetime == RefLifetime::kUntilContextDrop ||
             e.info->lifetime == RefLifetime::kUntilParentFinish;
    });
  }
  return removed.size();
}

std::map<Uuid, RemoteRefDescriptor> SessionRefRegistry::RefsOutlivingRun(
    std::string_view run_id, std::string_view node_id) const {
  std::map<Uuid, RemoteRefDescriptor> refs;
  std::lock_guard<std::mutex> lock(mu_);
  auto run = by_run_.find(std::string(run_id));
  if (run == by_run_.end()) return refs;
  for (const Uuid& key : run->second) {
    auto it = entries_.find(key);
    if (it == entries_.end()) continue;
    const RefInfo& info = *it->second->info;
    if (info.lifetime == RefLifetime::kUntilContextDrop) continue;
    refs.emplace(key, RemoteRefDescriptor{.origin_node_id = std::string(node_id),
                                          .type_tag = info.type_tag,
                                          .created_at_epoch_ms = info.created_at_epoch_ms});
  }
  return refs;
}

std::size_t SessionRefRegistry::ExpireIdle() {
  const auto now = options_.clock.steady_now();
  const auto ttl = options_.parent_finish_idle_ttl;
  std::vector<std::shared_ptr<Entry>> removed;  // destroyed after the lock is released
  {
    std::lock_guard<std::mutex> lock(mu_);
    ExtractIfLocked(removed, [&](const Entry& e) {
      return e.info->lifetime == RefLifetime::kUntilParentFinish && now - e.last_access > ttl;
    });
  }
  return removed.size();
}

std::size_t SessionRefRegistry::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

RegistryStats SessionRefRegistry::Stats() const {
  RegistryStats stats;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, entry] : entries_) {
    auto& bucket = stats.live[{entry->info->lifetime, entry->info->location}];
    ++bucket.count;
    bucket.resident_bytes += entry->info->resident_bytes;
  }
  stats.entries = entries_.size();
  // Read under mu_ so that the live buckets and the resident totals agree with each other.
  stats.resident_bytes_by_location = accounting_->Snapshot();
  return stats;
}

}  // namespace blazen
