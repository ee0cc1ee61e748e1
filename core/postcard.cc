// SPDX-License-Identifier: Apache-2.0
// postcard encoders and decoders of the wire types, in upstream field order (spec section 1.4).

#include "core/postcard.h"

#include <string>

#include "core/detail/postcard_io.h"
#include "core/envelope.h"
#include "core/utf8.h"

namespace blazen {

using detail::PostcardReader;
using detail::PostcardWriter;
using Field = PostcardReader::Field;

std::string_view PostcardErrorText(PostcardError error) {
  switch (error) {
    case PostcardError::kUnexpectedEnd:
      return "Hit the end of buffer, expected more data";
    case PostcardError::kBadVarint:
      return "Found a varint that didn't terminate. Is the usize too big for this platform?";
    case PostcardError::kBadBool:
      return "Found a bool that wasn't 0 or 1";
    case PostcardError::kBadUtf8:
      return "Tried to parse invalid utf-8";
    case PostcardError::kBadOption:
      return "Found an Option discriminant that wasn't 0 or 1";
    case PostcardError::kSerdeCustom:
      return "Serde Deserialization Error";
  }
  return "unknown postcard error";
}

// --- Reader ----------------------------------------------------------------------------------

namespace detail {

Result<std::uint64_t> PostcardReader::Varint(int max_bytes, std::uint8_t max_last_byte) {
  std::uint64_t out = 0;
  for (int i = 0; i < max_bytes; ++i) {
    BLAZEN_ASSIGN_OR_RETURN(std::uint8_t byte, Byte());
    out |= static_cast<std::uint64_t>(byte & 0x7F) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (i == max_bytes - 1 && byte > max_last_byte) return Fail(PostcardError::kBadVarint);
      return out;
    }
  }
  return Fail(PostcardError::kBadVarint);
}

Result<std::string_view> PostcardReader::Str() {
  BLAZEN_ASSIGN_OR_RETURN(std::string_view text, Bytes());
  if (!IsValidUtf8(text)) return Fail(PostcardError::kBadUtf8);
  return text;
}

Result<Uuid> PostcardReader::UuidValue() {
  BLAZEN_ASSIGN_OR_RETURN(std::string_view raw, Bytes());
  if (raw.size() != 16) {
    return Fail(PostcardError::kSerdeCustom,
                "UUID must be 16 bytes, got " + std::to_string(raw.size()));
  }
  Uuid::Bytes bytes;
  for (std::size_t i = 0; i < 16; ++i) bytes[i] = static_cast<std::uint8_t>(raw[i]);
  return Uuid(bytes);
}

Status PostcardReader::Fail(PostcardError error, std::string_view detail) const {
  std::string msg = "postcard decode failed: ";
  msg += PostcardErrorText(error);
  if (!detail.empty()) {
    msg += " (";
    msg += detail;
    msg += ")";
  }
  msg += " (at ";
  for (std::size_t i = 0; i < path_.size(); ++i) {
    if (i > 0 && path_[i].index == kNoIndex) msg += '.';
    msg += path_[i].name;
    if (path_[i].index != kNoIndex) msg += "[" + std::to_string(path_[i].index) + "]";
  }
  msg += ", byte " + std::to_string(pos_) + ")";
  return Status(StatusCode::kInvalidArgument, std::move(msg), ErrorKind::kEncode);
}

}  // namespace detail

namespace {

// --- Encoding --------------------------------------------------------------------------------

Status EncodeError(std::string_view field) {
  return Status(StatusCode::kInvalidArgument,
                "postcard encode failed: field " + std::string(field) + " is not valid UTF-8",
                ErrorKind::kEncode);
}

Status WriteStr(PostcardWriter& w, std::string_view text, std::string_view field) {
  if (!IsValidUtf8(text)) return EncodeError(field);
  w.Bytes(text);
  return Status::Ok();
}

Status Write(PostcardWriter& w, const SubWorkflowRequest& v) {
  w.Varint(v.envelope_version);
  BLAZEN_RETURN_IF_ERROR(WriteStr(w, v.workflow_name, "workflow_name"));
  w.Varint(v.step_ids.size());
  for (const std::string& id : v.step_ids) {
    BLAZEN_RETURN_IF_ERROR(WriteStr(w, id, "step_ids"));
  }
  w.Bytes(v.input_json);
  w.OptionTag(v.timeout_secs.has_value());
  if (v.timeout_secs) w.Varint(*v.timeout_secs);
  return Status::Ok();
}

Status Write(PostcardWriter& w, const RemoteRefDescriptor& v) {
  BLAZEN_RETURN_IF_ERROR(WriteStr(w, v.origin_node_id, "origin_node_id"));
  BLAZEN_RETURN_IF_ERROR(WriteStr(w, v.type_tag, "type_tag"));
  w.Varint(v.created_at_epoch_ms);
  return Status::Ok();
}

Status Write(PostcardWriter& w, const SubWorkflowResponse& v) {
  w.Varint(v.envelope_version);
  w.Varint(v.state_json.size());
  for (const auto& [key, json] : v.state_json) {
    BLAZEN_RETURN_IF_ERROR(WriteStr(w, key, "state_json key"));
    w.Bytes(json);  // Vec<u8> without serde_bytes: same bytes as a byte string
  }
  w.OptionTag(v.result_json.has_value());
  if (v.result_json) w.Bytes(*v.result_json);
  w.Varint(v.remote_refs.size());
  for (const auto& [uuid, descriptor] : v.remote_refs) {
    w.Bytes(uuid.bytes());
    BLAZEN_RETURN_IF_ERROR(Write(w, descriptor));
  }
  w.OptionTag(v.error.has_value());
  if (v.error) BLAZEN_RETURN_IF_ERROR(WriteStr(w, *v.error, "error"));
  return Status::Ok();
}

Status Write(PostcardWriter& w, const DerefRequest& v) {
  w.Varint(v.envelope_version);
  w.Bytes(v.ref_uuid.bytes());
  return Status::Ok();
}

Status Write(PostcardWriter& w, const DerefResponse& v) {
  w.Varint(v.envelope_version);
  w.Bytes(v.payload);
  return Status::Ok();
}

Status Write(PostcardWriter& w, const ReleaseRequest& v) {
  w.Varint(v.envelope_version);
  w.Bytes(v.ref_uuid.bytes());
  return Status::Ok();
}

Status Write(PostcardWriter& w, const ReleaseResponse& v) {
  w.Varint(v.envelope_version);
  w.Bool(v.released);
  return Status::Ok();
}

Status Write(PostcardWriter& w, const SubWorkflowEvent& v) {
  w.Varint(v.envelope_version);
  BLAZEN_RETURN_IF_ERROR(WriteStr(w, v.event_type, "event_type"));
  BLAZEN_RETURN_IF_ERROR(WriteStr(w, v.step_id, "step_id"));
  w.Bytes(v.data_json);
  w.Varint(v.timestamp_ms);
  w.OptionTag(v.response.has_value());
  if (v.response) BLAZEN_RETURN_IF_ERROR(Write(w, *v.response));
  return Status::Ok();
}

template <typename T>
Result<ByteVector> Encode(const T& value) {
  PostcardWriter w;
  BLAZEN_RETURN_IF_ERROR(Write(w, value));
  return std::move(w).Take();
}

// --- Decoding --------------------------------------------------------------------------------

// Reads the envelope version and applies the version policy immediately (spec section 9.12:
// upstream checks only after a full decode, so layout changes surfaced as decode errors).
Result<std::uint32_t> ReadEnvelopeVersion(PostcardReader& r) {
  Field f(r, "envelope_version");
  BLAZEN_ASSIGN_OR_RETURN(std::uint32_t version, r.U32());
  BLAZEN_RETURN_IF_ERROR(CheckEnvelopeVersion(version));
  return version;
}

Status Read(PostcardReader& r, SubWorkflowRequest& v) {
  BLAZEN_ASSIGN_OR_RETURN(v.envelope_version, ReadEnvelopeVersion(r));
  {
    Field f(r, "workflow_name");
    BLAZEN_ASSIGN_OR_RETURN(v.workflow_name, r.Str());
  }
  {
    Field f(r, "step_ids");
    BLAZEN_ASSIGN_OR_RETURN(std::size_t n, r.Count());
    v.step_ids.clear();
    for (std::size_t i = 0; i < n; ++i) {
      Field fi(r, "", i);
      BLAZEN_ASSIGN_OR_RETURN(v.step_ids.emplace_back(), r.Str());
    }
  }
  {
    Field f(r, "input_json");
    BLAZEN_ASSIGN_OR_RETURN(v.input_json, r.Bytes());
  }
  Field f(r, "timeout_secs");
  BLAZEN_ASSIGN_OR_RETURN(bool some, r.OptionTag());
  v.timeout_secs.reset();
  if (some) {
    BLAZEN_ASSIGN_OR_RETURN(v.timeout_secs, r.U64());
  }
  return Status::Ok();
}

Status Read(PostcardReader& r, RemoteRefDescriptor& v) {
  {
    Field f(r, "origin_node_id");
    BLAZEN_ASSIGN_OR_RETURN(v.origin_node_id, r.Str());
  }
  {
    Field f(r, "type_tag");
    BLAZEN_ASSIGN_OR_RETURN(v.type_tag, r.Str());
  }
  Field f(r, "created_at_epoch_ms");
  BLAZEN_ASSIGN_OR_RETURN(v.created_at_epoch_ms, r.U64());
  return Status::Ok();
}

Status Read(PostcardReader& r, SubWorkflowResponse& v) {
  BLAZEN_ASSIGN_OR_RETURN(v.envelope_version, ReadEnvelopeVersion(r));
  {
    Field f(r, "state_json");
    BLAZEN_ASSIGN_OR_RETURN(std::size_t n, r.Count());
    v.state_json.clear();
    for (std::size_t i = 0; i < n; ++i) {
      Field fi(r, "", i);
      BLAZEN_ASSIGN_OR_RETURN(std::string_view key, r.Str());
      BLAZEN_ASSIGN_OR_RETURN(std::string_view json, r.Bytes());
      v.state_json.insert_or_assign(std::string(key), std::string(json));  // last one wins
    }
  }
  {
    Field f(r, "result_json");
    BLAZEN_ASSIGN_OR_RETURN(bool some, r.OptionTag());
    v.result_json.reset();
    if (some) {
      BLAZEN_ASSIGN_OR_RETURN(v.result_json, r.Bytes());
    }
  }
  {
    Field f(r, "remote_refs");
    BLAZEN_ASSIGN_OR_RETURN(std::size_t n, r.Count());
    v.remote_refs.clear();
    for (std::size_t i = 0; i < n; ++i) {
      Field fi(r, "", i);
      BLAZEN_ASSIGN_OR_RETURN(Uuid key, r.UuidValue());
      RemoteRefDescriptor descriptor;
      BLAZEN_RETURN_IF_ERROR(Read(r, descriptor));
      v.remote_refs.insert_or_assign(key, std::move(descriptor));
    }
  }
  Field f(r, "error");
  BLAZEN_ASSIGN_OR_RETURN(bool some, r.OptionTag());
  v.error.reset();
  if (some) {
    BLAZEN_ASSIGN_OR_RETURN(v.error, r.Str());
  }
  return Status::Ok();
}

Status Read(PostcardReader& r, DerefRequest& v) {
  BLAZEN_ASSIGN_OR_RETURN(v.envelope_version, ReadEnvelopeVersion(r));
  Field f(r, "ref_uuid");
  BLAZEN_ASSIGN_OR_RETURN(v.ref_uuid, r.UuidValue());
  return Status::Ok();
}

Status Read(PostcardReader& r, DerefResponse& v) {
  BLAZEN_ASSIGN_OR_RETURN(v.envelope_version, ReadEnvelopeVersion(r));
  Field f(r, "payload");
  BLAZEN_ASSIGN_OR_RETURN(std::string_view payload, r.Bytes());
  v.payload.assign(payload.begin(), payload.end());
  return Status::Ok();
}

Status Read(PostcardReader& r, ReleaseRequest& v) {
  BLAZEN_ASSIGN_OR_RETURN(v.envelope_version, ReadEnvelopeVersion(r));
  Field f(r, "ref_uuid");
  BLAZEN_ASSIGN_OR_RETURN(v.ref_uuid, r.UuidValue());
  return Status::Ok();
}

Status Read(PostcardReader& r, ReleaseResponse& v) {
  BLAZEN_ASSIGN_OR_RETURN(v.envelope_version, ReadEnvelopeVersion(r));
  Field f(r, "released");
  BLAZEN_ASSIGN_OR_RETURN(v.released, r.Bool());
  return Status::Ok();
}

Status Read(PostcardReader& r, SubWorkflowEvent& v) {
  BLAZEN_ASSIGN_OR_RETURN(v.envelope_version, ReadEnvelopeVersion(r));
  {
    Field f(r, "event_type");
    BLAZEN_ASSIGN_OR_RETURN(v.event_type, r.Str());
  }
  {
    Field f(r, "step_id");
    BLAZEN_ASSIGN_OR_RETURN(v.step_id, r.Str());
  }
  {
    Field f(r, "data_json");
    BLAZEN_ASSIGN_OR_RETURN(v.data_json, r.Bytes());
  }
  {
    Field f(r, "timestamp_ms");
    BLAZEN_ASSIGN_OR_RETURN(v.timestamp_ms, r.U64());
  }
  Field f(r, "response");
  BLAZEN_ASSIGN_OR_RETURN(bool some, r.OptionTag());
  v.response.reset();
  if (some) BLAZEN_RETURN_IF_ERROR(Read(r, v.response.emplace()));
  return Status::Ok();
}

template <typename T>
Result<T> Decode(ByteSpan bytes, std::string_view type_name) {
  PostcardReader r(bytes, type_name);
  T value;
  BLAZEN_RETURN_IF_ERROR(Read(r, value));
  return value;  // trailing bytes are ignored, as postcard::from_bytes does
}

}  // namespace

Result<ByteVector> EncodePostcard(const SubWorkflowRequest& value) { return Encode(value); }
Result<ByteVector> EncodePostcard(const SubWorkflowResponse& value) { return Encode(value); }
Result<ByteVector> EncodePostcard(const RemoteRefDescriptor& value) { return Encode(value); }
Result<ByteVector> EncodePostcard(const DerefRequest& value) { return Encode(value); }
Result<ByteVector> EncodePostcard(const DerefResponse& value) { return Encode(value); }
Result<ByteVector> EncodePostcard(const ReleaseRequest& value) { return Encode(value); }
Result<ByteVector> EncodePostcard(const ReleaseResponse& value) { return Encode(value); }
Result<ByteVector> EncodePostcard(const SubWorkflowEvent& value) { return Encode(value); }

Result<SubWorkflowRequest> DecodeSubWorkflowRequest(ByteSpan bytes) {
  return Decode<SubWorkflowRequest>(bytes, "SubWorkflowRequest");
}
Result<SubWorkflowResponse> DecodeSubWorkflowResponse(ByteSpan bytes) {
  return Decode<SubWorkflowResponse>(bytes, "SubWorkflowResponse");
}
Result<RemoteRefDescriptor> DecodeRemoteRefDescriptor(ByteSpan bytes) {
  return Decode<RemoteRefDescriptor>(bytes, "RemoteRefDescriptor");
}
Result<DerefRequest> DecodeDerefRequest(ByteSpan bytes) {
  return Decode<DerefRequest>(bytes, "DerefRequest");
}
Result<DerefResponse> DecodeDerefResponse(ByteSpan bytes) {
  return Decode<DerefResponse>(bytes, "DerefResponse");
}
Result<ReleaseRequest> DecodeReleaseRequest(ByteSpan bytes) {
  return Decode<ReleaseRequest>(bytes, "ReleaseRequest");
}
Result<ReleaseResponse> DecodeReleaseResponse(ByteSpan bytes) {
  return Decode<ReleaseResponse>(bytes, "ReleaseResponse");
}
Result<SubWorkflowEvent> DecodeSubWorkflowEvent(ByteSpan bytes) {
  return Decode<SubWorkflowEvent>(bytes, "SubWorkflowEvent");
}

}  // namespace blazen
