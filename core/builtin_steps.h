// SPDX-License-Identifier: Apache-2.0
#pragma once
// The built-in steps every peer registers at start-up, and the default workflows built on them.
//
//   blazen::echo       StartEvent -> StopEvent whose result is the input.
//   blazen::state_set  writes each key of its input object into ctx.state; emits nothing (pair it
//                      with a step that stops the run, e.g. blazen::echo).
//   blazen::host_blob  input {"bytes": N, "lifetime": "until_parent_finish" (default) |
//                      "until_context_drop" | "until_explicit_drop"}: creates a host ref of N
//                      bytes, byte i = i % 251, type tag "bytes"; result {"ref", "bytes",
//                      "lifetime", "type_tag"}. For deref tests and benchmarks.
//   blazen::fail       input {"message": "..."}: fails the run with that message.
//   blazen::sleep      input {"seconds": S}: sleeps, honouring cancellation; result {"slept": S}.

#include <cstdint>

namespace blazen {

class Engine;

/// Byte `index` of a blazen::host_blob payload.
[[nodiscard]] constexpr std::uint8_t HostBlobByte(std::uint64_t index) {
  return static_cast<std::uint8_t>(index % 251);
}

/// Registers the built-in steps in the process-global registry (idempotent; thread-safe).
void RegisterBuiltinSteps();

/// Registers the built-in steps and sets the default workflows `echo` = [blazen::echo] and
/// `state` = [blazen::state_set, blazen::echo] on `engine`.
void AddBuiltinWorkflows(Engine& engine);

}  // namespace blazen
