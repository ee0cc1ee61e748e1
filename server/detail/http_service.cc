// SPDX-License-Identifier: Apache-2.0
// HTTP/JSON handlers. Each one: authorize -> decode -> core call -> encode; failures go through
// Reply (http_status.h) so codes and bodies come from one place. Mirrors the gRPC service's
// semantics: same core calls, same codes and messages, same token rule.

#include "server/detail/http_service.h"

#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/auth.h"
#include "core/detail/ssl_context.h"
#include "core/envelope.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/logging.h"
#include "core/uuid.h"
#include "server/detail/describe.h"
#include "server/detail/http_status.h"

namespace blazen::server::detail {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr const char* kJson = "application/json";
constexpr const char* kNodeIdHeader = "X-Blazen-Peer-Node-Id";
constexpr const char* kParentRunIdHeader = "X-Blazen-Parent-Run-Id";
constexpr const char* kTransport = "http";

// --- Address and TLS -----------------------------------------------------------------------------

Result<std::pair<std::string, int>> ParseListenAddress(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return Status::InvalidArgument("http listen address '" + address + "' is not host:port");
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  const std::string port_text = address.substr(colon + 1);
  int port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9' || port > 65535) {
      return Status::InvalidArgument("http listen address '" + address + "' has a bad port");
    }
    port = port * 10 + (c - '0');
  }
  if (port > 65535) {
    return Status::InvalidArgument("http listen address '" + address + "' has a bad port");
  }
  return std::make_pair(host, port);
}

// Identity (leaf + intermediates + key) and the CA that client certificates must chain to, on a
// fresh SSL_CTX; clients without a valid certificate fail the handshake.
Status ConfigureServerSsl(SSL_CTX& ctx, const ServerTlsConfig& tls) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  BLAZEN_RETURN_IF_ERROR(blazen::detail::UseCertificateAndKey(
      ctx, "server", tls.cert_chain_pem, tls.cert_path, tls.private_key_pem, tls.key_path));
  X509_STORE* store = SSL_CTX_get_cert_store(&ctx);
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  const int added = blazen::detail::ForEachCertificate(tls.ca_pem, [&](X509* cert) {
    X509_STORE_add_cert(store, cert);
    if (names != nullptr) {
      if (X509_NAME* name = X509_NAME_dup(X509_get_subject_name(cert))) {
        sk_X509_NAME_push(names, name);
      }
    }
  });
  if (names != nullptr) SSL_CTX_set_client_CA_list(&ctx, names);
  if (added == 0) {
    return Status(StatusCode::kInvalidArgument, "CA cert " + tls.ca_path + " holds no certificate",
                  ErrorKind::kTls);
  }
  SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return Status::Ok();
}

// --- Request helpers -----------------------------------------------------------------------------

std::string CallerOf(const httplib::Request& req) {
  return req.has_header(kNodeIdHeader) ? req.get_header_value(kNodeIdHeader).substr(0, 256)
                                       : std::string("-");
}

void Reply(httplib::Response& res, const Status& status) {
  res.status = HttpStatusOf(status);
  res.set_content(ErrorBody(status), kJson);
}

// A single byte range of a `Range: bytes=...` header, resolved against the payload size.
struct ByteRange {
  enum class Kind { kWhole, kPart, kUnsatisfiable } kind = Kind::kWhole;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;  // exclusive
};

bool ParseU64(std::string_view text, std::uint64_t& out) {
  if (text.empty() || text.size() > 19) return false;
  out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}

// RFC 9110 section 14: one range is served as 206; a malformed header or several ranges are
// ignored (the whole payload, 200); a syntactically valid range that misses the payload is 416.
ByteRange ResolveRange(const httplib::Request& req, std::uint64_t total) {
  ByteRange r;
  if (!req.has_header("Range")) return r;
  const std::string header = req.get_header_value("Range");
  std::string_view v = header;
  constexpr std::string_view kPrefix = "bytes=";
  if (v.substr(0, kPrefix.size()) != kPrefix) return r;
  v.remove_prefix(kPrefix.size());
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.find(',') != std::string_view::npos) return r;
  const auto dash = v.find('-');
  if (dash == std::string_view::npos) return r;
  const std::string_view first = v.substr(0, dash);
  const std::string_view last = v.substr(dash + 1);
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  if (first.empty()) {  // suffix: the last N bytes
    if (!ParseU64(last, b)) return r;
    if (b == 0 || total == 0) return {ByteRange::Kind::kUnsatisfiable, 0, 0};
    return {ByteRange::Kind::kPart, total - std::min(b, total), total};
  }
  if (!ParseU64(first, a)) return r;
  if (last.empty()) {
    b = total;
  } else {
    if (!ParseU64(last, b) || b < a) return r;
    b = std::min(b + 1, total);
  }
  if (a >= total) return {ByteRange::Kind::kUnsatisfiable, 0, 0};
  return {ByteRange::Kind::kPart, a, b};
}

// State of one streamed deref response; shared with httplib's content provider and released (with
// the lease, so the value) when the response ends, however it ends.
struct RefDownload {
  RefLease lease;
  Uuid key;
  std::uint64_t begin = 0;
  std::vector<std::uint8_t> buffer;
  std::shared_ptr<Metrics> metrics;
};

// State of one event stream, shared between the engine's callbacks and the content provider.
struct EventQueue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> lines;
  bool final_queued = false;
  std::shared_ptr<CancellationToken> token;
};

}  // namespace

// --- Service -------------------------------------------------------------------------------------

struct HttpService::Impl {
  HttpServiceOptions options;
  std::shared_ptr<Engine> engine;
  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  int port = 0;
  std::atomic<bool> draining{false};
  std::once_flag stop_once;

  Status Authorize(const httplib::Request& req) const {
    if (!options.token || options.token->empty()) return Status::Ok();
    std::optional<std::string> header;
    if (req.has_header("Authorization")) header = req.get_header_value("Authorization");
    return CheckBearerToken(header, *options.token);
  }

  // Runs `body` after the token check, with a catch-all backstop.
  template <typename F>
  auto Guarded(F body, bool needs_token = true) {
    return [this, body = std::move(body), needs_token](const httplib::Request& req,
                                                       httplib::Response& res) {
      try {
        if (needs_token) {
          if (Status st = Authorize(req); !st.ok()) {
            BLAZEN_LOG_WARN("[{}] {} {} from {} rejected: {}", options.node_id, req.method,
                            req.path, CallerOf(req), st.message());
            return Reply(res, st);
          }
        }
        body(req, res);
      } catch (const std::exception& e) {
        Reply(res, Status::Internal(std::string("internal error: ") + e.what()));
      } catch (...) {
        Reply(res, Status::Internal("internal error"));
      }
    };
  }

  InvocationOptions OptionsOf(const httplib::Request& req,
                              std::shared_ptr<CancellationToken> token) const {
    InvocationOptions out;
    if (req.has_header(kParentRunIdHeader)) {
      std::string parent = req.get_header_value(kParentRunIdHeader);
      if (!parent.empty()) out.parent_run_id = std::move(parent);
    }
    out.caller_node_id = CallerOf(req);
    out.cancel = std::move(token);
    return out;
  }

  void RecordInvocation(Clock::time_point started, const Status& status,
                        const SubWorkflowResponse* response) {
    options.metrics->RecordInvocation(kTransport, Metrics::OutcomeOf(status, response),
                                      Clock::now() - started);
  }

  void Invoke(const httplib::Request& req, httplib::Response& res) {
    const auto started = Clock::now();
    Result<SubWorkflowRequest> request = DecodeSubWorkflowRequestJson(req.body);
    if (!request.ok()) {
      RecordInvocation(started, request.status(), nullptr);
      return Reply(res, request.status());
    }
    Result<SubWorkflowResponse> response =
        engine->Invoke(*request, OptionsOf(req, std::make_shared<CancellationToken>()));
    Status st = response.status();
    if (response.ok()) {
      Result<std::string> body = EncodeJson(*response);
      if (body.ok()) {
        res.status = 200;
        res.set_content(*body, kJson);
      } else {
        st = Status::Internal("response encoding failed: " + body.status().message());
      }
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    BLAZEN_LOG_INFO("[{}] http invoke workflow '{}' from {}: {} in {} ms", options.node_id,
                    request->workflow_name, CallerOf(req),
                    !st.ok() ? st.ToString() : response->error.value_or("OK"), ms.count());
    RecordInvocation(started, st, response.ok() ? &*response : nullptr);
    if (!st.ok()) Reply(res, st);
  }

  void StreamEvents(const httplib::Request& req, httplib::Response& res) {
    const auto started = Clock::now();
    Result<SubWorkflowRequest> request = DecodeSubWorkflowRequestJson(req.body);
    if (!request.ok()) {
      RecordInvocation(started, request.status(), nullptr);
      return Reply(res, request.status());
    }
    auto queue = std::make_shared<EventQueue>();
    queue->token = std::make_shared<CancellationToken>();
    InvocationOptions invocation = OptionsOf(req, queue->token);
    std::shared_ptr<Metrics> metrics = options.metrics;
    invocation.on_event = [queue, metrics, started](const SubWorkflowEvent& event) {
      Result<std::string> line = EncodeJson(event);
      std::string text =
          line.ok()
              ? *line
              : ErrorBody(Status::Internal("event encoding failed: " + line.status().message()));
      const bool last = event.response.has_value() || !line.ok();
      if (event.response) {
        metrics->RecordInvocation(kTransport, Metrics::OutcomeOf(Status::Ok(), &*event.response),
                                  Clock::now() - started);
      }
      {
        std::lock_guard lock(queue->mu);
        if (queue->final_queued) return;
        queue->lines.push_back(std::move(text) + "\n");
        if (last) queue->final_queued = true;
      }
      queue->cv.notify_all();
    };
    Status st = engine->InvokeAsync(*request, std::move(invocation), [](SubWorkflowResponse) {});
    if (!st.ok()) {
      RecordInvocation(started, st, nullptr);
      return Reply(res, st);
    }
    res.status = 200;
    res.set_chunked_content_provider(
        "application/x-ndjson",
        [queue](std::size_t, httplib::DataSink& sink) {
          std::deque<std::string> batch;
          bool final_queued = false;
          {
            std::unique_lock lock(queue->mu);
            queue->cv.wait_for(lock, std::chrono::milliseconds(200),
                               [&] { return !queue->lines.empty() || queue->final_queued; });
            batch.swap(queue->lines);
            final_queued = queue->final_queued;
          }
          for (const std::string& line : batch) {
            if (!sink.write(line.data(), line.size())) {
              queue->token->Cancel();
              return false;
            }
          }
          if (final_queued) {
            sink.done();
          } else if (!sink.is_writable()) {
            queue->token->Cancel();
            return false;
          }
          return true;
        },
        [queue](bool success) {
          if (!success) queue->token->Cancel();
        });
  }

  // The upstream unary deref: the whole payload as a JSON array of byte values.
  void Deref(const httplib::Request& req, httplib::Response& res) {
    Result<DerefRequest> request = DecodeDerefRequestJson(req.body);
    if (!request.ok()) return Reply(res, request.status());
    Result<RefLease> lease = engine->session_refs()->Acquire(request->ref_uuid);
    if (!lease.ok()) return Reply(res, lease.status());
    DerefResponse out;
    const std::uint64_t size = lease->value().size_bytes();
    if (size > options.max_json_deref_bytes) {
      return Reply(res, Status::ResourceExhausted(
                            "session ref " + request->ref_uuid.ToString() + " holds " +
                            std::to_string(size) + " bytes, more than the " +
                            std::to_string(options.max_json_deref_bytes) +
                            " a JSON deref returns; stream it with GET /v1/peer/refs/" +
                            request->ref_uuid.ToString()));
    }
    try {
      out.payload.resize(static_cast<std::size_t>(size));
    } catch (const std::bad_alloc&) {
      return Reply(res, Status::ResourceExhausted("cannot allocate " + std::to_string(size) +
                                                  " bytes to deref session ref " +
                                                  request->ref_uuid.ToString()));
    }
    if (Status st = lease->value().Read(0, out.payload); !st.ok()) {
      return Reply(res,
                   Status::Internal("serialization of session ref " + request->ref_uuid.ToString() +
                                    " failed: " + st.message()));
    }
    Result<std::string> body = EncodeJson(out);
    if (!body.ok()) return Reply(res, Status::Internal(body.status().message()));
    options.metrics->AddDerefBytes(kTransport, size);
    BLAZEN_LOG_DEBUG("[{}] http deref {} ({} bytes) to {}", options.node_id,
                     request->ref_uuid.ToString(), size, CallerOf(req));
    res.status = 200;
    res.set_content(*body, kJson);
  }

  void Release(const httplib::Request& req, httplib::Response& res) {
    Result<ReleaseRequest> request = DecodeReleaseRequestJson(req.body);
    if (!request.ok()) return Reply(res, request.status());
    ReleaseResponse out;
    out.released = engine->session_refs()->Release(request->ref_uuid);
    BLAZEN_LOG_DEBUG("[{}] http release {} from {}: {}", options.node_id,
                     request->ref_uuid.ToString(), CallerOf(req), out.released);
    Result<std::string> body = EncodeJson(out);
    if (!body.ok()) return Reply(res, Status::Internal(body.status().message()));
    res.status = 200;
    res.set_content(*body, kJson);
  }

  // GET /v1/peer/describe (extension): what the gRPC DescribePeer reports, as JSON.
  void Describe(const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content(DumpJson(PeerDescriptionToJson(
                        DescribeNode(options.node_id, *engine, options.runtime.get()))),
                    kJson);
  }

  // POST /v1/peer/release_scope (extension): {"envelope_version", "parent_run_id"} ->
  // {"envelope_version", "released": <count>}.
  void ReleaseScope(const httplib::Request& req, httplib::Response& res) {
    Result<json> body = ParseJson(req.body);
    if (!body.ok())
      return Reply(res, Status::InvalidArgument("invalid JSON: " + body.status().message()));
    if (!body->is_object() || !body->contains("envelope_version") ||
        !(*body)["envelope_version"].is_number_unsigned() || !body->contains("parent_run_id") ||
        !(*body)["parent_run_id"].is_string()) {
      return Reply(res,
                   Status::InvalidArgument("release_scope expects {\"envelope_version\": <u32>, "
                                           "\"parent_run_id\": <string>}"));
    }
    const std::uint64_t version = (*body)["envelope_version"].get<std::uint64_t>();
    if (version > std::numeric_limits<std::uint32_t>::max()) {
      return Reply(res, Status::InvalidArgument("envelope_version does not fit in 32 bits"));
    }
    if (Status st = CheckEnvelopeVersion(static_cast<std::uint32_t>(version)); !st.ok()) {
      return Reply(res, st);
    }
    const std::string parent = (*body)["parent_run_id"].get<std::string>();
    if (parent.empty())
      return Reply(res, Status::InvalidArgument("parent_run_id must not be empty"));
    const std::size_t released = engine->session_refs()->ReleaseScope(parent);
    BLAZEN_LOG_INFO("[{}] http release scope '{}' from {}: {} refs", options.node_id, parent,
                    CallerOf(req), released);
    res.status = 200;
    res.set_content(DumpJson({{"envelope_version", kEnvelopeVersion}, {"released", released}}),
                    kJson);
  }

  // GET /v1/peer/refs/{uuid}: the payload as application/octet-stream, read from the value chunk
  // by chunk as the socket accepts it (bounded memory for host and device refs alike).
  void DownloadRef(const httplib::Request& req, httplib::Response& res) {
    // httplib would apply the Range header itself, without bounds checks and to error bodies too;
    // this route resolves it (the Request object is not const where httplib owns it).
    const_cast<httplib::Request&>(req).ranges.clear();
    Result<Uuid> key = Uuid::Parse(req.matches[1].str());
    if (!key.ok()) return Reply(res, key.status().WithPrefix("ref_uuid: "));
    Result<RefLease> lease = engine->session_refs()->Acquire(*key);
    if (!lease.ok()) return Reply(res, lease.status());
    const std::uint64_t total = lease->value().size_bytes();
    const ByteRange range = ResolveRange(req, total);
    res.set_header("Accept-Ranges", "bytes");
    res.set_header("X-Blazen-Type-Tag", std::string(lease->value().type_tag()));
    res.set_header("X-Blazen-Total-Size", std::to_string(total));
    if (range.kind == ByteRange::Kind::kUnsatisfiable) {
      res.set_header("Content-Range", "bytes */" + std::to_string(total));
      return Reply(
          res, Status::OutOfRange("range is past the end of session ref " + key->ToString() + " (" +
                                  std::to_string(total) + " bytes)"));
    }
    std::uint64_t begin = 0;
    std::uint64_t end = total;
    res.status = 200;
    if (range.kind == ByteRange::Kind::kPart) {
      begin = range.begin;
      end = range.end;
      res.status = 206;
      res.set_header("Content-Range", "bytes " + std::to_string(begin) + "-" +
                                          std::to_string(end - 1) + "/" + std::to_string(total));
    }
    BLAZEN_LOG_DEBUG("[{}] http download {} [{}, {}) to {}", options.node_id, key->ToString(),
                     begin, end, CallerOf(req));
    if (end == begin) {
      res.set_content("", "application/octet-stream");
      return;
    }
    auto download = std::make_shared<RefDownload>();
    download->lease = std::move(*lease);
    download->key = *key;
    download->begin = begin;
    download->metrics = options.metrics;
    download->buffer.resize(static_cast<std::size_t>(
        std::min<std::uint64_t>(std::max<std::uint32_t>(options.chunk_bytes, 4096), end - begin)));
    res.set_content_provider(
        static_cast<std::size_t>(end - begin), "application/octet-stream",
        [download](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
          const std::size_t n = std::min(length, download->buffer.size());
          Status st = download->lease.value().Read(
              download->begin + offset, std::span<std::uint8_t>(download->buffer.data(), n));
          if (!st.ok()) {
            // Headers are gone already: all we can do is cut the stream short (the client sees a
            // truncated body and may resume).
            BLAZEN_LOG_WARN("serialization of session ref {} failed: {}", download->key.ToString(),
                            st.message());
            return false;
          }
          if (!sink.write(reinterpret_cast<const char*>(download->buffer.data()), n)) return false;
          download->metrics->AddDerefBytes(kTransport, n);
          return true;
        },
        [download](bool) mutable { download.reset(); });
  }

  void Register() {
    httplib::Server& s = *server;
    s.Post("/v1/peer/invoke_sub_workflow",
           Guarded([this](const auto& req, auto& res) { Invoke(req, res); }));
    s.Post("/v1/peer/deref_session_ref",
           Guarded([this](const auto& req, auto& res) { Deref(req, res); }));
    s.Post("/v1/peer/release_session_ref",
           Guarded([this](const auto& req, auto& res) { Release(req, res); }));
    s.Post("/v1/peer/stream_sub_workflow_events",
           Guarded([this](const auto& req, auto& res) { StreamEvents(req, res); }));
    s.Get(R"(/v1/peer/refs/([^/]+))",
          Guarded([this](const auto& req, auto& res) { DownloadRef(req, res); }));
    s.Get("/v1/peer/describe", Guarded([this](const auto& req, auto& res) { Describe(req, res); }));
    s.Post("/v1/peer/release_scope",
           Guarded([this](const auto& req, auto& res) { ReleaseScope(req, res); }));
    s.Get("/healthz", Guarded(
                          [this](const httplib::Request&, httplib::Response& res) {
                            const bool serving = !draining.load();
                            res.status = serving ? 200 : 503;
                            res.set_content(DumpJson({{"status", serving ? "ok" : "draining"},
                                                      {"node_id", options.node_id}}),
                                            kJson);
                          },
                          /*needs_token=*/false));
    s.Get("/metrics", Guarded([this](const httplib::Request&, httplib::Response& res) {
            res.status = 200;
            res.set_content(options.metrics->Render(*engine->session_refs(), options.runtime.get()),
                            "text/plain; version=0.0.4; charset=utf-8");
          }));
    // Every error without a body of its own (unknown route, wrong method, body too large, bad
    // request line) gets the JSON error shape too.
    s.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty() || res.content_length_ != 0)
            return httplib::Server::HandlerResponse::Unhandled;
          std::string message;
          switch (res.status) {
            case 404:
              message = "no route for " + req.method + " " + req.path;
              break;
            case 413:
              message = "request body is larger than the peer accepts";
              break;
            case 416:
              message = "malformed Range header";
              break;
            default:
              message = "HTTP " + std::to_string(res.status);
          }
          const StatusCode code = res.status == 404   ? StatusCode::kNotFound
                                  : res.status == 413 ? StatusCode::kResourceExhausted
                                  : res.status == 416 ? StatusCode::kOutOfRange
                                  : res.status < 500  ? StatusCode::kInvalidArgument
                                                      : StatusCode::kInternal;
          res.set_content(ErrorBody(Status(code, message)), kJson);
          return httplib::Server::HandlerResponse::Handled;
        }));
    s.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
          Reply(res, Status::Internal("internal error"));
        });
  }
};

HttpService::HttpService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpService::~HttpService() { Stop(); }

Result<std::unique_ptr<HttpService>> HttpService::Start(HttpServiceOptions options,
                                                        std::shared_ptr<Engine> engine) {
  if (!options.metrics) options.metrics = std::make_shared<Metrics>();
  if (options.token && options.token->empty()) options.token.reset();
  BLAZEN_ASSIGN_OR_RETURN(auto address, ParseListenAddress(options.listen_address));
  auto impl = std::make_unique<Impl>();
  if (options.tls) {
    Status tls_status;
    const ServerTlsConfig tls = *options.tls;
    impl->server = std::make_unique<httplib::SSLServer>([&tls_status, &tls](SSL_CTX& ctx) {
      tls_status = ConfigureServerSsl(ctx, tls);
      return tls_status.ok();
    });
    if (!tls_status.ok()) return tls_status;
    if (!impl->server->is_valid()) {
      return Status(StatusCode::kInvalidArgument, "cannot set up the HTTPS server",
                    ErrorKind::kTls);
    }
  } else {
    impl->server = std::make_unique<httplib::Server>();
  }
  httplib::Server& s = *impl->server;
  const std::size_t threads = std::max<std::size_t>(options.threads, 2);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Only SO_REUSEADDR: httplib's default adds SO_REUSEPORT, with which a second peer on the same
  // port would silently share it instead of failing.
  auto listen_fd = std::make_shared<std::atomic<int>>(-1);
  s.set_socket_options([listen_fd](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_fd->store(sock);
  });
  s.set_payload_max_length(options.max_request_bytes);
  s.set_read_timeout(options.read_timeout);
  s.set_write_timeout(options.write_timeout);
  s.set_keep_alive_timeout(std::min<time_t>(5, std::max<time_t>(1, options.read_timeout.count())));
  s.set_tcp_nodelay(true);
  impl->options = std::move(options);
  impl->engine = std::move(engine);
  impl->Register();

  const auto& [host, port] = address;
  impl->port = port == 0 ? s.bind_to_any_port(host) : (s.bind_to_port(host, port) ? port : -1);
  if (impl->port <= 0) {
    return Status::Unavailable("cannot listen on " + impl->options.listen_address +
                               " for HTTP (address in use, invalid, or not permitted)");
  }
  // httplib 0.11 listens with a backlog of 5: a burst of connections would overflow it and some
  // clients would see their connection reset. Listening again only raises the backlog.
  if (const int fd = listen_fd->load(); fd >= 0) ::listen(fd, SOMAXCONN);
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->server->listen_after_bind(); });
  // httplib 0.11 has no wait_until_ready(): wait until the accept loop runs.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!s.is_running() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  BLAZEN_LOG_INFO("[{}] serving HTTP/JSON on {}:{} ({}{})", impl->options.node_id, host, impl->port,
                  impl->options.tls ? "TLS, client certificates required" : "plaintext",
                  impl->options.token ? ", token required" : "");
  return std::unique_ptr<HttpService>(new HttpService(std::move(impl)));
}

int HttpService::port() const { return impl_->port; }

void HttpService::BeginShutdown() { impl_->draining = true; }

void HttpService::Stop() {
  std::call_once(impl_->stop_once, [this] {
    impl_->draining = true;
    impl_->server->stop();
    if (impl_->thread.joinable()) impl_->thread.join();
  });
}

}  // namespace blazen::server::detail
