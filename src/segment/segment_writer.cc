#include "segment/segment_writer.h"

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "tidemark/assert.h"

namespace tidemark::segment {

SegmentWriter::SegmentWriter(Options o, WritePool* pool, BlockCodec* codec)
    : opts_(std::move(o)), pool_(pool), codec_(codec) {}

SegmentWriter::~SegmentWriter() {
  // Writes still in flight point at this object; a writer is destroyed only after its shard
  // drained the pool. An unsealed file is left as it is (".open") for recovery.
  TM_CHECK_MSG(in_flight_ == 0, "segment writer destroyed with writes in flight");
  if (batch_ != nullptr) pool_->Release(batch_);  // never written: as if the process had died
  pool_->ReturnPreallocation(reserved_);
  if (fd_ >= 0) pool_->io()->Close(fd_).IgnoreError();
}

std::string SegmentWriter::DirPath() const {
  return opts_.backup_dir + "/" + format::PartitionDir(opts_.topic, opts_.partition);
}

void SegmentWriter::OnWriteDone(int error, uint32_t len) {
  TM_CHECK(in_flight_ > 0);
  --in_flight_;
  (void)len;
  if (error != 0 && error_.ok()) {
    error_ = Status::Errno(error, "write to " + DirPath() + "/" + open_name_)
                 .WithContext(error == ENOSPC ? "disk full" : "I/O error");
  }
}

Status SegmentWriter::Open(int64_t first_offset, int64_t now_ms) {
  TM_CHECK(fd_ < 0 && batch_ == nullptr);
  TM_RETURN_IF_ERROR(error_);
  // The topic becomes a directory name: only Kafka's legal names get that far.
  if (!format::IsLegalTopicName(opts_.topic) || opts_.partition < 0) {
    return Status::Invalid("topic '" + opts_.topic + "' partition " +
                           std::to_string(opts_.partition) +
                           " is not a legal Kafka topic partition ([a-zA-Z0-9._-], 1 to 249 "
                           "characters, not '.' or '..'); nothing is written for it");
  }
  const std::string dir = DirPath();
  TM_RETURN_IF_ERROR(pool_->io()->MakeDirs(dir));
  open_name_ = format::SegmentName(first_offset, false);
  sealed_name_ = format::SegmentName(first_offset, true);
  TM_ASSIGN_OR_RETURN(fd_, pool_->io()->OpenForWrite(dir + "/" + open_name_));
  footer_ = format::Footer{};
  footer_.first_offset = first_offset;
  write_pos_ = 0;
  allocated_ = 0;
  pool_->ReturnPreallocation(std::exchange(reserved_, 0));
  prealloc_ = true;
  dir_synced_ = false;
  // The header page goes out with the first blocks, in the same write.
  TM_RETURN_IF_ERROR(StartBatch(format::kFileHeaderSize));
  format::FileHeader fh{opts_.topic, opts_.partition, first_offset, now_ms, opts_.backup_id};
  format::EncodeFileHeader(fh, batch_->buf.data());
  batch_len_ = format::kFileHeaderSize;
  write_pos_ = format::kFileHeaderSize;
  return Status::Ok();
}

Status SegmentWriter::StartBatch(size_t need) {
  TM_CHECK(batch_ == nullptr);
  auto slot_or = pool_->Acquire();
  if (!slot_or.ok()) return error_ = slot_or.status();
  batch_ = slot_or.value();
  // An oversized block gets a buffer of its own size (unregistered, returned after its write).
  if (batch_->buf.capacity() < need) batch_->buf = io::AlignedBuffer(need);
  pool_->Hold(batch_, this);
  batch_offset_ = write_pos_;
  batch_len_ = 0;
  return Status::Ok();
}

Status SegmentWriter::SubmitBatch() {
  if (batch_ == nullptr) return error_;
  WritePool::Slot* slot = std::exchange(batch_, nullptr);
  if (batch_len_ == 0 || !error_.ok()) {
    pool_->Release(slot);
    return error_;
  }
  Preallocate(batch_offset_ + batch_len_);
  ++in_flight_;
  Status st = pool_->Submit(slot, fd_, batch_offset_, static_cast<uint32_t>(batch_len_), this);
  if (!st.ok()) {
    --in_flight_;
    return error_ = st;
  }
  return Status::Ok();
}

void SegmentWriter::SubmitHeld() { SubmitBatch().IgnoreError(); }  // the error stays sticky

Status SegmentWriter::Flush() {
  TM_RETURN_IF_ERROR(SubmitBatch());
  return error_;
}

Status SegmentWriter::SubmitSync() {
  TM_CHECK(fd_ >= 0 && !sync_op_.in_flight);
  TM_RETURN_IF_ERROR(SubmitBatch());
  TM_RETURN_IF_ERROR(WaitInFlight());
  sync_op_ = io::IoOp{};
  sync_op_.kind = io::IoKind::kFdatasync;
  sync_op_.fd = fd_;
  sync_op_.ctx = this;
  sync_op_.on_done = [](io::IoOp*, void* ctx) { --static_cast<SegmentWriter*>(ctx)->in_flight_; };
  ++in_flight_;
  if (Status s = pool_->io()->Submit(&sync_op_); !s.ok()) {
    --in_flight_;
    return error_ = s;
  }
  return Status::Ok();
}

Status SegmentWriter::FinishSync() {
  TM_CHECK(fd_ >= 0 && !sync_op_.in_flight);
  TM_RETURN_IF_ERROR(error_);
  if (sync_op_.error != 0) {
    return error_ =
               Status::Errno(sync_op_.error, "fdatasync").WithContext(DirPath() + "/" + open_name_);
  }
  if (!dir_synced_) {
    if (Status s = pool_->io()->SyncDir(DirPath()); !s.ok()) return error_ = s;
    dir_synced_ = true;
  }
  return Status::Ok();
}

Status SegmentWriter::AppendBlock(const BlockBuilder& b) {
  TM_CHECK(fd_ >= 0);
  TM_RETURN_IF_ERROR(error_);
  // Blocks are packed into the held buffer while the worst case of the next one fits; then the
  // buffer is written as one I/O. Fewer, larger writes cost less CPU per byte than one per block.
  const size_t need = BlockCodec::MaxBlockSize(b.raw_size());
  if (batch_ != nullptr && batch_->buf.capacity() - batch_len_ < need) {
    TM_RETURN_IF_ERROR(SubmitBatch());
  }
  if (batch_ == nullptr) TM_RETURN_IF_ERROR(StartBatch(need));
  auto header_or =
      codec_->FinishInto(b, batch_->buf.data() + batch_len_, batch_->buf.capacity() - batch_len_);
  if (!header_or.ok()) return error_ = header_or.status();
  const format::BlockHeader& h = header_or.value();
  // Offsets only go up within a partition; a block that went back would make the backup lie.
  TM_CHECK_MSG(footer_.record_count == 0 || h.first_offset > footer_.last_offset,
               "block offsets not increasing");
  TM_CHECK(write_pos_ == batch_offset_ + batch_len_);
  batch_len_ += h.block_size;
  format::AddBlockToFooter(&footer_, write_pos_, h);
  write_pos_ += h.block_size;
  return Status::Ok();
}

// Space is reserved ahead of the writes in steps, through the ring: a size-extending O_DIRECT
// write cannot be issued without blocking, so io_uring punts it to a worker thread, a context
// switch per write; writes inside the reserved size are issued inline. The fallocate runs
// asynchronously and its order against the writes does not matter for correctness: fallocate
// never changes bytes already written, and a write that overtakes it is merely an extending
// write. A failed fallocate only stops preallocation for this segment; a full disk still surfaces
// through the writes. The step bounds what a crash leaves as zeros past the last block.
//
// The reservations of a shard's writers come from one budget (WritePool), held by a segment until
// its seal: a shard of 2000 partitions does not reserve 16 GB. A segment written only at its seal
// (a quiet partition's, whose records waited in the journal) reserves nothing, since its final
// writes are the whole file; one whose step finds the budget spent writes without reserving, an
// extending write, as on a filesystem without fallocate.
void SegmentWriter::Preallocate(uint64_t end) {
  constexpr uint64_t kStep = 8ull << 20;
  if (!prealloc_ || falloc_op_.in_flight || end + kStep / 2 <= allocated_) return;
  const uint64_t from = std::max(allocated_, end);
  if (opts_.preallocate_limit != 0 && from >= opts_.preallocate_limit) return;
  if (!pool_->TakePreallocation(kStep)) return;
  reserved_ += kStep;
  falloc_op_ = io::IoOp{};
  falloc_op_.kind = io::IoKind::kFallocate;
  falloc_op_.fd = fd_;
  falloc_op_.offset = from;
  falloc_op_.len = kStep;
  falloc_op_.ctx = this;
  falloc_op_.on_done = [](io::IoOp* op, void* ctx) {
    auto* w = static_cast<SegmentWriter*>(ctx);
    --w->in_flight_;
    if (op->error != 0) w->prealloc_ = false;
  };
  ++in_flight_;
  if (!pool_->io()->Submit(&falloc_op_).ok()) {
    --in_flight_;
    prealloc_ = false;
    pool_->ReturnPreallocation(kStep);
    reserved_ -= kStep;
    return;
  }
  allocated_ = from + kStep;
}

Status SegmentWriter::WaitInFlight() {
  while (in_flight_ > 0) {
    auto r = pool_->io()->Reap(true);
    if (!r.ok()) return error_ = r.status();
  }
  return error_;
}

Status SegmentWriter::Seal(SealedSegment* out) {
  TM_CHECK(fd_ >= 0);
  *out = SealedSegment{};
  TM_RETURN_IF_ERROR(error_);
  prealloc_ = false;  // the last writes make the file's final size: nothing to reserve
  const std::string dir = DirPath();
  io::IoBackend* io = pool_->io();
  if (footer_.blocks.empty()) {
    if (batch_ != nullptr) pool_->Release(std::exchange(batch_, nullptr));
    TM_RETURN_IF_ERROR(WaitInFlight());
    TM_RETURN_IF_ERROR(io->Close(fd_));
    fd_ = -1;
    pool_->ReturnPreallocation(std::exchange(reserved_, 0));
    std::remove((dir + "/" + open_name_).c_str());
    return Status::Ok();
  }
  // The footer region goes out with the last blocks when it fits in the held buffer.
  const size_t region = format::FooterRegionSize(footer_.blocks.size());
  if (batch_ != nullptr && batch_->buf.capacity() - batch_len_ < region) {
    TM_RETURN_IF_ERROR(SubmitBatch());
  }
  if (batch_ == nullptr) TM_RETURN_IF_ERROR(StartBatch(region));
  const uint64_t checksum =
      format::EncodeFooterRegion(footer_, write_pos_, batch_->buf.data() + batch_len_);
  batch_len_ += region;
  TM_RETURN_IF_ERROR(SubmitBatch());
  TM_RETURN_IF_ERROR(WaitInFlight());
  // Drop the reservation past the footer (every fallocate has completed: it counts as in
  // flight): a sealed segment ends with its trailer.
  if (allocated_ > write_pos_ + region) {
    if (Status s = io->Truncate(fd_, write_pos_ + region); !s.ok()) return error_ = s;
  }
  if (Status s = io->Fdatasync(fd_); !s.ok()) return error_ = s.WithContext(dir + "/" + open_name_);
  if (Status s = io->Close(fd_); !s.ok()) return error_ = s;
  fd_ = -1;
  pool_->ReturnPreallocation(std::exchange(reserved_, 0));
  if (Status s = io->Rename(dir + "/" + open_name_, dir + "/" + sealed_name_); !s.ok())
    return error_ = s;
  if (Status s = io->SyncDir(dir); !s.ok()) return error_ = s;

  *out = SealedSegment::Of(footer_,
                           format::PartitionDir(opts_.topic, opts_.partition) + "/" + sealed_name_,
                           write_pos_ + region, checksum);
  return Status::Ok();
}

}  // namespace tidemark::segment
