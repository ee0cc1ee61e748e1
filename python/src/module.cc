// SPDX-License-Identifier: Apache-2.0
// Entry point of blazen._native: routes logs to stderr, binds every component and registers the
// node's built-in steps, so that `registered_step_ids()` lists them and a server started from
// Python serves them.

#include <pybind11/pybind11.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "core/builtin_steps.h"
#include "python/src/bindings.h"
#include "server/gpu_steps.h"

PYBIND11_MODULE(_native, m) {
  namespace bp = blazen::python;
  m.doc() = "Native core of the blazen package (C++ peer client, server and registries).";
  // Logs go to standard error (standard output belongs to the program); warnings and errors only
  // unless BLAZEN_LOG_LEVEL says otherwise.
  spdlog::set_default_logger(spdlog::stderr_color_mt("blazen"));
  const char* level = std::getenv("BLAZEN_LOG_LEVEL");
  spdlog::set_level(level != nullptr ? spdlog::level::from_str(level) : spdlog::level::warn);
  bp::RecordMainThread();
  bp::BindErrors(m);
  bp::BindCommon(m);
  bp::BindRegistry(m);
  bp::BindSteps(m);
  bp::BindClient(m);
  bp::BindServer(m);
  blazen::RegisterBuiltinSteps();
  blazen::server::RegisterGpuSteps();
  blazen::server::RegisterBenchSteps();
}
