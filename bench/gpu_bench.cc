// SPDX-License-Identifier: Apache-2.0
// GPU benchmark of a worker peer, one run on one device:
//   1. EmbeddingBagMean + L2 normalisation (our fused kernel) for f32 and f16 tables [2^20, 384]
//      and batches 4096x128 and 65536x64 ids; bench/torch_embedding_bag.py times
//      torch.nn.functional.embedding_bag + normalize on the same shapes with the same method, and
//      bench/gpu_report.py prints the ratios;
//   2. 1 MiB allocations: the budgeted stream-ordered pool vs cudaMalloc/cudaFree;
//   3. streaming deref over loopback gRPC of a 1 GiB device tensor ref vs a host ref of the same
//      size from the same peer (the device-to-host copy must hide behind the network).
// Every kernel result is checked against the CPU reference before it is timed.
// tests/gpu/run_gpu_bench.sh runs all of it and writes the report.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "client/deref_sink.h"
#include "client/peer_client.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/status.h"
#include "gpu/device_buffer.h"
#include "gpu/runtime.h"
#include "kernels/embedding_bag.h"
#include "kernels/fill.h"
#include "server/peer_node.h"
#include "tools/command_line.h"

#if BLAZEN_GPU_BUILT_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace blazen::bench {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage = R"(usage: blazen_gpu_bench [options]

  --json PATH        also write the results as JSON (input of bench/gpu_report.py)
  --quick            small shapes (a smoke run: seconds, not minutes)
  --allow-host       run on the host fallback when no CUDA device is usable (timings are then
                     of the CPU references and say nothing about a GPU)
  --deref-bytes N    size of the deref refs (default 1073741824)
  --reps N           timed repetitions per measurement; the median is reported (default 7)
)";

struct Options {
  std::string json_path;
  bool quick = false;
  bool allow_host = false;
  std::uint64_t deref_bytes = std::uint64_t{1} << 30;
  int reps = 7;
};

template <typename T>
T Check(Result<T> result, const std::string& what) {
  if (!result.ok()) throw std::runtime_error(what + ": " + result.status().ToString());
  return std::move(result).value();
}

void Check(const Status& status, const std::string& what) {
  if (!status.ok()) throw std::runtime_error(what + ": " + status.ToString());
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median over `reps` of the mean time of `inner` back-to-back calls of `launch`, each group
// followed by `sync` (the same method bench/torch_embedding_bag.py uses).
double TimeMs(int reps, int inner, const std::function<void()>& launch,
              const std::function<void()>& sync) {
  for (int i = 0; i < 3; ++i) launch();  // warm-up
  sync();
  std::vector<double> samples;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i) launch();
    sync();
    samples.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / inner);
  }
  return Median(samples);
}

// --- 1. EmbeddingBag
// ------------------------------------------------------------------------------

// The f32 table: element i = UniformF32At(7, i, -1, 1), on the device and on the host; the f16
// table holds the same values rounded to f16.
struct Tables {
  std::int64_t vocab = 0;
  std::int64_t dim = 0;
  gpu::DeviceBuffer table32;
  gpu::DeviceBuffer table16;
  std::vector<float> host32;
  std::vector<std::uint16_t> host16;

  [[nodiscard]] const void* device(DType dtype) const {
    return dtype == DType::kF32 ? table32.data() : table16.data();
  }
  [[nodiscard]] const void* host(DType dtype) const {
    return dtype == DType::kF32 ? static_cast<const void*>(host32.data())
                                : static_cast<const void*>(host16.data());
  }
};

Tables MakeTables(gpu::GpuRuntime& runtime, std::int64_t vocab, std::int64_t dim) {
  const gpu::StreamView stream = runtime.stream();
  const auto count = static_cast<std::size_t>(vocab * dim);
  Tables t;
  t.vocab = vocab;
  t.dim = dim;
  t.table32 = Check(gpu::DeviceBuffer::Allocate(count * 4, runtime.pool(), stream), "table f32");
  t.table16 = Check(gpu::DeviceBuffer::Allocate(count * 2, runtime.pool(), stream), "table f16");
  t.host32.resize(count);
  t.host16.resize(count);
  Check(kernels::RandomUniformF32Reference(t.host32.data(), vocab * dim, 7, -1, 1), "host table");
  Check(kernels::ConvertF32ToF16Reference(t.host32.data(), t.host16.data(), vocab * dim),
        "host f16");
  Check(t.table32.CopyFromHost(t.host32.data(), count * 4, stream), "upload f32");
  Check(t.table16.CopyFromHost(t.host16.data(), count * 2, stream), "upload f16");
  return t;
}

// One batch of `bags` bags of `per_bag` random ids, on the host and on the device, and the
// device output.
struct Batch {
  std::int64_t bags = 0;
  std::int64_t per_bag = 0;
  std::vector<std::int64_t> ids;
  std::vector<std::int64_t> offsets;
  gpu::DeviceBuffer d_ids;
  gpu::DeviceBuffer d_offsets;
  gpu::DeviceBuffer d_out;
};

Batch MakeBatch(gpu::GpuRuntime& runtime, const Tables& tables, std::int64_t bags,
                std::int64_t per_bag, std::mt19937_64& rng) {
  const gpu::StreamView stream = runtime.stream();
  Batch b;
  b.bags = bags;
  b.per_bag = per_bag;
  b.ids.resize(static_cast<std::size_t>(bags * per_bag));
  std::uniform_int_distribution<std::int64_t> pick(0, tables.vocab - 1);
  for (auto& id : b.ids) id = pick(rng);
  b.offsets.resize(static_cast<std::size_t>(bags + 1));
  for (std::int64_t i = 0; i <= bags; ++i) b.offsets[static_cast<std::size_t>(i)] = i * per_bag;
  b.d_ids = Check(gpu::DeviceBuffer::Allocate(b.ids.size() * 8, runtime.pool(), stream), "ids");
  b.d_offsets =
      Check(gpu::DeviceBuffer::Allocate(b.offsets.size() * 8, runtime.pool(), stream), "offsets");
  b.d_out = Check(gpu::DeviceBuffer::Allocate(static_cast<std::size_t>(bags * tables.dim) * 4,
                                              runtime.pool(), stream),
                  "out");
  Check(b.d_ids.CopyFromHost(b.ids.data(), b.ids.size() * 8, stream), "upload ids");
  Check(b.d_offsets.CopyFromHost(b.offsets.data(), b.offsets.size() * 8, stream), "upload offsets");
  return b;
}

// Correctness first: the first 64 bags of the device output (already computed) against the CPU
// reference. Returns the largest absolute difference; throws when it is over 1e-5.
double CheckAgainstReference(const kernels::EmbeddingBagArgs& args, const Tables& tables,
                             const Batch& batch, DType table_dtype, gpu::StreamView stream) {
  const std::int64_t check_bags = std::min<std::int64_t>(64, batch.bags);
  std::vector<float> got(static_cast<std::size_t>(check_bags * tables.dim));
  Check(batch.d_out.CopyToHost(got.data(), 0, got.size() * 4, stream), "download");
  std::vector<float> want(got.size());
  kernels::EmbeddingBagArgs ref = args;
  ref.table = tables.host(table_dtype);
  ref.ids = batch.ids.data();
  ref.offsets = batch.offsets.data();
  ref.num_bags = check_bags;
  ref.num_ids = batch.offsets[static_cast<std::size_t>(check_bags)];
  ref.out = want.data();
  Check(kernels::EmbeddingBagMeanReference(ref), "reference");
  double max_err = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    max_err = std::max(max_err, static_cast<double>(std::fabs(got[i] - want[i])));
  }
  if (max_err > 1e-5) {
    throw std::runtime_error("EmbeddingBagMean differs from the reference by " +
                             std::to_string(max_err));
  }
  return max_err;
}

// Checks, then times one table dtype on one batch; prints and returns its row.
json BenchEmbeddingBagCase(gpu::GpuRuntime& runtime, const Options& o, const Tables& tables,
                           Batch& batch, DType table_dtype) {
  const gpu::StreamView stream = runtime.stream();
  kernels::EmbeddingBagArgs args;
  args.table = tables.device(table_dtype);
  args.table_dtype = table_dtype;
  args.num_rows = tables.vocab;
  args.dim = tables.dim;
  args.ids = batch.d_ids.data();
  args.id_dtype = DType::kI64;
  args.num_ids = batch.bags * batch.per_bag;
  args.offsets = static_cast<const std::int64_t*>(batch.d_offsets.data());
  args.num_bags = batch.bags;
  args.normalize = true;
  args.out = static_cast<float*>(batch.d_out.data());
  const auto launch = [&] {
    const Status st = runtime.is_cuda() ? kernels::EmbeddingBagMean(args, stream.handle())
                                        : kernels::EmbeddingBagMeanReference(args);
    Check(st, "EmbeddingBagMean");
  };
  const auto sync = [&] { Check(stream.Synchronize(), "synchronize"); };
  launch();
  sync();
  const double max_err = CheckAgainstReference(args, tables, batch, table_dtype, stream);
  const int inner = o.quick || !runtime.is_cuda() ? 2 : 20;
  const double ms = TimeMs(o.reps, inner, launch, sync);
  const std::string dtype_name(DTypeName(table_dtype));
  std::printf("embedding_bag %s [%lld, %lld] %lldx%lld: %.4f ms (max |err| %.2g)\n",
              dtype_name.c_str(), static_cast<long long>(tables.vocab),
              static_cast<long long>(tables.dim), static_cast<long long>(batch.bags),
              static_cast<long long>(batch.per_bag), ms, max_err);
  return {{"table_dtype", dtype_name}, {"vocab", tables.vocab},        {"dim", tables.dim},
          {"bags", batch.bags},        {"ids_per_bag", batch.per_bag}, {"ms", ms},
          {"max_abs_err", max_err}};
}

json BenchEmbeddingBag(gpu::GpuRuntime& runtime, const Options& o) {
  const std::int64_t vocab = o.quick ? (1 << 14) : (1 << 20);
  const std::int64_t dim = 384;
  const std::vector<std::pair<std::int64_t, std::int64_t>> batches =
      o.quick ? std::vector<std::pair<std::int64_t, std::int64_t>>{{256, 32}}
              : std::vector<std::pair<std::int64_t, std::int64_t>>{{4096, 128}, {65536, 64}};
  const Tables tables = MakeTables(runtime, vocab, dim);
  json rows = json::array();
  std::mt19937_64 rng(42);
  for (const auto& [bags, per_bag] : batches) {
    Batch batch = MakeBatch(runtime, tables, bags, per_bag, rng);
    for (const DType table_dtype : {DType::kF32, DType::kF16}) {
      rows.push_back(BenchEmbeddingBagCase(runtime, o, tables, batch, table_dtype));
    }
  }
  return rows;
}

// --- 2. Pool vs cudaMalloc
// -------------------------------------------------------------------------

json BenchAllocation(gpu::GpuRuntime& runtime, const Options& o) {
  constexpr std::size_t kBytes = std::size_t{1} << 20;
  const int iters = o.quick ? 200 : 2000;
  const gpu::StreamView stream = runtime.stream();
  const auto pool_pair = [&] {
    gpu::DeviceBuffer b =
        Check(gpu::DeviceBuffer::Allocate(kBytes, runtime.pool(), stream), "pool");
  };
  std::function<void()> raw_pair;
#if BLAZEN_GPU_BUILT_WITH_CUDA
  if (runtime.is_cuda()) {
    raw_pair = [] {
      void* p = nullptr;
      if (cudaMalloc(&p, kBytes) != cudaSuccess) throw std::runtime_error("cudaMalloc failed");
      if (cudaFree(p) != cudaSuccess) throw std::runtime_error("cudaFree failed");
    };
  }
#endif
  const auto sync = [&] { Check(stream.Synchronize(), "synchronize"); };
  const double pool_us = TimeMs(o.reps, iters, pool_pair, sync) * 1000.0;
  json row = {{"bytes", kBytes}, {"pool_alloc_free_us", pool_us}};
  std::printf("1 MiB allocate+free: pool %.3f us", pool_us);
  if (raw_pair) {
    const double raw_us = TimeMs(o.reps, iters, raw_pair, sync) * 1000.0;
    row["cuda_malloc_free_us"] = raw_us;
    row["speedup"] = raw_us / pool_us;
    std::printf(", cudaMalloc/cudaFree %.3f us: %.1fx", raw_us, raw_us / pool_us);
  }
  std::printf("\n");
  return row;
}

// --- 3. Device vs host deref
// -------------------------------------------------------------------------

// Counts and drops the bytes (the bench measures the transport, not the sink).
class DiscardSink final : public client::DerefSink {
 public:
  Status Begin(std::uint64_t total, std::string_view) override {
    total_ = total;
    return Status::Ok();
  }
  Status Write(std::uint64_t, std::span<const std::uint8_t> bytes) override {
    received_ += bytes.size();
    return Status::Ok();
  }
  Status Finish() override {
    return received_ == total_ ? Status::Ok() : Status::DataLoss("short payload");
  }

 private:
  std::uint64_t total_ = 0;
  std::atomic<std::uint64_t> received_{0};
};

json BenchDeref(const Options& o) {
  server::PeerNodeOptions node_options;
  node_options.listen_address = "127.0.0.1:0";
  node_options.node_id = "gpu-bench-peer";
  node_options.gpu.force_host = o.allow_host && gpu::VisibleCudaDeviceCount() == 0;
  auto node = Check(server::PeerNode::Start(node_options), "start the peer");
  auto client_for = [&](std::size_t streams) {
    client::ClientOptions options;
    options.token_from_env = false;
    options.parallel_streams = streams;
    return client::BlazenPeerClient::Connect(node->endpoint(), "gpu-bench", options);
  };
  auto one = client_for(1);
  const std::uint64_t bytes = o.quick ? (std::uint64_t{64} << 20) : o.deref_bytes;
  const auto invoke = [&](const std::string& step, const json& input) {
    const SubWorkflowResponse r = one->InvokeSubWorkflow(
        Check(MakeSubWorkflowRequest("bench", {step}, input, 600), "request"));
    if (r.error) throw std::runtime_error(step + " failed: " + *r.error);
    return Check(Uuid::Parse(Check(ParseJson(*r.result_json), "result")["ref"].get<std::string>()),
                 "ref");
  };
  const Uuid device_ref =
      invoke("blazen::tensor_random", {{"shape", {static_cast<std::int64_t>(bytes / 4)}}});
  const Uuid host_ref = invoke("blazen::host_blob", {{"bytes", bytes}});

  json rows = json::array();
  for (const std::size_t streams : {std::size_t{1}, std::size_t{0}}) {
    auto client = streams == 1 ? std::move(one) : client_for(0);
    const auto gbps = [&](const Uuid& ref) {
      std::vector<double> samples;
      int used = 0;
      for (int r = 0; r < std::max(3, o.reps / 2); ++r) {
        DiscardSink sink;
        const auto t0 = Clock::now();
        used = client->DerefTo(ref, sink).streams;
        samples.push_back(static_cast<double>(bytes) /
                          std::chrono::duration<double>(Clock::now() - t0).count() / 1e9);
      }
      return std::make_pair(Median(samples), used);
    };
    const auto [device_gbps, device_streams] = gbps(device_ref);
    const auto [host_gbps, host_streams] = gbps(host_ref);
    rows.push_back({{"bytes", bytes},
                    {"streams", device_streams},
                    {"device_ref_gbps", device_gbps},
                    {"host_ref_gbps", host_gbps},
                    {"ratio", device_gbps / host_gbps}});
    std::printf("deref %llu bytes, %d stream(s): device ref %.2f GB/s, host ref %.2f GB/s: %.2fx\n",
                static_cast<unsigned long long>(bytes), device_streams, device_gbps, host_gbps,
                device_gbps / host_gbps);
    (void)host_streams;
  }
  node->Shutdown(std::chrono::milliseconds(0));
  return rows;
}

int Main(int argc, char** argv) {
  const cli::Args args(std::vector<std::string>(argv + 1, argv + argc),
                       {"json", "deref-bytes", "reps"}, {"quick", "allow-host"});
  if (args.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!args.positionals().empty()) {
    throw cli::UsageError("unexpected argument '" + args.positionals().front() + "'");
  }
  Options o;
  o.json_path = args.get("json").value_or("");
  o.quick = args.has("quick");
  o.allow_host = args.has("allow-host");
  o.deref_bytes = args.number("deref-bytes", o.deref_bytes);
  o.reps = static_cast<int>(std::clamp<std::uint64_t>(args.number("reps", 7), 1, 1000));
  gpu::GpuRuntimeOptions runtime_options;
  runtime_options.force_host = o.allow_host && gpu::VisibleCudaDeviceCount() == 0;
  auto runtime = Check(gpu::GpuRuntime::Create(runtime_options), "GPU runtime");
  if (!runtime->is_cuda() && !o.allow_host) {
    std::fprintf(stderr,
                 "blazen_gpu_bench: no usable CUDA device (%s); --allow-host runs the "
                 "host fallback for a smoke test\n",
                 runtime->fallback_reason().c_str());
    return 2;
  }
  std::printf("device: %s\n", runtime->Describe().c_str());
  json out = {{"device", runtime->device_name()}, {"backend", runtime->location()}};
  out["embedding_bag"] = BenchEmbeddingBag(*runtime, o);
  out["allocation"] = BenchAllocation(*runtime, o);
  out["deref"] = BenchDeref(o);
  if (!o.json_path.empty()) std::ofstream(o.json_path) << out.dump(2) << "\n";
  return 0;
}

}  // namespace
}  // namespace blazen::bench

int main(int argc, char** argv) {
  try {
    return blazen::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "blazen_gpu_bench: %s\n", e.what());
    return 1;
  }
}
