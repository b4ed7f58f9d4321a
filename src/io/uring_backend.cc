// io_uring backend: one ring per shard, set up once, probed, O_DIRECT where the filesystem
// takes it. Data writes go through the ring (several in flight); the rare metadata operations
// at seal time (fdatasync, rename, directory fsync) are plain syscalls on the shard's thread.
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "common/log.h"
#include "io/aligned_buffer.h"
#include "io/io_backend.h"
#include "tidemark/assert.h"

namespace tidemark::io {
namespace {

class UringBackend final : public IoBackend {
 public:
  UringBackend(bool direct, unsigned depth, std::string why_buffered)
      : direct_(direct), depth_(depth), why_buffered_(std::move(why_buffered)) {}
  ~UringBackend() override {
    if (ring_ready_) io_uring_queue_exit(&ring_);
  }

  Status Init() {
    int rc = io_uring_queue_init(depth_, &ring_, 0);
    if (rc < 0) {
      std::string hint =
          rc == -ENOMEM ? " (raise the memlock limit: LimitMEMLOCK= in the unit, ulimit -l)"
          : rc == -EPERM || rc == -ENOSYS
              ? " (io_uring is disabled: check sysctl kernel.io_uring_disabled and seccomp)"
              : "";
      return Status::Errno(-rc, "io_uring_queue_init" + hint);
    }
    ring_ready_ = true;
    io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
    if (probe == nullptr) return Status::Unsupported("io_uring: cannot probe supported operations");
    const bool ok = io_uring_opcode_supported(probe, IORING_OP_WRITE) &&
                    io_uring_opcode_supported(probe, IORING_OP_WRITE_FIXED) &&
                    io_uring_opcode_supported(probe, IORING_OP_FALLOCATE) &&
                    io_uring_opcode_supported(probe, IORING_OP_FSYNC);
    io_uring_free_probe(probe);
    if (!ok)
      return Status::Unsupported(
          "io_uring: kernel lacks IORING_OP_WRITE or FALLOCATE (need Linux 5.6+)");
    return Status::Ok();
  }

  std::string Describe() const override {
    std::string s = direct_ ? "io_uring+O_DIRECT" : "io_uring+buffered";
    if (registered_) s += "+registered-buffers";
    if (!why_buffered_.empty()) s += " (" + why_buffered_ + ")";
    return s;
  }
  bool direct() const override { return direct_; }

  // Creates what is missing of `dir` and makes each new entry durable (an fsync of its parent),
  // so a segment made durable inside it is not lost with its directory in a power loss.
  Status MakeDirs(const std::string& dir) override {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return Status::Ok();
    std::vector<fs::path> missing;
    for (fs::path p = fs::path(dir).lexically_normal(); !p.empty() && !fs::exists(p, ec);
         p = p.parent_path()) {
      missing.push_back(p);
      if (p == p.parent_path()) break;
    }
    fs::create_directories(dir, ec);
    if (ec) return Status::Errno(ec.value(), "create directory " + dir);
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      const fs::path parent = it->parent_path();
      TM_RETURN_IF_ERROR(SyncDirectory(parent.empty() ? "." : parent.string()));
    }
    return Status::Ok();
  }

  Result<int> OpenForWrite(const std::string& path) override {
    int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
    if (direct_) flags |= O_DIRECT;
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return Status::Errno(errno, "open " + path + " for writing");
    return fd;
  }

  Status Close(int fd) override {
    if (::close(fd) != 0) return Status::Errno(errno, "close");
    return Status::Ok();
  }

  Status Submit(IoOp* op) override {
    Start(op);
    return Queue(op);
  }

  Status SubmitChain(std::span<IoOp* const> ops) override {
    // The whole chain goes to the kernel in one submission: a link does not reach across
    // submissions. Room for all of it is made first (the ring holds far more than a chain).
    TM_CHECK(!ops.empty() && ops.size() <= depth_);
    while (io_uring_sq_space_left(&ring_) < ops.size()) {
      ++stats_.sq_full;
      TM_RETURN_IF_ERROR(SubmitPending());
    }
    for (size_t i = 0; i < ops.size(); ++i) {
      Start(ops[i]);
      io_uring_sqe* sqe = Prepare(ops[i]);
      if (i + 1 < ops.size()) io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK);
    }
    return SubmitPending();
  }

  Result<int> Reap(bool wait) override {
    int completed = 0;
    if (unsubmitted_ > 0) TM_RETURN_IF_ERROR(SubmitPending());
    if (wait && in_flight_ > 0) {
      io_uring_cqe* cqe = nullptr;
      int rc;
      do {
        rc = io_uring_wait_cqe(&ring_, &cqe);
      } while (rc == -EINTR);
      if (rc < 0) return Status::Errno(-rc, "io_uring_wait_cqe");
    }
    // Reap in a batch, then run the handlers.
    io_uring_cqe* cqes[64];
    unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, 64);
    IoOp* done_ops[64];
    unsigned ndone = 0;
    for (unsigned i = 0; i < n; ++i) {
      auto* op = static_cast<IoOp*>(io_uring_cqe_get_data(cqes[i]));
      const int res = cqes[i]->res;
      io_uring_cqe_seen(&ring_, cqes[i]);
      if (OnWriteResult(op, res) == Next::kResubmit) {
        TM_RETURN_IF_ERROR(Queue(op));
        continue;
      }
      done_ops[ndone++] = op;
    }
    for (unsigned i = 0; i < ndone; ++i) {
      IoOp* op = done_ops[i];
      op->in_flight = false;
      --in_flight_;
      ++completed;
      op->on_done(op, op->ctx);
    }
    return completed;
  }

  Status Fdatasync(int fd) override {
    if (::fdatasync(fd) != 0) return Status::Errno(errno, "fdatasync");
    return Status::Ok();
  }

  Status Truncate(int fd, uint64_t size) override {
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return Status::Errno(errno, "ftruncate");
    return Status::Ok();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Status::Errno(errno, "rename " + from);
    return Status::Ok();
  }

  Status SyncDir(const std::string& dir) override { return SyncDirectory(dir); }

  bool RegisterBuffers(std::span<const iovec> bufs, std::string* why) override {
    int rc = io_uring_register_buffers(&ring_, bufs.data(), static_cast<unsigned>(bufs.size()));
    if (rc < 0) {
      *why = std::string("io_uring_register_buffers: ") + std::strerror(-rc) +
             (rc == -ENOMEM ? " (memlock limit too low: raise LimitMEMLOCK / ulimit -l)" : "");
      return false;
    }
    registered_ = true;
    return true;
  }

  size_t in_flight() const override { return in_flight_; }

 private:
  // Hands the queued SQEs to the kernel. EBUSY/EAGAIN (completion queue backed up) are not
  // errors: the SQEs stay queued and go with the next submit.
  Status SubmitPending() {
    int rc = io_uring_submit(&ring_);
    if (rc < 0 && rc != -EBUSY && rc != -EAGAIN) return Status::Errno(-rc, "io_uring_submit");
    if (rc > 0) unsubmitted_ -= std::min<unsigned>(unsubmitted_, static_cast<unsigned>(rc));
    return Status::Ok();
  }

  void Start(IoOp* op) {
    if (direct_ && op->kind == IoKind::kWrite) {
      TM_CHECK_MSG(format::IsAligned(reinterpret_cast<uintptr_t>(op->buf)) &&
                       format::IsAligned(op->offset) && format::IsAligned(op->len),
                   "O_DIRECT write not page-aligned");
    }
    op->done = 0;
    op->error = 0;
    op->in_flight = true;
    ++in_flight_;
    ++stats_.writes_submitted;
    if (in_flight_ > stats_.in_flight_max) stats_.in_flight_max = in_flight_;
  }

  // Fills an SQE for (the rest of) op; the caller has made room for it.
  io_uring_sqe* Prepare(IoOp* op) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    TM_CHECK(sqe != nullptr);
    const uint8_t* p = op->buf + op->done;
    const unsigned len = op->len - op->done;
    const uint64_t off = op->offset + op->done;
    if (op->kind == IoKind::kFallocate) {
      io_uring_prep_fallocate(sqe, op->fd, 0, static_cast<off_t>(op->offset),
                              static_cast<off_t>(op->len));
    } else if (op->kind == IoKind::kFdatasync) {
      io_uring_prep_fsync(sqe, op->fd, IORING_FSYNC_DATASYNC);
    } else if (registered_ && op->buf_index >= 0) {
      io_uring_prep_write_fixed(sqe, op->fd, p, len, off, op->buf_index);
    } else {
      io_uring_prep_write(sqe, op->fd, p, len, off);
    }
    io_uring_sqe_set_data(sqe, op);
    ++unsubmitted_;
    return sqe;
  }

  Status Queue(IoOp* op) {
    while (io_uring_sq_space_left(&ring_) == 0) {
      // Submission queue full: submit what is queued and try again; count it.
      ++stats_.sq_full;
      TM_RETURN_IF_ERROR(SubmitPending());
    }
    Prepare(op);
    // Submit eagerly: the kernel starts the write while the shard encodes the next block.
    return SubmitPending();
  }

  bool direct_;
  unsigned depth_;
  std::string why_buffered_;  // empty when direct, or when buffered was asked for
  io_uring ring_{};
  bool ring_ready_ = false;
  bool registered_ = false;
  size_t in_flight_ = 0;
  unsigned unsubmitted_ = 0;
};

// Opens a probe file with O_DIRECT in dir and writes one aligned page. Returns true when the
// filesystem takes O_DIRECT; false with the reason when it refuses (EINVAL: tmpfs on old
// kernels, some FUSE and network filesystems).
bool ProbeDirect(const std::string& dir, std::string* why) {
  const std::string path = dir + "/.tidemark-odirect-probe";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
  if (fd < 0) {
    *why = std::string("open with O_DIRECT: ") + std::strerror(errno);
    ::unlink(path.c_str());  // the file can be created before the open is refused
    return false;
  }
  AlignedBuffer page(format::kPageSize);
  std::memset(page.data(), 0, format::kPageSize);
  ssize_t n = ::pwrite(fd, page.data(), format::kPageSize, 0);
  int err = errno;
  ::close(fd);
  ::unlink(path.c_str());
  if (n != static_cast<ssize_t>(format::kPageSize)) {
    *why = std::string("O_DIRECT write: ") + (n < 0 ? std::strerror(err) : "short write");
    return false;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<IoBackend>> MakeUringBackend(const std::string& dir, const UringOptions& o) {
  bool direct = false;
  std::string why_buffered;
  if (o.direct_io != DirectIoMode::kOff) {
    std::string why;
    direct = ProbeDirect(dir, &why);
    if (!direct) why_buffered = "O_DIRECT refused here: " + why + "; fdatasync at seal";
    if (!direct && o.direct_io == DirectIoMode::kOn) {
      return Status::Unsupported("storage.direct_io = \"on\" but " + dir + " refuses O_DIRECT (" +
                                 why + "); use direct_io = \"auto\" or a filesystem such as XFS");
    }
    if (!direct)
      TM_LOG_DEBUG("O_DIRECT refused in %s (%s); using buffered writes", dir.c_str(), why.c_str());
  }
  auto backend = std::make_unique<UringBackend>(direct, o.queue_depth, why_buffered);
  TM_RETURN_IF_ERROR(backend->Init());
  return std::unique_ptr<IoBackend>(std::move(backend));
}

}  // namespace tidemark::io
