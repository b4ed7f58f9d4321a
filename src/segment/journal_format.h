// The journal's on-disk frames (docs/FORMAT.md, "Journal files"): what a shard writes at each
// durability point for the records that are not yet in a written block, and the one reader that
// checks them. Little-endian like the segment format.
//
//   journal file = frame*          (each frame padded with zeros to a multiple of 4096)
//   frame        = header (64 bytes) + section* + zero padding
//   header       = u32 magic "TJNL", u16 version 1, u16 reserved 0, u64 seq,
//                  u64 payload size (the sections' bytes), u32 section count, u32 shard,
//                  i64 created ms, u64 XXH3 of the payload, u64 reserved 0,
//                  u64 XXH3 of header bytes [0, 56)
//   section      = u16 topic length, topic, i32 partition, i64 first offset, i64 last offset,
//                  u32 record count, u32 records size, records (include/tidemark/record.h)
//
// A section vouches for every offset of [first offset, last offset] of its partition: the
// offsets there that hold none of its records were skipped by the broker (compaction,
// transaction markers), exactly as a segment's holes are.
//
// Thread contract: FrameBuilder is owned by one shard thread; the decoders are pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/aligned_buffer.h"
#include "tidemark/format.h"
#include "tidemark/status.h"

namespace tidemark::segment {

inline constexpr uint32_t kJournalMagic = 0x4C4E4A54;  // "TJNL" as bytes: 54 4A 4E 4C
inline constexpr uint16_t kJournalVersion = 1;
inline constexpr size_t kFrameHeaderSize = 64;
// The fixed part of a section after its topic.
inline constexpr size_t kSectionFixedSize = 4 + 8 + 8 + 4 + 4;
// Largest frame payload a writer makes and a reader accepts (a frame holds at most a shard's
// staging memory: the records of its open blocks); a header that claims more is damage.
inline constexpr uint64_t kMaxFramePayload = 1ull << 30;
// A journal file is "<shard, 3 digits>-<seq of its first frame, 20 digits>.tmjournal" in
// "<backup>/journal/".
inline constexpr std::string_view kJournalSuffix = ".tmjournal";
inline constexpr std::string_view kJournalDir = "journal";
std::string JournalFileName(int shard, uint64_t first_seq);
// Parses a journal file name; false when it is not one.
bool ParseJournalFileName(std::string_view name, int* shard, uint64_t* first_seq);

struct FrameHeader {
  uint64_t seq = 0;
  uint64_t payload_size = 0;
  uint32_t section_count = 0;
  uint32_t shard = 0;
  int64_t created_ms = 0;
  uint64_t payload_xxh3 = 0;
};

struct JournalSection {
  std::string_view topic;
  int32_t partition = 0;
  int64_t first_offset = 0;
  int64_t last_offset = 0;
  uint32_t record_count = 0;
  std::span<const uint8_t> records;  // encoded records, record_count of them
};

// Bytes a frame takes on disk for a payload of `payload_size` bytes (header, payload, padding).
inline uint64_t FrameSize(uint64_t payload_size) {
  return format::AlignUp(kFrameHeaderSize + payload_size);
}

// Checks a frame header (magic, version, reserved fields, its checksum, the payload bound) and
// that the whole frame fits in `avail` bytes. Nothing of the payload is looked at.
Status DecodeFrameHeader(const uint8_t* src, uint64_t avail, FrameHeader* out);
// Checks a frame's payload and padding (`frame` is FrameSize(h.payload_size) bytes from the
// header on): the payload checksum, zero padding, and every section: a legal topic name, a
// partition >= 0, first <= last offset, records that decode exactly (record_count of them
// filling records size), offsets increasing within [first, last] and the last one at last
// offset, and the sections filling the payload exactly. Sections point into `frame`.
Status DecodeFrameBody(const FrameHeader& h, const uint8_t* frame,
                       std::vector<JournalSection>* sections);

// The frames of one journal file held in memory, in order, up to the first frame that does not
// check out (a torn write at a crash, or damage): everything from there on is ignored, because
// the durability point that wrote it never returned. `first_seq` is the seq the file's name
// says its first frame has; each next frame must have the next seq.
struct ScannedFrame {
  FrameHeader header;
  uint64_t file_offset = 0;
  std::vector<JournalSection> sections;
};
struct JournalScan {
  std::vector<ScannedFrame> frames;
  uint64_t end = 0;             // where the last good frame ends
  std::string stopped_because;  // empty at a clean end (end of file, or zeros)
};
JournalScan ScanJournal(std::span<const uint8_t> file, uint64_t first_seq);

// Builds one frame in a page-aligned buffer that grows as sections are added (it keeps its
// size between frames, so a steady shard does not allocate).
class FrameBuilder {
 public:
  FrameBuilder() = default;
  // Starts a frame; sections follow.
  void Begin(uint64_t seq, uint32_t shard, int64_t now_ms);
  // Adds a section of `record_count` encoded records (`records`, copied) of topic/partition.
  void AddSection(std::string_view topic, int32_t partition, int64_t first_offset,
                  int64_t last_offset, uint32_t record_count, std::span<const uint8_t> records);
  bool empty() const { return sections_ == 0; }
  uint64_t payload_size() const { return used_ - kFrameHeaderSize; }
  // Writes the header and zero padding; returns the frame's size (a multiple of 4096).
  uint64_t Finish();
  const uint8_t* data() const { return buf_.data(); }

 private:
  void Reserve(size_t bytes);
  io::AlignedBuffer buf_;
  size_t used_ = 0;
  uint64_t seq_ = 0;
  uint32_t shard_ = 0;
  int64_t created_ms_ = 0;
  uint32_t sections_ = 0;
};

}  // namespace tidemark::segment
