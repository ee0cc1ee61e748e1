// SPDX-License-Identifier: Apache-2.0
// Host-memory and file deref sinks: out-of-order and concurrent disjoint writes, file contents,
// and clean errors for unusable paths.

#include "client/deref_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "core/peer_error.h"
#include "tests/testing/status_matchers.h"

namespace blazen::client {
namespace {

using ::blazen::testing::StatusIs;
using ::testing::HasSubstr;

std::vector<std::uint8_t> Pattern(std::size_t n) {
  std::vector<std::uint8_t> b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i % 251);
  return b;
}

std::span<const std::uint8_t> Slice(const std::vector<std::uint8_t>& b, std::size_t offset,
                                    std::size_t n) {
  return std::span<const std::uint8_t>(b).subspan(offset, n);
}

std::filesystem::path TempDir() {
  const char* base = std::getenv("BLAZEN_TEST_TMPDIR");
  std::filesystem::path dir =
      std::filesystem::path(base ? base : std::filesystem::temp_directory_path().string()) /
      ("client-sink-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

std::vector<std::uint8_t> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

TEST(HostBufferSinkTest, OutOfOrderWritesLandAtTheirOffsets) {
  const std::vector<std::uint8_t> payload = Pattern(1000);
  HostBufferSink sink;
  BLAZEN_ASSERT_OK(sink.Begin(payload.size(), "bytes"));
  EXPECT_EQ(sink.data().size(), payload.size());
  EXPECT_EQ(sink.type_tag(), "bytes");
  BLAZEN_EXPECT_OK(sink.Write(700, Slice(payload, 700, 300)));
  BLAZEN_EXPECT_OK(sink.Write(0, Slice(payload, 0, 200)));
  BLAZEN_EXPECT_OK(sink.Write(400, Slice(payload, 400, 300)));
  BLAZEN_EXPECT_OK(sink.Write(200, Slice(payload, 200, 200)));
  BLAZEN_EXPECT_OK(sink.Write(1000, {}));  // empty write at the end is fine
  BLAZEN_ASSERT_OK(sink.Finish());
  EXPECT_EQ(sink.data(), payload);
  EXPECT_EQ(sink.TakeData(), payload);
}

TEST(HostBufferSinkTest, ConcurrentDisjointWrites) {
  const std::vector<std::uint8_t> payload = Pattern(1 << 20);
  HostBufferSink sink;
  BLAZEN_ASSERT_OK(sink.Begin(payload.size(), "bytes"));
  std::vector<std::thread> threads;
  constexpr std::size_t kThreads = 8;
  const std::size_t share = payload.size() / kThreads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t at = t * share; at < (t + 1) * share; at += 4096) {
        EXPECT_TRUE(sink.Write(at, Slice(payload, at, 4096)).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  BLAZEN_ASSERT_OK(sink.Finish());
  EXPECT_EQ(sink.data(), payload);
}

TEST(HostBufferSinkTest, WriteOutsideThePayloadIsRejected) {
  HostBufferSink sink;
  BLAZEN_ASSERT_OK(sink.Begin(10, "bytes"));
  const std::vector<std::uint8_t> b = Pattern(5);
  EXPECT_THAT(sink.Write(6, b), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(sink.Write(~std::uint64_t{0}, b), StatusIs(StatusCode::kOutOfRange));
}

TEST(HostBufferSinkTest, EmptyPayload) {
  HostBufferSink sink;
  BLAZEN_ASSERT_OK(sink.Begin(0, ""));
  BLAZEN_ASSERT_OK(sink.Finish());
  EXPECT_TRUE(sink.data().empty());
}

TEST(FileSinkTest, WritesThePayloadAtItsOffsets) {
  const std::filesystem::path path = TempDir() / "payload.bin";
  const std::vector<std::uint8_t> payload = Pattern(3 * 4096 + 17);
  {
    FileSink sink(path.string());
    EXPECT_EQ(sink.path(), path.string());
    BLAZEN_ASSERT_OK(sink.Begin(payload.size(), "tensor.npy"));
    EXPECT_EQ(std::filesystem::file_size(path), payload.size());  // sized up front
    EXPECT_EQ(sink.type_tag(), "tensor.npy");
    BLAZEN_EXPECT_OK(sink.Write(8192, Slice(payload, 8192, payload.size() - 8192)));
    BLAZEN_EXPECT_OK(sink.Write(0, Slice(payload, 0, 4096)));
    BLAZEN_EXPECT_OK(sink.Write(4096, Slice(payload, 4096, 4096)));
    BLAZEN_ASSERT_OK(sink.Finish());
  }
  EXPECT_EQ(ReadFile(path), payload);
  std::filesystem::remove(path);
}

TEST(FileSinkTest, TruncatesAnExistingFile) {
  const std::filesystem::path path = TempDir() / "truncate.bin";
  std::ofstream(path) << std::string(10000, 'z');
  FileSink sink(path.string());
  BLAZEN_ASSERT_OK(sink.Begin(3, "bytes"));
  const std::vector<std::uint8_t> b = {1, 2, 3};
  BLAZEN_ASSERT_OK(sink.Write(0, b));
  BLAZEN_ASSERT_OK(sink.Finish());
  EXPECT_EQ(ReadFile(path), b);
  std::filesystem::remove(path);
}

TEST(FileSinkTest, UnwritablePathFailsCleanlyNamingThePath) {
  const std::string missing_dir = (TempDir() / "no-such-dir" / "payload.bin").string();
  FileSink sink(missing_dir);
  const Status status = sink.Begin(10, "bytes");
  EXPECT_THAT(status, StatusIs(StatusCode::kInvalidArgument, HasSubstr(missing_dir)));
  // The sink stays usable as an object: writes and finish fail, destruction is fine.
  EXPECT_THAT(sink.Write(0, Pattern(1)), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(sink.Finish(), StatusIs(StatusCode::kFailedPrecondition));
  // A public-edge caller gets the matching PeerError.
  EXPECT_THROW(ThrowIfError(status), InvalidArgumentError);

  const std::string directory = TempDir().string();
  FileSink on_directory(directory);
  EXPECT_THAT(on_directory.Begin(10, "bytes"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr(directory)));
}

TEST(FileSinkTest, NonRegularFileIsWrittenWithoutSizing) {
  FileSink sink("/dev/null");
  BLAZEN_ASSERT_OK(sink.Begin(1 << 20, "bytes"));
  BLAZEN_ASSERT_OK(sink.Write(4096, Pattern(4096)));
  BLAZEN_ASSERT_OK(sink.Finish());
}

TEST(FileSinkTest, BeginTwiceIsRejected) {
  const std::filesystem::path path = TempDir() / "twice.bin";
  FileSink sink(path.string());
  BLAZEN_ASSERT_OK(sink.Begin(1, "bytes"));
  EXPECT_THAT(sink.Begin(1, "bytes"), StatusIs(StatusCode::kFailedPrecondition));
  std::filesystem::remove(path);
}

TEST(FileSinkTest, AbandonedSinkClosesItsFile) {
  const std::filesystem::path path = TempDir() / "abandoned.bin";
  {
    FileSink sink(path.string());
    BLAZEN_ASSERT_OK(sink.Begin(100, "bytes"));
    BLAZEN_ASSERT_OK(sink.Write(0, Pattern(10)));
  }  // no Finish: the destructor closes the descriptor, the partial file stays
  EXPECT_EQ(std::filesystem::file_size(path), 100u);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace blazen::client
