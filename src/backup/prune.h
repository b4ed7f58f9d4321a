// Applying [retention] to the backups of a storage path (`tidemark prune`), and trimming one
// continuous backup (what `tidemark run` does as it runs). The order is always: the index stops
// naming the data, durably; then the files go. docs/ARCHITECTURE.md "Retention".
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "backup/catalog.h"
#include "backup/manifest.h"
#include "backup/retention.h"
#include "tidemark/status.h"

namespace tidemark::backup {

struct PruneOptions {
  std::string path;  // [storage] path
  std::string id;    // one backup ("": every backup under path)
  bool dry_run = false;
  RetentionPolicy policy;
  int64_t now_ms = 0;
  // Called after a continuous backup was trimmed (durably), with what its index holds now, while
  // the backup is still locked: the store's side of the trim (upload::StoreTrimmed).
  std::function<Status(const std::string& id, const Manifest& after)> trimmed;
};

// What happened to one backup.
struct PruneEntry {
  std::string id;
  std::string kind;
  std::string action;  // "kept", "trimmed", "deleted", "skipped" (dry run: "would trim", ...)
  uint64_t segments = 0, bytes = 0;  // dropped
  std::vector<std::string> notes;    // why skipped; group offsets that pointed into pruned data
};

// Applies the policy to the backups under o.path: snapshots older than max_age are deleted whole
// (manifest first, so the backup stops counting before its files go), except the newest
// keep_last; continuous backups are trimmed (TrimContinuous). A backup another process holds
// (tidemark run applies retention itself), or that a restore or verify is reading, is skipped
// with a note. Fails only when the path cannot be listed or a backup cannot be changed.
Result<std::vector<PruneEntry>> PruneLocal(const PruneOptions& o);
std::string PruneToText(const std::vector<PruneEntry>& entries, bool dry_run);
std::string PruneToJson(const std::vector<PruneEntry>& entries, bool dry_run);

// PlanTrims for a windowed copy (the service's, PartitionManifest::settled): the settled
// segments at a partition's front are read back from the catalog `w` writes, from where
// settled.pos says, only for partitions the policy may trim now (max_age: the first settled
// segment's newest record is older than the cutoff, or not known; max_bytes: the backup holds
// more), at most `max_segments` per partition per call (a trim that needs more goes on at the
// next call). Each trim carries the new front for ApplyTrim(p, trim); where a front was read,
// `window` keeps where it is and its newest record (settled.pos, first_max_timestamp), so a
// front that is not due yet is not read again.
Result<std::vector<Trim>> PlanWindowedTrims(Manifest* window, const CatalogWriter& w,
                                            const RetentionPolicy& policy, int64_t now_ms,
                                            size_t max_segments = 256);

// Trims the continuous backup in `dir` (whose catalog `w` writes and whose index `m` holds):
// each trim is applied to `m` (ApplyTrim(p, trim): `m` may be windowed), then one catalog
// checkpoint makes them durable, then the local files of the dropped segments are removed. The
// caller holds the backup's retention lock (DirLock::ForPruning). Returns the segments dropped.
Result<std::vector<segment::SealedSegment>> TrimContinuous(const std::string& dir, Manifest* m,
                                                           CatalogWriter* w,
                                                           const std::vector<Trim>& trims);

}  // namespace tidemark::backup
