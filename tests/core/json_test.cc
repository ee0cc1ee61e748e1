// SPDX-License-Identifier: Apache-2.0
// Tests for the depth-limited JSON parse and the non-throwing dump.

#include "core/json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace blazen {
namespace {

using ::blazen::testing::IsOk;
using ::blazen::testing::StatusIs;
using ::testing::HasSubstr;
using Json = nlohmann::json;

std::string Nested(const std::string& open, const std::string& close, int depth) {
  std::string text;
  for (int i = 0; i < depth; ++i) text += open;
  for (int i = 0; i < depth; ++i) text += close;
  return text;
}

TEST(JsonParseTest, ParsesDocument) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      Json value, ParseJson(R"( {"a": [1, -2, 3.5, "x\u00e9", null, true], "b": {"c": {}}} )"));
  EXPECT_EQ(value["a"][0].get<std::uint64_t>(), 1u);
  EXPECT_EQ(value["a"][1].get<std::int64_t>(), -2);
  EXPECT_EQ(value["a"][2].get<double>(), 3.5);
  EXPECT_EQ(value["a"][3].get<std::string>(), "x\xc3\xa9");
  EXPECT_TRUE(value["a"][4].is_null());
  EXPECT_TRUE(value["a"][5].get<bool>());
  EXPECT_TRUE(value["b"]["c"].is_object());
  EXPECT_EQ(value["b"]["c"].size(), 0u);
}

TEST(JsonParseTest, DepthAtLimitIsAcceptedOneMoreIsRejected) {
  EXPECT_THAT(ParseJson(Nested("[", "]", 3), 3), IsOk());
  EXPECT_THAT(ParseJson(Nested("[", "]", 4), 3),
              StatusIs(StatusCode::kInvalidArgument, "JSON nesting depth exceeds 3"));
  EXPECT_THAT(ParseJson(R"({"a":{"b":[1]}})", 3), IsOk());
  EXPECT_THAT(ParseJson(R"({"a":{"b":[[1]]}})", 3),
              StatusIs(StatusCode::kInvalidArgument, "JSON nesting depth exceeds 3"));
  EXPECT_THAT(ParseJson("7", 0), IsOk());
  EXPECT_THAT(ParseJson("[]", 0), StatusIs(StatusCode::kInvalidArgument));
}

TEST(JsonParseTest, DefaultDepthIs64) {
  EXPECT_EQ(kDefaultMaxJsonDepth, 64);
  EXPECT_THAT(ParseJson(Nested("[", "]", 64)), IsOk());
  EXPECT_THAT(ParseJson(Nested("[", "]", 65)),
              StatusIs(StatusCode::kInvalidArgument, "JSON nesting depth exceeds 64"));
}

TEST(JsonParseTest, MillionDeepArrayIsRejectedWithoutCrashing) {
  const std::string open(1'000'000, '[');
  EXPECT_THAT(ParseJson(open),
              StatusIs(StatusCode::kInvalidArgument, "JSON nesting depth exceeds 64"));
  EXPECT_THAT(ParseJson(Nested("[", "]", 1'000'000)),
              StatusIs(StatusCode::kInvalidArgument, "JSON nesting depth exceeds 64"));
  EXPECT_THAT(ParseJsonWithByteArrays(open),
              StatusIs(StatusCode::kInvalidArgument, "JSON nesting depth exceeds 64"));
}

TEST(JsonParseTest, DeepObjectNestingIsRejected) {
  std::string text;
  for (int i = 0; i < 100'000; ++i) text += R"({"a":)";
  text += "1";
  text += std::string(100'000, '}');
  EXPECT_THAT(ParseJson(text),
              StatusIs(StatusCode::kInvalidArgument, "JSON nesting depth exceeds 64"));
}

TEST(JsonParseTest, BracketsInsideStringsDoNotCount) {
  const std::string text = R"(["[[[[{{{{", "\"[[[[", "\\", "]]]]"])";
  BLAZEN_ASSERT_OK_AND_ASSIGN(Json value, ParseJson(text, 1));
  ASSERT_EQ(value.size(), 4u);
  EXPECT_EQ(value[0].get<std::string>(), "[[[[{{{{");
  EXPECT_EQ(value[1].get<std::string>(), "\"[[[[");
  EXPECT_EQ(value[2].get<std::string>(), "\\");
  EXPECT_EQ(value[3].get<std::string>(), "]]]]");
}

TEST(JsonParseTest, MalformedTextIsInvalidArgumentWithParserMessage) {
  for (const char* text : {"", "not json", "{", "[1,]", "1 2", "{\"a\" 1}", "[1, 2", "tru", "01"}) {
    SCOPED_TRACE(text);
    EXPECT_THAT(ParseJson(text), StatusIs(StatusCode::kInvalidArgument, HasSubstr("parse error")));
    EXPECT_THAT(ParseJsonWithByteArrays(text),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("parse error")));
  }
}

TEST(JsonParseTest, InvalidUtf8IsRejected) {
  for (const char* text : {"\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
                           "{\"k\xfe\":1}", "[1,\xff]", "\"\\ud800\""}) {
    SCOPED_TRACE(text);
    EXPECT_THAT(ParseJson(text), StatusIs(StatusCode::kInvalidArgument));
  }
  EXPECT_THAT(ParseJson("\"\xe2\x82\xac\""), IsOk());
}

TEST(JsonParseTest, DuplicateKeysKeepTheLastValue) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(Json value, ParseJson(R"({"a":1,"a":2})"));
  EXPECT_EQ(value.dump(), R"({"a":2})");
}

TEST(JsonParseTest, ByteArraysBecomeBinaryValues) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      Json value,
      ParseJsonWithByteArrays(
          R"({"a":[1,2,255],"b":[1,256],"c":[],"d":["x"],"e":[[0],[ 7 , 10 ]],"f":"[1,2]",)"
          R"("g":[1.5],"h":[-1],"i":[1e2],"j":[0,true]})"));
  ASSERT_TRUE(value["a"].is_binary());
  EXPECT_EQ(value["a"].get_binary(), (std::vector<std::uint8_t>{1, 2, 255}));
  EXPECT_TRUE(value["b"].is_array());
  EXPECT_EQ(value["b"].dump(), "[1,256]");
  EXPECT_TRUE(value["c"].is_array());
  EXPECT_TRUE(value["d"].is_array());
  ASSERT_TRUE(value["e"].is_array());
  ASSERT_EQ(value["e"].size(), 2u);
  ASSERT_TRUE(value["e"][0].is_binary());
  EXPECT_EQ(value["e"][0].get_binary(), (std::vector<std::uint8_t>{0}));
  ASSERT_TRUE(value["e"][1].is_binary());
  EXPECT_EQ(value["e"][1].get_binary(), (std::vector<std::uint8_t>{7, 10}));
  EXPECT_EQ(value["f"].get<std::string>(), "[1,2]");
  EXPECT_EQ(value["g"].dump(), "[1.5]");
  EXPECT_EQ(value["h"].dump(), "[-1]");
  EXPECT_EQ(value["i"].dump(), "[100.0]");
  EXPECT_EQ(value["j"].dump(), "[0,true]");

  BLAZEN_ASSERT_OK_AND_ASSIGN(Json top, ParseJsonWithByteArrays(" [9,8]\n"));
  ASSERT_TRUE(top.is_binary());
  EXPECT_EQ(top.get_binary(), (std::vector<std::uint8_t>{9, 8}));
}

TEST(JsonParseTest, ByteArraysInsideStringsStayText) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(Json value, ParseJsonWithByteArrays(R"(["\"[1,2]", [3]])"));
  EXPECT_EQ(value[0].get<std::string>(), "\"[1,2]");
  ASSERT_TRUE(value[1].is_binary());
  EXPECT_EQ(value[1].get_binary(), (std::vector<std::uint8_t>{3}));
}

TEST(JsonParseTest, ByteArrayDocumentErrorsMatchPlainParse) {
  const std::string text = R"({"a":[1,2,3],"b":[4,5],"c":tru})";
  const Result<Json> plain = ParseJson(text);
  ASSERT_THAT(plain, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(ParseJsonWithByteArrays(text).status(), plain.status());
  // An array that only looks like bytes where no value may stand.
  EXPECT_THAT(ParseJsonWithByteArrays(R"({"a" [1,2]})"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseJsonWithByteArrays(R"([1,2] [3])"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(JsonDumpTest, IsCompactWithSortedKeys) {
  const Json value = {{"b", {1, 2}}, {"a", "x"}, {"c", {{"d", nullptr}}}};
  EXPECT_EQ(DumpJson(value), R"({"a":"x","b":[1,2],"c":{"d":null}})");
}

TEST(JsonDumpTest, ReplacesInvalidUtf8InsteadOfThrowing) {
  const Json value = std::string(
      "a\xff"
      "b");
  EXPECT_EQ(DumpJson(value),
            "\"a\xef\xbf\xbd"
            "b\"");
}

}  // namespace
}  // namespace blazen
