// SPDX-License-Identifier: Apache-2.0
// Metrics counters and their Prometheus text rendering.

#include "server/metrics.h"

#include <cctype>
#include <cstdio>

namespace blazen::server {
namespace {

// Label values are escaped as the exposition format requires (backslash, quote, newline).
std::string Escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Number(double v, const char* format = "%.17g") {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

void Family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void Sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t v) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += std::to_string(v);
  out += '\n';
}

std::string Label(std::string_view key, std::string_view value) {
  return std::string(key) + "=\"" + Escape(value) + "\"";
}

}  // namespace

std::string Metrics::OutcomeOf(const Status& status, const SubWorkflowResponse* response) {
  if (status.ok()) return response != nullptr && response->error ? "workflow_error" : "ok";
  std::string name(StatusCodeName(status.code()));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

void Metrics::RecordInvocation(std::string_view transport, std::string_view outcome,
                               std::chrono::nanoseconds latency) {
  const double seconds = std::chrono::duration<double>(latency).count();
  std::lock_guard lock(mu_);
  ++invocations_[{std::string(transport), std::string(outcome)}];
  Histogram& h = latency_[std::string(transport)];
  std::size_t i = 0;
  while (i < kLatencyBuckets.size() && seconds > kLatencyBuckets[i]) ++i;
  if (i < kLatencyBuckets.size()) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

void Metrics::AddDerefBytes(std::string_view transport, std::uint64_t bytes) {
  std::lock_guard lock(mu_);
  deref_bytes_[std::string(transport)] += bytes;
}

std::uint64_t Metrics::invocations(std::string_view transport, std::string_view outcome) const {
  std::lock_guard lock(mu_);
  auto it = invocations_.find({std::string(transport), std::string(outcome)});
  return it == invocations_.end() ? 0 : it->second;
}

std::string Metrics::Render(const SessionRefRegistry& refs, const gpu::GpuRuntime* runtime) const {
  std::string out;
  {
    std::lock_guard lock(mu_);
    Family(out, "blazen_peer_invocations_total", "counter",
           "Sub-workflow invocations by transport and outcome.");
    for (const auto& [key, n] : invocations_) {
      Sample(out, "blazen_peer_invocations_total",
             Label("transport", key.first) + "," + Label("status", key.second), n);
    }
    Family(out, "blazen_peer_invocation_duration_seconds", "histogram",
           "Time from receiving an invocation to its response being ready.");
    for (const auto& [transport, h] : latency_) {
      const std::string t = Label("transport", transport);
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
        cumulative += h.buckets[i];
        Sample(out, "blazen_peer_invocation_duration_seconds_bucket",
               t + "," + Label("le", Number(kLatencyBuckets[i], "%g")), cumulative);
      }
      Sample(out, "blazen_peer_invocation_duration_seconds_bucket", t + "," + Label("le", "+Inf"),
             h.count);
      out += "blazen_peer_invocation_duration_seconds_sum{" + t + "} " + Number(h.sum) + "\n";
      Sample(out, "blazen_peer_invocation_duration_seconds_count", t, h.count);
    }
    Family(out, "blazen_peer_deref_bytes_total", "counter",
           "Session-ref payload bytes sent to callers by derefs.");
    for (const auto& [transport, n] : deref_bytes_) {
      Sample(out, "blazen_peer_deref_bytes_total", Label("transport", transport), n);
    }
  }

  const RegistryStats stats = refs.Stats();
  Family(out, "blazen_peer_live_refs", "gauge", "Live session refs by lifetime and location.");
  for (const auto& [key, bucket] : stats.live) {
    Sample(out, "blazen_peer_live_refs",
           Label("lifetime", RefLifetimeName(key.first)) + "," + Label("location", key.second),
           bucket.count);
  }
  Family(out, "blazen_peer_live_ref_bytes", "gauge",
         "Resident bytes of live session refs by lifetime and location.");
  for (const auto& [key, bucket] : stats.live) {
    Sample(out, "blazen_peer_live_ref_bytes",
           Label("lifetime", RefLifetimeName(key.first)) + "," + Label("location", key.second),
           bucket.resident_bytes);
  }
  Family(out, "blazen_peer_resident_bytes", "gauge",
         "Bytes held by session-ref values per location, released values still leased included.");
  for (const auto& [location, bytes] : stats.resident_bytes_by_location) {
    Sample(out, "blazen_peer_resident_bytes", Label("location", location), bytes);
  }
  if (runtime != nullptr) {
    const gpu::DevicePoolStats pool = runtime->pool().stats();
    const std::string loc = Label("location", runtime->location());
    Family(out, "blazen_peer_pool_in_use_bytes", "gauge", "Bytes allocated from the value pool.");
    Sample(out, "blazen_peer_pool_in_use_bytes", loc, pool.in_use_bytes);
    Family(out, "blazen_peer_pool_peak_bytes", "gauge", "Highest pool bytes in use so far.");
    Sample(out, "blazen_peer_pool_peak_bytes", loc, pool.peak_bytes);
    Family(out, "blazen_peer_pool_budget_bytes", "gauge", "Byte budget of the value pool.");
    Sample(out, "blazen_peer_pool_budget_bytes", loc, runtime->budget_bytes());
  }
  return out;
}

}  // namespace blazen::server
