// SPDX-License-Identifier: Apache-2.0
// blazen-peer: the command-line tool. `serve` starts a peer; `invoke`, `deref`, `release`,
// `release-scope` and `describe` talk to one. Errors are one line on stderr and a non-zero exit:
// 1 for a failed operation, 2 for bad usage.

#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "client/connect.h"
#include "client/deref_sink.h"
#include "client/peer_client_interface.h"
#include "client/pool/peer_pool.h"
#include "core/auth.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/peer_description.h"
#include "core/peer_error.h"
#include "core/tls.h"
#include "server/peer_node.h"
#include "tools/command_line.h"
#include "tools/route_bench.h"

namespace {

using nlohmann::json;

constexpr const char* kUsage = R"(usage: blazen-peer <command> [options]

commands:
  serve          run a peer (GPU worker node)
  invoke         run a sub-workflow on a peer and print result, state and refs as JSON
  deref          fetch a session ref's bytes (streamed, resumable)
  release        drop a session ref
  release-scope  drop every until_parent_finish ref of one parent run
  describe       print a peer's steps, workflows, devices and live refs as JSON
  pool           print a peer pool (peers, health, load, weight, labels) as JSON
  route-bench    compare routing policies on a local fleet (or --simulate a large one)

`blazen-peer <command> --help` describes a command's options.
)";

using blazen::cli::UsageError;

// blazen-peer's options: -o is short for --output in every command.
class Args : public blazen::cli::Args {
 public:
  Args(std::vector<std::string> args, std::set<std::string> value_options,
       std::set<std::string> flags)
      : blazen::cli::Args(std::move(args), std::move(value_options), std::move(flags),
                          {{"-o", "--output"}}) {}
};

const std::set<std::string> kClientOptions = {"peer",          "peers",      "discover", "policy",
                                              "node-id",       "token-file", "tls-cert", "tls-key",
                                              "parent-run-id", "deadline",   "tls-ca"};

std::set<std::string> With(std::set<std::string> base, std::initializer_list<const char*> more) {
  for (const char* m : more) base.insert(m);
  return base;
}

constexpr const char* kClientHelp = R"(
connection options:
  --peer URL             http://host:port (h2c), https://host:port (mTLS) or host:port;
                         http+json://host:port or https+json://host:port for the HTTP/JSON
                         transport (every command)
  --peers A,B,C          a pool of peers instead of one (each URL as --peer takes it)
  --discover URL         a pool whose peers come from dns:///NAME:PORT (every address
                         record) or etcd://HOST:PORT/PREFIX (peers registered with --etcd)
  --policy NAME          routing policy of the pool: least_loaded (default), round_robin,
                         random, consistent_hash
  --node-id ID           this caller's node id, sent as x-blazen-peer-node-id (default: cli)
  --token-file FILE      bearer token file (default: $BLAZEN_PEER_TOKEN)
  --tls-cert/--tls-key/--tls-ca FILE   client certificate, key and CA for https://
  --parent-run-id ID     parent run id (scopes until_parent_finish refs)
  --deadline SECONDS     deadline of the call
)";

// Connects to --peer over the transport its scheme names (blazen::client::ConnectPeer). --deadline
// is the gRPC transport's default deadline and the HTTP/JSON transport's read timeout.
std::unique_ptr<blazen::client::PeerClient> ConnectFrom(
    const Args& args, const std::function<void(blazen::client::ConnectOptions&)>& customize = {}) {
  blazen::client::ConnectOptions options;
  if (auto file = args.get("token-file")) {
    options.token = blazen::ValueOrThrow(blazen::ReadTokenFile(*file));
  }
  const bool any_tls = args.has("tls-cert") || args.has("tls-key") || args.has("tls-ca");
  if (any_tls) {
    options.tls = blazen::ValueOrThrow(blazen::LoadClientTls(
        args.required("tls-cert"), args.required("tls-key"), args.required("tls-ca")));
  }
  options.parent_run_id = args.get("parent-run-id");
  if (args.has("deadline")) {
    options.default_deadline = std::chrono::seconds(args.number("deadline", 0));
    options.read_timeout = options.default_deadline;
  }
  if (customize) customize(options);
  const int sources =
      (args.has("peer") ? 1 : 0) + (args.has("peers") ? 1 : 0) + (args.has("discover") ? 1 : 0);
  if (sources != 1) throw UsageError("give exactly one of --peer, --peers and --discover");
  if (args.has("policy") && args.has("peer"))
    throw UsageError("--policy needs --peers or --discover");
  const std::string node_id = args.get("node-id").value_or("cli");
  if (args.has("peer")) return blazen::client::ConnectPeer(args.required("peer"), node_id, options);
  blazen::client::pool::PeerPoolOptions pool;
  if (auto list = args.get("peers")) {
    std::size_t start = 0;
    for (;;) {
      const std::size_t comma = list->find(',', start);
      pool.endpoints.push_back(list->substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else {
    pool.discover = args.required("discover");
  }
  pool.policy = args.get("policy").value_or(std::string(blazen::client::pool::kDefaultPolicy));
  pool.connect = std::move(options);
  // A ref from an earlier command is not known to this process's pool: ask the peers for it.
  pool.locate_unknown_refs = true;
  return blazen::client::pool::PeerPool::Make(std::move(pool), node_id);
}

blazen::Uuid RefArg(const Args& args, const char* command) {
  if (args.positionals().size() != 1) {
    throw UsageError(std::string(command) + " needs exactly one REF (a session ref UUID)");
  }
  return blazen::ValueOrThrow(blazen::Uuid::Parse(args.positionals()[0]));
}

// --- serve ---------------------------------------------------------------------------------------

constexpr const char* kServeHelp = R"(usage: blazen-peer serve [options]

Runs a peer until SIGINT/SIGTERM, then drains in-flight runs (up to --grace seconds).
Prints `listening on HOST:PORT` once serving (useful with --listen 127.0.0.1:0).

  --node-id ID            this peer's node id (default: blazen-peer)
  --listen ADDR           host:port to listen on (default: 127.0.0.1:50051; port 0 = any free)
  --http ADDR             also serve the HTTP/JSON transport on host:port (port 0 = any free);
                          prints `http listening on HOST:PORT` after the gRPC line
  --tls-cert FILE --tls-key FILE --tls-ca FILE
                          serve TLS and require client certificates signed by the CA
  --token-file FILE       require `authorization: Bearer <token>` (default: $BLAZEN_PEER_TOKEN)
  --max-concurrency N     runs executing at once (default: 8)
  --max-queue N           runs waiting for a worker before RESOURCE_EXHAUSTED (default: 256)
  --default-timeout S     deadline of runs whose request has none (default: 300)
  --ref-ttl S             idle TTL of until_parent_finish refs (default: 3600)
  --max-refs N            most live session refs (default: 10000)
  --host-ref-bytes N      most bytes of host-resident refs (default: 17179869184)
  --max-request-bytes N   largest request message (default: 67108864)
  --grace S               shutdown grace period (default: 30)
  --gpu-device N          CUDA device to use (default: 0 when one is usable)
  --gpu-budget BYTES      byte budget of the device pool (default: 90% of free device memory)
  --host-only             run on the host fallback even when a GPU is visible
  --embed-table FILE      blazen::embed table: a 2-D float array in an .npy or .safetensors
                          file (f32, f16 or bf16; default: seeded random)
  --embed-table-tensor NAME  the tensor of a .safetensors table holding several
  --embed-vocab N         rows of the seeded table (default: 262144)
  --embed-dim N           width of the seeded table (default: 384)
  --label KEY=VALUE       a label DescribePeer reports for routers (repeatable), e.g. gpu=h100
  --capacity-weight W     relative capacity for weighted routing (default: 1 on the host
                          fallback, the GPU's memory / 16 GiB on a GPU)
  --slowdown F            benchmark aid: blazen::busy sleeps F times as long (default: 1)
  --etcd URL              register in etcd at URL (http://host:port or etcd://host:port) while
                          serving, so routers using the discovery URL etcd://host:port/PREFIX
                          find this peer; the key is deleted at shutdown (before the drain)
  --etcd-prefix P         etcd key prefix; the key is P/<node id> (default: /blazen/peers)
  --etcd-ttl S            lease TTL: how long the key outlives a peer that died (default: 2)
  --advertise ENDPOINT    the endpoint registered in etcd (default: the gRPC endpoint,
                          http://HOST:PORT or https://HOST:PORT with TLS; a wildcard listen
                          host becomes 127.0.0.1)
)";

// A positive finite number, or a UsageError naming `name`.
double PositiveNumber(const Args& args, const std::string& name, double fallback) {
  const std::optional<std::string> text = args.get(name);
  if (!text) return fallback;
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(*text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text->size() || !std::isfinite(value) || value <= 0) {
    throw UsageError("--" + name + " must be a positive number, got '" + *text + "'");
  }
  return value;
}

// --label, --capacity-weight, --slowdown: what a node tells routers about itself.
void ApplyFleetOptions(const Args& args, blazen::server::PeerNodeOptions& options) {
  for (const std::string& label : args.all("label")) {
    const auto eq = label.find('=');
    if (eq == 0 || eq == std::string::npos) {
      throw UsageError("--label must be KEY=VALUE, got '" + label + "'");
    }
    options.labels[label.substr(0, eq)] = label.substr(eq + 1);
  }
  if (args.has("capacity-weight")) {
    options.capacity_weight = PositiveNumber(args, "capacity-weight", 1.0);
  }
  options.slowdown = PositiveNumber(args, "slowdown", 1.0);
}

// --etcd, --etcd-prefix, --etcd-ttl, --advertise: registration for routers that discover peers
// through etcd.
void ApplyEtcdOptions(const Args& args, blazen::server::PeerNodeOptions& options) {
  if (!args.has("etcd")) {
    for (const char* name : {"etcd-prefix", "etcd-ttl", "advertise"}) {
      if (args.has(name)) throw UsageError(std::string("--") + name + " needs --etcd");
    }
    return;
  }
  options.etcd_url = args.required("etcd");
  if (args.has("etcd-prefix")) options.etcd_prefix = args.required("etcd-prefix");
  options.etcd_ttl = std::chrono::seconds(args.number("etcd-ttl", 2));
  if (options.etcd_ttl.count() < 1) throw UsageError("--etcd-ttl must be at least 1");
  if (args.has("advertise")) options.advertise_endpoint = args.required("advertise");
}

int Serve(const std::vector<std::string>& raw) {
  Args args(raw,
            {"node-id",
             "listen",
             "http",
             "tls-cert",
             "tls-key",
             "tls-ca",
             "token-file",
             "max-concurrency",
             "max-queue",
             "default-timeout",
             "ref-ttl",
             "max-refs",
             "host-ref-bytes",
             "max-request-bytes",
             "grace",
             "gpu-device",
             "gpu-budget",
             "embed-table",
             "embed-table-tensor",
             "embed-vocab",
             "embed-dim",
             "label",
             "capacity-weight",
             "slowdown",
             "etcd",
             "etcd-prefix",
             "etcd-ttl",
             "advertise"},
            {"host-only"});
  if (args.help()) {
    std::fputs(kServeHelp, stdout);
    return 0;
  }
  if (!args.positionals().empty()) throw UsageError("serve takes no positional arguments");
  blazen::server::PeerNodeOptions options;
  options.node_id = args.get("node-id").value_or("blazen-peer");
  options.listen_address = args.get("listen").value_or("127.0.0.1:50051");
  options.http_listen_address = args.get("http");
  if (args.has("tls-cert") || args.has("tls-key") || args.has("tls-ca")) {
    options.tls = blazen::ValueOrThrow(blazen::LoadServerTls(
        args.required("tls-cert"), args.required("tls-key"), args.required("tls-ca")));
  }
  if (auto file = args.get("token-file")) {
    options.token = blazen::ValueOrThrow(blazen::ReadTokenFile(*file));
  } else {
    options.token = blazen::ResolvePeerToken();
  }
  options.engine.worker_threads = args.number("max-concurrency", 8);
  if (options.engine.worker_threads == 0) throw UsageError("--max-concurrency must be at least 1");
  options.engine.max_queued_runs = args.number("max-queue", 256);
  options.engine.default_timeout = std::chrono::seconds(args.number("default-timeout", 300));
  options.registry.parent_finish_idle_ttl = std::chrono::seconds(args.number("ref-ttl", 3600));
  options.registry.max_entries = args.number("max-refs", 10'000);
  options.registry.max_bytes_per_location["host"] =
      args.number("host-ref-bytes", std::uint64_t{16} << 30);
  options.max_request_bytes = args.number("max-request-bytes", std::uint64_t{64} << 20);
  options.shutdown_grace = std::chrono::seconds(args.number("grace", 30));
  if (args.has("gpu-device")) options.gpu.device = static_cast<int>(args.number("gpu-device", 0));
  options.gpu.budget_bytes = args.number("gpu-budget", 0);
  options.gpu.force_host = args.has("host-only");
  if (auto table = args.get("embed-table")) options.embedding.table_path = *table;
  if (auto tensor = args.get("embed-table-tensor")) options.embedding.table_tensor = *tensor;
  options.embedding.vocab = static_cast<std::int64_t>(args.number("embed-vocab", 1u << 18));
  options.embedding.dim = static_cast<std::int64_t>(args.number("embed-dim", 384));
  if (options.embedding.vocab == 0 || options.embedding.dim == 0) {
    throw UsageError("--embed-vocab and --embed-dim must be at least 1");
  }
  ApplyFleetOptions(args, options);
  ApplyEtcdOptions(args, options);

  // Signals go to a dedicated thread (blocked everywhere else, inherited by gRPC's threads).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<blazen::server::PeerNode> node =
      blazen::ValueOrThrow(blazen::server::PeerNode::Start(options));
  std::string host = options.listen_address.substr(0, options.listen_address.rfind(':'));
  std::printf("listening on %s:%d\n", host.c_str(), node->port());
  if (options.http_listen_address) {
    const std::string& http = *options.http_listen_address;
    std::printf("http listening on %s:%d\n", http.substr(0, http.rfind(':')).c_str(),
                node->http_port());
  }
  std::fflush(stdout);

  std::thread watcher([&node, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::fprintf(stderr, "blazen-peer: %s received, shutting down\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
    node->Shutdown();
  });
  node->Wait();
  // If the node stopped on its own, release the watcher.
  pthread_kill(watcher.native_handle(), SIGTERM);
  watcher.join();
  return 0;
}

// --- client commands -----------------------------------------------------------------------------

json RefsJson(const blazen::SubWorkflowResponse& response) {
  json refs = json::object();
  for (const auto& [key, d] : response.remote_refs) {
    refs[key.ToString()] = {{"origin_node_id", d.origin_node_id},
                            {"type_tag", d.type_tag},
                            {"created_at_epoch_ms", d.created_at_epoch_ms}};
  }
  return refs;
}

int Invoke(const std::vector<std::string>& raw) {
  Args args(raw, With(kClientOptions, {"workflow", "steps", "input", "timeout"}), {"events"});
  if (args.help()) {
    std::printf(
        "usage: blazen-peer invoke --peer URL --workflow NAME [--steps a,b] --input JSON "
        "[--timeout S] [--events]\n\nRuns a sub-workflow and prints {result, state, refs, error} "
        "as JSON.\n--events streams each event as one JSON line first.\n%s",
        kClientHelp);
    return 0;
  }
  std::vector<std::string> steps;
  if (auto list = args.get("steps")) {
    std::size_t start = 0;
    while (start <= list->size()) {
      const std::size_t comma = list->find(',', start);
      std::string id = list->substr(start, comma - start);
      if (!id.empty()) steps.push_back(id);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  json input = blazen::ValueOrThrow(blazen::ParseJson(args.get("input").value_or("null")));
  std::optional<std::uint64_t> timeout;
  if (args.has("timeout")) timeout = args.number("timeout", 0);
  blazen::SubWorkflowRequest request = blazen::ValueOrThrow(
      blazen::MakeSubWorkflowRequest(args.required("workflow"), steps, input, timeout));

  auto print_event = [](const blazen::SubWorkflowEvent& e) {
    json line = {{"event_type", e.event_type},
                 {"step_id", e.step_id},
                 {"timestamp_ms", e.timestamp_ms},
                 {"data", blazen::ParseJson(e.data_json).value_or(json(e.data_json))}};
    std::printf("%s\n", blazen::DumpJson(line).c_str());
    std::fflush(stdout);
  };
  const std::unique_ptr<blazen::client::PeerClient> client = ConnectFrom(args);
  blazen::client::CallTrace trace;
  blazen::client::CallOptions call;
  call.trace = &trace;
  const blazen::SubWorkflowResponse response =
      args.has("events") ? client->StreamSubWorkflowEvents(request, print_event, call)
                         : client->InvokeSubWorkflow(request, call);
  json out;
  if (!args.has("peer")) {  // a pool: which peer served it
    out["peer"] = {
        {"node_id", trace.node_id}, {"endpoint", trace.endpoint}, {"tried", trace.tried}};
  }
  auto result = blazen::ResultValue(response);
  out["result"] = result.ok() && result->has_value() ? **result : json();
  json state = json::object();
  if (auto values = blazen::StateValues(response); values.ok()) {
    for (const auto& [k, v] : *values) state[k] = v;
  }
  out["state"] = state;
  out["refs"] = RefsJson(response);
  out["error"] = response.error ? json(*response.error) : json();
  std::printf("%s\n", out.dump(2).c_str());
  return response.error ? 1 : 0;
}

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %s", bytes, units[u]);
  return buf;
}

// Writes a payload in order to a stream that cannot seek (standard output, a pipe). Used with a
// single deref stream, whose chunks arrive in order.
class SequentialSink final : public blazen::client::DerefSink {
 public:
  explicit SequentialSink(std::FILE* out) : out_(out) {}
  blazen::Status Begin(std::uint64_t, std::string_view) override { return blazen::Status::Ok(); }
  blazen::Status Write(std::uint64_t offset, std::span<const std::uint8_t> bytes) override {
    if (offset != written_) {
      return blazen::Status::Internal("out-of-order chunk at " + std::to_string(offset));
    }
    if (std::fwrite(bytes.data(), 1, bytes.size(), out_) != bytes.size()) {
      return blazen::Status::Unavailable("cannot write to standard output");
    }
    written_ += bytes.size();
    return blazen::Status::Ok();
  }
  blazen::Status Finish() override {
    return std::fflush(out_) == 0 ? blazen::Status::Ok()
                                  : blazen::Status::Unavailable("cannot flush standard output");
  }

 private:
  std::FILE* out_;
  std::uint64_t written_ = 0;
};

int Deref(const std::vector<std::string>& raw) {
  Args args(raw, With(kClientOptions, {"output", "parallel", "chunk-bytes"}), {"no-progress"});
  if (args.help()) {
    std::printf(
        "usage: blazen-peer deref --peer URL REF [-o FILE] [--parallel K] [--chunk-bytes N]\n\n"
        "Streams a session ref's bytes to FILE (default: standard output), resuming after a\n"
        "broken stream; large refs are fetched as K ranges over K connections (default: half\n"
        "the cores, 1 to 8).\n"
        "A progress bar is shown on a terminal unless --no-progress.\n%s",
        kClientHelp);
    return 0;
  }
  const blazen::Uuid key = RefArg(args, "deref");
  const std::optional<std::string> path = args.get("output");
  // --parallel and --chunk-bytes apply to the gRPC transport; HTTP/JSON streams one range.
  const std::unique_ptr<blazen::client::PeerClient> client =
      ConnectFrom(args, [&](blazen::client::ConnectOptions& options) {
        if (args.has("parallel")) options.parallel_streams = args.number("parallel", 4);
        if (!path) options.parallel_streams = 1;  // standard output is written in order
        if (args.has("chunk-bytes")) {
          options.chunk_bytes = static_cast<std::uint32_t>(args.number("chunk-bytes", 1u << 20));
        }
      });
  const auto started = std::chrono::steady_clock::now();
  const bool show_progress = !args.has("no-progress") && isatty(STDERR_FILENO) == 1;
  auto progress = [&](const blazen::client::DerefProgress& p) {
    if (!show_progress || p.total == 0) return;
    const double fraction = static_cast<double>(p.received) / static_cast<double>(p.total);
    const std::size_t width = 30;
    const auto filled = static_cast<std::size_t>(fraction * static_cast<double>(width));
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::fprintf(stderr, "\r[%s%s] %5.1f%% %s / %s  %s/s", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), 100 * fraction,
                 HumanBytes(static_cast<double>(p.received)).c_str(),
                 HumanBytes(static_cast<double>(p.total)).c_str(),
                 HumanBytes(secs > 0 ? static_cast<double>(p.received) / secs : 0).c_str());
  };
  auto deref_to = [&](blazen::client::DerefSink& sink) {
    return client->DerefTo(key, sink, progress);
  };
  blazen::client::DerefResult result;
  if (path) {
    blazen::client::FileSink sink(*path);
    result = deref_to(sink);
  } else {
    SequentialSink sink(stdout);
    result = deref_to(sink);
  }
  if (show_progress) std::fputc('\n', stderr);
  std::fprintf(stderr, "%s: %llu bytes, type %s, %d stream(s), %d resume(s)\n",
               key.ToString().c_str(), static_cast<unsigned long long>(result.total_size),
               result.type_tag.c_str(), result.streams, result.resumes);
  return 0;
}

int Release(const std::vector<std::string>& raw) {
  Args args(raw, kClientOptions, {});
  if (args.help()) {
    std::printf(
        "usage: blazen-peer release --peer URL REF\n\nDrops a session ref; prints "
        "`released` or `not found`.\n%s",
        kClientHelp);
    return 0;
  }
  const blazen::Uuid key = RefArg(args, "release");
  const bool released = ConnectFrom(args)->ReleaseSessionRef(key);
  std::printf("%s\n", released ? "released" : "not found");
  return released ? 0 : 1;
}

int ReleaseScope(const std::vector<std::string>& raw) {
  Args args(raw, kClientOptions, {});
  if (args.help()) {
    std::printf("usage: blazen-peer release-scope --peer URL PARENT_RUN_ID\n%s", kClientHelp);
    return 0;
  }
  if (args.positionals().size() != 1) throw UsageError("release-scope needs one PARENT_RUN_ID");
  const std::string& parent = args.positionals()[0];
  const std::uint64_t released = ConnectFrom(args)->ReleaseScope(parent);
  std::printf("%llu\n", static_cast<unsigned long long>(released));
  return 0;
}

int Describe(const std::vector<std::string>& raw) {
  Args args(raw, kClientOptions, {});
  if (args.help()) {
    std::printf("usage: blazen-peer describe --peer URL\n%s", kClientHelp);
    return 0;
  }
  const blazen::client::PeerDescription d = ConnectFrom(args)->DescribePeer();
  const json out = blazen::PeerDescriptionToJson(d);
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

int Pool(const std::vector<std::string>& raw) {
  Args args(raw, With(kClientOptions, {"wait"}), {"metrics"});
  if (args.help()) {
    std::printf(
        "usage: blazen-peer pool (--peers A,B | --discover URL) [--policy NAME] [--wait S]\n"
        "                        [--metrics]\n\n"
        "Makes a peer pool, waits up to S seconds (default 3) for its peers, and prints it as\n"
        "JSON: policy, source, and per peer its endpoint, node id, health, load, weight,\n"
        "labels and steps. --metrics prints the pool's Prometheus counters instead.\n%s",
        kClientHelp);
    return 0;
  }
  if (args.has("peer")) throw UsageError("pool takes --peers or --discover, not --peer");
  const std::unique_ptr<blazen::client::PeerClient> client = ConnectFrom(args);
  auto& pool = dynamic_cast<blazen::client::pool::PeerPool&>(*client);
  const auto peers = pool.Peers();
  pool.WaitForHealthy(peers.size(), std::chrono::seconds(args.number("wait", 3)));
  if (args.has("metrics")) {
    std::printf("%s", pool.MetricsText().c_str());
  } else {
    std::printf("%s\n", pool.DescribeJson().c_str());
  }
  bool any = false;
  for (const auto& p : pool.Peers()) any = any || p.healthy;
  return any ? 0 : 1;
}

int Run(int argc, char** argv) {
  // Logs go to standard error; standard output carries only machine-readable results.
  spdlog::set_default_logger(spdlog::stderr_color_mt("blazen-peer"));
  if (const char* level = std::getenv("BLAZEN_LOG_LEVEL")) {
    spdlog::set_level(spdlog::level::from_str(level));
  }
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string command = argv[1];
  const std::vector<std::string> rest(argv + 2, argv + argc);
  const std::map<std::string, std::function<int(const std::vector<std::string>&)>> commands = {
      {"serve", Serve},
      {"invoke", Invoke},
      {"deref", Deref},
      {"release", Release},
      {"release-scope", ReleaseScope},
      {"describe", Describe},
      {"pool", Pool},
      {"route-bench", blazen::cli::RouteBench}};
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  auto it = commands.find(command);
  if (it == commands.end()) {
    std::fprintf(stderr, "blazen-peer: unknown command '%s'\n%s", command.c_str(), kUsage);
    return 2;
  }
  try {
    return it->second(rest);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "blazen-peer %s: %s (see blazen-peer %s --help)\n", command.c_str(),
                 e.what(), command.c_str());
    return 2;
  } catch (const blazen::PeerError& e) {
    std::fprintf(stderr, "blazen-peer %s: %s [%s]\n", command.c_str(), e.what(),
                 std::string(blazen::StatusCodeName(e.code())).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "blazen-peer %s: %s\n", command.c_str(), e.what());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
