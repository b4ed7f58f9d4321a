// Fuzz target: the block decoder (segment::BlockDecoder::Decode), which every reader runs on a
// block before trusting it: header checks, payload XXH3, decompression to the recorded size;
// then the payload's records are walked as readers do. The input is one block, header first.
//
// fuzz_block mutates bytes blindly; fuzz_block_structured adds block_mutator.cc, which edits the
// decoded header fields and records and recomputes the payload and header XXH3.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "segment/block.h"

using namespace tidemark;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static segment::BlockDecoder* decoder = new segment::BlockDecoder;
  format::BlockHeader h;
  std::span<const uint8_t> payload;
  if (!decoder->Decode(data, size, &h, &payload).ok()) return 0;
  if (format::kBlockHeaderSize + h.stored_size > size) fuzz::Fail("payload past the input");
  if (payload.size() != h.raw_size) fuzz::Fail("payload size differs from the header's");
  fuzz::WalkPayload(payload, h);
  return 0;
}
