// SPDX-License-Identifier: Apache-2.0
// The parent side of the README's main job. It connects to a running GPU-worker peer, offloads an
// embedding sub-workflow to it, dereferences the tensor the peer kept resident (an NPY stream),
// decodes it, computes similarities on the host, asks the peer for a top-k search against the
// resident tensor, and releases it.
//
//   parent_offload --peer http://127.0.0.1:PORT

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "client/deref_sink.h"
#include "client/peer_client.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/peer_error.h"

namespace {

using nlohmann::json;
namespace client = blazen::client;

// A decoded little-endian float32 NPY payload (NPY v1.0, as the peer writes it).
struct Matrix {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<float> data;
};

Matrix DecodeNpyF32(const std::vector<std::uint8_t>& npy) {
  if (npy.size() < 10 || std::memcmp(npy.data(), "\x93NUMPY", 6) != 0) {
    throw std::runtime_error("payload is not an NPY file");
  }
  const std::size_t header_len = npy[8] | (static_cast<std::size_t>(npy[9]) << 8);
  const std::string header(npy.begin() + 10, npy.begin() + 10 + static_cast<long>(header_len));
  if (header.find("'descr': '<f4'") == std::string::npos) {
    throw std::runtime_error("expected float32 data, header: " + header);
  }
  Matrix m;
  if (std::sscanf(header.c_str() + header.find("'shape': (") + 10, "%ld, %ld", &m.rows, &m.cols) !=
      2) {
    throw std::runtime_error("expected a 2-D shape, header: " + header);
  }
  const std::size_t offset = 10 + header_len;
  m.data.resize(static_cast<std::size_t>(m.rows * m.cols));
  if (npy.size() != offset + m.data.size() * sizeof(float)) {
    throw std::runtime_error("NPY payload size does not match its shape");
  }
  std::memcpy(m.data.data(), npy.data() + offset, m.data.size() * sizeof(float));
  return m;
}

double Cosine(const Matrix& m, std::int64_t a, std::int64_t b) {
  double dot = 0, na = 0, nb = 0;
  for (std::int64_t j = 0; j < m.cols; ++j) {
    const double x = m.data[static_cast<std::size_t>(a * m.cols + j)];
    const double y = m.data[static_cast<std::size_t>(b * m.cols + j)];
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return dot / std::max(std::sqrt(na * nb), 1e-12);
}

int Run(const std::string& endpoint) {
  client::ClientOptions options;
  options.parent_run_id = "parent-run-" + blazen::Uuid::NewV4().ToString().substr(0, 8);
  auto peer = client::BlazenPeerClient::Connect(endpoint, "parent-1", options);

  const client::PeerDescription d = peer->DescribePeer();
  std::string backend = "?";
  for (const auto& dev : d.devices) {
    if (dev.location != "host" || d.devices.size() == 1) {
      backend = dev.location + (dev.name.empty() ? "" : " (" + dev.name + ")");
    }
  }
  std::printf("parent: peer '%s' v%s at %s runs on %s\n", d.node_id.c_str(), d.version.c_str(),
              endpoint.c_str(), backend.c_str());

  // 1. Offload the embedding step: the tensor stays resident on the peer as a session ref.
  const std::vector<std::string> texts = {"GPU workers keep tensors resident",
                                          "tensors stay resident on GPU workers",
                                          "the parent releases what it no longer needs"};
  blazen::SubWorkflowResponse embedded = peer->InvokeSubWorkflow(
      blazen::MakeSubWorkflowRequest("embed", {}, json{{"texts", texts}}, 120).value());
  if (embedded.error) throw std::runtime_error("embed failed: " + *embedded.error);
  if (embedded.remote_refs.size() != 1) throw std::runtime_error("embed reported no tensor ref");
  const json result = blazen::ParseJson(*embedded.result_json).value();
  const blazen::Uuid key = embedded.remote_refs.begin()->first;
  std::printf("parent: workflow 'embed' -> tensor ref %s, shape %s, %s, kept on %s\n",
              key.ToString().c_str(), result["shape"].dump().c_str(),
              embedded.remote_refs.begin()->second.type_tag.c_str(),
              embedded.remote_refs.begin()->second.origin_node_id.c_str());

  // 2. Dereference it: the NPY stream comes over gRPC into host memory.
  client::HostBufferSink sink;
  const client::DerefResult got = peer->DerefTo(key, sink);
  const Matrix m = DecodeNpyF32(sink.data());
  std::printf("parent: deref %llu bytes -> float32 [%ld, %ld]; cos(0,1) = %.4f, cos(0,2) = %.4f\n",
              static_cast<unsigned long long>(got.total_size), m.rows, m.cols, Cosine(m, 0, 1),
              Cosine(m, 0, 2));

  // 3. Search against the resident tensor on the peer (no bytes move for the corpus).
  blazen::SubWorkflowResponse found = peer->InvokeSubWorkflow(
      blazen::MakeSubWorkflowRequest(
          "search", {},
          json{{"queries", json::array({"resident tensors on GPU workers"})},
               {"corpus", key.ToString()},
               {"k", 2}},
          120)
          .value());
  if (found.error) throw std::runtime_error("search failed: " + *found.error);
  const json hits = blazen::ParseJson(*found.result_json).value();
  std::printf("parent: workflow 'search' -> top ids %s, scores %s\n", hits["ids"][0].dump().c_str(),
              hits["scores"][0].dump().c_str());

  // 4. Release the tensor; the peer's pool gets its bytes back.
  const bool released = peer->ReleaseSessionRef(key);
  const bool again = peer->ReleaseSessionRef(key);
  std::printf("parent: release -> %s, second release -> %s\n", released ? "true" : "false",
              again ? "true" : "false");

  const bool shape_ok =
      m.rows == 3 && m.cols > 0 && result["shape"] == json::array({m.rows, m.cols});
  const bool similar_first = Cosine(m, 0, 1) > Cosine(m, 0, 2);
  const bool ok = shape_ok && similar_first && released && !again && hits["ids"][0].size() == 2;
  std::printf("main job: %s\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string endpoint;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--peer") == 0) endpoint = argv[i + 1];
  }
  if (endpoint.empty()) {
    std::fprintf(stderr, "usage: parent_offload --peer URL\n");
    return 2;
  }
  try {
    return Run(endpoint);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parent: %s\n", e.what());
    return 1;
  }
}
