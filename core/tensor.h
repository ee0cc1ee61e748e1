// SPDX-License-Identifier: Apache-2.0
#pragma once
// Tensor element types and the NPY v1.0 payload format of `tensor.npy` session refs (DESIGN.md
// section 5): a deref returns an .npy file, header first, then the raw little-endian data.
// HostTensorValue is the host-memory tensor value; device tensors (gpu/) reuse NpyHeader.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/session_ref.h"
#include "core/status.h"

namespace blazen {

/// Type tag of every tensor session ref; the payload is an NPY v1.0 file.
inline constexpr std::string_view kTensorNpyTypeTag = "tensor.npy";

/// Most dimensions a tensor may have (numpy 1.x's NPY_MAXDIMS); keeps every header within NPY
/// v1.0's 16-bit header length.
inline constexpr std::size_t kNpyMaxDims = 32;

/// Element type of a tensor. Multi-byte types are stored little-endian.
enum class DType : std::uint8_t { kF32, kF16, kI32, kI64, kU8 };

/// Bytes per element: 4, 2, 4, 8, 1.
[[nodiscard]] std::size_t DTypeSize(DType dtype);

/// "f32" | "f16" | "i32" | "i64" | "u8".
[[nodiscard]] std::string_view DTypeName(DType dtype);

/// Parses a name produced by DTypeName; anything else is kInvalidArgument listing the accepted
/// names.
[[nodiscard]] Result<DType> ParseDType(std::string_view name);

/// The NPY format v1.0 header, byte for byte as numpy (1.23 and later) writes it for a C-order
/// array of `dtype` and `shape`: magic "\x93NUMPY", version 1.0, little-endian uint16 header
/// length, then `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`, numpy's spare
/// space for growing the first axis, and space padding ended by '\n' so that the total size is a
/// multiple of 64. Requires non-negative dims and shape.size() <= kNpyMaxDims (what
/// HostTensorValue::Create validates). Pure; thread-safe.
[[nodiscard]] std::string NpyHeader(DType dtype, std::span<const std::int64_t> shape);

/// What an NPY header says about the array that follows it.
struct NpyInfo {
  DType dtype = DType::kF32;
  std::vector<std::int64_t> shape;
  /// Byte offset of the data: preamble plus header length.
  std::uint64_t data_offset = 0;
  /// Size of the data in bytes (element count times DTypeSize(dtype)).
  std::uint64_t data_bytes = 0;
};

/// Parses the header of an NPY file (format versions 1.0 to 3.0) from its first bytes: `prefix`
/// may hold more than the header (e.g. a whole payload) but must hold all of it. Accepted: the
/// little-endian descrs '<f4', '<f2', '<i4', '<i8', '|u1' (also '<u1'), C order, at most
/// kNpyMaxDims non-negative dims. kInvalidArgument naming the problem otherwise ("not an NPY
/// file", "truncated NPY header", "unsupported dtype '>f8'", "Fortran-order arrays are not
/// supported", ...); header lengths above 1 MiB are refused. Pure; thread-safe.
[[nodiscard]] Result<NpyInfo> ParseNpyHeader(std::span<const std::uint8_t> prefix);

/// Bytes of `prefix` needed before ParseNpyHeader can succeed: 12 when fewer than 12 are given
/// (the longest preamble), else the preamble plus the header length the preamble announces, or 0
/// when `prefix` does not start like an NPY file. Pure.
[[nodiscard]] std::uint64_t NpyHeaderBytesNeeded(std::span<const std::uint8_t> prefix);

/// Number of elements of `shape` (1 for a 0-D shape). kInvalidArgument for a negative dim, more
/// than kNpyMaxDims dims, or a byte size (count * DTypeSize(dtype)) that does not fit in 64 bits.
[[nodiscard]] Result<std::uint64_t> TensorElementCount(DType dtype,
                                                       std::span<const std::int64_t> shape);

/// A C-order tensor in host memory, served as an NPY v1.0 payload (type tag "tensor.npy",
/// location "host"). Immutable after Create; thread-safe.
class HostTensorValue final : public SessionValue {
 public:
  /// Validates and wraps `data` (raw little-endian elements in C order). kInvalidArgument when a
  /// dim is negative, there are more than kNpyMaxDims dims, or data.size() is not the product of
  /// the dims times DTypeSize(dtype) (computed without overflow).
  [[nodiscard]] static Result<std::shared_ptr<HostTensorValue>> Create(
      DType dtype, std::vector<std::int64_t> shape, std::vector<std::uint8_t> data);

  [[nodiscard]] std::string_view type_tag() const override { return kTensorNpyTypeTag; }
  /// Header plus data bytes.
  [[nodiscard]] std::uint64_t size_bytes() const override;
  [[nodiscard]] std::string location() const override { return "host"; }
  /// Copies bytes [offset, offset + out.size()) of the NPY payload (header, then data) into
  /// `out`; any offset and length within size_bytes() works. kOutOfRange past the end.
  [[nodiscard]] Status Read(std::uint64_t offset, std::span<std::uint8_t> out) const override;
  /// A view of the header or of the data (a chunk never spans both); no copy, never blocks.
  [[nodiscard]] Result<LentChunk> Lend(std::uint64_t offset, std::size_t max_bytes,
                                       std::shared_ptr<const void> keepalive,
                                       const LendOptions& options) const override;
  [[nodiscard]] bool lend_may_block() const override { return false; }

  [[nodiscard]] DType dtype() const { return dtype_; }
  [[nodiscard]] const std::vector<std::int64_t>& shape() const { return shape_; }
  /// The raw element bytes (no header).
  [[nodiscard]] const std::vector<std::uint8_t>& data() const { return data_; }
  /// The NPY header that precedes data() in the payload.
  [[nodiscard]] const std::string& header() const { return header_; }

 private:
  HostTensorValue(DType dtype, std::vector<std::int64_t> shape, std::vector<std::uint8_t> data);

  DType dtype_;
  std::vector<std::int64_t> shape_;
  std::vector<std::uint8_t> data_;
  std::string header_;
};

}  // namespace blazen
