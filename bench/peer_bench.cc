// SPDX-License-Identifier: Apache-2.0
// blazen_peer_bench: measures a `blazen-peer serve` process against raw gRPC and raw TCP control
// servers on the same machine, in one run: invoke round trip of blazen::echo vs a gRPC unary
// echo, and streaming deref of a large host ref (one stream, then parallel streams) vs a gRPC
// server stream and raw TCP sockets carrying the same bytes in the same chunk size. Every server
// runs in its own process; BENCHMARKS.md describes the method and the targets.

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/sync_stream.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/child_process.h"
#include "bench/control_server.h"
#include "bench/pattern.h"
#include "bench_control.grpc.pb.h"
#include "bench_control.pb.h"
#include "client/deref_sink.h"
#include "client/peer_client.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/peer_error.h"
#include "core/postcard.h"
#include "core/uuid.h"
#include "tools/command_line.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace blazen::bench {
namespace {

using Clock = std::chrono::steady_clock;
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

// The driver's options: no positional arguments.
class Flags : public cli::Args {
 public:
  Flags(const std::vector<std::string>& args, std::set<std::string> value_options,
        std::set<std::string> flag_options)
      : cli::Args(args, std::move(value_options), std::move(flag_options)) {
    if (!positionals().empty()) {
      throw UsageError("unexpected argument '" + positionals().front() + "'");
    }
  }
  [[nodiscard]] std::string text(const std::string& name, const std::string& fallback) const {
    return get(name).value_or(fallback);
  }
};

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

// --- Process environment -------------------------------------------------------------------------

// Raises glibc's mmap and trim thresholds (both: raising only the trim threshold made bulk
// receives 4x slower), so that freed receive buffers stay in the heap instead of going back to
// the kernel and faulting in again on the next message. Values given in the environment win.
void TuneMalloc() {
#if defined(__GLIBC__)
  constexpr int kThreshold = 256 << 20;
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr &&
      mallopt(M_MMAP_THRESHOLD, kThreshold) == 0) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // the most glibc < 2.35 accepts
  }
  if (std::getenv("MALLOC_TRIM_THRESHOLD_") == nullptr) mallopt(M_TRIM_THRESHOLD, kThreshold);
#endif
}

std::string SelfPath() {
  std::error_code error;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw std::runtime_error("cannot find this executable: " + error.message());
  return path.string();
}

std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(static_cast<std::size_t>(cpu), &set)) cpus.push_back(cpu);
  }
  return cpus;
}

// Pins the calling thread; threads it starts later inherit the mask.
void PinSelf(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(static_cast<std::size_t>(cpu), &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    throw std::runtime_error(std::string("sched_setaffinity: ") + std::strerror(errno));
  }
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

std::vector<double> LoadAverage() {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) return {};
  return {load[0], load[1], load[2]};
}

// CPU time the whole machine spent busy, and the part the hypervisor gave to other guests
// (steal), from the first line of /proc/stat.
struct MachineCpu {
  double busy_seconds = 0;
  double steal_seconds = 0;
};

MachineCpu ReadMachineCpu() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  return {static_cast<double>(user + nice + system + irq + softirq) / tick,
          static_cast<double>(steal) / tick};
}

double OwnCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

// How much CPU the rest of the machine used while the benchmark measured: the machine's busy time
// minus this process's and its servers' CPU time. Other builds or tests running at the same time
// disturb the numbers, so the report states it.
class Interference {
 public:
  explicit Interference(std::vector<pid_t> servers) : servers_(std::move(servers)) {
    start_ = Clock::now();
    machine_ = ReadMachineCpu();
    own_ = OwnCpuSeconds();
    for (pid_t pid : servers_) own_ += ReadProcessUsage(pid).cpu_seconds;
  }

  struct Report {
    double wall_seconds = 0;
    double other_cpu_seconds = 0;
    double steal_seconds = 0;
    double other_share = 0;  // of the machine's capacity (all CPUs) during the window
  };

  [[nodiscard]] Report Finish(std::size_t cpus) const {
    Report r;
    r.wall_seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    const MachineCpu machine = ReadMachineCpu();
    double own = OwnCpuSeconds();
    for (pid_t pid : servers_) own += ReadProcessUsage(pid).cpu_seconds;
    r.other_cpu_seconds =
        std::max(0.0, (machine.busy_seconds - machine_.busy_seconds) - (own - own_));
    r.steal_seconds = machine.steal_seconds - machine_.steal_seconds;
    const double capacity = r.wall_seconds * static_cast<double>(std::max<std::size_t>(1, cpus));
    r.other_share = capacity > 0 ? (r.other_cpu_seconds + r.steal_seconds) / capacity : 0;
    return r;
  }

 private:
  std::vector<pid_t> servers_;
  Clock::time_point start_;
  MachineCpu machine_;
  double own_ = 0;
};

std::string CpuList(const std::vector<int>& cpus) {
  std::string out;
  for (int cpu : cpus) {
    if (!out.empty()) out.push_back(',');
    out.append(std::to_string(cpu));
  }
  return out.empty() ? "any" : out;
}

std::string Format(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, value);
  return buf;
}

// --- Costs of one timed operation ----------------------------------------------------------------

struct CostSnapshot {
  Clock::time_point at;
  double client_cpu = 0;
  std::int64_t client_faults = 0;
  std::int64_t client_switches = 0;
  ProcessUsage server;
};

// Reads the costs so far. The clock is read last before an operation and first after it, so that
// reading /proc is not timed.
enum class When { kBefore, kAfter };
CostSnapshot Snapshot(pid_t server, When when) {
  CostSnapshot s;
  if (when == When::kAfter) s.at = Clock::now();
  s.server = ReadProcessUsage(server);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  s.client_cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                 static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
  s.client_faults = usage.ru_minflt;
  s.client_switches = usage.ru_nvcsw + usage.ru_nivcsw;
  if (when == When::kBefore) s.at = Clock::now();
  return s;
}

struct TransferSample {
  double seconds = 0;
  double client_cpu = 0;
  double server_cpu = 0;
  std::int64_t client_faults = 0;
  std::int64_t server_faults = 0;
  std::int64_t client_switches = 0;
  std::int64_t server_switches = 0;
};

TransferSample Between(const CostSnapshot& a, const CostSnapshot& b) {
  TransferSample t;
  t.seconds = std::chrono::duration<double>(b.at - a.at).count();
  t.client_cpu = b.client_cpu - a.client_cpu;
  t.server_cpu = b.server.cpu_seconds - a.server.cpu_seconds;
  t.client_faults = b.client_faults - a.client_faults;
  t.server_faults = b.server.minor_faults - a.server.minor_faults;
  t.client_switches = b.client_switches - a.client_switches;
  t.server_switches = b.server.context_switches - a.server.context_switches;
  return t;
}

// --- The peer's deref ----------------------------------------------------------------------------

// A deref sink that keeps nothing: it checks each written range against the payload pattern
// (first and last byte, or every byte when `full`) and counts the bytes.
class CheckingSink final : public client::DerefSink {
 public:
  explicit CheckingSink(bool full) : full_(full) {}

  Status Begin(std::uint64_t total_size, std::string_view) override {
    total_ = total_size;
    return Status::Ok();
  }

  Status Write(std::uint64_t offset, std::span<const std::uint8_t> bytes) override {
    if (!MatchesPattern(offset, bytes, full_)) {
      return Status::DataLoss("deref delivered wrong bytes in [" + std::to_string(offset) + ", +" +
                              std::to_string(bytes.size()) + ")");
    }
    received_.fetch_add(bytes.size(), std::memory_order_relaxed);
    return Status::Ok();
  }

  Status Finish() override {
    if (received_.load() != total_) {
      return Status::DataLoss("deref wrote " + std::to_string(received_.load()) + " of " +
                              std::to_string(total_) + " bytes");
    }
    finished_ = true;
    return Status::Ok();
  }

  [[nodiscard]] bool finished() const { return finished_; }

 private:
  const bool full_;
  std::uint64_t total_ = 0;
  std::atomic<std::uint64_t> received_{0};
  bool finished_ = false;
};

// Fetches the whole ref once; returns the number of streams the client used.
int DerefOnce(client::BlazenPeerClient& peer, const Uuid& ref, std::uint64_t bytes, bool full) {
  CheckingSink sink(full);
  const client::DerefResult result = peer.DerefTo(ref, sink);
  if (!sink.finished() || result.total_size != bytes) {
    throw std::runtime_error("deref returned " + std::to_string(result.total_size) + " bytes, " +
                             "expected " + std::to_string(bytes));
  }
  return result.streams;
}

// --- The gRPC control ----------------------------------------------------------------------------

constexpr char kZeroCopyMethod[] = "/bench.Control/StreamZeroCopy";

void CheckGrpc(const grpc::Status& status, const char* what) {
  if (!status.ok()) {
    throw std::runtime_error(std::string(what) + " failed: " + status.error_message());
  }
}

// Plain protobuf stream, read with the generated stub (each Blob parsed into a std::string).
void GrpcPlainOnce(::bench::Control::Stub& stub, std::uint64_t bytes, std::uint32_t chunk,
                   bool full) {
  ::bench::StreamRequest request;
  request.set_offset(0);
  request.set_length(bytes);
  request.set_chunk_bytes(chunk);
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<::bench::Blob>> reader = stub.Stream(&context, request);
  ::bench::Blob blob;
  std::uint64_t offset = 0;
  while (reader->Read(&blob)) {
    const std::string& data = blob.data();
    if (!MatchesPattern(offset, {reinterpret_cast<const std::uint8_t*>(data.data()), data.size()},
                        full)) {
      throw std::runtime_error("gRPC stream control delivered wrong bytes at " +
                               std::to_string(offset));
    }
    offset += data.size();
  }
  CheckGrpc(reader->Finish(), "gRPC stream control");
  if (offset != bytes) throw std::runtime_error("gRPC stream control ended early");
}

// Checks one received Blob message (field 1, length-delimited) given as slices, as the peer's
// client reads deref chunks: in place, without a protobuf parse. Returns the data size, or none
// when the message is malformed or the bytes are wrong.
std::optional<std::uint64_t> CheckBlobSlices(const std::vector<grpc::Slice>& slices,
                                             std::uint64_t offset, bool full) {
  enum { kTag, kLength, kData } state = kTag;
  std::uint64_t length = 0;
  int shift = 0;
  std::uint64_t seen = 0;
  for (const grpc::Slice& slice : slices) {
    const std::uint8_t* p = slice.begin();
    const std::size_t n = slice.size();
    std::size_t i = 0;
    while (i < n) {
      if (state == kTag) {
        if (p[i++] != 0x0a) return std::nullopt;
        state = kLength;
      } else if (state == kLength) {
        const std::uint8_t b = p[i++];
        if (shift > 56) return std::nullopt;
        length |= static_cast<std::uint64_t>(b & 0x7f) << shift;
        shift += 7;
        if ((b & 0x80) == 0) state = kData;
      } else {
        if (seen == length) return std::nullopt;  // bytes after the data field
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(n - i, length - seen));
        if (!MatchesPattern(offset + seen, {p + i, take}, full)) return std::nullopt;
        seen += take;
        i += take;
      }
    }
  }
  if (state != kData || seen != length) return std::nullopt;
  return length;
}

// Zero-copy stream, read as grpc::ByteBuffer messages with the same sync reader the peer's client
// uses for its deref.
void GrpcZeroCopyOnce(grpc::Channel& channel, const grpc::internal::RpcMethod& method,
                      std::uint64_t bytes, std::uint32_t chunk, bool full) {
  ::bench::StreamRequest request;
  request.set_offset(0);
  request.set_length(bytes);
  request.set_chunk_bytes(chunk);
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
      grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(&channel, method, &context,
                                                                    request));
  grpc::ByteBuffer message;
  std::vector<grpc::Slice> slices;
  std::uint64_t offset = 0;
  while (reader->Read(&message)) {
    slices.clear();
    if (!message.Dump(&slices).ok()) throw std::runtime_error("cannot read a control message");
    const std::optional<std::uint64_t> size = CheckBlobSlices(slices, offset, full);
    if (!size) {
      throw std::runtime_error("zero-copy gRPC control delivered wrong bytes at " +
                               std::to_string(offset));
    }
    offset += *size;
    message.Clear();
  }
  CheckGrpc(reader->Finish(), "zero-copy gRPC stream control");
  if (offset != bytes) throw std::runtime_error("zero-copy gRPC stream control ended early");
}

// --- The raw TCP control -------------------------------------------------------------------------

// K connections to the TCP control server, kept open across transfers (as gRPC channels are).
class TcpControlClient {
 public:
  TcpControlClient(const std::string& host_port, std::size_t connections, std::size_t chunk) {
    const auto colon = host_port.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1))));
    if (inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
      throw std::runtime_error("not an IPv4 address: " + host_port);
    }
    for (std::size_t i = 0; i < connections; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        const std::string reason = std::strerror(errno);
        if (fd >= 0) close(fd);
        throw std::runtime_error("cannot connect to the TCP control " + host_port + ": " + reason);
      }
      fds_.push_back(fd);
      buffers_.emplace_back(chunk);
    }
  }

  ~TcpControlClient() {
    for (int fd : fds_) close(fd);
  }
  TcpControlClient(const TcpControlClient&) = delete;
  TcpControlClient& operator=(const TcpControlClient&) = delete;
  TcpControlClient(TcpControlClient&&) = delete;
  TcpControlClient& operator=(TcpControlClient&&) = delete;

  // Fetches [0, bytes) as one contiguous range per connection, all at once.
  void Fetch(std::uint64_t bytes, std::uint64_t chunk, bool full) {
    const std::size_t k = fds_.size();
    if (k == 1) {
      FetchRange(0, 0, bytes, chunk, full);
      return;
    }
    std::vector<std::exception_ptr> errors(k);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < k; ++i) {
      const std::uint64_t begin = bytes * i / k;
      const std::uint64_t end = bytes * (i + 1) / k;
      threads.emplace_back([this, i, begin, end, chunk, full, &errors] {
        try {
          FetchRange(i, begin, end - begin, chunk, full);
        } catch (...) {
          errors[i] = std::current_exception();
        }
      });
    }
    for (std::thread& t : threads) t.join();
    for (const std::exception_ptr& e : errors) {
      if (e) std::rethrow_exception(e);
    }
  }

 private:
  void FetchRange(std::size_t lane, std::uint64_t offset, std::uint64_t length, std::uint64_t chunk,
                  bool full) {
    const int fd = fds_[lane];
    const TcpRangeRequest request{offset, length, chunk};
    if (send(fd, &request, sizeof(request), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(sizeof(request))) {
      throw std::runtime_error(std::string("TCP control send: ") + std::strerror(errno));
    }
    std::vector<std::uint8_t>& buffer = buffers_[lane];
    std::uint64_t got = 0;
    while (got < length) {
      const auto want =
          static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), length - got));
      const ssize_t n = recv(fd, buffer.data(), want, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("TCP control connection closed early");
      const auto received = static_cast<std::size_t>(n);
      if (!MatchesPattern(offset + got, {buffer.data(), received}, full)) {
        throw std::runtime_error("TCP control delivered wrong bytes at " +
                                 std::to_string(offset + got));
      }
      got += received;
    }
  }

  std::vector<int> fds_;
  std::vector<std::vector<std::uint8_t>> buffers_;
};

// --- Echo round trips ----------------------------------------------------------------------------

struct LatencyStats {
  double p50_us = 0;
  double p99_us = 0;
  double mean_us = 0;
  double min_us = 0;
  std::size_t calls = 0;
};

LatencyStats Summarize(std::vector<double> us) {
  LatencyStats s;
  if (us.empty()) return s;
  std::sort(us.begin(), us.end());
  // Nearest rank.
  const auto rank = [&](double p) {
    const auto r = static_cast<std::size_t>(std::ceil(p * static_cast<double>(us.size())));
    return us[std::clamp<std::size_t>(r, 1, us.size()) - 1];
  };
  s.p50_us = rank(0.50);
  s.p99_us = rank(0.99);
  double sum = 0;
  for (double v : us) sum += v;
  s.mean_us = sum / static_cast<double>(us.size());
  s.min_us = us.front();
  s.calls = us.size();
  return s;
}

double MicrosSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// --- Transfer series -----------------------------------------------------------------------------

struct TransferSeries {
  std::string key;
  std::string label;
  pid_t server = -1;
  std::function<void(bool full)> once;
  std::vector<TransferSample> samples;

  [[nodiscard]] std::vector<double> Gbps(std::uint64_t bytes) const {
    std::vector<double> out;
    for (const TransferSample& s : samples)
      out.push_back(static_cast<double>(bytes) / s.seconds / 1e9);
    std::sort(out.begin(), out.end());
    return out;
  }
  [[nodiscard]] double MedianGbps(std::uint64_t bytes) const {
    const std::vector<double> v = Gbps(bytes);
    if (v.empty()) return 0;
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
  // Totals over all samples, per GB (1e9 bytes) or per GiB moved.
  [[nodiscard]] double ClientCpuPerGb(std::uint64_t bytes) const {
    return Sum(&TransferSample::client_cpu) / Moved(bytes) * 1e9;
  }
  [[nodiscard]] double ServerCpuPerGb(std::uint64_t bytes) const {
    return Sum(&TransferSample::server_cpu) / Moved(bytes) * 1e9;
  }
  [[nodiscard]] double ClientFaultsPerGib(std::uint64_t bytes) const {
    return SumFaults(&TransferSample::client_faults) / Moved(bytes) * 1073741824.0;
  }
  [[nodiscard]] double ServerFaultsPerGib(std::uint64_t bytes) const {
    return SumFaults(&TransferSample::server_faults) / Moved(bytes) * 1073741824.0;
  }

 private:
  [[nodiscard]] double Moved(std::uint64_t bytes) const {
    return static_cast<double>(bytes) *
           static_cast<double>(std::max<std::size_t>(1, samples.size()));
  }
  [[nodiscard]] double Sum(double TransferSample::*field) const {
    double sum = 0;
    for (const TransferSample& s : samples) sum += s.*field;
    return sum;
  }
  [[nodiscard]] double SumFaults(std::int64_t TransferSample::*field) const {
    double sum = 0;
    for (const TransferSample& s : samples) sum += static_cast<double>(s.*field);
    return sum;
  }
};

struct Target {
  std::string name;
  double ratio = 0;
  std::string comparison;  // "<=", ">=" or "" (for information only)
  double target = 0;
  [[nodiscard]] bool met() const {
    if (comparison == "<=") return ratio <= target;
    if (comparison == ">=") return ratio >= target;
    return true;
  }
};

// --- run -----------------------------------------------------------------------------------------

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
  // The build tree keeps the peer in ../tools; a bundle of binaries keeps it next to this one.
  const std::filesystem::path self_dir = std::filesystem::path(SelfPath()).parent_path();
  std::filesystem::path default_peer =
      (self_dir / ".." / "tools" / "blazen-peer").lexically_normal();
  if (!std::filesystem::exists(default_peer)) default_peer = self_dir / "blazen-peer";
  o.peer_bin = flags.text("peer-bin", default_peer.string());
  o.json_path = flags.text("json", "");
  o.pin = !flags.has("no-pin");
  o.require_targets = flags.has("require-targets");
  const std::string only = flags.text("only", "");
  for (std::size_t start = 0; start < only.size();) {
    const std::size_t comma = std::min(only.find(',', start), only.size());
    if (comma > start) o.only.insert(only.substr(start, comma - start));
    start = comma + 1;
  }
  for (const std::string& key : o.only) {
    if (kTransferKeys.count(key) == 0) throw UsageError("--only: unknown transfer '" + key + "'");
  }
  return o;
}

class LogDir {
 public:
  LogDir() {
    char tmpl[] = "/tmp/blazen-peer-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~LogDir() {
    if (keep_) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  LogDir(const LogDir&) = delete;
  LogDir& operator=(const LogDir&) = delete;
  LogDir(LogDir&&) = delete;
  LogDir& operator=(LogDir&&) = delete;

  [[nodiscard]] std::string File(const std::string& name) const { return path_ + "/" + name; }
  [[nodiscard]] const std::string& path() const { return path_; }
  void Keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

void Progress(const std::string& line) {
  std::fprintf(stderr, "bench: %s\n", line.c_str());
  std::fflush(stderr);
}

// CPU time and context switches per call, on each side, over the timed calls.
struct CallCosts {
  TransferSample total;
  std::size_t calls = 0;

  void Add(const TransferSample& block, std::size_t n) {
    total.client_cpu += block.client_cpu;
    total.server_cpu += block.server_cpu;
    total.client_switches += block.client_switches;
    total.server_switches += block.server_switches;
    calls += n;
  }
  [[nodiscard]] double PerCall(double value) const {
    return calls == 0 ? 0 : value / static_cast<double>(calls);
  }
};

struct EchoResult {
  std::size_t payload_bytes = 0;
  LatencyStats peer;
  LatencyStats control;
  CallCosts peer_costs;
  CallCosts control_costs;
};

EchoResult MeasureEcho(client::BlazenPeerClient& peer, pid_t peer_pid,
                       ::bench::Control::Stub& control, pid_t control_pid, std::size_t iters) {
  const json input = {{"message", "hello from the parent"}, {"n", 42}};
  const SubWorkflowRequest request =
      ValueOrThrow(MakeSubWorkflowRequest("echo", {"blazen::echo"}, input, std::nullopt));
  EchoResult result;
  // The control's request is a Blob whose bytes field is as long as the peer request's postcard
  // payload, so both requests are the same size on the wire.
  result.payload_bytes = ValueOrThrow(EncodePostcard(request)).size();
  ::bench::Blob blob;
  blob.set_data(std::string(result.payload_bytes, 'x'));

  const auto call_peer = [&] {
    const SubWorkflowResponse response = peer.InvokeSubWorkflow(request);
    if (response.error) throw std::runtime_error("echo invoke failed: " + *response.error);
  };
  const auto call_control = [&] {
    grpc::ClientContext context;
    ::bench::Blob reply;
    CheckGrpc(control.Echo(&context, blob, &reply), "gRPC echo control");
    if (reply.data().size() != result.payload_bytes) throw std::runtime_error("bad echo reply");
  };

  // Verify once that the peer really echoes.
  const SubWorkflowResponse first = peer.InvokeSubWorkflow(request);
  const std::optional<json> echoed = ValueOrThrow(ResultValue(first));
  if (first.error || !echoed || *echoed != input) {
    throw std::runtime_error("blazen::echo did not return its input");
  }
  const std::size_t warmup = std::max<std::size_t>(100, iters / 10);
  for (std::size_t i = 0; i < warmup; ++i) {
    call_peer();
    call_control();
  }
  // Alternate blocks of calls so that drift on the machine affects both sides alike.
  std::vector<double> peer_us;
  std::vector<double> control_us;
  constexpr std::size_t kBlock = 100;
  while (peer_us.size() < iters) {
    const std::size_t n = std::min(kBlock, iters - peer_us.size());
    CostSnapshot before = Snapshot(peer_pid, When::kBefore);
    for (std::size_t i = 0; i < n; ++i) {
      const auto start = Clock::now();
      call_peer();
      peer_us.push_back(MicrosSince(start));
    }
    result.peer_costs.Add(Between(before, Snapshot(peer_pid, When::kAfter)), n);
    before = Snapshot(control_pid, When::kBefore);
    for (std::size_t i = 0; i < n; ++i) {
      const auto start = Clock::now();
      call_control();
      control_us.push_back(MicrosSince(start));
    }
    result.control_costs.Add(Between(before, Snapshot(control_pid, When::kAfter)), n);
  }
  result.peer = Summarize(std::move(peer_us));
  result.control = Summarize(std::move(control_us));
  return result;
}

json LatencyJson(const LatencyStats& s, const CallCosts& c) {
  return {
      {"p50_us", s.p50_us},
      {"p99_us", s.p99_us},
      {"mean_us", s.mean_us},
      {"min_us", s.min_us},
      {"calls", s.calls},
      {"client_cpu_us_per_call", c.PerCall(c.total.client_cpu) * 1e6},
      {"server_cpu_us_per_call", c.PerCall(c.total.server_cpu) * 1e6},
      {"client_context_switches_per_call", c.PerCall(static_cast<double>(c.total.client_switches))},
      {"server_context_switches_per_call",
       c.PerCall(static_cast<double>(c.total.server_switches))}};
}

json SampleJson(const TransferSample& s) {
  return {{"seconds", s.seconds},
          {"client_cpu_s", s.client_cpu},
          {"server_cpu_s", s.server_cpu},
          {"client_minor_faults", s.client_faults},
          {"server_minor_faults", s.server_faults},
          {"client_context_switches", s.client_switches},
          {"server_context_switches", s.server_switches}};
}

int Run(const RunOptions& o) {
  InstallChildCleanupHandlers();
  const std::vector<int> cpus = AllowedCpus();
  std::vector<int> server_cpus;
  std::vector<int> client_cpus;
  if (o.pin && cpus.size() >= 2) {
    // Servers on the first half of the CPUs, the client on the rest (one each on two cores).
    const std::size_t half = cpus.size() / 2;
    server_cpus.assign(cpus.begin(), cpus.begin() + static_cast<std::ptrdiff_t>(half));
    client_cpus.assign(cpus.begin() + static_cast<std::ptrdiff_t>(half), cpus.end());
  }
  const std::vector<double> load_before = LoadAverage();
  LogDir logs;
  Progress("logs of the servers in " + logs.path());
  try {
    // Every child is started while this process still has one thread (fork); they are declared
    // before the clients, so they outlive them and are stopped last, on every exit path.
    const std::string self = SelfPath();
    const std::string bytes_arg = std::to_string(o.bytes);
    ChildProcess peer_process = ChildProcess::Spawn(
        o.peer_bin, {"serve", "--listen", "127.0.0.1:0", "--node-id", "bench-peer", "--grace", "1"},
        logs.File("peer.log"), server_cpus);
    ChildProcess grpc_process =
        ChildProcess::Spawn(self, {"control-server", "--kind", "grpc", "--bytes", bytes_arg},
                            logs.File("grpc-control.log"), server_cpus);
    ChildProcess tcp_process =
        ChildProcess::Spawn(self, {"control-server", "--kind", "tcp", "--bytes", bytes_arg},
                            logs.File("tcp-control.log"), server_cpus);
    const std::string peer_addr = peer_process.WaitForListening(std::chrono::seconds(60));
    const std::string grpc_addr = grpc_process.WaitForListening(std::chrono::seconds(120));
    const std::string tcp_addr = tcp_process.WaitForListening(std::chrono::seconds(120));
    if (!client_cpus.empty()) PinSelf(client_cpus);
    Progress("peer on " + peer_addr + ", gRPC control on " + grpc_addr + ", TCP control on " +
             tcp_addr + "; servers on CPUs " + CpuList(server_cpus) + ", client on CPUs " +
             CpuList(client_cpus));

    const std::string run_id = "bench-" + std::to_string(getpid());
    client::ClientOptions single_options;
    single_options.parent_run_id = run_id;
    single_options.chunk_bytes = o.chunk;
    single_options.parallel_streams = 1;
    client::ClientOptions parallel_options = single_options;
    parallel_options.parallel_streams = o.parallel;
    parallel_options.parallel_threshold_bytes = std::min<std::uint64_t>(o.bytes, o.chunk);
    auto peer = client::BlazenPeerClient::Connect("http://" + peer_addr, "bench", single_options);
    auto peer_parallel =
        client::BlazenPeerClient::Connect("http://" + peer_addr, "bench", parallel_options);

    grpc::ChannelArguments channel_args;
    channel_args.SetMaxReceiveMessageSize(-1);
    channel_args.SetMaxSendMessageSize(-1);
    std::shared_ptr<grpc::Channel> control_channel =
        grpc::CreateCustomChannel(grpc_addr, grpc::InsecureChannelCredentials(), channel_args);
    if (!control_channel->WaitForConnected(std::chrono::system_clock::now() +
                                           std::chrono::seconds(10))) {
      throw std::runtime_error("cannot connect to the gRPC control on " + grpc_addr);
    }
    std::unique_ptr<::bench::Control::Stub> control_stub =
        ::bench::Control::NewStub(control_channel);
    const grpc::internal::RpcMethod zero_copy_method(
        kZeroCopyMethod, grpc::internal::RpcMethod::SERVER_STREAMING, control_channel);
    TcpControlClient tcp1(tcp_addr, 1, o.chunk);
    TcpControlClient tcpk(tcp_addr, o.parallel, o.chunk);

    // (1) Invoke round trip.
    const Interference interference({peer_process.pid(), grpc_process.pid(), tcp_process.pid()});
    Progress("echo: " + std::to_string(o.echo_iters) + " calls per side");
    const EchoResult echo =
        MeasureEcho(*peer, peer_process.pid(), *control_stub, grpc_process.pid(), o.echo_iters);

    // (2, 3) Transfers. The ref is made by the peer's own step, as a workflow would make it.
    Progress("creating a " + std::to_string(o.bytes) + "-byte host ref with blazen::host_blob");
    const auto blob_start = Clock::now();
    const SubWorkflowResponse created = peer->InvokeSubWorkflow(ValueOrThrow(MakeSubWorkflowRequest(
        "host_blob", {"blazen::host_blob"},
        json{{"bytes", o.bytes}, {"lifetime", "until_parent_finish"}}, 600)));
    if (created.error) throw std::runtime_error("blazen::host_blob failed: " + *created.error);
    const std::optional<json> created_result = ValueOrThrow(ResultValue(created));
    if (!created_result || !created_result->contains("ref")) {
      throw std::runtime_error("blazen::host_blob returned no ref");
    }
    const Uuid ref = ValueOrThrow(Uuid::Parse(created_result->at("ref").get<std::string>()));
    const double blob_seconds = std::chrono::duration<double>(Clock::now() - blob_start).count();

    const pid_t peer_pid = peer_process.pid();
    const pid_t grpc_pid = grpc_process.pid();
    const pid_t tcp_pid = tcp_process.pid();
    int single_streams = 0;
    int parallel_streams = 0;
    const std::string k = std::to_string(o.parallel);
    std::vector<TransferSeries> series = {
        {"deref_1",
         "deref, 1 stream",
         peer_pid,
         [&](bool full) { single_streams = DerefOnce(*peer, ref, o.bytes, full); },
         {}},
        {"grpc_plain_1",
         "gRPC stream, plain protobuf",
         grpc_pid,
         [&](bool full) { GrpcPlainOnce(*control_stub, o.bytes, o.chunk, full); },
         {}},
        {"grpc_zero_copy_1",
         "gRPC stream, zero-copy",
         grpc_pid,
         [&](bool full) {
           GrpcZeroCopyOnce(*control_channel, zero_copy_method, o.bytes, o.chunk, full);
         },
         {}},
        {"tcp_1",
         "raw TCP, 1 socket",
         tcp_pid,
         [&](bool full) { tcp1.Fetch(o.bytes, o.chunk, full); },
         {}},
        {"deref_k",
         "deref, " + k + " streams",
         peer_pid,
         [&](bool full) { parallel_streams = DerefOnce(*peer_parallel, ref, o.bytes, full); },
         {}},
        {"tcp_k",
         "raw TCP, " + k + " sockets",
         tcp_pid,
         [&](bool full) { tcpk.Fetch(o.bytes, o.chunk, full); },
         {}},
    };
    if (!o.only.empty()) {
      std::erase_if(series, [&](const TransferSeries& s) { return o.only.count(s.key) == 0; });
    }
    // One untimed pass checks every byte of every transfer (and warms up connections and lanes).
    Progress("verifying every byte of one transfer per measurement");
    for (TransferSeries& s : series) s.once(/*full=*/true);
    if (parallel_streams != static_cast<int>(o.parallel)) {
      Progress("note: the parallel deref used " + std::to_string(parallel_streams) + " streams");
    }
    for (std::size_t rep = 0; rep < o.reps; ++rep) {
      Progress("transfers, rep " + std::to_string(rep + 1) + " of " + std::to_string(o.reps));
      for (TransferSeries& s : series) {
        const CostSnapshot before = Snapshot(s.server, When::kBefore);
        s.once(/*full=*/false);
        s.samples.push_back(Between(before, Snapshot(s.server, When::kAfter)));
      }
    }
    peer->ReleaseSessionRef(ref);
    const Interference::Report disturbed = interference.Finish(cpus.size());
    const std::vector<double> load_after = LoadAverage();

    // --- Report ---
    const auto median = [&](const std::string& key) -> std::optional<double> {
      const auto it = std::find_if(series.begin(), series.end(),
                                   [&](const TransferSeries& s) { return s.key == key; });
      if (it == series.end()) return std::nullopt;
      return it->MedianGbps(o.bytes);
    };
    std::vector<Target> targets = {
        {"echo invoke p50 / gRPC unary echo p50", echo.peer.p50_us / echo.control.p50_us,
         "<=", 1.3},
        {"echo invoke p99 / gRPC unary echo p99", echo.peer.p99_us / echo.control.p99_us, "", 0},
    };
    const auto add_ratio = [&](std::string name, const std::string& key, const std::string& base,
                               std::string comparison, double target) {
      const std::optional<double> a = median(key);
      const std::optional<double> b = median(base);
      if (a && b) targets.push_back({std::move(name), *a / *b, std::move(comparison), target});
    };
    add_ratio("deref 1 stream / raw TCP 1 socket", "deref_1", "tcp_1", ">=", 0.75);
    add_ratio("deref 1 stream / gRPC stream, plain protobuf", "deref_1", "grpc_plain_1", "", 0);
    add_ratio("deref 1 stream / gRPC stream, zero-copy", "deref_1", "grpc_zero_copy_1", "", 0);
    add_ratio("deref " + k + " streams / raw TCP " + k + " sockets", "deref_k", "tcp_k", ">=", 0.6);
    add_ratio("deref " + k + " streams / deref 1 stream", "deref_k", "deref_1", "", 0);

    const auto load_text = [](const std::vector<double>& l) {
      return l.size() == 3
                 ? Format("%.2f", l[0]) + " " + Format("%.2f", l[1]) + " " + Format("%.2f", l[2])
                 : std::string("unknown");
    };
    std::printf("\nmachine: %s, %zu CPUs; servers on CPUs %s, client on CPUs %s\n",
                CpuModel().c_str(), cpus.size(), CpuList(server_cpus).c_str(),
                CpuList(client_cpus).c_str());
    std::printf("load average (1/5/15 min): before %s, after %s\n", load_text(load_before).c_str(),
                load_text(load_after).c_str());
    std::printf(
        "other processes used %.2f CPU-s (+ %.2f s steal) during the %.1f s of "
        "measurements: %.1f%% of the machine%s\n",
        disturbed.other_cpu_seconds, disturbed.steal_seconds, disturbed.wall_seconds,
        100 * disturbed.other_share,
        disturbed.other_share > 0.05 ? "  -- DISTURBED, rerun on a quiet machine" : "");
    std::printf("payload %llu bytes, chunk %u bytes, %zu reps (median), host ref made in %.2f s\n",
                static_cast<unsigned long long>(o.bytes), o.chunk, o.reps, blob_seconds);
    std::printf(
        "every byte of one transfer per row verified (pattern i %% 251); the timed ones "
        "checked by sample\n\n");
    std::printf("%-32s %8s %8s %8s %8s %9s %9s %8s %8s\n", "round trip (us)", "p50", "p99", "mean",
                "min", "cli CPU", "srv CPU", "cli cs", "srv cs");
    const auto echo_row = [](const std::string& name, const LatencyStats& l, const CallCosts& c) {
      std::printf("%-32s %8.1f %8.1f %8.1f %8.1f %9.1f %9.1f %8.1f %8.1f\n", name.c_str(), l.p50_us,
                  l.p99_us, l.mean_us, l.min_us, c.PerCall(c.total.client_cpu) * 1e6,
                  c.PerCall(c.total.server_cpu) * 1e6,
                  c.PerCall(static_cast<double>(c.total.client_switches)),
                  c.PerCall(static_cast<double>(c.total.server_switches)));
    };
    echo_row("invoke blazen::echo", echo.peer, echo.peer_costs);
    echo_row("gRPC unary echo, " + std::to_string(echo.payload_bytes) + " B", echo.control,
             echo.control_costs);
    std::printf(
        "(%zu calls each, after warm-up; CPU in us per call, cs = context switches per "
        "call)\n\n",
        echo.peer.calls);
    std::printf("%-30s %8s %17s %10s %10s %12s %12s\n", "transfer", "GB/s", "min..max", "cli CPU",
                "srv CPU", "cli faults", "srv faults");
    std::printf("%-30s %8s %17s %10s %10s %12s %12s\n", "", "median", "", "s/GB", "s/GB", "/GiB",
                "/GiB");
    for (const TransferSeries& s : series) {
      const std::vector<double> g = s.Gbps(o.bytes);
      std::printf("%-30s %8.2f %8.2f..%-8.2f %10.3f %10.3f %12.0f %12.0f\n", s.label.c_str(),
                  s.MedianGbps(o.bytes), g.front(), g.back(), s.ClientCpuPerGb(o.bytes),
                  s.ServerCpuPerGb(o.bytes), s.ClientFaultsPerGib(o.bytes),
                  s.ServerFaultsPerGib(o.bytes));
    }
    std::printf("\n%-50s %8s %10s %6s\n", "ratio", "value", "target", "met");
    bool all_met = true;
    for (const Target& t : targets) {
      const std::string target =
          t.comparison.empty() ? "-" : t.comparison + " " + Format("%.2f", t.target);
      const char* met = t.comparison.empty() ? "-" : (t.met() ? "yes" : "NO");
      all_met = all_met && t.met();
      std::printf("%-50s %7.2fx %10s %6s\n", t.name.c_str(), t.ratio, target.c_str(), met);
    }
    std::fflush(stdout);

    if (!o.json_path.empty()) {
      json out;
      out["machine"] = {{"cpu_model", CpuModel()},
                        {"cpus", cpus.size()},
                        {"server_cpus", server_cpus},
                        {"client_cpus", client_cpus},
                        {"load_before", load_before},
                        {"load_after", load_after},
                        {"other_cpu_seconds", disturbed.other_cpu_seconds},
                        {"steal_seconds", disturbed.steal_seconds},
                        {"measure_seconds", disturbed.wall_seconds},
                        {"other_share", disturbed.other_share}};
      out["config"] = {{"bytes", o.bytes},           {"chunk", o.chunk},
                       {"echo_iters", o.echo_iters}, {"reps", o.reps},
                       {"parallel", o.parallel},     {"host_ref_seconds", blob_seconds}};
      out["echo"] = {{"payload_bytes", echo.payload_bytes},
                     {"invoke", LatencyJson(echo.peer, echo.peer_costs)},
                     {"grpc_unary", LatencyJson(echo.control, echo.control_costs)}};
      json transfers = json::array();
      for (const TransferSeries& s : series) {
        json samples = json::array();
        for (const TransferSample& sample : s.samples) samples.push_back(SampleJson(sample));
        transfers.push_back({{"key", s.key},
                             {"label", s.label},
                             {"median_gbps", s.MedianGbps(o.bytes)},
                             {"gbps_sorted", s.Gbps(o.bytes)},
                             {"samples", samples},
                             {"client_cpu_s_per_gb", s.ClientCpuPerGb(o.bytes)},
                             {"server_cpu_s_per_gb", s.ServerCpuPerGb(o.bytes)},
                             {"client_minor_faults_per_gib", s.ClientFaultsPerGib(o.bytes)},
                             {"server_minor_faults_per_gib", s.ServerFaultsPerGib(o.bytes)}});
      }
      out["transfers"] = transfers;
      out["deref_streams"] = {{"single", single_streams}, {"parallel", parallel_streams}};
      json ratios = json::array();
      for (const Target& t : targets) {
        ratios.push_back({{"name", t.name},
                          {"ratio", t.ratio},
                          {"comparison", t.comparison},
                          {"target", t.target},
                          {"met", t.comparison.empty() ? json(nullptr) : json(t.met())}});
      }
      out["ratios"] = ratios;
      out["verified"] = true;
      std::ofstream file(o.json_path);
      file << out.dump(2) << "\n";
      if (!file) throw std::runtime_error("cannot write " + o.json_path);
    }
    return o.require_targets && !all_met ? 3 : 0;
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
