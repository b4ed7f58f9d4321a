// PartitionPipeline: one partition's path from records to sealed segments, plus the offset
// accounting that lets `verify` tell a gap from a loss.
//
// Records must arrive in offset order (Kafka guarantees it per partition). An offset that jumps
// forward records a gap ("not-delivered": compaction, transaction markers, aborted data); an
// offset at or past the snapshot's end completes the partition; an offset already stored is
// dropped (a redelivery) so every record is kept exactly once.
//
// Thread contract: owned by one shard and used only on its thread. Decoupled from librdkafka so
// tests can feed it any sequence of offsets.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "backup/manifest.h"
#include "segment/block.h"
#include "segment/journal_format.h"
#include "segment/segment_writer.h"

namespace tidemark::shard {

// end_offset of a partition backed up continuously (`tidemark run`): it never completes.
inline constexpr int64_t kNoEnd = std::numeric_limits<int64_t>::max();

// What a pipeline needs of a resumed partition's manifest entry: where it ends and its totals.
// Its history (segments, gaps) stays with the caller, which appends the pipeline's deltas to it.
struct PriorEntry {
  PriorEntry() = default;
  // Implicit, so that a caller hands over the entry itself (`task.prior = entry`) and only this
  // much of it is copied.
  PriorEntry(const backup::PartitionManifest& e)  // NOLINT(google-explicit-constructor)
      : start_offset(e.start_offset),
        end_offset(e.end_offset),
        records(e.records),
        bytes_raw(e.bytes_raw),
        bytes_stored(e.bytes_stored) {}
  int64_t start_offset = 0;
  int64_t end_offset = 0;
  uint64_t records = 0;
  uint64_t bytes_raw = 0;
  uint64_t bytes_stored = 0;
};

struct PartitionTask {
  std::string topic;
  int32_t partition = 0;
  int64_t log_start = 0;   // low watermark at start: first offset the broker still has
  int64_t end_offset = 0;  // exclusive end of the snapshot, or kNoEnd
  // Continuous backup: what is sealed for this partition so far (the caller adds any gap up to
  // where consumption starts). The pipeline goes on from its end_offset.
  std::optional<PriorEntry> prior;
};

// Continuous backup: what changed in a partition's manifest entry since the pipeline's last
// TakeDelta() (the first: since the entry it was handed as its prior). The caller appends it to
// the entry it holds (ApplyDelta) instead of replacing the entry, so a publish costs what changed,
// not the partition's history, and what the caller did to the entry meanwhile (upload marks,
// retention trims) is never overwritten.
struct PartitionDelta {
  int32_t partition = 0;
  int64_t end_offset = 0;  // the entry's new end: every offset below is in a segment or a gap
  uint64_t records = 0;    // added by `segments`
  uint64_t bytes_raw = 0;
  uint64_t bytes_stored = 0;
  std::vector<segment::SealedSegment> segments;  // sealed since, in offset order
  // Recorded since, in offset order, all below end_offset; the first may continue the entry's
  // last gap (ApplyDelta merges them as backup::AddGap does).
  std::vector<backup::Gap> gaps;

  bool empty() const { return segments.empty() && gaps.empty(); }
};

// Appends `d` to `entry` (its segments and gaps, its totals, its new end), in O(size of d). `d`
// must continue the entry: its first segment or gap starts at the entry's end (or it is empty and
// the end is unchanged), its segments and gaps are in order below its end, and its totals are its
// segments' sums. Otherwise (a delta lost, repeated or applied to another entry) nothing is
// changed and the error says why: the entry then stays true to what it names.
Status ApplyDelta(const PartitionDelta& d, backup::PartitionManifest* entry);

struct PipelineOptions {
  std::string backup_dir;
  std::string backup_id;
  size_t block_bytes = 1 << 20;
  uint64_t segment_max_bytes = 128ull << 20;
};

class PartitionPipeline {
 public:
  PartitionPipeline(PartitionTask task, const PipelineOptions& o, segment::WritePool* pool,
                    segment::BlockCodec* codec);

  const PartitionTask& task() const { return task_; }
  bool done() const { return done_; }
  int64_t next_offset() const { return next_; }
  uint64_t duplicates_dropped() const { return duplicates_; }

  // Adds one record (see the class comment for the offset rules). An offset jump before it is
  // recorded as a gap with `jump_reason` (the caller may know it was retention).
  Status Append(const RecordView& r, const char* jump_reason = backup::kGapNotDelivered);
  // The broker says the partition ends at `next_offset` for now (librdkafka's partition EOF).
  void OnEof(int64_t next_offset);
  // Submits the blocks held for writing (the open block stays open). For idle moments.
  Status FlushWrites() { return writer_.is_open() ? writer_.Flush() : Status::Ok(); }
  // Flushes the open block and seals the open segment. Call once, at the end.
  Status Finish();
  // Continuous backup: the durability point (shard/group_commit.h). Blocks close only when full
  // or at a roll; at a point, the records added to the open block since the last point go to
  // the shard's journal frame (one section), and a segment that received blocks since then is
  // fdatasynced with the frame.
  // Adds a section of the records not yet journaled to `frame` (whose seq is `seq`); false when
  // there are none.
  bool AddJournalSection(segment::FrameBuilder* frame, uint64_t seq);
  // Blocks were written to the open segment since its last sync.
  bool needs_sync() const { return unsynced_ && writer_.is_open(); }
  // Submits the held buffer, waits for the segment's writes, submits its fdatasync.
  Status SubmitSync();
  bool sync_in_flight() const { return writer_.sync_in_flight(); }
  // After !sync_in_flight(): the blocks written before SubmitSync() are durable.
  Status FinishSync();
  // The oldest journal frame holding records of this partition that are not yet in a block
  // durable in its segment; 0 when none.
  uint64_t oldest_journal_frame() const;
  // Seals the open segment once its first record is `interval_ms` old at `now_ms` (wall clock;
  // time-based roll: the segment may exist only as the open block so far). The partition's
  // first segment rolls earlier, by a stable fraction of the interval taken from the XXH3 of its
  // name, so partitions that start together (every one, at a service start) do not all seal in
  // the same turn ever after.
  Status RollIfOlderThan(int64_t now_ms, int64_t interval_ms);
  // Bumped at every seal that changed the manifest entry (so a caller can publish TakeDelta()).
  uint64_t seal_count() const { return seal_count_; }
  uint64_t records() const { return records_; }
  // Consumed by this pipeline (this run only), for the metrics.
  void CountIn(uint64_t bytes) {
    ++records_in_;
    bytes_in_ += bytes;
  }
  uint64_t records_in() const { return records_in_; }
  uint64_t bytes_in() const { return bytes_in_; }
  // Snapshot: what the manifest records for this partition (after Finish). Its segments and gaps
  // are those not taken by TakeDelta() (all of them when nothing was taken, as in a snapshot);
  // its range and totals are the whole entry's, a resumed partition's prior included.
  backup::PartitionManifest Result() const { return result_; }
  // Continuous: what changed in the entry since the last call (see PartitionDelta). A gap
  // recorded past the entry's end (an offset jump right after a seal for size, before the record
  // that follows the jump is sealed) stays for the next delta, so every delta is a valid entry's
  // continuation.
  PartitionDelta TakeDelta();

 private:
  Status FlushBlock();
  // Seals the open segment and adds it to the manifest entry.
  Status SealSegment();
  void AddGap(int64_t from, int64_t to, const char* reason);
  void MarkDone();

  PartitionTask task_;
  PipelineOptions opts_;
  segment::BlockBuilder builder_;
  segment::SegmentWriter writer_;
  int64_t next_;
  bool done_ = false;
  uint64_t records_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t seal_count_ = 0;
  uint64_t records_in_ = 0;
  uint64_t bytes_in_ = 0;
  int64_t opened_ms_ = 0;      // when the open segment's first record arrived (wall clock)
  bool first_segment_ = true;  // no segment sealed yet by this pipeline (its roll is spread)
  bool unsynced_ = false;      // blocks appended to the open segment since its last sync
  // The journal (continuous backup): the open block's records from byte journaled_bytes_ (and
  // record journaled_records_) on are in no frame yet; the offset after the record before them
  // is unjournaled_from_ (a section vouches for the offsets it skips from there).
  size_t journaled_bytes_ = 0;
  uint32_t journaled_records_ = 0;
  int64_t unjournaled_from_ = 0;
  uint64_t open_block_frame_ = 0;  // oldest frame with records of the open block (0: none)
  uint64_t unsynced_frame_ = 0;    // oldest frame with records of unsynced written blocks
  // The manifest entry as far as no TakeDelta() took it: range and totals whole, segments and
  // gaps only those not taken. A resumed partition's history is never held here (task.prior
  // carries only its end and totals), so the pipeline's memory does not grow with the backup's
  // age: in continuous mode it holds the segments of one publish interval.
  backup::PartitionManifest result_;
  uint64_t taken_records_ = 0;  // result_'s totals at the last TakeDelta()
  uint64_t taken_bytes_raw_ = 0;
  uint64_t taken_bytes_stored_ = 0;
};

}  // namespace tidemark::shard
