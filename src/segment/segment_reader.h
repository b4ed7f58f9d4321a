// SegmentReader: the one block reader. It reads one segment file, trusting nothing it has not
// checked, and every reader of blocks goes through it: crash recovery, the store's recovery
// scan, verify, restore (whose io_uring reads land in its own buffers and are checked by
// CheckBlock) and, through these, the s3 source's fetched files.
//
// Open() reads and checks the file header page and, when the file is sealed, the trailer and the
// footer. Blocks can then be read through the footer's index (ReadIndexed: the block must also
// agree with its index entry) or by scanning from the first block (ScanNext: each block where
// the previous one ends, offsets going up), which is how an unsealed segment left by a crash is
// recovered up to its last complete block. Every block passes the same checks wherever it is
// read: its header (checksum, sizes), that it lies inside the blocks area of the file, the
// payload checksum, zero padding, the decompressed size and, when read through the index,
// agreement with the index entry.
//
// Thread contract: one thread at a time; it owns its file descriptor and scratch buffers.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "segment/block.h"
#include "tidemark/format.h"

namespace tidemark::segment {

// The checks of one block held in memory (`avail` bytes from its first byte, which may run past
// the block): the decoder's (header, size within `avail`, payload checksum, zero padding,
// decompression to the recorded size) and, with `entry`, that the block is the one the footer's
// index entry describes (size, offsets, timestamps, record count, payload checksum). Every
// block read goes through it; restore calls it on the buffers its io_uring reads filled.
Status CheckBlock(BlockDecoder* decoder, const uint8_t* block, size_t avail,
                  const format::FooterEntry* entry, format::BlockHeader* header,
                  std::span<const uint8_t>* payload);

// Where a scan of the blocks (SegmentReader::ScanNext) is.
struct BlockScan {
  uint64_t pos = format::kFileHeaderSize;  // the next block's file offset
  int64_t block = 0;                       // the next block's index in the file
  int64_t last_offset = -1;                // the last offset of the blocks read so far
};

class SegmentReader {
 public:
  SegmentReader() = default;
  ~SegmentReader();
  SegmentReader(const SegmentReader&) = delete;
  SegmentReader& operator=(const SegmentReader&) = delete;

  // Fails only when the file cannot be opened or its header page is damaged. A missing or
  // damaged footer is reported by footer_status() instead, so the blocks can still be scanned.
  Status Open(const std::string& path);

  const format::FileHeader& file_header() const { return file_header_; }
  uint64_t file_size() const { return file_size_; }
  int fd() const { return fd_; }  // for callers that read blocks themselves (restore)
  // Ok when the trailer and footer are present and intact.
  const Status& footer_status() const { return footer_status_; }
  const format::Footer& footer() const { return footer_; }
  uint64_t footer_checksum() const { return footer_checksum_; }
  // Where blocks end: the footer's offset when sealed, the file size otherwise.
  uint64_t blocks_end() const { return blocks_end_; }

  // Reads, checks and decompresses the block at file offset `off`: it must lie inside the blocks
  // area (before blocks_end()). The payload stays valid until the next call. Errors are Corrupt
  // for damage (the message says at which byte when it is about the file's bounds) or the
  // read's own error.
  Status ReadBlockAt(uint64_t off, format::BlockHeader* header, std::span<const uint8_t>* payload);

  // The block the footer's index entry `i` names (the footer must be intact and i within it),
  // read and checked like ReadBlockAt and also against the entry.
  Status ReadIndexed(size_t i, format::BlockHeader* header, std::span<const uint8_t>* payload);

  // The next block of a scan from the first block: true with it (scan moves past it), false
  // where the blocks end (blocks_end()), Corrupt at the first block that does not check out or
  // whose offsets do not come after the previous block's (scan stays at it), or the read's own
  // error.
  Result<bool> ScanNext(BlockScan* scan, format::BlockHeader* header,
                        std::span<const uint8_t>* payload);

 private:
  Status ReadExact(uint64_t off, size_t len, uint8_t* dst);
  Status ReadBlock(uint64_t off, const format::FooterEntry* entry, format::BlockHeader* header,
                   std::span<const uint8_t>* payload);

  std::string path_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  format::FileHeader file_header_;
  Status footer_status_;
  format::Footer footer_;
  uint64_t footer_checksum_ = 0;
  uint64_t blocks_end_ = 0;
  std::vector<uint8_t> buf_;
  BlockDecoder decoder_;
};

}  // namespace tidemark::segment
