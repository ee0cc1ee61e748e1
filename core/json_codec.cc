// SPDX-License-Identifier: Apache-2.0
// HTTP/JSON codec of the wire types. Encoding is a hand-written writer (byte arrays go straight
// into the output, field order is fixed); decoding walks the DOM of ParseJsonWithByteArrays, so
// large byte fields never become one DOM node per byte.

#include "core/json_codec.h"

#include <charconv>
#include <cstddef>
#include <limits>
#include <utility>

#include "core/envelope.h"
#include "core/json.h"
#include "core/utf8.h"
#include "core/uuid.h"

namespace blazen {
namespace {

using Json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Encoding

Status InvalidUtf8(std::string_view path) {
  return Status(StatusCode::kInvalidArgument,
                "json encode failed: " + std::string(path) + " is not valid UTF-8",
                ErrorKind::kEncode);
}

void AppendUnsigned(std::string& out, std::uint64_t value) {
  char buffer[20];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, end);
}

// Quotes `text` the way serde_json does: `"` and `\` escaped, \b \f \n \r \t short, the other
// control characters as lowercase \u00xx, everything else (DEL and non-ASCII included) verbatim.
void AppendQuoted(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0x0F]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

// A Rust String field: must be valid UTF-8.
Status AppendString(std::string& out, std::string_view text, std::string_view path) {
  if (!IsValidUtf8(text)) return InvalidUtf8(path);
  AppendQuoted(out, text);
  return Status::Ok();
}

// A byte field: `[b0,b1,...]`, written in place (a 16 MiB payload is ~60 MB of text).
template <typename Byte>
void AppendByteArray(std::string& out, const Byte* data, std::size_t size) {
  const std::size_t start = out.size();
  out.resize(start + 2 + size * 4);
  char* p = out.data() + start;
  *p++ = '[';
  for (std::size_t i = 0; i < size; ++i) {
    if (i != 0) *p++ = ',';
    const auto b = static_cast<unsigned char>(data[i]);
    if (b >= 100) *p++ = static_cast<char>('0' + b / 100);
    if (b >= 10) *p++ = static_cast<char>('0' + b / 10 % 10);
    *p++ = static_cast<char>('0' + b % 10);
  }
  *p++ = ']';
  out.resize(static_cast<std::size_t>(p - out.data()));
}

void AppendBytes(std::string& out, std::string_view bytes) {
  AppendByteArray(out, bytes.data(), bytes.size());
}
void AppendBytes(std::string& out, const ByteVector& bytes) {
  AppendByteArray(out, bytes.data(), bytes.size());
}

Status AppendDescriptor(std::string& out, const RemoteRefDescriptor& value, std::string_view path) {
  out += R"({"origin_node_id":)";
  BLAZEN_RETURN_IF_ERROR(
      AppendString(out, value.origin_node_id, std::string(path) + "origin_node_id"));
  out += R"(,"type_tag":)";
  BLAZEN_RETURN_IF_ERROR(AppendString(out, value.type_tag, std::string(path) + "type_tag"));
  out += R"(,"created_at_epoch_ms":)";
  AppendUnsigned(out, value.created_at_epoch_ms);
  out += '}';
  return Status::Ok();
}

// `prefix` is "" at the top level and "response." inside an event.
Status AppendResponse(std::string& out, const SubWorkflowResponse& value, std::string_view prefix) {
  out += R"({"envelope_version":)";
  AppendUnsigned(out, value.envelope_version);
  out += R"(,"state_json":{)";
  bool first = true;
  for (const auto& [key, json] : value.state_json) {
    if (!first) out += ',';
    first = false;
    BLAZEN_RETURN_IF_ERROR(AppendString(out, key, std::string(prefix) + "state_json key"));
    out += ':';
    AppendBytes(out, json);
  }
  out += R"(},"result_json":)";
  if (value.result_json.has_value()) {
    AppendBytes(out, *value.result_json);
  } else {
    out += "null";
  }
  out += R"(,"remote_refs":{)";
  first = true;
  for (const auto& [uuid, descriptor] : value.remote_refs) {
    if (!first) out += ',';
    first = false;
    const std::string key = uuid.ToString();
    AppendQuoted(out, key);
    out += ':';
    BLAZEN_RETURN_IF_ERROR(
        AppendDescriptor(out, descriptor, std::string(prefix) + "remote_refs." + key + "."));
  }
  out += R"(},"error":)";
  if (value.error.has_value()) {
    BLAZEN_RETURN_IF_ERROR(AppendString(out, *value.error, std::string(prefix) + "error"));
  } else {
    out += "null";
  }
  out += '}';
  return Status::Ok();
}

// The two request types that carry only a ref UUID.
std::string EncodeRefRequest(std::uint32_t envelope_version, const Uuid& ref_uuid) {
  std::string out = R"({"envelope_version":)";
  AppendUnsigned(out, envelope_version);
  out += R"(,"ref_uuid":)";
  AppendQuoted(out, ref_uuid.ToString());
  out += '}';
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding

Status DecodeError(std::string message) {
  return Status(StatusCode::kInvalidArgument, "json decode failed: " + message, ErrorKind::kEncode);
}

// " at <path>", or nothing for the top level.
std::string At(std::string_view path) {
  return path.empty() ? std::string() : " at " + std::string(path);
}

std::string Join(std::string_view path, std::string_view name) {
  return path.empty() ? std::string(name) : std::string(path) + "." + std::string(name);
}

// A map key as part of a field path, cut to a readable length on a UTF-8 boundary.
std::string KeyForPath(std::string_view key) {
  constexpr std::size_t kMaxKeyInPath = 64;
  if (key.size() <= kMaxKeyInPath) return std::string(key);
  std::size_t cut = kMaxKeyInPath;
  while (cut > 0 && (static_cast<unsigned char>(key[cut]) & 0xC0) == 0x80) --cut;
  return std::string(key.substr(0, cut)) + "...";
}

std::string_view Describe(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
      return "a negative integer";
    case Json::value_t::number_unsigned:
      return "an unsigned integer";
    case Json::value_t::number_float:
      return "a floating-point number";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::binary:  // an array of integers 0-255, see ParseJsonWithByteArrays
      return "an array of integers";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::discarded:
      break;
  }
  return "an unknown value";
}

Status TypeError(std::string_view path, std::string_view expected, const Json& got) {
  return DecodeError("invalid type" + At(path) + ": expected " + std::string(expected) + ", got " +
                     std::string(Describe(got)));
}

Status RequireObject(const Json& value, std::string_view path) {
  if (value.is_object()) return Status::Ok();
  return TypeError(path, "an object", value);
}

// The member `name` of `object`, or null when absent.
const Json* Find(const Json& object, std::string_view name) {
  const auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

// The member `name` of `object`, which must be present (null counts as present).
Result<const Json*> Require(const Json& object, std::string_view name, std::string_view path) {
  const Json* member = Find(object, name);
  if (member == nullptr) return DecodeError("missing field `" + Join(path, name) + "`");
  return member;
}

// An unsigned integer no larger than `max` (`type` names the Rust type in messages).
Result<std::uint64_t> ReadUnsigned(const Json& value, std::string_view path, std::uint64_t max,
                                   std::string_view type) {
  if (value.is_number_unsigned()) {
    const auto number = value.get<std::uint64_t>();
    if (number <= max) return number;
    return DecodeError("invalid value" + At(path) + ": " + std::to_string(number) +
                       " is out of range for " + std::string(type));
  }
  // nlohmann parses integers beyond 2^64 - 1 as floating point; serde rejects those as well.
  return TypeError(path, type, value);
}

Result<std::uint32_t> ReadU32(const Json& value, std::string_view path) {
  BLAZEN_ASSIGN_OR_RETURN(
      const std::uint64_t number,
      ReadUnsigned(value, path, std::numeric_limits<std::uint32_t>::max(), "u32"));
  return static_cast<std::uint32_t>(number);
}

Result<std::uint64_t> ReadU64(const Json& value, std::string_view path) {
  return ReadUnsigned(value, path, std::numeric_limits<std::uint64_t>::max(), "u64");
}

Result<bool> ReadBool(const Json& value, std::string_view path) {
  if (value.is_boolean()) return value.get<bool>();
  return TypeError(path, "a boolean", value);
}

Result<std::string> ReadString(const Json& value, std::string_view path) {
  if (value.is_string()) return value.get_ref<const std::string&>();
  return TypeError(path, "a string", value);
}

enum class StringBytes { kAccept, kReject };

// A byte field as `Bytes` (std::string or ByteVector): an array of integers 0-255 (a binary value
// when ParseJsonWithByteArrays recognized it), or with StringBytes::kAccept (serde_bytes fields) a
// string standing for its UTF-8 bytes.
template <typename Bytes>
Result<Bytes> ReadBytes(const Json& value, std::string_view path, StringBytes strings) {
  if (value.is_binary()) {
    const auto& binary = value.get_binary();
    return Bytes(binary.begin(), binary.end());
  }
  if (value.is_array()) {
    Bytes bytes;
    bytes.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
      const Json& element = value[i];
      if (!element.is_number_unsigned() || element.get<std::uint64_t>() > 255) {
        return DecodeError("invalid value at " + std::string(path) + "[" + std::to_string(i) +
                           "]: expected an integer 0-255, got " +
                           (element.is_number() ? element.dump() : std::string(Describe(element))));
      }
      bytes.push_back(static_cast<typename Bytes::value_type>(element.get<std::uint64_t>()));
    }
    return bytes;
  }
  if (strings == StringBytes::kAccept && value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    return Bytes(text.begin(), text.end());
  }
  return TypeError(
      path, strings == StringBytes::kAccept ? "a byte array or a string" : "a byte array", value);
}

Result<Uuid> ReadUuid(const Json& value, std::string_view path) {
  if (!value.is_string()) return TypeError(path, "a UUID string", value);
  Result<Uuid> uuid = Uuid::Parse(value.get_ref<const std::string&>());
  if (!uuid.ok()) return DecodeError("invalid value" + At(path) + ": " + uuid.status().message());
  return uuid;
}

// `envelope_version`, checked against this build's version as soon as it is read.
Result<std::uint32_t> ReadEnvelopeVersion(const Json& object, std::string_view path) {
  BLAZEN_ASSIGN_OR_RETURN(const Json* field, Require(object, "envelope_version", path));
  BLAZEN_ASSIGN_OR_RETURN(const std::uint32_t version,
                          ReadU32(*field, Join(path, "envelope_version")));
  BLAZEN_RETURN_IF_ERROR(CheckEnvelopeVersion(version));
  return version;
}

// The field helpers below read member `name` of `object`, `path` being the object's own path.

Result<std::uint64_t> U64Field(const Json& object, std::string_view name, std::string_view path) {
  BLAZEN_ASSIGN_OR_RETURN(const Json* field, Require(object, name, path));
  return ReadU64(*field, Join(path, name));
}

Result<std::string> StringField(const Json& object, std::string_view name, std::string_view path) {
  BLAZEN_ASSIGN_OR_RETURN(const Json* field, Require(object, name, path));
  return ReadString(*field, Join(path, name));
}

template <typename Bytes>
Result<Bytes> BytesField(const Json& object, std::string_view name, std::string_view path,
                         StringBytes strings) {
  BLAZEN_ASSIGN_OR_RETURN(const Json* field, Require(object, name, path));
  return ReadBytes<Bytes>(*field, Join(path, name), strings);
}

Result<Uuid> UuidField(const Json& object, std::string_view name, std::string_view path) {
  BLAZEN_ASSIGN_OR_RETURN(const Json* field, Require(object, name, path));
  return ReadUuid(*field, Join(path, name));
}

Result<SubWorkflowRequest> DecodeRequest(const Json& json) {
  BLAZEN_RETURN_IF_ERROR(RequireObject(json, ""));
  SubWorkflowRequest request;
  BLAZEN_ASSIGN_OR_RETURN(request.envelope_version, ReadEnvelopeVersion(json, ""));
  BLAZEN_ASSIGN_OR_RETURN(request.workflow_name, StringField(json, "workflow_name", ""));
  BLAZEN_ASSIGN_OR_RETURN(const Json* step_ids, Require(json, "step_ids", ""));
  if (!step_ids->is_array()) return TypeError("step_ids", "an array of strings", *step_ids);
  request.step_ids.reserve(step_ids->size());
  for (std::size_t i = 0; i < step_ids->size(); ++i) {
    BLAZEN_ASSIGN_OR_RETURN(std::string step_id,
                            ReadString((*step_ids)[i], "step_ids[" + std::to_string(i) + "]"));
    request.step_ids.push_back(std::move(step_id));
  }
  BLAZEN_ASSIGN_OR_RETURN(request.input_json,
                          BytesField<std::string>(json, "input_json", "", StringBytes::kAccept));
  if (const Json* timeout = Find(json, "timeout_secs"); timeout != nullptr && !timeout->is_null()) {
    BLAZEN_ASSIGN_OR_RETURN(request.timeout_secs, ReadU64(*timeout, "timeout_secs"));
  }
  return request;
}

Result<RemoteRefDescriptor> DecodeDescriptor(const Json& json, std::string_view path) {
  BLAZEN_RETURN_IF_ERROR(RequireObject(json, path));
  RemoteRefDescriptor descriptor;
  BLAZEN_ASSIGN_OR_RETURN(descriptor.origin_node_id, StringField(json, "origin_node_id", path));
  BLAZEN_ASSIGN_OR_RETURN(descriptor.type_tag, StringField(json, "type_tag", path));
  BLAZEN_ASSIGN_OR_RETURN(descriptor.created_at_epoch_ms,
                          U64Field(json, "created_at_epoch_ms", path));
  return descriptor;
}

Result<SubWorkflowResponse> DecodeResponse(const Json& json, std::string_view path) {
  BLAZEN_RETURN_IF_ERROR(RequireObject(json, path));
  SubWorkflowResponse response;
  BLAZEN_ASSIGN_OR_RETURN(response.envelope_version, ReadEnvelopeVersion(json, path));

  const std::string state_path = Join(path, "state_json");
  BLAZEN_ASSIGN_OR_RETURN(const Json* state, Require(json, "state_json", path));
  if (!state->is_object()) return TypeError(state_path, "a map", *state);
  for (const auto& [key, value] : state->get_ref<const Json::object_t&>()) {
    BLAZEN_ASSIGN_OR_RETURN(
        std::string bytes,
        ReadBytes<std::string>(value, state_path + "." + KeyForPath(key), StringBytes::kReject));
    response.state_json.insert_or_assign(key, std::move(bytes));
  }

  // Upstream's custom `with` attribute makes `result_json` required even though it is an Option.
  BLAZEN_ASSIGN_OR_RETURN(const Json* result, Require(json, "result_json", path));
  if (!result->is_null()) {
    BLAZEN_ASSIGN_OR_RETURN(
        response.result_json,
        ReadBytes<std::string>(*result, Join(path, "result_json"), StringBytes::kAccept));
  }

  const std::string refs_path = Join(path, "remote_refs");
  BLAZEN_ASSIGN_OR_RETURN(const Json* refs, Require(json, "remote_refs", path));
  if (!refs->is_object()) return TypeError(refs_path, "a map", *refs);
  for (const auto& [key, value] : refs->get_ref<const Json::object_t&>()) {
    const std::string ref_path = refs_path + "." + KeyForPath(key);
    Result<Uuid> uuid = Uuid::Parse(key);
    if (!uuid.ok()) {
      return DecodeError("invalid key at " + ref_path + ": " + uuid.status().message());
    }
    BLAZEN_ASSIGN_OR_RETURN(RemoteRefDescriptor descriptor, DecodeDescriptor(value, ref_path));
    response.remote_refs.insert_or_assign(*uuid, std::move(descriptor));
  }

  if (const Json* error = Find(json, "error"); error != nullptr && !error->is_null()) {
    BLAZEN_ASSIGN_OR_RETURN(response.error, ReadString(*error, Join(path, "error")));
  }
  return response;
}

Result<SubWorkflowEvent> DecodeEvent(const Json& json) {
  BLAZEN_RETURN_IF_ERROR(RequireObject(json, ""));
  SubWorkflowEvent event;
  BLAZEN_ASSIGN_OR_RETURN(event.envelope_version, ReadEnvelopeVersion(json, ""));
  BLAZEN_ASSIGN_OR_RETURN(event.event_type, StringField(json, "event_type", ""));
  BLAZEN_ASSIGN_OR_RETURN(event.step_id, StringField(json, "step_id", ""));
  BLAZEN_ASSIGN_OR_RETURN(event.data_json,
                          BytesField<std::string>(json, "data_json", "", StringBytes::kAccept));
  BLAZEN_ASSIGN_OR_RETURN(event.timestamp_ms, U64Field(json, "timestamp_ms", ""));
  if (const Json* response = Find(json, "response"); response != nullptr && !response->is_null()) {
    BLAZEN_ASSIGN_OR_RETURN(event.response, DecodeResponse(*response, "response"));
  }
  return event;
}

// Parses `text` and hands the DOM to `decode`; parse failures become decode failures.
template <typename Decode>
auto DecodeText(std::string_view text, Decode decode) -> decltype(decode(Json())) {
  Result<Json> json = ParseJsonWithByteArrays(text);
  if (!json.ok()) {
    return json.status().WithPrefix("json decode failed: ").WithKind(ErrorKind::kEncode);
  }
  return decode(*json);
}

}  // namespace

Result<std::string> EncodeJson(const SubWorkflowRequest& value) {
  std::string out = R"({"envelope_version":)";
  AppendUnsigned(out, value.envelope_version);
  out += R"(,"workflow_name":)";
  BLAZEN_RETURN_IF_ERROR(AppendString(out, value.workflow_name, "workflow_name"));
  out += R"(,"step_ids":[)";
  for (std::size_t i = 0; i < value.step_ids.size(); ++i) {
    if (i != 0) out += ',';
    if (!IsValidUtf8(value.step_ids[i])) {
      return InvalidUtf8("step_ids[" + std::to_string(i) + "]");
    }
    AppendQuoted(out, value.step_ids[i]);
  }
  out += R"(],"input_json":)";
  AppendBytes(out, value.input_json);
  out += R"(,"timeout_secs":)";
  if (value.timeout_secs.has_value()) {
    AppendUnsigned(out, *value.timeout_secs);
  } else {
    out += "null";
  }
  out += '}';
  return out;
}

Result<std::string> EncodeJson(const SubWorkflowResponse& value) {
  std::string out;
  BLAZEN_RETURN_IF_ERROR(AppendResponse(out, value, ""));
  return out;
}

Result<std::string> EncodeJson(const RemoteRefDescriptor& value) {
  std::string out;
  BLAZEN_RETURN_IF_ERROR(AppendDescriptor(out, value, ""));
  return out;
}

Result<std::string> EncodeJson(const DerefRequest& value) {
  return EncodeRefRequest(value.envelope_version, value.ref_uuid);
}

Result<std::string> EncodeJson(const DerefResponse& value) {
  std::string out = R"({"envelope_version":)";
  AppendUnsigned(out, value.envelope_version);
  out += R"(,"payload":)";
  AppendBytes(out, value.payload);
  out += '}';
  return out;
}

Result<std::string> EncodeJson(const ReleaseRequest& value) {
  return EncodeRefRequest(value.envelope_version, value.ref_uuid);
}

Result<std::string> EncodeJson(const ReleaseResponse& value) {
  std::string out = R"({"envelope_version":)";
  AppendUnsigned(out, value.envelope_version);
  out += value.released ? R"(,"released":true})" : R"(,"released":false})";
  return out;
}

Result<std::string> EncodeJson(const SubWorkflowEvent& value) {
  std::string out = R"({"envelope_version":)";
  AppendUnsigned(out, value.envelope_version);
  out += R"(,"event_type":)";
  BLAZEN_RETURN_IF_ERROR(AppendString(out, value.event_type, "event_type"));
  out += R"(,"step_id":)";
  BLAZEN_RETURN_IF_ERROR(AppendString(out, value.step_id, "step_id"));
  out += R"(,"data_json":)";
  AppendBytes(out, value.data_json);
  out += R"(,"timestamp_ms":)";
  AppendUnsigned(out, value.timestamp_ms);
  out += R"(,"response":)";
  if (value.response.has_value()) {
    BLAZEN_RETURN_IF_ERROR(AppendResponse(out, *value.response, "response."));
  } else {
    out += "null";
  }
  out += '}';
  return out;
}

Result<SubWorkflowRequest> DecodeSubWorkflowRequestJson(std::string_view text) {
  return DecodeText(text, DecodeRequest);
}

Result<SubWorkflowResponse> DecodeSubWorkflowResponseJson(std::string_view text) {
  return DecodeText(text, [](const Json& json) { return DecodeResponse(json, ""); });
}

Result<RemoteRefDescriptor> DecodeRemoteRefDescriptorJson(std::string_view text) {
  return DecodeText(text, [](const Json& json) { return DecodeDescriptor(json, ""); });
}

Result<DerefRequest> DecodeDerefRequestJson(std::string_view text) {
  return DecodeText(text, [](const Json& json) -> Result<DerefRequest> {
    BLAZEN_RETURN_IF_ERROR(RequireObject(json, ""));
    DerefRequest request;
    BLAZEN_ASSIGN_OR_RETURN(request.envelope_version, ReadEnvelopeVersion(json, ""));
    BLAZEN_ASSIGN_OR_RETURN(request.ref_uuid, UuidField(json, "ref_uuid", ""));
    return request;
  });
}

Result<DerefResponse> DecodeDerefResponseJson(std::string_view text) {
  return DecodeText(text, [](const Json& json) -> Result<DerefResponse> {
    BLAZEN_RETURN_IF_ERROR(RequireObject(json, ""));
    DerefResponse response;
    BLAZEN_ASSIGN_OR_RETURN(response.envelope_version, ReadEnvelopeVersion(json, ""));
    BLAZEN_ASSIGN_OR_RETURN(response.payload,
                            BytesField<ByteVector>(json, "payload", "", StringBytes::kAccept));
    return response;
  });
}

Result<ReleaseRequest> DecodeReleaseRequestJson(std::string_view text) {
  return DecodeText(text, [](const Json& json) -> Result<ReleaseRequest> {
    BLAZEN_RETURN_IF_ERROR(RequireObject(json, ""));
    ReleaseRequest request;
    BLAZEN_ASSIGN_OR_RETURN(request.envelope_version, ReadEnvelopeVersion(json, ""));
    BLAZEN_ASSIGN_OR_RETURN(request.ref_uuid, UuidField(json, "ref_uuid", ""));
    return request;
  });
}

Result<ReleaseResponse> DecodeReleaseResponseJson(std::string_view text) {
  return DecodeText(text, [](const Json& json) -> Result<ReleaseResponse> {
    BLAZEN_RETURN_IF_ERROR(RequireObject(json, ""));
    ReleaseResponse response;
    BLAZEN_ASSIGN_OR_RETURN(response.envelope_version, ReadEnvelopeVersion(json, ""));
    BLAZEN_ASSIGN_OR_RETURN(const Json* released, Require(json, "released", ""));
    BLAZEN_ASSIGN_OR_RETURN(response.released, ReadBool(*released, "released"));
    return response;
  });
}

Result<ReleaseScopeRequest> DecodeReleaseScopeRequestJson(std::string_view text) {
  return DecodeText(text, [](const Json& json) -> Result<ReleaseScopeRequest> {
    BLAZEN_RETURN_IF_ERROR(RequireObject(json, ""));
    ReleaseScopeRequest request;
    BLAZEN_ASSIGN_OR_RETURN(request.envelope_version, ReadEnvelopeVersion(json, ""));
    BLAZEN_ASSIGN_OR_RETURN(request.parent_run_id, StringField(json, "parent_run_id", ""));
    return request;
  });
}

Result<SubWorkflowEvent> DecodeSubWorkflowEventJson(std::string_view text) {
  return DecodeText(text, DecodeEvent);
}

Result<SubWorkflowRequest> MakeSubWorkflowRequest(std::string workflow_name,
                                                  std::vector<std::string> step_ids,
                                                  const nlohmann::json& input,
                                                  std::optional<std::uint64_t> timeout_secs) {
  if (!IsValidUtf8(workflow_name)) {
    return Status::InvalidArgument("workflow_name is not valid UTF-8");
  }
  for (std::size_t i = 0; i < step_ids.size(); ++i) {
    if (!IsValidUtf8(step_ids[i])) {
      return Status::InvalidArgument("step_ids[" + std::to_string(i) + "] is not valid UTF-8");
    }
  }
  SubWorkflowRequest request;
  request.workflow_name = std::move(workflow_name);
  request.step_ids = std::move(step_ids);
  try {
    request.input_json = input.dump();
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("input is not valid JSON: ") + e.what());
  }
  request.timeout_secs = timeout_secs;
  return request;
}

Result<nlohmann::json> InputValue(const SubWorkflowRequest& request) {
  Result<Json> value = ParseJson(request.input_json);
  if (!value.ok()) {
    return value.status().WithPrefix("invalid input JSON: ").WithKind(ErrorKind::kEncode);
  }
  return value;
}

Result<std::optional<nlohmann::json>> ResultValue(const SubWorkflowResponse& response) {
  if (!response.result_json.has_value()) return std::optional<Json>();
  Result<Json> value = ParseJson(*response.result_json);
  if (!value.ok()) {
    return value.status().WithPrefix("invalid result JSON: ").WithKind(ErrorKind::kEncode);
  }
  return std::optional<Json>(std::move(value).value());
}

Result<std::map<std::string, nlohmann::json>> StateValues(const SubWorkflowResponse& response) {
  std::map<std::string, Json> values;
  for (const auto& [key, text] : response.state_json) {
    Result<Json> value = ParseJson(text);
    if (!value.ok()) {
      return value.status()
          .WithPrefix("invalid state JSON for key `" + KeyForPath(key) + "`: ")
          .WithKind(ErrorKind::kEncode);
    }
    values.emplace(key, std::move(value).value());
  }
  return values;
}

}  // namespace blazen
