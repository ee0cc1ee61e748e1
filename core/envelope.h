// SPDX-License-Identifier: Apache-2.0
#pragma once
// Envelope-version policy, shared by every decoder and transport: a newer version than this build
// understands is refused, older ones are accepted (spec section 1.5).

#include <cstdint>

#include "core/status.h"
#include "core/wire_types.h"

namespace blazen {

/// OK when `got <= kEnvelopeVersion`; otherwise FAILED_PRECONDITION with kind kEnvelopeVersion and
/// the upstream text `envelope version {got} is newer than supported {kEnvelopeVersion}`.
[[nodiscard]] Status CheckEnvelopeVersion(std::uint32_t got);

}  // namespace blazen
