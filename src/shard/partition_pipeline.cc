#include "shard/partition_pipeline.h"

#include <algorithm>

#include "common/log.h"
#include "common/time.h"
#include "tidemark/assert.h"

namespace tidemark::shard {

PartitionPipeline::PartitionPipeline(PartitionTask task, const PipelineOptions& o,
                                     segment::WritePool* pool, segment::BlockCodec* codec)
    : task_(std::move(task)),
      opts_(o),
      builder_(o.block_bytes),
      writer_({o.backup_dir, o.backup_id, task_.topic, task_.partition, o.segment_max_bytes}, pool,
              codec),
      next_(task_.log_start) {
  result_.partition = task_.partition;
  result_.start_offset = 0;
  result_.end_offset = task_.end_offset;
  if (task_.prior) {
    // Continuous backup resuming: the manifest entry goes on from where the last run sealed. Only
    // its range and totals are known here; its history stays with the caller.
    const PriorEntry& prior = *task_.prior;
    result_.start_offset = prior.start_offset;
    result_.records = taken_records_ = prior.records;
    result_.bytes_raw = taken_bytes_raw_ = prior.bytes_raw;
    result_.bytes_stored = taken_bytes_stored_ = prior.bytes_stored;
    records_ = prior.records;
    next_ = prior.end_offset;
    if (task_.log_start > next_) {
      AddGap(next_, task_.log_start, backup::kGapLogStart);
      next_ = task_.log_start;
    }
    result_.end_offset = next_;
    unjournaled_from_ = next_;
    return;
  }
  // Offsets below the log start were deleted before the backup began (retention, or
  // DeleteRecords): recorded, so that verify does not call them lost.
  if (task_.log_start > 0) AddGap(0, task_.log_start, backup::kGapLogStart);
  if (task_.end_offset == kNoEnd) result_.end_offset = next_;
  if (next_ >= task_.end_offset) MarkDone();
  unjournaled_from_ = next_;
}

void PartitionPipeline::AddGap(int64_t from, int64_t to, const char* reason) {
  TM_CHECK(from < to);
  backup::AddGap(&result_, from, to, reason);
}

void PartitionPipeline::MarkDone() { done_ = true; }

Status PartitionPipeline::Append(const RecordView& r, const char* jump_reason) {
  if (done_ || r.offset >= task_.end_offset) {
    // Produced after the snapshot started: the next backup's business.
    if (!done_ && r.offset >= task_.end_offset) {
      if (next_ < task_.end_offset) AddGap(next_, task_.end_offset, backup::kGapNotDelivered);
      next_ = task_.end_offset;
      MarkDone();
    }
    return Status::Ok();
  }
  if (r.offset < next_) {
    ++duplicates_;  // a redelivery of what is already stored
    return Status::Ok();
  }
  if (EncodedRecordSize(r) > format::kMaxBlockRawSize) {
    return Status::Invalid("record at offset " + std::to_string(r.offset) + " is " +
                           std::to_string(EncodedRecordSize(r)) +
                           " bytes encoded, above the format's block limit of " +
                           std::to_string(format::kMaxBlockRawSize) + " bytes");
  }
  // A segment's age (for the roll) starts with its first record, even while that record is only
  // in the open block.
  if (builder_.empty() && !writer_.is_open()) opened_ms_ = WallClockMs();
  if (!builder_.TryAppend(r)) {
    TM_RETURN_IF_ERROR(FlushBlock());
    if (!writer_.is_open()) opened_ms_ = WallClockMs();  // the flush sealed it (its size)
    TM_CHECK(builder_.TryAppend(r));
  }
  // After the flush: a segment sealed by it covers exactly up to next_, its gaps included.
  if (r.offset > next_) AddGap(next_, r.offset, jump_reason);
  next_ = r.offset + 1;
  ++records_;
  if (next_ >= task_.end_offset) MarkDone();
  return Status::Ok();
}

void PartitionPipeline::OnEof(int64_t next_offset) {
  if (done_ || next_offset < task_.end_offset) return;
  // Everything below the end has been delivered; what is missing at the tail (transaction
  // markers, aborted data) is a gap.
  if (next_ < task_.end_offset) AddGap(next_, task_.end_offset, backup::kGapNotDelivered);
  next_ = task_.end_offset;
  MarkDone();
}

Status PartitionPipeline::FlushBlock() {
  if (builder_.empty()) return Status::Ok();
  if (!writer_.is_open())
    TM_RETURN_IF_ERROR(writer_.Open(builder_.stats().first_offset, opened_ms_));
  TM_RETURN_IF_ERROR(writer_.AppendBlock(builder_));
  builder_.Reset();
  unsynced_ = true;
  // The block's records are written but not durable before the next sync: the frames holding
  // some of them stay needed until then. The next records start a new section.
  if (open_block_frame_ != 0 && (unsynced_frame_ == 0 || open_block_frame_ < unsynced_frame_))
    unsynced_frame_ = open_block_frame_;
  open_block_frame_ = 0;
  journaled_bytes_ = 0;
  journaled_records_ = 0;
  unjournaled_from_ = next_;
  if (writer_.size() >= opts_.segment_max_bytes) TM_RETURN_IF_ERROR(SealSegment());
  return Status::Ok();
}

Status PartitionPipeline::SealSegment() {
  segment::SealedSegment s;
  TM_RETURN_IF_ERROR(writer_.Seal(&s));
  unsynced_ = false;
  unsynced_frame_ = 0;                      // sealed: every block of it is durable
  if (s.records == 0) return Status::Ok();  // an open segment without blocks is removed
  result_.bytes_raw += s.bytes_raw;
  result_.bytes_stored += s.bytes_stored;
  result_.records += s.records;
  result_.segments.push_back(std::move(s));
  first_segment_ = false;
  // Continuous: the entry covers what is sealed. Every record below next_ is in a block of this
  // segment (seals happen with the builder empty), and every gap below it is recorded.
  if (task_.end_offset == kNoEnd) result_.end_offset = next_;
  ++seal_count_;
  return Status::Ok();
}

bool PartitionPipeline::AddJournalSection(segment::FrameBuilder* frame, uint64_t seq) {
  const segment::BlockStats& st = builder_.stats();
  if (st.record_count == journaled_records_) return false;
  TM_DCHECK(st.record_count > journaled_records_ && builder_.raw_size() > journaled_bytes_);
  // The bytes of the records added since the last point, straight from the open block.
  frame->AddSection(task_.topic, task_.partition, unjournaled_from_, st.last_offset,
                    st.record_count - journaled_records_,
                    std::span<const uint8_t>(builder_.payload() + journaled_bytes_,
                                             builder_.raw_size() - journaled_bytes_));
  journaled_bytes_ = builder_.raw_size();
  journaled_records_ = st.record_count;
  unjournaled_from_ = next_;
  if (open_block_frame_ == 0) open_block_frame_ = seq;
  return true;
}

Status PartitionPipeline::SubmitSync() { return writer_.SubmitSync(); }

Status PartitionPipeline::FinishSync() {
  TM_RETURN_IF_ERROR(writer_.FinishSync());
  unsynced_ = false;
  unsynced_frame_ = 0;
  return Status::Ok();
}

uint64_t PartitionPipeline::oldest_journal_frame() const {
  if (open_block_frame_ == 0) return unsynced_frame_;
  if (unsynced_frame_ == 0) return open_block_frame_;
  return std::min(open_block_frame_, unsynced_frame_);
}

Status PartitionPipeline::RollIfOlderThan(int64_t now_ms, int64_t interval_ms) {
  if (!writer_.is_open() && builder_.empty()) return Status::Ok();
  int64_t age_ms = interval_ms;
  if (first_segment_ && interval_ms > 0) {
    // Shortened by 0 to 99.9% of the interval: spread evenly over partitions, stable per name.
    const std::string name = task_.topic + "/" + std::to_string(task_.partition);
    const uint64_t permille = format::Xxh3(name.data(), name.size()) % 1000;
    age_ms -= static_cast<int64_t>(static_cast<uint64_t>(interval_ms) / 1000 * permille +
                                   static_cast<uint64_t>(interval_ms) % 1000 * permille / 1000);
  }
  if (now_ms - opened_ms_ < age_ms) return Status::Ok();
  TM_RETURN_IF_ERROR(FlushBlock());
  if (writer_.is_open()) TM_RETURN_IF_ERROR(SealSegment());
  return Status::Ok();
}

Status PartitionPipeline::Finish() {
  TM_RETURN_IF_ERROR(FlushBlock());
  if (writer_.is_open()) TM_RETURN_IF_ERROR(SealSegment());
  if (task_.end_offset == kNoEnd && result_.end_offset != next_) {
    result_.end_offset = next_;  // a gap since the last seal, with no record after it
    ++seal_count_;
  }
  // Always-on: what the segments hold is exactly what was appended.
  TM_CHECK_MSG(result_.records == records_, "sealed record count differs from records appended");
  return Status::Ok();
}

PartitionDelta PartitionPipeline::TakeDelta() {
  PartitionDelta d;
  d.partition = result_.partition;
  d.end_offset = result_.end_offset;
  d.records = result_.records - taken_records_;
  d.bytes_raw = result_.bytes_raw - taken_bytes_raw_;
  d.bytes_stored = result_.bytes_stored - taken_bytes_stored_;
  d.segments.swap(result_.segments);
  // Gaps are recorded in offset order and never straddle the end (it is always an offset the
  // pipeline had reached when it was set), so those below it are a prefix.
  size_t n = 0;
  while (n < result_.gaps.size() && result_.gaps[n].to <= result_.end_offset) ++n;
  const auto cut = result_.gaps.begin() + static_cast<ptrdiff_t>(n);
  d.gaps.assign(std::make_move_iterator(result_.gaps.begin()), std::make_move_iterator(cut));
  result_.gaps.erase(result_.gaps.begin(), cut);
  taken_records_ = result_.records;
  taken_bytes_raw_ = result_.bytes_raw;
  taken_bytes_stored_ = result_.bytes_stored;
  return d;
}

Status ApplyDelta(const PartitionDelta& d, backup::PartitionManifest* entry) {
  const std::string where = "partition " + std::to_string(d.partition) + ": ";
  auto refuse = [&](const std::string& why) {
    return Status::Corrupt(where + "a shard's update does not continue the manifest entry (" + why +
                           "); the entry keeps what it named");
  };
  if (d.partition != entry->partition)
    return refuse("it is of partition " + std::to_string(d.partition) + ", the entry of " +
                  std::to_string(entry->partition));
  // Where the delta begins: its lowest offset must be the entry's end, so that nothing between
  // them goes unnamed and nothing is named twice.
  int64_t begin = d.end_offset;
  if (!d.segments.empty()) begin = d.segments.front().first_offset;
  if (!d.gaps.empty()) begin = std::min(begin, d.gaps.front().from);
  if (begin != entry->end_offset || d.end_offset < entry->end_offset) {
    return refuse("it covers [" + std::to_string(begin) + ", " + std::to_string(d.end_offset) +
                  "), the entry ends at " + std::to_string(entry->end_offset));
  }
  uint64_t records = 0, raw = 0, stored = 0;
  int64_t next = entry->end_offset;  // the lowest offset the next segment may start at
  for (const auto& s : d.segments) {
    if (s.first_offset < next || (s.records > 0 && s.last_offset < s.first_offset) ||
        s.Last() >= d.end_offset)
      return refuse("segment " + s.path + " is out of order or past its end");
    next = s.Last() + 1;
    records += s.records;
    raw += s.bytes_raw;
    stored += s.bytes_stored;
  }
  next = entry->end_offset;
  for (const auto& g : d.gaps) {
    if (g.from < next || g.from >= g.to || g.to > d.end_offset)
      return refuse("gap [" + std::to_string(g.from) + ", " + std::to_string(g.to) +
                    ") is out of order or past its end");
    next = g.to;
  }
  if (records != d.records || raw != d.bytes_raw || stored != d.bytes_stored)
    return refuse("its totals are not its segments' sums");
  entry->segments.insert(entry->segments.end(), d.segments.begin(), d.segments.end());
  for (const auto& g : d.gaps) backup::AddGap(entry, g.from, g.to, g.reason);
  entry->records += d.records;
  entry->bytes_raw += d.bytes_raw;
  entry->bytes_stored += d.bytes_stored;
  entry->end_offset = d.end_offset;
  return Status::Ok();
}

}  // namespace tidemark::shard
