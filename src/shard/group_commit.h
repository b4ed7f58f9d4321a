// GroupCommit: a shard's durability point as one group commit (docs/ARCHITECTURE.md, "The
// journal: durability points as group commits").
//
// Run() puts every partition's records that are in no written block yet into one journal frame,
// submits the frame's write linked to its fdatasync, then an fdatasync of every segment that
// received blocks since the last point, all through the shard's ring, and waits for all of them
// together: one write and 1 + (segments written) fsyncs in flight at once, never one blocking
// fsync after another. When it returns, every record the shard's partitions hold is durable,
// in a segment block or in the journal. Then the journal files no partition needs any more are
// deleted.
//
// Thread contract: owned by one shard (continuous mode) and used only on its thread.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/io_backend.h"
#include "segment/journal.h"
#include "shard/partition_pipeline.h"

namespace tidemark::shard {

class GroupCommit {
 public:
  // `backup_dir` is <path>/<id>; the journal goes to <backup_dir>/journal.
  GroupCommit(io::IoBackend* io, const std::string& backup_dir, int shard);

  Status Open() { return journal_.Open(); }
  // One durability point over `pipelines`; false when there was nothing to make durable.
  Result<bool> Run(std::span<const std::unique_ptr<PartitionPipeline>> pipelines);
  // Every partition was sealed (a clean stop): no frame is needed, the files go.
  void RemoveJournal() { journal_.RemoveAll(); }
  const segment::JournalWriter& journal() const { return journal_; }

 private:
  io::IoBackend* io_;
  segment::JournalWriter journal_;
  std::vector<PartitionPipeline*> syncing_;  // reused between points
};

}  // namespace tidemark::shard
