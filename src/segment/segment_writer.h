// SegmentWriter: writes one partition's segments.
//
// Lifecycle: Open(first_offset) -> AppendBlock()* [Flush()] -> Seal() -> Open(next) ... A segment
// is written under its open name ("...tmseg.open"); Seal() waits for its blocks, writes the footer,
// fdatasyncs, renames it to its sealed name and fsyncs the directory. Only then is it reported
// as sealed, so a sealed segment never lies. A failed write leaves a sticky error: every later
// call returns it, and the segment stays unsealed.
//
// Thread contract: owned by one partition on one shard; used only from that shard's thread.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "segment/block.h"
#include "segment/write_pool.h"
#include "tidemark/format.h"

namespace tidemark::segment {

struct SealedSegment {
  std::string path;  // relative to the backup directory
  int64_t first_offset = 0;
  int64_t last_offset = -1;
  int64_t min_timestamp = 0;
  int64_t max_timestamp = 0;
  uint64_t records = 0;
  uint64_t bytes_raw = 0;     // encoded record bytes before compression
  uint64_t bytes_stored = 0;  // file size
  uint32_t blocks = 0;
  uint64_t checksum = 0;  // XXH3 of the footer body
  // Where the segment lives (the uploader keeps these): when its upload to object storage was
  // confirmed (0: not uploaded), and whether the local file is still kept (keep_local).
  int64_t uploaded_ms = 0;
  bool local = true;

  // The last offset the segment accounts for: its last record's, or its first offset when it
  // holds no record. The next segment starts past it.
  int64_t Last() const { return records > 0 ? last_offset : first_offset; }

  // What a sealed segment's footer says about it (the writer, crash recovery and the store
  // scan all describe a segment this way).
  static SealedSegment Of(const format::Footer& f, std::string path, uint64_t bytes_stored,
                          uint64_t checksum) {
    SealedSegment s;
    s.path = std::move(path);
    s.first_offset = f.first_offset;
    s.last_offset = f.last_offset;
    s.min_timestamp = f.min_timestamp;
    s.max_timestamp = f.max_timestamp;
    s.records = f.record_count;
    s.bytes_raw = f.raw_bytes;
    s.bytes_stored = bytes_stored;
    s.blocks = static_cast<uint32_t>(f.blocks.size());
    s.checksum = checksum;
    return s;
  }
};

class SegmentWriter final : public WriteSink {
 public:
  struct Options {
    std::string backup_dir;  // absolute: <path>/<id>
    std::string backup_id;
    std::string topic;
    int32_t partition = 0;
    // Preallocation stops here (the size at which the segment will roll), so that sealing a
    // full segment has little reserved space to give back (on filesystems mounted with
    // `discard`, giving it back is a synchronous discard). 0: no limit.
    uint64_t preallocate_limit = 0;
  };

  SegmentWriter(Options o, WritePool* pool, BlockCodec* codec);
  // Pool buffer size for blocks of up to block_bytes raw: room for the worst case of one block
  // plus as much again, so several compressed blocks usually share one write.
  static size_t BatchBufferBytes(size_t block_bytes) {
    return 2 * BlockCodec::MaxBlockSize(block_bytes);
  }
  ~SegmentWriter();
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;

  bool is_open() const { return fd_ >= 0; }
  Status Open(int64_t first_offset, int64_t now_ms);
  // Compresses the builder's block into the writer's held pool buffer; the buffer is written
  // (one I/O for several blocks) once the next block might not fit, on Flush() and on Seal().
  // The builder may be reset as soon as this returns.
  Status AppendBlock(const BlockBuilder& b);
  // Submits the held buffer now (when the shard is idle, so data does not wait for more).
  Status Flush();
  // The durability point of an open segment, in two halves so that a shard syncs all its
  // segments at once (shard/group_commit.h): SubmitSync() submits the held buffer, waits for
  // this segment's writes and submits an fdatasync through the ring; once the caller has reaped
  // until !sync_in_flight(), FinishSync() checks it and, the first time, fsyncs the directory (so
  // the open file itself survives a power loss). After that, every block appended before
  // SubmitSync() survives a crash: recovery keeps it.
  Status SubmitSync();
  bool sync_in_flight() const { return sync_op_.in_flight; }
  Status FinishSync();
  // Seals the open segment (see the class comment). An open segment without blocks is removed
  // instead and nothing is returned in *out (out->records == 0).
  Status Seal(SealedSegment* out);
  // File bytes appended (written, in flight or held), header page included: what the segment
  // will measure before its footer. Used to roll at segment_max_bytes.
  uint64_t size() const { return write_pos_; }
  const Status& sticky_error() const { return error_; }

  void OnWriteDone(int error, uint32_t len) override;
  void SubmitHeld() override;

 private:
  Status WaitInFlight();
  Status StartBatch(size_t need);
  Status SubmitBatch();
  void Preallocate(uint64_t end);
  std::string DirPath() const;

  Options opts_;
  WritePool* pool_;
  BlockCodec* codec_;
  int fd_ = -1;
  std::string open_name_;
  std::string sealed_name_;
  uint64_t write_pos_ = 0;
  uint64_t allocated_ = 0;   // file size asked for by Preallocate
  uint64_t reserved_ = 0;    // of the pool's preallocation budget, held until the seal
  bool prealloc_ = true;     // false once an fallocate failed for this segment, and at the seal
  bool dir_synced_ = false;  // the open file's directory entry is durable
  io::IoOp falloc_op_;       // at most one fallocate in flight
  io::IoOp sync_op_;         // the fdatasync of a durability point
  // The pool buffer being filled: bytes [batch_offset_, batch_offset_ + batch_len_) of the file.
  WritePool::Slot* batch_ = nullptr;
  uint64_t batch_offset_ = 0;
  size_t batch_len_ = 0;
  size_t in_flight_ = 0;
  Status error_;
  format::Footer footer_;
};

}  // namespace tidemark::segment
