#include "segment/journal_format.h"

#include <charconv>
#include <cstdio>
#include <cstring>

#include "tidemark/assert.h"
#include "tidemark/record.h"

namespace tidemark::segment {

using format::Get16;
using format::Get32;
using format::Get64;
using format::Put16;
using format::Put32;
using format::Put64;

std::string JournalFileName(int shard, uint64_t first_seq) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%03d-%020llu", shard,
                static_cast<unsigned long long>(first_seq));
  return std::string(buf) + std::string(kJournalSuffix);
}

bool ParseJournalFileName(std::string_view name, int* shard, uint64_t* first_seq) {
  if (name.size() <= kJournalSuffix.size() || !name.ends_with(kJournalSuffix)) return false;
  name.remove_suffix(kJournalSuffix.size());
  const size_t dash = name.find('-');
  if (dash == std::string_view::npos) return false;
  int s = -1;
  uint64_t q = 0;
  const char* b = name.data();
  const auto [se, serr] = std::from_chars(b, b + dash, s);
  const auto [qe, qerr] = std::from_chars(b + dash + 1, b + name.size(), q);
  if (serr != std::errc() || se != b + dash || qerr != std::errc() || qe != b + name.size() ||
      s < 0)
    return false;
  // Canonical only: the name a writer would give it (no signs, no missing zeros).
  if (JournalFileName(s, q) != std::string(name) + std::string(kJournalSuffix)) return false;
  *shard = s;
  *first_seq = q;
  return true;
}

Status DecodeFrameHeader(const uint8_t* src, uint64_t avail, FrameHeader* out) {
  if (avail < kFrameHeaderSize) return Status::Corrupt("frame header truncated");
  if (Get32(src) != kJournalMagic) return Status::Corrupt("bad frame magic");
  if (format::Xxh3(src, 56) != Get64(src + 56)) return Status::Corrupt("frame header checksum");
  if (Get16(src + 4) != kJournalVersion)
    return Status::Corrupt("unknown journal version " + std::to_string(Get16(src + 4)));
  if (Get16(src + 6) != 0 || Get64(src + 48) != 0)
    return Status::Corrupt("frame header reserved field is not zero");
  FrameHeader h;
  h.seq = Get64(src + 8);
  h.payload_size = Get64(src + 16);
  h.section_count = Get32(src + 24);
  h.shard = Get32(src + 28);
  h.created_ms = static_cast<int64_t>(Get64(src + 32));
  h.payload_xxh3 = Get64(src + 40);
  if (h.payload_size > kMaxFramePayload)
    return Status::Corrupt("frame payload of " + std::to_string(h.payload_size) +
                           " bytes is above the limit");
  if (h.section_count == 0) return Status::Corrupt("frame without sections");
  // Each section takes at least its fixed part, a one-byte topic and one record.
  if (h.section_count >
      h.payload_size / (2 + 1 + kSectionFixedSize + format::kMinEncodedRecordSize))
    return Status::Corrupt("frame section count out of range");
  if (FrameSize(h.payload_size) > avail)
    return Status::Corrupt("frame truncated: " + std::to_string(avail) + " of its " +
                           std::to_string(FrameSize(h.payload_size)) + " bytes");
  *out = h;
  return Status::Ok();
}

namespace {

Status DecodeSection(const uint8_t* p, size_t avail, JournalSection* s, size_t* used) {
  auto corrupt = [](const std::string& what) { return Status::Corrupt("section: " + what); };
  if (avail < 2) return corrupt("truncated topic length");
  const size_t tlen = Get16(p);
  if (tlen > avail - 2 || avail - 2 - tlen < kSectionFixedSize)
    return corrupt("topic or fixed fields overrun the payload");
  s->topic = std::string_view(reinterpret_cast<const char*>(p + 2), tlen);
  if (!format::IsLegalTopicName(s->topic)) return corrupt("not a legal topic name");
  const uint8_t* f = p + 2 + tlen;
  s->partition = static_cast<int32_t>(Get32(f));
  s->first_offset = static_cast<int64_t>(Get64(f + 4));
  s->last_offset = static_cast<int64_t>(Get64(f + 12));
  s->record_count = Get32(f + 20);
  const uint32_t size = Get32(f + 24);
  const size_t head = 2 + tlen + kSectionFixedSize;
  if (s->partition < 0) return corrupt("negative partition");
  if (s->first_offset < 0 || s->first_offset > s->last_offset)
    return corrupt("offset range " + std::to_string(s->first_offset) + ".." +
                   std::to_string(s->last_offset));
  if (s->record_count == 0) return corrupt("no records");
  if (size > avail - head) return corrupt("records overrun the payload");
  if (size / format::kMinEncodedRecordSize < s->record_count)
    return corrupt("record count out of range");
  // More records than offsets in the range cannot be (offsets only increase).
  if (static_cast<uint64_t>(s->last_offset - s->first_offset) < s->record_count - 1)
    return corrupt("more records than offsets in its range");
  s->records = std::span<const uint8_t>(p + head, size);
  RecordDecoder dec(s->records);
  RecordView r;
  uint32_t n = 0;
  int64_t prev = s->first_offset - 1;
  while (dec.Next(&r)) {
    if (r.offset <= prev) return corrupt("record offsets do not increase");
    if (r.offset > s->last_offset) return corrupt("a record past the section's last offset");
    prev = r.offset;
    if (++n > s->record_count) return corrupt("more records than its count");
  }
  TM_RETURN_IF_ERROR(dec.status().WithContext("section"));
  if (n != s->record_count) return corrupt("fewer records than its count");
  if (prev != s->last_offset) return corrupt("its last record is not at its last offset");
  *used = head + size;
  return Status::Ok();
}

}  // namespace

Status DecodeFrameBody(const FrameHeader& h, const uint8_t* frame,
                       std::vector<JournalSection>* sections) {
  sections->clear();
  const uint8_t* payload = frame + kFrameHeaderSize;
  if (format::Xxh3(payload, h.payload_size) != h.payload_xxh3)
    return Status::Corrupt("frame payload checksum");
  TM_RETURN_IF_ERROR(format::CheckZeroPadding(frame, kFrameHeaderSize + h.payload_size,
                                              FrameSize(h.payload_size), "frame"));
  size_t pos = 0;
  for (uint32_t i = 0; i < h.section_count; ++i) {
    JournalSection s;
    size_t used = 0;
    TM_RETURN_IF_ERROR(DecodeSection(payload + pos, h.payload_size - pos, &s, &used)
                           .WithContext("section " + std::to_string(i)));
    pos += used;
    sections->push_back(s);
  }
  if (pos != h.payload_size) return Status::Corrupt("frame sections do not fill its payload");
  return Status::Ok();
}

JournalScan ScanJournal(std::span<const uint8_t> file, uint64_t first_seq) {
  JournalScan out;
  uint64_t pos = 0;
  uint64_t seq = first_seq;
  while (pos < file.size()) {
    const uint64_t avail = file.size() - pos;
    // A page of zeros where a frame would start: nothing was written there (the end).
    bool zeros = true;
    for (uint64_t i = 0; i < std::min<uint64_t>(avail, kFrameHeaderSize) && zeros; ++i)
      zeros = file[pos + i] == 0;
    if (zeros) break;
    ScannedFrame f;
    Status st = DecodeFrameHeader(file.data() + pos, avail, &f.header);
    if (st.ok() && f.header.seq != seq)
      st = Status::Corrupt("frame seq " + std::to_string(f.header.seq) + " where " +
                           std::to_string(seq) + " was next");
    if (st.ok()) st = DecodeFrameBody(f.header, file.data() + pos, &f.sections);
    if (!st.ok()) {
      out.stopped_because = "at byte " + std::to_string(pos) + ": " + st.message();
      break;
    }
    f.file_offset = pos;
    pos += FrameSize(f.header.payload_size);
    ++seq;
    out.frames.push_back(std::move(f));
  }
  out.end = pos;
  return out;
}

void FrameBuilder::Reserve(size_t bytes) {
  if (buf_.capacity() >= bytes) return;
  io::AlignedBuffer bigger(std::max<size_t>(bytes, 2 * buf_.capacity()));
  if (used_ > 0) std::memcpy(bigger.data(), buf_.data(), used_);
  buf_ = std::move(bigger);
}

void FrameBuilder::Begin(uint64_t seq, uint32_t shard, int64_t now_ms) {
  Reserve(format::kPageSize);
  used_ = kFrameHeaderSize;
  seq_ = seq;
  shard_ = shard;
  created_ms_ = now_ms;
  sections_ = 0;
}

void FrameBuilder::AddSection(std::string_view topic, int32_t partition, int64_t first_offset,
                              int64_t last_offset, uint32_t record_count,
                              std::span<const uint8_t> records) {
  TM_CHECK(used_ >= kFrameHeaderSize && topic.size() <= format::kMaxTopicName);
  TM_CHECK(record_count > 0 && first_offset <= last_offset && records.size() <= UINT32_MAX);
  const size_t need = 2 + topic.size() + kSectionFixedSize + records.size();
  TM_CHECK_MSG(used_ - kFrameHeaderSize + need <= kMaxFramePayload, "journal frame too large");
  Reserve(used_ + need);
  uint8_t* p = buf_.data() + used_;
  Put16(p, static_cast<uint16_t>(topic.size()));
  std::memcpy(p + 2, topic.data(), topic.size());
  uint8_t* f = p + 2 + topic.size();
  Put32(f, static_cast<uint32_t>(partition));
  Put64(f + 4, static_cast<uint64_t>(first_offset));
  Put64(f + 12, static_cast<uint64_t>(last_offset));
  Put32(f + 20, record_count);
  Put32(f + 24, static_cast<uint32_t>(records.size()));
  if (!records.empty()) std::memcpy(f + kSectionFixedSize, records.data(), records.size());
  used_ += need;
  ++sections_;
}

uint64_t FrameBuilder::Finish() {
  TM_CHECK(sections_ > 0);
  const uint64_t size = FrameSize(used_ - kFrameHeaderSize);
  Reserve(size);
  uint8_t* h = buf_.data();
  const uint64_t payload = used_ - kFrameHeaderSize;
  Put32(h, kJournalMagic);
  Put16(h + 4, kJournalVersion);
  Put16(h + 6, 0);
  Put64(h + 8, seq_);
  Put64(h + 16, payload);
  Put32(h + 24, sections_);
  Put32(h + 28, shard_);
  Put64(h + 32, static_cast<uint64_t>(created_ms_));
  Put64(h + 40, format::Xxh3(h + kFrameHeaderSize, payload));
  Put64(h + 48, 0);
  Put64(h + 56, format::Xxh3(h, 56));
  // Padding: zeros to the page boundary, so the file holds no stale memory and every byte of
  // the frame is covered (readers check it is zero). Example: header 64 + payload 300 = 364
  // bytes; the frame is 4096 bytes and bytes 364..4095 are zero.
  std::memset(h + used_, 0, size - used_);
  return size;
}

}  // namespace tidemark::segment
