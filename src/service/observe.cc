// `tidemark run`: reloading the configuration (SIGHUP), and what it exports (metrics, health).
#include <systemd/sd-daemon.h>

#include <cinttypes>

#include "common/log.h"
#include "common/strings.h"
#include "service/service.h"

namespace tidemark::service {

// --- reload ---------------------------------------------------------------------------------

void Service::Reload() {
  sd_notify(0, "RELOADING=1");
  auto next = config::LoadConfigFile(path_);
  Status st = next.ok() ? config::ValidateForBackup(*next) : next.status();
  if (!st.ok()) {
    TM_LOG_ERROR("reload rejected, the running configuration is kept: %s", st.message().c_str());
    std::lock_guard<std::mutex> g(stats_mu_);
    ++stats_.reloads_rejected;
    sd_notify(0, "READY=1");
    return;
  }
  const config::Config& n = *next;
  std::vector<std::string> fixed;
  auto same = [&](bool eq, const char* key) {
    if (!eq) fixed.push_back(key);
  };
  same(n.kafka.bootstrap_servers == c_.kafka.bootstrap_servers, "kafka.bootstrap_servers");
  same(n.kafka.properties == c_.kafka.properties, "kafka.properties");
  same(n.backup.id == c_.backup.id, "backup.id");
  same(n.backup.group == c_.backup.group, "backup.group");
  same(n.backup.compression == c_.backup.compression, "backup.compression");
  same(n.backup.level == c_.backup.level, "backup.level");
  same(n.backup.shards == c_.backup.shards, "backup.shards");
  same(n.backup.segment_max_bytes == c_.backup.segment_max_bytes, "backup.segment_max_bytes");
  same(n.backup.block_bytes == c_.backup.block_bytes, "backup.block_bytes");
  same(n.backup.io_depth == c_.backup.io_depth, "backup.io_depth");
  same(n.backup.shard_memory_bytes == c_.backup.shard_memory_bytes, "backup.shard_memory_bytes");
  same(n.storage.path == c_.storage.path, "storage.path");
  same(n.storage.direct_io == c_.storage.direct_io, "storage.direct_io");
  same(n.metrics.listen == c_.metrics.listen, "metrics.listen");
  config::UploadConfig ua = n.upload, ub = c_.upload;
  ua.keep_local_ms = ub.keep_local_ms = 0;
  same(ua.endpoint == ub.endpoint && ua.bucket == ub.bucket && ua.prefix == ub.prefix &&
           ua.region == ub.region && ua.path_style == ub.path_style && ua.ca_file == ub.ca_file &&
           ua.credentials_file == ub.credentials_file && ua.profile == ub.profile &&
           ua.workers == ub.workers && ua.part_bytes == ub.part_bytes &&
           ua.multipart_threshold_bytes == ub.multipart_threshold_bytes &&
           ua.parts_in_flight == ub.parts_in_flight &&
           ua.queue_max_segments == ub.queue_max_segments && ua.timeout_ms == ub.timeout_ms &&
           ua.retries == ub.retries,
       "upload (all but keep_local)");
  if (!fixed.empty()) {
    TM_LOG_WARN("reload: %s change only at a restart; kept as they are", JoinList(fixed).c_str());
  }
  c_.backup.topics = n.backup.topics;
  c_.backup.exclude = n.backup.exclude;
  c_.backup.groups = n.backup.groups;
  c_.backup.flush_interval_ms = n.backup.flush_interval_ms;
  c_.backup.segment_max_interval_ms = n.backup.segment_max_interval_ms;
  c_.backup.topic_refresh_interval_ms = n.backup.topic_refresh_interval_ms;
  c_.backup.checkpoint_interval_ms = n.backup.checkpoint_interval_ms;
  c_.metrics.lag_alert_records = n.metrics.lag_alert_records;
  c_.metrics.stall_alert_ms = n.metrics.stall_alert_ms;
  c_.upload.keep_local_ms = n.upload.keep_local_ms;
  if (tier_) tier_->Update(c_.upload);
  for (auto& sh : shards_)
    sh->SetIntervals(c_.backup.flush_interval_ms, c_.backup.segment_max_interval_ms);
  next_discovery_ms_ = 0;  // the topic patterns may have changed
  TM_LOG_INFO("reloaded %s: topics [%s], exclude [%s], flush every %" PRId64
              " ms, segments sealed after %" PRId64 " ms",
              path_.c_str(), JoinList(c_.backup.topics).c_str(),
              JoinList(c_.backup.exclude).c_str(), c_.backup.flush_interval_ms,
              c_.backup.segment_max_interval_ms);
  std::lock_guard<std::mutex> g(stats_mu_);
  ++stats_.reloads_ok;
  sd_notify(0, "READY=1");
}

// --- metrics and health ---------------------------------------------------------------------

void Service::RefreshStats() {
  LiveStats s;
  {
    std::lock_guard<std::mutex> g(stats_mu_);
    s.failures = stats_.failures;
    s.reloads_ok = stats_.reloads_ok;
    s.reloads_rejected = stats_.reloads_rejected;
    s.checkpoints = stats_.checkpoints;
    s.catalog_folds = stats_.catalog_folds;
    s.catalog_compactions = stats_.catalog_compactions;
    s.pruned_segments = stats_.pruned_segments;
    s.pruned_bytes = stats_.pruned_bytes;
    s.checkpoint_us = stats_.checkpoint_us;
    s.pool_size = stats_.pool_size;
    s.last_failure = stats_.last_failure;
    s.running = stats_.running;
  }
  s.kafka_errors = errors_.count();
  for (const auto& [t, v] : retired_in_) {
    s.topics[t].records_in += v.records;
    s.topics[t].bytes_in += v.bytes;
  }
  const int64_t now = NowMs();
  bool stalled = false;
  for (auto& sh : shards_) {
    for (const auto& [t, v] : sh->TopicTotals()) {
      s.topics[t].records_in += v.records;
      s.topics[t].bytes_in += v.bytes;
    }
    s.sync_us.Merge(sh->SyncLatency());
    s.seal_us.Merge(sh->SealLatency());
    const auto& p = sh->progress();
    s.syncs += p.syncs.load();
    s.seals += p.seals.load();
    s.in_flight += p.in_flight.load();
    s.pool_in_use += p.pool_in_use.load();
    s.sq_full += p.sq_full.load();
    if (now - p.heartbeat_ms.load() > c_.metrics.stall_alert_ms) stalled = true;
  }
  for (const auto& [name, t] : m_.topics) {
    auto& ts = s.topics[name];
    for (const auto& p : t.partitions) {
      ts.records_stored += p.records;
      ts.bytes_raw += p.bytes_raw;
      ts.bytes_stored += p.bytes_stored;
    }
  }
  // Lag: the high watermark librdkafka last saw against the next offset handed to a shard.
  int64_t max_lag = 0;
  std::string max_lag_at;
  if (rk_ && !owned_.empty()) {
    rd_kafka_topic_partition_list_t* l =
        rd_kafka_topic_partition_list_new(static_cast<int>(owned_.size()));
    for (const auto& [tp, sh] : owned_)
      rd_kafka_topic_partition_list_add(l, tp.first.c_str(), tp.second);
    rd_kafka_position(rk_.get(), l);
    for (int i = 0; i < l->cnt; ++i) {
      const auto& el = l->elems[i];
      int64_t lo = -1, hi = -1;
      rd_kafka_get_watermark_offsets(rk_.get(), el.topic, el.partition, &lo, &hi);
      const auto& entry = backup::FindOrAddPartition(&m_, el.topic, el.partition);
      const int64_t next = el.offset >= 0 ? el.offset : entry.end_offset;
      LiveStats::Partition ps;
      ps.sealed_end = entry.end_offset;
      ps.lag = hi >= 0 ? std::max<int64_t>(0, hi - next) : -1;
      if (ps.lag > max_lag) {
        max_lag = ps.lag;
        max_lag_at = std::string(el.topic) + "/" + std::to_string(el.partition);
      }
      s.partitions[{el.topic, el.partition}] = ps;
    }
    rd_kafka_topic_partition_list_destroy(l);
  }
  s.partitions_owned = static_cast<int64_t>(owned_.size());
  if (tier_) {
    const UploadStats ts = tier_->stats();
    s.upload = true;
    s.up = ts;
    if (paused_) {
      s.degraded.push_back("upload backlog full: " + std::to_string(ts.backlog) +
                           " sealed segments wait for the store, consumption paused" +
                           (ts.last_error.empty() ? "" : " (" + ts.last_error + ")"));
    }
  }
  if (!s.running) {
    s.degraded.push_back("not backing up" +
                         (s.last_failure.empty() ? std::string() : ": " + s.last_failure));
  }
  if (stalled)
    s.degraded.push_back("a shard has not turned for " + std::to_string(c_.metrics.stall_alert_ms) +
                         " ms");
  if (max_lag > c_.metrics.lag_alert_records) {
    s.degraded.push_back("lag " + std::to_string(max_lag) + " records on " + max_lag_at +
                         " (alert above " + std::to_string(c_.metrics.lag_alert_records) + ")");
  }
  if (errors_.count() > 0 && WallClockMs() - errors_.last_ms() < 10000)
    s.degraded.push_back("kafka: " + errors_.Last());
  const std::string status = s.degraded.empty()
                                 ? "backing up " + std::to_string(owned_.size()) + " partitions"
                                 : "degraded: " + JoinList(s.degraded);
  sd_notifyf(0, "STATUS=%s", status.c_str());
  // The watchdog hears from a service whose shards turn; a stalled shard lets systemd restart it.
  if (watchdog_usec_ != 0 && !stalled) sd_notify(0, "WATCHDOG=1");
  std::lock_guard<std::mutex> g(stats_mu_);
  stats_ = std::move(s);
}

std::string Service::RenderMetrics() {
  std::lock_guard<std::mutex> g(stats_mu_);
  return RenderPrometheus(stats_);
}

Health Service::CurrentHealth() {
  std::lock_guard<std::mutex> g(stats_mu_);
  if (stats_.degraded.empty()) return {true, "ok"};
  return {false, "degraded: " + JoinList(stats_.degraded)};
}

}  // namespace tidemark::service
