// Retention: which data a [retention] policy drops, and dropping it from an index.
//
// A continuous backup drops whole segments from the front of a partition: a trim moves the
// partition's *retention start* (the first offset still kept) forward, and the offsets below it
// become one gap with reason "retention", so the invariant "every offset is in a segment or a
// gap" holds and `verify` and `restore` know they were removed on purpose. Snapshots are
// deleted whole. Deleting files is the caller's, and only after the index stopped naming them
// durably (docs/ARCHITECTURE.md "Retention").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backup/manifest.h"

namespace tidemark::backup {

inline constexpr const char* kGapRetention = "retention";

struct RetentionPolicy {
  int64_t max_age_ms = 0;  // 0: no age limit
  uint64_t max_bytes = 0;  // 0: no size limit
  int keep_last = 3;       // snapshots: the newest N are never deleted
  bool enabled() const { return max_age_ms > 0 || max_bytes > 0; }
};

// The first offset a partition still keeps: the end of its leading "retention" gap, or its
// start offset when nothing was trimmed.
int64_t RetentionStart(const PartitionManifest& p);

// One partition's trim: everything below `start` goes.
struct Trim {
  std::string topic;
  int32_t partition = 0;
  int64_t start = 0;
  std::vector<segment::SealedSegment> dropped;  // the segments that go
  // A windowed copy's new first settled segment (PlanWindowedTrims): where its line is, or
  // before, and its newest record when known.
  uint64_t front_pos = 0;
  std::optional<int64_t> front_max_timestamp;
};

// What a policy drops from a continuous backup at `now_ms`: per partition, the leading segments
// whose newest record is older than max_age, then, while the backup holds more than max_bytes
// (the partitions' bytes_stored), the oldest remaining leading segments (by newest record)
// across partitions. A partition whose every segment is dropped is trimmed up to its end offset.
// Only the segments `m` holds are candidates (PlanWindowedTrims hands it views whose segments
// are a partition's front; one with `settled` set was read in part, and max_bytes stops there
// for this call once it took all of it).
std::vector<Trim> PlanTrims(const Manifest& m, const RetentionPolicy& policy, int64_t now_ms);

// Drops everything below `start` from `p`: segments (they must end below it), gaps, and records
// [start_offset, start) as one "retention" gap (merged with an earlier one). The totals follow.
// Fails (Corrupt) when `start` is outside the partition's range or inside a segment.
Status ApplyTrim(PartitionManifest* p, int64_t start);

// Applies `t` to `p`. A windowed copy (p->settled) drops settled segments by the count and sums
// of those t.dropped names among them; a whole one as ApplyTrim(p, t.start).
Status ApplyTrim(PartitionManifest* p, const Trim& t);

// Consumer groups whose captured offset on a trimmed partition falls below its retention start:
// "group G: orders/0 at 1200, below the retention start 5000" (the data it pointed at is gone).
std::vector<std::string> GroupsBelowRetention(const Manifest& m);

}  // namespace tidemark::backup
