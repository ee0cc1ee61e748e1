// SPDX-License-Identifier: Apache-2.0
#include "client/pool/policy/policy.h"

namespace blazen::client::pool {

Status Decision::status() const {
  if (picked()) return Status::Ok();
  // A decision without a peer always carries a failure code; kInternal guards our own bugs.
  return Status(code == StatusCode::kOk ? StatusCode::kInternal : code, reason);
}

Filter::~Filter() = default;
Picker::~Picker() = default;

}  // namespace blazen::client::pool
