// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shared declarations of the pybind11 module blazen._native: one Bind* function per source file,
// and the PeerError -> Python exception mapping they all use. The idiomatic asyncio surface lives
// in the Python package `blazen`; this module exposes blocking calls that release the GIL.

#include <pybind11/pybind11.h>

#include <memory>
#include <mutex>
#include <optional>

#include "client/peer_client.h"
#include "core/session_ref.h"
#include "core/wire_types.h"

namespace blazen::python {

namespace py = pybind11;

/// Python-side numbering of RefLifetime: upstream's integer values. UntilSnapshot exists for API
/// compatibility; this peer has no snapshot walker, so inserting a ref with it is refused.
/// Unscoped so that members compare equal to ints, as upstream's enum.
enum PyRefLifetime : int {
  kPyUntilContextDrop = 0,
  kPyUntilExplicitDrop = 1,
  kPyUntilSnapshot = 2,
  kPyUntilParentFinish = 3,
};

[[nodiscard]] RefLifetime ToCore(PyRefLifetime lifetime);
[[nodiscard]] PyRefLifetime FromCore(RefLifetime lifetime);

/// What a SessionRefRegistry / _SessionRegistryHandle points at. A slot starts with a fresh
/// registry of its own; BlazenPeerServer.with_session_refs re-points it at the node's registry once
/// the node serves. Thread-safe.
class RegistrySlot {
 public:
  RegistrySlot() : registry_(std::make_shared<SessionRefRegistry>()) {}
  explicit RegistrySlot(std::shared_ptr<SessionRefRegistry> registry)
      : registry_(std::move(registry)) {}

  [[nodiscard]] std::shared_ptr<SessionRefRegistry> get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return registry_;
  }
  void set(std::shared_ptr<SessionRefRegistry> registry) {
    std::lock_guard<std::mutex> lock(mu_);
    registry_ = std::move(registry);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<SessionRefRegistry> registry_;
};

/// Records the interpreter's main thread (call once, at import, with the GIL held).
void RecordMainThread();

/// True while the interpreter is shutting down and the calling thread is not the main thread: such
/// a thread must not take the GIL again (CPython would end it with pthread_exit).
[[nodiscard]] bool ExitingOffMainThread();

/// Releases the GIL for its scope, like py::gil_scoped_release, except when the scope ends during
/// interpreter shutdown on a thread other than the main one (a daemon thread whose call outlived
/// the program): that thread then parks forever instead of re-acquiring the GIL, because CPython
/// would end it with pthread_exit, whose forced unwind through noexcept C++ frames aborts the
/// process. Use only on threads that hold the GIL when it is constructed.
class GilRelease {
 public:
  GilRelease() : state_(PyEval_SaveThread()) {}
  ~GilRelease() noexcept(false);
  GilRelease(const GilRelease&) = delete;
  GilRelease& operator=(const GilRelease&) = delete;

 private:
  PyThreadState* state_;
};

/// Destroys what `owned` holds without the GIL (its destructor may wait for threads that need the
/// GIL), except during interpreter shutdown, when no other thread may take it any more. For the
/// destructors of the boxes that own native clients and nodes.
template <typename T>
void ResetWithoutGil(std::unique_ptr<T>& owned) {
  if (owned && PyGILState_Check() != 0 && _Py_IsFinalizing() == 0) {
    GilRelease release;  // parks instead of re-taking the GIL during shutdown
    owned.reset();
  }
}

/// Exceptions (PeerError and its subclasses) and the C++ -> Python translator.
void BindErrors(py::module_& m);
/// Constants, token and TLS helpers, UUID helpers.
void BindCommon(py::module_& m);
/// RefLifetime, the session-ref registry view and its handle.
void BindRegistry(py::module_& m);
/// Step registry functions, Python steps and the step context.
void BindSteps(py::module_& m);
/// The peer client (one binding of client::PeerClient for every transport) and call cancellation.
void BindClient(py::module_& m);
/// The peer node (server).
void BindServer(py::module_& m);

/// A SubWorkflowResponse as the tuple the Python package unpacks: (envelope_version,
/// {key: state JSON bytes}, result JSON bytes | None, [(uuid, origin_node_id, type_tag,
/// created_at_epoch_ms)], error | None).
[[nodiscard]] py::tuple ResponseTuple(const SubWorkflowResponse& response);

/// A peer description as the dict BlazenPeerClient.describe / HttpPeerClient.describe return.
[[nodiscard]] py::dict DescriptionDict(const client::PeerDescription& description);

/// Raises the Python exception for `status` (which must not be OK).
[[noreturn]] void ThrowStatus(const Status& status);

}  // namespace blazen::python
