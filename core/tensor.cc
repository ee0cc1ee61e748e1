// SPDX-License-Identifier: Apache-2.0
// DType helpers, the NPY v1.0 header writer and the host tensor value served on deref.

#include "core/tensor.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

namespace blazen {
namespace {

// numpy/lib/format.py: headers are padded so the data starts on a 64-byte boundary, and numpy
// leaves room for the first axis to grow to GROWTH_AXIS_MAX_DIGITS digits.
constexpr std::size_t kNpyArrayAlign = 64;
constexpr std::size_t kNpyGrowthAxisMaxDigits = 21;
constexpr std::size_t kNpyPreambleSize = 10;  // magic (6) + version (2) + uint16 length (2)

std::string_view NpyDescr(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "<f4";
    case DType::kF16:
      return "<f2";
    case DType::kI32:
      return "<i4";
    case DType::kI64:
      return "<i8";
    case DType::kU8:
      return "|u1";
  }
  return "|V1";
}

}  // namespace

std::size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 4;
    case DType::kF16:
      return 2;
    case DType::kI32:
      return 4;
    case DType::kI64:
      return 8;
    case DType::kU8:
      return 1;
  }
  return 1;
}

std::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "f32";
    case DType::kF16:
      return "f16";
    case DType::kI32:
      return "i32";
    case DType::kI64:
      return "i64";
    case DType::kU8:
      return "u8";
  }
  return "unknown";
}

Result<DType> ParseDType(std::string_view name) {
  for (DType dtype : {DType::kF32, DType::kF16, DType::kI32, DType::kI64, DType::kU8}) {
    if (name == DTypeName(dtype)) return dtype;
  }
  return Status::InvalidArgument("unknown dtype '" + std::string(name) +
                                 "'; expected f32, f16, i32, i64 or u8");
}

std::string NpyHeader(DType dtype, std::span<const std::int64_t> shape) {
  // The dict text, as Python's repr of the sorted header dict: a 1-tuple keeps its comma.
  std::string dict = "{'descr': '";
  dict += NpyDescr(dtype);
  dict += "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) dict += ", ";
    dict += std::to_string(shape[i]);
  }
  if (shape.size() == 1) dict += ',';
  dict += "), }";
  if (!shape.empty()) {
    const std::size_t digits = std::to_string(shape[0]).size();
    if (digits < kNpyGrowthAxisMaxDigits) dict.append(kNpyGrowthAxisMaxDigits - digits, ' ');
  }
  // numpy: hlen = len(dict) + 1 ('\n'); padlen = ALIGN - ((preamble + hlen) % ALIGN). Note this
  // pads a full 64 bytes when the header is already aligned, exactly as numpy does.
  const std::size_t hlen = dict.size() + 1;
  const std::size_t padlen = kNpyArrayAlign - ((kNpyPreambleSize + hlen) % kNpyArrayAlign);
  const std::size_t header_len = hlen + padlen;  // fits 16 bits for <= kNpyMaxDims dims

  std::string out;
  out.reserve(kNpyPreambleSize + header_len);
  out.append("\x93NUMPY", 6);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header_len & 0xFF));
  out.push_back(static_cast<char>((header_len >> 8) & 0xFF));
  out += dict;
  out.append(padlen, ' ');
  out.push_back('\n');
  return out;
}

Result<std::uint64_t> TensorElementCount(DType dtype, std::span<const std::int64_t> shape) {
  if (shape.size() > kNpyMaxDims) {
    return Status::InvalidArgument("tensor has " + std::to_string(shape.size()) +
                                   " dims; at most " + std::to_string(kNpyMaxDims) +
                                   " are supported");
  }
  bool has_zero = false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) {
      return Status::InvalidArgument("tensor dim " + std::to_string(i) + " is negative (" +
                                     std::to_string(shape[i]) + ")");
    }
    has_zero = has_zero || shape[i] == 0;
  }
  if (has_zero) return std::uint64_t{0};  // (0, huge, huge) is a valid empty tensor
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t item = DTypeSize(dtype);
  std::uint64_t count = 1;
  for (std::int64_t dim : shape) {
    const auto d = static_cast<std::uint64_t>(dim);
    if (count > kMax / d) {
      return Status::InvalidArgument("tensor element count overflows 64 bits");
    }
    count *= d;
  }
  if (count > kMax / item) {
    return Status::InvalidArgument("tensor byte size overflows 64 bits");
  }
  return count;
}

Result<std::shared_ptr<HostTensorValue>> HostTensorValue::Create(DType dtype,
                                                                 std::vector<std::int64_t> shape,
                                                                 std::vector<std::uint8_t> data) {
  BLAZEN_ASSIGN_OR_RETURN(const std::uint64_t count, TensorElementCount(dtype, shape));
  const std::uint64_t expected = count * DTypeSize(dtype);  // no overflow: checked above
  if (data.size() != expected) {
    return Status::InvalidArgument("tensor data has " + std::to_string(data.size()) +
                                   " bytes; shape and dtype " + std::string(DTypeName(dtype)) +
                                   " need " + std::to_string(expected));
  }
  return std::shared_ptr<HostTensorValue>(
      new HostTensorValue(dtype, std::move(shape), std::move(data)));
}

HostTensorValue::HostTensorValue(DType dtype, std::vector<std::int64_t> shape,
                                 std::vector<std::uint8_t> data)
    : dtype_(dtype),
      shape_(std::move(shape)),
      data_(std::move(data)),
      header_(NpyHeader(dtype_, shape_)) {}

std::uint64_t HostTensorValue::size_bytes() const {
  return static_cast<std::uint64_t>(header_.size()) + data_.size();
}

Status HostTensorValue::Read(std::uint64_t offset, std::span<std::uint8_t> out) const {
  const std::uint64_t size = size_bytes();
  if (offset > size || out.size() > size - offset) {
    return Status::OutOfRange("read of " + std::to_string(out.size()) + " bytes at offset " +
                              std::to_string(offset) + " exceeds payload size " +
                              std::to_string(size));
  }
  std::size_t written = 0;
  const std::uint64_t header_size = header_.size();
  if (offset < header_size) {
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(header_size - offset, out.size()));
    std::memcpy(out.data(), header_.data() + offset, n);
    written = n;
    offset += n;
  }
  if (written < out.size()) {
    // Here offset >= header_size, and the range check above keeps it inside data_.
    const auto data_offset = static_cast<std::size_t>(offset - header_size);
    std::memcpy(out.data() + written, data_.data() + data_offset, out.size() - written);
  }
  return Status::Ok();
}

}  // namespace blazen
