// tidemark restore: a backup (or a time window or offset range of it) back into a Kafka
// cluster, in order per partition, with topics renamed or repartitioned if asked, resumable
// exactly after a crash, and consumer groups moved to the matching offsets.
//
// How exact resume works: before producing anything, the restore writes a state file beside
// the backup (<backup>/restores/<key>/state.json, key = a hash of what is restored and where)
// with every target partition's high-water mark at that moment (its base). Records go out
// through an idempotent producer in a deterministic order per target partition, so the records
// that landed are always a prefix of that order and their number is the target's high-water
// mark minus the base. A re-run with the same arguments reads both and skips exactly that
// prefix. Nothing else may write to the target partitions meanwhile; each delivery report's
// offset is checked against the expected one, so a second writer is detected, not ignored.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "restore/block_stream.h"
#include "tidemark/status.h"

namespace tidemark::restore {

enum class Repartition { kNone, kMurmur2 };

// An offset bound: one for every partition, overridden per "topic:partition".
struct OffsetBound {
  std::optional<int64_t> all;
  std::map<std::pair<std::string, int32_t>, int64_t> per_partition;
  std::optional<int64_t> For(const std::string& topic, int32_t partition) const;
};
// Parses "N" or "topic:partition=N,..." (a flag's value).
Result<OffsetBound> ParseOffsetBound(const std::string& flag, const std::string& text);
// Parses "SRC=DST,...".
Result<std::map<std::string, std::string>> ParseTopicMap(const std::string& text);

enum class Progress { kAuto, kTerminal, kLines, kOff };

struct RestoreOptions {
  std::string path;             // the storage directory holding the backup, or s3://bucket/prefix
  config::UploadConfig upload;  // how to reach object storage ([upload] and the environment)
  // Where a restore from object storage keeps its progress ("": $XDG_STATE_HOME/tidemark or
  // ~/.local/state/tidemark); a local backup keeps it in <path>/<id>/restores.
  std::string state_dir;
  std::string id;
  std::string brokers;                                          // the target cluster
  std::vector<std::pair<std::string, std::string>> properties;  // for the target producer
  std::vector<std::string> topics;               // globs over the backed-up topics; empty: all
  std::map<std::string, std::string> topic_map;  // source topic -> target topic
  std::vector<std::string> groups;               // globs over the backed-up groups; empty: none
  int64_t from_ms = INT64_MIN;                   // inclusive
  int64_t to_ms = INT64_MAX;                     // exclusive
  OffsetBound from_offset, to_offset;            // [from, to) per partition
  Repartition repartition = Repartition::kNone;
  uint64_t rate_limit_bytes = 0;    // bytes/s of keys, values and headers; 0: unlimited
  uint64_t rate_limit_records = 0;  // records/s; 0: unlimited
  bool dry_run = false;
  bool allow_nonempty = false;
  bool skip_damaged = false;
  int threads = 0;  // reader threads; 0: one per core
  int timeout_ms = 30000;
  unsigned read_ahead = 4;  // block reads in flight per partition
  Progress progress = Progress::kAuto;
  // Decompressed blocks held at once (restore/sender.h BlockPool); no flag sets it (tests do).
  uint64_t block_pool_bytes = 32ull << 20;
};

// Which records of topic/partition the options want: their offset range and time window.
RecordFilter FilterFor(const RestoreOptions& o, const std::string& topic, int32_t partition);

// source offset first .. first + count - 1 landed at target offsets target .. target + count - 1.
struct OffsetRun {
  int64_t source = 0;
  int64_t target = 0;
  int64_t count = 0;
};

// Maps a committed source offset (the next record a group would read) to the target: the
// target offset of the first restored record at or after it, or `target_end` when none is.
int64_t TranslateOffset(const std::vector<OffsetRun>& runs, int64_t committed, int64_t target_end);

// Kafka's default partitioner for a key (murmur2 as the Java client computes it).
int32_t KafkaPartitionForKey(const void* key, size_t len, int32_t partitions);

struct PartitionResult {
  std::string topic;
  int32_t partition = 0;
  std::string target_topic;
  int32_t target_partition = -1;  // -1: repartitioned by key
  uint64_t records = 0;           // records in range (produced now or by an earlier run)
  uint64_t bytes = 0;             // their keys, values and headers
  uint64_t already = 0;           // of those, landed by an earlier run and skipped
  int64_t first_offset = -1, last_offset = -1;
  int64_t first_ms = 0, last_ms = 0;
  std::vector<StreamDamage> damage;
  bool stopped = false;  // damage stopped this partition
  std::vector<OffsetRun> runs;
  int64_t target_base = 0;  // the target partition's high-water mark before the first run
};

struct GroupResult {
  std::string group;
  std::map<std::pair<std::string, int32_t>, int64_t> source;  // backed-up commits used
  std::map<std::pair<std::string, int32_t>, int64_t> target;  // what is (or would be) committed
  bool committed = false;
  std::string note;
};

struct RestoreReport {
  std::string backup_dir, state_dir, target;
  bool dry_run = false;
  bool resumed = false;
  std::vector<std::string> created_topics;  // or, in a dry run, topics that would be created
  std::vector<PartitionResult> partitions;
  std::vector<GroupResult> groups;
  std::vector<std::string> notes;
  uint64_t records = 0, bytes = 0, produced = 0, produced_bytes = 0;
  double seconds = 0;
  bool damaged() const;
};

// Runs (or, with dry_run, plans) the restore. Fails with a usage error (exit 2) for bad
// arguments and a target that would lose exactness, with an operational error (exit 1) when a
// broker or the backup fails. A report with damage is returned as a report (exit 1 too).
Result<RestoreReport> RunRestore(const RestoreOptions& o, const std::atomic<bool>* stop);

std::string ReportToText(const RestoreReport& r);
std::string ReportToJson(const RestoreReport& r);

}  // namespace tidemark::restore
