#include "segment/journal.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/log.h"
#include "common/time.h"
#include "tidemark/assert.h"

namespace tidemark::segment {

namespace fs = std::filesystem;

JournalWriter::JournalWriter(io::IoBackend* io, std::string dir, int shard, uint64_t file_bytes)
    : io_(io), dir_(std::move(dir)), shard_(shard), file_bytes_(file_bytes) {}

JournalWriter::~JournalWriter() {
  TM_CHECK_MSG(!busy(), "journal destroyed with its write in flight");
  if (fd_ >= 0) io_->Close(fd_).IgnoreError();
}

Status JournalWriter::Open() {
  TM_RETURN_IF_ERROR(io_->MakeDirs(dir_));
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    int shard = -1;
    uint64_t seq = 0;
    if (ParseJournalFileName(it->path().filename().string(), &shard, &seq) && shard == shard_ &&
        seq >= next_seq_) {
      // Its frames have seqs from `seq` on; a file holds far fewer than 2^32 of them.
      next_seq_ = seq + (1ull << 32);
    }
  }
  return Status::Ok();
}

FrameBuilder& JournalWriter::frame() {
  if (!begun_) {
    frame_.Begin(next_seq_, static_cast<uint32_t>(shard_), WallClockMs());
    begun_ = true;
  }
  return frame_;
}

Status JournalWriter::StartFile() {
  if (fd_ >= 0) {
    TM_RETURN_IF_ERROR(io_->Close(fd_));
    fd_ = -1;
  }
  File f;
  f.name = JournalFileName(shard_, next_seq_);
  TM_ASSIGN_OR_RETURN(fd_, io_->OpenForWrite(dir_ + "/" + f.name));
  // The name must survive a power loss before a frame in it is vouched for: once per file.
  TM_RETURN_IF_ERROR(io_->SyncDir(dir_));
  f.first_seq = next_seq_;
  files_.push_back(std::move(f));
  file_pos_ = 0;
  return Status::Ok();
}

Result<uint64_t> JournalWriter::SubmitFrame() {
  TM_RETURN_IF_ERROR(error_);
  TM_CHECK(has_frame() && !busy());
  const uint64_t size = frame_.Finish();
  if (size > UINT32_MAX) return error_ = Status::Invalid("journal frame above 4 GiB");
  if (fd_ < 0 || (files_.back().last_seq != 0 && file_pos_ + size > file_bytes_)) {
    if (Status s = StartFile(); !s.ok()) return error_ = s.WithContext("journal " + dir_);
  }
  write_op_ = io::IoOp{};
  write_op_.kind = io::IoKind::kWrite;
  write_op_.fd = fd_;
  write_op_.buf = frame_.data();
  write_op_.len = static_cast<uint32_t>(size);
  write_op_.offset = file_pos_;
  write_op_.on_done = [](io::IoOp*, void*) {};
  sync_op_ = io::IoOp{};
  sync_op_.kind = io::IoKind::kFdatasync;
  sync_op_.fd = fd_;
  sync_op_.on_done = [](io::IoOp*, void*) {};
  io::IoOp* chain[] = {&write_op_, &sync_op_};
  if (Status s = io_->SubmitChain(chain); !s.ok()) return error_ = s.WithContext("journal");
  submitted_seq_ = next_seq_;
  submitted_size_ = size;
  return submitted_seq_;
}

Status JournalWriter::Complete() {
  TM_CHECK(!busy());
  TM_RETURN_IF_ERROR(error_);
  const std::string path = dir_ + "/" + files_.back().name;
  if (write_op_.error != 0) {
    return error_ = Status::Errno(write_op_.error, "write to journal " + path)
                        .WithContext(write_op_.error == ENOSPC ? "disk full" : "I/O error");
  }
  if (sync_op_.error == ECANCELED) {
    // The write completed short and was finished on its own: its fdatasync was cancelled.
    if (Status s = io_->Fdatasync(fd_); !s.ok()) return error_ = s.WithContext(path);
  } else if (sync_op_.error != 0) {
    return error_ = Status::Errno(sync_op_.error, "fdatasync journal " + path);
  }
  file_pos_ += submitted_size_;
  files_.back().last_seq = submitted_seq_;
  ++next_seq_;
  begun_ = false;
  return Status::Ok();
}

void JournalWriter::RemoveAll() {
  TM_CHECK(!busy());
  if (fd_ >= 0) io_->Close(fd_).IgnoreError();
  fd_ = -1;
  for (const File& f : files_) {
    if (::unlink((dir_ + "/" + f.name).c_str()) != 0 && errno != ENOENT)
      TM_LOG_WARN("journal: cannot remove %s/%s: %s", dir_.c_str(), f.name.c_str(),
                  std::strerror(errno));
  }
  files_.clear();
}

void JournalWriter::Release(uint64_t oldest_needed) {
  while (files_.size() > 1) {
    const File& f = files_.front();
    if (oldest_needed != 0 && f.last_seq >= oldest_needed) break;
    // Not made durable: a file that comes back after a crash only holds records that are in
    // durable blocks already, which recovery skips.
    if (::unlink((dir_ + "/" + f.name).c_str()) != 0 && errno != ENOENT)
      TM_LOG_WARN("journal: cannot remove %s/%s: %s", dir_.c_str(), f.name.c_str(),
                  std::strerror(errno));
    files_.pop_front();
  }
}

}  // namespace tidemark::segment
