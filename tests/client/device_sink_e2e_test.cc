// SPDX-License-Identifier: Apache-2.0
// A tensor ref made on a peer (blazen::tensor_random) streamed by BlazenPeerClient::DerefTo into a
// DeviceSink of the parent's own runtime, over one stream and over parallel ranges, compared byte
// for byte with the unary deref; the parent's pool holds exactly the payload until it is freed.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "client/device_sink.h"
#include "client/peer_client.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "kernels/fill.h"
#include "server/peer_node.h"
#include "tests/testing/status_matchers.h"

namespace blazen::client {
namespace {

using json = nlohmann::json;
using ::blazen::testing::IsOk;
using namespace std::chrono_literals;

TEST(DeviceSinkE2ETest, TensorRefStreamsIntoTheParentsPool) {
  server::PeerNodeOptions node_options;
  node_options.listen_address = "127.0.0.1:0";
  node_options.node_id = "device-sink-peer";
  node_options.gpu.force_host = true;  // the peer side is not under test here
  Result<std::unique_ptr<server::PeerNode>> node = server::PeerNode::Start(node_options);
  ASSERT_TRUE(node.ok()) << node.status();

  ClientOptions options;
  options.token_from_env = false;
  options.default_deadline = 60s;
  options.parallel_threshold_bytes = 1 << 20;
  options.parallel_streams = 3;
  options.chunk_bytes = 256 * 1024;
  auto client = BlazenPeerClient::Connect((*node)->endpoint(), "parent-with-gpu", options);

  const std::vector<std::int64_t> shape = {1000, 700};  // 2.8 MB: parallel ranges
  const SubWorkflowRequest request = MakeSubWorkflowRequest("wf", {"blazen::tensor_random"},
                                                            json{{"shape", shape}, {"seed", 9}}, 30)
                                         .value();
  const SubWorkflowResponse response = client->InvokeSubWorkflow(request);
  ASSERT_FALSE(response.error.has_value()) << *response.error;
  const json result = ParseJson(*response.result_json).value();
  const Uuid ref = Uuid::Parse(result["ref"].get<std::string>()).value();
  const ByteVector unary = client->DerefSessionRef(ref);

  gpu::GpuRuntimeOptions runtime_options;
  runtime_options.budget_bytes = std::uint64_t{64} << 20;
  auto runtime = gpu::GpuRuntime::Create(runtime_options).value();
  ClientOptions single = options;
  single.parallel_streams = 1;
  auto single_client = BlazenPeerClient::Connect((*node)->endpoint(), "parent-with-gpu", single);
  for (const bool parallel : {false, true}) {
    DeviceSink sink(runtime);
    const DerefResult deref = (parallel ? *client : *single_client).DerefTo(ref, sink);
    EXPECT_EQ(deref.streams, parallel ? 3 : 1);
    EXPECT_EQ(deref.total_size, unary.size());
    EXPECT_EQ(runtime->pool().stats().in_use_bytes, unary.size());
    BLAZEN_ASSERT_OK_AND_ASSIGN(DeviceTensorView view, sink.Tensor());
    EXPECT_EQ(view.dtype, DType::kF32);
    EXPECT_EQ(view.shape, shape);
    std::vector<std::uint8_t> back(unary.size());
    ASSERT_THAT(sink.buffer().CopyToHost(back.data(), 0, back.size(), gpu::StreamView()), IsOk());
    EXPECT_TRUE(std::equal(back.begin(), back.end(), unary.begin()));
    // Element i is UniformF32At(seed, i, 0, 1), as the step documents.
    float x = 0;
    std::memcpy(&x, back.data() + view.offset + 4 * 12345, sizeof(x));
    EXPECT_EQ(x, kernels::UniformF32At(9, 12345, 0.0f, 1.0f));
  }
  EXPECT_EQ(runtime->pool().stats().in_use_bytes, 0u);
  EXPECT_TRUE(client->ReleaseSessionRef(ref));
}

}  // namespace
}  // namespace blazen::client
