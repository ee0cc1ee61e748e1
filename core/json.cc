// SPDX-License-Identifier: Apache-2.0
// Depth-limited JSON parsing (a bracket pre-scan, then nlohmann's parser) and non-throwing dumps.

#include "core/json.h"

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <utility>
#include <vector>

namespace blazen {
namespace {

using Json = nlohmann::json;

// A byte array cut out of the text by the pre-scan. `ordinal` counts the arrays of the document in
// the order of their `[`, which is also the order in which the parser reports them.
struct ByteArray {
  std::size_t ordinal;
  std::vector<std::uint8_t> bytes;
};

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Matches a non-empty array of integer literals 0-255 starting at `text[pos] == '['`. Returns the
// position just past its `]` and the values in `bytes`, or nothing when anything else (another
// literal, a value above 255, a leading zero, a fraction) is in the array.
std::optional<std::size_t> MatchByteArray(std::string_view text, std::size_t pos,
                                          std::vector<std::uint8_t>& bytes) {
  bytes.clear();
  const std::size_t n = text.size();
  std::size_t i = pos + 1;
  auto skip_space = [&] {
    while (i < n && IsJsonSpace(text[i])) ++i;
  };
  skip_space();
  while (true) {
    if (i >= n || !IsDigit(text[i])) return std::nullopt;
    unsigned value = static_cast<unsigned>(text[i++] - '0');
    if (value != 0) {
      for (int k = 0; k < 2 && i < n && IsDigit(text[i]); ++k) {
        value = value * 10 + static_cast<unsigned>(text[i++] - '0');
      }
    }
    // A digit left over (a leading zero, a fourth digit) fails the `,` / `]` check below.
    if (value > 255) return std::nullopt;
    bytes.push_back(static_cast<std::uint8_t>(value));
    skip_space();
    if (i >= n) return std::nullopt;
    if (text[i] == ']') return i + 1;
    if (text[i] != ',') return std::nullopt;
    ++i;
    skip_space();
  }
}

// One pass over the brackets outside string literals: enforces `max_depth` without building
// anything. When `arrays` is given, it also cuts every byte array out of the text, writing the text
// with each of them replaced by `[]` to `*rewritten` (left empty when none was found).
//
// The scan trusts the text to be JSON; where it is not, the parser that runs next rejects it. A
// replaced array is itself well-formed, so the rewritten text is valid exactly when the original
// is.
Status ScanJson(std::string_view text, int max_depth, std::vector<ByteArray>* arrays,
                std::string* rewritten) {
  int depth = 0;
  bool in_string = false;
  std::size_t ordinal = 0;
  std::size_t copied = 0;  // text[0, copied) is already in *rewritten
  std::vector<std::uint8_t> bytes;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        if (++depth > max_depth) {
          return Status::InvalidArgument("JSON nesting depth exceeds " + std::to_string(max_depth));
        }
        if (c == '[') {
          if (arrays != nullptr) {
            if (const auto end = MatchByteArray(text, i, bytes)) {
              rewritten->append(text.substr(copied, i - copied)).append("[]");
              copied = *end;
              arrays->push_back({ordinal, std::move(bytes)});
              bytes = {};
              --depth;
              i = *end - 1;
            }
          }
          ++ordinal;
        }
        break;
      case '}':
      case ']':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  if (arrays != nullptr && !arrays->empty()) rewritten->append(text.substr(copied));
  return Status::Ok();
}

Result<Json> Parse(std::string_view text, const Json::parser_callback_t& callback) {
  try {
    return Json::parse(text.begin(), text.end(), callback);
  } catch (const Json::exception& e) {
    return Status::InvalidArgument(e.what());
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory while parsing JSON");
  }
}

}  // namespace

Result<Json> ParseJson(std::string_view text, int max_depth) {
  BLAZEN_RETURN_IF_ERROR(ScanJson(text, max_depth, nullptr, nullptr));
  return Parse(text, nullptr);
}

Result<Json> ParseJsonWithByteArrays(std::string_view text, int max_depth) {
  std::vector<ByteArray> arrays;
  std::string rewritten;
  try {
    BLAZEN_RETURN_IF_ERROR(ScanJson(text, max_depth, &arrays, &rewritten));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory while parsing JSON");
  }
  if (arrays.empty()) return Parse(text, nullptr);

  std::vector<std::size_t> open;  // ordinals of the arrays being parsed, innermost last
  std::size_t next_ordinal = 0;
  std::size_t next_array = 0;  // byte arrays end in the order they start: none nests another array
  auto restore = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::array_start) {
      open.push_back(next_ordinal++);
    } else if (event == Json::parse_event_t::array_end) {
      const std::size_t ordinal = open.back();
      open.pop_back();
      if (next_array < arrays.size() && arrays[next_array].ordinal == ordinal) {
        parsed = Json::binary(std::move(arrays[next_array++].bytes));
      }
    }
    return true;
  };
  Result<Json> parsed = Parse(rewritten, restore);
  // Report errors against the caller's text, not the rewritten one (positions would differ).
  if (!parsed.ok()) return Parse(text, nullptr);
  return parsed;
}

std::string DumpJson(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace blazen
