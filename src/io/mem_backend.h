// MemBackend: an in-memory IoBackend for tests, after RocksDB's FaultInjectionTestFS.
//
// It enforces the O_DIRECT rules when `direct` (page-aligned buffer, offset and length), and
// injects faults from a seed that tests print, so a failure can be replayed:
//  - fail_write_after: the Nth write from now fails with `fail_errno`;
//  - capacity_bytes: total bytes the "disk" holds; a write past it fails with ENOSPC;
//  - short_write_probability: a write completes only part of its length (page multiples when
//    direct), exercising the WriteAll resubmission path;
//  - eintr_probability: a write attempt fails with EINTR and must be retried.
// Crash() drops everything never made durable: file data not covered by an fdatasync, and
// renames or creations whose directory was never synced.
//
// Thread contract: single-threaded, like every backend.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "io/io_backend.h"

namespace tidemark::io {

struct FaultPlan {
  uint64_t seed = 1;
  int64_t fail_write_after = -1;  // -1: never
  int fail_errno = EIO;
  uint64_t capacity_bytes = UINT64_MAX;
  double short_write_probability = 0;
  double eintr_probability = 0;
};

class MemBackend final : public IoBackend {
 public:
  explicit MemBackend(bool direct, FaultPlan plan = {});

  std::string Describe() const override { return direct_ ? "memory+direct" : "memory"; }
  bool direct() const override { return direct_; }
  Status MakeDirs(const std::string& dir) override;
  Result<int> OpenForWrite(const std::string& path) override;
  Status Close(int fd) override;
  Status Submit(IoOp* op) override;
  Status SubmitChain(std::span<IoOp* const> ops) override;
  Result<int> Reap(bool wait) override;
  Status Fdatasync(int fd) override;
  Status Truncate(int fd, uint64_t size) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& dir) override;
  bool RegisterBuffers(std::span<const iovec> bufs, std::string* why) override;
  size_t in_flight() const override { return queue_.size(); }

  // Test access.
  void set_plan(const FaultPlan& p);
  bool Exists(const std::string& path) const { return files_.count(path) != 0; }
  const std::vector<uint8_t>& Contents(const std::string& path) const {
    return files_.at(path).data;
  }
  std::vector<std::string> List() const;
  void Crash();

 private:
  struct File {
    std::vector<uint8_t> data;
    std::vector<uint8_t> synced;  // contents as of the last fdatasync
    bool durable_name = false;    // its directory entry survived a SyncDir
  };
  std::string PathOf(int fd) const;
  int Attempt(IoOp* op);

  bool direct_;
  FaultPlan plan_;
  std::mt19937_64 rng_;
  std::map<std::string, File> files_;
  std::map<int, std::string> fds_;
  int next_fd_ = 100;
  std::deque<IoOp*> queue_;
  std::set<const IoOp*> linked_;  // queued ops whose successor in queue_ is chained to them
  uint64_t used_ = 0;
  int64_t writes_until_failure_ = -1;
};

}  // namespace tidemark::io
