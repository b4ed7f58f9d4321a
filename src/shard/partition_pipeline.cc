#include "shard/partition_pipeline.h"

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
  // Offsets below the log start were deleted before the backup began (retention, or
  // DeleteRecords): recorded, so that verify does not call them lost.
  if (task_.log_start > 0) AddGap(0, task_.log_start, backup::kGapLogStart);
  if (next_ >= task_.end_offset) MarkDone();
}

void PartitionPipeline::AddGap(int64_t from, int64_t to, const char* reason) {
  TM_CHECK(from < to);
  auto& gaps = result_.gaps;
  if (!gaps.empty() && gaps.back().to == from && gaps.back().reason == reason) {
    gaps.back().to = to;
    return;
  }
  gaps.push_back({from, to, reason});
}

void PartitionPipeline::MarkDone() { done_ = true; }

Status PartitionPipeline::Append(const RecordView& r) {
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
  if (r.offset > next_) AddGap(next_, r.offset, backup::kGapNotDelivered);
  if (!builder_.TryAppend(r)) {
    TM_RETURN_IF_ERROR(FlushBlock());
    TM_CHECK(builder_.TryAppend(r));
  }
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
    TM_RETURN_IF_ERROR(writer_.Open(builder_.stats().first_offset, WallClockMs()));
  TM_RETURN_IF_ERROR(writer_.AppendBlock(builder_));
  builder_.Reset();
  if (writer_.size() >= opts_.segment_max_bytes) TM_RETURN_IF_ERROR(SealSegment());
  return Status::Ok();
}

Status PartitionPipeline::SealSegment() {
  segment::SealedSegment s;
  TM_RETURN_IF_ERROR(writer_.Seal(&s));
  if (s.records == 0) return Status::Ok();  // an open segment without blocks is removed
  result_.bytes_raw += s.bytes_raw;
  result_.bytes_stored += s.bytes_stored;
  result_.records += s.records;
  result_.segments.push_back(std::move(s));
  return Status::Ok();
}

Status PartitionPipeline::Finish() {
  TM_RETURN_IF_ERROR(FlushBlock());
  if (writer_.is_open()) TM_RETURN_IF_ERROR(SealSegment());
  // Always-on: what the segments hold is exactly what was appended.
  TM_CHECK_MSG(result_.records == records_, "sealed record count differs from records appended");
  return Status::Ok();
}

backup::PartitionManifest PartitionPipeline::Result() const { return result_; }

}  // namespace tidemark::shard
