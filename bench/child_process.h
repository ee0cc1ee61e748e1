// SPDX-License-Identifier: Apache-2.0
#pragma once
// Child processes of the benchmark driver: the peer under test and the control servers. Each child
// is pinned to the server CPUs, writes its logs to a file and announces `listening on HOST:PORT`
// on standard output; the driver kills every child it started on any exit path.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace blazen::bench {

/// CPU time and page faults of a process, read from /proc/<pid>/stat.
struct ProcessUsage {
  double cpu_seconds = 0;  // user + system
  std::int64_t minor_faults = 0;
  std::int64_t major_faults = 0;
  /// Voluntary plus involuntary context switches, summed over the process's live threads.
  std::int64_t context_switches = 0;
};

/// Reads the usage of process `pid` (/proc/<pid>/stat and /proc/<pid>/task/*/status); zeros when it
/// cannot be read.
[[nodiscard]] ProcessUsage ReadProcessUsage(pid_t pid);

/// A started child process. Move-only; the destructor terminates the child (SIGTERM, then SIGKILL
/// after a grace period) and reaps it. Thread safety: externally synchronized.
class ChildProcess {
 public:
  /// Starts `path` with `args` (not including argv[0]). Standard output goes to a pipe the driver
  /// reads (WaitForListening), standard error to `log_path` (appended). When `cpus` is not empty
  /// the child runs only on those CPUs. The child is killed if the driver dies (PR_SET_PDEATHSIG).
  /// Throws std::runtime_error when the process cannot be started. Call only while the driver has
  /// a single thread (fork).
  static ChildProcess Spawn(const std::string& path, const std::vector<std::string>& args,
                            const std::string& log_path, const std::vector<int>& cpus);

  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;

  /// Reads standard output until a line `listening on HOST:PORT` and returns `HOST:PORT`.
  /// Throws std::runtime_error when the child exits or `timeout` passes first.
  std::string WaitForListening(std::chrono::milliseconds timeout);

  /// Stops the child: SIGTERM, up to `grace` for it to exit, then SIGKILL; reaps it. Idempotent.
  void Terminate(std::chrono::milliseconds grace = std::chrono::milliseconds(3000)) noexcept;

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string name_;
  std::string log_path_;
  std::string pending_;  // standard output read so far, not yet a whole line
};

/// Installs SIGINT/SIGTERM/SIGHUP handlers that kill every live child (SIGKILL) and then let the
/// signal take its default action, so an interrupted benchmark leaves no servers behind.
void InstallChildCleanupHandlers();

}  // namespace blazen::bench
