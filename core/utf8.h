// SPDX-License-Identifier: Apache-2.0
#pragma once
// Strict UTF-8 validation with the rules of Rust's `str::from_utf8` (no overlong forms, no
// surrogates, nothing above U+10FFFF). Every String field of the wire format is checked with it.

#include <cstddef>
#include <string_view>

namespace blazen {

/// Returns the byte offset of the first invalid UTF-8 sequence in `text`, or `text.size()` when the
/// whole text is valid.
[[nodiscard]] std::size_t FindInvalidUtf8(std::string_view text);

/// True when `text` is valid UTF-8.
[[nodiscard]] inline bool IsValidUtf8(std::string_view text) {
  return FindInvalidUtf8(text) == text.size();
}

}  // namespace blazen
