// SPDX-License-Identifier: Apache-2.0
#pragma once
// Argument checks shared by the element-wise launchers (fill.cu) and their references.

#include <cstdint>
#include <string_view>

#include "core/status.h"

namespace blazen::kernels::detail {

/// kInvalidArgument for n < 0, or for a null `data` with n > 0.
[[nodiscard]] Status CheckElementCount(const void* data, std::int64_t n, std::string_view what);

/// kInvalidArgument unless lo <= hi and hi - lo is finite.
[[nodiscard]] Status CheckUniformRange(float lo, float hi);

}  // namespace blazen::kernels::detail
