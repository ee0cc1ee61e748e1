// SPDX-License-Identifier: Apache-2.0
// Channels, credentials, eager connect and per-call metadata of the gRPC client.

#include "client/detail/grpc_channel.h"

#include "core/auth.h"
#include "core/peer_error.h"
#include "proto/grpc_status.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cstdlib>
#include <utility>

namespace blazen::client::detail {
namespace {

constexpr char kDerefStreamMethod[] = "/blazen.peer.v1.BlazenPeer/DerefSessionRefStream";

constexpr int kStreamWindowBytes = 8 << 20;

}  // namespace

// The deref receive path allocates and frees large buffers at a high rate (gRPC's receive slices,
// sink buffers). With glibc's defaults, freed blocks above the (dynamic) mmap threshold go straight
// back to the kernel and the heap top is trimmed past 128 KiB, so the next message faults every
// page in again: measured ~2x slower, and raising only the trim threshold made it 4x slower. Both
// are raised to 256 MiB: blocks up to that size are served from, and returned to, the heap. The
// cost: up to 256 MiB of freed memory may stay mapped in the process. Older glibc versions refuse
// an mmap threshold above 32 MiB; they get 32 MiB.
void TuneMallocOnce() {
#if defined(__GLIBC__)
  static std::once_flag once;
  std::call_once(once, [] {
    constexpr int kThreshold = 256 << 20;
    if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr &&
        mallopt(M_MMAP_THRESHOLD, kThreshold) == 0) {
      mallopt(M_MMAP_THRESHOLD, 32 << 20);
    }
    if (std::getenv("MALLOC_TRIM_THRESHOLD_") == nullptr) mallopt(M_TRIM_THRESHOLD, kThreshold);
  });
#endif
}

Lane::Lane(std::shared_ptr<grpc::Channel> ch)
    : channel(std::move(ch)),
      deref_stream(std::make_unique<grpc::internal::RpcMethod>(
          kDerefStreamMethod, grpc::internal::RpcMethod::SERVER_STREAMING, channel)) {}

grpc::ChannelArguments BaseChannelArgs() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // unlimited: no 4 MiB cap on results or deref payloads
  args.SetMaxSendMessageSize(-1);
  // Bound what the transport buffers per stream when the sink is slower than the network. With
  // the BDP probe on, gRPC grows the HTTP/2 window to twice the estimated bandwidth-delay product,
  // which on loopback let a slow file sink accumulate hundreds of MiB of received data; a fixed
  // 8 MiB window keeps memory bounded (a few chunks per stream) and is still large enough to keep
  // one stream at full speed.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kStreamWindowBytes);
  return args;
}

bool UsesTls(const std::string& endpoint, const ParsedEndpoint& parsed,
             const ClientOptions& options) {
  if (parsed.scheme == EndpointScheme::kHttp && options.tls.has_value()) {
    throw TransportError(StatusCode::kInvalidArgument,
                         "endpoint '" + endpoint +
                             "' is plaintext http:// but TLS options were given (use https://)");
  }
  return parsed.scheme == EndpointScheme::kHttps ||
         (parsed.scheme == EndpointScheme::kBare && options.tls);
}

std::shared_ptr<grpc::ChannelCredentials> MakeCredentials(
    bool use_tls, const std::optional<ClientTlsConfig>& tls) {
  if (!use_tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  if (tls.has_value()) {
    ssl.pem_root_certs = tls->ca_pem;
    ssl.pem_private_key = tls->private_key_pem;
    ssl.pem_cert_chain = tls->cert_chain_pem;
  }
  return grpc::SslCredentials(ssl);
}

void ConnectEagerly(grpc::Channel& channel, const std::string& endpoint,
                    std::chrono::milliseconds timeout, bool use_tls) {
  const auto deadline = GrpcClock::now() + timeout;
  grpc_connectivity_state state = channel.GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
      throw TransportError(StatusCode::kUnavailable,
                           "cannot connect to " + endpoint + ": connection failed" +
                               (use_tls ? " (TCP or TLS handshake)" : ""));
    }
    if (!channel.WaitForStateChange(state, deadline)) {
      throw TransportError(StatusCode::kUnavailable, "cannot connect to " + endpoint +
                                                         ": not connected within " +
                                                         std::to_string(timeout.count()) + " ms");
    }
    state = channel.GetState(/*try_to_connect=*/true);
  }
}

// --- GrpcClientCore ------------------------------------------------------------------------------

GrpcDeadline GrpcClientCore::DeadlineFor(const CallOptions& call) const {
  const std::chrono::milliseconds timeout = call.deadline.value_or(options.default_deadline);
  if (!call.deadline.has_value() && timeout.count() <= 0) return std::nullopt;
  return GrpcClock::now() + timeout;
}

void GrpcClientCore::Prepare(grpc::ClientContext& context, const CallOptions& call,
                             const GrpcDeadline& deadline) const {
  if (token.has_value()) {
    context.AddMetadata(std::string(grpc_util::kAuthorizationHeader),
                        std::string(kBearerPrefix) + *token);
  }
  if (!node_id.empty()) context.AddMetadata(std::string(grpc_util::kNodeIdHeader), node_id);
  const std::optional<std::string>& parent =
      call.parent_run_id.has_value() ? call.parent_run_id : options.parent_run_id;
  if (parent.has_value()) {
    context.AddMetadata(std::string(grpc_util::kParentRunIdHeader), *parent);
  }
  if (deadline.has_value()) context.set_deadline(*deadline);
}

Lane& GrpcClientCore::ParallelLane(std::size_t index) {
  std::lock_guard<std::mutex> lock(lanes_mu);
  while (lanes.size() <= index) {
    grpc::ChannelArguments args = BaseChannelArgs();
    // A private subchannel pool plus a distinct argument per lane: gRPC would otherwise share
    // one subchannel (one TCP connection) between channels to the same target, and one HTTP/2
    // connection caps near one stream's throughput.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("blazen.client.deref_lane", static_cast<int>(lanes.size() + 1));
    lanes.push_back(
        std::make_unique<Lane>(grpc::CreateCustomChannel(parsed.target, credentials, args)));
  }
  return *lanes[index];
}

}  // namespace blazen::client::detail
