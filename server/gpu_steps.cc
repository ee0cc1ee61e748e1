// SPDX-License-Identifier: Apache-2.0
// GPU steps: tensor_random, embed and similarity_topk, and the node's embedding table.

#include "server/gpu_steps.h"

#include <algorithm>
#include <any>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>

#include "core/context.h"
#include "core/engine.h"
#include "core/event.h"
#include "core/step.h"
#include "core/tensor.h"
#include "gpu/device_buffer.h"
#include "kernels/cosine_topk.h"
#include "kernels/embedding_bag.h"
#include "kernels/fill.h"

namespace blazen::server {
namespace {

using nlohmann::json;

/// Owner recorded for the embedding table's ref: no run owns it, so no run's end purges it.
constexpr std::string_view kEmbeddingTableOwner = "blazen::embedding_model";
/// Most dims blazen::tensor_random accepts.
constexpr std::size_t kTensorRandomMaxDims = 8;

Result<const NodeServices*> ServicesOf(const Context& ctx) {
  const auto* services = std::any_cast<std::shared_ptr<NodeServices>>(&ctx.services());
  if (services == nullptr || *services == nullptr || (*services)->runtime == nullptr) {
    return Status::FailedPrecondition("this node provides no GPU runtime");
  }
  return services->get();
}

Result<RefLifetime> LifetimeOf(const json& input, std::string_view step) {
  if (!input.contains("lifetime")) return RefLifetime::kUntilParentFinish;
  if (!input["lifetime"].is_string()) {
    return Status::InvalidArgument(std::string(step) + ": \"lifetime\" must be a string");
  }
  return ParseRefLifetime(input["lifetime"].get<std::string>());
}

/// Refuses, before allocating, what the registry would refuse anyway at `location`.
Status CheckByteLimit(const Context& ctx, const std::string& location, std::uint64_t bytes) {
  const RegistryOptions& limits = ctx.session_refs().options();
  auto it = limits.max_bytes_per_location.find(location);
  const std::uint64_t limit = it == limits.max_bytes_per_location.end()
                                  ? limits.default_max_bytes_per_location
                                  : it->second;
  if (bytes > limit) {
    return Status::ResourceExhausted("session ref byte limit for " + location + " is " +
                                     std::to_string(limit) + " bytes; asked for " +
                                     std::to_string(bytes));
  }
  return Status::Ok();
}

/// Fills `n` f32 values at `data` (memory of the runtime's pool) with UniformF32At(seed, i, lo,
/// hi) and waits for it.
Status FillUniform(gpu::GpuRuntime& runtime, float* data, std::int64_t n, std::uint64_t seed,
                   float lo, float hi) {
  if (!runtime.is_cuda()) return kernels::RandomUniformF32Reference(data, n, seed, lo, hi);
  BLAZEN_RETURN_IF_ERROR(
      kernels::RandomUniformF32(data, n, seed, lo, hi, runtime.stream().handle()));
  return runtime.stream().Synchronize();
}

// --- blazen::tensor_random ---

Result<StepOutput> TensorRandom(const Event& event, Context& ctx) {
  constexpr std::string_view kName = "blazen::tensor_random";
  BLAZEN_ASSIGN_OR_RETURN(const NodeServices* services, ServicesOf(ctx));
  const json& input = event.data();
  if (!input.is_object() || !input.contains("shape") || !input["shape"].is_array()) {
    return Status::InvalidArgument(
        "blazen::tensor_random expects {\"shape\": [<non-negative integer>, ...], \"seed\": "
        "<non-negative integer>, \"lifetime\": ...}");
  }
  const json& dims = input["shape"];
  if (dims.size() > kTensorRandomMaxDims) {
    return Status::InvalidArgument("blazen::tensor_random: at most " +
                                   std::to_string(kTensorRandomMaxDims) + " dims, got " +
                                   std::to_string(dims.size()));
  }
  std::vector<std::int64_t> shape;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (!dims[i].is_number_unsigned() ||
        dims[i].get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return Status::InvalidArgument("blazen::tensor_random: shape[" + std::to_string(i) +
                                     "] must be a non-negative integer, got " + dims[i].dump());
    }
    shape.push_back(dims[i].get<std::int64_t>());
  }
  std::uint64_t seed = 0;
  if (input.contains("seed")) {
    if (!input["seed"].is_number_unsigned()) {
      return Status::InvalidArgument(
          "blazen::tensor_random: \"seed\" must be a non-negative integer");
    }
    seed = input["seed"].get<std::uint64_t>();
  }
  BLAZEN_ASSIGN_OR_RETURN(RefLifetime lifetime, LifetimeOf(input, kName));
  BLAZEN_ASSIGN_OR_RETURN(std::uint64_t count, TensorElementCount(DType::kF32, shape));
  gpu::GpuRuntime& runtime = *services->runtime;
  BLAZEN_RETURN_IF_ERROR(CheckByteLimit(ctx, runtime.location(), count * sizeof(float)));
  BLAZEN_ASSIGN_OR_RETURN(
      std::shared_ptr<gpu::DeviceTensor> tensor,
      gpu::DeviceTensor::Allocate(runtime, DType::kF32, shape, runtime.stream()));
  BLAZEN_RETURN_IF_ERROR(FillUniform(runtime, static_cast<float*>(tensor->mutable_buffer().data()),
                                     static_cast<std::int64_t>(count), seed, 0.0f, 1.0f));
  const std::uint64_t bytes = tensor->size_bytes();
  BLAZEN_ASSIGN_OR_RETURN(Uuid key, ctx.InsertRef(std::move(tensor), lifetime));
  return StepOutput{Event::Stop(json{{"ref", key.ToString()},
                                     {"shape", shape},
                                     {"dtype", DTypeName(DType::kF32)},
                                     {"bytes", bytes}})};
}

// --- blazen::embed ---

/// Mean-pools the table rows of each bag of `batch` and L2-normalises the result: an f32 [B, D]
/// tensor in the runtime's pool.
Result<std::shared_ptr<gpu::DeviceTensor>> EmbedBatch(gpu::GpuRuntime& runtime,
                                                      const EmbeddingModel::Table& table,
                                                      const TokenizedBatch& batch) {
  const std::int64_t num_bags = static_cast<std::int64_t>(batch.offsets.size()) - 1;
  const std::int64_t vocab = table.tensor->shape()[0];
  const std::int64_t dim = table.tensor->shape()[1];
  const gpu::StreamView stream = runtime.stream();
  BLAZEN_ASSIGN_OR_RETURN(
      std::shared_ptr<gpu::DeviceTensor> out,
      gpu::DeviceTensor::Allocate(runtime, DType::kF32, {num_bags, dim}, stream));
  kernels::EmbeddingBagArgs args;
  args.table = table.tensor->buffer().data();
  args.table_dtype = DType::kF32;
  args.num_rows = vocab;
  args.dim = dim;
  args.id_dtype = DType::kI64;
  args.num_ids = static_cast<std::int64_t>(batch.ids.size());
  args.num_bags = num_bags;
  args.normalize = true;
  args.out = static_cast<float*>(out->mutable_buffer().data());
  if (!runtime.is_cuda()) {
    args.ids = batch.ids.data();
    args.offsets = batch.offsets.data();
    BLAZEN_RETURN_IF_ERROR(kernels::EmbeddingBagMeanReference(args));
    return out;
  }
  const std::size_t ids_bytes = batch.ids.size() * sizeof(std::int64_t);
  const std::size_t offsets_bytes = batch.offsets.size() * sizeof(std::int64_t);
  BLAZEN_ASSIGN_OR_RETURN(gpu::DeviceBuffer d_ids,
                          gpu::DeviceBuffer::Allocate(ids_bytes, runtime.pool(), stream));
  BLAZEN_ASSIGN_OR_RETURN(gpu::DeviceBuffer d_offsets,
                          gpu::DeviceBuffer::Allocate(offsets_bytes, runtime.pool(), stream));
  BLAZEN_ASSIGN_OR_RETURN(gpu::DeviceBuffer d_flag,
                          gpu::DeviceBuffer::Allocate(sizeof(int), runtime.pool(), stream));
  BLAZEN_RETURN_IF_ERROR(d_ids.CopyFromHost(batch.ids.data(), ids_bytes, stream));
  BLAZEN_RETURN_IF_ERROR(d_offsets.CopyFromHost(batch.offsets.data(), offsets_bytes, stream));
  args.ids = d_ids.data();
  args.offsets = static_cast<const std::int64_t*>(d_offsets.data());
  BLAZEN_RETURN_IF_ERROR(
      kernels::EmbeddingBagMean(args, stream.handle(), static_cast<int*>(d_flag.data())));
  BLAZEN_RETURN_IF_ERROR(stream.Synchronize());
  int flag = 0;
  BLAZEN_RETURN_IF_ERROR(d_flag.CopyToHost(&flag, 0, sizeof(int), stream));
  if (flag != 0) {
    return Status::InvalidArgument("embedding bag rejected its input (error bits " +
                                   std::to_string(flag) + ")");
  }
  return out;
}

/// The strings of a non-empty JSON array `texts` (field `field` of the input of `step`).
Result<std::vector<std::string>> TextsOf(const json& texts, std::string_view field,
                                         std::string_view step) {
  const std::string prefix = std::string(step) + ": ";
  if (!texts.is_array() || texts.empty()) {
    return Status::InvalidArgument(prefix + "\"" + std::string(field) +
                                   "\" must be a non-empty array of strings");
  }
  std::vector<std::string> strings;
  strings.reserve(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (!texts[i].is_string()) {
      return Status::InvalidArgument(prefix + std::string(field) + "[" + std::to_string(i) +
                                     "] must be a string, got " +
                                     std::string(texts[i].type_name()));
    }
    strings.push_back(texts[i].get<std::string>());
  }
  return strings;
}

/// The batch described by `input` ("texts" or "token_ids").
Result<TokenizedBatch> BatchOf(const json& input, std::int64_t vocab, std::string_view step) {
  const std::string name(step);
  if (input.contains("texts")) {
    BLAZEN_ASSIGN_OR_RETURN(std::vector<std::string> strings,
                            TextsOf(input["texts"], "texts", step));
    return TokenizeTexts(strings, vocab);
  }
  if (input.contains("token_ids")) {
    const json& bags = input["token_ids"];
    if (!bags.is_array() || bags.empty()) {
      return Status::InvalidArgument(name +
                                     ": \"token_ids\" must be a non-empty array of id arrays");
    }
    TokenizedBatch batch;
    batch.offsets.push_back(0);
    for (std::size_t b = 0; b < bags.size(); ++b) {
      if (!bags[b].is_array()) {
        return Status::InvalidArgument(name + ": token_ids[" + std::to_string(b) +
                                       "] must be an array of ids");
      }
      for (const json& id : bags[b]) {
        if (!id.is_number_unsigned() ||
            id.get<std::uint64_t>() >= static_cast<std::uint64_t>(vocab)) {
          return Status::InvalidArgument(name + ": token_ids[" + std::to_string(b) + "] holds " +
                                         id.dump() + "; ids must be integers in [0, " +
                                         std::to_string(vocab) + ")");
        }
        batch.ids.push_back(id.get<std::int64_t>());
      }
      batch.offsets.push_back(static_cast<std::int64_t>(batch.ids.size()));
    }
    return batch;
  }
  return Status::InvalidArgument(name +
                                 " expects {\"texts\": [\"...\", ...]} or {\"token_ids\": [[id, "
                                 "...], ...]}, optionally with \"lifetime\"");
}

Result<StepOutput> Embed(const Event& event, Context& ctx) {
  constexpr std::string_view kName = "blazen::embed";
  BLAZEN_ASSIGN_OR_RETURN(const NodeServices* services, ServicesOf(ctx));
  if (services->embedding == nullptr) {
    return Status::FailedPrecondition("this node provides no embedding model");
  }
  const json& input = event.data();
  if (!input.is_object()) {
    return Status::InvalidArgument(std::string(kName) + " expects a JSON object, got " +
                                   std::string(input.type_name()));
  }
  EmbeddingModel& model = *services->embedding;
  BLAZEN_ASSIGN_OR_RETURN(TokenizedBatch batch, BatchOf(input, model.vocab(), kName));
  BLAZEN_ASSIGN_OR_RETURN(RefLifetime lifetime, LifetimeOf(input, kName));
  gpu::GpuRuntime& runtime = *services->runtime;
  BLAZEN_ASSIGN_OR_RETURN(EmbeddingModel::Table table, model.GetTable(runtime, ctx.session_refs()));
  BLAZEN_RETURN_IF_ERROR(ctx.CheckCancelled());
  BLAZEN_ASSIGN_OR_RETURN(std::shared_ptr<gpu::DeviceTensor> out,
                          EmbedBatch(runtime, table, batch));
  const std::vector<std::int64_t> shape = out->shape();
  BLAZEN_ASSIGN_OR_RETURN(Uuid key, ctx.InsertRef(std::move(out), lifetime));
  ctx.SetState("model", json{{"vocab", model.vocab()},
                             {"dim", model.dim()},
                             {"seed", model.options().seed},
                             {"table_ref", table.ref.ToString()},
                             {"backend", runtime.location()}});
  return StepOutput{Event::Stop(
      json{{"ref", key.ToString()}, {"shape", shape}, {"dtype", DTypeName(DType::kF32)}})};
}

// --- blazen::similarity_topk ---

/// A leased f32 2-D tensor of this node's runtime.
struct LeasedMatrix {
  RefLease lease;  // keeps `tensor` alive; empty for a tensor made by this step
  std::shared_ptr<const gpu::DeviceTensor> owned;
  const gpu::DeviceTensor* tensor = nullptr;
};

/// The tensor ref named by `value` (a UUID string; field `field` of the input of `step`).
Result<LeasedMatrix> MatrixRef(const Context& ctx, const gpu::GpuRuntime& runtime,
                               const json& value, std::string_view field, std::string_view step) {
  const std::string prefix = std::string(step) + ": \"" + std::string(field) + "\" ";
  if (!value.is_string()) return Status::InvalidArgument(prefix + "must be a session ref uuid");
  Result<Uuid> key = Uuid::Parse(value.get<std::string>());
  if (!key.ok())
    return Status::InvalidArgument(prefix + "is not a uuid: " + key.status().message());
  LeasedMatrix matrix;
  BLAZEN_ASSIGN_OR_RETURN(matrix.lease, ctx.AcquireRef(*key));
  matrix.tensor = dynamic_cast<const gpu::DeviceTensor*>(&matrix.lease.value());
  if (matrix.tensor == nullptr || &matrix.tensor->runtime() != &runtime) {
    return Status::InvalidArgument(prefix + "ref " + key->ToString() +
                                   " is not a device tensor of this node (type " +
                                   std::string(matrix.lease.value().type_tag()) + ", location " +
                                   matrix.lease.value().location() + ")");
  }
  if (matrix.tensor->dtype() != DType::kF32 || matrix.tensor->shape().size() != 2) {
    std::string shape;
    for (std::int64_t d : matrix.tensor->shape())
      shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    return Status::InvalidArgument(
        prefix + "ref " + key->ToString() + " must be a 2-D f32 tensor, got " +
        std::string(DTypeName(matrix.tensor->dtype())) + " [" + shape + "]");
  }
  return matrix;
}

// The `k` of a similarity_topk input (validated).
Result<std::int64_t> TopKOf(const json& input) {
  if (!input.is_object() || !input.contains("queries") || !input.contains("corpus") ||
      !input.contains("k")) {
    return Status::InvalidArgument(
        "blazen::similarity_topk expects {\"queries\": [\"text\", ...] or \"<ref uuid>\", "
        "\"corpus\": \"<ref uuid>\", \"k\": <1.." +
        std::to_string(kernels::kCosineTopKMaxK) + ">}");
  }
  const json& k_value = input["k"];
  if (!k_value.is_number_unsigned() || k_value.get<std::uint64_t>() < 1 ||
      k_value.get<std::uint64_t>() > static_cast<std::uint64_t>(kernels::kCosineTopKMaxK)) {
    return Status::InvalidArgument("blazen::similarity_topk: \"k\" must be an integer in [1, " +
                                   std::to_string(kernels::kCosineTopKMaxK) + "], got " +
                                   k_value.dump());
  }
  return k_value.get<std::int64_t>();
}

// The query matrix: texts embedded now, or a tensor ref.
Result<LeasedMatrix> QueriesOf(const json& queries, const NodeServices& services,
                               gpu::GpuRuntime& runtime, Context& ctx, std::string_view name) {
  if (!queries.is_array()) return MatrixRef(ctx, runtime, queries, "queries", name);
  if (services.embedding == nullptr) {
    return Status::FailedPrecondition("this node provides no embedding model");
  }
  BLAZEN_ASSIGN_OR_RETURN(std::vector<std::string> texts, TextsOf(queries, "queries", name));
  EmbeddingModel& model = *services.embedding;
  BLAZEN_ASSIGN_OR_RETURN(EmbeddingModel::Table table, model.GetTable(runtime, ctx.session_refs()));
  LeasedMatrix out;
  BLAZEN_ASSIGN_OR_RETURN(out.owned,
                          EmbedBatch(runtime, table, TokenizeTexts(texts, model.vocab())));
  out.tensor = out.owned.get();
  return out;
}

// Runs the cosine top-k kernel on the device into host `scores` / `ids` (args.out_* are set here).
Status CosineTopKOnDevice(gpu::GpuRuntime& runtime, kernels::CosineTopKArgs args,
                          std::vector<float>& scores, std::vector<std::int64_t>& ids) {
  const std::size_t count = scores.size();
  const gpu::StreamView stream = runtime.stream();
  BLAZEN_ASSIGN_OR_RETURN(std::size_t scratch_bytes,
                          kernels::CosineTopKScratchBytes(args.num_queries, args.num_rows, args.k));
  BLAZEN_ASSIGN_OR_RETURN(gpu::DeviceBuffer scratch,
                          gpu::DeviceBuffer::Allocate(scratch_bytes, runtime.pool(), stream));
  BLAZEN_ASSIGN_OR_RETURN(
      gpu::DeviceBuffer d_scores,
      gpu::DeviceBuffer::Allocate(count * sizeof(float), runtime.pool(), stream));
  BLAZEN_ASSIGN_OR_RETURN(
      gpu::DeviceBuffer d_ids,
      gpu::DeviceBuffer::Allocate(count * sizeof(std::int64_t), runtime.pool(), stream));
  args.out_scores = static_cast<float*>(d_scores.data());
  args.out_ids = static_cast<std::int64_t*>(d_ids.data());
  BLAZEN_RETURN_IF_ERROR(
      kernels::CosineTopK(args, scratch.data(), scratch.size(), stream.handle()));
  BLAZEN_RETURN_IF_ERROR(stream.Synchronize());
  BLAZEN_RETURN_IF_ERROR(d_scores.CopyToHost(scores.data(), 0, count * sizeof(float), stream));
  return d_ids.CopyToHost(ids.data(), 0, count * sizeof(std::int64_t), stream);
}

// {"ids": [[...] per query], "scores": [[...] per query]} from row-major [queries, k] results.
json TopKResult(const std::vector<std::int64_t>& ids, const std::vector<float>& scores,
                std::int64_t num_queries, int k) {
  json out_ids = json::array();
  json out_scores = json::array();
  for (std::int64_t q = 0; q < num_queries; ++q) {
    const auto begin = static_cast<std::ptrdiff_t>(q) * k;
    const auto end = begin + k;
    out_ids.push_back(std::vector<std::int64_t>(ids.begin() + begin, ids.begin() + end));
    out_scores.push_back(std::vector<float>(scores.begin() + begin, scores.begin() + end));
  }
  return json{{"ids", std::move(out_ids)}, {"scores", std::move(out_scores)}};
}

Result<StepOutput> SimilarityTopK(const Event& event, Context& ctx) {
  constexpr std::string_view kName = "blazen::similarity_topk";
  BLAZEN_ASSIGN_OR_RETURN(const NodeServices* services, ServicesOf(ctx));
  gpu::GpuRuntime& runtime = *services->runtime;
  const json& input = event.data();
  BLAZEN_ASSIGN_OR_RETURN(const std::int64_t requested_k, TopKOf(input));
  BLAZEN_ASSIGN_OR_RETURN(LeasedMatrix corpus,
                          MatrixRef(ctx, runtime, input["corpus"], "corpus", kName));
  BLAZEN_ASSIGN_OR_RETURN(LeasedMatrix queries,
                          QueriesOf(input["queries"], *services, runtime, ctx, kName));
  const std::int64_t num_queries = queries.tensor->shape()[0];
  const std::int64_t num_rows = corpus.tensor->shape()[0];
  const std::int64_t dim = corpus.tensor->shape()[1];
  if (queries.tensor->shape()[1] != dim) {
    return Status::InvalidArgument("blazen::similarity_topk: queries have dim " +
                                   std::to_string(queries.tensor->shape()[1]) +
                                   ", corpus has dim " + std::to_string(dim));
  }
  BLAZEN_RETURN_IF_ERROR(ctx.CheckCancelled());
  // Never more results than corpus rows.
  const int k = static_cast<int>(std::min<std::int64_t>(requested_k, num_rows));
  const auto count = static_cast<std::size_t>(num_queries) * static_cast<std::size_t>(k);
  std::vector<float> scores(count);
  std::vector<std::int64_t> ids(count);
  if (k > 0 && num_queries > 0) {
    kernels::CosineTopKArgs args;
    args.queries = static_cast<const float*>(queries.tensor->buffer().data());
    args.num_queries = num_queries;
    args.matrix = static_cast<const float*>(corpus.tensor->buffer().data());
    args.num_rows = num_rows;
    args.dim = dim;
    args.k = k;
    if (runtime.is_cuda()) {
      BLAZEN_RETURN_IF_ERROR(CosineTopKOnDevice(runtime, args, scores, ids));
    } else {
      args.out_scores = scores.data();
      args.out_ids = ids.data();
      BLAZEN_RETURN_IF_ERROR(kernels::CosineTopKReference(args));
    }
  }
  return StepOutput{Event::Stop(TopKResult(ids, scores, num_queries, k))};
}

bool IsWordByte(unsigned char c) {
  return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace

// --- EmbeddingModel ---

Result<std::shared_ptr<EmbeddingModel>> EmbeddingModel::Create(EmbeddingModelOptions options) {
  std::optional<TableFileInfo> file;
  if (!options.table_path.empty()) {
    BLAZEN_ASSIGN_OR_RETURN(file, InspectTableFile(options.table_path, options.table_tensor));
    options.vocab = file->rows;
    options.dim = file->cols;
  } else if (!options.table_tensor.empty()) {
    return Status::InvalidArgument("embedding model: a table tensor name needs a table file");
  }
  if (options.vocab < 1 || options.dim < 1) {
    return Status::InvalidArgument("embedding model needs vocab >= 1 and dim >= 1, got vocab " +
                                   std::to_string(options.vocab) + ", dim " +
                                   std::to_string(options.dim));
  }
  return std::shared_ptr<EmbeddingModel>(new EmbeddingModel(std::move(options), std::move(file)));
}

Result<EmbeddingModel::Table> EmbeddingModel::GetTable(gpu::GpuRuntime& runtime,
                                                       SessionRefRegistry& refs) {
  std::lock_guard lock(mu_);
  if (tensor_ == nullptr) {
    std::shared_ptr<gpu::DeviceTensor> tensor;
    const std::int64_t count = options_.vocab * options_.dim;
    if (!file_) {
      BLAZEN_ASSIGN_OR_RETURN(
          tensor, gpu::DeviceTensor::Allocate(runtime, DType::kF32, {options_.vocab, options_.dim},
                                              runtime.stream()));
      BLAZEN_RETURN_IF_ERROR(FillUniform(runtime,
                                         static_cast<float*>(tensor->mutable_buffer().data()),
                                         count, options_.seed, -1.0f, 1.0f));
    } else {
      BLAZEN_ASSIGN_OR_RETURN(std::vector<float> data, ReadTableFile(*file_));
      BLAZEN_ASSIGN_OR_RETURN(
          tensor, gpu::DeviceTensor::FromHost(runtime, DType::kF32, {options_.vocab, options_.dim},
                                              data.data(), runtime.stream()));
    }
    tensor_ = std::move(tensor);
  }
  if (!ref_ || !refs.LifetimeOf(*ref_)) {
    BLAZEN_ASSIGN_OR_RETURN(Uuid key,
                            refs.Insert(tensor_, RefLifetime::kUntilExplicitDrop,
                                        RefOwner{std::string(kEmbeddingTableOwner), std::nullopt}));
    ref_ = key;
  }
  return Table{tensor_, *ref_};
}

// --- tokenizer ---

std::uint64_t Fnv1a64(std::string_view bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsWordByte(c)) {
      word.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : ch);
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

std::vector<std::int64_t> TokenizeText(std::string_view text, std::int64_t vocab) {
  const auto bucket = [vocab](std::string_view bytes) {
    return static_cast<std::int64_t>(Fnv1a64(bytes) % static_cast<std::uint64_t>(vocab));
  };
  std::vector<std::int64_t> ids;
  for (const std::string& word : SplitWords(text)) {
    ids.push_back(bucket(word));
    const std::string padded = "<" + word + ">";
    // Start of each UTF-8 character (bytes that are not continuation bytes 10xxxxxx).
    std::vector<std::size_t> starts;
    for (std::size_t i = 0; i < padded.size(); ++i) {
      if ((static_cast<unsigned char>(padded[i]) & 0xC0) != 0x80) starts.push_back(i);
    }
    starts.push_back(padded.size());
    const std::string_view view(padded);
    for (std::size_t c = 0; c + 3 < starts.size(); ++c) {
      ids.push_back(bucket(view.substr(starts[c], starts[c + 3] - starts[c])));
    }
  }
  return ids;
}

TokenizedBatch TokenizeTexts(const std::vector<std::string>& texts, std::int64_t vocab) {
  TokenizedBatch batch;
  batch.offsets.reserve(texts.size() + 1);
  batch.offsets.push_back(0);
  for (const std::string& text : texts) {
    std::vector<std::int64_t> ids = TokenizeText(text, vocab);
    batch.ids.insert(batch.ids.end(), ids.begin(), ids.end());
    batch.offsets.push_back(static_cast<std::int64_t>(batch.ids.size()));
  }
  return batch;
}

// --- registration ---

void RegisterGpuSteps() {
  RegisterStepBuilder("blazen::tensor_random",
                      [] { return MakeStartStep("tensor_random", TensorRandom); });
  RegisterStepBuilder("blazen::embed", [] { return MakeStartStep("embed", Embed); });
  RegisterStepBuilder("blazen::similarity_topk",
                      [] { return MakeStartStep("similarity_topk", SimilarityTopK); });
}

Result<StepOutput> Busy(const Event& event, Context& ctx) {
  const json& input = event.data();
  if (!input.is_object() || !input.contains("ms") || !input["ms"].is_number() ||
      input["ms"].get<double>() < 0 || input["ms"].get<double>() > 3'600'000) {
    return Status::InvalidArgument("blazen::busy expects {\"ms\": <number in [0, 3600000]>}");
  }
  double slowdown = 1.0;
  if (const auto* services = std::any_cast<std::shared_ptr<NodeServices>>(&ctx.services());
      services != nullptr && *services != nullptr) {
    slowdown = (*services)->slowdown;
  }
  const auto start = std::chrono::steady_clock::now();
  const auto until =
      start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                  std::chrono::duration<double, std::milli>(input["ms"].get<double>() * slowdown));
  // Sleeps in slices so that a cancellation or the run's deadline ends it within 5 ms.
  while (std::chrono::steady_clock::now() < until) {
    BLAZEN_RETURN_IF_ERROR(ctx.CheckCancelled());
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(5), until - std::chrono::steady_clock::now()));
  }
  const double slept =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return StepOutput{Event::Stop(json{{"slept_ms", slept}})};
}

void RegisterBenchSteps() {
  RegisterStepBuilder("blazen::busy", [] { return MakeStartStep("busy", Busy); });
}

void AddGpuWorkflows(Engine& engine) {
  RegisterGpuSteps();
  RegisterBenchSteps();
  engine.SetDefaultWorkflow("embed", {"blazen::embed"});
  engine.SetDefaultWorkflow("search", {"blazen::similarity_topk"});
}

}  // namespace blazen::server
