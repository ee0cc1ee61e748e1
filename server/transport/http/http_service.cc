// SPDX-License-Identifier: Apache-2.0
// The HTTP listener: cpp-httplib serving the routes of http_routes.h. Everything library-specific
// (sockets, TLS context, backlog, threads, timeouts, the Range handling httplib would do on its
// own) is in this file.

#include "server/transport/http/http_service.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "core/detail/ssl_context.h"
#include "core/logging.h"
#include "server/detail/listen_address.h"
#include "server/transport/http/http_routes.h"

namespace blazen::server::http_transport {
namespace {

using Clock = std::chrono::steady_clock;

HttpRequestView ViewOf(const httplib::Request& req) {
  HttpRequestView view;
  view.method = req.method;
  view.path = req.path;
  for (std::size_t i = 1; i < req.matches.size(); ++i) view.captures.push_back(req.matches[i]);
  view.header = [&req](std::string_view name) -> std::optional<std::string_view> {
    // httplib keeps headers in a case-insensitive multimap; the first value is the one a handler
    // sees.
    auto it = req.headers.find(std::string(name));
    if (it == req.headers.end()) return std::nullopt;
    return std::string_view(it->second);
  };
  view.body = req.body;
  return view;
}

class SinkAdapter final : public HttpBodySink {
 public:
  explicit SinkAdapter(httplib::DataSink& sink) : sink_(sink) {}
  bool Write(const char* data, std::size_t size) override { return sink_.write(data, size); }
  bool Writable() const override { return sink_.is_writable(); }

 private:
  httplib::DataSink& sink_;
};

void Apply(HttpReply reply, httplib::Response& res) {
  res.status = reply.status;
  for (auto& [name, value] : reply.headers) res.set_header(name, value);
  if (!reply.stream) {
    res.set_content(reply.body, reply.content_type);
    return;
  }
  auto stream = std::make_shared<std::function<StreamStep(HttpBodySink&)>>(std::move(reply.stream));
  auto finished = std::move(reply.on_finished);
  auto release = [finished](bool success) mutable {
    if (finished) finished(success);
    finished = nullptr;
  };
  if (reply.content_length) {
    res.set_content_provider(
        static_cast<std::size_t>(*reply.content_length), reply.content_type,
        [stream](std::size_t, std::size_t, httplib::DataSink& sink) {
          SinkAdapter out(sink);
          return (*stream)(out) != StreamStep::kAbort;
        },
        std::move(release));
  } else {
    res.set_chunked_content_provider(
        reply.content_type,
        [stream](std::size_t, httplib::DataSink& sink) {
          SinkAdapter out(sink);
          const StreamStep step = (*stream)(out);
          if (step == StreamStep::kDone) sink.done();
          return step != StreamStep::kAbort;
        },
        std::move(release));
  }
}

}  // namespace

struct HttpService::Impl {
  HttpServiceOptions options;
  std::shared_ptr<detail::PeerOperations> ops;
  std::unique_ptr<HttpRoutes> routes;
  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  std::string host;
  int port = 0;
  std::once_flag stop_once;
  std::mutex stop_mu;
  std::shared_future<void> stopped;

  void Register() {
    httplib::Server& s = *server;
    for (HttpRoute& route : routes->Routes()) {
      auto handler = [h = std::move(route.handler)](const httplib::Request& req,
                                                    httplib::Response& res) {
        // httplib would apply a Range header itself, without bounds checks and to error bodies
        // too; routes resolve it (the Request object is not const where httplib owns it).
        const_cast<httplib::Request&>(req).ranges.clear();
        HttpReply reply;
        h(ViewOf(req), reply);
        Apply(std::move(reply), res);
      };
      if (route.method == "GET") {
        s.Get(route.pattern, std::move(handler));
      } else {
        s.Post(route.pattern, std::move(handler));
      }
    }
    // Every error without a body of its own (unknown route, wrong method, body too large, bad
    // request line) gets the JSON error shape too.
    s.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty() || res.content_length_ != 0) {
            return httplib::Server::HandlerResponse::Unhandled;
          }
          HttpReply reply;
          HttpRoutes::ListenerError(ViewOf(req), res.status, reply);
          res.set_content(reply.body, reply.content_type);
          return httplib::Server::HandlerResponse::Handled;
        }));
    s.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
          HttpReply reply;
          reply.Error(Status::Internal("internal error"));
          Apply(std::move(reply), res);
        });
  }

  Status Configure() {
    if (options.tls) {
      Status tls_status;
      const ServerTlsConfig tls = *options.tls;
      server = std::make_unique<httplib::SSLServer>([&tls_status, &tls](SSL_CTX& ctx) {
        tls_status = blazen::detail::ConfigureServerSsl(ctx, tls);
        return tls_status.ok();
      });
      if (!tls_status.ok()) return tls_status;
      if (!server->is_valid()) {
        return Status(StatusCode::kInvalidArgument, "cannot set up the HTTPS server",
                      ErrorKind::kTls);
      }
    } else {
      server = std::make_unique<httplib::Server>();
    }
    const std::size_t threads = std::max<std::size_t>(options.threads, 2);
    server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server->set_payload_max_length(options.max_request_bytes);
    server->set_read_timeout(options.read_timeout);
    server->set_write_timeout(options.write_timeout);
    server->set_keep_alive_timeout(
        std::min<time_t>(5, std::max<time_t>(1, options.read_timeout.count())));
    server->set_tcp_nodelay(true);
    return Status::Ok();
  }

  Status Listen(const std::string& bind_host, int bind_port) {
    httplib::Server& s = *server;
    // Only SO_REUSEADDR: httplib's default adds SO_REUSEPORT, with which a second peer on the
    // same port would silently share it instead of failing.
    auto listen_fd = std::make_shared<std::atomic<int>>(-1);
    s.set_socket_options([listen_fd](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      listen_fd->store(sock);
    });
    port = bind_port == 0 ? s.bind_to_any_port(bind_host)
                          : (s.bind_to_port(bind_host, bind_port) ? bind_port : -1);
    if (port <= 0) {
      return Status::Unavailable("cannot listen on " + options.listen_address +
                                 " for HTTP (address in use, invalid, or not permitted)");
    }
    // httplib 0.11 listens with a backlog of 5: a burst of connections would overflow it and some
    // clients would see their connection reset. Listening again only raises the backlog.
    if (const int fd = listen_fd->load(); fd >= 0) ::listen(fd, SOMAXCONN);
    thread = std::thread([this] { server->listen_after_bind(); });
    // httplib 0.11 has no wait_until_ready(): wait until the accept loop runs.
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!s.is_running() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return Status::Ok();
  }
};

HttpService::HttpService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpService::~HttpService() { Stop(); }

Result<std::unique_ptr<HttpService>> HttpService::Start(HttpServiceOptions options,
                                                        std::shared_ptr<Engine> engine) {
  detail::PeerOperationsOptions ops;
  ops.node_id = options.node_id;
  ops.token = options.token;
  ops.runtime = options.runtime;
  ops.metrics = options.metrics;
  return Start(std::move(options),
               std::make_shared<detail::PeerOperations>(std::move(ops), std::move(engine)));
}

Result<std::unique_ptr<HttpService>> HttpService::Start(
    HttpServiceOptions options, std::shared_ptr<detail::PeerOperations> ops) {
  BLAZEN_ASSIGN_OR_RETURN(
      detail::ListenAddress address,
      detail::ParseListenAddress(options.listen_address, "http listen address"));
  if (address.host.empty()) address.host = "0.0.0.0";
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->ops = std::move(ops);
  HttpRoutesOptions routes;
  routes.max_json_deref_bytes = impl->options.max_json_deref_bytes;
  routes.chunk_bytes = impl->options.chunk_bytes;
  impl->routes = std::make_unique<HttpRoutes>(routes, impl->ops);
  BLAZEN_RETURN_IF_ERROR(impl->Configure());
  impl->Register();
  impl->host = address.host;
  BLAZEN_RETURN_IF_ERROR(impl->Listen(address.host, address.port));
  BLAZEN_LOG_INFO("[{}] serving HTTP/JSON on {}:{} ({}{})", impl->ops->node_id(), impl->host,
                  impl->port, impl->options.tls ? "TLS, client certificates required" : "plaintext",
                  impl->ops->requires_token() ? ", token required" : "");
  return std::unique_ptr<HttpService>(new HttpService(std::move(impl)));
}

int HttpService::port() const { return impl_->port; }

std::string HttpService::endpoint() const {
  return std::string(impl_->options.tls ? "https://" : "http://") + detail::DialHost(impl_->host) +
         ":" + std::to_string(impl_->port);
}

void HttpService::BeginShutdown() { impl_->routes->BeginDraining(); }

void HttpService::Shutdown(std::chrono::system_clock::time_point deadline) {
  std::shared_future<void> stopped;
  {
    std::lock_guard lock(impl_->stop_mu);
    if (!impl_->stopped.valid()) {
      impl_->stopped = std::async(std::launch::async, [this] { Stop(); }).share();
    }
    stopped = impl_->stopped;
  }
  stopped.wait_until(deadline);
}

void HttpService::Wait() {
  std::shared_future<void> stopped;
  {
    std::lock_guard lock(impl_->stop_mu);
    stopped = impl_->stopped;
  }
  if (stopped.valid()) stopped.wait();
}

void HttpService::Stop() {
  std::call_once(impl_->stop_once, [this] {
    impl_->routes->BeginDraining();
    impl_->server->stop();
    if (impl_->thread.joinable()) impl_->thread.join();
  });
}

}  // namespace blazen::server::http_transport
