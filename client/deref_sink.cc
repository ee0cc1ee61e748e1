// SPDX-License-Identifier: Apache-2.0
// Host-memory and file deref sinks.

#include "client/deref_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <utility>

namespace blazen::client {
namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

// Whether [offset, offset + size) lies within [0, total).
bool InBounds(std::uint64_t offset, std::uint64_t size, std::uint64_t total) {
  return offset <= total && size <= total - offset;
}

Status OutOfBounds(std::uint64_t offset, std::uint64_t size, std::uint64_t total) {
  return Status::OutOfRange("deref sink write of " + std::to_string(size) + " bytes at offset " +
                            std::to_string(offset) + " exceeds the payload size " +
                            std::to_string(total));
}

}  // namespace

// --- HostBufferSink ------------------------------------------------------------------------------

Status HostBufferSink::Begin(std::uint64_t total_size, std::string_view type_tag) {
  if (total_size > std::numeric_limits<std::size_t>::max() || total_size > data_.max_size()) {
    return Status::ResourceExhausted("payload of " + std::to_string(total_size) +
                                     " bytes does not fit in host memory");
  }
  try {
    data_.clear();
    data_.resize(static_cast<std::size_t>(total_size));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("cannot allocate " + std::to_string(total_size) +
                                     " bytes of host memory for the payload");
  }
  type_tag_ = std::string(type_tag);
  return Status::Ok();
}

Status HostBufferSink::Write(std::uint64_t offset, std::span<const std::uint8_t> bytes) {
  if (!InBounds(offset, bytes.size(), data_.size())) {
    return OutOfBounds(offset, bytes.size(), data_.size());
  }
  if (!bytes.empty()) {
    std::memcpy(data_.data() + static_cast<std::size_t>(offset), bytes.data(), bytes.size());
  }
  return Status::Ok();
}

Status HostBufferSink::Finish() { return Status::Ok(); }

// --- FileSink ------------------------------------------------------------------------------------

FileSink::FileSink(std::string path) : path_(std::move(path)) {}

FileSink::~FileSink() {
  if (fd_ >= 0) ::close(fd_);  // Abandoned deref: the partial file stays, the descriptor does not.
}

Status FileSink::Begin(std::uint64_t total_size, std::string_view type_tag) {
  if (begun_) return Status::FailedPrecondition("file sink " + path_ + " was already begun");
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    return Status::InvalidArgument("cannot create " + path_ + ": " + ErrnoText(err));
  }
  // Regular files are sized up front (parallel ranges then write in place and a full disk shows
  // here, not half-way); other files (/dev/null, a device) cannot be and need not be.
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::InvalidArgument("cannot stat " + path_ + ": " + ErrnoText(err));
  }
  if (S_ISREG(info.st_mode)) {
    const bool too_big = total_size > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max());
    if (too_big || ::ftruncate(fd, static_cast<off_t>(total_size)) != 0) {
      const int err = too_big ? EFBIG : errno;
      ::close(fd);
      return Status::ResourceExhausted("cannot size " + path_ + " to " +
                                       std::to_string(total_size) + " bytes: " + ErrnoText(err));
    }
  }
  fd_ = fd;
  begun_ = true;
  type_tag_ = std::string(type_tag);
  return Status::Ok();
}

Status FileSink::Write(std::uint64_t offset, std::span<const std::uint8_t> bytes) {
  if (fd_ < 0) return Status::FailedPrecondition("file sink " + path_ + " is not open");
  const std::uint8_t* data = bytes.data();
  std::size_t left = bytes.size();
  std::uint64_t at = offset;
  while (left > 0) {
    // pwrite may write less than asked (signals, large counts): loop until done.
    const ssize_t n = ::pwrite(fd_, data, left, static_cast<off_t>(at));
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      const std::string message = "cannot write " + std::to_string(left) + " bytes at offset " +
                                  std::to_string(at) + " of " + path_ + ": " + ErrnoText(err);
      if (err == ENOSPC || err == EDQUOT || err == EFBIG) {
        return Status::ResourceExhausted(message);
      }
      return Status::Unknown(message);
    }
    data += n;
    left -= static_cast<std::size_t>(n);
    at += static_cast<std::uint64_t>(n);
  }
  return Status::Ok();
}

Status FileSink::Finish() {
  if (fd_ < 0) return Status::FailedPrecondition("file sink " + path_ + " is not open");
  const int fd = std::exchange(fd_, -1);
  // EINVAL / EROFS: a special file that does not support synchronization; nothing to flush.
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
    const int err = errno;
    ::close(fd);
    return Status::Unknown("cannot fsync " + path_ + ": " + ErrnoText(err));
  }
  if (::close(fd) != 0) {
    const int err = errno;
    return Status::Unknown("cannot close " + path_ + ": " + ErrnoText(err));
  }
  return Status::Ok();
}

}  // namespace blazen::client
