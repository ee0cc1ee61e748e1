// SPDX-License-Identifier: Apache-2.0
#pragma once
// Conversions between the native protobuf messages of the extension RPCs and the project's own
// types, in one place for the server (ToProto) and the client (FromProto).

#include "blazen/peer/v1/blazen_peer.pb.h"
#include "core/peer_description.h"

namespace blazen::proto_convert {

/// DescribePeer's response for `description`.
void ToProto(const PeerDescription& description, peer::v1::DescribePeerResponse& out);

/// The PeerDescription a DescribePeer response carries.
[[nodiscard]] PeerDescription FromProto(const peer::v1::DescribePeerResponse& response);

}  // namespace blazen::proto_convert
