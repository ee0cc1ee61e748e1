// SPDX-License-Identifier: Apache-2.0
#pragma once
// Deref sinks: where BlazenPeerClient::DerefTo puts the bytes of a session ref as they arrive from
// the streaming deref RPC. A sink receives the payload's size once, then disjoint byte ranges (from
// several threads when the deref runs parallel streams), then one Finish. Host memory and file
// sinks live here; a device-memory sink belongs with the GPU component.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace blazen::client {

/// Destination of a streaming deref. The client calls, in this order:
///   1. `Begin(total_size, type_tag)` exactly once, before any Write, as soon as the payload size
///      is known (also for an empty payload);
///   2. `Write(offset, bytes)` for disjoint ranges that together cover [0, total_size) exactly once
///      each, in any order, possibly from several threads at the same time;
///   3. `Finish()` once, after the last Write, only when every byte arrived.
/// When the deref fails (or a sink call fails) the client stops calling the sink: no Finish. A
/// sink must then leave itself in a destructible state (e.g. close its file in the destructor).
/// A failed Status from any sink call aborts the deref; DerefTo throws the PeerError for it.
class DerefSink {
 public:
  virtual ~DerefSink() = default;

  /// Prepares for a payload of `total_size` bytes whose type tag is `type_tag` (e.g. "bytes",
  /// "tensor.npy"). Called once, from one thread.
  [[nodiscard]] virtual Status Begin(std::uint64_t total_size, std::string_view type_tag) = 0;

  /// Stores `bytes` at `offset` of the payload. `offset + bytes.size() <= total_size` always
  /// holds. Thread-safe for disjoint ranges: the client may call it concurrently from several
  /// threads, never with overlapping ranges. `bytes` is valid only during the call.
  [[nodiscard]] virtual Status Write(std::uint64_t offset, std::span<const std::uint8_t> bytes) = 0;

  /// Completes the payload (flush, close, ...). Called once, from one thread, after every Write
  /// returned.
  [[nodiscard]] virtual Status Finish() = 0;
};

/// Collects the payload in a host `std::vector<std::uint8_t>`, sized once at Begin; each Write is
/// one memcpy at its offset. Begin fails with kResourceExhausted when the vector cannot be
/// allocated. Thread safety: as DerefSink (disjoint concurrent Writes); read `data()` only after
/// Finish.
class HostBufferSink final : public DerefSink {
 public:
  HostBufferSink() = default;

  [[nodiscard]] Status Begin(std::uint64_t total_size, std::string_view type_tag) override;
  [[nodiscard]] Status Write(std::uint64_t offset, std::span<const std::uint8_t> bytes) override;
  [[nodiscard]] Status Finish() override;

  /// The payload (complete after a successful Finish).
  [[nodiscard]] const std::vector<std::uint8_t>& data() const { return data_; }
  /// Moves the payload out; the sink is empty afterwards.
  [[nodiscard]] std::vector<std::uint8_t> TakeData() { return std::move(data_); }
  /// The type tag given to Begin.
  [[nodiscard]] const std::string& type_tag() const { return type_tag_; }

 private:
  std::vector<std::uint8_t> data_;
  std::string type_tag_;
};

/// Writes the payload to a file: Begin creates or truncates `path` (mode 0644) and, for a regular
/// file, sets its size to `total_size` with ftruncate (other files, e.g. /dev/null, are written
/// as they are; they must support pwrite, so pipes do not work); each Write is a pwrite at its
/// offset (so parallel ranges land directly in place); Finish fsyncs and closes. The destructor
/// closes the file if Finish was not reached (the partial file stays). Every error message names
/// the path and the OS reason:
/// - Begin: kInvalidArgument when the file cannot be created (missing directory, permissions, a
///   directory, read-only file system); kResourceExhausted when the size cannot be reserved (no
///   space, file too large); kFailedPrecondition when Begin was already called.
/// - Write: kResourceExhausted on ENOSPC/EDQUOT/EFBIG, kUnknown on other I/O errors,
///   kFailedPrecondition when the file is not open.
/// - Finish: kUnknown when fsync or close fails, kFailedPrecondition when the file is not open.
/// Thread safety: as DerefSink.
class FileSink final : public DerefSink {
 public:
  /// The sink for `path`. Nothing is opened until Begin.
  explicit FileSink(std::string path);
  ~FileSink() override;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;
  FileSink(FileSink&&) = delete;
  FileSink& operator=(FileSink&&) = delete;

  [[nodiscard]] Status Begin(std::uint64_t total_size, std::string_view type_tag) override;
  [[nodiscard]] Status Write(std::uint64_t offset, std::span<const std::uint8_t> bytes) override;
  [[nodiscard]] Status Finish() override;

  [[nodiscard]] const std::string& path() const { return path_; }
  /// The type tag given to Begin.
  [[nodiscard]] const std::string& type_tag() const { return type_tag_; }

 private:
  std::string path_;
  std::string type_tag_;
  int fd_ = -1;
  bool begun_ = false;
};

}  // namespace blazen::client
