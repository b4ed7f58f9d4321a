#include "segment/journal_replay.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <tuple>

#include "common/time.h"
#include "io/io_backend.h"
#include "segment/block.h"
#include "segment/journal_format.h"
#include "segment/recovery.h"
#include "segment/segment_reader.h"
#include "tidemark/record.h"

namespace tidemark::segment {

namespace fs = std::filesystem;

namespace {

// A journal file larger than this is damage (a writer's files stay near 64 MiB, plus at most
// one frame): only this much of it is read.
constexpr uint64_t kMaxJournalFileRead = kMaxFramePayload + (128ull << 20);

// One section of one frame, owned (the file it came from is read one at a time).
struct Chunk {
  int64_t first_offset = 0;
  int64_t last_offset = 0;
  std::vector<uint8_t> records;
  std::string where;  // "journal/<file> frame <seq>", for the report
};
using PartitionKey = std::pair<std::string, int32_t>;

Status ReadWhole(const std::string& path, std::vector<uint8_t>* out, bool* capped) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Errno(errno, "open " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::Errno(err, "stat " + path);
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  *capped = size > kMaxJournalFileRead;
  out->resize(std::min(size, kMaxJournalFileRead));
  size_t done = 0;
  while (done < out->size()) {
    const ssize_t n = ::pread(fd, out->data() + done, out->size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      return Status::Errno(err, "read " + path);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return Status::Ok();
}

// Creates <dir>/<rel> and whatever is missing above it, each new entry made durable.
Status MakeDirsDurably(const std::string& dir, const std::string& rel) {
  std::error_code ec;
  fs::path p = dir;
  for (const auto& part : fs::path(rel)) {
    const fs::path next = p / part;
    if (!fs::is_directory(next, ec)) {
      if (!fs::create_directory(next, ec) && ec)
        return Status::Errno(ec.value(), "create directory " + next.string());
      TM_RETURN_IF_ERROR(io::SyncDirectory(p.string()));
    }
    p = next;
  }
  return Status::Ok();
}

Status WriteAll(int fd, const uint8_t* data, size_t len, uint64_t at, const std::string& path) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = ::pwrite(fd, data + done, len - done, static_cast<off_t>(at + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Errno(n < 0 ? errno : EIO, "write " + path);
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Encodes the partition's journal records from offset `from` on into blocks, in order, as long
// as they are contiguous with what is there (see the header). *first gets the first record's
// offset, *count the records; a discontinuity is described in *stopped.
class TailEncoder {
 public:
  explicit TailEncoder(const ReplayOptions& o)
      : builder_(o.block_bytes), codec_(o.codec, o.level) {}

  Status Encode(const std::vector<Chunk>& chunks, int64_t from, std::vector<uint8_t>* out,
                int64_t* first, uint64_t* count, std::string* stopped) {
    int64_t expect = from;
    *count = 0;
    for (const Chunk& c : chunks) {
      if (c.last_offset < expect) continue;  // in a block already
      if (c.first_offset > expect) {
        *stopped = c.where + " goes on from offset " + std::to_string(c.first_offset) +
                   " where the partition holds up to " + std::to_string(expect) +
                   ": the records from " + std::to_string(expect) + " on are fetched again";
        break;
      }
      RecordDecoder dec(c.records);
      RecordView r;
      while (dec.Next(&r)) {
        if (r.offset < expect) continue;
        if (*count == 0) *first = r.offset;
        if (!builder_.TryAppend(r)) {
          TM_RETURN_IF_ERROR(Emit(out));
          TM_CHECK(builder_.TryAppend(r));
        }
        ++*count;
      }
      TM_RETURN_IF_ERROR(dec.status());  // checked when the frame was read: never fails here
      expect = c.last_offset + 1;
    }
    return Emit(out);
  }

 private:
  Status Emit(std::vector<uint8_t>* out) {
    if (builder_.empty()) return Status::Ok();
    TM_ASSIGN_OR_RETURN(const format::BlockHeader h, codec_.Finish(builder_, &block_));
    out->insert(out->end(), block_.data(), block_.data() + h.block_size);
    builder_.Reset();
    return Status::Ok();
  }

  BlockBuilder builder_;
  BlockCodec codec_;
  io::AlignedBuffer block_;
};

// Replays one partition's chunks (see the header). I/O errors are returned; damage goes to the
// report.
Status ReplayPartition(const std::string& dir, const ReplayOptions& o, const KnownEnd& known_end,
                       const std::string& topic, int32_t partition,
                       const std::vector<Chunk>& chunks, JournalReplay* report) {
  const std::string rel_dir = format::PartitionDir(topic, partition);
  const std::string name = topic + "/" + std::to_string(partition);
  int64_t holds = known_end ? known_end(topic, partition) : 0;
  // Its segment files: the newest sealed one bounds what it holds; the newest unsealed one gets
  // the journal's records.
  int64_t newest_sealed = -1, newest_open = -1;
  std::error_code ec;
  for (fs::directory_iterator it(dir + "/" + rel_dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string n = it->path().filename().string();
    int64_t first = -1;
    bool sealed = false;
    if (!format::ParseSegmentName(n, &first, &sealed)) continue;
    int64_t& newest = sealed ? newest_sealed : newest_open;
    newest = std::max(newest, first);
  }
  if (newest_sealed >= 0) {
    const std::string rel = rel_dir + "/" + format::SegmentName(newest_sealed, true);
    SegmentReader r;
    Status st = r.Open(dir + "/" + rel);
    if (st.ok()) st = r.footer_status();
    if (!st.ok()) {
      if (!st.Is(Errc::kCorrupt)) return st;
      report->problems.push_back(name + ": the journal's records are not used, since " + rel +
                                 " cannot be read (" + st.message() + "); they are fetched again");
      return Status::Ok();
    }
    holds = std::max(holds, r.footer().last_offset + 1);
  }

  TailEncoder enc(o);
  std::string stopped;
  uint64_t count = 0;
  int64_t first = -1;
  if (newest_open >= 0) {
    const std::string rel = rel_dir + "/" + format::SegmentName(newest_open, false);
    auto tail = [&](int64_t last_offset, std::vector<uint8_t>* blocks) {
      return enc.Encode(chunks, std::max(holds, last_offset + 1), blocks, &first, &count, &stopped);
    };
    auto rec = RecoverOpenSegment(dir, rel, tail);
    if (!rec.ok()) {
      if (!rec.status().Is(Errc::kCorrupt)) return rec.status();
      // Left for the store's recovery to move aside; its records and the journal's are fetched
      // again.
      report->problems.push_back(name +
                                 ": the journal's records are not used: " + rec.status().message());
      return Status::Ok();
    }
    if (rec->sealed) {
      if (!stopped.empty()) report->problems.push_back(name + ": " + stopped);
      if (count > 0) {
        report->records += count;
        report->recovered.push_back(
            rel + ": " + std::to_string(count) + " records from the journal appended (offsets " +
            std::to_string(first) + ".." + std::to_string(rec->sealed->last_offset) + ")");
      }
      return Status::Ok();
    }
    // No block of it survived (it was removed): the journal's records make a segment of their
    // own, from what the partition holds otherwise.
  }
  std::vector<uint8_t> blocks;
  TM_RETURN_IF_ERROR(enc.Encode(chunks, holds, &blocks, &first, &count, &stopped));
  if (!stopped.empty()) report->problems.push_back(name + ": " + stopped);
  if (count == 0) return Status::Ok();
  // A new unsealed segment of header page and blocks, made durable, then sealed by the same
  // recovery as any unsealed segment (which reads every block back first).
  TM_RETURN_IF_ERROR(MakeDirsDurably(dir, rel_dir));
  const std::string rel = rel_dir + "/" + format::SegmentName(first, false);
  const std::string path = dir + "/" + rel;
  std::vector<uint8_t> page(format::kFileHeaderSize);
  format::EncodeFileHeader({topic, partition, first, WallClockMs(), o.backup_id}, page.data());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Errno(errno, "create " + path);
  Status st = WriteAll(fd, page.data(), page.size(), 0, path);
  if (st.ok()) st = WriteAll(fd, blocks.data(), blocks.size(), page.size(), path);
  if (st.ok() && ::fdatasync(fd) != 0) st = Status::Errno(errno, "fdatasync " + path);
  ::close(fd);
  TM_RETURN_IF_ERROR(st);
  TM_RETURN_IF_ERROR(io::SyncDirectory(dir + "/" + rel_dir));
  TM_ASSIGN_OR_RETURN(const Recovered rec, RecoverOpenSegment(dir, rel));
  if (!rec.sealed || rec.sealed->records != count) {
    return Status::Corrupt("the segment " + rel + " written from the journal does not read back (" +
                           rec.stopped_because + ")");
  }
  report->records += count;
  report->recovered.push_back(rel + ": " + std::to_string(count) +
                              " records from the journal (offsets " + std::to_string(first) + ".." +
                              std::to_string(rec.sealed->last_offset) + ")");
  return Status::Ok();
}

}  // namespace

Status ReplayJournal(const std::string& dir, const ReplayOptions& o, const KnownEnd& known_end,
                     JournalReplay* report) {
  const std::string jdir = dir + "/" + std::string(kJournalDir);
  std::error_code ec;
  if (!fs::is_directory(jdir, ec)) return Status::Ok();
  // The files in the order they were written: by shard, then by the seq of their first frame.
  std::vector<std::tuple<int, uint64_t, std::string>> files;
  for (fs::directory_iterator it(jdir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    int shard = -1;
    uint64_t seq = 0;
    std::error_code type_ec;
    const bool regular = it->is_regular_file(type_ec) && !type_ec;
    if (ParseJournalFileName(n, &shard, &seq) && regular) {
      files.emplace_back(shard, seq, n);
    } else if (!regular) {
      report->problems.push_back(std::string(kJournalDir) + "/" + n +
                                 " is not a regular file; left alone");
    } else {
      report->problems.push_back(std::string(kJournalDir) + "/" + n +
                                 " is not a journal file name; left alone");
    }
  }
  if (ec) return Status::Errno(ec.value(), "cannot list " + jdir);
  std::sort(files.begin(), files.end());

  std::map<PartitionKey, std::vector<Chunk>> chunks;
  std::vector<uint8_t> data;
  for (const auto& [shard, seq, n] : files) {
    const std::string rel = std::string(kJournalDir) + "/" + n;
    bool capped = false;
    TM_RETURN_IF_ERROR(ReadWhole(jdir + "/" + n, &data, &capped));
    JournalScan scan = ScanJournal(data, seq);
    if (!scan.stopped_because.empty()) {
      report->problems.push_back(rel + ": frames end " + scan.stopped_because +
                                 " (a frame being written when the last run stopped, whose "
                                 "durability point never returned, or damage)");
    } else if (capped) {
      report->problems.push_back(rel + ": only its first " + std::to_string(kMaxJournalFileRead) +
                                 " bytes were read (larger than a journal file can be)");
    }
    for (const ScannedFrame& f : scan.frames) {
      for (const JournalSection& s : f.sections) {
        Chunk c;
        c.first_offset = s.first_offset;
        c.last_offset = s.last_offset;
        c.records.assign(s.records.begin(), s.records.end());
        c.where = rel + " frame " + std::to_string(f.header.seq);
        chunks[{std::string(s.topic), s.partition}].push_back(std::move(c));
      }
    }
  }
  for (const auto& [key, list] : chunks) {
    TM_RETURN_IF_ERROR(ReplayPartition(dir, o, known_end, key.first, key.second, list, report));
  }
  // Every record the journal held is in a sealed segment now (or fetched again): it goes.
  for (const auto& [shard, seq, n] : files) {
    if (::unlink((jdir + "/" + n).c_str()) != 0 && errno != ENOENT)
      return Status::Errno(errno, "remove " + jdir + "/" + n);
  }
  if (!files.empty()) TM_RETURN_IF_ERROR(io::SyncDirectory(jdir));
  return Status::Ok();
}

}  // namespace tidemark::segment
