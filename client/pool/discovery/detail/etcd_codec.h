// SPDX-License-Identifier: Apache-2.0
#pragma once
// The encodings of etcd's v3 JSON gateway and of the registration values: base64 (keys and values
// travel base64-encoded), the range end of a prefix, int64 fields sent as strings or numbers, the
// splitting of the watch stream into JSON objects, and the JSON value a peer registers.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "client/pool/discovery/discovery.h"
#include "core/status.h"

namespace blazen::client::pool::detail {

/// Standard base64 (RFC 4648, with padding).
[[nodiscard]] std::string Base64Encode(std::string_view bytes);
/// Inverse of Base64Encode; kInvalidArgument for a character outside the alphabet or a bad length.
[[nodiscard]] Result<std::string> Base64Decode(std::string_view text);

/// The smallest key greater than every key starting with `prefix` (etcd's `range_end` of a prefix
/// range): the prefix with trailing 0xff bytes dropped and its last byte incremented; "\0" (all
/// keys) when nothing is left.
[[nodiscard]] std::string PrefixRangeEnd(std::string_view prefix);

/// Reads `object[name]` as an int64 written either as a JSON string of digits (how the gateway
/// writes int64) or as a number. `fallback` when absent; kInvalidArgument when malformed.
[[nodiscard]] Result<std::int64_t> Int64Field(const nlohmann::json& object, std::string_view name,
                                              std::int64_t fallback = 0);

/// JSON text a peer registers: {"endpoint","node_id","labels","capacity_weight"} (the last only
/// when set).
[[nodiscard]] std::string EncodePeerValue(const DiscoveredPeer& peer);
/// Parses a registered value. kInvalidArgument for anything but a JSON object with a non-empty
/// string "endpoint", an optional string "node_id", optional string-valued "labels" and an
/// optional positive finite "capacity_weight". Unknown fields are ignored. Never throws.
[[nodiscard]] Result<DiscoveredPeer> DecodePeerValue(std::string_view text);

/// Cuts a byte stream into its top-level JSON objects, whatever the chunking: an object may be
/// split across Feed calls, and several may arrive in one. Bytes between objects (whitespace,
/// newlines, commas, brackets) are skipped. Externally synchronized.
class JsonObjectSplitter {
 public:
  /// Most bytes one object may have before Feed fails.
  static constexpr std::size_t kMaxObjectBytes = std::size_t{64} << 20;

  /// Appends `bytes` and calls `on_object` with the text of every object completed by them, in
  /// order. Stops early (returning OK) when `on_object` returns false. kResourceExhausted when an
  /// object grows past kMaxObjectBytes.
  [[nodiscard]] Status Feed(std::string_view bytes,
                            const std::function<bool(std::string_view)>& on_object);

  /// Bytes held of an incomplete object.
  [[nodiscard]] std::size_t buffered() const { return buffer_.size(); }

 private:
  std::string buffer_;  // the incomplete object, from its '{'
  int depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
};

}  // namespace blazen::client::pool::detail
