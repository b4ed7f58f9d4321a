// Recovery of the journal at start (docs/ARCHITECTURE.md, "The journal"): the records that a
// durability point vouched for but that were in no durable block when the last run stopped are
// written into their segments before anything is consumed.
//
// For every partition the journal names, in frame order: the records past what the partition
// already holds (the last good block of its unsealed segment, its newest sealed segment, and
// what the manifest covers), and contiguous with it (or skipping only offsets a section says
// were skipped), are encoded into blocks and appended to its unsealed segment before that is
// sealed; a partition without an unsealed segment gets a new segment of them. A discontinuity
// stops the partition's replay there (its records are fetched again: a loss is never a gap).
// Then the journal files are removed. Records at or below what a partition holds are skipped,
// so a replay interrupted by a crash and run again gives the same segments, never a duplicate.
//
// Runs at start-up, before any shard exists, with plain blocking I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tidemark/format.h"
#include "tidemark/status.h"

namespace tidemark::segment {

struct ReplayOptions {
  std::string backup_id;                       // for the header page of a new segment
  format::Codec codec = format::Codec::kZstd;  // of the blocks written from the journal
  int level = 1;
  size_t block_bytes = 1 << 20;
};

struct JournalReplay {
  std::vector<std::string> recovered;  // one line per partition that got records back
  std::vector<std::string> problems;   // damage, discontinuities: records fetched again
  uint64_t records = 0;                // records written into segments from the journal
};

// What the manifest covers of a partition (its end offset; 0 when it has no entry).
using KnownEnd = std::function<int64_t(const std::string& topic, int32_t partition)>;

// `dir` is <path>/<id>. An I/O error stops it (and keeps the journal for the next try); damage
// is reported in `report` and the rest goes on.
Status ReplayJournal(const std::string& dir, const ReplayOptions& o, const KnownEnd& known_end,
                     JournalReplay* report);

}  // namespace tidemark::segment
