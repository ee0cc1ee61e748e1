// SPDX-License-Identifier: Apache-2.0
#pragma once
// Low-level postcard primitives used by core/postcard.cc: a growing Writer and a bounds-checked
// Reader that remembers which field it is in, so errors can say where decoding failed.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/postcard.h"
#include "core/status.h"

namespace blazen::detail {

/// Appends postcard primitives to a byte vector. Externally synchronized.
class PostcardWriter {
 public:
  void Varint(std::uint64_t value) {
    while (value >= 0x80) {
      out_.push_back(static_cast<std::uint8_t>(value | 0x80));
      value >>= 7;
    }
    out_.push_back(static_cast<std::uint8_t>(value));
  }
  void Bool(bool value) { out_.push_back(value ? 1 : 0); }
  void OptionTag(bool some) { out_.push_back(some ? 1 : 0); }
  void Bytes(std::span<const std::uint8_t> bytes) {
    Varint(bytes.size());
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }
  void Bytes(std::string_view bytes) { Bytes(AsBytes(bytes)); }

  [[nodiscard]] ByteVector Take() && { return std::move(out_); }

 private:
  ByteVector out_;
};

/// Reads postcard primitives from a span, never past its end. Every read names the field it reads
/// (`Field` scopes build a path such as `SubWorkflowRequest.step_ids[1]`), which is formatted into
/// the error only when decoding fails. Externally synchronized.
class PostcardReader {
 public:
  PostcardReader(ByteSpan input, std::string_view type_name) : input_(input) {
    path_.push_back({type_name, kNoIndex});
  }

  /// RAII path element: `PostcardReader::Field f(reader, "step_ids", i);`.
  class Field {
   public:
    Field(PostcardReader& reader, std::string_view name, std::size_t index = kNoIndex)
        : reader_(reader) {
      reader_.path_.push_back({name, index});
    }
    ~Field() { reader_.path_.pop_back(); }
    Field(const Field&) = delete;
    Field& operator=(const Field&) = delete;
    Field(Field&&) = delete;
    Field& operator=(Field&&) = delete;

   private:
    PostcardReader& reader_;
  };

  /// u16/u32/u64/usize varints: at most ceil(bits/7) bytes; the last byte may only carry the bits
  /// that fit (postcard's `max_of_last_byte`). Over-long but in-range encodings are accepted.
  [[nodiscard]] Result<std::uint32_t> U32() {
    BLAZEN_ASSIGN_OR_RETURN(std::uint64_t v, Varint(5, 0x0F));
    return static_cast<std::uint32_t>(v);
  }
  [[nodiscard]] Result<std::uint64_t> U64() { return Varint(10, 0x01); }

  [[nodiscard]] Result<bool> Bool() {
    BLAZEN_ASSIGN_OR_RETURN(std::uint8_t b, Byte());
    if (b > 1) return Fail(PostcardError::kBadBool);
    return b == 1;
  }

  /// Option discriminant: true for Some.
  [[nodiscard]] Result<bool> OptionTag() {
    BLAZEN_ASSIGN_OR_RETURN(std::uint8_t b, Byte());
    if (b > 1) return Fail(PostcardError::kBadOption);
    return b == 1;
  }

  /// A byte string (or a Vec<u8>, which postcard encodes identically). The view aliases the input.
  [[nodiscard]] Result<std::string_view> Bytes() {
    BLAZEN_ASSIGN_OR_RETURN(std::uint64_t len, U64());
    if (len > remaining()) return Fail(PostcardError::kUnexpectedEnd);
    std::string_view out(reinterpret_cast<const char*>(input_.data() + pos_),
                         static_cast<std::size_t>(len));
    pos_ += static_cast<std::size_t>(len);
    return out;
  }

  /// A UTF-8 string; the view aliases the input.
  [[nodiscard]] Result<std::string_view> Str();

  /// A sequence or map element count. A count larger than the remaining input cannot be
  /// satisfied (every element takes at least one byte) and fails before anything is allocated.
  [[nodiscard]] Result<std::size_t> Count() {
    BLAZEN_ASSIGN_OR_RETURN(std::uint64_t n, U64());
    if (n > remaining()) return Fail(PostcardError::kUnexpectedEnd);
    return static_cast<std::size_t>(n);
  }

  /// A UUID: a byte string of exactly 16 bytes (anything else is postcard's SerdeDeCustom).
  [[nodiscard]] Result<Uuid> UuidValue();

  /// The error `error` at the current field and position.
  [[nodiscard]] Status Fail(PostcardError error, std::string_view detail = {}) const;

  [[nodiscard]] std::size_t remaining() const { return input_.size() - pos_; }
  [[nodiscard]] std::size_t position() const { return pos_; }

 private:
  static constexpr std::size_t kNoIndex = std::numeric_limits<std::size_t>::max();
  struct PathElement {
    std::string_view name;
    std::size_t index;
  };

  [[nodiscard]] Result<std::uint8_t> Byte() {
    if (pos_ >= input_.size()) return Fail(PostcardError::kUnexpectedEnd);
    return input_[pos_++];
  }

  [[nodiscard]] Result<std::uint64_t> Varint(int max_bytes, std::uint8_t max_last_byte);

  ByteSpan input_;
  std::size_t pos_ = 0;
  std::vector<PathElement> path_;
};

}  // namespace blazen::detail
