// Reading a backed-up partition back, block by block, for restore.
//
// ReadRing is one io_uring per restore thread. BlockStream walks one partition's segments in
// offset order: for a sealed segment it plans its reads from the footer's index (blocks outside
// the offset range or time window are never read) and keeps up to `depth` block reads in
// flight ahead of the consumer (read-ahead). Every block is checked by the one block reader's
// checks (segment::CheckBlock: header checksum, payload XXH3, padding, agreement with the index)
// and decompressed before any of it is handed out. A segment whose footer is damaged is scanned
// from its first block instead (SegmentReader::ScanNext), up to the damage.
//
// Damage stops the partition's stream before the first damaged block, naming it; with
// skip_damaged the stream goes on past it and records exactly which offsets it skipped.
//
// Thread contract: a ReadContext and the streams using it belong to one thread.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backup/manifest.h"
#include "segment/block.h"
#include "segment/segment_reader.h"
#include "source/backup_source.h"
#include "tidemark/record.h"

namespace tidemark::restore {

class ReadRing {
 public:
  struct Read {
    int fd = -1;
    uint8_t* buf = nullptr;
    uint32_t len = 0;
    uint64_t offset = 0;
    uint32_t done = 0;  // bytes read so far
    int error = 0;      // errno, or EIO for a read past the end of the file
    bool in_flight = false;
  };

  ReadRing() = default;
  ~ReadRing();
  ReadRing(const ReadRing&) = delete;
  ReadRing& operator=(const ReadRing&) = delete;

  Status Init(unsigned entries);
  // Queues a read of [offset, offset + len); short reads are continued until the whole length
  // is in (or the file ends).
  Status Submit(Read* r);
  // Completes reads until `r` is done.
  Status WaitFor(Read* r);

 private:
  Status Push(Read* r);
  io_uring ring_{};
  bool ready_ = false;
  unsigned pending_ = 0;  // queued but not submitted
};

// A read buffer that is not zero-filled when it grows (it is always overwritten by a read).
struct ReadBuffer {
  std::unique_ptr<uint8_t[]> data;
  size_t capacity = 0;
  void Reserve(size_t n) {
    if (n <= capacity) return;
    data.reset(new uint8_t[n]);
    capacity = n;
  }
};

// What one restore thread reads with, reused by every partition it reads: the ring, the
// decompression context and the read buffers. (Made per partition, they would cost an
// allocation, a zero-fill and page faults for every partition.)
struct ReadContext {
  ReadRing ring;
  segment::BlockDecoder decoder;
  std::vector<ReadBuffer> spare;
};

// Which records a restore wants from a partition: offsets [from_offset, to_offset) and
// timestamps [from_ms, to_ms).
struct RecordFilter {
  int64_t from_offset = 0;
  int64_t to_offset = INT64_MAX;
  int64_t from_ms = INT64_MIN;
  int64_t to_ms = INT64_MAX;

  bool Wants(int64_t offset, int64_t ts) const {
    return offset >= from_offset && offset < to_offset && ts >= from_ms && ts < to_ms;
  }
  // Whether a block or segment spanning these offsets and timestamps may hold a wanted record.
  bool Overlaps(int64_t first, int64_t last, int64_t min_ts, int64_t max_ts) const {
    return last >= from_offset && first < to_offset && max_ts >= from_ms && min_ts < to_ms;
  }
};

struct StreamDamage {
  std::string file;           // relative to the backup directory
  int64_t block = -1;         // block index in the segment, -1 for the whole segment
  uint64_t file_offset = 0;   // byte position of the damage
  int64_t first_offset = -1;  // the offsets lost with it (best known), inclusive
  int64_t last_offset = -1;
  std::string what;
};

class BlockStream {
 public:
  // Segments come from `src` (a local directory or object storage, fetched ahead of the reader).
  BlockStream(ReadContext* ctx, source::BackupSource* src, std::string id, std::string topic,
              const backup::PartitionManifest* part, RecordFilter filter, bool skip_damaged,
              unsigned depth);
  ~BlockStream();
  BlockStream(const BlockStream&) = delete;
  BlockStream& operator=(const BlockStream&) = delete;

  // The next checked, decompressed block, or false at the end (or where damage stopped the
  // stream). The payload is valid until the next call. Fails only on an I/O error that is not
  // about the backup's content (the ring itself failing).
  Result<bool> Next(format::BlockHeader* header, std::span<const uint8_t>* payload);

  // Moves the payload the last Next() returned into `out` (swapping buffers where it was
  // decompressed, copying otherwise) and points *payload at it there.
  void TakePayload(std::vector<uint8_t>* out, std::span<const uint8_t>* payload);

  const std::vector<StreamDamage>& damage() const { return damage_; }
  bool stopped() const { return stopped_; }  // damage ended the stream early
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  struct Slot {
    ReadRing::Read read;
    ReadBuffer buf;
    size_t entry = 0;  // index into entries_
  };
  // Opens segment seg_; false when it is damaged (recorded; the caller moves on or stops).
  bool OpenSegment();
  // The next segment at or after `from` that may hold wanted records (segments().size(): none).
  size_t NextWanted(size_t from) const;
  void CloseSegment();
  Status Refill();
  void Damage(int64_t block, uint64_t at, int64_t first, int64_t last, const std::string& what);

  ReadContext* ctx_;
  ReadRing* ring_;
  source::BackupSource* src_;
  std::string id_, topic_;
  const backup::PartitionManifest* part_;
  RecordFilter filter_;
  bool skip_damaged_;
  unsigned depth_;

  size_t seg_ = 0;  // next segment to open
  const segment::SealedSegment* cur_ = nullptr;
  source::SegmentFile file_;                      // the segment being read
  std::optional<segment::SegmentReader> reader_;  // header, footer, the scanning fallback
  bool scanning_ = false;
  segment::BlockScan scan_;      // where the scan is (scanning_)
  std::vector<size_t> entries_;  // footer entries to read, in order
  size_t next_submit_ = 0;       // next entry of entries_ to submit
  std::vector<Slot> slots_;
  size_t head_ = 0, in_ring_ = 0;  // slots holding submitted reads, from head_
  bool holding_ = false;           // the head slot's payload was handed out
  bool decoded_ = false;           // the last payload is in decoder_'s buffer
  std::vector<StreamDamage> damage_;
  bool stopped_ = false;
  uint64_t bytes_read_ = 0;
};

}  // namespace tidemark::restore
