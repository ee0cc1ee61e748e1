// SPDX-License-Identifier: Apache-2.0
// The control servers of the peer benchmark: what plain gRPC and plain TCP achieve on the same
// machine, with the same bytes and chunk size, without the peer's engine, registry and envelopes.

#include "bench/controls/control_server.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/pattern.h"
#include "bench_control.grpc.pb.h"
#include "bench_control.pb.h"

namespace blazen::bench {
namespace {

// Blocks the stop signals in this thread (and so in every thread started later) and returns them
// for sigwait.
sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

void AnnounceListening(const std::string& host, int port) {
  std::printf("listening on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);
}

std::string HostOf(const std::string& listen) { return listen.substr(0, listen.rfind(':')); }

grpc::Status CheckRange(std::uint64_t size, std::uint64_t offset, std::uint64_t length,
                        std::uint64_t chunk) {
  if (chunk == 0 || offset > size || length > size - offset) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "range [" + std::to_string(offset) + ", +" + std::to_string(length) +
                            ") of a " + std::to_string(size) + "-byte buffer, chunk " +
                            std::to_string(chunk));
  }
  return grpc::Status::OK;
}

// --- gRPC ----------------------------------------------------------------------------------------

// Plain protobuf server stream, the way a gRPC tutorial writes it: one Blob per chunk (set_data
// copies the chunk, gRPC serializes it into its own buffer), one write in flight at a time.
class ProtoStreamReactor final : public grpc::ServerWriteReactor<::bench::Blob> {
 public:
  ProtoStreamReactor(const std::vector<std::uint8_t>& data, const ::bench::StreamRequest& request)
      : data_(data),
        next_(request.offset()),
        end_(request.offset() + request.length()),
        chunk_(request.chunk_bytes()) {
    const grpc::Status status = CheckRange(data.size(), request.offset(), request.length(), chunk_);
    if (!status.ok()) {
      Finish(status);
      return;
    }
    NextWrite();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    NextWrite();
  }

  void OnDone() override { delete this; }

 private:
  void NextWrite() {
    if (next_ >= end_) {
      Finish(grpc::Status::OK);
      return;
    }
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_, end_ - next_));
    blob_.set_data(data_.data() + next_, n);
    next_ += n;
    StartWrite(&blob_);
  }

  const std::vector<std::uint8_t>& data_;
  std::uint64_t next_;
  std::uint64_t end_;
  std::uint64_t chunk_;
  ::bench::Blob blob_;
};

// The same Blob messages without copies: a small header slice (field 1, length) plus a static
// slice pointing into the prefilled buffer, which outlives the server.
class ZeroCopyStreamReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  ZeroCopyStreamReactor(const std::vector<std::uint8_t>& data, const grpc::ByteBuffer* request)
      : data_(data) {
    ::bench::StreamRequest parsed;
    grpc::ByteBuffer copy(*request);  // refcounted, no payload copy
    grpc::ProtoBufferReader reader(&copy);
    if (!parsed.ParseFromZeroCopyStream(&reader)) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad StreamRequest"));
      return;
    }
    const grpc::Status status =
        CheckRange(data.size(), parsed.offset(), parsed.length(), parsed.chunk_bytes());
    if (!status.ok()) {
      Finish(status);
      return;
    }
    next_ = parsed.offset();
    end_ = parsed.offset() + parsed.length();
    chunk_ = parsed.chunk_bytes();
    NextWrite();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    NextWrite();
  }

  void OnDone() override { delete this; }

 private:
  void NextWrite() {
    if (next_ >= end_) {
      Finish(grpc::Status::OK);
      return;
    }
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_, end_ - next_));
    std::uint8_t header[11];
    std::size_t header_size = 0;
    header[header_size++] = 0x0a;  // field 1 (data), length-delimited
    for (std::uint64_t v = n;; v >>= 7) {
      if (v < 0x80) {
        header[header_size++] = static_cast<std::uint8_t>(v);
        break;
      }
      header[header_size++] = static_cast<std::uint8_t>((v & 0x7f) | 0x80);
    }
    grpc::Slice slices[2] = {grpc::Slice(header, header_size),
                             grpc::Slice(data_.data() + next_, n, grpc::Slice::STATIC_SLICE)};
    message_ = grpc::ByteBuffer(slices, 2);
    next_ += n;
    StartWrite(&message_);
  }

  const std::vector<std::uint8_t>& data_;
  std::uint64_t next_ = 0;
  std::uint64_t end_ = 0;
  std::uint64_t chunk_ = 0;
  grpc::ByteBuffer message_;
};

using ControlServiceBase =
    ::bench::Control::WithCallbackMethod_Echo<::bench::Control::WithCallbackMethod_Stream<
        ::bench::Control::WithRawCallbackMethod_StreamZeroCopy<::bench::Control::Service>>>;

class ControlService final : public ControlServiceBase {
 public:
  explicit ControlService(const std::vector<std::uint8_t>& data) : data_(data) {}

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context, const ::bench::Blob* request,
                                 ::bench::Blob* response) override {
    response->set_data(request->data());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerWriteReactor<::bench::Blob>* Stream(grpc::CallbackServerContext*,
                                                  const ::bench::StreamRequest* request) override {
    return new ProtoStreamReactor(data_, *request);
  }

  grpc::ServerWriteReactor<grpc::ByteBuffer>* StreamZeroCopy(
      grpc::CallbackServerContext*, const grpc::ByteBuffer* request) override {
    return new ZeroCopyStreamReactor(data_, request);
  }

 private:
  const std::vector<std::uint8_t>& data_;
};

int RunGrpc(const ControlServerOptions& options, const std::vector<std::uint8_t>& data) {
  const sigset_t signals = BlockStopSignals();
  ControlService service(data);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(-1);
  builder.SetMaxSendMessageSize(-1);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) throw std::runtime_error("cannot listen on " + options.listen);
  AnnounceListening(HostOf(options.listen), port);
  int sig = 0;
  sigwait(&signals, &sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}

// --- raw TCP -------------------------------------------------------------------------------------

bool ReadFully(int fd, void* out, std::size_t size) {
  auto* p = static_cast<std::uint8_t*>(out);
  while (size > 0) {
    const ssize_t n = recv(fd, p, size, 0);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Serves the requests of one connection until the client closes it.
void ServeTcpConnection(int fd, const std::vector<std::uint8_t>& data) {
  TcpRangeRequest request;
  while (ReadFully(fd, &request, sizeof(request))) {
    if (!CheckRange(data.size(), request.offset, request.length, request.chunk_bytes).ok()) break;
    const std::uint8_t* p = data.data() + request.offset;
    std::uint64_t left = request.length;
    bool failed = false;
    while (left > 0 && !failed) {
      // One send() per chunk; a short send is completed before the next chunk starts.
      std::size_t chunk = static_cast<std::size_t>(std::min(request.chunk_bytes, left));
      left -= chunk;
      while (chunk > 0) {
        const ssize_t n = send(fd, p, chunk, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EINTR) continue;
          failed = true;
          break;
        }
        p += n;
        chunk -= static_cast<std::size_t>(n);
      }
    }
    if (failed) break;
  }
  close(fd);
}

int RunTcp(const ControlServerOptions& options, const std::vector<std::uint8_t>& data) {
  const sigset_t signals = BlockStopSignals();
  const std::string host = HostOf(options.listen);
  const int port_in = std::stoi(options.listen.substr(options.listen.rfind(':') + 1));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port_in));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    throw std::runtime_error("not an IPv4 address: " + host);
  }
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener, 128) != 0) {
    throw std::runtime_error("cannot listen on " + options.listen + ": " + std::strerror(errno));
  }
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread([listener, &data] {
    for (;;) {
      const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      std::thread(ServeTcpConnection, fd, std::cref(data)).detach();
    }
  }).detach();
  AnnounceListening(host, ntohs(addr.sin_port));
  int sig = 0;
  sigwait(&signals, &sig);
  // Connection threads may still be sending from `data`: leave without unwinding.
  std::fflush(stdout);
  std::_Exit(0);
}

}  // namespace

int RunControlServer(const ControlServerOptions& options) {
  std::vector<std::uint8_t> data(static_cast<std::size_t>(options.bytes));
  FillPattern(data, 0);
  return options.kind == ControlKind::kGrpc ? RunGrpc(options, data) : RunTcp(options, data);
}

}  // namespace blazen::bench
