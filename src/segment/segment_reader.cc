#include "segment/segment_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace tidemark::segment {

SegmentReader::~SegmentReader() {
  if (fd_ >= 0) ::close(fd_);
}

Status SegmentReader::ReadExact(uint64_t off, size_t len, uint8_t* dst) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd_, dst + got, len - got, static_cast<off_t>(off + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Errno(errno, "read " + path_);
    }
    if (n == 0) return Status::Corrupt("file ends at byte " + std::to_string(off + got));
    got += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status SegmentReader::Open(const std::string& path) {
  path_ = path;
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return Status::Errno(errno, "open " + path);
  struct stat st;
  if (::fstat(fd_, &st) != 0) return Status::Errno(errno, "stat " + path);
  file_size_ = static_cast<uint64_t>(st.st_size);
  if (file_size_ < format::kFileHeaderSize) {
    return Status::Corrupt("file is " + std::to_string(file_size_) +
                           " bytes, shorter than its header page");
  }
  buf_.resize(format::kFileHeaderSize);
  TM_RETURN_IF_ERROR(ReadExact(0, format::kFileHeaderSize, buf_.data()));
  TM_RETURN_IF_ERROR(format::DecodeFileHeader(buf_.data(), buf_.size(), &file_header_));

  blocks_end_ = file_size_;
  footer_status_ = Status::Ok();
  if (file_size_ < format::kFileHeaderSize + format::kTrailerSize ||
      !format::IsAligned(file_size_)) {
    footer_status_ = Status::Corrupt("no footer: file size " + std::to_string(file_size_) +
                                     " is not page-aligned (truncated, or never sealed)");
    return Status::Ok();
  }
  uint8_t trailer_bytes[format::kTrailerSize];
  TM_RETURN_IF_ERROR(
      ReadExact(file_size_ - format::kTrailerSize, format::kTrailerSize, trailer_bytes));
  format::Trailer trailer;
  footer_status_ = format::DecodeTrailer(trailer_bytes, file_size_, &trailer);
  if (!footer_status_.ok()) return Status::Ok();
  // The trailer was checked to point at a region that ends the file exactly, so this size is
  // bounded by the file's own.
  std::vector<uint8_t> region(file_size_ - trailer.footer_offset);
  TM_RETURN_IF_ERROR(ReadExact(trailer.footer_offset, region.size(), region.data()));
  footer_status_ =
      format::DecodeFooter(region.data(), region.size(), trailer, &footer_, &footer_checksum_);
  if (footer_status_.ok()) {
    blocks_end_ = trailer.footer_offset;
  } else {
    footer_ = format::Footer{};  // never an index that failed its checks
  }
  return Status::Ok();
}

Status CheckBlock(BlockDecoder* decoder, const uint8_t* block, size_t avail,
                  const format::FooterEntry* entry, format::BlockHeader* header,
                  std::span<const uint8_t>* payload) {
  TM_RETURN_IF_ERROR(decoder->Decode(block, avail, header, payload));
  if (entry != nullptr &&
      (header->block_size != entry->block_size || header->first_offset != entry->first_offset ||
       header->last_offset != entry->last_offset || header->record_count != entry->record_count ||
       header->payload_xxh3 != entry->payload_xxh3 ||
       header->min_timestamp != entry->min_timestamp ||
       header->max_timestamp != entry->max_timestamp)) {
    return Status::Corrupt("block disagrees with the footer's index entry");
  }
  return Status::Ok();
}

Status SegmentReader::ReadBlock(uint64_t off, const format::FooterEntry* entry,
                                format::BlockHeader* header, std::span<const uint8_t>* payload) {
  if (off > blocks_end_ || format::kBlockHeaderSize > blocks_end_ - off) {
    return Status::Corrupt("block at byte " + std::to_string(off) + " truncated inside its header");
  }
  uint8_t hdr[format::kBlockHeaderSize];
  TM_RETURN_IF_ERROR(ReadExact(off, sizeof(hdr), hdr));
  TM_RETURN_IF_ERROR(format::DecodeBlockHeader(hdr, header));
  if (header->block_size > blocks_end_ - off) {
    return Status::Corrupt("block at byte " + std::to_string(off) + " truncated: it needs " +
                           std::to_string(header->block_size) + " bytes");
  }
  // The whole block, padding included: every byte of it is checked.
  if (buf_.size() < header->block_size) buf_.resize(header->block_size);
  TM_RETURN_IF_ERROR(ReadExact(off, header->block_size, buf_.data()));
  return CheckBlock(&decoder_, buf_.data(), header->block_size, entry, header, payload);
}

Status SegmentReader::ReadBlockAt(uint64_t off, format::BlockHeader* header,
                                  std::span<const uint8_t>* payload) {
  return ReadBlock(off, nullptr, header, payload);
}

Status SegmentReader::ReadIndexed(size_t i, format::BlockHeader* header,
                                  std::span<const uint8_t>* payload) {
  TM_RETURN_IF_ERROR(footer_status_);
  if (i >= footer_.blocks.size()) {
    return Status::Corrupt("block " + std::to_string(i) + " is not in the footer's index (" +
                           std::to_string(footer_.blocks.size()) + " blocks)");
  }
  const format::FooterEntry& e = footer_.blocks[i];
  return ReadBlock(e.file_offset, &e, header, payload);
}

Result<bool> SegmentReader::ScanNext(BlockScan* scan, format::BlockHeader* header,
                                     std::span<const uint8_t>* payload) {
  if (scan->pos >= blocks_end_) return false;
  TM_RETURN_IF_ERROR(ReadBlock(scan->pos, nullptr, header, payload));
  if (scan->block > 0 && header->first_offset <= scan->last_offset)
    return Status::Corrupt("block offsets go back");
  scan->pos += header->block_size;
  ++scan->block;
  scan->last_offset = header->last_offset;
  return true;
}

}  // namespace tidemark::segment
