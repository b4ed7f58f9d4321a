// `tidemark bench grow`: what grows with a backup's age. A generator builds a synthetic continuous
// backup (no broker) of any number of sealed segments, and the benchmark measures, as it grows,
// `tidemark ls`, `tidemark describe` (each in a child process: time, CPU, peak RSS) and the cost
// of one checkpoint after a few hundred new segments (issue 12: checkpoints must cost what
// changed, not the history).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backup/catalog.h"
#include "backup/manifest.h"
#include "bench/bench.h"
#include "tidemark/status.h"

namespace tidemark::bench {

// The shape of a generated backup.
struct GrowShape {
  int topics = 10;
  int partitions = 200;  // in all, spread evenly over the topics
  uint64_t seed = 1;     // same seed, same backup (offsets, times, sizes, gaps)
  // Write each segment as a real, small, valid sealed segment file (records of about 40 bytes)
  // through segment::SegmentWriter; without it only the manifest entries exist.
  bool files = false;
};

// What one call to BackupGenerator::Add changed in one partition's entry: its last
// `segments_added` segments and last `gaps_added` gaps are new (a gap merged into the one before
// it counts as changed too), and its end offset and counts moved.
struct PartitionChange {
  std::string topic;
  int32_t partition = 0;
  size_t segments_added = 0;
  size_t gaps_added = 0;
};

// Builds a continuous backup `<path>/<id>` in memory, segment by segment, round-robin over its
// partitions (as time-based rolls seal every partition about once a minute). Each partition has a
// rate class: 10% hot (2,000-6,000 records per segment), 30% medium (100-1,000), 60% quiet
// (1-60). Half the partitions start with a `log-start` gap (retention before the backup began);
// about 2% of segments follow a `not-delivered` gap of 1-100 offsets (transaction markers,
// compaction). Segments are about a minute apart in time. Generation is deterministic: Add(a)
// then Add(b) makes the same backup as Add(a + b).
//
// Lifecycle: one thread; the manifest is written only by the caller (WriteManifest or
// a Checkpointer), so growing in memory costs no I/O unless `files` is set.
class BackupGenerator {
 public:
  BackupGenerator(std::string path, std::string id, GrowShape shape);
  ~BackupGenerator();
  BackupGenerator(const BackupGenerator&) = delete;
  BackupGenerator& operator=(const BackupGenerator&) = delete;

  // Checks the shape and prepares an empty backup directory (removing an earlier one at the same
  // place). Call once, before Add.
  Status Init();
  // Adds `segments` sealed segments (and their files with `files`); `changed` (optional) gets
  // what changed, one entry per partition touched.
  Status Add(uint64_t segments, std::vector<PartitionChange>* changed);

  const std::string& dir() const { return dir_; }  // <path>/<id>
  const std::string& id() const { return id_; }
  const backup::Manifest& manifest() const { return m_; }
  backup::Manifest* mutable_manifest() { return &m_; }
  uint64_t segments() const { return segments_; }
  uint64_t files_written() const { return files_written_; }

 private:
  struct Part;
  class FileWriter;
  Status AddOne(Part* p);

  std::string path_, id_, dir_;
  GrowShape shape_;
  backup::Manifest m_;
  std::vector<Part> parts_;
  std::unique_ptr<FileWriter> files_;
  uint64_t segments_ = 0;
  uint64_t files_written_ = 0;
};

// THE CHECKPOINT of the benchmark: makes `m` durable in `dir` after `changed` was added to it
// (the first call: everything). It does what the service's Service::Checkpoint
// (src/service/run.cc) does: stamp finished_ms and append what changed to the catalog
// (backup::CatalogWriter: written whole on the first call, then checkpoints, folding when
// changes.log passes 4 MiB), so `tidemark bench grow` measures what the service does.
//
// Lifecycle: one per backup directory, used by one thread.
class Checkpointer {
 public:
  explicit Checkpointer(std::string dir) : dir_(std::move(dir)) {}
  Status Checkpoint(backup::Manifest* m, const std::vector<PartitionChange>& changed);
  uint64_t checkpoints() const { return checkpoints_; }

 private:
  std::string dir_;
  std::unique_ptr<backup::CatalogWriter> writer_;
  uint64_t checkpoints_ = 0;
};

// Bytes of the backup's index on disk: the regular files directly in `dir` (manifest.json) and
// every file under `dir`/catalog (the catalog of issue 12).
uint64_t CatalogBytes(const std::string& dir);

// `tidemark bench grow`: with o.sizes, the growth benchmark (printed as a table, or --json);
// without, generates o.segments and reports what it wrote.
Status RunGrow(const BenchOptions& o);

}  // namespace tidemark::bench
