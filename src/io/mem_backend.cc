#include "io/mem_backend.h"

#include <algorithm>
#include <cstring>

#include "tidemark/format.h"

namespace tidemark::io {

namespace {
std::string DirOf(const std::string& path) {
  auto pos = path.rfind('/');
  return pos == std::string::npos ? "." : path.substr(0, pos);
}
}  // namespace

MemBackend::MemBackend(bool direct, FaultPlan plan) : direct_(direct) { set_plan(plan); }

void MemBackend::set_plan(const FaultPlan& p) {
  plan_ = p;
  rng_.seed(p.seed);
  writes_until_failure_ = p.fail_write_after;
}

Status MemBackend::MakeDirs(const std::string&) { return Status::Ok(); }

Result<int> MemBackend::OpenForWrite(const std::string& path) {
  File& f = files_[path];
  used_ -= std::min<uint64_t>(used_, f.data.size());
  f.data.clear();
  int fd = next_fd_++;
  fds_[fd] = path;
  return fd;
}

Status MemBackend::Close(int fd) {
  if (fds_.erase(fd) == 0) return Status::Errno(EBADF, "close");
  return Status::Ok();
}

std::string MemBackend::PathOf(int fd) const {
  auto it = fds_.find(fd);
  return it == fds_.end() ? std::string() : it->second;
}

Status MemBackend::Submit(IoOp* op) {
  if (direct_ && op->kind == IoKind::kWrite &&
      (!format::IsAligned(reinterpret_cast<uintptr_t>(op->buf)) || !format::IsAligned(op->offset) ||
       !format::IsAligned(op->len))) {
    // The kernel answers EINVAL; we do too, so tests see what production would.
    return Status::Errno(EINVAL, "O_DIRECT write not page-aligned");
  }
  op->done = 0;
  op->error = 0;
  op->in_flight = true;
  ++stats_.writes_submitted;
  queue_.push_back(op);
  stats_.in_flight_max = std::max<uint64_t>(stats_.in_flight_max, queue_.size());
  return Status::Ok();
}

Status MemBackend::SubmitChain(std::span<IoOp* const> ops) {
  for (size_t i = 0; i < ops.size(); ++i) {
    TM_RETURN_IF_ERROR(Submit(ops[i]));
    if (i + 1 < ops.size()) linked_.insert(ops[i]);
  }
  return Status::Ok();
}

// One write attempt for the remainder of op: returns bytes written or -errno.
int MemBackend::Attempt(IoOp* op) {
  std::uniform_real_distribution<double> u(0, 1);
  if (op->kind == IoKind::kFdatasync) {
    const std::string fpath = PathOf(op->fd);
    if (fpath.empty()) return -EBADF;
    File& f = files_[fpath];
    f.synced = f.data;
    return 0;
  }
  if (op->kind == IoKind::kFallocate) {
    // Not subject to the write faults: a failed fallocate is never fatal to the writer.
    const std::string fpath = PathOf(op->fd);
    if (fpath.empty()) return -EBADF;
    File& f = files_[fpath];
    const uint64_t end = op->offset + op->len;
    if (end <= f.data.size()) return 0;
    if (used_ + (end - f.data.size()) > plan_.capacity_bytes) return -ENOSPC;
    used_ += end - f.data.size();
    f.data.resize(end);
    return 0;
  }
  if (plan_.eintr_probability > 0 && u(rng_) < plan_.eintr_probability) return -EINTR;
  if (writes_until_failure_ == 0) {
    writes_until_failure_ = -1;
    return -plan_.fail_errno;
  }
  if (writes_until_failure_ > 0) --writes_until_failure_;
  const std::string path = PathOf(op->fd);
  if (path.empty()) return -EBADF;
  File& f = files_[path];
  uint32_t len = op->len - op->done;
  const uint64_t off = op->offset + op->done;
  if (plan_.short_write_probability > 0 && len > 1 && u(rng_) < plan_.short_write_probability) {
    uint32_t part =
        static_cast<uint32_t>(std::uniform_int_distribution<uint32_t>(1, len - 1)(rng_));
    if (direct_) part = part / format::kPageSize * format::kPageSize;
    if (part > 0) len = part;
  }
  // A full disk: write what fits, as the kernel does (a short write), then ENOSPC on the retry.
  const uint64_t room = plan_.capacity_bytes > used_ ? plan_.capacity_bytes - used_ : 0;
  const uint64_t allowed_end = f.data.size() + room;
  if (off + len > allowed_end) {
    if (off >= allowed_end) return -ENOSPC;
    len = static_cast<uint32_t>(allowed_end - off);
    if (direct_) len = len / format::kPageSize * format::kPageSize;
    if (len == 0) return -ENOSPC;
  }
  if (off + len > f.data.size()) {
    used_ += off + len - f.data.size();
    f.data.resize(off + len);
  }
  std::memcpy(f.data.data() + off, op->buf + op->done, len);
  return static_cast<int>(len);
}

Result<int> MemBackend::Reap(bool /*wait*/) {
  // Every queued op completes now (the "device" is instant); that is enough to exercise
  // ordering, resubmission and error paths deterministically.
  int completed = 0;
  bool cancel = false;  // the op before failed (or wrote short) and this one is chained to it
  while (!queue_.empty()) {
    IoOp* op = queue_.front();
    queue_.pop_front();
    const bool linked = linked_.erase(op) > 0;
    if (cancel) {
      op->error = ECANCELED;
    } else {
      int res = Attempt(op);
      // As io_uring does: a short write breaks its chain (its remainder is still written).
      const bool short_write =
          op->kind == IoKind::kWrite && res > 0 && static_cast<uint32_t>(res) < op->len - op->done;
      while (OnWriteResult(op, res) == Next::kResubmit) res = Attempt(op);
      cancel = linked && (op->error != 0 || short_write);
    }
    if (!linked) cancel = false;
    op->in_flight = false;
    ++completed;
    op->on_done(op, op->ctx);
  }
  return completed;
}

Status MemBackend::Fdatasync(int fd) {
  const std::string path = PathOf(fd);
  if (path.empty()) return Status::Errno(EBADF, "fdatasync");
  File& f = files_[path];
  f.synced = f.data;
  return Status::Ok();
}

Status MemBackend::Truncate(int fd, uint64_t size) {
  const std::string path = PathOf(fd);
  if (path.empty()) return Status::Errno(EBADF, "ftruncate");
  File& f = files_[path];
  used_ = used_ - f.data.size() + size;
  f.data.resize(size);
  return Status::Ok();
}

Status MemBackend::Rename(const std::string& from, const std::string& to) {
  auto it = files_.find(from);
  if (it == files_.end()) return Status::Errno(ENOENT, "rename " + from);
  File f = std::move(it->second);
  files_.erase(it);
  f.durable_name = false;
  files_[to] = std::move(f);
  for (auto& [fd, p] : fds_) {
    if (p == from) p = to;
  }
  return Status::Ok();
}

Status MemBackend::SyncDir(const std::string& dir) {
  for (auto& [path, f] : files_) {
    if (DirOf(path) == dir) f.durable_name = true;
  }
  return Status::Ok();
}

bool MemBackend::RegisterBuffers(std::span<const iovec>, std::string* why) {
  *why = "memory backend";
  return false;
}

std::vector<std::string> MemBackend::List() const {
  std::vector<std::string> out;
  for (const auto& [p, f] : files_) out.push_back(p);
  return out;
}

void MemBackend::Crash() {
  for (auto it = files_.begin(); it != files_.end();) {
    if (!it->second.durable_name) {
      it = files_.erase(it);
      continue;
    }
    it->second.data = it->second.synced;
    ++it;
  }
  used_ = 0;
  for (const auto& [p, f] : files_) used_ += f.data.size();
  fds_.clear();
  queue_.clear();
  linked_.clear();
}

}  // namespace tidemark::io
