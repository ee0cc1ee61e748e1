// SPDX-License-Identifier: Apache-2.0
#pragma once
// The one way JSON text is parsed and printed in this project. Parsing is depth-limited before any
// DOM is built, never throws, and rejects invalid UTF-8; printing never throws either. The
// HTTP/JSON codec (core/json_codec.h), workflow inputs and state all go through here.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.h"

namespace blazen {

/// Default limit on the nesting of arrays and objects accepted by ParseJson.
inline constexpr int kDefaultMaxJsonDepth = 64;

/// Parses `text` as one JSON value (RFC 8259; surrounding whitespace allowed, nothing else).
///
/// Nesting deeper than `max_depth` (counting each array and object, so `[]` is depth 1 and `1` is
/// depth 0) is rejected by a linear scan before the DOM is built, so hostile input such as a
/// million `[` neither recurses nor allocates. Strings must be valid UTF-8. Duplicate object keys
/// keep the last value.
///
/// Returns kInvalidArgument with "JSON nesting depth exceeds <max_depth>" for too deep input, with
/// the parser's message for any other malformed input (invalid UTF-8 included), and
/// kResourceExhausted when memory runs out. Never throws. Thread-safe.
[[nodiscard]] Result<nlohmann::json> ParseJson(std::string_view text,
                                               int max_depth = kDefaultMaxJsonDepth);

/// Like ParseJson, but every non-empty array whose elements are all integer literals 0-255 (e.g.
/// `[123,34,125]`) is returned as a binary value (`nlohmann::json::binary_t`) holding those bytes.
/// JSON text cannot produce a binary value otherwise, so a caller can tell the two apart. This is
/// for decoders of byte fields: a 16 MiB byte array is about 60 MB of text, which this reads with a
/// tight loop instead of one DOM node per byte. Same errors as ParseJson. Thread-safe.
[[nodiscard]] Result<nlohmann::json> ParseJsonWithByteArrays(std::string_view text,
                                                             int max_depth = kDefaultMaxJsonDepth);

/// Compact JSON text of `value` (no whitespace, object keys in the value's order). Invalid UTF-8 in
/// strings is replaced by U+FFFD rather than reported; binary values print as nlohmann's
/// `{"bytes":[...],"subtype":null}` object. Does not throw (short of running out of memory).
/// Thread-safe.
[[nodiscard]] std::string DumpJson(const nlohmann::json& value);

}  // namespace blazen
