#include "common/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include "common/time.h"

namespace tidemark {

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);
}

DirLock& DirLock::operator=(DirLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Result<DirLock> DirLock::Acquire(const std::string& dir, const std::string& what) {
  const std::string path = dir + "/.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Errno(errno, "open lock file " + path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[512] = {0};
    const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    ::close(fd);
    if (err != EWOULDBLOCK) return Status::Errno(err, "lock " + path);
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    while (!holder.empty() && holder.back() == '\n') holder.pop_back();
    return Status::Aborted(dir + " is in use by another tidemark process (" +
                           (holder.empty() ? std::string("unknown") : holder) +
                           "); wait for it to finish, or use another id");
  }
  const std::string me = "pid " + std::to_string(::getpid()) + ", " + what + ", since " +
                         FormatRfc3339(WallClockMs()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) < 0) {
    const int err = errno;
    ::close(fd);
    return Status::Errno(err, "write lock file " + path);
  }
  DirLock lock;
  lock.fd_ = fd;
  return lock;
}

namespace {
constexpr const char* kRetentionLock = "/.retention.lock";
}  // namespace

Result<DirLock> DirLock::ForReading(const std::string& backup_dir) {
  const std::string path = backup_dir + kRetentionLock;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return DirLock();  // read-only or missing: no prune can run there either
  while (::flock(fd, LOCK_SH) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    ::close(fd);
    return Status::Errno(err, "lock " + path);
  }
  DirLock lock;
  lock.fd_ = fd;
  return lock;
}

Result<DirLock> DirLock::ForPruning(const std::string& backup_dir) {
  const std::string path = backup_dir + kRetentionLock;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Errno(errno, "open " + path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK)
      return Status::Aborted("a restore or verify is reading " + backup_dir +
                             "; retention waits until it ends");
    return Status::Errno(err, "lock " + path);
  }
  DirLock lock;
  lock.fd_ = fd;
  return lock;
}

}  // namespace tidemark
