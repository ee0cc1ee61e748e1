// SPDX-License-Identifier: Apache-2.0
// SessionValue::Lend on the host values and the default (a copy through Read): chunk lengths and
// bytes at every offset, views that keep the value and its charged bytes alive after a release,
// and the errors.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <numeric>
#include <vector>

#include "core/session_ref.h"
#include "core/tensor.h"
#include "tests/testing/status_matchers.h"

namespace blazen {
namespace {

using ::blazen::testing::StatusIs;

// A value with only Read: it gets the default Lend.
class ReadOnlyValue final : public SessionValue {
 public:
  explicit ReadOnlyValue(std::vector<std::uint8_t> bytes) : bytes_(std::move(bytes)) {}
  std::string_view type_tag() const override { return "bytes"; }
  std::uint64_t size_bytes() const override { return bytes_.size(); }
  std::string location() const override { return "host"; }
  Status Read(std::uint64_t offset, std::span<std::uint8_t> out) const override {
    ++reads;
    return HostBytesValue("bytes", bytes_).Read(offset, out);
  }
  mutable int reads = 0;

 private:
  std::vector<std::uint8_t> bytes_;
};

std::vector<std::uint8_t> Iota(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  std::iota(v.begin(), v.end(), std::uint8_t{7});
  return v;
}

// Lends the whole payload chunk by chunk and returns what came out, checking every chunk's size.
std::vector<std::uint8_t> LendAll(const RefLease& lease, std::size_t max) {
  std::vector<std::uint8_t> out;
  const std::uint64_t total = lease.value().size_bytes();
  while (out.size() < total) {
    Result<LentChunk> chunk = lease.Lend(out.size(), max);
    EXPECT_TRUE(chunk.ok()) << chunk.status();
    if (!chunk.ok()) break;
    EXPECT_GT(chunk->size(), 0u);
    EXPECT_LE(chunk->size(), max);
    out.insert(out.end(), chunk->data(), chunk->data() + chunk->size());
  }
  return out;
}

RefLease Leased(SessionRefRegistry& refs, std::shared_ptr<const SessionValue> value) {
  const Uuid key =
      refs.Insert(std::move(value), RefLifetime::kUntilExplicitDrop, {"run", {}}).value();
  return refs.Acquire(key).value();
}

TEST(LendTest, HostBytesLendViewsOfThemselvesWithoutCopying) {
  SessionRefRegistry refs;
  auto value = std::make_shared<HostBytesValue>("bytes", Iota(1000));
  const RefLease lease = Leased(refs, value);
  BLAZEN_ASSERT_OK_AND_ASSIGN(LentChunk chunk, lease.Lend(10, 100));
  EXPECT_EQ(chunk.size(), 100u);
  EXPECT_EQ(chunk.data(), value->bytes().data() + 10) << "a view, not a copy";
  BLAZEN_ASSERT_OK_AND_ASSIGN(LentChunk tail, lease.Lend(990, 100));
  EXPECT_EQ(tail.size(), 10u);
  for (std::size_t max : {1u, 7u, 999u, 1000u, 5000u}) {
    EXPECT_EQ(LendAll(lease, max), Iota(1000)) << max;
  }
}

TEST(LendTest, TheDefaultCopiesThroughRead) {
  SessionRefRegistry refs;
  auto value = std::make_shared<ReadOnlyValue>(Iota(300));
  const RefLease lease = Leased(refs, value);
  EXPECT_TRUE(value->lend_may_block()) << "a Read of unknown cost may block";
  EXPECT_EQ(LendAll(lease, 64), Iota(300));
  EXPECT_EQ(value->reads, 5);  // 64 * 4 + 44
}

TEST(LendTest, HostTensorsLendTheHeaderThenTheData) {
  std::vector<std::uint8_t> data(4 * 6);
  std::iota(data.begin(), data.end(), std::uint8_t{1});
  BLAZEN_ASSERT_OK_AND_ASSIGN(auto tensor, HostTensorValue::Create(DType::kF32, {2, 3}, data));
  EXPECT_FALSE(tensor->lend_may_block());
  SessionRefRegistry refs;
  const RefLease lease = Leased(refs, tensor);
  const std::size_t header = tensor->header().size();
  BLAZEN_ASSERT_OK_AND_ASSIGN(LentChunk first, lease.Lend(0, 1 << 20));
  EXPECT_EQ(first.size(), header) << "a chunk never spans the header and the data";
  BLAZEN_ASSERT_OK_AND_ASSIGN(LentChunk rest, lease.Lend(header, 1 << 20));
  EXPECT_EQ(rest.size(), data.size());
  EXPECT_EQ(rest.data(), tensor->data().data());
  std::vector<std::uint8_t> expected(tensor->size_bytes());
  BLAZEN_ASSERT_OK(tensor->Read(0, expected));
  for (std::size_t max : {1u, 3u, 16u, 1u << 20}) EXPECT_EQ(LendAll(lease, max), expected) << max;
}

TEST(LendTest, AChunkKeepsTheValueAndItsBytesChargedAfterRelease) {
  SessionRefRegistry refs;
  std::weak_ptr<HostBytesValue> watch;
  std::optional<LentChunk> chunk;
  Uuid key;
  {
    auto value = std::make_shared<HostBytesValue>("bytes", Iota(4096));
    watch = value;
    key = refs.Insert(std::move(value), RefLifetime::kUntilExplicitDrop, {"run", {}}).value();
    RefLease lease = refs.Acquire(key).value();
    chunk = lease.Lend(0, 4096).value();
  }
  ASSERT_TRUE(refs.Release(key));
  EXPECT_FALSE(watch.expired()) << "the chunk holds the value";
  EXPECT_EQ(refs.Stats().resident_bytes_by_location.at("host"), 4096u)
      << "its bytes stay charged like a lease's";
  EXPECT_EQ(chunk->bytes()[100], Iota(4096)[100]);
  chunk.reset();
  EXPECT_TRUE(watch.expired());
  EXPECT_EQ(refs.Stats().resident_bytes_by_location["host"], 0u);
}

TEST(LendTest, OutOfRangeAndEmptyRequestsAreErrors) {
  SessionRefRegistry refs;
  const RefLease lease = Leased(refs, std::make_shared<HostBytesValue>("bytes", Iota(10)));
  EXPECT_THAT(lease.Lend(10, 1), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(lease.Lend(11, 1), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(lease.Lend(0, 0), StatusIs(StatusCode::kOutOfRange));
  const RefLease copy = Leased(refs, std::make_shared<ReadOnlyValue>(Iota(10)));
  EXPECT_THAT(copy.Lend(10, 1), StatusIs(StatusCode::kOutOfRange));
}

}  // namespace
}  // namespace blazen
