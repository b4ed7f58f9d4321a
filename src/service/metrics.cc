#include "service/metrics.h"

#include <cstdio>

namespace tidemark::service {

std::string RenderPrometheus(const LiveStats& s) {
  std::string out;
  char line[512];
  auto head = [&](const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  auto val = [&](const char* name, const std::string& labels, double v) {
    std::snprintf(line, sizeof(line), "%s%s %.17g\n", name,
                  labels.empty() ? "" : ("{" + labels + "}").c_str(), v);
    out += line;
  };
  auto topic = [](const std::string& t) { return "topic=\"" + t + "\""; };
  // One sample per topic (or per partition) of the value `of` picks.
  auto per_topic = [&](const char* name, const char* type, const char* help, auto of) {
    head(name, type, help);
    for (const auto& [t, v] : s.topics) {
      if (const double x = of(v); x >= 0) val(name, topic(t), x);
    }
  };
  auto per_partition = [&](const char* name, const char* help, auto of) {
    head(name, "gauge", help);
    for (const auto& [tp, p] : s.partitions) {
      if (const double x = of(p); x >= 0)
        val(name, topic(tp.first) + ",partition=\"" + std::to_string(tp.second) + "\"", x);
    }
  };
  using Topic = LiveStats::Topic;
  using Partition = LiveStats::Partition;
  per_topic("tidemark_records_in_total", "counter", "Records consumed from Kafka since start.",
            [](const Topic& v) { return double(v.records_in); });
  per_topic("tidemark_bytes_in_total", "counter",
            "Key, value and header bytes consumed since start.",
            [](const Topic& v) { return double(v.bytes_in); });
  per_topic("tidemark_records_stored", "gauge", "Records in sealed segments named by the manifest.",
            [](const Topic& v) { return double(v.records_stored); });
  per_topic("tidemark_bytes_stored", "gauge", "Bytes of sealed segments named by the manifest.",
            [](const Topic& v) { return double(v.bytes_stored); });
  per_topic("tidemark_compression_ratio", "gauge",
            "Encoded bytes before compression / bytes stored.", [](const Topic& v) {
              return v.bytes_stored > 0 ? double(v.bytes_raw) / double(v.bytes_stored) : -1.0;
            });
  per_partition("tidemark_consumer_lag_records",
                "High watermark minus the next offset to back up, per partition.",
                [](const Partition& p) { return double(p.lag); });
  per_partition("tidemark_sealed_end_offset", "Offset up to which the partition is sealed.",
                [](const Partition& p) { return double(p.sealed_end); });
  auto summary = [&](const char* name, const char* help, const Histogram& h) {
    head(name, "summary", help);
    for (double q : {0.5, 0.9, 0.99}) {
      char l[32];
      std::snprintf(l, sizeof(l), "quantile=\"%g\"", q);
      val(name, l, h.count() ? double(h.Quantile(q)) / 1e6 : 0.0);
    }
    val((std::string(name) + "_sum").c_str(), "", double(h.sum()) / 1e6);
    val((std::string(name) + "_count").c_str(), "", double(h.count()));
  };
  summary("tidemark_segment_seal_seconds",
          "Sealing a segment: last blocks, footer, fdatasync, "
          "rename, directory fsync.",
          s.seal_us);
  summary("tidemark_checkpoint_seconds",
          "A catalog checkpoint: append what changed to changes.log, fdatasync (and a fold, when "
          "one is due).",
          s.checkpoint_us);
  summary("tidemark_durability_point_seconds",
          "A shard's durability point: journal frame write and fdatasync with the fdatasyncs "
          "of the segments written since the last one, awaited together.",
          s.sync_us);
  auto scalar = [&](const char* name, const char* type, const char* help, double v) {
    head(name, type, help);
    val(name, "", v);
  };
  scalar("tidemark_writes_in_flight", "gauge",
         "Segment writes submitted to io_uring, not completed.", double(s.in_flight));
  scalar("tidemark_submission_queue_full_total", "counter",
         "Times the io_uring submission queue was full.", double(s.sq_full));
  scalar("tidemark_buffer_pool_in_use", "gauge", "Write buffers being filled or in flight.",
         double(s.pool_in_use));
  scalar("tidemark_buffer_pool_size", "gauge", "Write buffers in all shards' pools.",
         double(s.pool_size));
  scalar("tidemark_upload_queue_depth", "gauge",
         "Sealed segments not confirmed in object storage yet (no [upload]: always 0).",
         double(s.up.backlog));
  if (s.upload) {
    scalar("tidemark_uploaded_segments_total", "counter",
           "Segments whose upload was confirmed since start.", double(s.up.uploaded_segments));
    scalar("tidemark_uploaded_bytes_total", "counter", "Bytes of confirmed segment uploads.",
           double(s.up.uploaded_bytes));
    scalar("tidemark_upload_queue_limit", "gauge",
           "Sealed segments waiting for the store at which consumption pauses "
           "([upload] queue_max_segments).",
           double(s.up.backlog_limit));
    scalar("tidemark_upload_failures_total", "counter",
           "Uploads that failed after their retries (tried again later).", double(s.up.failures));
    scalar("tidemark_remote_catalog_puts_total", "counter",
           "Objects of the store's catalog uploaded (chunks and roots; each names only confirmed "
           "segments).",
           double(s.up.catalog_puts));
    scalar("tidemark_local_segments_removed_total", "counter",
           "Local segment files removed after upload (keep_local).", double(s.up.removed));
  }
  scalar("tidemark_partitions_owned", "gauge", "Partitions this process backs up.",
         double(s.partitions_owned));
  scalar("tidemark_durability_points_total", "counter",
         "Durability points reached (one per shard per point with something to make durable).",
         double(s.syncs));
  scalar("tidemark_segments_sealed_total", "counter", "Segments sealed since start.",
         double(s.seals));
  scalar("tidemark_checkpoints_total", "counter",
         "Catalog checkpoints written (appended to catalog/changes.log).", double(s.checkpoints));
  scalar("tidemark_retention_pruned_segments_total", "counter",
         "Segments [retention] removed since start.", double(s.pruned_segments));
  scalar("tidemark_retention_pruned_bytes_total", "counter",
         "Bytes of the segments [retention] removed since start.", double(s.pruned_bytes));
  scalar("tidemark_catalog_folds_total", "counter",
         "Folds of catalog/changes.log into the topic logs and root.json.",
         double(s.catalog_folds));
  scalar("tidemark_catalog_compactions_total", "counter",
         "Topic logs of the catalog rewritten without the lines of pruned segments.",
         double(s.catalog_compactions));
  scalar("tidemark_kafka_errors_total", "counter", "Client-level Kafka errors (broker down, ...).",
         double(s.kafka_errors));
  scalar("tidemark_failures_total", "counter",
         "Pipeline failures (storage, Kafka) that restarted the pipeline after a back-off.",
         double(s.failures));
  head("tidemark_config_reloads_total", "counter", "SIGHUP reloads by result.");
  val("tidemark_config_reloads_total", "result=\"ok\"", double(s.reloads_ok));
  val("tidemark_config_reloads_total", "result=\"rejected\"", double(s.reloads_rejected));
  head("tidemark_healthy", "gauge", "1 when /healthz says ok.");
  val("tidemark_healthy", "", s.degraded.empty() ? 1 : 0);
  return out;
}

}  // namespace tidemark::service
