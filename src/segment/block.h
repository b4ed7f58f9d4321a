// Blocks: the unit of compression, checksumming and I/O.
//
// BlockBuilder (one per partition) encodes records straight into a raw staging buffer, leaving
// room for the block header in front so that the layout matches the on-disk block.
// BlockCodec (one per shard) compresses a finished raw block into a pooled, page-aligned output
// buffer, writes the header with the payload's XXH3 and zero-pads to the page boundary.
// BlockDecoder is the reader's inverse and checks everything before trusting anything.
//
// Thread contract: all of these are owned by one shard thread; none is shared.
#pragma once

#include <lz4.h>
#include <zstd.h>

#include <cstdint>
#include <vector>

#include "io/aligned_buffer.h"
#include "tidemark/format.h"
#include "tidemark/record.h"

namespace tidemark::segment {

struct BlockStats {
  uint32_t record_count = 0;
  int64_t first_offset = 0;
  int64_t last_offset = -1;
  int64_t min_timestamp = 0;
  int64_t max_timestamp = 0;
};

class BlockBuilder {
 public:
  // target_raw_bytes: a block is finished once its payload would pass this size.
  explicit BlockBuilder(size_t target_raw_bytes);

  // True when the record was added. False when it does not fit and the block already holds
  // records: finish the block and retry. A record larger than the target goes into an empty
  // block alone (the staging buffer grows for it; rare, and never on the common path).
  bool TryAppend(const RecordView& r);

  bool empty() const { return stats_.record_count == 0; }
  size_t raw_size() const { return used_; }
  const BlockStats& stats() const { return stats_; }
  // The encoded records (the block payload before compression).
  const uint8_t* payload() const { return raw_.data() + format::kBlockHeaderSize; }
  // Bytes the staging buffer holds (for memory accounting).
  size_t capacity() const { return raw_.capacity(); }
  void Reset();

 private:
  size_t target_;
  io::AlignedBuffer raw_;
  size_t used_ = 0;
  BlockStats stats_;
};

class BlockCodec {
 public:
  BlockCodec(format::Codec codec, int level);
  ~BlockCodec();
  BlockCodec(const BlockCodec&) = delete;
  BlockCodec& operator=(const BlockCodec&) = delete;

  // Output capacity a block of raw_bytes payload may need (header, worst-case compression,
  // padding).
  static size_t MaxBlockSize(size_t raw_bytes);

  // Builds the on-disk block for `b` into out. Falls back to storing the payload uncompressed
  // when compression does not shrink it. Returns the header written (block_size is the bytes to
  // write, a multiple of the page size).
  Result<format::BlockHeader> Finish(const BlockBuilder& b, io::AlignedBuffer* out);
  // The same into `capacity` bytes at a page-aligned `block`, which must hold
  // MaxBlockSize(b.raw_size()) bytes (used to pack several blocks into one write).
  Result<format::BlockHeader> FinishInto(const BlockBuilder& b, uint8_t* block, size_t capacity);

  format::Codec codec() const { return codec_; }

 private:
  format::Codec codec_;
  int level_;
  ZSTD_CCtx* zstd_ = nullptr;
  std::vector<char> lz4_state_;
};

// The reader's inverse of BlockCodec, with a reusable decompression context and scratch buffer
// (verify, restore). Decode() takes a whole block (header, payload and padding) starting at
// `block` with `avail` bytes readable; it checks the header, that the block fits in `avail`, the
// payload checksum, that the padding is zero (so every byte of the block is covered), and
// decompresses (never allocating more than the header's bounded raw size, and only once the
// zstd frame agrees with it). It returns the raw payload through *payload (pointing into `block`
// when stored uncompressed, into the decoder's scratch otherwise, valid until the next call).
class BlockDecoder {
 public:
  BlockDecoder();
  ~BlockDecoder();
  BlockDecoder(const BlockDecoder&) = delete;
  BlockDecoder& operator=(const BlockDecoder&) = delete;
  Status Decode(const uint8_t* block, size_t avail, format::BlockHeader* header,
                std::span<const uint8_t>* payload);
  // Exchanges the decompression buffer with `other`: a caller that must keep the last decoded
  // payload (restore hands it to the producer without copying) takes it, and the decoder goes
  // on with the buffer it got back.
  void SwapScratch(std::vector<uint8_t>* other) { scratch_.swap(*other); }

 private:
  ZSTD_DCtx* dctx_;
  std::vector<uint8_t> scratch_;
};

}  // namespace tidemark::segment
