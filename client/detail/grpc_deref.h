// SPDX-License-Identifier: Apache-2.0
#pragma once
// BlazenPeerClient::DerefTo over gRPC: the first DerefSessionRefStream on the main connection, the
// parallel range streams it starts once it knows the payload size (each on its own Lane and
// thread), resumption of a broken range from its first missing byte, and cancellation of every
// stream on the first failure. Range bookkeeping is in detail/deref_ranges, chunk parsing in
// detail/deref_chunk.

#include <functional>

#include "client/deref_sink.h"
#include "client/detail/grpc_channel.h"
#include "client/peer_client_interface.h"
#include "core/uuid.h"

namespace blazen::client::detail {

/// Streams `ref` into `sink` over `core`'s lanes, with the contract of PeerClient::DerefTo and the
/// gRPC specifics documented on BlazenPeerClient. `call` must already be validated; its cancel and
/// deadline apply to the whole transfer. Blocks until every stream has ended (threads joined).
DerefResult GrpcDerefTo(GrpcClientCore& core, const Uuid& ref, DerefSink& sink,
                        const std::function<void(const DerefProgress&)>& progress,
                        const CallOptions& call);

}  // namespace blazen::client::detail
