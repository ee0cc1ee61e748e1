// SPDX-License-Identifier: Apache-2.0
#pragma once
// Session refs: values a run produced that stay on the peer (host bytes, device tensors) under a
// lifetime policy, keyed by a random UUIDv4. The registry is the only owner of entries; a deref in
// progress holds a RefLease, which keeps the value alive after a concurrent release until the
// stream ends. Serialization to bytes happens only in SessionValue::Read, i.e. only on deref.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/uuid.h"
#include "core/wire_types.h"

namespace blazen {

/// When a session ref is purged (upstream RefLifetime; JSON names are the snake_case strings).
enum class RefLifetime : std::uint8_t {
  /// Purged when the run that created it ends. Never listed in remote_refs.
  kUntilContextDrop = 0,
  /// Survives the run (listed in remote_refs); purged on release, on ReleaseScope of its parent
  /// run id, or after the registry's idle TTL without a deref.
  kUntilParentFinish = 1,
  /// Survives the run (listed in remote_refs); purged only on release.
  kUntilExplicitDrop = 2,
};

/// "until_context_drop" | "until_parent_finish" | "until_explicit_drop".
[[nodiscard]] std::string_view RefLifetimeName(RefLifetime lifetime);
/// Parses a lifetime name; anything else is kInvalidArgument listing the accepted names.
[[nodiscard]] Result<RefLifetime> ParseRefLifetime(std::string_view name);

/// Payload bytes a value lends to a deref: a view [data(), data() + size()) plus whatever keeps
/// that memory valid (the value itself, a pinned staging buffer, a heap copy), released when the
/// chunk is destroyed. A transport can hand the memory to the network as is (a gRPC slice whose
/// destroy callback drops the chunk). Move-only; a moved-from chunk is empty.
class LentChunk {
 public:
  LentChunk() = default;
  /// A view of `size` bytes at `data`, valid while `owner` lives.
  LentChunk(const std::uint8_t* data, std::size_t size, std::shared_ptr<const void> owner)
      : data_(data), size_(size), owner_(std::move(owner)) {}
  /// A chunk owning a fresh heap buffer of `size` bytes (for the caller to fill through
  /// mutable_data()); kResourceExhausted when it cannot be allocated.
  [[nodiscard]] static Result<LentChunk> Allocate(std::size_t size);
  LentChunk(LentChunk&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        writable_(std::exchange(other.writable_, nullptr)),
        owner_(std::move(other.owner_)) {}
  LentChunk& operator=(LentChunk&& other) noexcept {
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    writable_ = std::exchange(other.writable_, nullptr);
    owner_ = std::move(other.owner_);
    return *this;
  }
  LentChunk(const LentChunk&) = delete;
  LentChunk& operator=(const LentChunk&) = delete;

  [[nodiscard]] const std::uint8_t* data() const { return data_; }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
  /// Writable memory of a chunk made by Allocate (nullptr for views).
  [[nodiscard]] std::uint8_t* mutable_data() const { return writable_; }

 private:
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::uint8_t* writable_ = nullptr;
  std::shared_ptr<const void> owner_;
};

/// How long a Lend may wait for a resource (a staging buffer), and what makes it give up.
struct LendOptions {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  /// Polled while waiting; true gives up with kCancelled. May be empty.
  std::function<bool()> cancelled;
};

/// A value held by a session ref. Implementations: HostBytesValue and HostTensorValue (here),
/// device tensors (gpu/). Read and Lend may be called concurrently from several derefs:
/// implementations are thread-safe for concurrent Read and Lend calls.
class SessionValue {
 public:
  virtual ~SessionValue() = default;

  /// Type tag reported in RemoteRefDescriptor (e.g. "tensor.npy", "bytes").
  [[nodiscard]] virtual std::string_view type_tag() const = 0;
  /// Size of the serialized payload in bytes (what a full deref returns).
  [[nodiscard]] virtual std::uint64_t size_bytes() const = 0;
  /// Bytes of memory the value occupies at location(), counted against the registry's limits.
  [[nodiscard]] virtual std::uint64_t resident_bytes() const { return size_bytes(); }
  /// "host" or "cuda:N".
  [[nodiscard]] virtual std::string location() const = 0;
  /// Copies payload bytes [offset, offset + out.size()) into `out`. Returns kOutOfRange when the
  /// range extends past size_bytes(); implementations may return kInternal for device failures.
  [[nodiscard]] virtual Status Read(std::uint64_t offset, std::span<std::uint8_t> out) const = 0;

  /// Lends payload bytes from `offset`: a chunk of 1 to `max_bytes` bytes (fewer than asked only at
  /// the end of the payload or at an internal boundary, e.g. where a tensor's header ends). A
  /// chunk that points into the value keeps `keepalive` (a pointer owning this value) alive.
  /// The default copies through Read into a heap chunk. kOutOfRange when `offset` >= size_bytes()
  /// or `max_bytes` is 0; kDeadlineExceeded / kCancelled when a resource it waits for (a staging
  /// buffer) did not come in time; kInternal for device failures. Use RefLease::Lend.
  [[nodiscard]] virtual Result<LentChunk> Lend(std::uint64_t offset, std::size_t max_bytes,
                                               std::shared_ptr<const void> keepalive,
                                               const LendOptions& options) const;
  /// True when Lend may wait (device copies, staging buffers); transports then call it away from
  /// their network threads. The default (a Read) may block.
  [[nodiscard]] virtual bool lend_may_block() const { return true; }

 protected:
  /// kOutOfRange unless `offset` < size_bytes() and `max_bytes` > 0; else the chunk length
  /// min(max_bytes, size_bytes() - offset).
  [[nodiscard]] Result<std::size_t> LendLength(std::uint64_t offset, std::size_t max_bytes) const;
};

/// Opaque host bytes with a caller-chosen type tag. Immutable; thread-safe.
class HostBytesValue final : public SessionValue {
 public:
  HostBytesValue(std::string type_tag, std::vector<std::uint8_t> bytes)
      : type_tag_(std::move(type_tag)), bytes_(std::move(bytes)) {}

  [[nodiscard]] std::string_view type_tag() const override { return type_tag_; }
  [[nodiscard]] std::uint64_t size_bytes() const override { return bytes_.size(); }
  [[nodiscard]] std::string location() const override { return "host"; }
  [[nodiscard]] Status Read(std::uint64_t offset, std::span<std::uint8_t> out) const override;
  /// A view into the bytes (no copy, never blocks).
  [[nodiscard]] Result<LentChunk> Lend(std::uint64_t offset, std::size_t max_bytes,
                                       std::shared_ptr<const void> keepalive,
                                       const LendOptions& options) const override;
  [[nodiscard]] bool lend_may_block() const override { return false; }
  [[nodiscard]] const std::vector<std::uint8_t>& bytes() const { return bytes_; }

 private:
  std::string type_tag_;
  std::vector<std::uint8_t> bytes_;
};

/// Who created a ref: the run and (if the caller said) the parent run it works for.
struct RefOwner {
  std::string run_id;
  std::optional<std::string> parent_run_id;
};

/// Everything the registry knows about one entry (a snapshot; no access to the value).
struct RefInfo {
  Uuid key;
  RefLifetime lifetime = RefLifetime::kUntilContextDrop;
  std::string type_tag;
  std::uint64_t created_at_epoch_ms = 0;
  RefOwner owner;
  std::uint64_t size_bytes = 0;
  std::uint64_t resident_bytes = 0;
  std::string location;
};

/// Time sources of the registry, injectable so tests drive TTL expiry deterministically. Both
/// functions are called without the registry's lock held, possibly from several threads at once,
/// so they must be thread-safe.
struct RegistryClock {
  std::function<std::chrono::steady_clock::time_point()> steady_now = [] {
    return std::chrono::steady_clock::now();
  };
  std::function<std::uint64_t()> epoch_ms_now = [] {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  };
};

/// Capacity limits, idle TTL and clock of a SessionRefRegistry; fixed at construction.
struct RegistryOptions {
  /// Most live entries at once (upstream's MAX_SESSION_REFS_PER_RUN is 10,000 for the whole map).
  std::size_t max_entries = 10'000;
  /// Most resident bytes per location ("host", "cuda:0", ...); a location not listed uses
  /// `default_max_bytes_per_location`.
  std::map<std::string, std::uint64_t> max_bytes_per_location;
  std::uint64_t default_max_bytes_per_location = std::uint64_t{16} << 30;  // 16 GiB
  /// UntilParentFinish refs not dereferenced for this long are purged by ExpireIdle.
  std::chrono::milliseconds parent_finish_idle_ttl = std::chrono::hours(1);
  RegistryClock clock;
};

/// Counts of live refs, for DescribePeer and metrics.
struct RegistryStats {
  struct Bucket {
    std::uint64_t count = 0;
    std::uint64_t resident_bytes = 0;
    friend bool operator==(const Bucket&, const Bucket&) = default;
  };
  /// Live refs keyed by (lifetime, location); only non-empty buckets are present.
  std::map<std::pair<RefLifetime, std::string>, Bucket> live;
  /// Resident bytes per location, including values released but still held by a lease (this is
  /// what the byte limits are checked against). Every location ever charged is listed, 0 once its
  /// memory is returned.
  std::map<std::string, std::uint64_t> resident_bytes_by_location;
  /// Live refs (== size()).
  std::uint64_t entries = 0;
};

class SessionRefRegistry;

/// Keeps one ref's value alive while a deref reads it, even if the ref is released meanwhile (the
/// memory is returned when the last lease goes). A lease may outlive the registry. Cheap to copy;
/// thread-safe (the value supports concurrent Read calls).
class RefLease {
 public:
  /// An empty lease (false in a boolean context); value() and info() must not be called on it.
  RefLease() = default;
  /// The leased value. Requires a non-empty lease.
  [[nodiscard]] const SessionValue& value() const { return *value_; }
  /// The metadata of the ref as it was inserted. Requires a non-empty lease.
  [[nodiscard]] const RefInfo& info() const { return *info_; }
  [[nodiscard]] explicit operator bool() const { return value_ != nullptr; }
  /// SessionValue::Lend on the leased value; a chunk pointing into the value keeps it (and its
  /// bytes charged to the registry) alive like the lease does. Requires a non-empty lease.
  [[nodiscard]] Result<LentChunk> Lend(std::uint64_t offset, std::size_t max_bytes,
                                       const LendOptions& options = {}) const {
    return value_->Lend(offset, max_bytes, value_, options);
  }

 private:
  friend class SessionRefRegistry;
  std::shared_ptr<const SessionValue> value_;
  std::shared_ptr<const RefInfo> info_;
};

/// The map UUID -> session ref, with lifetime rules and capacity limits. Thread-safe: one mutex
/// guards the map; values are read outside it through leases, and removed values are destroyed
/// after the mutex is released (a device value's destructor may be slow).
class SessionRefRegistry {
 public:
  explicit SessionRefRegistry(RegistryOptions options = {});
  ~SessionRefRegistry();
  SessionRefRegistry(const SessionRefRegistry&) = delete;
  SessionRefRegistry& operator=(const SessionRefRegistry&) = delete;
  SessionRefRegistry(SessionRefRegistry&&) = delete;
  SessionRefRegistry& operator=(SessionRefRegistry&&) = delete;

  /// Inserts `value` under a fresh random key. Fails with kResourceExhausted, changing nothing,
  /// when the entry limit or the byte limit of the value's location would be exceeded (the
  /// message names the limit, what is in use and what was asked); kInvalidArgument for a null
  /// value. The value's getters are read once here (RefInfo); its resident bytes stay charged to
  /// its location until it is released and no lease holds it. created_at is
  /// `clock.epoch_ms_now()`; the idle timer starts now.
  [[nodiscard]] Result<Uuid> Insert(std::shared_ptr<const SessionValue> value, RefLifetime lifetime,
                                    RefOwner owner);

  /// A lease on the ref for reading it; refreshes its idle timer. kNotFound
  /// (`session ref <uuid> not found`) when there is no such ref.
  [[nodiscard]] Result<RefLease> Acquire(const Uuid& key);

  /// Snapshot of one entry's metadata, or nullopt when there is no such ref.
  [[nodiscard]] std::optional<RefInfo> Info(const Uuid& key) const;

  /// The lifetime of a live ref, or nullopt when there is none.
  [[nodiscard]] std::optional<RefLifetime> LifetimeOf(const Uuid& key) const;

  /// Removes a ref of any lifetime. True when this call removed it, false when it was not there.
  /// Memory is returned when the last lease on it ends.
  bool Release(const Uuid& key);

  /// Removes every UntilParentFinish ref whose owner's parent_run_id is `parent_run_id`; returns
  /// how many.
  std::size_t ReleaseScope(std::string_view parent_run_id);

  /// End-of-run purge: removes the run's UntilContextDrop refs, or, when `run_failed`, every ref
  /// the run created (a failed run reports no refs, so nobody could ever release them). Returns
  /// how many were removed.
  std::size_t EndRun(std::string_view run_id, bool run_failed);

  /// The refs created by `run_id` that outlive it (UntilParentFinish and UntilExplicitDrop), as
  /// remote_refs entries with `origin_node_id = node_id` and their real creation times.
  [[nodiscard]] std::map<Uuid, RemoteRefDescriptor> RefsOutlivingRun(
      std::string_view run_id, std::string_view node_id) const;

  /// Removes UntilParentFinish refs idle (neither inserted nor acquired) for longer than
  /// `parent_finish_idle_ttl`, measured with `clock.steady_now()`; returns how many. The node calls
  /// it periodically.
  std::size_t ExpireIdle();

  /// The keys of every live ref, sorted.
  [[nodiscard]] std::vector<Uuid> Keys() const;

  /// Removes every ref; returns how many (upstream `drain`).
  std::size_t Clear();

  /// Upstream `clear_on_context_drop(owns_registry)`: when `owns_registry`, removes every
  /// UntilContextDrop and UntilParentFinish ref and returns how many; otherwise removes nothing
  /// (a borrowed registry is purged by its owner). UntilExplicitDrop refs are never removed.
  std::size_t ClearOnContextDrop(bool owns_registry);

  /// Number of live refs.
  [[nodiscard]] std::size_t size() const;
  /// Live counts and bytes per (lifetime, location) and resident bytes per location.
  [[nodiscard]] RegistryStats Stats() const;
  /// Bytes charged to every location together (leased values included), without taking the
  /// registry's lock: cheap enough for every response's load report.
  [[nodiscard]] std::uint64_t resident_bytes() const;
  [[nodiscard]] const RegistryOptions& options() const { return options_; }

 private:
  struct Entry;
  struct Accounting;

  // Moves every entry matching `pred` out of entries_ (and by_run_) into `removed`. Holds mu_.
  template <typename Pred>
  void ExtractIfLocked(std::vector<std::shared_ptr<Entry>>& removed, Pred pred);
  // Forgets `key` of `run_id` in by_run_. Holds mu_.
  void UnindexLocked(const std::string& run_id, const Uuid& key);

  RegistryOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<Uuid, std::shared_ptr<Entry>> entries_;
  // The keys of each run's live refs, so that the end-of-run purge and remote_refs cost the run's
  // own refs, not every live ref of the node.
  std::unordered_map<std::string, std::unordered_set<Uuid>> by_run_;
  std::shared_ptr<Accounting> accounting_;
};

}  // namespace blazen
