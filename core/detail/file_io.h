// SPDX-License-Identifier: Apache-2.0
#pragma once
// Small file helpers shared by the token and TLS loaders: a size-capped whole-file read and errno
// rendering in the style of upstream's io::Error Display.

#include <cstddef>
#include <string>

namespace blazen::detail {

/// "<strerror text> (os error <n>)".
[[nodiscard]] std::string OsErrorText(int err);

/// Reads the whole file at `path` into `out`. Returns 0, or an errno value (EFBIG when the file is
/// larger than `max_bytes`).
[[nodiscard]] int ReadFileCapped(const std::string& path, std::size_t max_bytes, std::string& out);

}  // namespace blazen::detail
