// Record-aware mutation of a block payload (see mutate.h and include/tidemark/record.h).
#include <algorithm>
#include <cstring>
#include <string>

#include "mutate.h"
#include "tidemark/record.h"

namespace tidemark::fuzz {

using format::Get32;
using format::Get64;
using format::Put32;

namespace {

// Where one record lies in the payload and where its length fields are.
struct RecordSpan {
  size_t begin = 0, end = 0;
  std::vector<size_t> lengths;  // positions of its u32/i32 length and count fields
};

// Walks the records leniently from the start, stopping at the first one whose lengths do not
// fit (so every span returned is a well-formed encoding).
std::vector<RecordSpan> Walk(const std::vector<uint8_t>& p) {
  std::vector<RecordSpan> out;
  size_t pos = 0;
  while (p.size() - pos >= 4) {
    RecordSpan s;
    s.begin = pos;
    const uint64_t body = Get32(p.data() + pos);
    if (body > p.size() - pos - 4 || body < 29) break;
    s.end = pos + 4 + body;
    s.lengths.push_back(pos);
    size_t q = pos + 4 + 17;
    auto nullable = [&]() {
      if (q + 4 > s.end) return false;
      s.lengths.push_back(q);
      const uint32_t n = Get32(p.data() + q);
      q += 4;
      if (n == 0xFFFFFFFFu) return true;
      if (n > s.end - q) return false;
      q += n;
      return true;
    };
    if (!nullable() || !nullable() || q + 4 > s.end) break;
    s.lengths.push_back(q);
    const uint32_t count = Get32(p.data() + q);
    q += 4;
    bool ok = true;
    for (uint32_t i = 0; i < count && ok; ++i) {
      if (q + 4 > s.end) {
        ok = false;
        break;
      }
      s.lengths.push_back(q);
      const uint32_t n = Get32(p.data() + q);
      q += 4;
      if (n > s.end - q) {
        ok = false;
        break;
      }
      q += n;
      ok = nullable();
    }
    if (!ok || q != s.end) break;
    out.push_back(std::move(s));
    pos = s.end;
  }
  return out;
}

// A generated record: null, empty and short keys, values and header values, up to 100 headers
// (past the decoder's 64 inline header slots).
std::vector<uint8_t> Generate(Rng& rng, int64_t offset) {
  std::vector<std::string> strings;
  strings.reserve(210);
  auto bytes = [&]() -> Bytes {
    switch (rng.Below(4)) {
      case 0:
        return Bytes::Null();
      case 1:
        return Bytes::Of("", 0);
      default:
        strings.push_back(std::string(rng.Below(40), static_cast<char>('a' + rng.Below(26))));
        return Bytes::Of(strings.back());
    }
  };
  std::vector<HeaderView> headers(rng.OneIn(8) ? 60 + rng.Below(41) : rng.Below(5));
  for (HeaderView& h : headers) {
    strings.push_back("h" + std::to_string(rng.Below(10)));
    h.name = strings.back();
    h.value = bytes();
  }
  RecordView r;
  r.offset = offset;
  r.timestamp = static_cast<int64_t>(rng.Interesting64(1763647380000));
  r.timestamp_type = static_cast<format::TimestampType>(rng.Below(3));
  r.key = bytes();
  r.value = bytes();
  r.headers = headers;
  std::vector<uint8_t> out(EncodedRecordSize(r));
  EncodeRecord(r, out.data());
  return out;
}

}  // namespace

void BlindMutate(std::vector<uint8_t>* bytes, size_t max_size) {
  const size_t size = bytes->size();
  bytes->resize(std::max(max_size, size));
  if (bytes->empty()) bytes->resize(1);
  bytes->resize(LLVMFuzzerMutate(bytes->data(), std::min(size, bytes->size()), bytes->size()));
}

RecordStats ScanRecords(const std::vector<uint8_t>& payload) {
  RecordStats st;
  for (const RecordSpan& s : Walk(payload)) {
    const int64_t off = static_cast<int64_t>(Get64(payload.data() + s.begin + 4));
    const int64_t ts = static_cast<int64_t>(Get64(payload.data() + s.begin + 12));
    if (st.count == 0) {
      st.first_offset = off;
      st.min_timestamp = st.max_timestamp = ts;
    }
    st.last_offset = off;
    st.min_timestamp = std::min(st.min_timestamp, ts);
    st.max_timestamp = std::max(st.max_timestamp, ts);
    ++st.count;
  }
  return st;
}

void MutateRecords(std::vector<uint8_t>* p, Rng& rng, size_t max_size) {
  std::vector<RecordSpan> spans = Walk(*p);
  const size_t parsed_end = spans.empty() ? 0 : spans.back().end;
  auto pick = [&]() -> const RecordSpan& { return spans[rng.Below(spans.size())]; };
  switch (spans.empty() ? 6 + rng.Below(2) : rng.Below(9)) {
    case 0:
    case 1: {  // a length or count field set to a value that breaks its bounds
      const RecordSpan& s = pick();
      const size_t at = s.lengths[rng.Below(s.lengths.size())];
      const uint32_t now = Get32(p->data() + at);
      const uint32_t room = static_cast<uint32_t>(std::min<size_t>(s.end - at, UINT32_MAX));
      uint32_t v = rng.OneIn(2) ? rng.Interesting32(now) : rng.Interesting32(room);
      if (rng.OneIn(8)) v = 0xFFFFFFFFu;  // null, where a length is expected
      Put32(p->data() + at, v);
      break;
    }
    case 2: {  // a record's body mutated, its length prefix kept consistent
      const RecordSpan& s = pick();
      std::vector<uint8_t> body(p->begin() + static_cast<ptrdiff_t>(s.begin + 4),
                                p->begin() + static_cast<ptrdiff_t>(s.end));
      BlindMutate(&body, body.size() + 64);
      std::vector<uint8_t> rec(4);
      Put32(rec.data(), static_cast<uint32_t>(body.size()));
      rec.insert(rec.end(), body.begin(), body.end());
      p->erase(p->begin() + static_cast<ptrdiff_t>(s.begin),
               p->begin() + static_cast<ptrdiff_t>(s.end));
      p->insert(p->begin() + static_cast<ptrdiff_t>(s.begin), rec.begin(), rec.end());
      break;
    }
    case 3: {  // a record removed
      const RecordSpan& s = pick();
      p->erase(p->begin() + static_cast<ptrdiff_t>(s.begin),
               p->begin() + static_cast<ptrdiff_t>(s.end));
      break;
    }
    case 4: {  // a record duplicated (offsets then repeat) or moved to the end
      const RecordSpan s = pick();
      std::vector<uint8_t> rec(p->begin() + static_cast<ptrdiff_t>(s.begin),
                               p->begin() + static_cast<ptrdiff_t>(s.end));
      if (rng.OneIn(2))
        p->erase(p->begin() + static_cast<ptrdiff_t>(s.begin),
                 p->begin() + static_cast<ptrdiff_t>(s.end));
      p->insert(p->begin() + static_cast<ptrdiff_t>(std::min(parsed_end, p->size())), rec.begin(),
                rec.end());
      break;
    }
    case 5: {  // a record's offset or timestamp changed (order and range checks)
      const RecordSpan& s = pick();
      const size_t at = s.begin + 4 + (rng.OneIn(2) ? 0 : 8);
      format::Put64(p->data() + at, rng.Interesting64(Get64(p->data() + at)));
      break;
    }
    case 6: {             // a generated record inserted after the well-formed ones
      uint64_t last = 0;  // unsigned: the offset after INT64_MAX wraps, as a corrupt one may
      if (!spans.empty()) last = Get64(p->data() + spans.back().begin + 4);
      std::vector<uint8_t> rec = Generate(rng, static_cast<int64_t>(last + 1 + rng.Below(3)));
      const size_t at = rng.OneIn(4) ? 0 : parsed_end;
      p->insert(p->begin() + static_cast<ptrdiff_t>(std::min(at, p->size())), rec.begin(),
                rec.end());
      break;
    }
    case 7: {  // cut short, or trailing bytes
      if (!p->empty() && rng.OneIn(2)) {
        p->resize(rng.Below(p->size()));
      } else {
        for (uint64_t n = 1 + rng.Below(8); n > 0; --n)
          p->push_back(static_cast<uint8_t>(rng.Next()));
      }
      break;
    }
    default:
      BlindMutate(p, max_size);
      break;
  }
  if (p->size() > max_size) p->resize(max_size);
}

}  // namespace tidemark::fuzz
