// SPDX-License-Identifier: Apache-2.0
// blazen_peer_bench: measures a `blazen-peer serve` process against raw gRPC and raw TCP control
// servers on the same machine, in one run: invoke round trip of blazen::echo vs a gRPC unary
// echo, and streaming deref of a large host ref (one stream, then parallel streams) vs a gRPC
// server stream and raw TCP sockets carrying the same bytes in the same chunk size. Every server
// runs in its own process; BENCHMARKS.md describes the method and the targets. This file holds
// the workload; the machine, cost, statistics, report and control pieces are shared in bench/.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bench/checking_sink.h"
#include "bench/child_process.h"
#include "bench/controls/control_server.h"
#include "bench/controls/grpc_control_client.h"
#include "bench/controls/tcp_control_client.h"
#include "bench/cost_probe.h"
#include "bench/driver.h"
#include "bench/machine.h"
#include "bench/report.h"
#include "bench/stats.h"
#include "client/peer_client.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/peer_error.h"
#include "core/postcard.h"
#include "core/uuid.h"
#include "tools/command_line.h"

namespace blazen::bench {
namespace {

using nlohmann::json;

constexpr const char* kUsage = R"(usage: blazen_peer_bench <command> [options]

commands:
  run             start a peer and the control servers, measure, print the table
  control-server  run one control server (started by `run`; --kind grpc|tcp [--bytes N]
                  [--listen HOST:PORT])

run options:
  --bytes N          size of the host ref and of the control transfers (default 1073741824)
  --chunk N          chunk size of every stream and of the TCP send() calls (default 1048576)
  --echo-iters N     measured echo calls per side, after warm-up (default 2000)
  --reps N           timed transfers per measurement; the median is reported (default 5)
  --parallel K       streams of the parallel deref and sockets of its TCP control (default 8)
  --peer-bin PATH    the blazen-peer executable (default: ../tools/blazen-peer relative to this
                     executable's directory, else blazen-peer in that directory)
  --json PATH        also write the results as JSON
  --no-pin           do not pin the servers and the client to separate CPUs
  --require-targets  exit with status 3 when a target is missed
  --only KEYS        time only these transfers (comma-separated: deref_1, grpc_plain_1,
                     grpc_zero_copy_1, tcp_1, deref_k, tcp_k), e.g. to profile one of them;
                     the ratios need all of them
)";

using cli::UsageError;

// Keys of the timed transfers (TransferSeries::key), for --only.
const std::set<std::string> kTransferKeys = {"deref_1", "grpc_plain_1", "grpc_zero_copy_1",
                                             "tcp_1",   "deref_k",      "tcp_k"};

struct RunOptions {
  std::uint64_t bytes = std::uint64_t{1} << 30;
  std::uint32_t chunk = 1u << 20;
  std::size_t echo_iters = 2000;
  std::size_t reps = 5;
  std::size_t parallel = 8;
  std::string peer_bin;
  std::string json_path;
  bool pin = true;
  bool require_targets = false;
  std::set<std::string> only;  // empty: all transfers
};

// The build tree keeps the peer in ../tools; a bundle of binaries keeps it next to this one.
std::string DefaultPeerBin() {
  const std::filesystem::path self_dir = std::filesystem::path(SelfPath()).parent_path();
  std::filesystem::path default_peer =
      (self_dir / ".." / "tools" / "blazen-peer").lexically_normal();
  if (!std::filesystem::exists(default_peer)) default_peer = self_dir / "blazen-peer";
  return default_peer.string();
}

std::set<std::string> ParseOnly(const std::string& only) {
  std::set<std::string> keys;
  for (std::size_t start = 0; start < only.size();) {
    const std::size_t comma = std::min(only.find(',', start), only.size());
    if (comma > start) keys.insert(only.substr(start, comma - start));
    start = comma + 1;
  }
  for (const std::string& key : keys) {
    if (kTransferKeys.count(key) == 0) throw UsageError("--only: unknown transfer '" + key + "'");
  }
  return keys;
}

RunOptions ParseRunOptions(const std::vector<std::string>& args) {
  const Flags flags(
      args, {"bytes", "chunk", "echo-iters", "reps", "parallel", "peer-bin", "json", "only"},
      {"no-pin", "require-targets"});
  if (flags.help()) {
    std::fputs(kUsage, stdout);
    std::exit(0);
  }
  RunOptions o;
  o.bytes = flags.number("bytes", o.bytes);
  const std::uint64_t chunk = flags.number("chunk", o.chunk);
  if (chunk == 0 || chunk > (std::uint64_t{1} << 30)) throw UsageError("--chunk must be 1..2^30");
  o.chunk = static_cast<std::uint32_t>(chunk);
  o.echo_iters = static_cast<std::size_t>(flags.number("echo-iters", o.echo_iters));
  o.reps = static_cast<std::size_t>(flags.number("reps", o.reps));
  o.parallel = static_cast<std::size_t>(flags.number("parallel", o.parallel));
  if (o.bytes == 0 || o.reps == 0 || o.echo_iters == 0 || o.parallel == 0) {
    throw UsageError("--bytes, --reps, --echo-iters and --parallel must be at least 1");
  }
  o.peer_bin = flags.text("peer-bin", DefaultPeerBin());
  o.json_path = flags.text("json", "");
  o.pin = !flags.has("no-pin");
  o.require_targets = flags.has("require-targets");
  o.only = ParseOnly(flags.text("only", ""));
  return o;
}

// --- Processes and clients -----------------------------------------------------------------------

// The peer under test and the two control servers, with the addresses they listen on.
struct Servers {
  ChildProcess peer;
  ChildProcess grpc;
  ChildProcess tcp;
  std::string peer_addr;
  std::string grpc_addr;
  std::string tcp_addr;

  [[nodiscard]] std::vector<pid_t> pids() const { return {peer.pid(), grpc.pid(), tcp.pid()}; }
};

// Starts the servers on the server CPUs, waits until each listens, then pins this process to the
// client CPUs.
Servers StartProcesses(const RunOptions& o, const CpuPlan& cpus, const LogDir& logs) {
  const std::string self = SelfPath();
  const std::string bytes_arg = std::to_string(o.bytes);
  Servers s;
  s.peer = ChildProcess::Spawn(
      o.peer_bin, {"serve", "--listen", "127.0.0.1:0", "--node-id", "bench-peer", "--grace", "1"},
      logs.File("peer.log"), cpus.servers);
  s.grpc = ChildProcess::Spawn(self, {"control-server", "--kind", "grpc", "--bytes", bytes_arg},
                               logs.File("grpc-control.log"), cpus.servers);
  s.tcp = ChildProcess::Spawn(self, {"control-server", "--kind", "tcp", "--bytes", bytes_arg},
                              logs.File("tcp-control.log"), cpus.servers);
  s.peer_addr = s.peer.WaitForListening(std::chrono::seconds(60));
  s.grpc_addr = s.grpc.WaitForListening(std::chrono::seconds(120));
  s.tcp_addr = s.tcp.WaitForListening(std::chrono::seconds(120));
  if (!cpus.client.empty()) PinSelf(cpus.client);
  Progress("peer on " + s.peer_addr + ", gRPC control on " + s.grpc_addr + ", TCP control on " +
           s.tcp_addr + "; servers on CPUs " + CpuList(cpus.servers) + ", client on CPUs " +
           CpuList(cpus.client));
  return s;
}

// The client side: two peer clients (single and parallel deref), the gRPC control channel, and
// the TCP control sockets (1 and K), all connected before anything is timed.
struct Clients {
  std::unique_ptr<client::BlazenPeerClient> peer;
  std::unique_ptr<client::BlazenPeerClient> peer_parallel;
  GrpcControlClient grpc;
  std::unique_ptr<TcpControlClient> tcp1;
  std::unique_ptr<TcpControlClient> tcpk;
};

Clients ConnectClients(const RunOptions& o, const Servers& servers) {
  const std::string run_id = "bench-" + std::to_string(getpid());
  client::ClientOptions single_options;
  single_options.parent_run_id = run_id;
  single_options.chunk_bytes = o.chunk;
  single_options.parallel_streams = 1;
  client::ClientOptions parallel_options = single_options;
  parallel_options.parallel_streams = o.parallel;
  parallel_options.parallel_threshold_bytes = std::min<std::uint64_t>(o.bytes, o.chunk);
  const std::string peer_url = "http://" + servers.peer_addr;
  // Braced initialization runs in order: peer clients, gRPC control, TCP controls.
  return Clients{client::BlazenPeerClient::Connect(peer_url, "bench", single_options),
                 client::BlazenPeerClient::Connect(peer_url, "bench", parallel_options),
                 GrpcControlClient(servers.grpc_addr),
                 std::make_unique<TcpControlClient>(servers.tcp_addr, 1, o.chunk),
                 std::make_unique<TcpControlClient>(servers.tcp_addr, o.parallel, o.chunk)};
}

// --- Echo round trips ----------------------------------------------------------------------------

struct EchoResult {
  std::size_t payload_bytes = 0;
  CallSeries peer;
  CallSeries control;
};

EchoResult MeasureEcho(client::BlazenPeerClient& peer, pid_t peer_pid, GrpcControlClient& control,
                       pid_t control_pid, std::size_t iters) {
  const json input = {{"message", "hello from the parent"}, {"n", 42}};
  const SubWorkflowRequest request =
      ValueOrThrow(MakeSubWorkflowRequest("echo", {"blazen::echo"}, input, std::nullopt));
  EchoResult result;
  // The control's request is a Blob whose bytes field is as long as the peer request's postcard
  // payload, so both requests are the same size on the wire.
  result.payload_bytes = ValueOrThrow(EncodePostcard(request)).size();
  control.SetEchoPayload(result.payload_bytes);

  const auto call_peer = [&] {
    const SubWorkflowResponse response = peer.InvokeSubWorkflow(request);
    if (response.error) throw std::runtime_error("echo invoke failed: " + *response.error);
  };
  const auto call_control = [&] { control.Echo(); };

  // Verify once that the peer really echoes.
  const SubWorkflowResponse first = peer.InvokeSubWorkflow(request);
  const std::optional<json> echoed = ValueOrThrow(ResultValue(first));
  if (first.error || !echoed || *echoed != input) {
    throw std::runtime_error("blazen::echo did not return its input");
  }
  std::tie(result.peer, result.control) =
      TimeAlternating(call_peer, peer_pid, call_control, control_pid, iters);
  return result;
}

// --- Transfers -----------------------------------------------------------------------------------

// A host ref of the payload size, and how long making it took.
struct HostRef {
  Uuid ref;
  double seconds = 0;
};

// The ref is made by the peer's own step, as a workflow would make it.
HostRef MakeHostRef(client::BlazenPeerClient& peer, std::uint64_t bytes) {
  Progress("creating a " + std::to_string(bytes) + "-byte host ref with blazen::host_blob");
  const auto blob_start = Clock::now();
  const SubWorkflowResponse created = peer.InvokeSubWorkflow(ValueOrThrow(
      MakeSubWorkflowRequest("host_blob", {"blazen::host_blob"},
                             json{{"bytes", bytes}, {"lifetime", "until_parent_finish"}}, 600)));
  if (created.error) throw std::runtime_error("blazen::host_blob failed: " + *created.error);
  const std::optional<json> created_result = ValueOrThrow(ResultValue(created));
  if (!created_result || !created_result->contains("ref")) {
    throw std::runtime_error("blazen::host_blob returned no ref");
  }
  const Uuid ref = ValueOrThrow(Uuid::Parse(created_result->at("ref").get<std::string>()));
  return {ref, std::chrono::duration<double>(Clock::now() - blob_start).count()};
}

// How many streams each deref used (the last one), as the client reported it.
struct DerefStreams {
  int single = 0;
  int parallel = 0;
};

// The single-stream transfers: the deref and its gRPC and TCP controls. The series refer to
// `c`, `ref` and `streams`, which must outlive them.
std::vector<TransferSeries> SingleStreamSeries(const RunOptions& o, Clients& c,
                                               const Servers& servers, const Uuid& ref,
                                               DerefStreams& streams) {
  std::vector<TransferSeries> series;
  series.push_back({"deref_1",
                    "deref, 1 stream",
                    servers.peer.pid(),
                    [&](bool full) { streams.single = DerefOnce(*c.peer, ref, o.bytes, full); },
                    {}});
  series.push_back({"grpc_plain_1",
                    "gRPC stream, plain protobuf",
                    servers.grpc.pid(),
                    [&](bool full) { c.grpc.PlainStream(o.bytes, o.chunk, full); },
                    {}});
  series.push_back({"grpc_zero_copy_1",
                    "gRPC stream, zero-copy",
                    servers.grpc.pid(),
                    [&](bool full) { c.grpc.ZeroCopyStream(o.bytes, o.chunk, full); },
                    {}});
  series.push_back({"tcp_1",
                    "raw TCP, 1 socket",
                    servers.tcp.pid(),
                    [&](bool full) { c.tcp1->Fetch(o.bytes, o.chunk, full); },
                    {}});
  return series;
}

// The parallel transfers: the deref over K streams and K TCP sockets. Same lifetimes as above.
std::vector<TransferSeries> ParallelSeries(const RunOptions& o, Clients& c, const Servers& servers,
                                           const Uuid& ref, DerefStreams& streams) {
  const std::string k = std::to_string(o.parallel);
  std::vector<TransferSeries> series;
  series.push_back(
      {"deref_k",
       "deref, " + k + " streams",
       servers.peer.pid(),
       [&](bool full) { streams.parallel = DerefOnce(*c.peer_parallel, ref, o.bytes, full); },
       {}});
  series.push_back({"tcp_k",
                    "raw TCP, " + k + " sockets",
                    servers.tcp.pid(),
                    [&](bool full) { c.tcpk->Fetch(o.bytes, o.chunk, full); },
                    {}});
  return series;
}

// Verifies every byte of one transfer per series (untimed), then times o.reps rounds of all.
std::vector<TransferSeries> MeasureDeref(const RunOptions& o, Clients& c, const Servers& servers,
                                         const Uuid& ref, DerefStreams& streams) {
  std::vector<TransferSeries> series = SingleStreamSeries(o, c, servers, ref, streams);
  for (TransferSeries& s : ParallelSeries(o, c, servers, ref, streams)) {
    series.push_back(std::move(s));
  }
  if (!o.only.empty()) {
    std::erase_if(series, [&](const TransferSeries& s) { return o.only.count(s.key) == 0; });
  }
  // One untimed pass checks every byte of every transfer (and warms up connections and lanes).
  VerifyEach(series);
  if (streams.parallel != static_cast<int>(o.parallel)) {
    Progress("note: the parallel deref used " + std::to_string(streams.parallel) + " streams");
  }
  TimeRounds(series, o.reps);
  return series;
}

// --- Report --------------------------------------------------------------------------------------

// Everything one run measured. The transfer series refer to `host_ref` and `streams` (and to the
// clients, which outlive this).
struct Measurements {
  EchoResult echo;
  HostRef host_ref;
  DerefStreams streams;
  std::vector<TransferSeries> series;
};

std::vector<Target> Targets(const RunOptions& o, const Measurements& m) {
  const EchoResult& echo = m.echo;
  std::vector<Target> targets = {
      {"echo invoke p50 / gRPC unary echo p50",
       echo.peer.latency.p50_us / echo.control.latency.p50_us, "<=", 1.3},
      {"echo invoke p99 / gRPC unary echo p99",
       echo.peer.latency.p99_us / echo.control.latency.p99_us, "", 0},
  };
  const std::string k = std::to_string(o.parallel);
  const auto add = [&](std::string name, const std::string& key, const std::string& base,
                       std::string comparison, double target) {
    AddRatio(targets, std::move(name), m.series, key, base, std::move(comparison), target, o.bytes);
  };
  add("deref 1 stream / raw TCP 1 socket", "deref_1", "tcp_1", ">=", 0.75);
  add("deref 1 stream / gRPC stream, plain protobuf", "deref_1", "grpc_plain_1", "", 0);
  add("deref 1 stream / gRPC stream, zero-copy", "deref_1", "grpc_zero_copy_1", "", 0);
  add("deref " + k + " streams / raw TCP " + k + " sockets", "deref_k", "tcp_k", ">=", 0.6);
  add("deref " + k + " streams / deref 1 stream", "deref_k", "deref_1", "", 0);
  return targets;
}

json ResultJson(const RunOptions& o, const MachineSummary& machine, const Measurements& m,
                const std::vector<Target>& targets) {
  json out;
  out["machine"] = MachineJson(machine);
  out["config"] = {{"bytes", o.bytes},           {"chunk", o.chunk},
                   {"echo_iters", o.echo_iters}, {"reps", o.reps},
                   {"parallel", o.parallel},     {"host_ref_seconds", m.host_ref.seconds}};
  out["echo"] = {{"payload_bytes", m.echo.payload_bytes},
                 {"invoke", LatencyJson(m.echo.peer)},
                 {"grpc_unary", LatencyJson(m.echo.control)}};
  out["transfers"] = TransfersJson(m.series, o.bytes);
  out["deref_streams"] = {{"single", m.streams.single}, {"parallel", m.streams.parallel}};
  out["ratios"] = RatiosJson(targets);
  out["verified"] = true;
  return out;
}

// Prints the table, writes the JSON; returns the exit status.
int Report(const RunOptions& o, const MachineSummary& machine, const Measurements& m) {
  const std::vector<Target> targets = Targets(o, m);
  PrintMachine(machine);
  std::printf("payload %llu bytes, chunk %u bytes, %zu reps (median), host ref made in %.2f s\n",
              static_cast<unsigned long long>(o.bytes), o.chunk, o.reps, m.host_ref.seconds);
  std::printf(
      "every byte of one transfer per row verified (pattern i %% 251); the timed ones "
      "checked by sample\n\n");
  PrintLatencyTable(
      {{"invoke blazen::echo", m.echo.peer},
       {"gRPC unary echo, " + std::to_string(m.echo.payload_bytes) + " B", m.echo.control}});
  PrintTransferTable(m.series, o.bytes);
  const bool all_met = PrintTargets(targets);
  std::fflush(stdout);
  if (!o.json_path.empty()) WriteJson(ResultJson(o, machine, m, targets), o.json_path);
  return o.require_targets && !all_met ? 3 : 0;
}

// --- run -----------------------------------------------------------------------------------------

int Run(const RunOptions& o) {
  InstallChildCleanupHandlers();
  MachineSummary machine;
  machine.cpus = PlanCpus(o.pin);
  machine.load_before = LoadAverage();
  LogDir logs;
  Progress("logs of the servers in " + logs.path());
  try {
    // Every child is started while this process still has one thread (fork); they are declared
    // before the clients, so they outlive them and are stopped last, on every exit path.
    Servers servers = StartProcesses(o, machine.cpus, logs);
    Clients clients = ConnectClients(o, servers);

    // (1) Invoke round trip.
    const Interference interference(servers.pids());
    Progress("echo: " + std::to_string(o.echo_iters) + " calls per side");
    Measurements m;
    m.echo = MeasureEcho(*clients.peer, servers.peer.pid(), clients.grpc, servers.grpc.pid(),
                         o.echo_iters);

    // (2, 3) Transfers.
    m.host_ref = MakeHostRef(*clients.peer, o.bytes);
    m.series = MeasureDeref(o, clients, servers, m.host_ref.ref, m.streams);
    clients.peer->ReleaseSessionRef(m.host_ref.ref);
    machine.disturbed = interference.Finish(machine.cpus.all.size());
    machine.load_after = LoadAverage();
    return Report(o, machine, m);
  } catch (...) {
    logs.Keep();
    Progress("failed; server logs kept in " + logs.path());
    throw;
  }
}

// --- control-server ------------------------------------------------------------------------------

int ControlServer(const std::vector<std::string>& args) {
  const Flags flags(args, {"kind", "listen", "bytes"}, {});
  if (flags.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  ControlServerOptions options;
  const std::string kind = flags.text("kind", "");
  if (kind == "grpc") {
    options.kind = ControlKind::kGrpc;
  } else if (kind == "tcp") {
    options.kind = ControlKind::kTcp;
  } else {
    throw UsageError("--kind must be grpc or tcp");
  }
  options.listen = flags.text("listen", options.listen);
  options.bytes = flags.number("bytes", options.bytes);
  return RunControlServer(options);
}

int Main(int argc, char** argv) {
  TuneMalloc();
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string command = argv[1];
  const std::vector<std::string> rest(argv + 2, argv + argc);
  try {
    if (command == "run") return Run(ParseRunOptions(rest));
    if (command == "control-server") return ControlServer(rest);
    if (command == "-h" || command == "--help" || command == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    std::fprintf(stderr, "blazen_peer_bench: unknown command '%s'\n%s", command.c_str(), kUsage);
    return 2;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "blazen_peer_bench %s: %s\n", command.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "blazen_peer_bench %s: %s\n", command.c_str(), e.what());
    return 1;
  }
}

}  // namespace
}  // namespace blazen::bench

int main(int argc, char** argv) { return blazen::bench::Main(argc, argv); }
