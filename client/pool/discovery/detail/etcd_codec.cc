// SPDX-License-Identifier: Apache-2.0
// Base64, prefix ranges, int64 fields, the watch stream splitter and the registration value.

#include "client/pool/discovery/detail/etcd_codec.h"

#include <array>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/json.h"

namespace blazen::client::pool::detail {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int, 256> MakeDecodeTable() {
  std::array<int, 256> table{};
  for (int& v : table) v = -1;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
  }
  return table;
}
constexpr std::array<int, 256> kDecode = MakeDecodeTable();

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1]))
                                << 8 |
                            static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t left = bytes.size() - i;
  if (left > 0) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (left == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += left == 2 ? kAlphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return Status::InvalidArgument("base64 length is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int pad = 0;
    std::uint32_t v = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (c == '=' && last && j >= 2) {
        ++pad;
        v <<= 6;
        continue;
      }
      const int d = kDecode[static_cast<unsigned char>(c)];
      if (d < 0 || pad > 0) return Status::InvalidArgument("invalid base64 text");
      v = v << 6 | static_cast<std::uint32_t>(d);
    }
    out += static_cast<char>(v >> 16 & 0xff);
    if (pad < 2) out += static_cast<char>(v >> 8 & 0xff);
    if (pad < 1) out += static_cast<char>(v & 0xff);
  }
  return out;
}

std::string PrefixRangeEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return std::string(1, '\0');
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

Result<std::int64_t> Int64Field(const nlohmann::json& object, std::string_view name,
                                std::int64_t fallback) {
  if (!object.is_object()) return fallback;
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return fallback;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_string()) {
    const std::string& text = it->get_ref<const std::string&>();
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) return value;
  }
  return Status::InvalidArgument("field '" + std::string(name) + "' is not an int64");
}

std::string EncodePeerValue(const DiscoveredPeer& peer) {
  nlohmann::json value = {
      {"endpoint", peer.endpoint}, {"node_id", peer.node_id}, {"labels", nlohmann::json::object()}};
  for (const auto& [key, label] : peer.labels) value["labels"][key] = label;
  if (peer.capacity_weight) value["capacity_weight"] = *peer.capacity_weight;
  return DumpJson(value);
}

Result<DiscoveredPeer> DecodePeerValue(std::string_view text) {
  BLAZEN_ASSIGN_OR_RETURN(const nlohmann::json value, ParseJson(text));
  if (!value.is_object()) return Status::InvalidArgument("peer value is not a JSON object");
  DiscoveredPeer peer;
  const auto endpoint = value.find("endpoint");
  if (endpoint == value.end() || !endpoint->is_string() ||
      endpoint->get_ref<const std::string&>().empty()) {
    return Status::InvalidArgument("peer value has no endpoint string");
  }
  peer.endpoint = endpoint->get<std::string>();
  if (const auto node_id = value.find("node_id"); node_id != value.end() && !node_id->is_null()) {
    if (!node_id->is_string()) return Status::InvalidArgument("peer value's node_id is no string");
    peer.node_id = node_id->get<std::string>();
  }
  if (const auto labels = value.find("labels"); labels != value.end() && !labels->is_null()) {
    if (!labels->is_object()) return Status::InvalidArgument("peer value's labels is no object");
    for (const auto& [key, label] : labels->items()) {
      if (!label.is_string()) {
        return Status::InvalidArgument("peer value's label '" + key + "' is no string");
      }
      peer.labels[key] = label.get<std::string>();
    }
  }
  if (const auto weight = value.find("capacity_weight");
      weight != value.end() && !weight->is_null()) {
    if (!weight->is_number()) {
      return Status::InvalidArgument("peer value's capacity_weight is no number");
    }
    const double w = weight->get<double>();
    if (!std::isfinite(w) || !(w > 0)) {
      return Status::InvalidArgument("peer value's capacity_weight is not positive");
    }
    peer.capacity_weight = w;
  }
  return peer;
}

Status JsonObjectSplitter::Feed(std::string_view bytes,
                                const std::function<bool(std::string_view)>& on_object) {
  for (const char c : bytes) {
    if (depth_ == 0) {
      // Between objects: skip separators until the next object opens.
      if (c != '{') continue;
      buffer_.clear();
    }
    buffer_ += c;
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if (c == '}' || c == ']') {
      if (--depth_ == 0) {
        const std::string object = std::move(buffer_);
        buffer_.clear();
        if (!on_object(object)) return Status::Ok();
      }
    }
    if (buffer_.size() > kMaxObjectBytes) {
      return Status::ResourceExhausted("a JSON object of the stream exceeds " +
                                       std::to_string(kMaxObjectBytes) + " bytes");
    }
  }
  return Status::Ok();
}

}  // namespace blazen::client::pool::detail
