// An exclusive lock on a directory, so two tidemark processes never work in the same one: two
// backups with one id would clear each other's segments, two runs of one restore would produce
// every record twice. flock(2) on "<dir>/.lock", which the kernel drops when the process dies
// (kill -9 included), so a crash never leaves a stale lock. The file keeps the holder's pid and
// what it is doing, for the message the next process gets.
#pragma once

#include <string>

#include "tidemark/status.h"

namespace tidemark {

class DirLock {
 public:
  DirLock() = default;
  ~DirLock();
  DirLock(DirLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DirLock& operator=(DirLock&& o) noexcept;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

  // Takes the lock on `dir` (which must exist) for `what` ("backup nightly"), or fails naming the
  // process that holds it.
  static Result<DirLock> Acquire(const std::string& dir, const std::string& what);

  // A backup's retention lock (<backup dir>/.retention.lock): readers of its segments (restore,
  // verify) hold it shared for as long as they read, waiting for a prune in progress; retention
  // takes it exclusively without waiting, and Aborted says a reader holds it. A directory where
  // the lock file cannot be made (read-only) gives an empty lock: nothing can prune there.
  static Result<DirLock> ForReading(const std::string& backup_dir);
  static Result<DirLock> ForPruning(const std::string& backup_dir);
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace tidemark
