// SPDX-License-Identifier: Apache-2.0
// Tests for the bearer-token helpers: environment resolution, token files, the constant-time
// compare and the server-side header check.

#include "core/auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/status.h"
#include "tests/testing/status_matchers.h"

namespace blazen {
namespace {

namespace fs = std::filesystem;

using ::blazen::testing::IsOk;
using ::blazen::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::StartsWith;

/// Matches a Status that failed with kUnauthenticated, ErrorKind::kUnauthenticated and exactly the
/// message `message`.
MATCHER_P(IsUnauthenticated, message, "is UNAUTHENTICATED with kind unauthenticated") {
  *result_listener << "whose status is " << arg.ToString() << " (kind " << ErrorKindName(arg.kind())
                   << ") ";
  return arg.code() == StatusCode::kUnauthenticated && arg.kind() == ErrorKind::kUnauthenticated &&
         arg.message() == message;
}

// Sets (or, with nullopt, unsets) an environment variable for one scope and restores the previous
// state afterwards.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, std::optional<std::string> value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str()); old != nullptr) old_ = old;
    if (value.has_value()) {
      ::setenv(name_.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ScopedEnv(ScopedEnv&&) = delete;
  ScopedEnv& operator=(ScopedEnv&&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

const std::string kEnvName(kPeerTokenEnv);

TEST(PeerTokenEnvTest, HasUpstreamName) { EXPECT_EQ(kPeerTokenEnv, "BLAZEN_PEER_TOKEN"); }

TEST(ResolvePeerTokenTest, UnsetGivesNullopt) {
  ScopedEnv env(kEnvName, std::nullopt);
  EXPECT_EQ(ResolvePeerToken(), std::nullopt);
}

TEST(ResolvePeerTokenTest, EmptyGivesNullopt) {
  ScopedEnv env(kEnvName, "");
  EXPECT_EQ(ResolvePeerToken(), std::nullopt);
}

TEST(ResolvePeerTokenTest, NonEmptyIsReturnedVerbatim) {
  ScopedEnv env(kEnvName, " s3cret-token\n");
  EXPECT_EQ(ResolvePeerToken(), std::optional<std::string>(" s3cret-token\n"));
}

TEST(ResolvePeerTokenTest, InvalidUtf8GivesNullopt) {
  ScopedEnv env(kEnvName, "tok\xff\xfe");
  EXPECT_EQ(ResolvePeerToken(), std::nullopt);
}

TEST(ResolvePeerTokenTest, ValidUtf8IsAccepted) {
  ScopedEnv env(kEnvName, "t\xc3\xb6ken");
  EXPECT_EQ(ResolvePeerToken(), std::optional<std::string>("t\xc3\xb6ken"));
}

class ReadTokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::path parent = fs::temp_directory_path();
    if (const char* env = std::getenv("BLAZEN_TEST_TMPDIR"); env != nullptr && *env != '\0') {
      parent = env;
    }
    std::error_code ec;
    fs::create_directories(parent, ec);
    std::string templ = (parent / "blazen-auth-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr) << "mkdtemp failed under " << parent;
    dir_ = templ;
  }
  void TearDown() override {
    if (dir_.empty()) return;
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Write(std::string_view name, std::string_view contents) {
    std::ofstream out(dir_ / name, std::ios::binary | std::ios::trunc);
    out << contents;
    return (dir_ / name).string();
  }

  fs::path dir_;
};

TEST_F(ReadTokenFileTest, StripsTrailingNewline) {
  const std::string path = Write("token", "s3cret\n");
  BLAZEN_ASSERT_OK_AND_ASSIGN(std::string token, ReadTokenFile(path));
  EXPECT_EQ(token, "s3cret");
}

TEST_F(ReadTokenFileTest, StripsAllTrailingWhitespaceButKeepsTheRest) {
  const std::string path = Write("token", "  a b c \r\n\t \n");
  BLAZEN_ASSERT_OK_AND_ASSIGN(std::string token, ReadTokenFile(path));
  EXPECT_EQ(token, "  a b c");
}

TEST_F(ReadTokenFileTest, TokenWithoutNewlineIsUnchanged) {
  const std::string path = Write("token", "abc123");
  BLAZEN_ASSERT_OK_AND_ASSIGN(std::string token, ReadTokenFile(path));
  EXPECT_EQ(token, "abc123");
}

TEST_F(ReadTokenFileTest, MissingFileIsNotFoundNamingPath) {
  const std::string path = (dir_ / "absent").string();
  EXPECT_THAT(ReadTokenFile(path),
              StatusIs(StatusCode::kNotFound, Eq("failed to read token file " + path +
                                                 ": No such file or directory (os error 2)")));
}

TEST_F(ReadTokenFileTest, DirectoryIsInvalidArgumentNamingPath) {
  const std::string path = dir_.string();
  EXPECT_THAT(ReadTokenFile(path),
              StatusIs(StatusCode::kInvalidArgument,
                       StartsWith("failed to read token file " + path + ": ")));
}

TEST_F(ReadTokenFileTest, EmptyFileIsInvalidArgument) {
  const std::string path = Write("token", "");
  EXPECT_THAT(ReadTokenFile(path),
              StatusIs(StatusCode::kInvalidArgument, Eq("token file " + path + " is empty")));
}

TEST_F(ReadTokenFileTest, WhitespaceOnlyFileIsEmpty) {
  const std::string path = Write("token", " \n\r\n\t");
  EXPECT_THAT(ReadTokenFile(path),
              StatusIs(StatusCode::kInvalidArgument, Eq("token file " + path + " is empty")));
}

TEST_F(ReadTokenFileTest, InteriorNewlineIsRejected) {
  const std::string path = Write("token", "line1\nline2\n");
  EXPECT_THAT(ReadTokenFile(path),
              StatusIs(StatusCode::kInvalidArgument,
                       Eq("token file " + path + " contains a control character at byte 5")));
}

TEST_F(ReadTokenFileTest, OversizedFileIsRejected) {
  const std::string path = Write("token", std::string(64 * 1024 + 1, 'x'));
  EXPECT_THAT(ReadTokenFile(path),
              StatusIs(StatusCode::kInvalidArgument,
                       AllOf(StartsWith("failed to read token file " + path + ": "),
                             HasSubstr("os error 27"))));
}

TEST(TokensEqualTest, EqualTokens) {
  EXPECT_TRUE(TokensEqual("s3cret-token", "s3cret-token"));
  EXPECT_TRUE(TokensEqual(std::string(1000, 'k'), std::string(1000, 'k')));
}

TEST(TokensEqualTest, DifferAtFirstByte) { EXPECT_FALSE(TokensEqual("abcdef", "xbcdef")); }

TEST(TokensEqualTest, DifferAtLastByte) { EXPECT_FALSE(TokensEqual("abcdef", "abcdeg")); }

TEST(TokensEqualTest, DifferentLengths) {
  EXPECT_FALSE(TokensEqual("abc", "abcd"));
  EXPECT_FALSE(TokensEqual("abcd", "abc"));
}

TEST(TokensEqualTest, EmptyTokens) {
  EXPECT_TRUE(TokensEqual("", ""));
  EXPECT_FALSE(TokensEqual("", "a"));
  EXPECT_FALSE(TokensEqual("a", ""));
}

TEST(TokensEqualTest, EmbeddedNulBytesCount) {
  using std::string_view_literals::operator""sv;
  EXPECT_TRUE(TokensEqual("a\0b"sv, "a\0b"sv));
  EXPECT_FALSE(TokensEqual("a\0b"sv, "a\0c"sv));
  EXPECT_FALSE(TokensEqual("a\0b"sv, "a"sv));
}

TEST(CheckBearerTokenTest, CorrectTokenIsAccepted) {
  EXPECT_THAT(CheckBearerToken("Bearer s3cret", "s3cret"), IsOk());
}

TEST(CheckBearerTokenTest, MissingHeader) {
  EXPECT_THAT(CheckBearerToken(std::nullopt, "s3cret"),
              IsUnauthenticated("missing authorization header"));
}

TEST(CheckBearerTokenTest, OtherSchemeIsRejected) {
  EXPECT_THAT(CheckBearerToken("Basic czNjcmV0", "s3cret"),
              IsUnauthenticated("authorization header must use Bearer scheme"));
}

TEST(CheckBearerTokenTest, SchemeIsCaseSensitive) {
  EXPECT_THAT(CheckBearerToken("bearer s3cret", "s3cret"),
              IsUnauthenticated("authorization header must use Bearer scheme"));
}

TEST(CheckBearerTokenTest, SchemeWithoutSpaceIsRejected) {
  EXPECT_THAT(CheckBearerToken("Bearer", "s3cret"),
              IsUnauthenticated("authorization header must use Bearer scheme"));
  EXPECT_THAT(CheckBearerToken("Bearers3cret", "s3cret"),
              IsUnauthenticated("authorization header must use Bearer scheme"));
}

TEST(CheckBearerTokenTest, EmptyHeaderIsWrongScheme) {
  EXPECT_THAT(CheckBearerToken("", "s3cret"),
              IsUnauthenticated("authorization header must use Bearer scheme"));
}

TEST(CheckBearerTokenTest, BareTokenIsWrongScheme) {
  EXPECT_THAT(CheckBearerToken("s3cret", "s3cret"),
              IsUnauthenticated("authorization header must use Bearer scheme"));
}

TEST(CheckBearerTokenTest, WrongTokenIsMismatch) {
  EXPECT_THAT(CheckBearerToken("Bearer s3creT", "s3cret"), IsUnauthenticated("token mismatch"));
  EXPECT_THAT(CheckBearerToken("Bearer s3cret2", "s3cret"), IsUnauthenticated("token mismatch"));
  EXPECT_THAT(CheckBearerToken("Bearer ", "s3cret"), IsUnauthenticated("token mismatch"));
}

TEST(CheckBearerTokenTest, WhitespaceIsNotTrimmed) {
  EXPECT_THAT(CheckBearerToken("Bearer  s3cret", "s3cret"), IsUnauthenticated("token mismatch"));
  EXPECT_THAT(CheckBearerToken("Bearer s3cret ", "s3cret"), IsUnauthenticated("token mismatch"));
}

TEST(CheckBearerTokenTest, EmptyExpectedTokenMatchesNothing) {
  EXPECT_THAT(CheckBearerToken("Bearer ", ""), IsUnauthenticated("token mismatch"));
  EXPECT_THAT(CheckBearerToken("Bearer x", ""), IsUnauthenticated("token mismatch"));
}

}  // namespace
}  // namespace blazen
