// SegmentReader: reads one segment file, trusting nothing it has not checked.
//
// Open() reads and checks the file header page and, when the file is sealed, the trailer and the
// footer. Blocks can then be read through the footer's index or by scanning from the first
// block (ReadBlockAt with the previous block's end), which is how an unsealed segment left by a
// crash is recovered up to its last complete block.
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

  // Reads, checks and decompresses the block at file offset `off`. The payload stays valid until
  // the next call.
  Status ReadBlockAt(uint64_t off, format::BlockHeader* header, std::span<const uint8_t>* payload);

 private:
  Status ReadExact(uint64_t off, size_t len, uint8_t* dst);

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
