// SPDX-License-Identifier: Apache-2.0
// The launchers of a build without CUDA: declared as usual so callers compile either way, each
// returning kUnimplemented. Compiled only when BLAZEN_ENABLE_CUDA is OFF (see CMakeLists.txt).

#include <string>

#include "kernels/cosine_topk.h"
#include "kernels/embedding_bag.h"
#include "kernels/fill.h"

namespace blazen::kernels {
namespace {

Status BuiltWithoutCuda(const char* what) {
  return Status::Unimplemented(std::string(what) + ": built without CUDA");
}

}  // namespace

Status FillF32(float* /*data*/, std::int64_t /*n*/, float /*value*/, void* /*stream*/) {
  return BuiltWithoutCuda("FillF32");
}

Status RandomUniformF32(float* /*data*/, std::int64_t /*n*/, std::uint64_t /*seed*/, float /*lo*/,
                        float /*hi*/, void* /*stream*/) {
  return BuiltWithoutCuda("RandomUniformF32");
}

Status ConvertF32ToF16(const float* /*src*/, std::uint16_t* /*dst*/, std::int64_t /*n*/,
                       void* /*stream*/) {
  return BuiltWithoutCuda("ConvertF32ToF16");
}

Status EmbeddingBagMean(const EmbeddingBagArgs& /*args*/, void* /*stream*/, int* /*d_error_flag*/) {
  return BuiltWithoutCuda("EmbeddingBagMean");
}

Status CosineTopK(const CosineTopKArgs& /*args*/, void* /*scratch*/, std::size_t /*scratch_bytes*/,
                  void* /*stream*/) {
  return BuiltWithoutCuda("CosineTopK");
}

}  // namespace blazen::kernels
