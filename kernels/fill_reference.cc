// SPDX-License-Identifier: Apache-2.0
// Host references of the element-wise kernels (see fill.h) and their shared argument checks.

#include <cmath>
#include <string>

#include "kernels/detail/fill_checks.h"
#include "kernels/detail/rng.h"
#include "kernels/fill.h"
#include "kernels/half.h"

namespace blazen::kernels {
namespace detail {

Status CheckElementCount(const void* data, std::int64_t n, std::string_view what) {
  if (n < 0) return Status::InvalidArgument(std::string(what) + ": negative element count");
  if (n > 0 && data == nullptr)
    return Status::InvalidArgument(std::string(what) + ": null pointer");
  return Status::Ok();
}

Status CheckUniformRange(float lo, float hi) {
  if (!(lo <= hi) || !std::isfinite(hi - lo)) {
    return Status::InvalidArgument("RandomUniformF32: need lo <= hi and a finite hi - lo");
  }
  return Status::Ok();
}

}  // namespace detail

Status FillF32Reference(float* data, std::int64_t n, float value) {
  BLAZEN_RETURN_IF_ERROR(detail::CheckElementCount(data, n, "FillF32"));
  for (std::int64_t i = 0; i < n; ++i) data[i] = value;
  return Status::Ok();
}

float UniformF32At(std::uint64_t seed, std::uint64_t index, float lo, float hi) {
  return detail::UniformF32FromCounter(seed, index, lo, hi);
}

Status RandomUniformF32Reference(float* data, std::int64_t n, std::uint64_t seed, float lo,
                                 float hi) {
  BLAZEN_RETURN_IF_ERROR(detail::CheckElementCount(data, n, "RandomUniformF32"));
  BLAZEN_RETURN_IF_ERROR(detail::CheckUniformRange(lo, hi));
  for (std::int64_t i = 0; i < n; ++i) {
    data[i] = detail::UniformF32FromCounter(seed, static_cast<std::uint64_t>(i), lo, hi);
  }
  return Status::Ok();
}

Status ConvertF32ToF16Reference(const float* src, std::uint16_t* dst, std::int64_t n) {
  BLAZEN_RETURN_IF_ERROR(detail::CheckElementCount(src, n, "ConvertF32ToF16 (src)"));
  BLAZEN_RETURN_IF_ERROR(detail::CheckElementCount(dst, n, "ConvertF32ToF16 (dst)"));
  for (std::int64_t i = 0; i < n; ++i) dst[i] = FloatToHalf(src[i]);
  return Status::Ok();
}

}  // namespace blazen::kernels
