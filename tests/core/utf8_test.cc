// SPDX-License-Identifier: Apache-2.0
// Strict UTF-8 validation (the rules of Rust's str::from_utf8).

#include "core/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace blazen {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("é 日本 🚀"));
  EXPECT_TRUE(IsValidUtf8(std::string("nul\0inside", 10)));
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_TRUE(IsValidUtf8("\xEF\xBF\xBF"));      // U+FFFF
}

TEST(Utf8Test, RejectsMalformedSequencesAtTheirOffset) {
  struct Case {
    std::string text;
    std::size_t offset;
  };
  const Case cases[] = {
      {"ab\x80", 2},            // lone continuation byte
      {"\xC0\xAF", 0},          // overlong '/'
      {"\xC1\xBF", 0},          // overlong
      {"x\xE0\x80\xAF", 1},     // overlong 3-byte
      {"\xED\xA0\x80", 0},      // UTF-16 surrogate
      {"\xF0\x80\x80\xAF", 0},  // overlong 4-byte
      {"\xF4\x90\x80\x80", 0},  // above U+10FFFF
      {"\xF5\x80\x80\x80", 0},  // invalid lead byte
      {"\xFF", 0},              // invalid byte
      {"ok\xE6\x97", 2},        // truncated 3-byte sequence
      {"\xE6\x97\x41", 0},      // bad continuation
      {"\xF0\x9F\x9A", 0},      // truncated 4-byte sequence
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(IsValidUtf8(c.text));
    EXPECT_EQ(FindInvalidUtf8(c.text), c.offset) << c.text;
  }
}

}  // namespace
}  // namespace blazen
