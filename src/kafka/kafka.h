// The Kafka side: a librdkafka consumer configured for backup, metadata, watermarks, topic
// configs, and topic pattern matching.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "tidemark/status.h"

namespace tidemark::kafka {

struct RdKafkaDeleter {
  void operator()(rd_kafka_t* rk) const;
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;

// The last client-level error librdkafka reported (broker down, authentication, ...). Written
// from librdkafka's threads through the error callback, read by the main thread.
class ErrorState {
 public:
  void Set(const std::string& reason);
  std::string Last() const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  int64_t last_ms() const { return last_ms_.load(std::memory_order_relaxed); }  // wall clock
  // What the owner of the handle needs in its other librdkafka callbacks (they share the
  // opaque pointer, which is this object).
  void* user = nullptr;

 private:
  mutable std::mutex mu_;
  std::string last_;
  std::atomic<uint64_t> count_{0};
  std::atomic<int64_t> last_ms_{0};
};

// librdkafka's log lines into tidemark's log: errors as warnings, the rest at debug level. For
// rd_kafka_conf_set_log_cb on every handle tidemark makes.
void LogToTidemark(const rd_kafka_t* rk, int level, const char* fac, const char* buf);
// Sets each property on `conf`; the first one librdkafka refuses is a configuration error
// naming it (the caller still owns and destroys `conf`).
Status SetProperties(rd_kafka_conf_t* conf,
                     const std::vector<std::pair<std::string, std::string>>& props);

// How much librdkafka may hold fetched but not yet consumed. Its two bounds
// (queued.max.messages.kbytes and queued.min.messages, a record cap despite the name) are checked
// before each fetch of a partition against the size of the queue its fetch queue forwards to:
// here a shard's queue, so they bound each shard's prefetch (all its partitions together).
// librdkafka 2.0 stops fetching for a queue over either bound and tries again only when its
// broker thread next wakes, up to a second later when no other partition's fetch wakes it, so a
// queue the shard empties sooner leaves the shard idle: one partition alone must get a large
// share, and many can share it.
struct PrefetchLimits {
  int64_t max_kbytes = 0;    // queued.max.messages.kbytes
  int64_t min_messages = 0;  // queued.min.messages
};
// Below this a queue no longer covers one fetch response of a partition
// (max.partition.fetch.bytes, 4 MiB) plus the next in flight.
inline constexpr uint64_t kPrefetchFloorBytes = 8ull << 20;
// Records count as at least this many bytes against the budget, so a queue of tiny records cannot
// hold millions (librdkafka spends a couple of hundred bytes on each besides the record).
inline constexpr uint64_t kPrefetchRecordBytes = 256;
// The [backup] prefetch_bytes budget divided over the `queues` the consumer's partitions are
// forwarded to (shards; 0: none, as for a handle that only reads metadata: the floor), never
// below the floor nor above the budget (nor librdkafka's maxima).
PrefetchLimits PrefetchPerQueue(uint64_t budget_bytes, size_t queues);

// A consumer for snapshot backups: read_committed, partition EOF events on, no offset commits,
// auto.offset.reset=error (an out-of-range fetch must fail loudly, not skip data), prefetch
// bounded by PrefetchPerQueue(c.backup.prefetch_bytes, queues); then [kafka.properties]
// verbatim, so the operator has the last word (queued.max.messages.kbytes set there wins).
// `overrides` go after tidemark's defaults and before [kafka.properties]; `customize` may set
// more callbacks on the configuration (their opaque is `errors`).
Result<KafkaHandle> MakeBackupConsumer(
    const config::Config& c, ErrorState* errors,
    const std::vector<std::pair<std::string, std::string>>& overrides = {},
    void (*customize)(rd_kafka_conf_t*) = nullptr, size_t queues = 0);

struct TopicInfo {
  std::string name;
  int32_t partition_count = 0;
};

// All topics the cluster reports (internal ones included; patterns decide).
Result<std::vector<TopicInfo>> ListTopics(rd_kafka_t* rk, int timeout_ms, const ErrorState& errors);

// Whether `name` matches any of the fnmatch(3) globs.
bool MatchesAny(const std::vector<std::string>& globs, const std::string& name);
// Whether a glob has no wildcard, so it can only ever name itself.
bool IsLiteralGlob(const std::string& glob);

// Topics matching any include glob and no exclude glob, sorted by name. Globs are fnmatch(3)
// patterns ("payments.*", "t?", "[ab]*").
std::vector<TopicInfo> MatchTopics(const std::vector<TopicInfo>& all,
                                   const std::vector<std::string>& include,
                                   const std::vector<std::string>& exclude);

struct Watermarks {
  int64_t low = 0;
  int64_t high = 0;  // with read_committed: the last stable offset
};
Result<Watermarks> QueryWatermarks(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                                   int timeout_ms);
// The watermarks of many partitions, up to `parallelism` queries in flight (each is one round trip
// to the partition's leader). Fails with the first partition that could not be read.
Result<std::vector<Watermarks>> QueryWatermarksAll(
    rd_kafka_t* rk, const std::vector<std::pair<std::string, int32_t>>& partitions, int timeout_ms,
    int parallelism = 8);

struct TopicConfigs {
  std::optional<std::map<std::string, std::string>> configs;
  std::string note;  // why there are none
};
// DescribeConfigs for each topic; brokers without the API (the mock cluster) give a note.
std::map<std::string, TopicConfigs> DescribeTopicConfigs(rd_kafka_t* rk,
                                                         const std::vector<std::string>& topics,
                                                         int timeout_ms);

std::string ClusterId(rd_kafka_t* rk, int timeout_ms);

}  // namespace tidemark::kafka
