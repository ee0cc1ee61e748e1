// SPDX-License-Identifier: Apache-2.0
// .npy and .safetensors embedding-table files.

#include "server/embedding_table_file.h"

#include <array>
#include <cstring>
#include <fstream>
#include <limits>
#include <span>
#include <string_view>

#include "core/json.h"
#include "core/tensor.h"
#include "kernels/half.h"

namespace blazen::server {
namespace {

using json = nlohmann::json;

// safetensors caps its JSON header at 100 MB; our tables need a few hundred bytes.
constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;
constexpr std::size_t kNpyProbeBytes = 4096;

std::size_t ElementSize(TableElement element) { return element == TableElement::kF32 ? 4 : 2; }

float Bf16ToFloat(std::uint16_t bits) {
  const std::uint32_t wide = static_cast<std::uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, sizeof(value));
  return value;
}

Status Bad(const std::string& path, const std::string& why) {
  return Status::InvalidArgument("embedding table " + path + ": " + why);
}

Result<std::uint64_t> FileSize(std::ifstream& file) {
  file.seekg(0, std::ios::end);
  const std::streamoff end = file.tellg();
  file.seekg(0);
  if (end < 0) return Status::InvalidArgument("cannot size the file");
  return static_cast<std::uint64_t>(end);
}

Status CheckShape(const std::string& path, const std::vector<std::int64_t>& shape) {
  if (shape.size() != 2 || shape[0] < 1 || shape[1] < 1) {
    std::string dims;
    for (std::int64_t d : shape) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    return Bad(path, "the table must be a non-empty 2-D array, got shape [" + dims + "]");
  }
  return Status::Ok();
}

Result<TableFileInfo> InspectNpy(const std::string& path, std::ifstream& file,
                                 std::uint64_t file_size) {
  std::vector<std::uint8_t> head(static_cast<std::size_t>(
      std::min<std::uint64_t>(file_size, static_cast<std::uint64_t>(kNpyProbeBytes))));
  file.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  const std::uint64_t needed = NpyHeaderBytesNeeded(head);
  if (needed > head.size() && needed <= file_size && needed <= (std::uint64_t{1} << 20) + 12) {
    head.resize(static_cast<std::size_t>(needed));
    file.seekg(0);
    file.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  }
  Result<NpyInfo> npy = ParseNpyHeader(head);
  if (!npy.ok()) return Bad(path, npy.status().message());
  TableFileInfo info;
  info.path = path;
  info.format = "npy";
  if (npy->dtype == DType::kF32) {
    info.element = TableElement::kF32;
  } else if (npy->dtype == DType::kF16) {
    info.element = TableElement::kF16;
  } else {
    return Bad(path, "dtype must be '<f4' or '<f2', got " + std::string(DTypeName(npy->dtype)));
  }
  BLAZEN_RETURN_IF_ERROR(CheckShape(path, npy->shape));
  info.rows = npy->shape[0];
  info.cols = npy->shape[1];
  info.data_offset = npy->data_offset;
  if (file_size != npy->data_offset + npy->data_bytes) {
    return Bad(path, "file size " + std::to_string(file_size) + " does not match shape [" +
                         std::to_string(info.rows) + ", " + std::to_string(info.cols) + "]");
  }
  return info;
}

Result<TableFileInfo> InspectSafetensors(const std::string& path, std::ifstream& file,
                                         std::uint64_t file_size, const std::string& tensor_name) {
  std::array<unsigned char, 8> length_bytes{};
  if (file_size < 8 || !file.read(reinterpret_cast<char*>(length_bytes.data()), 8)) {
    return Bad(path, "neither an .npy nor a .safetensors file (too short)");
  }
  std::uint64_t header_length = 0;
  for (std::size_t i = 8; i-- > 0;) header_length = (header_length << 8) | length_bytes[i];
  if (header_length < 2 || header_length > kMaxSafetensorsHeader || header_length > file_size - 8) {
    return Bad(path, "neither an .npy nor a .safetensors file (header length " +
                         std::to_string(header_length) + " out of range)");
  }
  std::string header(static_cast<std::size_t>(header_length), '\0');
  if (!file.read(header.data(), static_cast<std::streamsize>(header.size()))) {
    return Bad(path, "truncated safetensors header");
  }
  Result<json> parsed = ParseJson(header);
  if (!parsed.ok() || !parsed->is_object()) {
    return Bad(path, "safetensors header is not a JSON object" +
                         (parsed.ok() ? std::string() : ": " + parsed.status().message()));
  }
  std::vector<std::string> names;
  for (const auto& [name, entry] : parsed->items()) {
    if (name != "__metadata__") names.push_back(name);
  }
  std::string chosen = tensor_name;
  if (chosen.empty()) {
    if (names.size() != 1) {
      std::string list;
      for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
      return Bad(path, "holds " + std::to_string(names.size()) +
                           " tensors; name the table's tensor (one of: " + list + ")");
    }
    chosen = names.front();
  } else if (chosen == "__metadata__" || !parsed->contains(chosen)) {
    return Bad(path, "has no tensor named '" + chosen + "'");
  }
  const json& entry = (*parsed)[chosen];
  const auto field_error = [&](const std::string& what) {
    return Bad(path, "tensor '" + chosen + "': " + what);
  };
  if (!entry.is_object() || !entry.contains("dtype") || !entry["dtype"].is_string() ||
      !entry.contains("shape") || !entry["shape"].is_array() || !entry.contains("data_offsets") ||
      !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2) {
    return field_error("needs \"dtype\", \"shape\" and two \"data_offsets\"");
  }
  TableFileInfo info;
  info.path = path;
  info.format = "safetensors";
  info.tensor_name = chosen;
  const std::string dtype = entry["dtype"].get<std::string>();
  if (dtype == "F32") {
    info.element = TableElement::kF32;
  } else if (dtype == "F16") {
    info.element = TableElement::kF16;
  } else if (dtype == "BF16") {
    info.element = TableElement::kBF16;
  } else {
    return field_error("dtype must be F32, F16 or BF16, got " + dtype);
  }
  std::vector<std::int64_t> shape;
  for (const json& d : entry["shape"]) {
    if (!d.is_number_unsigned() ||
        d.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
      return field_error("shape entries must be non-negative integers below 2^31");
    }
    shape.push_back(d.get<std::int64_t>());
  }
  BLAZEN_RETURN_IF_ERROR(CheckShape(path, shape));
  Result<std::uint64_t> count = TensorElementCount(DType::kF32, shape);  // overflow-checked
  if (!count.ok()) return field_error(count.status().message());
  info.rows = shape[0];
  info.cols = shape[1];
  const json& offsets = entry["data_offsets"];
  if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned()) {
    return field_error("data_offsets must be non-negative integers");
  }
  const std::uint64_t begin = offsets[0].get<std::uint64_t>();
  const std::uint64_t end = offsets[1].get<std::uint64_t>();
  const std::uint64_t data_start = 8 + header_length;
  const std::uint64_t expected = *count * ElementSize(info.element);
  if (end < begin || end - begin != expected) {
    return field_error("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                       ") do not hold the " + std::to_string(expected) + " bytes of its shape");
  }
  if (end > file_size - data_start) {
    return field_error("data_offsets end " + std::to_string(end) + " lies past the file's " +
                       std::to_string(file_size - data_start) + " data bytes");
  }
  info.data_offset = data_start + begin;
  return info;
}

}  // namespace

Result<TableFileInfo> InspectTableFile(const std::string& path, const std::string& tensor_name) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status::NotFound("cannot open embedding table " + path);
  Result<std::uint64_t> size = FileSize(file);
  if (!size.ok()) return Bad(path, size.status().message());
  char magic[6] = {};
  const bool npy = *size >= 6 && file.read(magic, 6) && std::memcmp(magic, "\x93NUMPY", 6) == 0;
  file.clear();
  file.seekg(0);
  if (npy) {
    if (!tensor_name.empty())
      return Bad(path, "an .npy file holds one array; drop the tensor name");
    return InspectNpy(path, file, *size);
  }
  return InspectSafetensors(path, file, *size, tensor_name);
}

Result<std::vector<float>> ReadTableFile(const TableFileInfo& info) {
  const auto count = static_cast<std::size_t>(info.rows) * static_cast<std::size_t>(info.cols);
  const std::size_t element_size = ElementSize(info.element);
  std::vector<float> data;
  std::vector<std::uint16_t> half;
  try {
    data.resize(count);
    if (info.element != TableElement::kF32) half.resize(count);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("cannot allocate " + std::to_string(count * sizeof(float)) +
                                     " host bytes for embedding table " + info.path);
  }
  std::ifstream file(info.path, std::ios::binary);
  file.seekg(static_cast<std::streamoff>(info.data_offset));
  char* target = info.element == TableElement::kF32 ? reinterpret_cast<char*>(data.data())
                                                    : reinterpret_cast<char*>(half.data());
  if (!file || !file.read(target, static_cast<std::streamsize>(count * element_size))) {
    return Status::InvalidArgument("cannot read embedding table " + info.path);
  }
  if (info.element == TableElement::kF16) {
    for (std::size_t i = 0; i < count; ++i) data[i] = kernels::HalfToFloat(half[i]);
  } else if (info.element == TableElement::kBF16) {
    for (std::size_t i = 0; i < count; ++i) data[i] = Bf16ToFloat(half[i]);
  }
  return data;
}

}  // namespace blazen::server
