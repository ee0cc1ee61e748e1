// SPDX-License-Identifier: Apache-2.0
// DType helpers, the NPY v1.0 header writer and the host tensor value served on deref.

#include "core/tensor.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <optional>
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

constexpr std::uint64_t kNpyMaxHeaderBytes = std::uint64_t{1} << 20;

// The value text after `'key':` in an NPY header dict (leading spaces skipped), or empty.
std::string_view DictValue(std::string_view dict, std::string_view key) {
  std::string quoted;
  quoted.reserve(key.size() + 3);
  quoted.append("'").append(key).append("':");
  const std::size_t at = dict.find(quoted);
  if (at == std::string_view::npos) return {};
  std::string_view rest = dict.substr(at + quoted.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return rest;
}

// The quoted string at the start of `text` ('...' or "..."), without its quotes.
std::optional<std::string_view> QuotedPrefix(std::string_view text) {
  if (text.empty() || (text.front() != '\'' && text.front() != '"')) return std::nullopt;
  const std::size_t end = text.find(text.front(), 1);
  if (end == std::string_view::npos) return std::nullopt;
  return text.substr(1, end - 1);
}

}  // namespace

std::uint64_t NpyHeaderBytesNeeded(std::span<const std::uint8_t> prefix) {
  constexpr std::size_t kLongestPreamble = 12;
  if (prefix.size() >= 6 && std::memcmp(prefix.data(), "\x93NUMPY", 6) != 0) return 0;
  if (prefix.size() < kLongestPreamble) return kLongestPreamble;
  const std::uint8_t major = prefix[6];
  if (major < 1 || major > 3) return 0;
  const std::size_t length_size = major == 1 ? 2 : 4;
  std::uint64_t header_length = 0;
  for (std::size_t i = length_size; i-- > 0;) header_length = (header_length << 8) | prefix[8 + i];
  return 8 + length_size + header_length;
}

Result<NpyInfo> ParseNpyHeader(std::span<const std::uint8_t> prefix) {
  const auto bad = [](const std::string& why) { return Status::InvalidArgument(why); };
  // The magic, or as much of it as there is (memcmp must not see an empty span's null data).
  const std::size_t magic = std::min<std::size_t>(prefix.size(), 6);
  const bool magic_ok = magic == 0 || std::memcmp(prefix.data(), "\x93NUMPY", magic) == 0;
  if (!magic_ok) return bad("not an NPY file (no \\x93NUMPY magic)");
  if (prefix.size() < 10) return bad("truncated NPY header");
  const std::uint8_t major = prefix[6];
  if (major < 1 || major > 3) {
    return bad("unsupported NPY format version " + std::to_string(major) + "." +
               std::to_string(prefix[7]));
  }
  const std::size_t length_size = major == 1 ? 2 : 4;
  if (prefix.size() < 8 + length_size) return bad("truncated NPY header");
  std::uint64_t header_length = 0;
  for (std::size_t i = length_size; i-- > 0;) header_length = (header_length << 8) | prefix[8 + i];
  if (header_length > kNpyMaxHeaderBytes) {
    return bad("NPY header length " + std::to_string(header_length) + " exceeds 1 MiB");
  }
  const std::uint64_t data_offset = 8 + length_size + header_length;
  if (prefix.size() < data_offset) return bad("truncated NPY header");
  const std::string_view dict(reinterpret_cast<const char*>(prefix.data()) + 8 + length_size,
                              static_cast<std::size_t>(header_length));

  NpyInfo info;
  info.data_offset = data_offset;
  const std::optional<std::string_view> descr = QuotedPrefix(DictValue(dict, "descr"));
  if (!descr) return bad("NPY header has no 'descr'");
  bool known = false;
  for (DType dtype : {DType::kF32, DType::kF16, DType::kI32, DType::kI64, DType::kU8}) {
    if (*descr == NpyDescr(dtype) || (dtype == DType::kU8 && *descr == "<u1")) {
      info.dtype = dtype;
      known = true;
    }
  }
  if (!known) {
    return bad("unsupported NPY dtype '" + std::string(*descr) +
               "'; expected '<f4', '<f2', '<i4', '<i8' or '|u1'");
  }
  const std::string_view order = DictValue(dict, "fortran_order");
  if (order.substr(0, 4) == "True") return bad("Fortran-order NPY arrays are not supported");
  if (order.substr(0, 5) != "False") return bad("NPY header has no 'fortran_order'");

  std::string_view shape = DictValue(dict, "shape");
  const std::size_t close = shape.find(')');
  if (shape.empty() || shape.front() != '(' || close == std::string_view::npos) {
    return bad("NPY header has no readable 'shape'");
  }
  std::string_view list = shape.substr(1, close - 1);
  while (!list.empty()) {
    while (!list.empty() && (list.front() == ' ' || list.front() == ',')) list.remove_prefix(1);
    if (list.empty()) break;
    std::int64_t dim = 0;
    const auto [end, ec] = std::from_chars(list.data(), list.data() + list.size(), dim);
    if (ec != std::errc() || dim < 0) return bad("NPY header has an invalid 'shape'");
    if (info.shape.size() == kNpyMaxDims) {
      return bad("NPY array has more than " + std::to_string(kNpyMaxDims) + " dims");
    }
    info.shape.push_back(dim);
    list.remove_prefix(static_cast<std::size_t>(end - list.data()));
  }
  BLAZEN_ASSIGN_OR_RETURN(const std::uint64_t count, TensorElementCount(info.dtype, info.shape));
  info.data_bytes = count * DTypeSize(info.dtype);
  return info;
}

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

Result<LentChunk> HostTensorValue::Lend(std::uint64_t offset, std::size_t max_bytes,
                                        std::shared_ptr<const void> keepalive,
                                        const LendOptions& /*options*/) const {
  BLAZEN_ASSIGN_OR_RETURN(const std::size_t n, LendLength(offset, max_bytes));
  const std::uint64_t header_size = header_.size();
  if (offset < header_size) {  // a view of the header, ending where it ends
    const auto in_header =
        static_cast<std::size_t>(std::min<std::uint64_t>(header_size - offset, n));
    return LentChunk(reinterpret_cast<const std::uint8_t*>(header_.data()) + offset, in_header,
                     std::move(keepalive));
  }
  return LentChunk(data_.data() + (offset - header_size), n, std::move(keepalive));
}

}  // namespace blazen
