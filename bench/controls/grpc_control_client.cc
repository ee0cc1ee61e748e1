// SPDX-License-Identifier: Apache-2.0
// The gRPC control client: generated stub for Echo and the plain stream, a raw RpcMethod for the
// zero-copy stream.

#include "bench/controls/grpc_control_client.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/sync_stream.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/pattern.h"
#include "bench_control.grpc.pb.h"
#include "bench_control.pb.h"

namespace blazen::bench {
namespace {

constexpr char kZeroCopyMethod[] = "/bench.Control/StreamZeroCopy";

void CheckGrpc(const grpc::Status& status, const char* what) {
  if (!status.ok()) {
    throw std::runtime_error(std::string(what) + " failed: " + status.error_message());
  }
}

::bench::StreamRequest WholeRange(std::uint64_t bytes, std::uint32_t chunk) {
  ::bench::StreamRequest request;
  request.set_offset(0);
  request.set_length(bytes);
  request.set_chunk_bytes(chunk);
  return request;
}

// Checks one received Blob message (field 1, length-delimited) given as slices, as the peer's
// client reads deref chunks: in place, without a protobuf parse. Returns the data size, or none
// when the message is malformed or the bytes are wrong.
std::optional<std::uint64_t> CheckBlobSlices(const std::vector<grpc::Slice>& slices,
                                             std::uint64_t offset, bool full) {
  enum { kTag, kLength, kData } state = kTag;
  std::uint64_t length = 0;
  int shift = 0;
  std::uint64_t seen = 0;
  for (const grpc::Slice& slice : slices) {
    const std::uint8_t* p = slice.begin();
    const std::size_t n = slice.size();
    std::size_t i = 0;
    while (i < n) {
      if (state == kTag) {
        if (p[i++] != 0x0a) return std::nullopt;
        state = kLength;
      } else if (state == kLength) {
        const std::uint8_t b = p[i++];
        if (shift > 56) return std::nullopt;
        length |= static_cast<std::uint64_t>(b & 0x7f) << shift;
        shift += 7;
        if ((b & 0x80) == 0) state = kData;
      } else {
        if (seen == length) return std::nullopt;  // bytes after the data field
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(n - i, length - seen));
        if (!MatchesPattern(offset + seen, {p + i, take}, full)) return std::nullopt;
        seen += take;
        i += take;
      }
    }
  }
  if (state != kData || seen != length) return std::nullopt;
  return length;
}

}  // namespace

struct GrpcControlClient::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<::bench::Control::Stub> stub;
  std::optional<grpc::internal::RpcMethod> zero_copy_method;
  ::bench::Blob echo_request;
};

GrpcControlClient::GrpcControlClient(const std::string& host_port)
    : impl_(std::make_unique<Impl>()) {
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(-1);
  channel_args.SetMaxSendMessageSize(-1);
  impl_->channel =
      grpc::CreateCustomChannel(host_port, grpc::InsecureChannelCredentials(), channel_args);
  if (!impl_->channel->WaitForConnected(std::chrono::system_clock::now() +
                                        std::chrono::seconds(10))) {
    throw std::runtime_error("cannot connect to the gRPC control on " + host_port);
  }
  impl_->stub = ::bench::Control::NewStub(impl_->channel);
  impl_->zero_copy_method.emplace(kZeroCopyMethod, grpc::internal::RpcMethod::SERVER_STREAMING,
                                  impl_->channel);
}

GrpcControlClient::~GrpcControlClient() = default;
GrpcControlClient::GrpcControlClient(GrpcControlClient&&) noexcept = default;
GrpcControlClient& GrpcControlClient::operator=(GrpcControlClient&&) noexcept = default;

void GrpcControlClient::SetEchoPayload(std::size_t payload_bytes) {
  impl_->echo_request.set_data(std::string(payload_bytes, 'x'));
}

void GrpcControlClient::Echo() {
  grpc::ClientContext context;
  ::bench::Blob reply;
  CheckGrpc(impl_->stub->Echo(&context, impl_->echo_request, &reply), "gRPC echo control");
  if (reply.data().size() != impl_->echo_request.data().size()) {
    throw std::runtime_error("bad echo reply");
  }
}

void GrpcControlClient::PlainStream(std::uint64_t bytes, std::uint32_t chunk, bool full) {
  const ::bench::StreamRequest request = WholeRange(bytes, chunk);
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<::bench::Blob>> reader =
      impl_->stub->Stream(&context, request);
  ::bench::Blob blob;
  std::uint64_t offset = 0;
  while (reader->Read(&blob)) {
    const std::string& data = blob.data();
    if (!MatchesPattern(offset, {reinterpret_cast<const std::uint8_t*>(data.data()), data.size()},
                        full)) {
      throw std::runtime_error("gRPC stream control delivered wrong bytes at " +
                               std::to_string(offset));
    }
    offset += data.size();
  }
  CheckGrpc(reader->Finish(), "gRPC stream control");
  if (offset != bytes) throw std::runtime_error("gRPC stream control ended early");
}

void GrpcControlClient::ZeroCopyStream(std::uint64_t bytes, std::uint32_t chunk, bool full) {
  const ::bench::StreamRequest request = WholeRange(bytes, chunk);
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
      grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(
          impl_->channel.get(), *impl_->zero_copy_method, &context, request));
  grpc::ByteBuffer message;
  std::vector<grpc::Slice> slices;
  std::uint64_t offset = 0;
  while (reader->Read(&message)) {
    slices.clear();
    if (!message.Dump(&slices).ok()) throw std::runtime_error("cannot read a control message");
    const std::optional<std::uint64_t> size = CheckBlobSlices(slices, offset, full);
    if (!size) {
      throw std::runtime_error("zero-copy gRPC control delivered wrong bytes at " +
                               std::to_string(offset));
    }
    offset += *size;
    message.Clear();
  }
  CheckGrpc(reader->Finish(), "zero-copy gRPC stream control");
  if (offset != bytes) throw std::runtime_error("zero-copy gRPC stream control ended early");
}

}  // namespace blazen::bench
