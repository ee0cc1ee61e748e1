// SPDX-License-Identifier: Apache-2.0
// BlazenPeerClient against a scripted in-test peer (the generated sync service, no code of the real
// server) that misbehaves on purpose: streams that break mid-way (resume), chunks that overlap,
// leave gaps or change the payload size (clean DataLoss errors), responses stamped with a newer
// envelope version, and the metadata every call must carry.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "blazen/peer/v1/blazen_peer.grpc.pb.h"
#include "client/peer_client.h"
#include "core/peer_error.h"
#include "core/postcard.h"

namespace blazen::client {
namespace {

namespace pb = ::blazen::peer::v1;
using namespace std::chrono_literals;

std::uint8_t PayloadByte(std::uint64_t i) { return static_cast<std::uint8_t>(i % 251); }

// What the scripted peer does on DerefSessionRefStream.
enum class Misbehaviour {
  kNone,          // serve the range correctly
  kOverlap,       // second chunk starts inside the first
  kGap,           // second chunk skips bytes
  kTotalChanges,  // second chunk reports another payload size
  kEndsEarly,     // ends OK after the first chunk
  kPastEnd,       // a chunk that runs past the payload
};

struct DerefCall {
  std::uint64_t offset;
  std::uint64_t length;
  std::uint32_t chunk_bytes;
  std::string peer;  // the client's address: one per TCP connection
};

class ScriptedPeer final : public pb::BlazenPeer::Service {
 public:
  // --- script (set before the calls; only `misbehaviour` may change while handlers run) ---
  std::uint64_t total = 0;
  std::uint32_t chunk = 4096;
  // Deref requests number < break_first_requests send `break_after_chunks` chunks, then fail
  // with `break_code`.
  int break_first_requests = 0;
  int break_after_chunks = 2;
  grpc::StatusCode break_code = grpc::StatusCode::UNAVAILABLE;
  std::atomic<Misbehaviour> misbehaviour{Misbehaviour::kNone};
  std::uint32_t response_envelope_version = kEnvelopeVersion;

  // --- record ---
  std::vector<DerefCall> Calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::multimap<std::string, std::string> LastMetadata() {
    std::lock_guard<std::mutex> lock(mu_);
    return metadata_;
  }

  grpc::Status InvokeSubWorkflow(grpc::ServerContext* context, const pb::PostcardRequest*,
                                 pb::PostcardResponse* response) override {
    Record(*context);
    SubWorkflowResponse out;
    out.envelope_version = response_envelope_version;
    out.result_json = "null";
    const ByteVector bytes = EncodePostcard(out).value();
    response->set_postcard_payload(std::string(bytes.begin(), bytes.end()));
    return grpc::Status::OK;
  }

  grpc::Status DerefSessionRef(grpc::ServerContext* context, const pb::PostcardRequest*,
                               pb::PostcardResponse* response) override {
    Record(*context);
    DerefResponse out;
    out.envelope_version = response_envelope_version;
    out.payload = {1, 2, 3};
    const ByteVector bytes = EncodePostcard(out).value();
    response->set_postcard_payload(std::string(bytes.begin(), bytes.end()));
    return grpc::Status::OK;
  }

  grpc::Status DescribePeer(grpc::ServerContext* context, const pb::DescribePeerRequest*,
                            pb::DescribePeerResponse* response) override {
    Record(*context);
    response->set_node_id("scripted");
    response->set_envelope_version(response_envelope_version);
    return grpc::Status::OK;
  }

  grpc::Status DerefSessionRefStream(grpc::ServerContext* context,
                                     const pb::DerefStreamRequest* request,
                                     grpc::ServerWriter<pb::DerefChunk>* writer) override {
    int index = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      index = static_cast<int>(calls_.size());
      calls_.push_back(
          {request->offset(), request->length(), request->chunk_bytes(), context->peer()});
    }
    Record(*context);
    const std::uint64_t end =
        request->length() == 0 ? total : std::min(total, request->offset() + request->length());
    const bool breaks = index < break_first_requests;
    const Misbehaviour misbehave = misbehaviour.load();
    int sent = 0;
    for (std::uint64_t at = request->offset(); at < end || (total == 0 && sent == 0);) {
      if (breaks && sent == break_after_chunks) return grpc::Status(break_code, "scripted break");
      const std::uint64_t n = std::min<std::uint64_t>(chunk, end - at);
      pb::DerefChunk message;
      message.set_offset(at);
      message.set_total_size(total);
      message.set_type_tag("bytes");
      std::string data(n, '\0');
      for (std::uint64_t i = 0; i < n; ++i) data[i] = static_cast<char>(PayloadByte(at + i));
      if (sent == 1) {
        switch (misbehave) {
          case Misbehaviour::kOverlap:
            message.set_offset(at - 10);
            break;
          case Misbehaviour::kGap:
            message.set_offset(at + 10);
            break;
          case Misbehaviour::kTotalChanges:
            message.set_total_size(total + 1);
            break;
          case Misbehaviour::kEndsEarly:
            return grpc::Status::OK;
          case Misbehaviour::kPastEnd:
            data.resize(static_cast<std::size_t>(total));
            break;
          case Misbehaviour::kNone:
            break;
        }
      }
      message.set_data(std::move(data));
      if (!writer->Write(message)) return grpc::Status::OK;  // client went away
      at += n;
      ++sent;
    }
    return grpc::Status::OK;
  }

 private:
  void Record(const grpc::ServerContext& context) {
    std::lock_guard<std::mutex> lock(mu_);
    metadata_.clear();
    for (const auto& [key, value] : context.client_metadata()) {
      metadata_.emplace(std::string(key.data(), key.size()),
                        std::string(value.data(), value.size()));
    }
  }

  std::mutex mu_;
  std::vector<DerefCall> calls_;
  std::multimap<std::string, std::string> metadata_;
};

class ScriptedPeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&peer_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 2s);
  }

  std::unique_ptr<BlazenPeerClient> Connect(ClientOptions options = {}) {
    options.token_from_env = false;
    if (options.default_deadline.count() == 0) options.default_deadline = 30s;
    return BlazenPeerClient::Connect("127.0.0.1:" + std::to_string(port_), "scripted-parent",
                                     options);
  }

  static void ExpectPayload(const std::vector<std::uint8_t>& data, std::uint64_t total) {
    ASSERT_EQ(data.size(), total);
    for (std::uint64_t i = 0; i < total; ++i) {
      ASSERT_EQ(data[i], PayloadByte(i)) << "byte " << i;
    }
  }

  ScriptedPeer peer_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(ScriptedPeerTest, EveryCallCarriesNodeIdTokenAndParentRun) {
  ClientOptions options;
  options.token = "tok";
  options.parent_run_id = "run-from-options";
  auto client = Connect(options);
  (void)client->InvokeSubWorkflow(SubWorkflowRequest{});
  auto md = peer_.LastMetadata();
  EXPECT_EQ(md.find("authorization")->second, "Bearer tok");
  EXPECT_EQ(md.find("x-blazen-peer-node-id")->second, "scripted-parent");
  EXPECT_EQ(md.find("x-blazen-parent-run-id")->second, "run-from-options");

  CallOptions call;
  call.parent_run_id = "run-from-call";
  (void)client->DescribePeer(call);
  md = peer_.LastMetadata();
  EXPECT_EQ(md.find("x-blazen-parent-run-id")->second, "run-from-call");
  EXPECT_EQ(md.count("x-blazen-parent-run-id"), 1u);

  auto anonymous = Connect();
  (void)anonymous->DerefSessionRef(Uuid::NewV4());
  md = peer_.LastMetadata();
  EXPECT_EQ(md.count("authorization"), 0u);
  EXPECT_EQ(md.count("x-blazen-parent-run-id"), 0u);
  EXPECT_EQ(md.find("x-blazen-peer-node-id")->second, "scripted-parent");
}

TEST_F(ScriptedPeerTest, NewerResponseEnvelopeIsEnvelopeVersionError) {
  peer_.response_envelope_version = kEnvelopeVersion + 1;
  auto client = Connect();
  EXPECT_THROW((void)client->InvokeSubWorkflow(SubWorkflowRequest{}), EnvelopeVersionError);
  EXPECT_THROW((void)client->DerefSessionRef(Uuid::NewV4()), EnvelopeVersionError);
  EXPECT_THROW((void)client->DescribePeer(), EnvelopeVersionError);
}

TEST_F(ScriptedPeerTest, ResumesABrokenStreamFromTheFirstMissingByte) {
  peer_.total = 100'000;
  peer_.break_first_requests = 2;  // the first two attempts break after 2 chunks each
  peer_.break_after_chunks = 2;
  auto client = Connect();
  HostBufferSink sink;
  const DerefResult result = client->DerefTo(Uuid::NewV4(), sink);
  EXPECT_EQ(result.resumes, 2);
  EXPECT_EQ(result.streams, 1);
  ExpectPayload(sink.data(), peer_.total);
  const std::vector<DerefCall> calls = peer_.Calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].offset, 0u);
  EXPECT_EQ(calls[0].length, 0u);  // everything: the size is not known yet
  EXPECT_EQ(calls[1].offset, 2u * 4096);
  EXPECT_EQ(calls[1].length, peer_.total - 2 * 4096);
  EXPECT_EQ(calls[2].offset, 4u * 4096);
  EXPECT_EQ(calls[2].length, peer_.total - 4 * 4096);
}

TEST_F(ScriptedPeerTest, ResumesAfterAPeerSideCancellation) {
  peer_.total = 50'000;
  peer_.break_first_requests = 1;
  peer_.break_code = grpc::StatusCode::CANCELLED;
  auto client = Connect();
  HostBufferSink sink;
  EXPECT_EQ(client->DerefTo(Uuid::NewV4(), sink).resumes, 1);
  ExpectPayload(sink.data(), peer_.total);
}

TEST_F(ScriptedPeerTest, ResumesEachParallelRangeOnItsOwn) {
  peer_.total = 400'000;
  peer_.break_first_requests = 4;  // the first attempt of every range breaks
  peer_.break_after_chunks = 1;
  ClientOptions options;
  options.parallel_streams = 4;
  options.parallel_threshold_bytes = 1;
  options.chunk_bytes = 4096;
  auto client = Connect(options);
  HostBufferSink sink;
  const DerefResult result = client->DerefTo(Uuid::NewV4(), sink);
  EXPECT_EQ(result.streams, 4);
  // Exactly four requests break, each after delivering a chunk: each is resumed once.
  EXPECT_EQ(result.resumes, 4);
  ExpectPayload(sink.data(), peer_.total);
}

TEST_F(ScriptedPeerTest, ParallelRangesUseSeparateConnectionsAndCoverThePayload) {
  peer_.total = 1'000'000;
  ClientOptions options;
  options.parallel_streams = 4;
  options.parallel_threshold_bytes = 500'000;
  options.chunk_bytes = 8192;
  auto client = Connect(options);
  HostBufferSink sink;
  EXPECT_EQ(client->DerefTo(Uuid::NewV4(), sink).streams, 4);
  ExpectPayload(sink.data(), peer_.total);
  std::vector<DerefCall> calls = peer_.Calls();
  ASSERT_EQ(calls.size(), 4u);
  std::set<std::string> connections;
  for (const DerefCall& call : calls) {
    connections.insert(call.peer);
    EXPECT_EQ(call.chunk_bytes, 8192u);
  }
  EXPECT_EQ(connections.size(), 4u);
  // The first stream asked for everything (size unknown); the others for contiguous ranges that
  // end at the payload's end.
  std::sort(calls.begin(), calls.end(),
            [](const DerefCall& a, const DerefCall& b) { return a.offset < b.offset; });
  EXPECT_EQ(calls[0].offset, 0u);
  EXPECT_EQ(calls[0].length, 0u);
  EXPECT_GT(calls[1].offset, 0u);
  for (std::size_t i = 2; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].offset, calls[i - 1].offset + calls[i - 1].length);
  }
  EXPECT_EQ(calls[3].offset + calls[3].length, peer_.total);

  // Below the threshold: one stream.
  options.parallel_threshold_bytes = peer_.total + 1;
  auto single = Connect(options);
  HostBufferSink whole;
  EXPECT_EQ(single->DerefTo(Uuid::NewV4(), whole).streams, 1);
  ExpectPayload(whole.data(), peer_.total);
}

TEST_F(ScriptedPeerTest, GivesUpAfterMaxResumeAttempts) {
  peer_.total = 100'000;
  peer_.break_first_requests = 1000;
  peer_.break_after_chunks = 1;
  ClientOptions options;
  options.max_resume_attempts = 3;
  auto client = Connect(options);
  HostBufferSink sink;
  try {
    (void)client->DerefTo(Uuid::NewV4(), sink);
    FAIL() << "no exception";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), StatusCode::kUnavailable);
  }
  EXPECT_EQ(peer_.Calls().size(), 4u);  // the first attempt + 3 resumes
}

TEST_F(ScriptedPeerTest, NoResumeWithoutData) {
  peer_.total = 100'000;
  peer_.break_first_requests = 1;
  peer_.break_after_chunks = 0;  // fails before sending anything
  auto client = Connect();
  HostBufferSink sink;
  EXPECT_THROW((void)client->DerefTo(Uuid::NewV4(), sink), TransportError);
  EXPECT_EQ(peer_.Calls().size(), 1u);
}

TEST_F(ScriptedPeerTest, NotResumedWhenTheErrorIsNotTransient) {
  peer_.total = 100'000;
  peer_.break_first_requests = 1;
  peer_.break_code = grpc::StatusCode::PERMISSION_DENIED;
  auto client = Connect();
  HostBufferSink sink;
  EXPECT_THROW((void)client->DerefTo(Uuid::NewV4(), sink), UnauthenticatedError);
  EXPECT_EQ(peer_.Calls().size(), 1u);
}

TEST_F(ScriptedPeerTest, MalformedStreamsAreDataLossNotCrashes) {
  peer_.total = 20'000;
  for (Misbehaviour m : {Misbehaviour::kOverlap, Misbehaviour::kGap, Misbehaviour::kTotalChanges,
                         Misbehaviour::kEndsEarly, Misbehaviour::kPastEnd}) {
    peer_.misbehaviour = m;
    auto client = Connect();
    HostBufferSink sink;
    try {
      (void)client->DerefTo(Uuid::NewV4(), sink);
      ADD_FAILURE() << "misbehaviour " << static_cast<int>(m) << " accepted";
    } catch (const TransportError& e) {
      EXPECT_EQ(e.code(), StatusCode::kDataLoss) << static_cast<int>(m) << ": " << e.what();
    }
  }
}

TEST_F(ScriptedPeerTest, DeadlineCoversTheWholeDerefAndIsNotResumed) {
  peer_.total = 100'000;
  peer_.break_first_requests = 1000;
  peer_.break_after_chunks = 1;
  ClientOptions options;
  options.max_resume_attempts = 1000;
  auto client = Connect(options);
  HostBufferSink sink;
  CallOptions call;
  call.deadline = 300ms;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW((void)client->DerefTo(Uuid::NewV4(), sink, {}, call), DeadlineExceededError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

}  // namespace
}  // namespace blazen::client
