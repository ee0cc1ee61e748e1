// SPDX-License-Identifier: Apache-2.0
#pragma once
// CUDA streams: CudaStream owns one, StreamView is the non-owning handle every allocating or
// copying function of gpu/ takes (STYLE.md section 4). On the host fallback both wrap the null
// handle and synchronizing is a no-op, so the same code runs with or without a device.

#include <type_traits>

#include "core/status.h"

namespace blazen::gpu {

/// A non-owning view of a CUDA stream (a `cudaStream_t` held as `void*`), or of the null stream
/// (the CUDA legacy default stream; on the host fallback, "no stream"). Trivially copyable;
/// pass it by value. The viewed stream must outlive every use of the view.
/// Thread-safe (it is a value; the stream itself may be used from any thread).
class StreamView {
 public:
  /// The null stream.
  constexpr StreamView() noexcept = default;
  /// A view of `handle` (a `cudaStream_t`); nullptr means the null stream.
  constexpr explicit StreamView(void* handle) noexcept : handle_(handle) {}

  /// The viewed `cudaStream_t` as `void*` (nullptr for the null stream).
  [[nodiscard]] constexpr void* handle() const noexcept { return handle_; }
  /// True for the null stream.
  [[nodiscard]] constexpr bool is_null() const noexcept { return handle_ == nullptr; }

  /// Blocks until all work enqueued on the stream so far has completed. On a machine without a
  /// usable device (host fallback) nothing can be enqueued, and this returns OK at once.
  /// Returns kInternal when the device reports an error (e.g. a failed kernel on this stream).
  [[nodiscard]] Status Synchronize() const;

  friend constexpr bool operator==(StreamView a, StreamView b) noexcept {
    return a.handle_ == b.handle_;
  }

 private:
  void* handle_ = nullptr;
};

static_assert(std::is_trivially_copyable_v<StreamView>);

/// Owns one CUDA stream (non-blocking with respect to the legacy default stream), or nothing (the
/// null stream) when default-constructed, moved from, or created on the host fallback. Move-only;
/// destroying it destroys the stream after the work already enqueued on it completes (CUDA's
/// cudaStreamDestroy semantics). Externally synchronized for moves and destruction; views of it
/// may be used from any thread.
class CudaStream {
 public:
  /// The null stream; owns nothing.
  CudaStream() noexcept = default;
  ~CudaStream();
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  /// Takes the stream of `other`, which becomes the null stream.
  CudaStream(CudaStream&& other) noexcept;
  /// Destroys the owned stream (if any), then takes the stream of `other`.
  CudaStream& operator=(CudaStream&& other) noexcept;

  /// Creates a stream on the calling thread's current device. Without a usable device (host-only
  /// build, or the runtime reports no driver / no device) returns a CudaStream owning nothing,
  /// whose view is the null stream: the host fallback. kInternal (or kResourceExhausted) when
  /// the runtime fails to create a stream on a usable device.
  [[nodiscard]] static Result<CudaStream> Create();

  /// A non-owning view of the stream.
  [[nodiscard]] StreamView view() const noexcept { return StreamView(handle_); }
  /// The `cudaStream_t` as `void*`; nullptr when this owns no stream.
  [[nodiscard]] void* handle() const noexcept { return handle_; }
  /// True when this owns no stream (its view is the null stream).
  [[nodiscard]] bool is_null() const noexcept { return handle_ == nullptr; }
  /// Same as view().Synchronize().
  [[nodiscard]] Status Synchronize() const { return view().Synchronize(); }

 private:
  explicit CudaStream(void* handle) noexcept : handle_(handle) {}
  void Reset() noexcept;

  void* handle_ = nullptr;
};

}  // namespace blazen::gpu
