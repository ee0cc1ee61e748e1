// SPDX-License-Identifier: Apache-2.0
// Option parsing, log directory and progress output of the benchmark drivers.

#include "bench/driver.h"

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace blazen::bench {

Flags::Flags(const std::vector<std::string>& args, std::set<std::string> value_options,
             std::set<std::string> flag_options)
    : cli::Args(args, std::move(value_options), std::move(flag_options)) {
  if (!positionals().empty()) {
    throw cli::UsageError("unexpected argument '" + positionals().front() + "'");
  }
}

std::string Flags::text(const std::string& name, const std::string& fallback) const {
  return get(name).value_or(fallback);
}

LogDir::LogDir() {
  char tmpl[] = "/tmp/blazen-peer-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

LogDir::~LogDir() {
  if (keep_) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string LogDir::File(const std::string& name) const { return path_ + "/" + name; }

void Progress(const std::string& line) {
  std::fprintf(stderr, "bench: %s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace blazen::bench
