// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shared pieces of the benchmark drivers: their option parser, the temporary directory that holds
// the servers' logs (kept only when a run fails), and progress lines on standard error (the table
// goes to standard output).

#include <set>
#include <string>
#include <vector>

#include "tools/command_line.h"

namespace blazen::bench {

/// A driver's options: no positional arguments. Throws cli::UsageError like cli::Args, and for a
/// positional argument.
class Flags : public cli::Args {
 public:
  Flags(const std::vector<std::string>& args, std::set<std::string> value_options,
        std::set<std::string> flag_options);
  /// Returns the value of option `name`, or `fallback` when it was not given.
  [[nodiscard]] std::string text(const std::string& name, const std::string& fallback) const;
};

/// A fresh directory /tmp/blazen-peer-bench-XXXXXX, removed with its contents by the destructor
/// unless Keep() was called. Not copyable or movable. Thread safety: externally synchronized.
class LogDir {
 public:
  /// Throws std::runtime_error when the directory cannot be made.
  LogDir();
  ~LogDir();
  LogDir(const LogDir&) = delete;
  LogDir& operator=(const LogDir&) = delete;
  LogDir(LogDir&&) = delete;
  LogDir& operator=(LogDir&&) = delete;

  /// Path of file `name` in the directory.
  [[nodiscard]] std::string File(const std::string& name) const;
  [[nodiscard]] const std::string& path() const { return path_; }
  /// Keeps the directory after the destructor (a failed run keeps the logs).
  void Keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

/// Writes `bench: <line>` to standard error and flushes it.
void Progress(const std::string& line);

}  // namespace blazen::bench
