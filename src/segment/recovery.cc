#include "segment/recovery.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "io/io_backend.h"
#include "segment/segment_reader.h"

namespace tidemark::segment {

namespace {

// Removes `path` and makes the removal durable.
Status RemoveDurably(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Status::Errno(errno, "unlink " + path);
  return io::SyncDirectory(path.substr(0, path.rfind('/')));
}

}  // namespace

Result<Recovered> RecoverOpenSegment(const std::string& backup_dir, const std::string& open_path,
                                     const TailBlocks& tail) {
  const std::string path = backup_dir + "/" + open_path;
  const std::string_view suffix = format::kOpenSuffix;
  if (open_path.size() <= suffix.size() ||
      open_path.compare(open_path.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return Status::Invalid(open_path + " is not an unsealed segment (" + std::string(suffix) + ")");
  }
  Recovered out;
  SegmentReader reader;
  Status st = reader.Open(path);
  if (!st.ok()) {
    if (st.Is(Errc::kCorrupt) && reader.file_size() < format::kFileHeaderSize) {
      // Crashed before its header page was written: it never held a record.
      out.dropped_bytes = reader.file_size();
      out.stopped_because = st.message();
      TM_RETURN_IF_ERROR(RemoveDurably(path));
      return out;
    }
    return st.WithContext("cannot recover " + path + " (left as it is)");
  }
  // Scan: every block that reads back whole and checks out, in increasing offsets.
  format::Footer footer;
  footer.first_offset = reader.file_header().first_offset;
  // (An unsealed file has no footer, so its blocks end where the file does.)
  BlockScan scan;
  for (;;) {
    format::BlockHeader h;
    std::span<const uint8_t> payload;
    const uint64_t at = scan.pos;
    auto more = reader.ScanNext(&scan, &h, &payload);
    if (!more.ok() && !more.status().Is(Errc::kCorrupt)) {
      // Not damage but a failed read: cutting the file here could lose what follows.
      return more.status().WithContext("cannot recover " + path + " (left as it is)");
    }
    if (!more.ok()) {
      out.stopped_because = "at byte " + std::to_string(at) + ": " + more.status().message();
      break;
    }
    if (!*more) break;
    format::AddBlockToFooter(&footer, at, h);
  }
  const uint64_t pos = scan.pos;
  out.dropped_bytes = reader.file_size() - pos;
  if (footer.blocks.empty()) {
    TM_RETURN_IF_ERROR(RemoveDurably(path));
    return out;
  }
  // The header page's first offset names the segment: it must be where its blocks start (at or
  // before the first), and the file's own name. Otherwise the page lies (it passed its checksum,
  // so it was written that way): nothing here can be sealed that readers would trust.
  const std::string name = open_path.substr(open_path.rfind('/') + 1);
  if (footer.first_offset < 0 || footer.first_offset > footer.blocks[0].first_offset ||
      name != format::SegmentName(footer.first_offset, false)) {
    return Status::Corrupt("cannot recover " + path + ": its header page says first offset " +
                           std::to_string(footer.first_offset) + ", its blocks start at " +
                           std::to_string(footer.blocks[0].first_offset) + " (left as it is)");
  }

  // Blocks to append after the good ones (records the journal kept), each checked as a reader
  // will check it (CheckBlock) before the footer indexes it.
  std::vector<uint8_t> extra;
  if (tail) {
    TM_RETURN_IF_ERROR(tail(footer.last_offset, &extra));
    BlockDecoder decoder;
    for (size_t at = 0; at < extra.size();) {
      format::BlockHeader h;
      std::span<const uint8_t> payload;
      Status bs = CheckBlock(&decoder, extra.data() + at, extra.size() - at, nullptr, &h, &payload);
      if (bs.ok() && h.first_offset <= footer.last_offset)
        bs = Status::Corrupt("block offsets go back");
      if (!bs.ok()) return bs.WithContext("blocks to append to " + path);
      format::AddBlockToFooter(&footer, pos + at, h);
      at += h.block_size;
    }
  }
  const uint64_t blocks_end = pos + extra.size();

  // Seal: cut what follows the last good block, write the appended blocks and the footer region
  // there, make it durable, then give the file its sealed name.
  const size_t region = format::FooterRegionSize(footer.blocks.size());
  std::vector<uint8_t> buf(region);
  const uint64_t checksum = format::EncodeFooterRegion(footer, blocks_end, buf.data());
  {
    // Never seal what a reader would refuse: the footer goes through the reader's own checks.
    format::Trailer trailer;
    format::Footer check;
    uint64_t sum = 0;
    Status st = format::DecodeTrailer(buf.data() + region - format::kTrailerSize,
                                      blocks_end + region, &trailer);
    if (st.ok()) st = format::DecodeFooter(buf.data(), region, trailer, &check, &sum);
    if (!st.ok()) return st.WithContext("cannot recover " + path + " (left as it is)");
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::Errno(errno, "open " + path);
  auto fail = [&](const std::string& what) {
    const int err = errno;
    ::close(fd);
    return Status::Errno(err, what + " " + path);
  };
  if (::ftruncate(fd, static_cast<off_t>(pos)) != 0) return fail("truncate");
  auto write_all = [&](const std::vector<uint8_t>& bytes, uint64_t at) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n =
          ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(at + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  };
  if (!write_all(extra, pos)) return fail("write the journal's blocks to");
  if (!write_all(buf, blocks_end)) return fail("write the footer of");
  if (::fdatasync(fd) != 0) return fail("fdatasync");
  if (::close(fd) != 0) return Status::Errno(errno, "close " + path);
  const std::string sealed_rel =
      open_path.substr(0, open_path.size() - suffix.size()) + std::string(format::kSegmentSuffix);
  const std::string sealed_path = backup_dir + "/" + sealed_rel;
  if (::rename(path.c_str(), sealed_path.c_str()) != 0)
    return Status::Errno(errno, "rename " + path + " to " + sealed_path);
  TM_RETURN_IF_ERROR(io::SyncDirectory(sealed_path.substr(0, sealed_path.rfind('/'))));

  out.sealed = SealedSegment::Of(footer, sealed_rel, blocks_end + region, checksum);
  return out;
}

}  // namespace tidemark::segment
