// SPDX-License-Identifier: Apache-2.0
// HttpPeerClient over cpp-httplib: one connection per call, JSON bodies from core/json_codec, HTTP
// failures mapped to a Status (code and kind from our error body, else from the HTTP status) and
// thrown as the matching PeerError.

#include "client/http_client.h"

#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "core/auth.h"
#include "core/detail/ssl_context.h"
#include "core/envelope.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/peer_description.h"
#include "core/peer_error.h"

namespace blazen::client {
namespace {

constexpr const char* kJson = "application/json";
constexpr std::size_t kMaxErrorBody = 64 * 1024;

struct ParsedUrl {
  bool tls = false;
  std::string host;
  int port = 0;
  std::string prefix;  // path prefix without trailing slashes ("" or "/x/y")
};

[[noreturn]] void ThrowBadUrl(const std::string& url, const std::string& why) {
  throw TransportError(StatusCode::kInvalidArgument, "invalid peer URL '" + url + "': " + why);
}

ParsedUrl ParseUrl(const std::string& url) {
  ParsedUrl out;
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
    out.tls = true;
  } else {
    ThrowBadUrl(url, "the scheme must be http:// or https://");
  }
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.find_first_of("?#") != std::string_view::npos) {
    ThrowBadUrl(url, "a query or fragment is not allowed");
  }
  out.prefix = std::string(path);
  if (authority.find('@') != std::string_view::npos) ThrowBadUrl(url, "user info is not allowed");
  std::string_view port_text;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) ThrowBadUrl(url, "unterminated IPv6 address");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') ThrowBadUrl(url, "junk after the IPv6 address");
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) ThrowBadUrl(url, "the host is missing");
  if (port_text.empty()) {
    out.port = out.tls ? 443 : 80;
  } else {
    int port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || port > 65535) ThrowBadUrl(url, "bad port");
      port = port * 10 + (c - '0');
    }
    if (port == 0 || port > 65535) ThrowBadUrl(url, "bad port");
    out.port = port;
  }
  return out;
}

void CheckHeaderValue(const std::string& what, const std::string& value) {
  for (char c : value) {
    if (c < 0x20 || c > 0x7E) {
      throw InvalidArgumentError(StatusCode::kInvalidArgument,
                                 what + " must be printable ASCII to travel in an HTTP header");
    }
  }
}

// Client identity (leaf, intermediates, key) on `ctx` and a CA store with only `tls.ca_pem`.
Status ConfigureClientSsl(httplib::SSLClient& client, const ClientTlsConfig& tls) {
  SSL_CTX* ctx = client.ssl_context();
  if (ctx == nullptr) return Status(StatusCode::kInternal, "no SSL context", ErrorKind::kTls);
  BLAZEN_RETURN_IF_ERROR(detail::UseCertificateAndKey(
      *ctx, "client", tls.cert_chain_pem, tls.cert_path, tls.private_key_pem, tls.key_path));
  X509_STORE* store = X509_STORE_new();
  detail::ForEachCertificate(tls.ca_pem, [store](X509* cert) { X509_STORE_add_cert(store, cert); });
  client.set_ca_cert_store(store);  // takes ownership
  return Status::Ok();
}

StatusCode CodeFromName(std::string_view name) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kUnauthenticated); ++c) {
    if (StatusCodeName(static_cast<StatusCode>(c)) == name) return static_cast<StatusCode>(c);
  }
  return StatusCode::kUnknown;
}

StatusCode CodeOfHttp(int http_status) {
  switch (http_status) {
    case 400:
      return StatusCode::kInvalidArgument;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return StatusCode::kAborted;
    case 412:
      return StatusCode::kFailedPrecondition;
    case 413:
    case 429:
      return StatusCode::kResourceExhausted;
    case 416:
      return StatusCode::kOutOfRange;
    case 499:
      return StatusCode::kCancelled;
    case 501:
      return StatusCode::kUnimplemented;
    case 502:
    case 503:
      return StatusCode::kUnavailable;
    case 504:
      return StatusCode::kDeadlineExceeded;
    default:
      return http_status >= 400 && http_status < 500 ? StatusCode::kInvalidArgument
                                                     : StatusCode::kInternal;
  }
}

// A non-2xx answer as a Status: our body carries code and kind; an upstream-style body only
// `error`; anything else is quoted as text (upstream's client does the same).
Status StatusFromHttp(int http_status, const std::string& path, const std::string& body) {
  StatusCode code = CodeOfHttp(http_status);
  ErrorKind kind = ErrorKind::kUnspecified;
  std::string message;
  Result<nlohmann::json> parsed = ParseJson(body);
  if (parsed.ok() && parsed->is_object() && parsed->contains("error") &&
      (*parsed)["error"].is_string()) {
    message = (*parsed)["error"].get<std::string>();
    if (auto it = parsed->find("code"); it != parsed->end() && it->is_string()) {
      const StatusCode named = CodeFromName(it->get<std::string>());
      if (named != StatusCode::kUnknown && named != StatusCode::kOk) code = named;
    }
    if (auto it = parsed->find("kind"); it != parsed->end() && it->is_string()) {
      kind = ErrorKindFromName(it->get<std::string>());
    }
  } else {
    message = "HTTP " + std::to_string(http_status) + " from " + path + ": " + body;
  }
  if (kind == ErrorKind::kUnspecified && code == StatusCode::kFailedPrecondition &&
      message.find("envelope version") != std::string::npos) {
    kind = ErrorKind::kEnvelopeVersion;
  }
  return Status(code, std::move(message), kind);
}

Status TransportFailure(httplib::Error error, const std::string& what) {
  return Status(StatusCode::kUnavailable,
                "http transport: " + what + ": " + httplib::to_string(error),
                ErrorKind::kTransport);
}

template <typename T>
T Decoded(Result<T> result) {
  return ValueOrThrow(std::move(result));
}

}  // namespace

using Clock = std::chrono::steady_clock;

// One call's CallOptions at work: its deadline, its parent run id, and its cancellation, which
// closes the call's connection (httplib's stop() is the one thread-safe way to interrupt it).
class CallScope {
 public:
  explicit CallScope(const CallOptions& call)
      : call_(call),
        deadline_(call.deadline ? std::optional(Clock::now() + *call.deadline) : std::nullopt) {
    if (call_.parent_run_id) CheckHeaderValue("parent run id", *call_.parent_run_id);
    if (call_.cancel && call_.cancel->cancelled()) ThrowPeerError(Cancelled());
  }
  ~CallScope() {
    if (registered_) call_.cancel->Unregister(id_);
  }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

  // Makes Cancel() stop `client` until the next Watch or the end of the scope.
  void Watch(httplib::ClientImpl& client) {
    if (!call_.cancel) return;
    if (registered_) call_.cancel->Unregister(id_);
    id_ = call_.cancel->Register([&client] { client.stop(); });
    registered_ = true;
  }

  // `fallback`, shortened to what is left of the deadline (at least 1 ms).
  std::chrono::milliseconds Timeout(std::chrono::milliseconds fallback) const {
    if (!deadline_) return fallback;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(*deadline_ - Clock::now());
    return std::clamp(left, std::chrono::milliseconds(1), fallback);
  }

  // Throws for a cancelled call or a passed deadline (checked after a failed request, so that its
  // cause is reported rather than the transport error it produced).
  void ThrowIfInterrupted(const std::string& what) const {
    if (call_.cancel && call_.cancel->cancelled()) ThrowPeerError(Cancelled());
    // httplib's timeouts may fire a few milliseconds before the deadline they were cut to.
    if (deadline_ && Clock::now() + std::chrono::milliseconds(50) >= *deadline_) {
      ThrowPeerError(Status::DeadlineExceeded(
          what + ": deadline of " + std::to_string(call_.deadline->count()) + " ms exceeded"));
    }
  }

  const std::optional<std::string>& parent_run_id() const { return call_.parent_run_id; }

 private:
  static Status Cancelled() { return Status::Cancelled("call cancelled by the caller"); }

  const CallOptions& call_;
  const std::optional<Clock::time_point> deadline_;
  bool registered_ = false;
  std::uint64_t id_ = 0;
};

struct HttpPeerClient::Impl {
  std::string base_url;
  std::string node_id;
  HttpClientOptions options;
  ParsedUrl url;

  std::unique_ptr<httplib::ClientImpl> NewConnection(std::chrono::milliseconds read_timeout,
                                                     CallScope& scope) const {
    std::unique_ptr<httplib::ClientImpl> client;
    if (url.tls) {
      auto ssl = std::make_unique<httplib::SSLClient>(url.host, url.port);
      if (options.tls) ThrowIfError(ConfigureClientSsl(*ssl, *options.tls));
      ssl->enable_server_certificate_verification(true);
      client = std::move(ssl);
    } else {
      client = std::make_unique<httplib::ClientImpl>(url.host, url.port);
    }
    client->set_connection_timeout(scope.Timeout(options.connect_timeout));
    client->set_read_timeout(scope.Timeout(read_timeout));
    client->set_write_timeout(scope.Timeout(options.read_timeout));
    client->set_keep_alive(false);
    client->set_tcp_nodelay(true);  // headers and body go out in separate writes
    scope.Watch(*client);
    return client;
  }

  httplib::Headers Headers(const CallScope& scope) const {
    httplib::Headers headers = {{"X-Blazen-Peer-Node-Id", node_id}};
    if (options.token) headers.emplace("Authorization", "Bearer " + *options.token);
    const std::optional<std::string>& parent =
        scope.parent_run_id() ? scope.parent_run_id() : options.parent_run_id;
    if (parent) headers.emplace("X-Blazen-Parent-Run-Id", *parent);
    return headers;
  }

  // GETs `route`, or POSTs `body` to it when given; returns the 2xx response body and throws the
  // mapped PeerError otherwise.
  std::string Send(const std::string& route, const std::optional<std::string>& body,
                   std::chrono::milliseconds read_timeout, const CallOptions& call) const {
    const std::string what = (body ? "POST " : "GET ") + route;
    CallScope scope(call);
    auto client = NewConnection(read_timeout, scope);
    httplib::Result result = body ? client->Post(url.prefix + route, Headers(scope), *body, kJson)
                                  : client->Get(url.prefix + route, Headers(scope));
    if (!result) {
      scope.ThrowIfInterrupted(what);
      ThrowPeerError(TransportFailure(result.error(), what));
    }
    if (result->status < 200 || result->status >= 300) {
      ThrowPeerError(StatusFromHttp(result->status, route, result->body));
    }
    return std::move(result->body);
  }
  std::string Get(const std::string& route, const CallOptions& call) const {
    return Send(route, std::nullopt, options.read_timeout, call);
  }
  std::string Post(const std::string& route, const std::string& body,
                   std::chrono::milliseconds read_timeout, const CallOptions& call) const {
    return Send(route, body, read_timeout, call);
  }
};

HttpPeerClient::HttpPeerClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpPeerClient::~HttpPeerClient() = default;

std::unique_ptr<HttpPeerClient> HttpPeerClient::NewHttp(std::string base_url, std::string node_id,
                                                        HttpClientOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->url = ParseUrl(base_url);
  if (!impl->url.tls && options.tls) {
    ThrowBadUrl(base_url, "TLS settings need an https:// URL");
  }
  if (!options.token && options.token_from_env) options.token = ResolvePeerToken();
  if (options.token && options.token->empty()) options.token.reset();
  CheckHeaderValue("node id", node_id);
  if (options.token) CheckHeaderValue("token", *options.token);
  if (options.parent_run_id) CheckHeaderValue("parent run id", *options.parent_run_id);
  impl->base_url = std::move(base_url);
  impl->node_id = std::move(node_id);
  impl->options = std::move(options);
  return std::unique_ptr<HttpPeerClient>(new HttpPeerClient(std::move(impl)));
}

SubWorkflowResponse HttpPeerClient::InvokeSubWorkflow(const SubWorkflowRequest& request,
                                                      const CallOptions& call) {
  std::chrono::milliseconds read_timeout = impl_->options.read_timeout;
  if (request.timeout_secs) {
    const auto wanted = std::chrono::seconds(std::min<std::uint64_t>(*request.timeout_secs,
                                                                     std::uint64_t{1} << 30)) +
                        std::chrono::seconds(30);
    read_timeout = std::max<std::chrono::milliseconds>(read_timeout, wanted);
  }
  const std::string body = Decoded(EncodeJson(request));
  return Decoded(DecodeSubWorkflowResponseJson(
      impl_->Post("/v1/peer/invoke_sub_workflow", body, read_timeout, call)));
}

DerefResponse HttpPeerClient::DerefSessionRef(const DerefRequest& request,
                                              const CallOptions& call) {
  const std::string body = Decoded(EncodeJson(request));
  return Decoded(DecodeDerefResponseJson(
      impl_->Post("/v1/peer/deref_session_ref", body, impl_->options.read_timeout, call)));
}

ReleaseResponse HttpPeerClient::ReleaseSessionRef(const ReleaseRequest& request,
                                                  const CallOptions& call) {
  const std::string body = Decoded(EncodeJson(request));
  return Decoded(DecodeReleaseResponseJson(
      impl_->Post("/v1/peer/release_session_ref", body, impl_->options.read_timeout, call)));
}

DerefResult HttpPeerClient::DerefTo(const Uuid& ref, DerefSink& sink,
                                    const std::function<void(const DerefProgress&)>& progress,
                                    const CallOptions& call) {
  const std::string route = "/v1/peer/refs/" + ref.ToString();
  CallScope scope(call);
  DerefResult out;
  out.streams = 1;
  std::optional<std::uint64_t> total;
  std::uint64_t received = 0;
  int attempts_left = impl_->options.max_resume_attempts;
  for (;;) {
    auto client = impl_->NewConnection(impl_->options.read_timeout, scope);
    httplib::Headers headers = impl_->Headers(scope);
    if (received > 0) headers.emplace("Range", "bytes=" + std::to_string(received) + "-");
    int http_status = 0;
    std::string error_body;
    Status failure;  // a sink, progress or consistency failure: not resumable
    std::exception_ptr thrown;
    const std::uint64_t received_before = received;

    auto on_headers = [&](const httplib::Response& res) {
      http_status = res.status;
      if (res.status < 200 || res.status >= 300) return true;  // the body is the error
      std::uint64_t size = 0;
      const std::string size_text = res.get_header_value("X-Blazen-Total-Size");
      try {
        size = size_text.empty() ? std::stoull(res.get_header_value("Content-Length"))
                                 : std::stoull(size_text);
      } catch (const std::exception&) {
        failure = Status::DataLoss("peer sent no payload size for " + route);
        return false;
      }
      if (received > 0) {
        const std::string expected = "bytes " + std::to_string(received) + "-";
        if (res.status != 206 || !res.get_header_value("Content-Range").starts_with(expected)) {
          failure = Status::DataLoss("peer did not resume " + route + " at byte " +
                                     std::to_string(received));
          return false;
        }
      }
      if (total && *total != size) {
        failure = Status::DataLoss("size of " + route + " changed between attempts");
        return false;
      }
      if (!total) {
        total = size;
        out.total_size = size;
        out.type_tag = res.get_header_value("X-Blazen-Type-Tag");
        failure = sink.Begin(size, out.type_tag);
        if (!failure.ok()) return false;
      }
      return true;
    };
    auto on_body = [&](const char* data, std::size_t n) {
      if (http_status < 200 || http_status >= 300) {
        if (error_body.size() < kMaxErrorBody) error_body.append(data, n);
        return true;
      }
      if (received + n > *total) {
        failure = Status::DataLoss("peer sent more than " + std::to_string(*total) + " bytes");
        return false;
      }
      failure = sink.Write(
          received, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data), n));
      if (!failure.ok()) return false;
      received += n;
      if (progress) {
        try {
          progress(DerefProgress{received, *total});
        } catch (...) {
          thrown = std::current_exception();
          return false;
        }
      }
      return true;
    };
    httplib::Result result = client->Get(impl_->url.prefix + route, headers, on_headers, on_body);
    if (thrown) std::rethrow_exception(thrown);
    if (!failure.ok()) ThrowPeerError(failure);
    if (http_status != 0 && (http_status < 200 || http_status >= 300)) {
      ThrowPeerError(StatusFromHttp(http_status, route, error_body));
    }
    if (total && received == *total) break;
    scope.ThrowIfInterrupted("GET " + route);  // never resume a cancelled or late call
    // The connection failed or the body ended early: resume when this attempt made progress.
    const bool progressed = received > received_before;
    if (!total || !progressed || attempts_left <= 0) {
      ThrowPeerError(result ? Status::DataLoss("peer ended " + route + " after " +
                                               std::to_string(received) + " bytes")
                            : TransportFailure(result.error(), "GET " + route));
    }
    --attempts_left;
    ++out.resumes;
  }
  ThrowIfError(sink.Finish());
  return out;
}

SubWorkflowResponse HttpPeerClient::StreamSubWorkflowEvents(
    const SubWorkflowRequest& request, const std::function<void(const SubWorkflowEvent&)>& on_event,
    const CallOptions& call) {
  const std::string route = "/v1/peer/stream_sub_workflow_events";
  CallScope scope(call);
  std::chrono::milliseconds read_timeout = impl_->options.read_timeout;
  if (request.timeout_secs) {
    read_timeout = std::max<std::chrono::milliseconds>(
        read_timeout,
        std::chrono::seconds(std::min<std::uint64_t>(*request.timeout_secs, 1u << 30) + 30));
  }
  auto client = impl_->NewConnection(read_timeout, scope);
  httplib::Request req;
  req.method = "POST";
  req.path = impl_->url.prefix + route;
  req.headers = impl_->Headers(scope);
  req.headers.emplace("Content-Type", kJson);
  req.body = Decoded(EncodeJson(request));
  int http_status = 0;
  std::string pending;  // bytes of an incomplete line (or of an error body)
  std::optional<SubWorkflowResponse> final_response;
  Status failure;
  std::exception_ptr thrown;
  req.response_handler = [&](const httplib::Response& res) {
    http_status = res.status;
    return true;
  };
  req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
    if (http_status < 200 || http_status >= 300) {
      if (pending.size() < kMaxErrorBody) pending.append(data, n);
      return true;
    }
    pending.append(data, n);
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(pending.data() + start, nl - start);
      if (line.empty()) continue;
      if (final_response) {
        failure = Status::DataLoss("peer sent events after the final response");
        return false;
      }
      Result<SubWorkflowEvent> event = DecodeSubWorkflowEventJson(line);
      if (!event.ok()) {
        // An error line (`{"error": ...}`) reports a failure after the stream started.
        Result<nlohmann::json> parsed = ParseJson(line);
        failure = parsed.ok() && parsed->is_object() && parsed->contains("error")
                      ? StatusFromHttp(500, route, std::string(line))
                      : event.status();
        return false;
      }
      try {
        on_event(*event);
      } catch (...) {
        thrown = std::current_exception();
        return false;
      }
      if (event->response) final_response = std::move(event->response);
    }
    pending.erase(0, start);
    return true;
  };
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  const bool sent = client->send(req, res, error);
  if (thrown) std::rethrow_exception(thrown);
  if (!failure.ok()) ThrowPeerError(failure);
  if (http_status != 0 && (http_status < 200 || http_status >= 300)) {
    ThrowPeerError(StatusFromHttp(http_status, route, pending));
  }
  if (final_response) return std::move(*final_response);
  scope.ThrowIfInterrupted("POST " + route);
  if (!sent) ThrowPeerError(TransportFailure(error, "POST " + route));
  ThrowPeerError(Status::DataLoss("event stream ended without a final response"));
}

namespace {

// The fields of a describe/release_scope answer; EncodeError naming the route when one is missing
// or has the wrong type.
template <typename T>
T Field(const nlohmann::json& object, const char* name, const std::string& route) {
  if (!object.is_object() || !object.contains(name)) {
    ThrowPeerError(Status(StatusCode::kInternal,
                          route + ": the answer has no \"" + std::string(name) + "\"",
                          ErrorKind::kEncode));
  }
  try {
    return object.at(name).get<T>();
  } catch (const nlohmann::json::exception&) {
    ThrowPeerError(Status(StatusCode::kInternal,
                          route + ": \"" + std::string(name) + "\" has the wrong type",
                          ErrorKind::kEncode));
  }
}

nlohmann::json ParsedAnswer(const std::string& body, const std::string& route) {
  Result<nlohmann::json> parsed = ParseJson(body);
  if (!parsed.ok()) {
    ThrowPeerError(Status(StatusCode::kInternal,
                          route + ": the answer is not JSON: " + parsed.status().message(),
                          ErrorKind::kEncode));
  }
  return std::move(parsed).value();
}

void CheckAnswerEnvelope(const nlohmann::json& answer, const std::string& route) {
  ThrowIfError(CheckEnvelopeVersion(Field<std::uint32_t>(answer, "envelope_version", route)));
}

}  // namespace

PeerDescription HttpPeerClient::DescribePeer(const CallOptions& call) {
  const std::string route = "/v1/peer/describe";
  const nlohmann::json answer = ParsedAnswer(impl_->Get(route, call), route);
  CheckAnswerEnvelope(answer, route);
  Result<PeerDescription> d = PeerDescriptionFromJson(answer);
  if (!d.ok()) {
    ThrowPeerError(
        Status(StatusCode::kInternal, route + ": " + d.status().message(), ErrorKind::kEncode));
  }
  return std::move(d).value();
}

std::uint64_t HttpPeerClient::ReleaseScope(const std::string& parent_run_id,
                                           const CallOptions& call) {
  const std::string route = "/v1/peer/release_scope";
  const std::string body =
      DumpJson({{"envelope_version", kEnvelopeVersion}, {"parent_run_id", parent_run_id}});
  const nlohmann::json answer =
      ParsedAnswer(impl_->Post(route, body, impl_->options.read_timeout, call), route);
  CheckAnswerEnvelope(answer, route);
  return Field<std::uint64_t>(answer, "released", route);
}

const std::string& HttpPeerClient::node_id() const { return impl_->node_id; }
const std::string& HttpPeerClient::base_url() const { return impl_->base_url; }

}  // namespace blazen::client
