// SPDX-License-Identifier: Apache-2.0
// HttpPeerClient over cpp-httplib: one connection per call, JSON bodies from core/json_codec, HTTP
// failures mapped to a Status (code and kind from our error body, else from the HTTP status) and
// thrown as the matching PeerError.

#include "client/http_client.h"

#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "client/detail/call_scope.h"
#include "client/detail/endpoint.h"
#include "core/auth.h"
#include "core/detail/ssl_context.h"
#include "core/envelope.h"
#include "core/http_status.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/load_report.h"
#include "core/peer_description.h"
#include "core/peer_error.h"

namespace blazen::client {

using detail::CallScope;

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

// The base URL in the one endpoint grammar of the clients (client/detail/endpoint.h).
ParsedUrl ParseUrl(const std::string& url) {
  Result<detail::ParsedEndpoint> parsed =
      detail::ParseEndpoint(url, {.require_scheme = true, .allow_path_prefix = true});
  if (!parsed.ok()) throw TransportError(StatusCode::kInvalidArgument, parsed.status().message());
  ParsedUrl out;
  out.tls = parsed->scheme == detail::EndpointScheme::kHttps;
  out.host = std::move(parsed->host);
  out.port = parsed->port;
  out.prefix = std::move(parsed->path_prefix);
  return out;
}

void CheckHeaderValue(std::string_view what, std::string_view value) {
  detail::RequirePrintableAscii(what, value, "an HTTP header");
}

// Client identity (leaf, intermediates, key) on `ctx` and a CA store with only `tls.ca_pem`.
Status ConfigureClientSsl(httplib::SSLClient& client, const ClientTlsConfig& tls) {
  SSL_CTX* ctx = client.ssl_context();
  if (ctx == nullptr) return Status(StatusCode::kInternal, "no SSL context", ErrorKind::kTls);
  BLAZEN_RETURN_IF_ERROR(::blazen::detail::UseCertificateAndKey(
      *ctx, "client", tls.cert_chain_pem, tls.cert_path, tls.private_key_pem, tls.key_path));
  X509_STORE* store = X509_STORE_new();
  ::blazen::detail::ForEachCertificate(tls.ca_pem,
                                       [store](X509* cert) { X509_STORE_add_cert(store, cert); });
  client.set_ca_cert_store(store);  // takes ownership
  return Status::Ok();
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

// The state of one HTTP DerefTo across its attempts: each attempt GETs the ref from the first
// missing byte (a Range request after the first), checks the answer against what earlier attempts
// saw, and feeds the sink and the progress callback. A failure of the sink, of `progress` or of the
// peer's consistency ends the transfer (not resumable); a broken connection after progress is
// resumed by the caller.
class RefDownload {
 public:
  RefDownload(std::string route, DerefSink& sink,
              const std::function<void(const DerefProgress&)>& progress)
      : route_(std::move(route)), sink_(sink), progress_(progress) {}

  // Resets the per-attempt state and asks for the missing bytes.
  void StartAttempt(httplib::Headers& headers) {
    if (received_ > 0) headers.emplace("Range", "bytes=" + std::to_string(received_) + "-");
    http_status_ = 0;
    error_body_.clear();
    failure_ = Status::Ok();
    received_before_ = received_;
  }

  // httplib's response handler: checks the size, the range and begins the sink on the first
  // attempt. False stops the request.
  bool OnHeaders(const httplib::Response& res) {
    http_status_ = res.status;
    if (!succeeded()) return true;  // the body is the error
    std::uint64_t size = 0;
    const std::string size_text = res.get_header_value("X-Blazen-Total-Size");
    try {
      size = size_text.empty() ? std::stoull(res.get_header_value("Content-Length"))
                               : std::stoull(size_text);
    } catch (const std::exception&) {
      return Fail(Status::DataLoss("peer sent no payload size for " + route_));
    }
    if (received_ > 0) {
      const std::string expected = "bytes " + std::to_string(received_) + "-";
      if (res.status != 206 || !res.get_header_value("Content-Range").starts_with(expected)) {
        return Fail(Status::DataLoss("peer did not resume " + route_ + " at byte " +
                                     std::to_string(received_)));
      }
    }
    if (total_ && *total_ != size) {
      return Fail(Status::DataLoss("size of " + route_ + " changed between attempts"));
    }
    if (!total_) {
      total_ = size;
      type_tag_ = res.get_header_value("X-Blazen-Type-Tag");
      failure_ = sink_.Begin(size, type_tag_);
      if (!failure_.ok()) return false;
    }
    return true;
  }

  // httplib's content receiver: writes the bytes and reports progress. False stops the request.
  bool OnBody(const char* data, std::size_t n) {
    if (!succeeded()) {
      if (error_body_.size() < kMaxErrorBody) error_body_.append(data, n);
      return true;
    }
    if (received_ + n > *total_) {
      return Fail(Status::DataLoss("peer sent more than " + std::to_string(*total_) + " bytes"));
    }
    failure_ = sink_.Write(
        received_, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data), n));
    if (!failure_.ok()) return false;
    received_ += n;
    if (progress_) {
      try {
        progress_(DerefProgress{received_, *total_});
      } catch (...) {
        thrown_ = std::current_exception();
        return false;
      }
    }
    return true;
  }

  // Throws what ended the attempt for good: an exception from `progress`, a sink or consistency
  // failure, or the peer's error answer.
  void ThrowIfFailed() const {
    if (thrown_) std::rethrow_exception(thrown_);
    if (!failure_.ok()) ThrowPeerError(failure_);
    if (http_status_ != 0 && !succeeded()) {
      ThrowPeerError(StatusFromHttp(http_status_, route_, error_body_));
    }
  }

  [[nodiscard]] bool complete() const { return total_ && received_ == *total_; }
  // Whether a broken attempt may be resumed: the size is known and it made progress.
  [[nodiscard]] bool resumable() const { return total_ && received_ > received_before_; }
  [[nodiscard]] Status EndedEarly() const {
    return Status::DataLoss("peer ended " + route_ + " after " + std::to_string(received_) +
                            " bytes");
  }
  [[nodiscard]] DerefResult Outcome(int resumes) const {
    return DerefResult{total_.value_or(0), type_tag_, 1, resumes};
  }

 private:
  bool succeeded() const { return http_status_ >= 200 && http_status_ < 300; }
  bool Fail(Status status) {
    failure_ = std::move(status);
    return false;
  }

  const std::string route_;
  DerefSink& sink_;
  const std::function<void(const DerefProgress&)>& progress_;
  std::optional<std::uint64_t> total_;
  std::string type_tag_;
  std::uint64_t received_ = 0;
  // Per attempt.
  std::uint64_t received_before_ = 0;
  int http_status_ = 0;
  std::string error_body_;
  Status failure_;  // a sink, progress or consistency failure: not resumable
  std::exception_ptr thrown_;
};

}  // namespace

struct HttpPeerClient::Impl {
  std::string base_url;
  std::string node_id;
  HttpClientOptions options;
  ParsedUrl url;

  // Fills CallOptions::trace: the endpoint, the load report header of the answer, and whether the
  // request never left (the connection could not be made).
  void RecordTrace(const CallOptions& call, const httplib::Result& result) const {
    if (call.trace == nullptr) return;
    call.trace->endpoint = base_url;
    call.trace->load.reset();
    call.trace->failed_before_sending = !result && result.error() == httplib::Error::Connection;
    if (!result) return;
    const std::string header = result->get_header_value(std::string(kLoadReportHeader));
    if (header.empty()) return;
    Result<LoadReport> report = ParseLoadReport(header);
    if (report.ok()) call.trace->load = *report;
  }

  // A connection for one request of the call in `scope`; the scope's cancel stops it. Shared with
  // the cancel callback, so that a Cancel racing with the end of the call never stops a destroyed
  // client.
  std::shared_ptr<httplib::ClientImpl> NewConnection(std::chrono::milliseconds read_timeout,
                                                     CallScope& scope) const {
    std::shared_ptr<httplib::ClientImpl> client;
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
    scope.Watch([client] { client->stop(); });
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
    RecordTrace(call, result);
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

SubWorkflowResponse HttpPeerClient::DoInvokeSubWorkflow(const SubWorkflowRequest& request,
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

ByteVector HttpPeerClient::DoDerefSessionRef(const Uuid& ref, const CallOptions& call) {
  DerefRequest request;
  request.ref_uuid = ref;
  return DerefSessionRef(request, call).payload;
}

bool HttpPeerClient::DoReleaseSessionRef(const Uuid& ref, const CallOptions& call) {
  ReleaseRequest request;
  request.ref_uuid = ref;
  return ReleaseSessionRef(request, call).released;
}

DerefResult HttpPeerClient::DoDerefTo(const Uuid& ref, DerefSink& sink,
                                      const std::function<void(const DerefProgress&)>& progress,
                                      const CallOptions& call) {
  const std::string route = "/v1/peer/refs/" + ref.ToString();
  CallScope scope(call);
  RefDownload download(route, sink, progress);
  int attempts_left = impl_->options.max_resume_attempts;
  int resumes = 0;
  for (;;) {
    auto client = impl_->NewConnection(impl_->options.read_timeout, scope);
    httplib::Headers headers = impl_->Headers(scope);
    download.StartAttempt(headers);
    httplib::Result result = client->Get(
        impl_->url.prefix + route, headers,
        [&download](const httplib::Response& res) { return download.OnHeaders(res); },
        [&download](const char* data, std::size_t n) { return download.OnBody(data, n); });
    download.ThrowIfFailed();
    if (download.complete()) break;
    scope.ThrowIfInterrupted("GET " + route);  // never resume a cancelled or late call
    // The connection failed or the body ended early: resume when this attempt made progress.
    if (!download.resumable() || attempts_left <= 0) {
      ThrowPeerError(result ? download.EndedEarly()
                            : TransportFailure(result.error(), "GET " + route));
    }
    --attempts_left;
    ++resumes;
  }
  ThrowIfError(sink.Finish());
  return download.Outcome(resumes);
}

SubWorkflowResponse HttpPeerClient::DoStreamSubWorkflowEvents(
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

PeerDescription HttpPeerClient::DoDescribePeer(const CallOptions& call) {
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

std::uint64_t HttpPeerClient::DoReleaseScope(const std::string& parent_run_id,
                                             const CallOptions& call) {
  const std::string route = "/v1/peer/release_scope";
  const std::string body =
      DumpJson({{"envelope_version", kEnvelopeVersion}, {"parent_run_id", parent_run_id}});
  const nlohmann::json answer =
      ParsedAnswer(impl_->Post(route, body, impl_->options.read_timeout, call), route);
  CheckAnswerEnvelope(answer, route);
  return Field<std::uint64_t>(answer, "released", route);
}

void HttpPeerClient::DoWatchHealth(const std::function<void(bool serving)>& on_change,
                                   std::chrono::milliseconds poll_interval,
                                   const CallOptions& call) {
  // HTTP has no server push: poll /healthz (200 serving, 503 draining) until the connection fails
  // or the call is cancelled. The wait between polls is a condition wait, so a cancel ends it.
  struct Wake {
    std::mutex mu;
    std::condition_variable cv;
    bool cancelled = false;
  };
  auto wake = std::make_shared<Wake>();
  const detail::CancelScope cancel_scope(call.cancel, [wake] {
    std::lock_guard<std::mutex> lock(wake->mu);
    wake->cancelled = true;
    wake->cv.notify_all();
  });
  const std::chrono::milliseconds interval = std::max(poll_interval, std::chrono::milliseconds(10));
  std::optional<bool> last;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(wake->mu);
      if (wake->cancelled) return;
    }
    httplib::ClientImpl probe(impl_->url.host, impl_->url.port);
    std::unique_ptr<httplib::SSLClient> ssl;
    httplib::ClientImpl* client = &probe;
    if (impl_->url.tls) {
      ssl = std::make_unique<httplib::SSLClient>(impl_->url.host, impl_->url.port);
      if (impl_->options.tls) ThrowIfError(ConfigureClientSsl(*ssl, *impl_->options.tls));
      ssl->enable_server_certificate_verification(true);
      client = ssl.get();
    }
    client->set_connection_timeout(std::min(impl_->options.connect_timeout, interval * 4));
    client->set_read_timeout(std::min(impl_->options.read_timeout, interval * 4));
    httplib::Result result = client->Get(impl_->url.prefix + "/healthz");
    if (!result) return;  // the peer is gone: the watch ends
    const bool serving = result->status == 200;
    if (last != serving) {
      last = serving;
      on_change(serving);
    }
    std::unique_lock<std::mutex> lock(wake->mu);
    wake->cv.wait_for(lock, interval, [&] { return wake->cancelled; });
  }
}

const std::string& HttpPeerClient::node_id() const { return impl_->node_id; }
const std::string& HttpPeerClient::endpoint() const { return impl_->base_url; }
const std::string& HttpPeerClient::base_url() const { return impl_->base_url; }

}  // namespace blazen::client
