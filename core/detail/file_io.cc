// SPDX-License-Identifier: Apache-2.0
// Size-capped file reads for the token and TLS loaders.

#include "core/detail/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace blazen::detail {

std::string OsErrorText(int err) {
  return std::generic_category().message(err) + " (os error " + std::to_string(err) + ")";
}

int ReadFileCapped(const std::string& path, std::size_t max_bytes, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = 0;
  out.clear();
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      err = EFBIG;
      break;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return err;
}

}  // namespace blazen::detail
