// SPDX-License-Identifier: Apache-2.0
// The exception hierarchy (BlazenError > PeerError > one class per PeerError kind), the single
// PeerError -> Python translation, and the module-level helpers: constants, token resolution, TLS
// loaders and UUID parsing.

#include <pybind11/stl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "client/peer_client.h"
#include "core/auth.h"
#include "core/json.h"
#include "core/peer_description.h"
#include "core/peer_error.h"
#include "core/tls.h"
#include "core/uuid.h"
#include "core/wire_types.h"
#include "python/src/bindings.h"

namespace blazen::python {
namespace {

// Python classes for each ErrorKind, indexed by its value; leaked on purpose (they must outlive
// every translation, including ones during interpreter shutdown).
constexpr std::size_t kKinds = static_cast<std::size_t>(ErrorKind::kInvalidArgument) + 1;
std::array<PyObject*, kKinds> g_error_classes{};
PyObject* g_peer_error = nullptr;

struct KindClass {
  ErrorKind kind;
  const char* name;
  const char* doc;
};

constexpr KindClass kKindClasses[] = {
    {ErrorKind::kTransport, "PeerTransportError", "The call could not be carried out."},
    {ErrorKind::kEncode, "PeerEncodeError", "Encoding or decoding a wire payload failed."},
    {ErrorKind::kEnvelopeVersion, "PeerEnvelopeVersionError",
     "The other side speaks a newer envelope version."},
    {ErrorKind::kWorkflow, "PeerWorkflowError", "The sub-workflow ran and failed."},
    {ErrorKind::kTls, "PeerTlsError", "Certificates or keys could not be loaded or used."},
    {ErrorKind::kUnknownStep, "PeerUnknownStepError", "A step id is not registered on the peer."},
    {ErrorKind::kUnauthenticated, "PeerUnauthenticatedError",
     "Missing or wrong bearer token, or a rejected client certificate."},
    {ErrorKind::kNotFound, "PeerNotFoundError", "A session ref or other entity does not exist."},
    {ErrorKind::kDeadlineExceeded, "PeerDeadlineExceededError",
     "The deadline passed before the operation completed."},
    {ErrorKind::kResourceExhausted, "PeerResourceExhaustedError", "A capacity limit was reached."},
    {ErrorKind::kInvalidArgument, "PeerInvalidArgumentError", "The input was rejected."},
};

PyObject* ClassFor(ErrorKind kind) {
  const auto index = static_cast<std::size_t>(kind);
  if (index < kKinds && g_error_classes[index] != nullptr) return g_error_classes[index];
  return g_error_classes[static_cast<std::size_t>(ErrorKind::kTransport)];
}

void RaisePeerError(const PeerError& error) {
  PyObject* cls = ClassFor(error.kind());
  py::object instance = py::reinterpret_borrow<py::object>(cls)(error.what());
  instance.attr("code") = py::str(std::string(StatusCodeName(error.code())));
  instance.attr("kind") = py::str(std::string(ErrorKindName(error.kind())));
  PyErr_SetObject(cls, instance.ptr());
}

std::string ParseUuidText(const std::string& text) {
  Result<Uuid> uuid = Uuid::Parse(text);
  if (!uuid.ok()) {
    throw InvalidArgumentError(StatusCode::kInvalidArgument,
                               "invalid UUID: " + uuid.status().message());
  }
  return uuid->ToString();
}

unsigned long g_main_thread = 0;  // NOLINT: set once at import
// Set by an atexit callback: interpreter shutdown has begun. atexit callbacks run before CPython
// marks itself finalizing, while the main thread holds the GIL, so a thread that sees this flag
// unset and then waits for the GIL either gets it before finalization or waits forever (it is
// never ended with pthread_exit).
std::atomic<bool> g_exiting{false};  // NOLINT: process-wide by nature

}  // namespace

void RecordMainThread() {
  g_main_thread =
      py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  py::module_::import("atexit").attr("register")(
      py::cpp_function([] { g_exiting.store(true, std::memory_order_seq_cst); }));
}

bool ExitingOffMainThread() {
  const bool exiting = g_exiting.load(std::memory_order_seq_cst) || _Py_IsFinalizing() != 0;
  return exiting && PyThread_get_thread_ident() != g_main_thread;
}

GilRelease::~GilRelease() noexcept(false) {
  if (ExitingOffMainThread()) {
    for (;;) std::this_thread::sleep_for(std::chrono::hours(24));
  }
  PyEval_RestoreThread(state_);
}

void ThrowStatus(const Status& status) { ThrowPeerError(status); }

py::dict DescriptionDict(const client::PeerDescription& d) {
  // Through the description's one JSON form, so the dict has exactly its keys.
  return py::module_::import("json").attr("loads")(DumpJson(PeerDescriptionToJson(d)));
}

void BindErrors(py::module_& m) {
  PyObject* base = PyErr_NewExceptionWithDoc(
      "blazen.BlazenException", "Base class of every blazen error.", PyExc_Exception, nullptr);
  g_peer_error = PyErr_NewExceptionWithDoc(
      "blazen.PeerException",
      "A peer call failed (transport, protocol, TLS, encode, unknown step, envelope version, ...). "
      "Attributes: code (canonical status name) and kind.",
      base, nullptr);
  if (base == nullptr || g_peer_error == nullptr) throw py::error_already_set();
  m.attr("BlazenError") = py::reinterpret_borrow<py::object>(base);
  m.attr("PeerError") = py::reinterpret_borrow<py::object>(g_peer_error);
  for (const KindClass& entry : kKindClasses) {
    const std::string qualified = std::string("blazen.") + entry.name;
    PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), entry.doc, g_peer_error, nullptr);
    if (cls == nullptr) throw py::error_already_set();
    g_error_classes[static_cast<std::size_t>(entry.kind)] = cls;
    m.attr(entry.name) = py::reinterpret_borrow<py::object>(cls);
  }
  g_error_classes[static_cast<std::size_t>(ErrorKind::kUnspecified)] =
      g_error_classes[static_cast<std::size_t>(ErrorKind::kTransport)];

  py::register_exception_translator([](std::exception_ptr pointer) {
    if (!pointer) return;
    try {
      std::rethrow_exception(pointer);
    } catch (const PeerError& error) {
      RaisePeerError(error);
    }
  });
}

void BindCommon(py::module_& m) {
  m.attr("ENVELOPE_VERSION") = kEnvelopeVersion;
  m.attr("PEER_TOKEN_ENV") = std::string(kPeerTokenEnv);

  m.def("resolve_peer_token", &ResolvePeerToken,
        "The value of BLAZEN_PEER_TOKEN when it is set and non-empty, else None.");

  py::class_<ServerTlsConfig>(m, "ServerTlsConfig",
                              "Validated server TLS material (returned by load_server_tls).")
      .def_readonly("cert_path", &ServerTlsConfig::cert_path)
      .def_readonly("key_path", &ServerTlsConfig::key_path)
      .def_readonly("ca_path", &ServerTlsConfig::ca_path)
      .def_readonly("leaf_subject", &ServerTlsConfig::leaf_subject)
      .def_readonly("leaf_not_before", &ServerTlsConfig::leaf_not_before)
      .def_readonly("leaf_not_after", &ServerTlsConfig::leaf_not_after)
      .def("__repr__", [](const ServerTlsConfig& c) {
        return "ServerTlsConfig(cert=" + c.cert_path + ", subject=" + c.leaf_subject + ")";
      });
  py::class_<ClientTlsConfig>(m, "ClientTlsConfig",
                              "Validated client TLS material (returned by load_client_tls).")
      .def_readonly("cert_path", &ClientTlsConfig::cert_path)
      .def_readonly("key_path", &ClientTlsConfig::key_path)
      .def_readonly("ca_path", &ClientTlsConfig::ca_path)
      .def_readonly("leaf_subject", &ClientTlsConfig::leaf_subject)
      .def_readonly("leaf_not_before", &ClientTlsConfig::leaf_not_before)
      .def_readonly("leaf_not_after", &ClientTlsConfig::leaf_not_after)
      .def("__repr__", [](const ClientTlsConfig& c) {
        return "ClientTlsConfig(cert=" + c.cert_path + ", subject=" + c.leaf_subject + ")";
      });

  m.def(
      "load_server_tls",
      [](const std::string& cert, const std::string& key, const std::string& ca) {
        std::optional<Result<ServerTlsConfig>> config;
        {
          GilRelease release;
          config.emplace(LoadServerTls(cert, key, ca));
        }
        return ValueOrThrow(std::move(*config));
      },
      py::arg("cert_pem_path"), py::arg("key_pem_path"), py::arg("ca_pem_path"));
  m.def(
      "load_client_tls",
      [](const std::string& cert, const std::string& key, const std::string& ca) {
        std::optional<Result<ClientTlsConfig>> config;
        {
          GilRelease release;
          config.emplace(LoadClientTls(cert, key, ca));
        }
        return ValueOrThrow(std::move(*config));
      },
      py::arg("cert_pem_path"), py::arg("key_pem_path"), py::arg("ca_pem_path"));

  m.def("parse_uuid", &ParseUuidText, py::arg("text"),
        "Lowercase hyphenated form of a UUID; PeerError (invalid argument) when it is not one.");
  m.def(
      "new_uuid", [] { return Uuid::NewV4().ToString(); }, "A random version-4 UUID string.");
}

}  // namespace blazen::python
