#include "segment/write_pool.h"

#include "common/time.h"
#include "tidemark/assert.h"

namespace tidemark::segment {

WritePool::WritePool(io::IoBackend* io, size_t depth, size_t buffer_bytes,
                     uint64_t preallocate_budget_bytes)
    : io_(io),
      buffer_bytes_(format::AlignUp(buffer_bytes)),
      prealloc_budget_(preallocate_budget_bytes) {
  TM_CHECK(depth > 0);
  slots_.reserve(depth);
  free_.reserve(depth);
  for (size_t i = 0; i < depth; ++i) {
    auto s = std::make_unique<Slot>();
    s->buf = io::AlignedBuffer(buffer_bytes_);
    s->pool = this;
    s->index = static_cast<int>(i);
    s->op.ctx = s.get();
    s->op.on_done = &WritePool::OnDone;
    free_.push_back(s.get());
    slots_.push_back(std::move(s));
  }
}

std::string WritePool::TryRegisterBuffers() {
  std::vector<iovec> iov;
  iov.reserve(slots_.size());
  for (auto& s : slots_) iov.push_back({s->buf.data(), s->buf.capacity()});
  std::string why;
  if (!io_->RegisterBuffers(iov, &why)) return "unregistered buffers (" + why + ")";
  for (auto& s : slots_) s->registered = true;
  return "registered " + std::to_string(slots_.size()) + " buffers";
}

Result<WritePool::Slot*> WritePool::Acquire() {
  if (free_.empty()) {
    // Back-pressure: every buffer is in flight. Time spent here is the shard waiting on the disk.
    const int64_t t = MonotonicNs();
    while (free_.empty()) {
      if (io_->in_flight() == 0) {
        // Every buffer is held half-filled by a writer: have them written.
        std::vector<WriteSink*> holders;
        for (auto& slot : slots_) {
          if (slot->holder != nullptr) holders.push_back(slot->holder);
        }
        TM_CHECK_MSG(!holders.empty(), "write pool empty with nothing in flight or held");
        ++held_flushes_;
        for (WriteSink* h : holders) h->SubmitHeld();
        continue;  // a failed submit releases its slot
      }
      auto r = io_->Reap(true);
      if (!r.ok()) return r.status();
    }
    full_wait_ns_ += static_cast<uint64_t>(MonotonicNs() - t);
  }
  Slot* s = free_.back();
  free_.pop_back();
  TM_DCHECK(!s->busy);
  s->busy = true;
  return s;
}

void WritePool::Hold(Slot* slot, WriteSink* sink) {
  TM_CHECK(slot->busy && slot->holder == nullptr);
  slot->holder = sink;
}

void WritePool::Release(Slot* slot) {
  TM_CHECK(slot->busy);
  slot->busy = false;
  slot->holder = nullptr;
  free_.push_back(slot);
}

Status WritePool::Submit(Slot* slot, int fd, uint64_t offset, uint32_t len, WriteSink* sink) {
  TM_CHECK(slot->busy && len <= slot->buf.capacity());
  slot->holder = nullptr;
  // A buffer grown for an oversized block is no longer the registered one.
  if (slot->buf.capacity() != buffer_bytes_) slot->registered = false;
  slot->sink = sink;
  slot->op.fd = fd;
  slot->op.buf = slot->buf.data();
  slot->op.len = len;
  slot->op.offset = offset;
  slot->op.buf_index = slot->registered ? slot->index : -1;
  slot->submit_ns = MonotonicNs();
  Status st = io_->Submit(&slot->op);
  if (!st.ok()) Release(slot);
  return st;
}

Status WritePool::Poll() {
  auto r = io_->Reap(false);
  return r.ok() ? Status::Ok() : r.status();
}

void WritePool::OnDone(io::IoOp* op, void* ctx) {
  auto* slot = static_cast<Slot*>(ctx);
  WritePool* pool = slot->pool;
  pool->latency_.Record(static_cast<uint64_t>((MonotonicNs() - slot->submit_ns) / 1000));
  WriteSink* sink = slot->sink;
  slot->sink = nullptr;
  if (slot->buf.capacity() != pool->buffer_bytes_) {
    // Give back the memory of an oversized block right away; pools stay at their start-up size.
    slot->buf = io::AlignedBuffer(pool->buffer_bytes_);
  }
  pool->Release(slot);
  if (sink != nullptr) sink->OnWriteDone(op->error, op->len);
}

}  // namespace tidemark::segment
