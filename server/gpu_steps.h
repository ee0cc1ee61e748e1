// SPDX-License-Identifier: Apache-2.0
#pragma once
// The GPU steps of a worker peer and the node services they use.
//
//   blazen::tensor_random  input {"shape": [d0, ...] (at most 8 non-negative dims), "seed": u64
//                          (default 0), "lifetime": name (default "until_parent_finish")}: an f32
//                          tensor ref resident in the runtime's pool, element i =
//                          kernels::UniformF32At(seed, i, 0, 1); result {"ref", "shape",
//                          "dtype": "f32", "bytes": payload size}. For deref tests and benchmarks.
//   blazen::embed          input {"texts": ["...", ...]} or {"token_ids": [[id, ...], ...]}, plus
//                          an optional "lifetime" (default "until_parent_finish"): one
//                          L2-normalised mean embedding per text (EmbeddingBag over the node's
//                          EmbeddingModel table), kept resident as an f32 [B, D] tensor ref; result
//                          {"ref", "shape": [B, D], "dtype": "f32"}; ctx.state["model"] = {"vocab",
//                          "dim", "seed", "table_ref", "backend"}.
//   blazen::similarity_topk  input {"queries": ["text", ...] (embedded as by blazen::embed) or
//                          "<ref uuid>", "corpus": "<ref uuid>", "k": 1..128}; refs must be f32
//                          2-D tensors of this node with equal D. Cosine top-min(k, N) corpus
//                          rows per query; result {"ids": [[...], ...], "scores": [[...], ...]},
//                          best first.
//
// Default workflows: `embed` = [blazen::embed], `search` = [blazen::similarity_topk].

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/session_ref.h"
#include "core/status.h"
#include "core/uuid.h"
#include "gpu/device_tensor.h"
#include "gpu/runtime.h"
#include "server/embedding_table_file.h"

namespace blazen {
class Engine;
}  // namespace blazen

namespace blazen::server {

/// Shape and seed of the node's embedding table.
struct EmbeddingModelOptions {
  /// Rows of the table (hash buckets of the tokenizer).
  std::int64_t vocab = std::int64_t{1} << 18;
  /// Embedding width.
  std::int64_t dim = 384;
  /// Element i of the table is kernels::UniformF32At(seed, i, -1, 1).
  std::uint64_t seed = 0;
  /// When non-empty: a file holding the table instead, a 2-D float array in an .npy file ('<f4'
  /// or '<f2', C order) or a .safetensors file (F32, F16 or BF16; see InspectTableFile); vocab
  /// and dim are then taken from its shape and seed is unused. Half-precision tables are widened
  /// to float32 on load.
  std::string table_path;
  /// The tensor of a .safetensors table_path holding several tensors (e.g.
  /// "embeddings.word_embeddings.weight"); empty selects the file's only tensor.
  std::string table_tensor;
};

/// The embedding table of a node: created deterministically from its seed on first use, held as a
/// DeviceTensor in the runtime's pool, and registered in the node's session-ref registry as an
/// UntilExplicitDrop ref (so DescribePeer lists it and counts its bytes). Thread-safe; the table
/// is created at most once per model.
class EmbeddingModel {
 public:
  /// The table and the key of its session ref.
  struct Table {
    std::shared_ptr<const gpu::DeviceTensor> tensor;
    Uuid ref;
  };

  /// kInvalidArgument unless vocab >= 1 and dim >= 1. With a table_path, reads and checks the
  /// file's header now (the data is read on first use): the errors of InspectTableFile.
  [[nodiscard]] static Result<std::shared_ptr<EmbeddingModel>> Create(
      EmbeddingModelOptions options);

  /// The table, created and registered in `refs` on the first call. If its ref was released since,
  /// it is registered again under a new key. Errors of DeviceTensor::Allocate, of the fill, and of
  /// SessionRefRegistry::Insert.
  [[nodiscard]] Result<Table> GetTable(gpu::GpuRuntime& runtime, SessionRefRegistry& refs);

  [[nodiscard]] const EmbeddingModelOptions& options() const { return options_; }
  [[nodiscard]] std::int64_t vocab() const { return options_.vocab; }
  [[nodiscard]] std::int64_t dim() const { return options_.dim; }

 private:
  EmbeddingModel(EmbeddingModelOptions options, std::optional<TableFileInfo> file)
      : options_(std::move(options)), file_(std::move(file)) {}

  const EmbeddingModelOptions options_;
  // The checked header of options_.table_path, when there is one.
  const std::optional<TableFileInfo> file_;
  std::mutex mu_;
  std::shared_ptr<const gpu::DeviceTensor> tensor_;  // guarded by mu_
  std::optional<Uuid> ref_;                          // guarded by mu_
};

/// What a node hands its steps through EngineOptions::services, as a
/// std::shared_ptr<NodeServices> inside the std::any.
struct NodeServices {
  std::shared_ptr<gpu::GpuRuntime> runtime;
  std::shared_ptr<EmbeddingModel> embedding;
  /// Benchmark aid: the factor blazen::busy multiplies its time by (PeerNodeOptions::slowdown).
  double slowdown = 1.0;
};

/// Registers the benchmark aid `blazen::busy`: `{"ms": N}` occupies a worker (a concurrency slot)
/// for N milliseconds times the node's slowdown, sleeping (no CPU), and stops at once when the run
/// is cancelled or passes its deadline. Answers `{"slept_ms": <actual>}`. Idempotent.
void RegisterBenchSteps();

/// The ids and bag offsets of a batch of texts (the input of EmbeddingBag): bag b is
/// ids[offsets[b], offsets[b + 1]); offsets.size() == number of texts + 1.
struct TokenizedBatch {
  std::vector<std::int64_t> ids;
  std::vector<std::int64_t> offsets;
};

/// FNV-1a, 64-bit, of `bytes`. Pure.
[[nodiscard]] std::uint64_t Fnv1a64(std::string_view bytes);

/// The words of `text`: ASCII letters are lowercased; a word is a maximal run of ASCII
/// alphanumerics and non-ASCII bytes (so UTF-8 sequences stay inside words). Pure.
[[nodiscard]] std::vector<std::string> SplitWords(std::string_view text);

/// Token ids of one text, in order: for each word, Fnv1a64(word) % vocab, then Fnv1a64 % vocab of
/// each character trigram (UTF-8 characters) of "<" + word + ">". Empty when the text has no
/// words. Requires vocab >= 1. Pure.
[[nodiscard]] std::vector<std::int64_t> TokenizeText(std::string_view text, std::int64_t vocab);

/// TokenizeText of each text, as bags. Requires vocab >= 1. Pure.
[[nodiscard]] TokenizedBatch TokenizeTexts(const std::vector<std::string>& texts,
                                           std::int64_t vocab);

/// Registers blazen::tensor_random, blazen::embed and blazen::similarity_topk in the
/// process-global registry (idempotent; thread-safe).
void RegisterGpuSteps();

/// Registers the GPU steps and sets the default workflows `embed` = [blazen::embed] and `search` =
/// [blazen::similarity_topk] on `engine`.
void AddGpuWorkflows(Engine& engine);

}  // namespace blazen::server
