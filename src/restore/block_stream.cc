#include "restore/block_stream.h"

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace tidemark::restore {

// --- ReadRing ------------------------------------------------------------------------------

ReadRing::~ReadRing() {
  if (ready_) io_uring_queue_exit(&ring_);
}

Status ReadRing::Init(unsigned entries) {
  int rc = io_uring_queue_init(entries, &ring_, 0);
  if (rc < 0) {
    return Status::Errno(-rc,
                         "io_uring_queue_init (io_uring disabled by kernel.io_uring_disabled or a "
                         "seccomp profile?)");
  }
  ready_ = true;
  return Status::Ok();
}

Status ReadRing::Push(Read* r) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    int rc = io_uring_submit(&ring_);
    if (rc < 0) return Status::Errno(-rc, "io_uring_submit");
    pending_ = 0;
    sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return Status::Errno(EBUSY, "io_uring: no submission entry");
  }
  io_uring_prep_read(sqe, r->fd, r->buf + r->done, r->len - r->done, r->offset + r->done);
  io_uring_sqe_set_data(sqe, r);
  r->in_flight = true;
  ++pending_;
  return Status::Ok();
}

Status ReadRing::Submit(Read* r) {
  r->done = 0;
  r->error = 0;
  TM_RETURN_IF_ERROR(Push(r));
  // Submitted at once: read-ahead only helps if the kernel starts on it now.
  int rc = io_uring_submit(&ring_);
  if (rc < 0) return Status::Errno(-rc, "io_uring_submit");
  pending_ = 0;
  return Status::Ok();
}

Status ReadRing::WaitFor(Read* r) {
  while (r->in_flight) {
    io_uring_cqe* cqe = nullptr;
    int rc = io_uring_wait_cqe(&ring_, &cqe);
    if (rc == -EINTR) continue;
    if (rc < 0) return Status::Errno(-rc, "io_uring_wait_cqe");
    auto* done = static_cast<Read*>(io_uring_cqe_get_data(cqe));
    const int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    if (res == -EINTR || res == -EAGAIN) {
      TM_RETURN_IF_ERROR(Push(done));
    } else if (res < 0) {
      done->error = -res;
      done->in_flight = false;
    } else if (res == 0) {
      done->error = EIO;  // the file ends before the range does
      done->in_flight = false;
    } else {
      done->done += static_cast<uint32_t>(res);
      if (done->done < done->len)
        TM_RETURN_IF_ERROR(Push(done));
      else
        done->in_flight = false;
    }
    if (pending_ > 0) {
      rc = io_uring_submit(&ring_);
      if (rc < 0) return Status::Errno(-rc, "io_uring_submit");
      pending_ = 0;
    }
  }
  return Status::Ok();
}

// --- BlockStream ---------------------------------------------------------------------------

BlockStream::BlockStream(ReadContext* ctx, source::BackupSource* src, std::string id,
                         std::string topic, const backup::PartitionManifest* part,
                         RecordFilter filter, bool skip_damaged, unsigned depth)
    : ctx_(ctx),
      ring_(&ctx->ring),
      src_(src),
      id_(std::move(id)),
      topic_(std::move(topic)),
      part_(part),
      filter_(filter),
      skip_damaged_(skip_damaged),
      depth_(depth < 1 ? 1 : depth),
      slots_(depth_) {
  for (auto& slot : slots_) {
    if (ctx_->spare.empty()) continue;
    slot.buf = std::move(ctx_->spare.back());
    ctx_->spare.pop_back();
  }
}

BlockStream::~BlockStream() {
  CloseSegment();
  for (auto& slot : slots_) ctx_->spare.push_back(std::move(slot.buf));
}

void BlockStream::Damage(int64_t block, uint64_t at, int64_t first, int64_t last,
                         const std::string& what) {
  damage_.push_back({cur_ != nullptr ? cur_->path : "", block, at, first, last, what});
  if (!skip_damaged_) stopped_ = true;
}

void BlockStream::CloseSegment() {
  // Reads in flight point into our slots and the file: let them land before either goes.
  for (size_t i = 0; i < in_ring_; ++i) {
    Slot& s = slots_[(head_ + i) % slots_.size()];
    if (s.read.in_flight) (void)ring_->WaitFor(&s.read);
  }
  head_ = in_ring_ = 0;
  holding_ = false;
  entries_.clear();
  next_submit_ = 0;
  scanning_ = false;
  reader_.reset();
  file_.Reset();
  cur_ = nullptr;
}

size_t BlockStream::NextWanted(size_t from) const {
  while (from < part_->segments.size()) {
    const auto& s = part_->segments[from];
    if (s.records > 0 &&
        filter_.Overlaps(s.first_offset, s.last_offset, s.min_timestamp, s.max_timestamp))
      break;
    ++from;
  }
  return from;
}

bool BlockStream::OpenSegment() {
  const segment::SealedSegment& s = part_->segments[seg_++];
  cur_ = &s;
  auto file = src_->Fetch(id_, s);
  if (!file.ok()) {
    Damage(-1, 0, s.first_offset, s.last_offset, file.status().message());
    return false;
  }
  file_ = std::move(*file);
  // Read-ahead: the next wanted segment is fetched (from object storage) while this one is read.
  if (const size_t next = NextWanted(seg_); next < part_->segments.size())
    src_->Prefetch(id_, part_->segments[next]);
  reader_.emplace();
  Status st = reader_->Open(file_.path());
  if (!st.ok()) {
    Damage(-1, 0, s.first_offset, s.last_offset, st.message());
    return false;
  }
  const auto& fh = reader_->file_header();
  if (fh.topic != topic_ || fh.partition != part_->partition || fh.first_offset != s.first_offset) {
    Damage(-1, 0, s.first_offset, s.last_offset,
           "file header says " + fh.topic + "/" + std::to_string(fh.partition) + " from offset " +
               std::to_string(fh.first_offset) + ", the manifest expects " + topic_ + "/" +
               std::to_string(part_->partition) + " from " + std::to_string(s.first_offset));
    return false;
  }
  if (reader_->footer_status().ok() && reader_->footer_checksum() != s.checksum) {
    TM_LOG_WARN("%s: footer checksum differs from the manifest's; reading it block by block",
                s.path.c_str());
  }
  if (!reader_->footer_status().ok() || reader_->footer_checksum() != s.checksum) {
    // Without a trustworthy index, scan from the first block: blocks before the damage are
    // still good (each carries its own checksums).
    scanning_ = true;
    scan_ = segment::BlockScan{};
    return true;
  }
  const auto& blocks = reader_->footer().blocks;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const auto& e = blocks[i];
    if (filter_.Overlaps(e.first_offset, e.last_offset, e.min_timestamp, e.max_timestamp))
      entries_.push_back(i);
  }
  return true;
}

Status BlockStream::Refill() {
  const auto& blocks = reader_->footer().blocks;
  while (in_ring_ < slots_.size() && next_submit_ < entries_.size()) {
    Slot& s = slots_[(head_ + in_ring_) % slots_.size()];
    s.entry = next_submit_++;
    const auto& e = blocks[entries_[s.entry]];
    s.buf.Reserve(e.block_size);
    s.read = ReadRing::Read{};
    s.read.fd = reader_->fd();
    s.read.buf = s.buf.data.get();
    s.read.len = e.block_size;
    s.read.offset = e.file_offset;
    TM_RETURN_IF_ERROR(ring_->Submit(&s.read));
    ++in_ring_;
  }
  return Status::Ok();
}

Result<bool> BlockStream::Next(format::BlockHeader* header, std::span<const uint8_t>* payload) {
  if (holding_) {  // the block handed out last time is done with
    head_ = (head_ + 1) % slots_.size();
    --in_ring_;
    holding_ = false;
  }
  for (;;) {
    if (stopped_) return false;
    if (cur_ == nullptr) {
      // Next segment that may hold wanted records.
      seg_ = NextWanted(seg_);
      if (seg_ >= part_->segments.size()) return false;
      if (!OpenSegment()) {
        CloseSegment();
        continue;
      }
    }
    if (scanning_) {
      const segment::BlockScan at = scan_;
      auto more = reader_->ScanNext(&scan_, header, payload);
      if (!more.ok()) {
        Damage(at.block, at.pos, -1, cur_->last_offset,
               "block " + std::to_string(at.block) + ": " + more.status().message() +
                   " (found scanning: the segment's footer is damaged or differs from the "
                   "manifest; the rest of the segment cannot be located)");
        CloseSegment();
        continue;
      }
      if (!*more) {
        if (!reader_->footer_status().ok()) {
          // The scan reached the end of the file without finding the footer.
          Damage(-1, scan_.pos, -1, cur_->last_offset,
                 reader_->footer_status().message() + " (blocks before it were restored)");
        }
        CloseSegment();
        continue;
      }
      decoded_ = false;  // in the scanning reader's buffers
      bytes_read_ += header->block_size;
      if (!filter_.Overlaps(header->first_offset, header->last_offset, header->min_timestamp,
                            header->max_timestamp))
        continue;
      return true;
    }
    TM_RETURN_IF_ERROR(Refill());
    if (in_ring_ == 0) {
      CloseSegment();
      continue;
    }
    Slot& s = slots_[head_];
    TM_RETURN_IF_ERROR(ring_->WaitFor(&s.read));
    const size_t idx = entries_[s.entry];
    const auto& e = reader_->footer().blocks[idx];
    Status st;
    if (s.read.error != 0) {
      st = Status::Errno(s.read.error, "read " + cur_->path);
    } else {
      bytes_read_ += s.read.len;
      st = segment::CheckBlock(&ctx_->decoder, s.buf.data.get(), s.read.len, &e, header, payload);
    }
    if (!st.ok()) {
      Damage(static_cast<int64_t>(idx), e.file_offset, e.first_offset, e.last_offset,
             "block " + std::to_string(idx) + ": " + st.message());
      head_ = (head_ + 1) % slots_.size();
      --in_ring_;
      if (stopped_) {
        CloseSegment();
        return false;
      }
      continue;
    }
    holding_ = true;
    decoded_ = header->codec != format::Codec::kNone;
    // Keep the reads ahead of us going while the caller works on this block.
    TM_RETURN_IF_ERROR(Refill());
    return true;
  }
}

void BlockStream::TakePayload(std::vector<uint8_t>* out, std::span<const uint8_t>* payload) {
  const size_t n = payload->size();
  if (decoded_ && payload->data() != nullptr) {
    ctx_->decoder.SwapScratch(out);
  } else {
    out->assign(payload->begin(), payload->end());
  }
  *payload = std::span<const uint8_t>(out->data(), n);
}

}  // namespace tidemark::restore
