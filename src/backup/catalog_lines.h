// The catalog's line codec, shared by the local catalog (backup/catalog.h) and the store's
// catalog (backup/store_catalog.h): a line is "<16 hex XXH3 of the JSON text> <JSON text>\n",
// the JSON an object with an integer "seq" and a string "type" (docs/FORMAT.md "The catalog").
//
// The Apply* functions throw (std::exception) on a line that is not what it must be; the readers
// catch that and name the file.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "backup/manifest.h"

namespace tidemark::backup {

// A windowed read (ReadScope::settle) met a line that needs segments it let go of (a line
// written before retention lines carried their count); the reader then reads whole.
struct WindowTooNarrow : std::runtime_error {
  WindowTooNarrow(int32_t partition, const std::string& why)
      : std::runtime_error("partition " + std::to_string(partition) + ": a line " + why +
                           " (a windowed read cannot follow it)") {}
};

struct CatalogLine {
  nlohmann::json j;
  int64_t seq = 0;
  std::string type;
  size_t begin = 0, end = 0;  // byte range in the file, newline included
};

// One line for `j` (which carries its "seq" and "type").
std::string EncodeLine(const nlohmann::json& j);
// The lines of `data` that read back whole, up to the first that does not (a torn tail ends a
// log); `valid_bytes` is where that is.
std::vector<CatalogLine> ScanLines(std::string_view data, size_t* valid_bytes);

// The backup's own fields a "backup" line carries.
nlohmann::json BackupFields(const Manifest& m);
void ApplyBackup(const nlohmann::json& j, Manifest* m);
// A line's topic, which must be a legal topic name.
std::string LineTopic(const nlohmann::json& j);
// A "partition" line: the range and totals of `p`, and its segments and gaps from the given
// indexes on (the reader keeps what it has below them and appends these).
nlohmann::json PartitionLine(const std::string& topic, const PartitionManifest& p, size_t sf,
                             size_t gf);
// Applies a "partition" line; with !full only the range and totals.
void ApplyPartition(const nlohmann::json& j, const std::string& topic, Manifest* m, bool full);
// A "retention" line: everything of the partition below `start` was pruned; `p` is the partition
// after the trim (its totals are carried for readers of summaries, and with `count` its segment
// count, for windowed readers; the store's chunks leave it out).
nlohmann::json RetentionLine(const std::string& topic, const PartitionManifest& p, int64_t start,
                             bool count = true);
void ApplyRetention(const nlohmann::json& j, const std::string& topic, Manifest* m, bool full);
// Whether `path` is the canonical path of a sealed segment of topic/partition (what a mark line
// names), and then its first offset.
bool SegmentPathOffset(const std::string& path, const std::string& topic, int32_t partition,
                       int64_t* first);
// A "mark" line: a segment's upload marks.
void ApplyMark(const nlohmann::json& j, const std::string& topic, Manifest* m);

// What a root (local or the store's) holds of the backup: format_version, identity, times and
// BackupFields. The caller checks the version and adds its own fields.
nlohmann::json RootHeader(const Manifest& m);
void ApplyRootHeader(const nlohmann::json& root, Manifest* m);
// A root's entry for a topic: partition_count, configs, configs_note and the partitions'
// summaries (range and totals). The caller adds its own fields.
nlohmann::json TopicHeader(const TopicManifest& t);
// Reads a topic's entry of a root into m->topics[name] (a legal name: the caller checked), with
// its partitions' summaries when `summaries`.
void ApplyTopicHeader(const std::string& name, const nlohmann::json& jt, Manifest* m,
                      bool summaries);
// What a reader of summaries alone can check: each partition within its topic's partition count
// and a range of offsets. `origin` names the catalog.
Status CheckSummaries(const Manifest& m, const std::string& origin);

}  // namespace tidemark::backup
