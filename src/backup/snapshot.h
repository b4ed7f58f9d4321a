// Snapshot backup: every record below each partition's high-water mark (last stable offset,
// under read_committed) at start, then seal everything, write the manifest, and report.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "backup/manifest.h"
#include "common/histogram.h"
#include "config/config.h"

namespace tidemark::backup {

struct SnapshotSummary {
  Manifest manifest;
  std::string backup_dir;
  std::string io_path;  // which I/O path ran, e.g. "io_uring+O_DIRECT, registered 8 buffers"
  int shards = 0;
  uint64_t records = 0;
  uint64_t bytes_in = 0;      // key + value + header bytes consumed
  uint64_t bytes_raw = 0;     // encoded bytes before compression
  uint64_t bytes_stored = 0;  // segment bytes on disk
  double seconds = 0;         // the whole run
  double data_seconds = 0;    // shards started to every segment sealed
  double cpu_seconds = 0;
  Histogram write_latency_us;
};

// Runs a snapshot backup. `stop` (may be null) is polled: set it from a signal handler to stop
// early (the run then fails, naming what was not backed up).
Result<SnapshotSummary> RunSnapshot(const config::Config& c, std::atomic<bool>* stop);

// Human-readable summary lines (records, bytes in/out, ratio, duration, MB/s, records/s).
std::string FormatSummary(const SnapshotSummary& s);
// The same as one JSON document (`tidemark backup --json`; docs/OPERATIONS.md names the fields).
std::string SummaryToJson(const SnapshotSummary& s);

}  // namespace tidemark::backup
