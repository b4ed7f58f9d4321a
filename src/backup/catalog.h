// The catalog: a continuous backup's index, kept so that a checkpoint costs what changed, not the
// backup's history (docs/ARCHITECTURE.md "Storage for months", docs/FORMAT.md "The catalog").
//
//   <backup>/catalog/root.json                 identity, topics, partition summaries, and how far
//                                              each topic log is valid; rewritten atomically
//   <backup>/catalog/changes.log               what each checkpoint changed since the last fold
//   <backup>/catalog/topics/<topic>/<gen>.log  the topic's history, folded from changes.log
//
// Both logs are checksummed JSON lines with increasing sequence numbers. A checkpoint appends to
// changes.log and fdatasyncs it (one write, one sync); a fold moves those lines into the topic
// logs and rewrites the root; readers replay what they need on top of the root.
//
// Thread contract: a CatalogWriter is used by one thread (the service's main thread); readers
// may run anywhere, but not in the same process as a writer of the same backup.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "backup/catalog_lines.h"
#include "backup/manifest.h"
#include "backup/retention.h"
#include "tidemark/status.h"

namespace tidemark::backup {

inline constexpr int kCatalogVersion = 2;
inline constexpr const char* kCatalogDir = "catalog";
inline constexpr const char* kCatalogRoot = "root.json";
inline constexpr const char* kChangesLog = "changes.log";
// changes.log is folded into the topic logs once it holds this much.
inline constexpr uint64_t kFoldBytes = 4ull << 20;

using TopicPartition = std::pair<std::string, int32_t>;

// Whether `dir` (a backup directory) has a catalog.
bool HasCatalog(const std::string& dir);
// Whether `dir` holds a backup's index: a manifest.json (a finished snapshot, or a version 1
// continuous backup) or a catalog (a continuous backup).
bool HasIndex(const std::string& dir);

// Loads a catalog as a Manifest holding the topics `scope` wants: the root, those topics' logs
// and changes.log; with scope.summaries_only, only the root and changes.log (partitions without
// segments or gaps). Validates what it loaded (ValidateManifest, plus the logs' own rules);
// NotFound when there is no catalog.
Result<Manifest> ReadCatalog(const std::string& dir, const ReadScope& scope = {});

class CatalogWriter {
 public:
  // Opens the catalog of `dir` to append to. `m` is what the catalog holds, as ReadCatalog
  // loaded it. A torn last line of changes.log and topic-log bytes past what the root vouches for
  // (a crash mid-append) are cut off.
  static Result<std::unique_ptr<CatalogWriter>> Open(const std::string& dir, const Manifest& m);
  // Writes a catalog holding `m` whole, replacing the one in `dir` if any (a new backup, or a
  // version 1 manifest converted): new topic logs, then the root, then the old logs removed.
  static Result<std::unique_ptr<CatalogWriter>> Create(const std::string& dir, const Manifest& m);
  ~CatalogWriter();
  CatalogWriter(const CatalogWriter&) = delete;
  CatalogWriter& operator=(const CatalogWriter&) = delete;

  // Appends to changes.log what changed in `m` since the last checkpoint, and fdatasyncs it:
  // the backup's fields, partition counts, the partitions in `partitions` whose range, segments
  // or gaps changed (segments and gaps are appended: only the new ones are written), and the
  // upload marks (uploaded_ms, local) of the segments in `marked` (paths relative to the backup
  // directory). Folds when changes.log passes kFoldBytes (a fold that fails is logged and tried
  // again at the next checkpoint: the checkpoint itself is durable). Nothing is written when
  // nothing changed. On an error nothing of this call counts (changes.log is cut back).
  // `trims` (retention) were applied to `m` (ApplyTrim) since the last checkpoint, with nothing
  // else changed in their partitions: each is one "retention" line.
  Status Checkpoint(const Manifest& m, const std::set<TopicPartition>& partitions,
                    const std::vector<std::string>& marked, const std::vector<Trim>& trims = {});
  // Moves changes.log into the topic logs and rewrites the root from `m`, which must be what the
  // last checkpoint wrote.
  Status Fold(const Manifest& m);

  // How many segments of the partition the catalog names (as the last checkpoint wrote them).
  size_t SegmentsNamed(const TopicPartition& tp) const {
    auto k = known_.find(tp);
    return k != known_.end() ? k->second.segments : 0;
  }
  // Where the next line of `topic` goes, as ScanTopic counts: its log's bytes, then its lines
  // waiting in changes.log (a fold moves them into the log at the same positions).
  uint64_t TopicEnd(const std::string& topic) const;
  // Calls `each` with the lines of `topic` from position `from` (a line's start: one `each` was
  // given, or TopicEnd at some earlier time, or 0) on, with their positions, until it returns
  // false. What retention reads of a windowed copy's settled segments (PlanWindowedTrims).
  Status ScanTopic(const std::string& topic, uint64_t from,
                   const std::function<bool(uint64_t pos, const CatalogLine&)>& each) const;

  // Rewrites the topic logs whose lines are mostly of segments retention pruned (a log more than
  // twice what its kept segments take, and over kCompactMinBytes): a new log with each kept
  // segment once, the marks of kept segments, and a last line per partition with its gaps,
  // range and totals; then the root names it; the old log goes at the next fold or compaction
  // (a reader that read the root before has that long). Folds first (`m` must be what the last
  // checkpoint wrote). The caller holds the backup's retention lock (no restore or verify reads it
  // meanwhile). Returns the topics rewritten: positions in their lines (Settled::pos) start
  // again at 0. A log that does not read back as `m` names it is left as it is (logged).
  Result<std::vector<std::string>> CompactLogs(const Manifest& m);
  static constexpr uint64_t kCompactMinBytes = 1 << 20;

  struct Stats {
    uint64_t checkpoints = 0;  // that wrote something
    uint64_t folds = 0;
    uint64_t compactions = 0;
    uint64_t lines = 0;
    uint64_t changes_bytes = 0;  // changes.log now
  };
  const Stats& stats() const { return stats_; }

 private:
  // What the catalog holds of a partition, enough to tell what a checkpoint must add.
  struct Known {
    int64_t start = 0, end = 0;
    size_t segments = 0, gaps = 0;
    Gap last_gap;
    uint64_t records = 0, bytes_raw = 0, bytes_stored = 0;
  };
  struct TopicLog {
    std::string rel;  // relative to catalog/
    uint64_t bytes = 0;
  };
  explicit CatalogWriter(std::string dir);
  static Known KnownOf(const PartitionManifest& p);
  void Remember(const Manifest& m);
  Status WriteRoot(const Manifest& m);
  Status OpenChanges(bool truncate);
  Status AppendChanges(const std::string& text);
  std::string BackupLine(const Manifest& m, int64_t seq) const;
  // Writes the compacted log of `topic` to a new file; its name and size, or nothing when the
  // log does not read back as `m` names the topic.
  Result<std::optional<TopicLog>> CompactLog(const Manifest& m, const std::string& topic);

  std::string dir_;      // the backup directory
  std::string cat_dir_;  // dir_/catalog
  int changes_fd_ = -1;
  uint64_t changes_bytes_ = 0;
  int64_t next_seq_ = 1;
  int64_t folded_seq_ = 0;
  uint64_t generation_ = 1;
  std::map<TopicPartition, Known> known_;
  std::map<std::string, int32_t> known_counts_;
  std::string known_backup_;  // the backup fields as last written (without seq)
  std::map<std::string, TopicLog> logs_;
  std::map<std::string, std::string> pending_;  // topic -> its lines in changes.log
  // Bytes of lines written and segments they named (this run): what a kept segment takes in a
  // log, to tell when one is mostly pruned lines.
  uint64_t line_bytes_written_ = 0, segments_written_ = 0;
  // Topic logs a compaction replaced, removed at the next fold (not at once: a reader without the
  // retention lock, such as describe, may have read the root that named one).
  std::vector<std::string> retired_;
  void DropRetired();
  Stats stats_;
};

}  // namespace tidemark::backup
