#include <cstring>
#include <vector>

#include "tidemark/record.h"

namespace tidemark {

using format::Get32;
using format::Get64;
using format::Put32;
using format::Put64;

namespace {
constexpr size_t kFixedBody = 8 + 8 + 1 + 4 + 4 + 4;  // offset, ts, type, key len, value len, nhdr
static_assert(4 + kFixedBody == format::kMinEncodedRecordSize);

size_t NullableSize(const Bytes& b) { return 4 + (b.is_null ? 0 : b.len); }

uint8_t* PutNullable(uint8_t* p, const Bytes& b) {
  if (b.is_null) {
    Put32(p, 0xFFFFFFFFu);
    return p + 4;
  }
  Put32(p, static_cast<uint32_t>(b.len));
  if (b.len != 0) std::memcpy(p + 4, b.data, b.len);
  return p + 4 + b.len;
}
}  // namespace

size_t EncodedRecordSize(const RecordView& r) {
  size_t n = 4 + kFixedBody - 8;  // length prefix + fixed fields less the two nullable prefixes
  n += NullableSize(r.key) + NullableSize(r.value);
  for (const HeaderView& h : r.headers) n += 4 + h.name.size() + NullableSize(h.value);
  return n;
}

size_t EncodeRecord(const RecordView& r, uint8_t* dst) {
  const size_t total = EncodedRecordSize(r);
  uint8_t* p = dst;
  Put32(p, static_cast<uint32_t>(total - 4));
  Put64(p + 4, static_cast<uint64_t>(r.offset));
  Put64(p + 12, static_cast<uint64_t>(r.timestamp));
  p[20] = static_cast<uint8_t>(r.timestamp_type);
  p += 21;
  p = PutNullable(p, r.key);
  p = PutNullable(p, r.value);
  Put32(p, static_cast<uint32_t>(r.headers.size()));
  p += 4;
  for (const HeaderView& h : r.headers) {
    Put32(p, static_cast<uint32_t>(h.name.size()));
    std::memcpy(p + 4, h.name.data(), h.name.size());
    p += 4 + h.name.size();
    p = PutNullable(p, h.value);
  }
  return static_cast<size_t>(p - dst);
}

namespace {
// Reads a nullable byte string at *pos within [.., end). False when it would overrun.
bool ReadNullable(const uint8_t* base, size_t end, size_t* pos, Bytes* out) {
  if (*pos + 4 > end) return false;
  const uint32_t len = Get32(base + *pos);
  *pos += 4;
  if (len == 0xFFFFFFFFu) {
    *out = Bytes::Null();
    return true;
  }
  if (len > end - *pos) return false;
  *out = Bytes::Of(base + *pos, len);
  *pos += len;
  return true;
}
}  // namespace

bool RecordDecoder::Next(RecordView* out) {
  if (!status_.ok() || pos_ >= data_.size()) return false;
  const uint8_t* base = data_.data();
  auto corrupt = [&](const char* what) {
    status_ = Status::Corrupt(std::string("record at payload byte ") + std::to_string(pos_) + ": " +
                              what);
    return false;
  };
  if (data_.size() - pos_ < 4) return corrupt("truncated length prefix");
  const uint32_t body = Get32(base + pos_);
  if (body < kFixedBody || body > data_.size() - pos_ - 4) return corrupt("length out of range");
  const size_t end = pos_ + 4 + body;
  size_t p = pos_ + 4;
  out->offset = static_cast<int64_t>(Get64(base + p));
  out->timestamp = static_cast<int64_t>(Get64(base + p + 8));
  const uint8_t tstype = base[p + 16];
  if (tstype > 2) return corrupt("unknown timestamp type");
  out->timestamp_type = static_cast<format::TimestampType>(tstype);
  p += 17;
  if (!ReadNullable(base, end, &p, &out->key)) return corrupt("key overruns the record");
  if (!ReadNullable(base, end, &p, &out->value)) return corrupt("value overruns the record");
  if (p + 4 > end) return corrupt("header count overruns the record");
  const uint32_t count = Get32(base + p);
  p += 4;
  // Each header needs at least 8 bytes, which bounds a corrupt count before we size anything.
  if (count > (end - p) / 8) return corrupt("header count out of range");
  HeaderView* hs = headers_;
  if (count > std::size(headers_)) {
    overflow_headers_.resize(count);
    hs = overflow_headers_.data();
  }
  for (uint32_t i = 0; i < count; ++i) {
    if (p + 4 > end) return corrupt("header name length overruns the record");
    const uint32_t nlen = Get32(base + p);
    p += 4;
    if (nlen > end - p) return corrupt("header name overruns the record");
    hs[i].name = std::string_view(reinterpret_cast<const char*>(base + p), nlen);
    p += nlen;
    if (!ReadNullable(base, end, &p, &hs[i].value))
      return corrupt("header value overruns the record");
  }
  if (p != end) return corrupt("record length disagrees with its fields");
  out->headers = std::span<const HeaderView>(hs, count);
  pos_ = end;
  return true;
}

}  // namespace tidemark
