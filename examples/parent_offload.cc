// SPDX-License-Identifier: Apache-2.0
// The parent side of the README's main job. It connects to a running peer, offloads sub-workflows
// to it, dereferences the session ref the peer kept, checks every byte, and releases it.
//
//   parent_offload --peer http://127.0.0.1:PORT [--bytes N]

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "client/deref_sink.h"
#include "client/peer_client.h"
#include "core/builtin_steps.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/peer_error.h"

namespace {

using nlohmann::json;
namespace client = blazen::client;

std::uint64_t LiveRefs(client::BlazenPeerClient& peer) {
  std::uint64_t n = 0;
  for (const auto& r : peer.DescribePeer().live_refs) n += r.count;
  return n;
}

int Run(const std::string& endpoint, std::uint64_t bytes) {
  client::ClientOptions options;
  options.parent_run_id = "parent-run-" + blazen::Uuid::NewV4().ToString().substr(0, 8);
  auto peer = client::BlazenPeerClient::Connect(endpoint, "parent-1", options);

  const client::PeerDescription d = peer->DescribePeer();
  std::printf("parent: connected to peer '%s' (v%s) at %s, %zu steps, device %s\n",
              d.node_id.c_str(), d.version.c_str(), endpoint.c_str(), d.step_ids.size(),
              d.devices.empty() ? "?" : d.devices[0].location.c_str());

  // 1. Offload a small sub-workflow and read its exported state and result.
  const json input = {{"task", "normalize"}, {"values", {3, 1, 2}}};
  blazen::SubWorkflowResponse echo =
      peer->InvokeSubWorkflow(blazen::MakeSubWorkflowRequest("state", {}, input, 30).value());
  if (echo.error) throw std::runtime_error("echo failed: " + *echo.error);
  std::printf("parent: workflow 'state' -> result %s, state keys %zu\n", echo.result_json->c_str(),
              echo.state_json.size());

  // 2. Offload a sub-workflow whose product stays on the peer as a session ref.
  blazen::SubWorkflowResponse made =
      peer->InvokeSubWorkflow(blazen::MakeSubWorkflowRequest(
                                  "blob", {"blazen::host_blob"},
                                  json{{"bytes", bytes}, {"lifetime", "until_parent_finish"}}, 30)
                                  .value());
  if (made.error || made.remote_refs.size() != 1) {
    throw std::runtime_error("host_blob failed: " + made.error.value_or("no ref reported"));
  }
  const auto& [key, descriptor] = *made.remote_refs.begin();
  std::printf("parent: peer kept ref %s (%s, from %s)\n", key.ToString().c_str(),
              descriptor.type_tag.c_str(), descriptor.origin_node_id.c_str());

  // 3. Dereference it: streamed over gRPC into host memory, then checked byte for byte.
  client::HostBufferSink sink;
  const auto start = std::chrono::steady_clock::now();
  const client::DerefResult got = peer->DerefTo(key, sink);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (std::size_t i = 0; i < sink.data().size(); ++i) {
    if (sink.data()[i] != blazen::HostBlobByte(i)) {
      throw std::runtime_error("byte " + std::to_string(i) + " differs");
    }
  }
  std::printf("parent: deref %llu bytes in %.3f s (%.2f GB/s, %d stream(s)), all bytes verified\n",
              static_cast<unsigned long long>(got.total_size), secs,
              secs > 0 ? static_cast<double>(got.total_size) / secs / 1e9 : 0.0, got.streams);

  // 4. Release it; the peer's memory is returned.
  const bool released = peer->ReleaseSessionRef(key);
  const bool again = peer->ReleaseSessionRef(key);
  const std::uint64_t live = LiveRefs(*peer);
  std::printf("parent: release -> %s, second release -> %s, live refs on peer: %llu\n",
              released ? "true" : "false", again ? "true" : "false",
              static_cast<unsigned long long>(live));
  const bool ok = got.total_size == bytes && released && !again && live == 0;
  std::printf("main job: %s\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string endpoint;
  std::uint64_t bytes = 32u << 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--peer") == 0) endpoint = argv[i + 1];
    if (std::strcmp(argv[i], "--bytes") == 0) bytes = std::stoull(argv[i + 1]);
  }
  if (endpoint.empty()) {
    std::fprintf(stderr, "usage: parent_offload --peer URL [--bytes N]\n");
    return 2;
  }
  try {
    return Run(endpoint, bytes);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parent: %s\n", e.what());
    return 1;
  }
}
