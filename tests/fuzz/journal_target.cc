// Fuzz target: the journal scanner (segment::ScanJournal, segment/journal_format.h), which the
// service's recovery runs on every journal file at start. The input is a journal file; the seq
// its name would give is taken from its first frame's header, so the fuzzer need not guess it.
//
// Beyond "never reads out of bounds": the frames it accepts end where it says, their sections'
// records decode within their ranges, and they encode back (FrameBuilder) to exactly the bytes
// they were read from, so nothing is dropped or invented; a scan that stops without a reason
// stops at the end of the input or at zeros.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_util.h"
#include "segment/journal_format.h"

using namespace tidemark;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint64_t first_seq = size >= 16 ? format::Get64(data + 8) : 0;
  const auto scan = segment::ScanJournal(std::span<const uint8_t>(data, size), first_seq);
  if (scan.end > size) fuzz::Fail("scan ends past the input");
  static segment::FrameBuilder* builder = new segment::FrameBuilder;
  uint64_t pos = 0;
  for (const auto& f : scan.frames) {
    if (f.file_offset != pos) fuzz::Fail("frames are not back to back");
    builder->Begin(f.header.seq, f.header.shard, f.header.created_ms);
    for (const auto& s : f.sections) {
      RecordDecoder dec(s.records);
      RecordView r;
      uint32_t n = 0;
      while (dec.Next(&r)) {
        if (r.offset < s.first_offset || r.offset > s.last_offset)
          fuzz::Fail("a record outside its section's range");
        ++n;
      }
      if (!dec.status().ok() || n != s.record_count)
        fuzz::Fail("a section's records do not decode");
      builder->AddSection(s.topic, s.partition, s.first_offset, s.last_offset, s.record_count,
                          s.records);
    }
    const uint64_t len = builder->Finish();
    if (len > size - pos || std::memcmp(builder->data(), data + pos, len) != 0)
      fuzz::Fail("an accepted frame does not encode back to its bytes at " + std::to_string(pos));
    pos += len;
  }
  if (pos != scan.end) fuzz::Fail("scan end differs from its frames' end");
  if (scan.stopped_because.empty()) {
    for (uint64_t i = pos; i < size && i < pos + segment::kFrameHeaderSize; ++i)
      if (data[i] != 0) fuzz::Fail("scan stopped without a reason before non-zero bytes");
  }
  return 0;
}
