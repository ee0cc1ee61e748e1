// SPDX-License-Identifier: Apache-2.0
// Envelope-version check.

#include "core/envelope.h"

#include <string>

namespace blazen {

Status CheckEnvelopeVersion(std::uint32_t got) {
  if (got <= kEnvelopeVersion) return Status::Ok();
  return Status(StatusCode::kFailedPrecondition,
                "envelope version " + std::to_string(got) + " is newer than supported " +
                    std::to_string(kEnvelopeVersion),
                ErrorKind::kEnvelopeVersion);
}

}  // namespace blazen
