// SPDX-License-Identifier: Apache-2.0
// The GPU steps run in an in-process node (host fallback on machines without a device):
// tensor_random payloads, embed against a host recomputation, the lazily created table ref,
// similarity_topk, and input errors.

#include "server/gpu_steps.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>

#include "core/json_codec.h"
#include "core/tensor.h"
#include "kernels/cosine_topk.h"
#include "kernels/embedding_bag.h"
#include "kernels/fill.h"
#include "server/peer_node.h"
#include "tests/testing/status_matchers.h"

namespace blazen::server {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

constexpr std::int64_t kTestVocab = std::int64_t{1} << 12;

std::unique_ptr<PeerNode> StartNode(std::int64_t vocab = kTestVocab) {
  PeerNodeOptions options;
  options.listen_address = "127.0.0.1:0";
  options.node_id = "gpu-steps-test";
  options.embedding.vocab = vocab;
  Result<std::unique_ptr<PeerNode>> node = PeerNode::Start(std::move(options));
  EXPECT_TRUE(node.ok()) << node.status();
  return node.ok() ? std::move(node).value() : nullptr;
}

SubWorkflowResponse RunStep(PeerNode& node, const std::string& step, const json& input) {
  Result<SubWorkflowRequest> request = MakeSubWorkflowRequest("wf", {step}, input, 60);
  EXPECT_TRUE(request.ok()) << request.status();
  Result<SubWorkflowResponse> response = node.engine().Invoke(*request);
  EXPECT_TRUE(response.ok()) << response.status();
  return response.ok() ? *response : SubWorkflowResponse::Error("invoke failed");
}

json ResultOf(const SubWorkflowResponse& response) {
  EXPECT_FALSE(response.error.has_value()) << *response.error;
  Result<std::optional<json>> result = ResultValue(response);
  EXPECT_TRUE(result.ok() && result->has_value());
  return result.ok() && result->has_value() ? **result : json();
}

/// The whole payload of ref `key`, read through a registry lease.
std::vector<std::uint8_t> ReadRef(PeerNode& node, const std::string& key) {
  Result<Uuid> uuid = Uuid::Parse(key);
  EXPECT_TRUE(uuid.ok());
  if (!uuid.ok()) return {};
  Result<RefLease> lease = node.session_refs().Acquire(*uuid);
  EXPECT_TRUE(lease.ok()) << lease.status();
  if (!lease.ok()) return {};
  std::vector<std::uint8_t> bytes(lease->value().size_bytes());
  EXPECT_TRUE(lease->value().Read(0, bytes).ok());
  return bytes;
}

/// The f32 data of an NPY payload whose header is NpyHeader(kF32, shape).
std::vector<float> DataOf(const std::vector<std::uint8_t>& payload,
                          const std::vector<std::int64_t>& shape) {
  const std::string header = NpyHeader(DType::kF32, shape);
  EXPECT_GE(payload.size(), header.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(payload.data()), header.size()), header);
  std::vector<float> data((payload.size() - header.size()) / sizeof(float));
  std::memcpy(data.data(), payload.data() + header.size(), data.size() * sizeof(float));
  return data;
}

std::size_t ExplicitDropRefs(PeerNode& node) {
  std::size_t count = 0;
  for (const auto& [key, bucket] : node.session_refs().Stats().live) {
    if (key.first == RefLifetime::kUntilExplicitDrop) count += bucket.count;
  }
  return count;
}

TEST(TokenizerTest, SplitsLowercasesAndHashesTrigrams) {
  EXPECT_THAT(SplitWords("Hello, WORLD!  x-1 caf\xc3\xa9"),
              ::testing::ElementsAre("hello", "world", "x", "1", "caf\xc3\xa9"));
  EXPECT_TRUE(SplitWords(" ,.; ").empty());
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  const std::int64_t v = 1000;
  const auto h = [v](std::string_view s) { return static_cast<std::int64_t>(Fnv1a64(s) % v); };
  // "hi" -> word, then trigrams of "<hi>": "<hi", "hi>".
  EXPECT_THAT(TokenizeText("Hi", v), ::testing::ElementsAre(h("hi"), h("<hi"), h("hi>")));
  // A two-byte character counts as one character of a trigram.
  EXPECT_THAT(TokenizeText("\xc3\xa9", v), ::testing::ElementsAre(h("\xc3\xa9"), h("<\xc3\xa9>")));
  EXPECT_TRUE(TokenizeText("", v).empty());
  const TokenizedBatch batch = TokenizeTexts({"a", "", "b c"}, v);
  EXPECT_THAT(batch.offsets, ::testing::ElementsAre(0, 2, 2, 6));
}

TEST(GpuStepsTest, TensorRandomHoldsSeededUniformValues) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  const json result =
      ResultOf(RunStep(*node, "blazen::tensor_random", {{"shape", {3, 5}}, {"seed", 7}}));
  EXPECT_EQ(result["shape"], json({3, 5}));
  EXPECT_EQ(result["dtype"], "f32");
  const std::string header = NpyHeader(DType::kF32, std::vector<std::int64_t>{3, 5});
  EXPECT_EQ(result["bytes"].get<std::uint64_t>(), header.size() + 15 * sizeof(float));
  std::vector<float> expected(15);
  BLAZEN_ASSERT_OK(kernels::RandomUniformF32Reference(expected.data(), 15, 7, 0.0f, 1.0f));
  const std::vector<std::uint8_t> payload = ReadRef(*node, result["ref"].get<std::string>());
  EXPECT_EQ(payload.size(), result["bytes"].get<std::uint64_t>());
  EXPECT_EQ(DataOf(payload, {3, 5}), expected);

  // Zero-sized and 0-D shapes work; the seed defaults to 0.
  const json empty = ResultOf(RunStep(*node, "blazen::tensor_random", {{"shape", {0, 4}}}));
  EXPECT_EQ(empty["bytes"].get<std::uint64_t>(),
            NpyHeader(DType::kF32, std::vector<std::int64_t>{0, 4}).size());
  const json scalar = ResultOf(RunStep(*node, "blazen::tensor_random", {{"shape", json::array()}}));
  float value = 0;
  BLAZEN_ASSERT_OK(kernels::RandomUniformF32Reference(&value, 1, 0, 0.0f, 1.0f));
  EXPECT_EQ(DataOf(ReadRef(*node, scalar["ref"].get<std::string>()), {}),
            std::vector<float>{value});
}

TEST(GpuStepsTest, TensorRandomRejectsBadInput) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  for (const json& input :
       {json{{"shape", {2, -1}}}, json{{"shape", {1.5}}}, json::object(),
        json{{"shape", {1, 1, 1, 1, 1, 1, 1, 1, 1}}}, json{{"shape", {2}}, {"seed", -3}},
        json{{"shape", {2}}, {"lifetime", "forever"}}}) {
    const SubWorkflowResponse response = RunStep(*node, "blazen::tensor_random", input);
    ASSERT_TRUE(response.error.has_value()) << input.dump();
    EXPECT_THAT(*response.error, HasSubstr("step 'tensor_random' failed")) << input.dump();
  }
  EXPECT_EQ(node->session_refs().size(), 0u);
}

TEST(GpuStepsTest, EmbedMatchesHostRecomputation) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  const std::vector<std::string> texts = {"hello world", "hello world", "something else", ""};
  const SubWorkflowResponse response = RunStep(*node, "blazen::embed", {{"texts", texts}});
  const json result = ResultOf(response);
  constexpr std::int64_t kDim = 384;
  EXPECT_EQ(result["shape"], json({4, kDim}));
  EXPECT_EQ(result["dtype"], "f32");
  const std::vector<float> out =
      DataOf(ReadRef(*node, result["ref"].get<std::string>()), {4, kDim});
  ASSERT_EQ(out.size(), static_cast<std::size_t>(4 * kDim));

  const auto row = [&](int r) {
    return std::vector<float>(out.begin() + r * kDim, out.begin() + (r + 1) * kDim);
  };
  EXPECT_EQ(row(0), row(1));
  EXPECT_NE(row(0), row(2));
  for (int r = 0; r < 3; ++r) {
    double norm = 0;
    for (float x : row(r)) norm += static_cast<double>(x) * x;
    EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-5) << r;
  }
  EXPECT_EQ(row(3), std::vector<float>(kDim, 0.0f));  // empty text -> zero vector

  // Recompute on the host: the seeded table, the same tokenization, the reference kernel.
  std::vector<float> table(static_cast<std::size_t>(kTestVocab * kDim));
  BLAZEN_ASSERT_OK(
      kernels::RandomUniformF32Reference(table.data(), kTestVocab * kDim, 0, -1.0f, 1.0f));
  const TokenizedBatch batch = TokenizeTexts(texts, kTestVocab);
  std::vector<float> expected(out.size());
  kernels::EmbeddingBagArgs args;
  args.table = table.data();
  args.num_rows = kTestVocab;
  args.dim = kDim;
  args.ids = batch.ids.data();
  args.num_ids = static_cast<std::int64_t>(batch.ids.size());
  args.offsets = batch.offsets.data();
  args.num_bags = 4;
  args.normalize = true;
  args.out = expected.data();
  BLAZEN_ASSERT_OK(kernels::EmbeddingBagMeanReference(args));
  if (node->gpu_runtime().is_cuda()) {
    // The device kernel may round its sums differently.
    for (std::size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], expected[i], 1e-6f) << i;
  } else {
    EXPECT_EQ(out, expected);
  }

  // Model info in the state; the default lifetime outlives the run.
  ASSERT_EQ(response.state_json.count("model"), 1u);
  const json model = json::parse(response.state_json.at("model"));
  EXPECT_EQ(model["vocab"], kTestVocab);
  EXPECT_EQ(model["dim"], kDim);
  EXPECT_EQ(model["backend"], node->gpu_runtime().location());
  EXPECT_TRUE(Uuid::Parse(model["table_ref"].get<std::string>()).ok());
  Result<Uuid> key = Uuid::Parse(result["ref"].get<std::string>());
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(node->session_refs().LifetimeOf(*key), RefLifetime::kUntilParentFinish);
  EXPECT_EQ(response.remote_refs.count(*key), 1u);
}

TEST(GpuStepsTest, EmbedTokenIdsEqualsTexts) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  const std::vector<std::int64_t> ids = TokenizeText("Token ids, too", kTestVocab);
  const json from_texts = ResultOf(RunStep(*node, "blazen::embed", {{"texts", {"token IDS too"}}}));
  const json from_ids = ResultOf(
      RunStep(*node, "blazen::embed", {{"token_ids", {ids}}, {"lifetime", "until_explicit_drop"}}));
  EXPECT_EQ(from_ids["shape"], json({1, 384}));
  EXPECT_EQ(ReadRef(*node, from_texts["ref"].get<std::string>()),
            ReadRef(*node, from_ids["ref"].get<std::string>()));
  Result<Uuid> key = Uuid::Parse(from_ids["ref"].get<std::string>());
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(node->session_refs().LifetimeOf(*key), RefLifetime::kUntilExplicitDrop);
}

TEST(GpuStepsTest, EmbeddingTableIsCreatedOnceAndRegistered) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(ExplicitDropRefs(*node), 0u);  // lazily created
  const SubWorkflowResponse first = RunStep(*node, "blazen::embed", {{"texts", {"a"}}});
  const SubWorkflowResponse second = RunStep(*node, "blazen::embed", {{"texts", {"b"}}});
  ASSERT_FALSE(first.error.has_value()) << *first.error;
  ASSERT_FALSE(second.error.has_value()) << *second.error;
  EXPECT_EQ(ExplicitDropRefs(*node), 1u);
  const json table_ref = json::parse(first.state_json.at("model"))["table_ref"];
  EXPECT_EQ(json::parse(second.state_json.at("model"))["table_ref"], table_ref);
  Result<Uuid> key = Uuid::Parse(table_ref.get<std::string>());
  ASSERT_TRUE(key.ok());
  std::optional<RefInfo> info = node->session_refs().Info(*key);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->lifetime, RefLifetime::kUntilExplicitDrop);
  EXPECT_EQ(info->resident_bytes, static_cast<std::uint64_t>(kTestVocab * 384 * 4));
  // The table belongs to no run: neither run reports it.
  EXPECT_EQ(first.remote_refs.count(*key), 0u);

  // Released, it is registered again on next use.
  EXPECT_TRUE(node->session_refs().Release(*key));
  const SubWorkflowResponse third = RunStep(*node, "blazen::embed", {{"texts", {"c"}}});
  ASSERT_FALSE(third.error.has_value()) << *third.error;
  EXPECT_EQ(ExplicitDropRefs(*node), 1u);
  EXPECT_NE(json::parse(third.state_json.at("model"))["table_ref"], table_ref);
}

TEST(GpuStepsTest, EmbedRejectsBadInput) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  for (const json& input : {json::object(), json{{"texts", {1, 2}}}, json{{"texts", "hello"}},
                            json{{"texts", json::array()}}, json{{"token_ids", {{1, -2}}}},
                            json{{"token_ids", {{kTestVocab}}}},
                            json{{"texts", {"x"}}, {"lifetime", 3}}, json("hello")}) {
    const SubWorkflowResponse response = RunStep(*node, "blazen::embed", input);
    ASSERT_TRUE(response.error.has_value()) << input.dump();
    EXPECT_THAT(*response.error, HasSubstr("step 'embed' failed")) << input.dump();
  }
}

TEST(GpuStepsTest, DefaultEmbedWorkflow) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  const auto workflows = node->engine().DefaultWorkflows();
  ASSERT_EQ(workflows.count("embed"), 1u);
  EXPECT_EQ(workflows.at("embed"), std::vector<std::string>{"blazen::embed"});
  Result<SubWorkflowRequest> request =
      MakeSubWorkflowRequest("embed", {}, json{{"texts", {"default workflow"}}}, 60);
  ASSERT_TRUE(request.ok());
  Result<SubWorkflowResponse> response = node->engine().Invoke(*request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(ResultOf(*response)["shape"], json({1, 384}));
}

TEST(GpuStepsTest, ConcurrentFirstEmbedsCreateOneTable) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  std::vector<std::future<SubWorkflowResponse>> runs;
  for (int i = 0; i < 8; ++i) {
    runs.push_back(std::async(std::launch::async, [&node, i] {
      return RunStep(*node, "blazen::embed", {{"texts", {"text " + std::to_string(i)}}});
    }));
  }
  std::set<std::string> table_refs;
  for (auto& run : runs) {
    const SubWorkflowResponse response = run.get();
    ASSERT_FALSE(response.error.has_value()) << *response.error;
    table_refs.insert(json::parse(response.state_json.at("model"))["table_ref"].get<std::string>());
  }
  EXPECT_EQ(table_refs.size(), 1u);
  EXPECT_EQ(ExplicitDropRefs(*node), 1u);
}

TEST(GpuStepsTest, SimilarityTopKRanksMatchingRowFirst) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  const std::vector<std::string> corpus_texts = {"alpha beta", "gamma delta", "epsilon zeta eta",
                                                 "theta"};
  const json corpus = ResultOf(RunStep(*node, "blazen::embed", {{"texts", corpus_texts}}));
  const std::string corpus_ref = corpus["ref"].get<std::string>();

  // Text queries are embedded like the corpus: the equal row ranks first with score ~1.
  const json by_text = ResultOf(
      RunStep(*node, "blazen::similarity_topk",
              {{"queries", {"Gamma, delta!", "theta"}}, {"corpus", corpus_ref}, {"k", 3}}));
  ASSERT_EQ(by_text["ids"].size(), 2u);
  ASSERT_EQ(by_text["ids"][0].size(), 3u);
  EXPECT_EQ(by_text["ids"][0][0], 1);
  EXPECT_NEAR(by_text["scores"][0][0].get<double>(), 1.0, 1e-5);
  EXPECT_EQ(by_text["ids"][1][0], 3);
  EXPECT_NEAR(by_text["scores"][1][0].get<double>(), 1.0, 1e-5);
  EXPECT_GE(by_text["scores"][0][0].get<double>(), by_text["scores"][0][1].get<double>());

  // A ref as queries: each row finds itself; k is capped at the corpus size. Compare with the
  // host reference.
  const json by_ref =
      ResultOf(RunStep(*node, "blazen::similarity_topk",
                       {{"queries", corpus_ref}, {"corpus", corpus_ref}, {"k", 10}}));
  const std::vector<float> data = DataOf(ReadRef(*node, corpus_ref), {4, 384});
  std::vector<float> scores(16);
  std::vector<std::int64_t> ids(16);
  kernels::CosineTopKArgs args;
  args.queries = data.data();
  args.num_queries = 4;
  args.matrix = data.data();
  args.num_rows = 4;
  args.dim = 384;
  args.k = 4;
  args.out_scores = scores.data();
  args.out_ids = ids.data();
  BLAZEN_ASSERT_OK(kernels::CosineTopKReference(args));
  ASSERT_EQ(by_ref["ids"].size(), 4u);
  for (std::size_t q = 0; q < 4; ++q) {
    ASSERT_EQ(by_ref["ids"][q].size(), 4u);
    EXPECT_EQ(by_ref["ids"][q][0], q);
    for (std::size_t j = 0; j < 4; ++j) {
      // The device kernel's scores equal the reference's up to rounding (near-ties may swap).
      if (!node->gpu_runtime().is_cuda()) {
        EXPECT_EQ(by_ref["ids"][q][j].get<std::int64_t>(), ids[q * 4 + j]);
      }
      EXPECT_NEAR(by_ref["scores"][q][j].get<float>(), scores[q * 4 + j], 1e-5f);
    }
  }

  // The default `search` workflow runs the step.
  const auto workflows = node->engine().DefaultWorkflows();
  ASSERT_EQ(workflows.count("search"), 1u);
  EXPECT_EQ(workflows.at("search"), std::vector<std::string>{"blazen::similarity_topk"});
}

TEST(GpuStepsTest, SimilarityTopKRejectsBadInput) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  const std::string corpus =
      ResultOf(RunStep(*node, "blazen::embed", {{"texts", {"a", "b"}}}))["ref"].get<std::string>();
  const std::string narrow =
      ResultOf(RunStep(*node, "blazen::tensor_random", {{"shape", {2, 5}}}))["ref"]
          .get<std::string>();
  const std::string flat =
      ResultOf(RunStep(*node, "blazen::tensor_random", {{"shape", {384}}}))["ref"]
          .get<std::string>();
  const std::string blob =
      ResultOf(RunStep(*node, "blazen::host_blob", {{"bytes", 16}}))["ref"].get<std::string>();
  const std::string missing = "00000000-0000-4000-8000-000000000000";
  const std::vector<std::pair<json, std::string>> cases = {
      {json{{"queries", {"a"}}, {"corpus", corpus}}, "expects"},
      {json{{"queries", {"a"}}, {"corpus", corpus}, {"k", 0}}, "\"k\""},
      {json{{"queries", {"a"}}, {"corpus", corpus}, {"k", 129}}, "\"k\""},
      {json{{"queries", {1}}, {"corpus", corpus}, {"k", 1}}, "queries[0]"},
      {json{{"queries", {"a"}}, {"corpus", "not-a-uuid"}, {"k", 1}}, "uuid"},
      {json{{"queries", {"a"}}, {"corpus", missing}, {"k", 1}}, "not found"},
      {json{{"queries", {"a"}}, {"corpus", blob}, {"k", 1}}, "not a device tensor"},
      {json{{"queries", {"a"}}, {"corpus", flat}, {"k", 1}}, "2-D f32"},
      {json{{"queries", {"a"}}, {"corpus", narrow}, {"k", 1}}, "dim"},
      {json{{"queries", narrow}, {"corpus", corpus}, {"k", 1}}, "dim"},
  };
  for (const auto& [input, message] : cases) {
    const SubWorkflowResponse response = RunStep(*node, "blazen::similarity_topk", input);
    ASSERT_TRUE(response.error.has_value()) << input.dump();
    EXPECT_THAT(*response.error, HasSubstr("step 'similarity_topk' failed")) << input.dump();
    EXPECT_THAT(*response.error, HasSubstr(message)) << input.dump();
  }
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("BLAZEN_TEST_TMPDIR");
  std::filesystem::path base =
      dir != nullptr ? std::filesystem::path(dir) : std::filesystem::temp_directory_path();
  std::filesystem::create_directories(base);
  return (base / (std::to_string(::getpid()) + "_" + name)).string();
}

void WriteFile(const std::string& path, const std::string& header, const void* data,
               std::size_t bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(header.data(), static_cast<std::streamsize>(header.size()));
  file.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
}

TEST(GpuStepsTest, EmbeddingTableFromNpyFile) {
  constexpr std::int64_t kVocab = 97;
  constexpr std::int64_t kDim = 8;
  std::vector<float> table(static_cast<std::size_t>(kVocab * kDim));
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = std::sin(static_cast<float>(i));
  const std::string path = TempPath("table.npy");
  WriteFile(path, NpyHeader(DType::kF32, std::vector<std::int64_t>{kVocab, kDim}), table.data(),
            table.size() * sizeof(float));

  PeerNodeOptions options;
  options.listen_address = "127.0.0.1:0";
  options.node_id = "gpu-steps-npy";
  options.embedding.table_path = path;
  Result<std::unique_ptr<PeerNode>> started = PeerNode::Start(std::move(options));
  ASSERT_TRUE(started.ok()) << started.status();
  PeerNode& node = **started;
  const std::vector<std::string> texts = {"from a file", "numpy"};
  const SubWorkflowResponse response = RunStep(node, "blazen::embed", {{"texts", texts}});
  const json result = ResultOf(response);
  EXPECT_EQ(result["shape"], json({2, kDim}));
  const json model = json::parse(response.state_json.at("model"));
  EXPECT_EQ(model["vocab"], kVocab);
  EXPECT_EQ(model["dim"], kDim);

  const TokenizedBatch batch = TokenizeTexts(texts, kVocab);
  std::vector<float> expected(2 * kDim);
  kernels::EmbeddingBagArgs args;
  args.table = table.data();
  args.num_rows = kVocab;
  args.dim = kDim;
  args.ids = batch.ids.data();
  args.num_ids = static_cast<std::int64_t>(batch.ids.size());
  args.offsets = batch.offsets.data();
  args.num_bags = 2;
  args.out = expected.data();
  BLAZEN_ASSERT_OK(kernels::EmbeddingBagMeanReference(args));
  const std::vector<float> out = DataOf(ReadRef(node, result["ref"].get<std::string>()), {2, kDim});
  ASSERT_EQ(out.size(), expected.size());
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], expected[i], 1e-6f) << i;
  std::filesystem::remove(path);
}

TEST(GpuStepsTest, BadNpyTableFilesAreRejected) {
  using ::blazen::testing::StatusIs;
  EmbeddingModelOptions options;
  options.table_path = TempPath("does-not-exist.npy");
  EXPECT_THAT(EmbeddingModel::Create(options).status(), StatusIs(StatusCode::kNotFound));

  const std::vector<double> f64(6);
  const std::vector<float> f32(6);
  const std::string path = TempPath("bad.npy");
  const std::vector<std::pair<std::string, std::size_t>> cases = {
      {NpyHeader(DType::kI64, std::vector<std::int64_t>{2, 3}), 48},  // wrong dtype
      {NpyHeader(DType::kF32, std::vector<std::int64_t>{6}), 24},     // 1-D
      {NpyHeader(DType::kF32, std::vector<std::int64_t>{2, 3}), 20},  // truncated data
      {NpyHeader(DType::kF32, std::vector<std::int64_t>{0, 3}), 0},   // empty
      {"not numpy at all", 24},
  };
  for (const auto& [header, bytes] : cases) {
    WriteFile(path, header, f64.data(), bytes);
    options.table_path = path;
    EXPECT_THAT(EmbeddingModel::Create(options).status(), StatusIs(StatusCode::kInvalidArgument))
        << header;
  }
  WriteFile(path, NpyHeader(DType::kF32, std::vector<std::int64_t>{2, 3}), f32.data(), 24);
  Result<std::shared_ptr<EmbeddingModel>> model = EmbeddingModel::Create(options);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->vocab(), 2);
  EXPECT_EQ((*model)->dim(), 3);

  // Format 2.0 has a 4-byte header length.
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
  dict.append(64 - (12 + dict.size() + 1) % 64, ' ');
  dict.push_back('\n');
  std::string v2("\x93NUMPY\x02\x00", 8);
  for (int i = 0; i < 4; ++i) v2.push_back(static_cast<char>((dict.size() >> (8 * i)) & 0xff));
  WriteFile(path, v2 + dict, f32.data(), 24);
  model = EmbeddingModel::Create(options);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->vocab(), 3);
  EXPECT_EQ((*model)->dim(), 2);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace blazen::server
