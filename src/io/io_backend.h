// The swappable I/O layer. A shard owns one IoBackend; everything it writes goes through it.
//
//  - UringBackend: io_uring, with O_DIRECT where the filesystem takes it and buffered writes
//    plus fdatasync where it does not (probed at start-up and reported).
//  - MemBackend: in memory, enforcing the same alignment rules, injecting faults from a seed
//    (failed writes, short writes, a full disk) and simulating a crash by dropping what was
//    never synced. Tests use it to prove the writer's error handling.
//
// The caller owns each operation's context (IoOp): no heap allocation per write. Submit() queues
// the op; Reap() completes ops and calls op->on_done. Writes are WriteAll: the backend resubmits
// the remainder of a short write, retries EINTR/EAGAIN, and treats a 0-byte write as an error,
// so on_done sees either the whole length written or a failure.
//
// Thread contract: a backend is used by exactly one thread (its shard's).
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "tidemark/status.h"

namespace tidemark::io {

struct IoOp;
using IoDoneFn = void (*)(IoOp* op, void* ctx);

enum class IoKind : uint8_t {
  kWrite,      // write buf[0, len) at offset (WriteAll semantics)
  kFallocate,  // allocate [offset, offset + len) and extend the file size over it
  kFdatasync,  // fdatasync(fd) through the ring (buf, len and offset unused)
};

struct IoOp {
  // Set by the caller.
  IoKind kind = IoKind::kWrite;
  int fd = -1;
  const uint8_t* buf = nullptr;
  uint32_t len = 0;
  uint64_t offset = 0;
  int buf_index = -1;  // registered buffer index, or -1
  IoDoneFn on_done = nullptr;
  void* ctx = nullptr;
  // Set by the backend.
  uint32_t done = 0;  // bytes written so far
  int error = 0;      // errno of the failure, 0 when the whole length was written
  bool in_flight = false;
};

enum class DirectIoMode { kAuto, kOn, kOff };

struct IoStats {
  uint64_t writes_submitted = 0;
  uint64_t bytes_written = 0;
  uint64_t short_writes = 0;  // resubmitted remainders
  uint64_t retries = 0;       // EINTR/EAGAIN resubmissions
  uint64_t sq_full = 0;       // submission queue full: submitted and retried
  uint64_t in_flight_max = 0;
};

class IoBackend {
 public:
  virtual ~IoBackend() = default;

  // "io_uring+O_DIRECT", "io_uring+buffered", "memory", ...
  virtual std::string Describe() const = 0;
  // True when files are opened with O_DIRECT: buffers, offsets and lengths must be page-aligned.
  virtual bool direct() const = 0;

  virtual Status MakeDirs(const std::string& dir) = 0;
  virtual Result<int> OpenForWrite(const std::string& path) = 0;  // create or truncate
  virtual Status Close(int fd) = 0;
  // Queue a write, an fallocate or an fdatasync. The op must stay alive and untouched until
  // on_done runs.
  virtual Status Submit(IoOp* op) = 0;
  // Queue `ops` as one chain, submitted together: each starts only once the one before it has
  // completed whole, and when one fails the rest complete with ECANCELED (io_uring's
  // IOSQE_IO_LINK). A write that completes short breaks the chain too: its remainder is still
  // written (WriteAll), but the ops after it are cancelled, so a caller that sees ECANCELED after
  // a successful write does the rest itself. Used for a journal write and its fdatasync.
  virtual Status SubmitChain(std::span<IoOp* const> ops) = 0;
  // Complete what has finished; with wait, block until at least one op completes (if any is in
  // flight). Returns the number of ops completed.
  virtual Result<int> Reap(bool wait) = 0;
  virtual Status Fdatasync(int fd) = 0;
  // Sets the file size (drops preallocated space past the data).
  virtual Status Truncate(int fd, uint64_t size) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status SyncDir(const std::string& dir) = 0;
  // Optional: register buffers for fixed writes. Returns false (and says why) when not possible.
  virtual bool RegisterBuffers(std::span<const iovec> bufs, std::string* why) = 0;

  virtual size_t in_flight() const = 0;
  const IoStats& stats() const { return stats_; }

  // Drain every op in flight (used at seal and at shutdown).
  Status DrainAll() {
    while (in_flight() > 0) {
      auto r = Reap(true);
      if (!r.ok()) return r.status();
    }
    return Status::Ok();
  }

 protected:
  // Shared WriteAll policy. Given the result of one attempt (bytes written, 0 for a successful
  // fallocate, or -errno), updates the op and says whether to resubmit the remainder.
  enum class Next { kComplete, kResubmit };
  Next OnWriteResult(IoOp* op, int res);

  IoStats stats_;
};

struct UringOptions {
  DirectIoMode direct_io = DirectIoMode::kAuto;
  unsigned queue_depth = 64;
};

// fsync(2) of a directory, so that entries created or renamed in it are durable.
Status SyncDirectory(const std::string& dir);

// Probes io_uring and O_DIRECT in `dir` and returns a ready backend, or an error with a hint
// (for example, io_uring disabled by a sysctl or a seccomp profile).
Result<std::unique_ptr<IoBackend>> MakeUringBackend(const std::string& dir, const UringOptions& o);

}  // namespace tidemark::io
