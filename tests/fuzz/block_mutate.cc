// Block-aware mutation: decoded header fields and payloads, re-encoded with their XXH3s (see
// mutate.h and docs/FORMAT.md, "Block").
#include <lz4.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "mutate.h"

namespace tidemark::fuzz {

using format::Get32;
using format::Get64;
using format::kBlockHeaderSize;

namespace {
constexpr size_t kMaxRaw = 4u << 20;
constexpr size_t kMaxPadding = 16 * format::kPageSize;
}  // namespace

bool ParseBlock(const uint8_t* p, size_t avail, BlockModel* out) {
  if (avail < kBlockHeaderSize || Get32(p) != format::kBlockMagic) return false;
  format::BlockHeader& h = out->h;
  h.codec = static_cast<format::Codec>(p[6]);
  h.record_count = Get32(p + 8);
  h.raw_size = Get32(p + 12);
  h.stored_size = Get32(p + 16);
  h.block_size = Get32(p + 20);
  h.first_offset = static_cast<int64_t>(Get64(p + 24));
  h.last_offset = static_cast<int64_t>(Get64(p + 32));
  h.min_timestamp = static_cast<int64_t>(Get64(p + 40));
  h.max_timestamp = static_cast<int64_t>(Get64(p + 48));
  h.payload_xxh3 = Get64(p + 56);
  const size_t n = std::min<size_t>(h.stored_size, avail - kBlockHeaderSize);
  out->stored.assign(p + kBlockHeaderSize, p + kBlockHeaderSize + n);
  return true;
}

void AppendBlock(const BlockModel& b, std::vector<uint8_t>* out, bool keep_payload_xxh3) {
  format::BlockHeader h = b.h;
  if (!keep_payload_xxh3) h.payload_xxh3 = format::Xxh3(b.stored.data(), b.stored.size());
  const size_t at = out->size();
  out->resize(at + kBlockHeaderSize);
  // EncodeBlockHeader writes the codec byte as given, so an unknown codec survives.
  format::EncodeBlockHeader(h, out->data() + at);
  out->insert(out->end(), b.stored.begin(), b.stored.end());
  // Zeros up to block_size; a block size past what the input can hold (a mutated one claiming
  // up to 4 GiB) is written as claimed but the file ends sooner, as a truncated block would.
  const size_t fits = format::AlignUp(kBlockHeaderSize + b.stored.size());
  size_t end = at + (h.block_size < kBlockHeaderSize + b.stored.size() ? fits : h.block_size);
  end = std::min(end, at + fits + kMaxPadding);
  if (end > out->size()) out->resize(end, 0);
}

bool RawPayload(const BlockModel& b, std::vector<uint8_t>* raw) {
  switch (b.h.codec) {
    case format::Codec::kNone:
      *raw = b.stored;
      return true;
    case format::Codec::kZstd: {
      raw->resize(std::min<size_t>(b.h.raw_size, kMaxRaw));
      const size_t n = ZSTD_decompress(raw->data(), raw->size(), b.stored.data(), b.stored.size());
      if (ZSTD_isError(n)) return false;
      raw->resize(n);
      return true;
    }
    case format::Codec::kLz4: {
      raw->resize(std::min<size_t>(b.h.raw_size, kMaxRaw));
      const int n = LZ4_decompress_safe(
          reinterpret_cast<const char*>(b.stored.data()), reinterpret_cast<char*>(raw->data()),
          static_cast<int>(b.stored.size()), static_cast<int>(raw->size()));
      if (n < 0) return false;
      raw->resize(static_cast<size_t>(n));
      return true;
    }
  }
  return false;
}

void SetPayload(BlockModel* b, format::Codec codec, const std::vector<uint8_t>& raw, bool restat) {
  b->h.codec = codec;
  switch (codec) {
    case format::Codec::kZstd:
      b->stored.resize(ZSTD_compressBound(raw.size()));
      b->stored.resize(
          ZSTD_compress(b->stored.data(), b->stored.size(), raw.data(), raw.size(), 1));
      break;
    case format::Codec::kLz4: {
      b->stored.resize(static_cast<size_t>(LZ4_compressBound(static_cast<int>(raw.size()))));
      const int n = LZ4_compress_default(
          reinterpret_cast<const char*>(raw.data()), reinterpret_cast<char*>(b->stored.data()),
          static_cast<int>(raw.size()), static_cast<int>(b->stored.size()));
      b->stored.resize(static_cast<size_t>(std::max(n, 0)));
      break;
    }
    default:
      b->stored = raw;
      break;
  }
  b->h.raw_size = static_cast<uint32_t>(raw.size());
  b->h.stored_size = static_cast<uint32_t>(b->stored.size());
  b->h.block_size = static_cast<uint32_t>(format::AlignUp(kBlockHeaderSize + b->stored.size()));
  if (restat) {
    const RecordStats st = ScanRecords(raw);
    if (st.count > 0) {
      b->h.record_count = st.count;
      b->h.first_offset = st.first_offset;
      b->h.last_offset = st.last_offset;
      b->h.min_timestamp = st.min_timestamp;
      b->h.max_timestamp = st.max_timestamp;
    }
  }
}

void MutateBlock(BlockModel* b, Rng& rng, size_t max_raw) {
  format::BlockHeader& h = b->h;
  switch (rng.Below(12)) {
    case 0:
      h.codec = static_cast<format::Codec>(rng.OneIn(4) ? rng.Below(256) : rng.Below(3));
      break;
    case 1:
      h.record_count = rng.Interesting32(h.record_count);
      break;
    case 2:  // a claimed raw size up to 4 GiB: readers must not allocate what a header claims
      h.raw_size = rng.Interesting32(h.raw_size);
      break;
    case 3:
      h.stored_size = rng.Interesting32(h.stored_size);
      break;
    case 4:
      h.block_size = rng.Interesting32(h.block_size);
      break;
    case 5:
      if (rng.OneIn(2))
        h.first_offset =
            static_cast<int64_t>(rng.Interesting64(static_cast<uint64_t>(h.first_offset)));
      else
        h.last_offset =
            static_cast<int64_t>(rng.Interesting64(static_cast<uint64_t>(h.last_offset)));
      break;
    case 6:
      if (rng.OneIn(2))
        h.min_timestamp =
            static_cast<int64_t>(rng.Interesting64(static_cast<uint64_t>(h.min_timestamp)));
      else
        h.max_timestamp =
            static_cast<int64_t>(rng.Interesting64(static_cast<uint64_t>(h.max_timestamp)));
      break;
    case 7: {  // the stored bytes changed (a compressed stream that no longer decodes right)
      BlindMutate(&b->stored, b->stored.size() + 256);
      if (rng.OneIn(2)) h.stored_size = static_cast<uint32_t>(b->stored.size());
      break;
    }
    case 8: {  // stored under another codec
      std::vector<uint8_t> raw;
      if (RawPayload(*b, &raw))
        SetPayload(b, static_cast<format::Codec>(rng.Below(3)), raw, /*restat=*/false);
      break;
    }
    default: {  // the records changed, then compressed again; the header follows them or not
      std::vector<uint8_t> raw;
      if (!RawPayload(*b, &raw)) raw.clear();
      MutateRecords(&raw, rng, max_raw);
      const format::Codec c =
          h.codec <= format::Codec::kLz4 ? h.codec : static_cast<format::Codec>(rng.Below(3));
      SetPayload(b, c, raw, /*restat=*/!rng.OneIn(4));
      break;
    }
  }
}

void FixBlockChecksums(uint8_t* p, size_t avail) {
  if (avail < kBlockHeaderSize || Get32(p) != format::kBlockMagic) return;
  const uint64_t stored = Get32(p + 16);
  if (stored <= avail - kBlockHeaderSize)
    format::Put64(p + 56, format::Xxh3(p + kBlockHeaderSize, stored));
  format::Put64(p + 72, format::Xxh3(p, 72));
}

}  // namespace tidemark::fuzz
