#include "io/io_backend.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "tidemark/format.h"

namespace tidemark::io {

IoBackend::Next IoBackend::OnWriteResult(IoOp* op, int res) {
  if (op->kind == IoKind::kFallocate || op->kind == IoKind::kFdatasync) {
    if (res == -EINTR || res == -EAGAIN) return Next::kResubmit;
    op->error = res < 0 ? -res : 0;
    return Next::kComplete;
  }
  if (res == -EINTR || res == -EAGAIN) {
    ++stats_.retries;
    return Next::kResubmit;
  }
  if (res < 0) {
    op->error = -res;
    return Next::kComplete;
  }
  if (res == 0) {
    // A write that makes no progress would loop forever; the kernel only does this when it
    // cannot write at all, so report it as an I/O error.
    op->error = EIO;
    return Next::kComplete;
  }
  op->done += static_cast<uint32_t>(res);
  stats_.bytes_written += static_cast<uint64_t>(res);
  if (op->done >= op->len) return Next::kComplete;
  ++stats_.short_writes;
  if (direct() && !format::IsAligned(op->done)) {
    // O_DIRECT needs the remainder aligned too; a short write that splits a page cannot be
    // continued safely, so it is a failure rather than a silently torn page.
    op->error = EIO;
    return Next::kComplete;
  }
  return Next::kResubmit;
}

Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::Errno(errno, "open directory " + dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::Errno(err, "fsync directory " + dir);
  return Status::Ok();
}

}  // namespace tidemark::io
