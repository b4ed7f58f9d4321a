// A Kafka record as tidemark keeps it, and its byte encoding inside a block payload.
//
// Views only: nothing here owns memory, so a record can be encoded straight from librdkafka's
// message into a block buffer without a heap allocation.
//
// Record encoding (little-endian), see docs/FORMAT.md:
//   u32 body length (bytes after this field)
//   i64 offset, i64 timestamp (ms), u8 timestamp type
//   i32 key length (-1: null key), key bytes
//   i32 value length (-1: null value), value bytes
//   u32 header count, then per header: u32 name length, name bytes,
//                                      i32 value length (-1: null value), value bytes
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "tidemark/format.h"
#include "tidemark/status.h"

namespace tidemark {

// A byte string that can be null (distinct from empty).
struct Bytes {
  const uint8_t* data = nullptr;  // null with len 0: a null value
  size_t len = 0;
  bool is_null = true;

  static Bytes Null() { return {}; }
  static Bytes Of(const void* p, size_t n) { return {static_cast<const uint8_t*>(p), n, false}; }
  static Bytes Of(std::string_view s) { return Of(s.data(), s.size()); }
  std::string_view view() const { return {reinterpret_cast<const char*>(data), len}; }
  bool operator==(const Bytes& o) const {
    return is_null == o.is_null && (is_null || view() == o.view());
  }
};

struct HeaderView {
  std::string_view name;
  Bytes value;
};

struct RecordView {
  int64_t offset = 0;
  int64_t timestamp = 0;
  format::TimestampType timestamp_type = format::TimestampType::kCreateTime;
  Bytes key;
  Bytes value;
  std::span<const HeaderView> headers;
};

// Bytes the encoding of `r` takes, including its length prefix.
size_t EncodedRecordSize(const RecordView& r);
// Encodes `r` at dst, which must hold EncodedRecordSize(r) bytes; returns the bytes written.
size_t EncodeRecord(const RecordView& r, uint8_t* dst);

// Walks the records of a decoded block payload. Every length is bounds-checked: corrupt input
// yields a Corrupt status, never an out-of-bounds read. Headers are decoded into a caller-owned
// scratch span, so iteration does not allocate once the scratch is large enough.
class RecordDecoder {
 public:
  explicit RecordDecoder(std::span<const uint8_t> payload) : data_(payload) {}

  // Returns true and fills *out when a record was decoded; false at the end or on error
  // (check status()). Header views point into the payload and stay valid while it does.
  bool Next(RecordView* out);
  const Status& status() const { return status_; }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  Status status_;
  HeaderView headers_[64];
  std::vector<HeaderView> overflow_headers_;
};

}  // namespace tidemark
