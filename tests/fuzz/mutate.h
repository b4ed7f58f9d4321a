// Structure-aware mutation for the *_structured fuzz targets (issue 13).
//
// A blind fuzzer stops at the first XXH3 check: almost every mutated segment, block or record
// payload is rejected for its checksum, and the checks behind it are never reached. These
// mutators decode the input leniently (fields as written, nothing checked), change decoded fields
// (sizes, offsets, counts, codec, block sizes, footer entries, trailer, record lengths), encode it
// again and recompute every XXH3 (file header page, block header, payload, footer, trailer), so the
// reader's deeper checks see inputs that pass the checksums. Each LLVMFuzzerCustomMutator also
// falls back to libFuzzer's own byte mutations followed by a checksum repair, so blind edits
// anywhere get past the checksums too.
//
// Everything is deterministic in the seed libFuzzer hands over (a crash can be replayed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_util.h"
#include "tidemark/format.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace tidemark::fuzz {

// libFuzzer's byte-level mutation of `bytes`, allowed to grow to max_size.
void BlindMutate(std::vector<uint8_t>* bytes, size_t max_size);

// --- records (a block's decompressed payload) ---------------------------------------------------

// Changes the encoded records in `payload`: a length field set to a value that breaks its
// bounds, a record's body mutated with its length prefix kept consistent, records inserted
// (generated, up to 100 headers), removed, duplicated or swapped, or the payload cut short.
void MutateRecords(std::vector<uint8_t>* payload, Rng& rng, size_t max_size);

// Offsets, timestamps and count of the records that decode leniently from the payload's start.
struct RecordStats {
  uint32_t count = 0;
  int64_t first_offset = 0, last_offset = -1;
  int64_t min_timestamp = 0, max_timestamp = 0;
};
RecordStats ScanRecords(const std::vector<uint8_t>& payload);

// --- blocks ------------------------------------------------------------------------------------

struct BlockModel {
  format::BlockHeader h;        // as written, unchecked
  std::vector<uint8_t> stored;  // the stored payload (clipped to what the input holds)
};
// Reads the block at p leniently: false when fewer than 80 bytes or no block magic.
bool ParseBlock(const uint8_t* p, size_t avail, BlockModel* out);
// Appends the block: its header with the payload XXH3 (unless keep_payload_xxh3) and the
// header XXH3 recomputed, the stored payload, and zeros up to block_size (or to the next page
// when block_size cannot hold the payload).
void AppendBlock(const BlockModel& b, std::vector<uint8_t>* out, bool keep_payload_xxh3 = false);
// The decompressed payload (at most 4 MiB): false when it does not decompress.
bool RawPayload(const BlockModel& b, std::vector<uint8_t>* raw);
// Replaces the payload with `raw` stored under `codec`; sizes follow, and with `restat` the
// record count, offsets and timestamps are taken from the records.
void SetPayload(BlockModel* b, format::Codec codec, const std::vector<uint8_t>& raw, bool restat);
// One mutation of a block: a header field, its records (re-compressed), or its codec.
void MutateBlock(BlockModel* b, Rng& rng, size_t max_raw);
// Recomputes the payload and header XXH3 of the block at p in place (when its sizes fit).
void FixBlockChecksums(uint8_t* p, size_t avail);

// --- segments ----------------------------------------------------------------------------------

// Recomputes in place every checksum it can find: the header page, each block reached by a scan
// from the first block or named by the footer, the footer's payload checksums and its own,
// and the trailer.
void FixSegmentChecksums(std::vector<uint8_t>* file);
// One to three mutations of a whole segment file (see segment_mutate.cc); the result is at
// most max_size bytes.
void MutateSegment(std::vector<uint8_t>* file, Rng& rng, size_t max_size);

}  // namespace tidemark::fuzz
