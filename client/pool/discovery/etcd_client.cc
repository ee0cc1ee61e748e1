// SPDX-License-Identifier: Apache-2.0
// EtcdClient over etcd's v3 JSON gateway: one httplib connection per call, JSON bodies with
// base64 keys and values, errors mapped from the gateway's {"error","message","code"} answers.

#include "client/pool/discovery/etcd_client.h"

#include <httplib.h>

#include <exception>
#include <nlohmann/json.hpp>
#include <utility>

#include "client/pool/discovery/detail/etcd_codec.h"
#include "core/json.h"

namespace blazen::client::pool {
namespace {

using detail::Base64Decode;
using detail::Base64Encode;
using detail::Int64Field;
using nlohmann::json;

// Most bytes of an error answer kept for the message.
constexpr std::size_t kMaxErrorBody = 4096;
// Most bytes of a unary answer (a range over many peers stays far below).
constexpr std::size_t kMaxAnswerBytes = std::size_t{64} << 20;

void Configure(httplib::Client& client, std::chrono::milliseconds connect_timeout,
               std::chrono::milliseconds read_timeout) {
  client.set_connection_timeout(connect_timeout);
  client.set_read_timeout(read_timeout);
  client.set_write_timeout(connect_timeout);
  client.set_keep_alive(false);
}

// The code etcd reported (a gRPC code, numbered as ours), or kUnknown.
StatusCode CodeFromEtcd(std::int64_t code) {
  if (code <= 0 || code > static_cast<std::int64_t>(StatusCode::kUnauthenticated)) {
    return StatusCode::kUnknown;
  }
  return static_cast<StatusCode>(code);
}

// The Status of a non-200 answer: etcd's code and message when the body is the gateway's error
// object, else kUnavailable with the raw body.
Status ErrorFromHttp(std::string_view call, const std::string& address, int http_status,
                     std::string_view body) {
  const std::string prefix = "etcd " + std::string(call) + " at " + address + ": HTTP " +
                             std::to_string(http_status) + ": ";
  Result<json> parsed = ParseJson(body);
  if (parsed.ok() && parsed->is_object()) {
    const json& object = *parsed;
    // Unary errors are {"error","message","code"}; stream errors nest {"grpc_code","message"}.
    const json& error =
        object.contains("error") && object["error"].is_object() ? object["error"] : object;
    std::string message;
    if (error.contains("message") && error["message"].is_string()) {
      message = error["message"].get<std::string>();
    } else if (error.contains("error") && error["error"].is_string()) {
      message = error["error"].get<std::string>();
    }
    Result<std::int64_t> code =
        Int64Field(error, error.contains("grpc_code") ? "grpc_code" : "code");
    if (!message.empty() || (code.ok() && *code != 0)) {
      return Status(code.ok() ? CodeFromEtcd(*code) : StatusCode::kUnknown, prefix + message);
    }
  }
  return Status::Unavailable(prefix + std::string(body.substr(0, kMaxErrorBody)));
}

// Reads a kv object of a range answer or a watch event.
EtcdKeyValue KeyValueFrom(const json& kv) {
  EtcdKeyValue out;
  if (kv.contains("key")) out.key = Base64Decode(kv["key"].get<std::string>()).value_or("");
  if (kv.contains("value")) out.value = Base64Decode(kv["value"].get<std::string>()).value_or("");
  out.mod_revision = Int64Field(kv, "mod_revision").value_or(0);
  out.lease = Int64Field(kv, "lease").value_or(0);
  return out;
}

// Parses one message of the watch stream. Throws nlohmann exceptions on malformed input (the
// caller converts them).
Result<EtcdWatchResponse> WatchResponseFrom(const json& message, const std::string& address) {
  if (!message.is_object()) return Status::Unavailable("etcd watch message is not an object");
  if (message.contains("error")) {
    return ErrorFromHttp("watch", address, 200, DumpJson(message));
  }
  const json& result = message.contains("result") ? message["result"] : message;
  EtcdWatchResponse out;
  out.created = result.value("created", false);
  out.canceled = result.value("canceled", false);
  out.compact_revision = Int64Field(result, "compact_revision").value_or(0);
  out.cancel_reason = result.value("cancel_reason", std::string());
  if (result.contains("header")) {
    out.header_revision = Int64Field(result["header"], "revision").value_or(0);
  }
  if (result.contains("events")) {
    for (const json& e : result["events"]) {
      EtcdWatchEvent event;
      // The gateway omits enum fields at their default value: no "type" means PUT.
      event.type = e.value("type", std::string("PUT")) == "DELETE" ? EtcdWatchEvent::Type::kDelete
                                                                   : EtcdWatchEvent::Type::kPut;
      if (e.contains("kv")) event.kv = KeyValueFrom(e["kv"]);
      out.events.push_back(std::move(event));
    }
  }
  return out;
}

}  // namespace

void EtcdWatchCancel::Cancel() {
  std::unique_lock lock(mu_);
  cancelled_ = true;
  // stop() only interrupts a request whose socket is open; one still connecting is retried.
  while (active_ != nullptr) {
    active_->stop();
    cv_.wait_for(lock, std::chrono::milliseconds(20));
  }
}

bool EtcdWatchCancel::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

bool EtcdWatchCancel::Attach(httplib::Client* client) {
  std::lock_guard lock(mu_);
  if (cancelled_) return false;
  active_ = client;
  return true;
}

void EtcdWatchCancel::Detach() {
  {
    std::lock_guard lock(mu_);
    active_ = nullptr;
  }
  cv_.notify_all();
}

EtcdClient::EtcdClient(std::string host, int port, std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout) {}

std::string EtcdClient::address() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

namespace {

// One unary gateway call: POST `body` to `path`, the answer's JSON object or a Status.
Result<json> Call(const std::string& host, int port, std::chrono::milliseconds timeout,
                  const std::string& address, std::string_view call, const std::string& path,
                  const json& body) {
  httplib::Client client(host, port);
  Configure(client, timeout, timeout);
  httplib::Request request;
  request.method = "POST";
  request.path = path;
  request.body = DumpJson(body);
  request.set_header("Content-Type", "application/json");
  int http_status = 0;
  std::string answer;
  request.response_handler = [&](const httplib::Response& response) {
    http_status = response.status;
    return true;
  };
  request.content_receiver = [&](const char* data, std::size_t size, std::uint64_t, std::uint64_t) {
    if (answer.size() + size > kMaxAnswerBytes) return false;
    answer.append(data, size);
    return true;
  };
  httplib::Response response;
  httplib::Error error = httplib::Error::Success;
  const bool sent = client.send(request, response, error);
  Result<json> parsed = ParseJson(answer);
  // The gateway ends its error answers with an HTTP trailer (chunked encoding), which httplib
  // 0.11 fails to read after it has delivered the whole body: a complete JSON body is an answer.
  if (!sent && (http_status == 0 || error != httplib::Error::Read || !parsed.ok())) {
    return Status::Unavailable("etcd " + std::string(call) + " at " + address +
                               " failed: " + httplib::to_string(error));
  }
  if (http_status != 200) return ErrorFromHttp(call, address, http_status, answer);
  if (!parsed.ok() || !parsed->is_object()) {
    return Status::Unknown("etcd " + std::string(call) + " at " + address +
                           " answered no JSON object");
  }
  return parsed;
}

}  // namespace

Result<std::int64_t> EtcdClient::Grant(std::chrono::seconds ttl) {
  if (ttl.count() < 1) return Status::InvalidArgument("etcd lease TTL must be at least 1 s");
  BLAZEN_ASSIGN_OR_RETURN(const json answer, Call(host_, port_, timeout_, address(), "lease grant",
                                                  "/v3/lease/grant", {{"TTL", ttl.count()}}));
  if (answer.contains("error") && answer["error"].is_string() &&
      !answer["error"].get<std::string>().empty()) {
    return Status::Unavailable("etcd lease grant at " + address() + ": " +
                               answer["error"].get<std::string>());
  }
  Result<std::int64_t> id = Int64Field(answer, "ID");
  if (!id.ok() || *id == 0) {
    return Status::Unknown("etcd lease grant at " + address() + " answered no lease id");
  }
  return id;
}

Result<std::int64_t> EtcdClient::KeepAliveOnce(std::int64_t lease) {
  BLAZEN_ASSIGN_OR_RETURN(const json answer,
                          Call(host_, port_, timeout_, address(), "lease keepalive",
                               "/v3/lease/keepalive", {{"ID", std::to_string(lease)}}));
  // The gateway streams: the answer is {"result": {...}} or {"error": {...}}.
  if (answer.contains("error")) {
    return ErrorFromHttp("lease keepalive", address(), 200, DumpJson(answer));
  }
  const json& result = answer.contains("result") ? answer["result"] : answer;
  // A lease that is gone renews to TTL 0 (which the gateway leaves out).
  const std::int64_t ttl = Int64Field(result, "TTL").value_or(0);
  if (ttl <= 0) {
    return Status::NotFound("etcd lease keepalive at " + address() + ": lease " +
                            std::to_string(lease) + " not found");
  }
  return ttl;
}

Status EtcdClient::Revoke(std::int64_t lease) {
  return Call(host_, port_, timeout_, address(), "lease revoke", "/v3/lease/revoke",
              {{"ID", std::to_string(lease)}})
      .status();
}

Status EtcdClient::Put(const std::string& key, const std::string& value, std::int64_t lease) {
  json body = {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease != 0) body["lease"] = std::to_string(lease);
  return Call(host_, port_, timeout_, address(), "put", "/v3/kv/put", body).status();
}

Result<EtcdRangeResult> EtcdClient::Range(const std::string& prefix) {
  if (prefix.empty()) return Status::InvalidArgument("etcd range prefix must not be empty");
  BLAZEN_ASSIGN_OR_RETURN(const json answer,
                          Call(host_, port_, timeout_, address(), "range", "/v3/kv/range",
                               {{"key", Base64Encode(prefix)},
                                {"range_end", Base64Encode(detail::PrefixRangeEnd(prefix))}}));
  try {
    EtcdRangeResult out;
    if (answer.contains("header")) {
      out.revision = Int64Field(answer["header"], "revision").value_or(0);
    }
    if (answer.contains("kvs")) {
      for (const json& kv : answer["kvs"]) out.kvs.push_back(KeyValueFrom(kv));
    }
    return out;
  } catch (const std::exception& e) {
    return Status::Unknown("etcd range at " + address() + " answered malformed JSON: " + e.what());
  }
}

Result<std::int64_t> EtcdClient::Delete(const std::string& key) {
  BLAZEN_ASSIGN_OR_RETURN(const json answer,
                          Call(host_, port_, timeout_, address(), "delete", "/v3/kv/deleterange",
                               {{"key", Base64Encode(key)}}));
  return Int64Field(answer, "deleted").value_or(0);
}

Status EtcdClient::Watch(const std::string& prefix, std::int64_t start_revision,
                         const std::function<bool(const EtcdWatchResponse&)>& on_response,
                         EtcdWatchCancel& cancel, std::chrono::milliseconds idle_timeout) {
  if (prefix.empty()) return Status::InvalidArgument("etcd watch prefix must not be empty");
  httplib::Client client(host_, port_);
  Configure(client, timeout_, idle_timeout);
  if (!cancel.Attach(&client)) return Status::Cancelled("etcd watch cancelled");
  struct Detach {
    EtcdWatchCancel& cancel;
    ~Detach() { cancel.Detach(); }
  } detach{cancel};

  json create = {{"key", Base64Encode(prefix)},
                 {"range_end", Base64Encode(detail::PrefixRangeEnd(prefix))}};
  if (start_revision > 0) create["start_revision"] = std::to_string(start_revision);
  httplib::Request request;
  request.method = "POST";
  request.path = "/v3/watch";
  request.body = DumpJson(json{{"create_request", create}});
  request.set_header("Content-Type", "application/json");

  int http_status = 0;
  std::string error_body;
  detail::JsonObjectSplitter splitter;
  Status stream_status;
  bool stopped_by_caller = false;
  auto last_byte = std::chrono::steady_clock::now();
  request.response_handler = [&](const httplib::Response& response) {
    http_status = response.status;
    return true;
  };
  request.content_receiver = [&](const char* data, std::size_t size, std::uint64_t, std::uint64_t) {
    last_byte = std::chrono::steady_clock::now();
    if (cancel.cancelled()) return false;
    if (http_status != 200) {
      error_body.append(data,
                        std::min(size, kMaxErrorBody - std::min(kMaxErrorBody, error_body.size())));
      return true;
    }
    Status fed = splitter.Feed(std::string_view(data, size), [&](std::string_view text) {
      Result<json> message = ParseJson(text);
      if (!message.ok()) {
        stream_status = Status::Unavailable("etcd watch at " + address() +
                                            " sent malformed JSON: " + message.status().message());
        return false;
      }
      Result<EtcdWatchResponse> response = Status::Unknown("unparsed");
      try {
        response = WatchResponseFrom(*message, address());
      } catch (const std::exception& e) {
        response = Status::Unavailable("etcd watch at " + address() +
                                       " sent a malformed message: " + e.what());
      }
      if (!response.ok()) {
        stream_status = response.status();
        return false;
      }
      if (response->canceled) {
        const std::string why =
            "etcd watch at " + address() + " cancelled by etcd" +
            (response->cancel_reason.empty() ? std::string() : ": " + response->cancel_reason);
        stream_status = response->compact_revision > 0
                            ? Status::OutOfRange(why + " (compacted at revision " +
                                                 std::to_string(response->compact_revision) + ")")
                            : Status::Aborted(why);
        return false;
      }
      if (!on_response(*response)) {
        stopped_by_caller = true;
        return false;
      }
      return true;
    });
    if (!fed.ok()) stream_status = fed;
    return stream_status.ok() && !stopped_by_caller;
  };

  httplib::Response response;
  httplib::Error error = httplib::Error::Success;
  client.send(request, response, error);
  if (stopped_by_caller) return Status::Ok();
  if (cancel.cancelled()) return Status::Cancelled("etcd watch cancelled");
  if (!stream_status.ok()) return stream_status;
  if (http_status != 0 && http_status != 200) {
    return ErrorFromHttp("watch", address(), http_status, error_body);
  }
  if (error == httplib::Error::Read &&
      std::chrono::steady_clock::now() - last_byte >= idle_timeout) {
    return Status::DeadlineExceeded("etcd watch at " + address() + ": nothing received for " +
                                    std::to_string(idle_timeout.count()) + " ms");
  }
  if (error != httplib::Error::Success) {
    return Status::Unavailable("etcd watch at " + address() +
                               " broke: " + httplib::to_string(error));
  }
  return Status::Unavailable("etcd watch at " + address() + ": stream ended");
}

}  // namespace blazen::client::pool
