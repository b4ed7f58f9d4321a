#include "shard/group_commit.h"

namespace tidemark::shard {

namespace {
std::string NameOf(const PartitionPipeline& p) {
  return p.task().topic + "/" + std::to_string(p.task().partition);
}
}  // namespace

GroupCommit::GroupCommit(io::IoBackend* io, const std::string& backup_dir, int shard)
    : io_(io), journal_(io, backup_dir + "/" + std::string(segment::kJournalDir), shard) {}

Result<bool> GroupCommit::Run(std::span<const std::unique_ptr<PartitionPipeline>> pipelines) {
  // The frame: each partition's records added since the last point and in no written block
  // (copied from its open block, already encoded).
  bool framed = false;
  const uint64_t seq = journal_.next_seq();
  for (const auto& p : pipelines) {
    if (p->AddJournalSection(&journal_.frame(), seq)) framed = true;
  }
  syncing_.clear();
  for (const auto& p : pipelines) {
    if (p->needs_sync()) syncing_.push_back(p.get());
  }
  if (!framed && syncing_.empty()) return false;
  // Every segment's held buffer goes out first, so no segment waits on another's last write.
  for (PartitionPipeline* p : syncing_)
    TM_RETURN_IF_ERROR(p->FlushWrites().WithContext(NameOf(*p)));
  if (framed) TM_RETURN_IF_ERROR(journal_.SubmitFrame().status());
  // Each segment's fdatasync once its own writes are done (while the journal's are in flight).
  for (PartitionPipeline* p : syncing_) TM_RETURN_IF_ERROR(p->SubmitSync().WithContext(NameOf(*p)));
  for (;;) {
    bool pending = journal_.busy();
    for (PartitionPipeline* p : syncing_) pending = pending || p->sync_in_flight();
    if (!pending) break;
    auto r = io_->Reap(true);
    if (!r.ok()) return r.status();
  }
  if (framed) TM_RETURN_IF_ERROR(journal_.Complete());
  for (PartitionPipeline* p : syncing_) TM_RETURN_IF_ERROR(p->FinishSync().WithContext(NameOf(*p)));
  // Journal files whose frames every partition has in durable blocks by now.
  uint64_t oldest = 0;
  for (const auto& p : pipelines) {
    const uint64_t o = p->oldest_journal_frame();
    if (o != 0 && (oldest == 0 || o < oldest)) oldest = o;
  }
  journal_.Release(oldest == 0 ? journal_.next_seq() : oldest);
  return true;
}

}  // namespace tidemark::shard
