#include "segment/block.h"

#include <algorithm>
#include <cstring>

namespace tidemark::segment {

using format::kBlockHeaderSize;

BlockBuilder::BlockBuilder(size_t target_raw_bytes)
    : target_(target_raw_bytes), raw_(kBlockHeaderSize + target_raw_bytes) {}

bool BlockBuilder::TryAppend(const RecordView& r) {
  const size_t need = EncodedRecordSize(r);
  if (used_ + need > target_) {
    if (!empty()) return false;
    // An oversized record alone in its block: grow the staging buffer once for it.
    if (kBlockHeaderSize + need > raw_.capacity())
      raw_ = io::AlignedBuffer(kBlockHeaderSize + need);
  }
  EncodeRecord(r, raw_.data() + kBlockHeaderSize + used_);
  used_ += need;
  if (stats_.record_count == 0) {
    stats_.first_offset = r.offset;
    stats_.min_timestamp = r.timestamp;
    stats_.max_timestamp = r.timestamp;
  } else {
    stats_.min_timestamp = std::min(stats_.min_timestamp, r.timestamp);
    stats_.max_timestamp = std::max(stats_.max_timestamp, r.timestamp);
  }
  stats_.last_offset = r.offset;
  ++stats_.record_count;
  return true;
}

void BlockBuilder::Reset() {
  used_ = 0;
  stats_ = BlockStats{};
  // A staging buffer grown for one oversized record goes back to the normal size, so one huge
  // record does not pin its memory for the rest of the run.
  if (raw_.capacity() > format::AlignUp(kBlockHeaderSize + target_)) {
    raw_ = io::AlignedBuffer(kBlockHeaderSize + target_);
  }
}

BlockCodec::BlockCodec(format::Codec codec, int level) : codec_(codec), level_(level) {
  if (codec_ == format::Codec::kZstd) {
    zstd_ = ZSTD_createCCtx();
    TM_CHECK(zstd_ != nullptr);
    // The context is reused for every block of the shard; parameters are set once.
    ZSTD_CCtx_setParameter(zstd_, ZSTD_c_compressionLevel, level_);
    ZSTD_CCtx_setParameter(zstd_, ZSTD_c_checksumFlag, 0);  // XXH3 in the block header covers it
    ZSTD_CCtx_setParameter(zstd_, ZSTD_c_contentSizeFlag, 1);
  } else if (codec_ == format::Codec::kLz4) {
    lz4_state_.resize(static_cast<size_t>(LZ4_sizeofState()));
  }
}

BlockCodec::~BlockCodec() { ZSTD_freeCCtx(zstd_); }

size_t BlockCodec::MaxBlockSize(size_t raw_bytes) {
  const size_t bound =
      std::max({raw_bytes, ZSTD_compressBound(raw_bytes),
                static_cast<size_t>(LZ4_compressBound(static_cast<int>(raw_bytes)))});
  return format::AlignUp(kBlockHeaderSize + bound);
}

Result<format::BlockHeader> BlockCodec::Finish(const BlockBuilder& b, io::AlignedBuffer* out) {
  const size_t need = MaxBlockSize(b.raw_size());
  if (out->capacity() < need) *out = io::AlignedBuffer(need);  // oversized block only
  return FinishInto(b, out->data(), out->capacity());
}

Result<format::BlockHeader> BlockCodec::FinishInto(const BlockBuilder& b, uint8_t* block,
                                                   size_t capacity) {
  TM_CHECK(!b.empty());
  const size_t raw = b.raw_size();
  TM_CHECK_MSG(capacity >= MaxBlockSize(raw), "block output smaller than the worst case");
  TM_DCHECK(format::IsAligned(reinterpret_cast<uintptr_t>(block)));
  uint8_t* dst = block + kBlockHeaderSize;
  const size_t dst_cap = capacity - kBlockHeaderSize;

  format::BlockHeader h;
  h.codec = codec_;
  size_t stored = 0;
  if (codec_ == format::Codec::kZstd) {
    stored = ZSTD_compress2(zstd_, dst, dst_cap, b.payload(), raw);
    if (ZSTD_isError(stored)) {
      return Status::Invalid(std::string("zstd compression failed: ") + ZSTD_getErrorName(stored));
    }
  } else if (codec_ == format::Codec::kLz4) {
    const int n = LZ4_compress_fast_extState(
        lz4_state_.data(), reinterpret_cast<const char*>(b.payload()), reinterpret_cast<char*>(dst),
        static_cast<int>(raw), static_cast<int>(std::min<size_t>(dst_cap, INT32_MAX)),
        std::max(1, level_));
    if (n <= 0) return Status::Invalid("lz4 compression failed");
    stored = static_cast<size_t>(n);
  }
  if (codec_ == format::Codec::kNone || stored >= raw) {
    // Incompressible (or no codec): store as is; a reader never pays for a useless decompress.
    h.codec = format::Codec::kNone;
    std::memcpy(dst, b.payload(), raw);
    stored = raw;
  }
  const BlockStats& s = b.stats();
  h.record_count = s.record_count;
  h.raw_size = static_cast<uint32_t>(raw);
  h.stored_size = static_cast<uint32_t>(stored);
  h.block_size = static_cast<uint32_t>(format::AlignUp(kBlockHeaderSize + stored));
  h.first_offset = s.first_offset;
  h.last_offset = s.last_offset;
  h.min_timestamp = s.min_timestamp;
  h.max_timestamp = s.max_timestamp;
  h.payload_xxh3 = format::Xxh3(dst, stored);
  format::EncodeBlockHeader(h, block);
  // Tail page: the bytes between the payload's end and the page boundary are zeroed so that the
  // file holds no stale memory. Example: header 80 + payload 10000 = 10080 bytes; the block is
  // 12288 bytes (3 pages) and bytes 10080..12287 are zero.
  std::memset(block + kBlockHeaderSize + stored, 0, h.block_size - kBlockHeaderSize - stored);
  return h;
}

BlockDecoder::BlockDecoder() : dctx_(ZSTD_createDCtx()) { TM_CHECK(dctx_ != nullptr); }
BlockDecoder::~BlockDecoder() { ZSTD_freeDCtx(dctx_); }

Status BlockDecoder::Decode(const uint8_t* block, size_t avail, format::BlockHeader* header,
                            std::span<const uint8_t>* payload) {
  std::vector<uint8_t>* scratch = &scratch_;
  if (avail < kBlockHeaderSize) return Status::Corrupt("block truncated inside its header");
  TM_RETURN_IF_ERROR(format::DecodeBlockHeader(block, header));
  if (header->block_size > avail) {
    return Status::Corrupt("block truncated: " + std::to_string(avail) + " of its " +
                           std::to_string(header->block_size) + " bytes");
  }
  const uint8_t* stored = block + kBlockHeaderSize;
  if (format::Xxh3(stored, header->stored_size) != header->payload_xxh3) {
    return Status::Corrupt("block payload checksum mismatch");
  }
  TM_RETURN_IF_ERROR(format::CheckZeroPadding(block, kBlockHeaderSize + header->stored_size,
                                              header->block_size, "block"));
  switch (header->codec) {
    case format::Codec::kNone:
      *payload = std::span<const uint8_t>(stored, header->stored_size);
      return Status::Ok();
    case format::Codec::kZstd: {
      // The frame must announce the size the header claims before anything is allocated for it.
      if (ZSTD_getFrameContentSize(stored, header->stored_size) != header->raw_size)
        return Status::Corrupt("zstd frame size disagrees with the block header's raw size");
      scratch->resize(header->raw_size);
      const size_t n = ZSTD_decompressDCtx(dctx_, scratch->data(), header->raw_size, stored,
                                           header->stored_size);
      if (ZSTD_isError(n) || n != header->raw_size) {
        return Status::Corrupt("zstd payload does not decompress to its recorded size");
      }
      break;
    }
    case format::Codec::kLz4: {
      scratch->resize(header->raw_size);
      int n = LZ4_decompress_safe(
          reinterpret_cast<const char*>(stored), reinterpret_cast<char*>(scratch->data()),
          static_cast<int>(header->stored_size), static_cast<int>(header->raw_size));
      if (n < 0 || static_cast<uint32_t>(n) != header->raw_size) {
        return Status::Corrupt("lz4 payload does not decompress to its recorded size");
      }
      break;
    }
  }
  *payload = std::span<const uint8_t>(scratch->data(), header->raw_size);
  return Status::Ok();
}

}  // namespace tidemark::segment
