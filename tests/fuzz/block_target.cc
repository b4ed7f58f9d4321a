// Fuzz target: the one block reader's checks of a block in memory (segment::CheckBlock), which
// every reader runs on a block before trusting it (SegmentReader's reads and scans, restore's
// io_uring reads, the journal's blocks appended by recovery): header checks, payload XXH3,
// padding, decompression to the recorded size; then the payload's records are walked as readers
// do. The input is one block, header first.
//
// fuzz_block mutates bytes blindly; fuzz_block_structured adds block_mutator.cc, which edits the
// decoded header fields and records and recomputes the payload and header XXH3.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "segment/segment_reader.h"

using namespace tidemark;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static segment::BlockDecoder* decoder = new segment::BlockDecoder;
  format::BlockHeader h;
  std::span<const uint8_t> payload;
  if (!segment::CheckBlock(decoder, data, size, nullptr, &h, &payload).ok()) return 0;
  if (format::kBlockHeaderSize + h.stored_size > size) fuzz::Fail("payload past the input");
  if (payload.size() != h.raw_size) fuzz::Fail("payload size differs from the header's");
  fuzz::WalkPayload(payload, h);
  return 0;
}
