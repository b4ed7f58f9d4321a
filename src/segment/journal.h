// Journal: a shard's append-only log of the records that a durability point vouched for but that
// are not yet in a block durable in its segment (docs/ARCHITECTURE.md, "The journal").
//
// At each durability point the shard fills frame() with one section per partition that has new
// records, then SubmitFrame() writes the frame (padded to 4 KiB once) linked to an fdatasync of
// the journal file, through the shard's ring; the caller reaps until !busy() (together with the
// segment fdatasyncs of the same point) and calls Complete(). Frames are appended to files of up
// to `file_bytes` in <backup>/journal/; Release(oldest_needed) deletes the files whose frames
// are all older than the oldest frame some partition still needs. Recovery at the next start
// (segment/journal_replay.h) reads what is left.
//
// Thread contract: owned by one shard and used only on its thread, through its IoBackend.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "io/io_backend.h"
#include "segment/journal_format.h"

namespace tidemark::segment {

class JournalWriter {
 public:
  // `dir` is <backup>/journal.
  JournalWriter(io::IoBackend* io, std::string dir, int shard, uint64_t file_bytes = 64ull << 20);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Creates the directory and starts after the highest seq of any file already there (left by a
  // run whose recovery has not happened yet: never overwritten).
  Status Open();
  // The frame of the next durability point (begun on first use, with seq next_seq()).
  FrameBuilder& frame();
  bool has_frame() const { return begun_ && !frame_.empty(); }
  uint64_t next_seq() const { return next_seq_; }
  // Submits the frame's write and its fdatasync as one chain. Returns the frame's seq.
  Result<uint64_t> SubmitFrame();
  // The write or the fdatasync is still in flight.
  bool busy() const { return write_op_.in_flight || sync_op_.in_flight; }
  // After !busy(): the frame is durable, or the error. A chain cancelled by a short write is
  // finished with a blocking fdatasync.
  Status Complete();
  // Deletes the files whose frames all have a seq below `oldest_needed` (0: none is needed), the
  // file being written excepted.
  void Release(uint64_t oldest_needed);
  // Closes and deletes every file: when no partition needs any frame (every one sealed).
  void RemoveAll();
  // Files now in the journal (for tests and metrics).
  size_t files() const { return files_.size(); }
  const std::string& dir() const { return dir_; }

 private:
  struct File {
    std::string name;
    uint64_t first_seq = 0;
    uint64_t last_seq = 0;  // 0: no frame yet
  };
  Status StartFile();

  io::IoBackend* io_;
  std::string dir_;
  int shard_;
  uint64_t file_bytes_;
  int fd_ = -1;
  uint64_t file_pos_ = 0;
  std::deque<File> files_;  // oldest first; the last is being written
  uint64_t next_seq_ = 1;
  FrameBuilder frame_;
  bool begun_ = false;
  io::IoOp write_op_;
  io::IoOp sync_op_;
  uint64_t submitted_seq_ = 0;
  uint64_t submitted_size_ = 0;
  Status error_;  // sticky
};

}  // namespace tidemark::segment
