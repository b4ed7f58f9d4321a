// What `tidemark run` exports: the state the main thread refreshes (LiveStats) and its
// Prometheus text exposition. docs/OPERATIONS.md lists every metric.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/histogram.h"

namespace tidemark::service {

using TopicPartition = std::pair<std::string, int32_t>;

// The object-storage tier (service/tier.h), when [upload] is configured.
struct UploadStats {
  uint64_t backlog = 0;        // sealed segments not confirmed in the store yet
  uint64_t backlog_limit = 0;  // queue_max_segments: consumption pauses at this backlog
  uint64_t uploaded_segments = 0, uploaded_bytes = 0, failures = 0, removed = 0;
  uint64_t catalog_puts = 0;  // the store's catalog: chunks and roots uploaded
  std::string last_error;
};

// Everything the metrics endpoint shows, refreshed by the main thread every 250 ms.
struct LiveStats {
  struct Partition {
    int64_t lag = -1;  // high watermark - next offset to consume; -1: unknown yet
    int64_t sealed_end = 0;
  };
  struct Topic {
    uint64_t records_in = 0, bytes_in = 0;                         // consumed, since start
    uint64_t records_stored = 0, bytes_raw = 0, bytes_stored = 0;  // in the manifest
  };
  std::map<TopicPartition, Partition> partitions;
  std::map<std::string, Topic> topics;
  Histogram sync_us, seal_us, checkpoint_us;
  uint64_t syncs = 0, seals = 0, in_flight = 0, pool_in_use = 0, pool_size = 0, sq_full = 0;
  uint64_t kafka_errors = 0, failures = 0, reloads_ok = 0, reloads_rejected = 0;
  uint64_t checkpoints = 0, catalog_folds = 0, catalog_compactions = 0, pruned_segments = 0,
           pruned_bytes = 0;
  int64_t partitions_owned = 0;
  bool upload = false;  // an [upload] store is configured
  UploadStats up;
  bool running = false;      // a session is up (consumer and shards)
  std::string last_failure;  // of the last failed session, "" when none
  std::vector<std::string> degraded;
};

// Prometheus text format 0.0.4.
std::string RenderPrometheus(const LiveStats& s);

}  // namespace tidemark::service
