// The on-disk format of a tidemark segment. docs/FORMAT.md is the prose twin of this file:
// change both together. All integers are little-endian; all sizes are bytes.
//
//   segment file = file header page (4096)
//                  block*            (each padded to a multiple of 4096)
//                  footer            (padded so that the file ends on a 4096 boundary,
//                                     trailer in the last 32 bytes)
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tidemark/status.h"

namespace tidemark::format {

inline constexpr uint32_t kPageSize = 4096;
inline constexpr uint16_t kVersion = 1;

inline constexpr uint32_t kFileMagic = 0x4B4D4454;     // "TDMK" as bytes: 54 44 4D 4B
inline constexpr uint32_t kBlockMagic = 0x4B4C4254;    // "TBLK"
inline constexpr uint32_t kFooterMagic = 0x52544654;   // "TFTR"
inline constexpr uint32_t kTrailerMagic = 0x4C525454;  // "TTRL"

inline constexpr size_t kFileHeaderSize = kPageSize;
inline constexpr size_t kBlockHeaderSize = 80;
inline constexpr size_t kFooterHeaderSize = 64;
inline constexpr size_t kFooterEntrySize = 56;
inline constexpr size_t kTrailerSize = 32;

// Longest topic name Kafka allows.
inline constexpr size_t kMaxTopicName = 249;
// Kafka's legal topic names: 1..249 characters of [a-zA-Z0-9._-], and neither "." nor "..".
// Topic names become directory names, so a reader checks them before building a path.
bool IsLegalTopicName(std::string_view name);

// Largest raw (decompressed) block payload a writer makes and a reader accepts: 256 MiB. A record
// whose encoded size is larger cannot be backed up (the backup fails naming it); a header that
// claims more is damage, so no reader allocates what a crafted header asks for.
inline constexpr uint32_t kMaxBlockRawSize = 256u << 20;
// The most a payload can expand when decompressed, per stored byte: an lz4 block reaches about
// 255x (a match length extended byte by byte), a zstd frame about 32768x (a 128 KiB RLE block in
// 4 bytes). A header claiming more than this for its stored size is damage.
inline constexpr uint64_t kMaxLz4Expansion = 256;
inline constexpr uint64_t kMaxZstdExpansion = 32768;
// The smallest encoded record: its u32 length, offset, timestamp, timestamp type, key length,
// value length and header count (a null key and value, no headers).
inline constexpr size_t kMinEncodedRecordSize = 4 + 8 + 8 + 1 + 4 + 4 + 4;

enum class Codec : uint8_t { kNone = 0, kZstd = 1, kLz4 = 2 };
const char* CodecName(Codec c);
bool ParseCodec(std::string_view s, Codec* out);

// Kafka's timestamp types, stored as librdkafka numbers them.
enum class TimestampType : uint8_t { kNotAvailable = 0, kCreateTime = 1, kLogAppendTime = 2 };

constexpr uint64_t AlignUp(uint64_t n, uint64_t a = kPageSize) { return (n + a - 1) / a * a; }
constexpr bool IsAligned(uint64_t n, uint64_t a = kPageSize) { return n % a == 0; }

// --- little-endian helpers ------------------------------------------------------------------
inline void Put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void Put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void Put64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint16_t Get16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t Get32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t Get64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "tidemark's format is little-endian");

uint64_t Xxh3(const void* data, size_t len);

// --- file header (first page of every segment) ----------------------------------------------
struct FileHeader {
  std::string topic;
  int32_t partition = 0;
  int64_t first_offset = 0;
  int64_t created_ms = 0;
  std::string backup_id;
};
// Encodes into exactly kFileHeaderSize bytes at dst (zero padded).
void EncodeFileHeader(const FileHeader& h, uint8_t* dst);
Status DecodeFileHeader(const uint8_t* src, size_t len, FileHeader* out);

// --- block header ---------------------------------------------------------------------------
struct BlockHeader {
  Codec codec = Codec::kNone;
  uint32_t record_count = 0;
  uint32_t raw_size = 0;     // payload size after decompression
  uint32_t stored_size = 0;  // payload size on disk
  uint32_t block_size = 0;   // header + payload + padding: a multiple of kPageSize
  int64_t first_offset = 0;
  int64_t last_offset = 0;
  int64_t min_timestamp = 0;
  int64_t max_timestamp = 0;
  uint64_t payload_xxh3 = 0;
};
void EncodeBlockHeader(const BlockHeader& h, uint8_t* dst);  // kBlockHeaderSize bytes
// Checks the magic, version and the header's own checksum, then the sizes' consistency (raw size
// within kMaxBlockRawSize and what the codec can expand to, block size a multiple of the page
// size holding the payload, at least one record and no more than its offset range can hold).
Status DecodeBlockHeader(const uint8_t* src, BlockHeader* out);

// --- footer -----------------------------------------------------------------------------------
struct FooterEntry {
  uint64_t file_offset = 0;
  uint32_t block_size = 0;
  uint32_t record_count = 0;
  int64_t first_offset = 0;
  int64_t last_offset = 0;
  int64_t min_timestamp = 0;
  int64_t max_timestamp = 0;
  uint64_t payload_xxh3 = 0;
};
struct Footer {
  int64_t first_offset = 0;
  int64_t last_offset = -1;
  uint64_t record_count = 0;
  int64_t min_timestamp = 0;
  int64_t max_timestamp = 0;
  uint64_t raw_bytes = 0;
  std::vector<FooterEntry> blocks;
};
// Adds the block at `file_offset` with header `h` to the footer: its index entry, the record
// count, the offset range and the timestamp range.
void AddBlockToFooter(Footer* f, uint64_t file_offset, const BlockHeader& h);

// Size of the padded footer region (footer header, entries, footer checksum, padding, trailer).
size_t FooterRegionSize(size_t block_count);
// Encodes the footer region for a footer that starts at file offset `footer_offset`; dst must
// hold FooterRegionSize(blocks) bytes. Returns the XXH3 of the footer body, which the manifest
// records as the segment checksum (it covers every block's payload checksum).
uint64_t EncodeFooterRegion(const Footer& f, uint64_t footer_offset, uint8_t* dst);
struct Trailer {
  uint64_t footer_offset = 0;
  uint64_t footer_size = 0;  // footer header + entries + 8-byte checksum, unpadded
};
// Decodes the trailer (the last kTrailerSize bytes of a file of `file_size` bytes) and checks that
// the footer region it points at is exactly the rest of the file: the footer starts on a page
// boundary after the file header and FooterRegionSize() of its block count ends the file. The
// arithmetic cannot wrap, whatever the trailer says.
Status DecodeTrailer(const uint8_t* src, uint64_t file_size, Trailer* out);
// Decodes the footer region (`len` bytes from the footer offset to the end of the file, trailer
// included, as checked by DecodeTrailer) and checks the footer's checksum, that the padding
// between the footer body and the trailer is zero, and that the block index describes blocks
// that tile the file exactly: the first at kFileHeaderSize, each page-aligned and starting where
// the previous one ends, the last ending at `footer_offset`, offsets increasing from block to
// block, and the totals (records, offset and time ranges) agreeing with the entries.
// *checksum gets the footer checksum.
Status DecodeFooter(const uint8_t* src, size_t len, const Trailer& trailer, Footer* out,
                    uint64_t* checksum);
// Checks that bytes [from, to) of `p` are zero (padding); `what` names the region.
Status CheckZeroPadding(const uint8_t* p, size_t from, size_t to, const char* what);

// --- names -----------------------------------------------------------------------------------
// A sealed segment is "<first offset, 20 digits>.tmseg" in "topics/<topic>/<partition>/".
inline constexpr std::string_view kSegmentSuffix = ".tmseg";
inline constexpr std::string_view kOpenSuffix = ".tmseg.open";
std::string PartitionDir(std::string_view topic, int32_t partition);  // relative to the backup
std::string SegmentName(int64_t first_offset, bool sealed);
// The inverse: true, with the first offset and whether it is sealed, when `name` is exactly
// SegmentName(*first_offset, *sealed); false for anything else (another width, a sign, a suffix).
bool ParseSegmentName(std::string_view name, int64_t* first_offset, bool* sealed);

}  // namespace tidemark::format
