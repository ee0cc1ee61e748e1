// SPDX-License-Identifier: Apache-2.0
#pragma once
// The option parser of the command-line programs (blazen-peer, the benchmark drivers): --name
// value, --name=value, boolean --flag, -h/--help, and positional arguments. Header-only.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace blazen::cli {

/// A command line that cannot be used; programs print it with their usage and exit 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Args {
 public:
  /// Parses `args`; `short_names` maps a short option (e.g. "-o") to a long one ("--output").
  /// Throws UsageError for an unknown option, a flag given a value, or a missing value.
  Args(std::vector<std::string> args, std::set<std::string> value_options,
       std::set<std::string> flags, const std::map<std::string, std::string>& short_names = {})
      : value_options_(std::move(value_options)), flags_(std::move(flags)) {
    for (std::size_t i = 0; i < args.size(); ++i) {
      std::string arg = args[i];
      if (arg == "-h" || arg == "--help") {
        help_ = true;
        continue;
      }
      if (auto alias = short_names.find(arg); alias != short_names.end()) arg = alias->second;
      if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
        positionals_.push_back(arg);
        continue;
      }
      std::string name = arg.substr(2);
      std::optional<std::string> value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      if (flags_.count(name) != 0) {
        if (value) throw UsageError("--" + name + " takes no value");
        values_[name] = "true";
      } else if (value_options_.count(name) != 0) {
        if (!value) {
          if (i + 1 >= args.size()) throw UsageError("--" + name + " needs a value");
          value = args[++i];
        }
        values_[name] = *value;
        repeated_[name].push_back(*value);
      } else {
        throw UsageError("unknown option --" + name);
      }
    }
  }

  [[nodiscard]] bool help() const { return help_; }
  [[nodiscard]] bool has(const std::string& name) const { return values_.count(name) != 0; }
  /// Every value a repeatable option was given, in order (get() returns the last).
  [[nodiscard]] std::vector<std::string> all(const std::string& name) const {
    auto it = repeated_.find(name);
    return it == repeated_.end() ? std::vector<std::string>() : it->second;
  }
  [[nodiscard]] std::optional<std::string> get(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  [[nodiscard]] std::string required(const std::string& name) const {
    auto v = get(name);
    if (!v || v->empty()) throw UsageError("--" + name + " is required");
    return *v;
  }
  [[nodiscard]] std::uint64_t number(const std::string& name, std::uint64_t fallback) const {
    auto v = get(name);
    if (!v) return fallback;
    std::size_t used = 0;
    unsigned long long n = 0;
    try {
      n = std::stoull(*v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != v->size() || v->empty() || (*v)[0] == '-') {
      throw UsageError("--" + name + " needs a non-negative integer, got '" + *v + "'");
    }
    return n;
  }
  [[nodiscard]] const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::set<std::string> value_options_;
  std::set<std::string> flags_;
  std::map<std::string, std::vector<std::string>> repeated_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positionals_;
  bool help_ = false;
};

}  // namespace blazen::cli
