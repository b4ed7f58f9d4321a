// `tidemark prune` in object storage ([upload]): the store's side of retention
// (docs/ARCHITECTURE.md "Retention"). The order is the local one: the index stops naming the
// data (a snapshot's manifest.json deleted, a continuous backup's catalog rewritten), then the
// objects go; a crash in between leaves objects no index names, which the next prune removes.
#pragma once

#include <string>
#include <vector>

#include "backup/manifest.h"
#include "backup/prune.h"
#include "config/config.h"
#include "upload/uploader.h"

namespace tidemark::upload {

// A continuous backup `id` was trimmed locally and `after` is its index now: when the store holds
// the backup, its catalog is rewritten from `after` (a base naming what is uploaded), then the
// segment objects below each partition's retention start that `after` does not name are deleted
// (what this trim dropped, and what an earlier crash left).
Status StoreTrimmed(Pool* pool, const std::string& id, const backup::Manifest& after);

// Snapshots in the store older than max_age, except the newest keep_last snapshots there, are
// deleted: manifest.json first, then every object under <id>/. With o.id, only that backup.
// Entries name the backup by its URL (s3://bucket/prefix/id).
Result<std::vector<backup::PruneEntry>> PruneStoreSnapshots(Pool* pool,
                                                            const backup::PruneOptions& o);

}  // namespace tidemark::upload
