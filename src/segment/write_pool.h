// WritePool: a shard's bounded set of page-aligned output buffers, each with its own IoOp.
//
// The pool is the shard's bound on memory and on writes in flight: `depth` buffers are
// allocated at start-up (and registered with io_uring where the memlock limit allows), and a
// block can only be written once a buffer is free. Acquire() reaps completions until one is,
// which is how back-pressure reaches the Kafka side: a shard that cannot write stops polling.
//
// Thread contract: owned and used by one shard thread.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/histogram.h"
#include "io/aligned_buffer.h"
#include "io/io_backend.h"
#include "tidemark/assert.h"

namespace tidemark::segment {

// Told when a write it submitted completes (error is 0 or an errno), and asked to submit a
// buffer it holds half-filled when the pool has nothing else to give.
class WriteSink {
 public:
  virtual void OnWriteDone(int error, uint32_t len) = 0;
  // Submit the held buffer now (errors stay sticky in the sink).
  virtual void SubmitHeld() = 0;

 protected:
  ~WriteSink() = default;
};

class WritePool {
 public:
  struct Slot {
    io::AlignedBuffer buf;
    io::IoOp op;
    WritePool* pool = nullptr;
    WriteSink* sink = nullptr;
    int index = -1;
    bool registered = false;
    bool busy = false;
    WriteSink* holder = nullptr;  // acquired and being filled by this sink, not yet submitted
    int64_t submit_ns = 0;
  };

  // `preallocate_budget_bytes`: how much file space the shard's writers may reserve ahead of
  // their writes at once (SegmentWriter::Preallocate), whatever the number of open segments.
  WritePool(io::IoBackend* io, size_t depth, size_t buffer_bytes,
            uint64_t preallocate_budget_bytes = kDefaultPreallocateBudget);
  static constexpr uint64_t kDefaultPreallocateBudget = 64ull << 20;
  WritePool(const WritePool&) = delete;
  WritePool& operator=(const WritePool&) = delete;

  // Registers the buffers with the backend; returns a line saying which path runs.
  std::string TryRegisterBuffers();

  // A free slot; reaps (waiting) while all are in flight; asks holders to submit when nothing is.
  Result<Slot*> Acquire();
  // Writes slot->buf[0, len) at offset of fd; the sink hears of it on completion.
  Status Submit(Slot* slot, int fd, uint64_t offset, uint32_t len, WriteSink* sink);
  // Returns an acquired slot unused.
  void Release(Slot* slot);
  // Marks an acquired slot as being filled by `sink` over several calls. If the pool runs dry
  // with nothing in flight, Acquire() asks the holders to submit, so a shard whose partitions
  // each hold a half-filled buffer cannot deadlock.
  void Hold(Slot* slot, WriteSink* sink);
  // Reaps without waiting (call between poll batches).
  Status Poll();
  Status Drain() { return io_->DrainAll(); }

  io::IoBackend* io() { return io_; }
  // Buffers acquired (held or in flight) of the pool's size.
  size_t in_use() const { return slots_.size() - free_.size(); }
  // Completion latency of block writes, submit to completion.
  const Histogram& write_latency() const { return latency_; }
  // How long in total Acquire() waited for a buffer (all were in flight).
  uint64_t full_wait_ns() const { return full_wait_ns_; }
  // How often a dry pool had held buffers submitted early.
  uint64_t held_flushes() const { return held_flushes_; }
  // Takes `bytes` of the preallocation budget; false when that would pass it.
  bool TakePreallocation(uint64_t bytes) {
    if (bytes > prealloc_budget_ - prealloc_taken_) return false;
    prealloc_taken_ += bytes;
    return true;
  }
  void ReturnPreallocation(uint64_t bytes) {
    TM_CHECK(bytes <= prealloc_taken_);
    prealloc_taken_ -= bytes;
  }
  uint64_t preallocated() const { return prealloc_taken_; }

 private:
  static void OnDone(io::IoOp* op, void* ctx);

  io::IoBackend* io_;
  size_t buffer_bytes_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Slot*> free_;
  Histogram latency_;
  uint64_t full_wait_ns_ = 0;
  uint64_t held_flushes_ = 0;
  uint64_t prealloc_budget_;
  uint64_t prealloc_taken_ = 0;
};

}  // namespace tidemark::segment
