// SPDX-License-Identifier: Apache-2.0
// The streamed deref's data path with values whose Lend blocks (as device values do): lends run
// on the deref executor, never on a gRPC thread; a slow lend does not hold up other calls; the
// bytes, offsets and chunk sizes are right; a client that cancels mid-stream stops the lends and
// lets the value go; a failing value ends the stream with INTERNAL naming the ref.

#include "server/transport/grpc/grpc_deref_stream.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "blazen/peer/v1/blazen_peer.grpc.pb.h"
#include "core/session_ref.h"
#include "server/peer_node.h"

namespace blazen::server {
namespace {

namespace pb = ::blazen::peer::v1;
using namespace std::chrono_literals;

std::uint8_t ByteAt(std::uint64_t i) { return static_cast<std::uint8_t>((i * 7 + 3) % 253); }

// A value that serves ByteAt(i), sleeps in every Read (the default Lend copies through Read, and
// says it may block), records whether each Read ran on the deref executor, and can fail.
class SlowValue final : public SessionValue {
 public:
  SlowValue(std::uint64_t size, std::chrono::milliseconds delay) : size_(size), delay_(delay) {}
  std::string_view type_tag() const override { return "slow.bytes"; }
  std::uint64_t size_bytes() const override { return size_; }
  std::string location() const override { return "host"; }
  Status Read(std::uint64_t offset, std::span<std::uint8_t> out) const override {
    ++reads;
    if (!grpc_transport::OnDerefExecutorThread()) ++reads_off_executor;
    std::this_thread::sleep_for(delay_);
    if (fail_at >= 0 && offset >= static_cast<std::uint64_t>(fail_at)) {
      return Status::Internal("device went away");
    }
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = ByteAt(offset + i);
    return Status::Ok();
  }
  mutable std::atomic<int> reads{0};
  mutable std::atomic<int> reads_off_executor{0};
  std::int64_t fail_at = -1;

 private:
  std::uint64_t size_;
  std::chrono::milliseconds delay_;
};

class GrpcDerefStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PeerNodeOptions options;
    options.node_id = "deref-stream-test";
    options.listen_address = "127.0.0.1:0";
    options.stream_buffers = 3;
    auto node = PeerNode::Start(options);
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = std::move(node).value();
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    stub_ = pb::BlazenPeer::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(node_->port()), grpc::InsecureChannelCredentials(), args));
  }

  Uuid Insert(std::shared_ptr<SlowValue> value) {
    return node_->session_refs()
        .Insert(std::move(value), RefLifetime::kUntilExplicitDrop, {"test-run", {}})
        .value();
  }

  std::unique_ptr<PeerNode> node_;
  std::unique_ptr<pb::BlazenPeer::Stub> stub_;
};

TEST_F(GrpcDerefStreamTest, BlockingLendsRunOnTheExecutorAndDeliverEveryByte) {
  const std::uint64_t size = 5 * 65536 + 123;
  auto value = std::make_shared<SlowValue>(size, 5ms);
  const Uuid key = Insert(value);
  grpc::ClientContext ctx;
  pb::DerefStreamRequest req;
  req.set_ref_uuid(key.ToString());
  req.set_envelope_version(1);
  req.set_offset(100);
  req.set_chunk_bytes(65536);
  auto reader = stub_->DerefSessionRefStream(&ctx, req);
  pb::DerefChunk chunk;
  std::uint64_t next = 100;
  int chunks = 0;
  while (reader->Read(&chunk)) {
    ASSERT_EQ(chunk.offset(), next);
    ASSERT_EQ(chunk.total_size(), size);
    ASSERT_EQ(chunk.type_tag(), "slow.bytes");
    ASSERT_LE(chunk.data().size(), 65536u);
    for (std::size_t i = 0; i < chunk.data().size(); ++i) {
      ASSERT_EQ(static_cast<std::uint8_t>(chunk.data()[i]), ByteAt(next + i)) << next + i;
    }
    next += chunk.data().size();
    ++chunks;
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(next, size);
  EXPECT_EQ(chunks, 6);
  EXPECT_EQ(value->reads.load(), 6);
  EXPECT_EQ(value->reads_off_executor.load(), 0) << "a lend that may block ran on a gRPC thread";
}

TEST_F(GrpcDerefStreamTest, ASlowLendDoesNotHoldUpOtherCalls) {
  auto value = std::make_shared<SlowValue>(2 * 65536, 800ms);
  const Uuid key = Insert(value);
  auto slow = std::async(std::launch::async, [&] {
    grpc::ClientContext ctx;
    pb::DerefStreamRequest req;
    req.set_ref_uuid(key.ToString());
    req.set_envelope_version(1);
    req.set_chunk_bytes(65536);
    auto reader = stub_->DerefSessionRefStream(&ctx, req);
    pb::DerefChunk chunk;
    std::uint64_t got = 0;
    while (reader->Read(&chunk)) got += chunk.data().size();
    EXPECT_TRUE(reader->Finish().ok());
    return got;
  });
  std::this_thread::sleep_for(50ms);  // the stream is now waiting on its first lend
  for (int i = 0; i < 5; ++i) {
    grpc::ClientContext ctx;
    pb::DescribePeerRequest req;
    req.set_envelope_version(1);
    pb::DescribePeerResponse out;
    ASSERT_TRUE(stub_->DescribePeer(&ctx, req, &out).ok());
  }
  EXPECT_EQ(value->reads.load(), 1) << "other calls were answered while the first lend slept";
  EXPECT_EQ(slow.get(), 2u * 65536);
}

TEST_F(GrpcDerefStreamTest, CancellingMidStreamStopsLendingAndFreesTheValue) {
  auto value = std::make_shared<SlowValue>(200 * 65536, 20ms);
  std::weak_ptr<SlowValue> watch = value;
  const Uuid key = Insert(std::move(value));
  {
    grpc::ClientContext ctx;
    pb::DerefStreamRequest req;
    req.set_ref_uuid(key.ToString());
    req.set_envelope_version(1);
    req.set_chunk_bytes(65536);
    auto reader = stub_->DerefSessionRefStream(&ctx, req);
    pb::DerefChunk chunk;
    ASSERT_TRUE(reader->Read(&chunk));
    ctx.TryCancel();
    while (reader->Read(&chunk)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  ASSERT_TRUE(node_->session_refs().Release(key));
  // The stream's last lend and slices go away shortly after; then nothing holds the value. Had
  // the stream gone on lending, the value would live for the 4 s its 200 reads take.
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (!watch.expired() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(watch.expired()) << "a cancelled stream kept lending and held the value";
}

TEST_F(GrpcDerefStreamTest, AFailingValueEndsTheStreamWithInternal) {
  auto value = std::make_shared<SlowValue>(4 * 65536, 1ms);
  value->fail_at = 2 * 65536;
  const Uuid key = Insert(value);
  grpc::ClientContext ctx;
  pb::DerefStreamRequest req;
  req.set_ref_uuid(key.ToString());
  req.set_envelope_version(1);
  req.set_chunk_bytes(65536);
  auto reader = stub_->DerefSessionRefStream(&ctx, req);
  pb::DerefChunk chunk;
  std::uint64_t got = 0;
  while (reader->Read(&chunk)) got += chunk.data().size();
  const grpc::Status st = reader->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(st.error_message().find(key.ToString()), std::string::npos) << st.error_message();
  EXPECT_EQ(got, 2u * 65536);
}

}  // namespace
}  // namespace blazen::server
