// SPDX-License-Identifier: Apache-2.0
#pragma once
// The one mapping between blazen::Status and grpc::Status, shared by the gRPC server and client:
// the code travels as the gRPC status code (numbered identically), the message as the status
// message, and the ErrorKind (when one is attached) as trailing metadata `x-blazen-error-kind`, so
// a client can raise UnknownStepError rather than a bare NotFoundError. Also the metadata keys the
// peer protocol uses.

#include <grpcpp/grpcpp.h>

#include <string_view>

#include "core/status.h"

namespace blazen::grpc_util {

/// `authorization: Bearer <token>`.
inline constexpr std::string_view kAuthorizationHeader = "authorization";
/// The caller's node id.
inline constexpr std::string_view kNodeIdHeader = "x-blazen-peer-node-id";
/// The parent run a call works for (scopes UntilParentFinish refs).
inline constexpr std::string_view kParentRunIdHeader = "x-blazen-parent-run-id";
/// Trailing metadata carrying the ErrorKind name of a failed call.
inline constexpr std::string_view kErrorKindTrailer = "x-blazen-error-kind";

/// grpc::Status of `status` (code and message).
[[nodiscard]] grpc::Status ToGrpcStatus(const Status& status);

/// Adds the `x-blazen-error-kind` trailer for `status` to a server call (no-op for OK or when no
/// kind is attached).
void AddErrorKindTrailer(grpc::ServerContextBase& context, const Status& status);

/// Status of a finished client call: code and message from `status`, kind from the trailer.
[[nodiscard]] Status FromGrpcStatus(const grpc::Status& status, const grpc::ClientContext& context);

}  // namespace blazen::grpc_util
