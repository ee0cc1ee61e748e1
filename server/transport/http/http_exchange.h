// SPDX-License-Identifier: Apache-2.0
#pragma once
// The library-neutral shape of one HTTP exchange: what a route handler reads (HttpRequestView) and
// fills in (HttpReply). The listener (today cpp-httplib, http_listener.cc) converts its own types
// to and from these, so routes outlive a change of HTTP library.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "server/detail/peer_operations.h"

namespace blazen::server::http_transport {

/// A request as a route sees it. Views into the listener's request, valid during the handler.
struct HttpRequestView {
  std::string_view method;
  std::string_view path;
  /// The route pattern's capture groups, in order.
  std::vector<std::string> captures;
  /// Case-insensitive header lookup.
  detail::HeaderLookup header;
  std::string_view body;
};

/// Where a streamed body goes. Used only from the listener's thread serving the exchange.
class HttpBodySink {
 public:
  virtual ~HttpBodySink() = default;
  /// Writes bytes; false when the connection is gone (stop producing).
  virtual bool Write(const char* data, std::size_t size) = 0;
  /// False when the peer closed the connection.
  [[nodiscard]] virtual bool Writable() const = 0;
};

/// What a streamed body's producer says after each call.
enum class StreamStep { kMore, kDone, kAbort };

/// The answer a route builds. Plain value type (its callbacks own what they need).
struct HttpReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type = "application/json";
  std::string body;
  /// When set, the body is produced by `stream` instead of `body`. With `content_length`, the
  /// listener calls it until that many bytes were written (each call writes the next bytes in
  /// order); without, the body is chunked and the listener calls it until it returns kDone.
  /// kAbort cuts the connection.
  std::function<StreamStep(HttpBodySink&)> stream;
  std::optional<std::uint64_t> content_length;
  /// Called once when a streamed body ends; `completed` is false when it was cut short.
  std::function<void(bool completed)> on_finished;

  /// Sets a JSON body with `status`.
  void Json(int code, std::string json);
  /// Sets the error answer of `status`: its HTTP code and `{"error","code","kind"}` body.
  void Error(const Status& status);
  void SetHeader(std::string name, std::string value);
};

}  // namespace blazen::server::http_transport
