// The Service class behind `tidemark run` (service/run.h), shared by its implementation files:
// run.cc (start, sessions, partitions, checkpoints), observe.cc (reload, metrics, health).
// Internal to src/service.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "backup/catalog.h"
#include "backup/manifest.h"
#include "common/dir_lock.h"
#include "common/time.h"
#include "config/config.h"
#include "kafka/kafka.h"
#include "service/http.h"
#include "service/metrics.h"
#include "service/run.h"
#include "service/tier.h"
#include "shard/shard.h"

namespace tidemark::service {

inline constexpr int kPollMs = 100;
inline constexpr int64_t kStatsIntervalMs = 250;  // metrics, STATUS, watchdog
inline constexpr int64_t kBackoffMinMs = 1000;
inline constexpr int64_t kBackoffMaxMs = 30000;

inline int64_t NowMs() { return MonotonicNs() / 1000000; }

class Service {
 public:
  Service(std::string config_path, config::Config c, RunSignals sig)
      : path_(std::move(config_path)), c_(std::move(c)), sig_(sig) {
    errors_.user = this;
  }

  int Run();

 private:
  Status Prepare();
  Status Session();
  void EndSession();
  Status Discover();
  Status Assign(rd_kafka_topic_partition_list_t* parts, bool from_group);
  Status Release(rd_kafka_topic_partition_list_t* parts, bool commit);
  bool ApplyUpdates();
  Status Checkpoint(bool force);
  void Commit(bool sync);
  void Reload();
  void RefreshStats();
  void TierTurn();
  void ChangedAll();
  static bool Settled(const segment::SealedSegment& s);
  void SettleAll();
  Status RetentionTurn();
  bool Stopping() const { return sig_.stop->load(); }
  std::string RenderMetrics();
  Health CurrentHealth();
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* parts, void* opaque);

  std::string path_;
  config::Config c_;
  RunSignals sig_;
  std::string dir_;
  DirLock lock_;
  // What the catalog holds, windowed when `windowed_`: a segment leaves memory once a checkpoint
  // wrote it (PartitionManifest::settled), and retention reads it back from the catalog. Not yet
  // with [upload], whose tier walks and rebases the partitions' whole history here
  // (docs/ARCHITECTURE.md "Memory that does not grow with age").
  backup::Manifest m_;
  bool windowed_ = false;
  // The backup's catalog, and what changed in m_ since its last checkpoint: partitions (seals,
  // gaps, recovery) and segments whose upload marks changed.
  std::unique_ptr<backup::CatalogWriter> catalog_;
  std::set<TopicPartition> changed_;
  std::vector<std::string> marked_;
  bool dirty_ = false;
  int64_t last_checkpoint_ms_ = 0;

  // One session: a consumer and its shards.
  kafka::ErrorState errors_;
  kafka::KafkaHandle rk_;
  std::atomic<bool> shard_stop_{false};
  std::vector<std::unique_ptr<shard::Shard>> shards_;
  std::map<TopicPartition, int> owned_;  // partition -> shard index
  std::map<TopicPartition, int64_t> to_commit_;
  std::set<std::string> subscribed_;
  std::map<std::string, int32_t> partition_counts_;
  Status callback_error_;  // from the rebalance callback, which cannot return one
  int64_t next_discovery_ms_ = 0;
  int64_t next_retention_ms_ = 0;
  int64_t next_stats_ms_ = 0;
  int64_t next_watchdog_ms_ = 0;
  uint64_t watchdog_usec_ = 0;
  std::map<std::string, shard::TopicCounters> retired_in_;  // consumed by earlier sessions

  std::mutex stats_mu_;
  LiveStats stats_;

  // Object storage ([upload]): lives across sessions; nullptr when not configured.
  std::unique_ptr<Tier> tier_;
  bool paused_ = false;  // consumption paused: the upload backlog is full
};

}  // namespace tidemark::service
