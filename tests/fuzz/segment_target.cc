// Fuzz target: the segment reader on a whole file (segment::SegmentReader), as verify, restore
// and the store recovery use it: Open() (header page, trailer, footer), then every block by the
// footer's index (ReadIndexed), then every block by a scan from the first block (ScanNext), each
// payload's records walked.
// The input is the file; it is handed over through a memfd opened by path.
//
// fuzz_segment mutates bytes blindly; fuzz_segment_structured adds segment_mutator.cc, which
// edits decoded fields and recomputes every XXH3 so the checks behind the checksums are reached.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "segment/segment_reader.h"

using namespace tidemark;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile* file = new fuzz::MemFile;
  segment::SegmentReader reader;
  if (!reader.Open(file->Set(data, size)).ok()) return 0;
  if (reader.file_size() != size) fuzz::Fail("file size differs from the input's");
  if (reader.blocks_end() > reader.file_size()) fuzz::Fail("blocks end past the end of the file");
  format::BlockHeader h;
  std::span<const uint8_t> payload;
  auto check = [&](uint64_t off) {
    if (payload.size() != h.raw_size) fuzz::Fail("payload size differs from the header's");
    if (off + h.block_size > reader.blocks_end()) fuzz::Fail("a block read past the blocks' end");
    fuzz::WalkPayload(payload, h);
  };
  if (reader.footer_status().ok()) {
    const auto& index = reader.footer().blocks;
    for (size_t i = 0; i < index.size(); ++i) {
      if (!reader.ReadIndexed(i, &h, &payload).ok()) continue;
      if (h.first_offset != index[i].first_offset || h.block_size != index[i].block_size)
        fuzz::Fail("a block read through the index disagrees with its entry");
      check(index[i].file_offset);
    }
  }
  segment::BlockScan scan;
  for (;;) {
    const uint64_t off = scan.pos;
    auto more = reader.ScanNext(&scan, &h, &payload);
    if (!more.ok() || !*more) break;
    check(off);
    if (scan.pos != off + h.block_size) fuzz::Fail("a scan did not move past its block");
  }
  return 0;
}
