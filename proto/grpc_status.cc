// SPDX-License-Identifier: Apache-2.0
// Status <-> grpc::Status with the error kind in trailing metadata.

#include "proto/grpc_status.h"

#include <string>

namespace blazen::grpc_util {

grpc::Status ToGrpcStatus(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message());
}

void AddErrorKindTrailer(grpc::ServerContextBase& context, const Status& status) {
  if (status.ok() || status.kind() == ErrorKind::kUnspecified) return;
  context.AddTrailingMetadata(std::string(kErrorKindTrailer),
                              std::string(ErrorKindName(status.kind())));
}

Status FromGrpcStatus(const grpc::Status& status, const grpc::ClientContext& context) {
  if (status.ok()) return Status::Ok();
  ErrorKind kind = ErrorKind::kUnspecified;
  const auto& trailers = context.GetServerTrailingMetadata();
  if (auto it = trailers.find(grpc::string_ref(kErrorKindTrailer.data(), kErrorKindTrailer.size()));
      it != trailers.end()) {
    kind = ErrorKindFromName(std::string_view(it->second.data(), it->second.size()));
  }
  int code = static_cast<int>(status.error_code());
  if (code < 0 || code > static_cast<int>(StatusCode::kUnauthenticated)) {
    code = static_cast<int>(StatusCode::kUnknown);
  }
  return Status(static_cast<StatusCode>(code), status.error_message(), kind);
}

}  // namespace blazen::grpc_util
