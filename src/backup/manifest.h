// The manifest: what a backup holds, as JSON ("manifest.json" in the backup directory),
// written atomically (temporary file, fsync, rename, fsync of the directory). docs/FORMAT.md
// describes every field.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "segment/segment_writer.h"
#include "tidemark/status.h"

namespace tidemark::backup {

inline constexpr int kManifestVersion = 1;
inline constexpr const char* kManifestName = "manifest.json";

// Offsets in [from, to) that the broker did not hand over.
struct Gap {
  int64_t from = 0;
  int64_t to = 0;
  std::string reason;  // "log-start" (deleted before the backup: retention or DeleteRecords),
                       // "not-delivered" (compaction, transaction markers or aborted data)
};

inline constexpr const char* kGapLogStart = "log-start";
inline constexpr const char* kGapNotDelivered = "not-delivered";
// Continuous backup in a consumer group: offsets another member backed up (the group's committed
// offset was past this node's end when the partition came to it).
inline constexpr const char* kGapGroupPeer = "group-peer";

// What a windowed copy of a partition leaves out (the continuous service keeps only the segments
// whose state can still change: docs/ARCHITECTURE.md "Memory that does not grow with age"): the
// partition's first `segments` segments, which the catalog names and this copy does not hold,
// their sums, and where the last of them ends. Never written anywhere: every other reader holds
// partitions whole, with this empty.
struct Settled {
  size_t segments = 0;
  uint64_t records = 0, bytes_raw = 0, bytes_stored = 0;
  int64_t end = 0;  // past the last one's offsets (a segment starting below it is one of them)
  // Where retention reads the first of them back (CatalogWriter::ScanTopic): a position in the
  // topic's catalog lines at or before the line naming it; and its newest record, when known.
  uint64_t pos = 0;
  std::optional<int64_t> first_max_timestamp;
};

struct PartitionManifest {
  int32_t partition = 0;
  int64_t start_offset = 0;  // first offset covered (always 0: earlier offsets are a gap)
  int64_t end_offset = 0;    // exclusive: the high-water mark (last stable offset) at start
  uint64_t records = 0;
  uint64_t bytes_raw = 0;
  uint64_t bytes_stored = 0;
  std::vector<segment::SealedSegment> segments;  // after `settled` (all of them when it is empty)
  std::vector<Gap> gaps;
  Settled settled;

  // The segments the catalog names: those held and those settled.
  size_t SegmentCount() const { return settled.segments + segments.size(); }
};

// Moves the leading segments of `p` for which `done` holds into p->settled (they leave memory).
// `pos`: where in the topic's catalog lines the first of them is named, or before (kept only
// when p had none settled).
void SettleSegments(PartitionManifest* p,
                    const std::function<bool(const segment::SealedSegment&)>& done,
                    uint64_t pos = 0);

struct TopicManifest {
  int32_t partition_count = 0;
  std::optional<std::map<std::string, std::string>> configs;
  std::string configs_note;  // why configs are missing, when they are
  std::vector<PartitionManifest> partitions;
};

// A consumer group's committed offsets at backup time: topic -> partition -> next offset to read.
using GroupOffsets = std::map<std::string, std::map<int32_t, int64_t>>;

struct Manifest {
  int version = kManifestVersion;
  std::string id;
  std::string kind = "snapshot";
  std::string cluster_id;
  std::string brokers;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  std::string compression;
  int level = 0;
  std::map<std::string, TopicManifest> topics;
  // Committed offsets of the consumer groups on the backed-up topics, read at the start of the
  // backup (so every offset is at most the partition's end_offset).
  std::map<std::string, GroupOffsets> groups;
  std::string groups_note;  // how groups were found, or why some could not be

  uint64_t TotalRecords() const;
  uint64_t TotalBytesRaw() const;
  uint64_t TotalBytesStored() const;
  size_t TotalPartitions() const;
  size_t TotalSegments() const;
};

// Appends gap [from, to) to the entry, merged into the last gap when it continues it with the
// same reason. Gaps are recorded in increasing offsets.
void AddGap(PartitionManifest* p, int64_t from, int64_t to, const std::string& reason);

// The entry of topic/partition, added (partitions kept in order) when there is none; the topic's
// partition count is raised to cover it.
PartitionManifest& FindOrAddPartition(Manifest* m, const std::string& topic, int32_t partition);

std::string ManifestToJson(const Manifest& m);
// Parses and validates (ValidateManifest) a manifest; `origin` names it in errors.
Result<Manifest> ManifestFromJson(const std::string& text, const std::string& origin);
// What every reader relies on, checked when a manifest is loaded, so no crafted manifest can
// lead a reader astray: legal topic names; partitions non-negative, below the partition count,
// unique and in order; each segment at its canonical path, in offset order, inside its
// partition's range, with as many offsets as records; gaps non-empty, inside the range and not
// overlapping; a partition's counts the sums of its segments'; group offsets non-negative.
Status ValidateManifest(const Manifest& m, const std::string& origin);
// The part of ValidateManifest about one partition's segments: canonical paths, order (after
// what settled), offsets inside the partition's range, and counts the sums of its segments'
// (and the settled ones').
Status ValidateSegments(const std::string& topic, const PartitionManifest& p,
                        const std::string& origin);
// Atomically writes dir/manifest.json; where dir has a catalog (a continuous backup), writes a
// new catalog holding `m` instead (CatalogWriter::Create).
Status WriteManifest(const std::string& dir, const Manifest& m);
// What a reader needs of a backup's index, so that a catalog (backup/catalog.h) reads only that.
struct ReadScope {
  // The topics wanted; null: every topic.
  std::function<bool(const std::string&)> wants;
  // Partitions' ranges and totals only (what `ls` shows): segments and gaps may be left out.
  bool summaries_only = false;
  // A windowed read (the continuous service): the leading segments of a partition for which
  // `settle` holds leave memory as they are read (PartitionManifest::settled). Null: none.
  std::function<bool(const segment::SealedSegment&)> settle;
  bool Wants(const std::string& topic) const { return !wants || wants(topic); }
};

// Reads dir's catalog (backup/catalog.h) when it has one, else dir/manifest.json, holding the
// topics `scope` wants.
Result<Manifest> ReadManifest(const std::string& dir, const ReadScope& scope = {});
// Drops the topics `scope` does not want (a manifest read whole).
void ApplyScope(Manifest* m, const ReadScope& scope);

// Writes `data` to dir/name atomically: a temporary file, fsync, rename, fsync of the directory.
Status WriteFileAtomic(const std::string& dir, const std::string& name, const std::string& data);

}  // namespace tidemark::backup
