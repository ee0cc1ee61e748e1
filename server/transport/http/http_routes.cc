// SPDX-License-Identifier: Apache-2.0
// HTTP/JSON route handlers: decode -> PeerOperations -> encode. Same operations, codes and
// messages as the gRPC service; errors are mapped in core/http_status.h.

#include "server/transport/http/http_routes.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "core/envelope.h"
#include "core/http_status.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/logging.h"
#include "core/uuid.h"
#include "server/transport/http/http_range.h"

namespace blazen::server::http_transport {
namespace {

using json = nlohmann::json;
constexpr std::string_view kTransport = "http";

// State of one event stream, shared between the engine's callbacks and the body producer.
struct EventQueue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> lines;
  bool final_queued = false;
  std::shared_ptr<CancellationToken> token;

  void Push(std::string line, bool last) {
    {
      std::lock_guard lock(mu);
      if (final_queued) return;
      lines.push_back(std::move(line));
      if (last) final_queued = true;
    }
    cv.notify_all();
  }

  // Writes what is queued (waiting up to 200 ms for something); kDone after the final line.
  StreamStep Drain(HttpBodySink& sink) {
    std::deque<std::string> batch;
    bool final = false;
    {
      std::unique_lock lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(200),
                  [&] { return !lines.empty() || final_queued; });
      batch.swap(lines);
      final = final_queued;
    }
    for (const std::string& line : batch) {
      if (!sink.Write(line.data(), line.size())) return StreamStep::kAbort;
    }
    if (final) return StreamStep::kDone;
    return sink.Writable() ? StreamStep::kMore : StreamStep::kAbort;
  }
};

// State of one streamed deref body; released (with the lease, so the value) when the body ends,
// however it ends. Each write sends a chunk the value lends (host memory as is, device bytes
// through a staging buffer), so the body costs no copy of its own.
struct RefDownload {
  std::shared_ptr<const detail::PeerOperations> ops;
  detail::CallMeta call;
  detail::DerefPlan plan;
  std::uint64_t next = 0;
  std::size_t chunk_bytes = 0;

  StreamStep WriteNext(HttpBodySink& sink) {
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes, plan.range.end - next));
    Result<LentChunk> chunk = plan.lease.Lend(next, n);
    if (!chunk.ok()) {
      // Headers are gone already: all we can do is cut the body short (the client sees a
      // truncated body and may resume).
      BLAZEN_LOG_WARN("{}", detail::PeerOperations::LendFailed(plan.key, chunk.status()).message());
      return StreamStep::kAbort;
    }
    // Counted when handed to the transport, as gRPC does: a client that has read the body must
    // see it in the next scrape.
    ops->AddDerefBytes(call, chunk->size());
    if (!sink.Write(reinterpret_cast<const char*>(chunk->data()), chunk->size())) {
      return StreamStep::kAbort;
    }
    next += chunk->size();
    return next >= plan.range.end ? StreamStep::kDone : StreamStep::kMore;
  }
};

}  // namespace

// --- HttpReply -----------------------------------------------------------------------------------

void HttpReply::Json(int code, std::string text) {
  status = code;
  content_type = "application/json";
  body = std::move(text);
}

void HttpReply::Error(const Status& error) { Json(HttpStatusOf(error), ErrorBody(error)); }

void HttpReply::SetHeader(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
}

// --- Routes --------------------------------------------------------------------------------------

HttpRoutes::HttpRoutes(HttpRoutesOptions options, std::shared_ptr<detail::PeerOperations> ops)
    : options_(options), ops_(std::move(ops)) {}

HttpRoute HttpRoutes::Guarded(std::string method, std::string pattern, Handler handler,
                              bool needs_token) {
  return HttpRoute{std::move(method), std::move(pattern),
                   [this, handler, needs_token](const HttpRequestView& req, HttpReply& reply) {
                     const detail::CallMeta call = detail::CallMeta::From(kTransport, req.header);
                     Status st = detail::RunGuarded([&]() -> Status {
                       if (needs_token && ops_->requires_token()) {
                         const std::string what =
                             std::string(req.method) + " " + std::string(req.path);
                         BLAZEN_RETURN_IF_ERROR(ops_->Authorize(call, what));
                       }
                       (this->*handler)(req, call, reply);
                       return Status::Ok();
                     });
                     if (!st.ok()) {
                       reply = HttpReply{};
                       reply.Error(st);
                     }
                     reply.SetHeader("X-Blazen-Load", ops_->LoadHeader());
                   }};
}

std::vector<HttpRoute> HttpRoutes::Routes() {
  return {
      Guarded("POST", "/v1/peer/invoke_sub_workflow", &HttpRoutes::Invoke),
      Guarded("POST", "/v1/peer/deref_session_ref", &HttpRoutes::Deref),
      Guarded("POST", "/v1/peer/release_session_ref", &HttpRoutes::Release),
      Guarded("POST", "/v1/peer/stream_sub_workflow_events", &HttpRoutes::StreamEvents),
      Guarded("GET", R"(/v1/peer/refs/([^/]+))", &HttpRoutes::DownloadRef),
      Guarded("GET", "/v1/peer/describe", &HttpRoutes::Describe),
      Guarded("POST", "/v1/peer/release_scope", &HttpRoutes::ReleaseScope),
      Guarded("GET", "/healthz", &HttpRoutes::Healthz, /*needs_token=*/false),
      Guarded("GET", "/metrics", &HttpRoutes::MetricsText),
  };
}

void HttpRoutes::Invoke(const HttpRequestView& req, const detail::CallMeta& call,
                        HttpReply& reply) {
  Result<SubWorkflowRequest> request = DecodeSubWorkflowRequestJson(req.body);
  if (!request.ok()) {
    ops_->RecordRejectedInvocation(call, request.status());
    return reply.Error(request.status());
  }
  // This listener thread waits for the run (the encode and finish callbacks never block). The
  // promise is shared with the callback: set_value may still run when the waiter wakes.
  auto finished = std::make_shared<std::promise<Status>>();
  std::future<Status> done = finished->get_future();
  std::string body;
  ops_->Invoke(
      call, *request, std::make_shared<CancellationToken>(), /*allow_inline=*/true,
      [&body](const SubWorkflowResponse& response) -> Status {
        Result<std::string> encoded = EncodeJson(response);
        if (!encoded.ok()) {
          return Status::Internal("response encoding failed: " + encoded.status().message());
        }
        body = std::move(*encoded);
        return Status::Ok();
      },
      [finished](const Status& st) { finished->set_value(st); });
  const Status st = done.get();
  if (!st.ok()) return reply.Error(st);
  reply.Json(200, std::move(body));
}

void HttpRoutes::StreamEvents(const HttpRequestView& req, const detail::CallMeta& call,
                              HttpReply& reply) {
  Result<SubWorkflowRequest> request = DecodeSubWorkflowRequestJson(req.body);
  if (!request.ok()) {
    ops_->RecordRejectedInvocation(call, request.status());
    return reply.Error(request.status());
  }
  auto queue = std::make_shared<EventQueue>();
  queue->token = std::make_shared<CancellationToken>();
  Status st =
      ops_->StartEventStream(call, *request, queue->token, [queue](const SubWorkflowEvent& event) {
        Result<std::string> line = EncodeJson(event);
        std::string text =
            line.ok()
                ? *line
                : ErrorBody(Status::Internal("event encoding failed: " + line.status().message()));
        queue->Push(std::move(text) + "\n", event.response.has_value() || !line.ok());
      });
  if (!st.ok()) return reply.Error(st);
  reply.status = 200;
  reply.content_type = "application/x-ndjson";
  reply.stream = [queue](HttpBodySink& sink) {
    const StreamStep step = queue->Drain(sink);
    if (step == StreamStep::kAbort) queue->token->Cancel();  // the client went away
    return step;
  };
  reply.on_finished = [queue](bool completed) {
    if (!completed) queue->token->Cancel();
  };
}

// The upstream unary deref: the whole payload as a JSON array of byte values.
void HttpRoutes::Deref(const HttpRequestView& req, const detail::CallMeta& call, HttpReply& reply) {
  Result<DerefRequest> request = DecodeDerefRequestJson(req.body);
  if (!request.ok()) return reply.Error(request.status());
  const std::string key = request->ref_uuid.ToString();
  Result<std::vector<std::uint8_t>> payload =
      ops_->ReadWhole(call, request->ref_uuid, options_.max_json_deref_bytes,
                      "; stream it with GET /v1/peer/refs/" + key);
  if (!payload.ok()) return reply.Error(payload.status());
  DerefResponse out;
  out.payload = std::move(*payload);
  Result<std::string> body = EncodeJson(out);
  if (!body.ok()) return reply.Error(Status::Internal(body.status().message()));
  reply.Json(200, std::move(*body));
}

void HttpRoutes::Release(const HttpRequestView& req, const detail::CallMeta& call,
                         HttpReply& reply) {
  Result<ReleaseRequest> request = DecodeReleaseRequestJson(req.body);
  if (!request.ok()) return reply.Error(request.status());
  ReleaseResponse out;
  out.released = ops_->Release(call, request->ref_uuid);
  Result<std::string> body = EncodeJson(out);
  if (!body.ok()) return reply.Error(Status::Internal(body.status().message()));
  reply.Json(200, std::move(*body));
}

// GET /v1/peer/describe (extension): what the gRPC DescribePeer reports, as JSON.
void HttpRoutes::Describe(const HttpRequestView&, const detail::CallMeta&, HttpReply& reply) {
  reply.Json(200, DumpJson(PeerDescriptionToJson(ops_->Describe())));
}

// POST /v1/peer/release_scope (extension): {"envelope_version", "parent_run_id"} ->
// {"envelope_version", "released": <count>}.
void HttpRoutes::ReleaseScope(const HttpRequestView& req, const detail::CallMeta& call,
                              HttpReply& reply) {
  Result<ReleaseScopeRequest> request = DecodeReleaseScopeRequestJson(req.body);
  if (!request.ok()) return reply.Error(request.status());
  Result<std::uint64_t> released =
      ops_->ReleaseScope(call, request->envelope_version, request->parent_run_id);
  if (!released.ok()) return reply.Error(released.status());
  reply.Json(200, DumpJson({{"envelope_version", kEnvelopeVersion}, {"released", *released}}));
}

// GET /v1/peer/refs/{uuid}: the payload as application/octet-stream, read from the value chunk
// by chunk as the socket accepts it (bounded memory for host and device refs alike).
void HttpRoutes::DownloadRef(const HttpRequestView& req, const detail::CallMeta& call,
                             HttpReply& reply) {
  Result<Uuid> key = Uuid::Parse(req.captures.empty() ? "" : req.captures[0]);
  if (!key.ok()) return reply.Error(key.status().WithPrefix("ref_uuid: "));
  Result<detail::DerefPlan> plan =
      ops_->OpenDeref(call, *key, 0, std::nullopt, detail::EmptyAtEnd::kAllowed);
  if (!plan.ok()) return reply.Error(plan.status());
  const std::uint64_t total = plan->total;
  Result<std::optional<detail::ByteRange>> range =
      ResolveRange(*key, ParseRangeHeader(req.header("range")), total);
  if (!range.ok()) {
    reply.Error(range.status());
    reply.SetHeader("Content-Range", "bytes */" + std::to_string(total));
  } else {
    reply.status = 200;
    if (*range) {
      plan->range = **range;
      reply.status = 206;
      reply.SetHeader("Content-Range", "bytes " + std::to_string(plan->range.begin) + "-" +
                                           std::to_string(plan->range.end - 1) + "/" +
                                           std::to_string(total));
    }
  }
  reply.SetHeader("Accept-Ranges", "bytes");
  reply.SetHeader("X-Blazen-Type-Tag", plan->type_tag);
  reply.SetHeader("X-Blazen-Total-Size", std::to_string(total));
  if (!range.ok()) return;
  reply.content_type = "application/octet-stream";
  if (plan->range.size() == 0) return;
  auto download = std::make_shared<RefDownload>();
  download->ops = ops_;
  download->call = call;
  download->next = plan->range.begin;
  download->chunk_bytes = std::max<std::uint32_t>(options_.chunk_bytes, 4096);
  download->plan = std::move(*plan);
  reply.content_length = download->plan.range.size();
  reply.stream = [download](HttpBodySink& sink) { return download->WriteNext(sink); };
  reply.on_finished = [download](bool) mutable { download.reset(); };
}

void HttpRoutes::Healthz(const HttpRequestView&, const detail::CallMeta&, HttpReply& reply) {
  const bool serving = !draining_.load();
  reply.Json(serving ? 200 : 503,
             DumpJson({{"status", serving ? "ok" : "draining"}, {"node_id", ops_->node_id()}}));
}

void HttpRoutes::MetricsText(const HttpRequestView&, const detail::CallMeta&, HttpReply& reply) {
  reply.status = 200;
  reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
  reply.body = ops_->metrics().Render(*ops_->engine().session_refs(), ops_->runtime());
}

void HttpRoutes::ListenerError(const HttpRequestView& request, int status, HttpReply& reply) {
  std::string message;
  switch (status) {
    case 404:
      message = "no route for " + std::string(request.method) + " " + std::string(request.path);
      break;
    case 413:
      message = "request body is larger than the peer accepts";
      break;
    case 416:
      message = "malformed Range header";
      break;
    default:
      message = "HTTP " + std::to_string(status);
  }
  reply.Json(status, ErrorBody(Status(CodeOfHttp(status), message)));
}

}  // namespace blazen::server::http_transport
