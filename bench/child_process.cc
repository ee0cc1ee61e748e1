// SPDX-License-Identifier: Apache-2.0
// Child processes of the benchmark driver: fork + exec with CPU pinning, log redirection, a
// readiness line on standard output, and cleanup on every exit path (destructor, signal handler,
// parent death).

#include "bench/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace blazen::bench {
namespace {

// Pids of live children, for the signal handler (which may only use async-signal-safe calls).
constexpr int kMaxChildren = 16;
std::atomic<pid_t> g_children[kMaxChildren];

void Track(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return;
  }
}

void Untrack(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

extern "C" void KillChildrenAndDie(int sig) {
  for (auto& slot : g_children) {
    const pid_t pid = slot.load();
    if (pid > 0) kill(pid, SIGKILL);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

ProcessUsage ReadProcessUsage(pid_t pid) {
  ProcessUsage usage;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may contain spaces; the fields after it start past the last ')'.
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return usage;
  std::istringstream fields(text.substr(paren + 2));
  std::vector<std::string> f;
  for (std::string field; fields >> field;) f.push_back(field);
  // f[0] is field 3 (state): minflt is field 10, majflt 12, utime 14, stime 15.
  if (f.size() < 13) return usage;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  usage.minor_faults = std::stoll(f[7]);
  usage.major_faults = std::stoll(f[9]);
  usage.cpu_seconds = static_cast<double>(std::stoll(f[11]) + std::stoll(f[12])) / tick;
  std::error_code error;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
    std::ifstream status(task.path() / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0 ||
          line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
        usage.context_switches += std::stoll(line.substr(line.find(':') + 1));
      }
    }
  }
  return usage;
}

ChildProcess ChildProcess::Spawn(const std::string& path, const std::vector<std::string>& args,
                                 const std::string& log_path, const std::vector<int>& cpus) {
  if (access(path.c_str(), X_OK) != 0)
    throw std::runtime_error(Errno(("cannot run " + path).c_str()));
  int out_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error(Errno("pipe2"));
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    throw std::runtime_error(Errno(("cannot open " + log_path).c_str()));
  }
  std::vector<std::string> argv_storage;
  argv_storage.push_back(path);
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(static_cast<std::size_t>(cpu), &set);
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid < 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    close(log_fd);
    throw std::runtime_error(Errno("fork"));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (!cpus.empty()) sched_setaffinity(0, sizeof(set), &set);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(log_fd);
  Track(pid);
  ChildProcess child;
  child.pid_ = pid;
  child.stdout_fd_ = out_pipe[0];
  child.name_ = path.substr(path.rfind('/') + 1);
  child.log_path_ = log_path;
  return child;
}

ChildProcess::~ChildProcess() { Terminate(); }

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      stdout_fd_(std::exchange(other.stdout_fd_, -1)),
      name_(std::move(other.name_)),
      log_path_(std::move(other.log_path_)),
      pending_(std::move(other.pending_)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    Terminate();
    pid_ = std::exchange(other.pid_, -1);
    stdout_fd_ = std::exchange(other.stdout_fd_, -1);
    name_ = std::move(other.name_);
    log_path_ = std::move(other.log_path_);
    pending_ = std::move(other.pending_);
  }
  return *this;
}

std::string ChildProcess::WaitForListening(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  const std::string marker = "listening on ";
  for (;;) {
    for (auto eol = pending_.find('\n'); eol != std::string::npos; eol = pending_.find('\n')) {
      std::string line = pending_.substr(0, eol);
      pending_.erase(0, eol + 1);
      if (line.rfind(marker, 0) == 0) return line.substr(marker.size());
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      throw std::runtime_error(name_ + " did not report `listening on` within " +
                               std::to_string(timeout.count()) + " ms (log: " + log_path_ + ")");
    }
    pollfd pfd{stdout_fd_, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) throw std::runtime_error(Errno("poll"));
    if (ready <= 0) continue;
    char buf[512];
    const ssize_t n = read(stdout_fd_, buf, sizeof(buf));
    if (n == 0) {
      throw std::runtime_error(name_ + " exited before it was ready (log: " + log_path_ + ")");
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(Errno("read"));
    }
    pending_.append(buf, static_cast<std::size_t>(n));
  }
}

void ChildProcess::Terminate(std::chrono::milliseconds grace) noexcept {
  if (stdout_fd_ >= 0) {
    close(stdout_fd_);
    stdout_fd_ = -1;
  }
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  const auto until = std::chrono::steady_clock::now() + grace;
  int status = 0;
  bool reaped = false;
  while (std::chrono::steady_clock::now() < until) {
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      reaped = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!reaped) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  Untrack(pid_);
  pid_ = -1;
}

void InstallChildCleanupHandlers() {
  struct sigaction action {};
  action.sa_handler = KillChildrenAndDie;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);
}

}  // namespace blazen::bench
