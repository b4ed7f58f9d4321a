#include "tidemark/format.h"

#include <algorithm>
#include <charconv>

#include <xxhash.h>

#include <cinttypes>
#include <cstdio>

namespace tidemark::format {

const char* CodecName(Codec c) {
  switch (c) {
    case Codec::kNone:
      return "none";
    case Codec::kZstd:
      return "zstd";
    case Codec::kLz4:
      return "lz4";
  }
  return "unknown";
}

bool ParseCodec(std::string_view s, Codec* out) {
  if (s == "none")
    *out = Codec::kNone;
  else if (s == "zstd")
    *out = Codec::kZstd;
  else if (s == "lz4")
    *out = Codec::kLz4;
  else
    return false;
  return true;
}

uint64_t Xxh3(const void* data, size_t len) { return XXH3_64bits(data, len); }

// File header layout:
//   0 u32 magic, 4 u16 version, 6 u16 topic length, 8 i32 partition, 12 u32 reserved,
//   16 i64 first offset, 24 i64 created (ms), 32 u16 backup id length, 34 topic bytes,
//   then backup id bytes, zero padding; the last 8 bytes of the page are the XXH3 of the rest.
void EncodeFileHeader(const FileHeader& h, uint8_t* dst) {
  std::memset(dst, 0, kFileHeaderSize);
  Put32(dst, kFileMagic);
  Put16(dst + 4, kVersion);
  Put16(dst + 6, static_cast<uint16_t>(h.topic.size()));
  Put32(dst + 8, static_cast<uint32_t>(h.partition));
  Put64(dst + 16, static_cast<uint64_t>(h.first_offset));
  Put64(dst + 24, static_cast<uint64_t>(h.created_ms));
  Put16(dst + 32, static_cast<uint16_t>(h.backup_id.size()));
  std::memcpy(dst + 34, h.topic.data(), h.topic.size());
  std::memcpy(dst + 34 + h.topic.size(), h.backup_id.data(), h.backup_id.size());
  Put64(dst + kFileHeaderSize - 8, Xxh3(dst, kFileHeaderSize - 8));
}

Status DecodeFileHeader(const uint8_t* src, size_t len, FileHeader* out) {
  if (len < kFileHeaderSize) return Status::Corrupt("file header: file shorter than one page");
  if (Get32(src) != kFileMagic)
    return Status::Corrupt("file header: bad magic (not a tidemark segment)");
  if (Get16(src + 4) != kVersion) return Status::Corrupt("file header: unsupported version");
  if (Get64(src + kFileHeaderSize - 8) != Xxh3(src, kFileHeaderSize - 8)) {
    return Status::Corrupt("file header: checksum mismatch");
  }
  const size_t topic_len = Get16(src + 6);
  const size_t id_len = Get16(src + 32);
  if (34 + topic_len + id_len > kFileHeaderSize - 8)
    return Status::Corrupt("file header: lengths out of range");
  out->topic.assign(reinterpret_cast<const char*>(src + 34), topic_len);
  out->partition = static_cast<int32_t>(Get32(src + 8));
  out->first_offset = static_cast<int64_t>(Get64(src + 16));
  out->created_ms = static_cast<int64_t>(Get64(src + 24));
  out->backup_id.assign(reinterpret_cast<const char*>(src + 34 + topic_len), id_len);
  return Status::Ok();
}

// Block header layout (kBlockHeaderSize = 80):
//   0 u32 magic, 4 u16 version, 6 u8 codec, 7 u8 reserved, 8 u32 record count,
//   12 u32 raw size, 16 u32 stored size, 20 u32 block size, 24 i64 first offset,
//   32 i64 last offset, 40 i64 min timestamp, 48 i64 max timestamp, 56 u64 payload XXH3,
//   64 u64 reserved, 72 u64 XXH3 of bytes 0..72.
void EncodeBlockHeader(const BlockHeader& h, uint8_t* dst) {
  std::memset(dst, 0, kBlockHeaderSize);
  Put32(dst, kBlockMagic);
  Put16(dst + 4, kVersion);
  dst[6] = static_cast<uint8_t>(h.codec);
  Put32(dst + 8, h.record_count);
  Put32(dst + 12, h.raw_size);
  Put32(dst + 16, h.stored_size);
  Put32(dst + 20, h.block_size);
  Put64(dst + 24, static_cast<uint64_t>(h.first_offset));
  Put64(dst + 32, static_cast<uint64_t>(h.last_offset));
  Put64(dst + 40, static_cast<uint64_t>(h.min_timestamp));
  Put64(dst + 48, static_cast<uint64_t>(h.max_timestamp));
  Put64(dst + 56, h.payload_xxh3);
  Put64(dst + 72, Xxh3(dst, 72));
}

Status DecodeBlockHeader(const uint8_t* src, BlockHeader* out) {
  if (Get32(src) != kBlockMagic) return Status::Corrupt("block header: bad magic");
  if (Get64(src + 72) != Xxh3(src, 72)) return Status::Corrupt("block header: checksum mismatch");
  if (Get16(src + 4) != kVersion) return Status::Corrupt("block header: unsupported version");
  const uint8_t codec = src[6];
  if (codec > static_cast<uint8_t>(Codec::kLz4))
    return Status::Corrupt("block header: unknown codec");
  if (src[7] != 0 || Get64(src + 64) != 0)
    return Status::Corrupt("block header: reserved fields are not zero");
  out->codec = static_cast<Codec>(codec);
  out->record_count = Get32(src + 8);
  out->raw_size = Get32(src + 12);
  out->stored_size = Get32(src + 16);
  out->block_size = Get32(src + 20);
  out->first_offset = static_cast<int64_t>(Get64(src + 24));
  out->last_offset = static_cast<int64_t>(Get64(src + 32));
  out->min_timestamp = static_cast<int64_t>(Get64(src + 40));
  out->max_timestamp = static_cast<int64_t>(Get64(src + 48));
  out->payload_xxh3 = Get64(src + 56);
  if (!IsAligned(out->block_size) ||
      out->block_size < AlignUp(kBlockHeaderSize + uint64_t{out->stored_size})) {
    return Status::Corrupt("block header: block size inconsistent with stored size");
  }
  if (out->record_count == 0 || out->first_offset < 0 || out->last_offset < out->first_offset ||
      static_cast<uint64_t>(out->last_offset) - static_cast<uint64_t>(out->first_offset) <
          out->record_count - 1u) {
    return Status::Corrupt("block header: no records, or more records than its offset range holds");
  }
  if (out->min_timestamp > out->max_timestamp)
    return Status::Corrupt("block header: minimum timestamp above the maximum");
  if (out->raw_size > kMaxBlockRawSize) {
    return Status::Corrupt("block header: raw size " + std::to_string(out->raw_size) +
                           " is above the format's limit of " + std::to_string(kMaxBlockRawSize));
  }
  if (uint64_t{out->raw_size} < uint64_t{out->record_count} * kMinEncodedRecordSize)
    return Status::Corrupt("block header: raw size too small for its record count");
  const uint64_t stored = out->stored_size;
  const bool fits = out->codec == Codec::kNone  ? out->raw_size == out->stored_size
                    : out->codec == Codec::kLz4 ? out->raw_size <= stored * kMaxLz4Expansion
                                                : out->raw_size <= stored * kMaxZstdExpansion;
  if (!fits) {
    return Status::Corrupt("block header: raw size " + std::to_string(out->raw_size) +
                           " impossible for a " + CodecName(out->codec) + " payload of " +
                           std::to_string(out->stored_size) + " bytes");
  }
  return Status::Ok();
}

Status CheckZeroPadding(const uint8_t* p, size_t from, size_t to, const char* what) {
  for (size_t i = from; i < to; ++i) {
    if (p[i] != 0) {
      return Status::Corrupt(std::string(what) + ": padding byte " + std::to_string(i) +
                             " is not zero");
    }
  }
  return Status::Ok();
}

bool IsLegalTopicName(std::string_view name) {
  if (name.empty() || name.size() > kMaxTopicName || name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Footer body: 0 u32 magic, 4 u16 version, 6 u16 reserved, 8 u32 block count, 12 u32 reserved,
//   16 i64 first offset, 24 i64 last offset, 32 u64 record count, 40 i64 min timestamp,
//   48 i64 max timestamp, 56 u64 raw bytes; then block count entries of kFooterEntrySize;
//   then u64 XXH3 of everything before it. Trailer (last 32 bytes of the file): u32 magic,
//   u32 reserved, u64 footer offset, u64 footer size, u64 XXH3 of the trailer's first 24 bytes.
static size_t FooterBodySize(size_t block_count) {
  return kFooterHeaderSize + block_count * kFooterEntrySize + 8;
}

void AddBlockToFooter(Footer* f, uint64_t file_offset, const BlockHeader& h) {
  f->blocks.push_back({file_offset, h.block_size, h.record_count, h.first_offset, h.last_offset,
                       h.min_timestamp, h.max_timestamp, h.payload_xxh3});
  if (f->record_count == 0) {
    f->min_timestamp = h.min_timestamp;
    f->max_timestamp = h.max_timestamp;
  } else {
    f->min_timestamp = std::min(f->min_timestamp, h.min_timestamp);
    f->max_timestamp = std::max(f->max_timestamp, h.max_timestamp);
  }
  f->last_offset = h.last_offset;
  f->record_count += h.record_count;
  f->raw_bytes += h.raw_size;
}

size_t FooterRegionSize(size_t block_count) {
  return AlignUp(FooterBodySize(block_count) + kTrailerSize);
}

uint64_t EncodeFooterRegion(const Footer& f, uint64_t footer_offset, uint8_t* dst) {
  const size_t region = FooterRegionSize(f.blocks.size());
  const size_t body = FooterBodySize(f.blocks.size());
  std::memset(dst, 0, region);
  Put32(dst, kFooterMagic);
  Put16(dst + 4, kVersion);
  Put32(dst + 8, static_cast<uint32_t>(f.blocks.size()));
  Put64(dst + 16, static_cast<uint64_t>(f.first_offset));
  Put64(dst + 24, static_cast<uint64_t>(f.last_offset));
  Put64(dst + 32, f.record_count);
  Put64(dst + 40, static_cast<uint64_t>(f.min_timestamp));
  Put64(dst + 48, static_cast<uint64_t>(f.max_timestamp));
  Put64(dst + 56, f.raw_bytes);
  uint8_t* p = dst + kFooterHeaderSize;
  for (const FooterEntry& e : f.blocks) {
    Put64(p, e.file_offset);
    Put32(p + 8, e.block_size);
    Put32(p + 12, e.record_count);
    Put64(p + 16, static_cast<uint64_t>(e.first_offset));
    Put64(p + 24, static_cast<uint64_t>(e.last_offset));
    Put64(p + 32, static_cast<uint64_t>(e.min_timestamp));
    Put64(p + 40, static_cast<uint64_t>(e.max_timestamp));
    Put64(p + 48, e.payload_xxh3);
    p += kFooterEntrySize;
  }
  const uint64_t checksum = Xxh3(dst, body - 8);
  Put64(dst + body - 8, checksum);
  uint8_t* t = dst + region - kTrailerSize;
  Put32(t, kTrailerMagic);
  Put64(t + 8, footer_offset);
  Put64(t + 16, body);
  Put64(t + 24, Xxh3(t, 24));
  return checksum;
}

Status DecodeTrailer(const uint8_t* src, uint64_t file_size, Trailer* out) {
  if (Get32(src) != kTrailerMagic)
    return Status::Corrupt("trailer: bad magic (segment not sealed or truncated)");
  if (Get64(src + 24) != Xxh3(src, 24)) return Status::Corrupt("trailer: checksum mismatch");
  if (Get32(src + 4) != 0) return Status::Corrupt("trailer: reserved field is not zero");
  out->footer_offset = Get64(src + 8);
  out->footer_size = Get64(src + 16);
  // Every comparison below is arranged so that no sum can wrap: the footer offset is checked
  // against the file size first, then the footer size against what is left after it.
  if (!IsAligned(out->footer_offset) || out->footer_offset < kFileHeaderSize ||
      out->footer_offset >= file_size) {
    return Status::Corrupt("trailer: footer offset " + std::to_string(out->footer_offset) +
                           " is outside the file's blocks area");
  }
  const uint64_t region = file_size - out->footer_offset;
  if (out->footer_size < FooterBodySize(0) || out->footer_size > region - kTrailerSize ||
      (out->footer_size - FooterBodySize(0)) % kFooterEntrySize != 0) {
    return Status::Corrupt("trailer: footer size " + std::to_string(out->footer_size) +
                           " does not fit the file");
  }
  const uint64_t count = (out->footer_size - FooterBodySize(0)) / kFooterEntrySize;
  if (count > UINT32_MAX || FooterRegionSize(count) != region) {
    return Status::Corrupt("trailer: the footer region (" + std::to_string(region) +
                           " bytes) does not match its footer size");
  }
  return Status::Ok();
}

Status DecodeFooter(const uint8_t* src, size_t len, const Trailer& trailer, Footer* out,
                    uint64_t* checksum) {
  const uint64_t body = trailer.footer_size;
  if (len < kTrailerSize || body < FooterBodySize(0) || body > len - kTrailerSize)
    return Status::Corrupt("footer: too short");
  if (Get32(src) != kFooterMagic) return Status::Corrupt("footer: bad magic");
  if (Get64(src + body - 8) != Xxh3(src, body - 8))
    return Status::Corrupt("footer: checksum mismatch");
  if (Get16(src + 4) != kVersion) return Status::Corrupt("footer: unsupported version");
  if (Get16(src + 6) != 0 || Get32(src + 12) != 0)
    return Status::Corrupt("footer: reserved fields are not zero");
  const size_t count = Get32(src + 8);
  if (FooterBodySize(count) != body)
    return Status::Corrupt("footer: block count disagrees with size");
  TM_RETURN_IF_ERROR(CheckZeroPadding(src, body, len - kTrailerSize, "footer"));
  *checksum = Get64(src + body - 8);
  out->first_offset = static_cast<int64_t>(Get64(src + 16));
  out->last_offset = static_cast<int64_t>(Get64(src + 24));
  out->record_count = Get64(src + 32);
  out->min_timestamp = static_cast<int64_t>(Get64(src + 40));
  out->max_timestamp = static_cast<int64_t>(Get64(src + 48));
  out->raw_bytes = Get64(src + 56);
  out->blocks.resize(count);
  const uint8_t* p = src + kFooterHeaderSize;
  uint64_t next_block = kFileHeaderSize;  // where the next block must start
  uint64_t records = 0;
  for (size_t i = 0; i < count; ++i) {
    FooterEntry& e = out->blocks[i];
    e.file_offset = Get64(p);
    e.block_size = Get32(p + 8);
    e.record_count = Get32(p + 12);
    e.first_offset = static_cast<int64_t>(Get64(p + 16));
    e.last_offset = static_cast<int64_t>(Get64(p + 24));
    e.min_timestamp = static_cast<int64_t>(Get64(p + 32));
    e.max_timestamp = static_cast<int64_t>(Get64(p + 40));
    e.payload_xxh3 = Get64(p + 48);
    p += kFooterEntrySize;
    const std::string at = "footer: index entry " + std::to_string(i);
    if (e.file_offset != next_block || e.block_size == 0 || !IsAligned(e.block_size) ||
        e.block_size > trailer.footer_offset - next_block) {
      return Status::Corrupt(at + " does not tile the blocks area (block at byte " +
                             std::to_string(e.file_offset) + ", " + std::to_string(e.block_size) +
                             " bytes)");
    }
    next_block += e.block_size;
    if (e.record_count == 0 || e.first_offset < 0 || e.last_offset < e.first_offset ||
        static_cast<uint64_t>(e.last_offset) - static_cast<uint64_t>(e.first_offset) <
            e.record_count - 1u ||
        e.min_timestamp > e.max_timestamp) {
      return Status::Corrupt(at + " has inconsistent offsets, timestamps or record count");
    }
    if (i > 0 && e.first_offset <= out->blocks[i - 1].last_offset)
      return Status::Corrupt(at + ": offsets do not increase from the previous block");
    records += e.record_count;
  }
  if (next_block != trailer.footer_offset)
    return Status::Corrupt("footer: the blocks do not end where the footer starts");
  if (records != out->record_count)
    return Status::Corrupt("footer: record count disagrees with its index");
  if (count > 0) {
    int64_t min_ts = out->blocks[0].min_timestamp, max_ts = out->blocks[0].max_timestamp;
    for (const FooterEntry& e : out->blocks) {
      min_ts = std::min(min_ts, e.min_timestamp);
      max_ts = std::max(max_ts, e.max_timestamp);
    }
    if (out->first_offset < 0 || out->first_offset > out->blocks[0].first_offset ||
        out->last_offset != out->blocks.back().last_offset || out->min_timestamp != min_ts ||
        out->max_timestamp != max_ts) {
      return Status::Corrupt("footer: offset or time range disagrees with its index");
    }
  }
  return Status::Ok();
}

std::string PartitionDir(std::string_view topic, int32_t partition) {
  return "topics/" + std::string(topic) + "/" + std::to_string(partition);
}

std::string SegmentName(int64_t first_offset, bool sealed) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%020" PRId64 "%s", first_offset,
                sealed ? ".tmseg" : ".tmseg.open");
  return buf;
}

bool ParseSegmentName(std::string_view name, int64_t* first_offset, bool* sealed) {
  constexpr size_t kDigits = 20;
  if (name.size() <= kDigits) return false;
  const std::string_view suffix = name.substr(kDigits);
  if (suffix != kSegmentSuffix && suffix != kOpenSuffix) return false;
  // Digits only: from_chars would take a leading '-' ("-0000000000000000000" is 0).
  if (!std::all_of(name.begin(), name.begin() + kDigits,
                   [](char ch) { return ch >= '0' && ch <= '9'; }))
    return false;
  int64_t first = -1;
  const auto [end, err] = std::from_chars(name.data(), name.data() + kDigits, first);
  if (err != std::errc() || end != name.data() + kDigits) return false;  // past INT64_MAX
  *first_offset = first;
  *sealed = suffix == kSegmentSuffix;
  return true;
}

}  // namespace tidemark::format
