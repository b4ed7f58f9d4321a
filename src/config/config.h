// Configuration: the TOML file (PRODUCT.md's key names), overridden by command-line flags.
// Every key is checked before any work starts: an unknown key, a wrong type or a bad value is
// an error naming the key and its line (exit 2).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/io_backend.h"
#include "tidemark/format.h"
#include "tidemark/status.h"

namespace tidemark::config {

struct KafkaConfig {
  std::string bootstrap_servers;
  // [kafka.properties], passed verbatim to librdkafka after tidemark's own defaults.
  std::vector<std::pair<std::string, std::string>> properties;
  int64_t timeout_ms = 30000;  // metadata, watermarks, and how long a stalled snapshot may wait
};

struct BackupConfig {
  std::string id;
  std::vector<std::string> topics;
  std::vector<std::string> exclude = {"__*"};
  // Consumer groups whose committed offsets on the backed-up topics are kept (fnmatch globs).
  // Where the broker cannot list groups, only literal names can be asked for.
  std::vector<std::string> groups = {"*"};
  format::Codec compression = format::Codec::kZstd;
  int level = 1;
  uint64_t segment_max_bytes = 128ull << 20;
  int64_t segment_max_interval_ms = 60000;
  int shards = 0;                              // 0: one per usable CPU
  uint64_t block_bytes = 1ull << 20;           // uncompressed bytes per block
  uint32_t io_depth = 8;                       // output buffers (and so writes in flight) per shard
  uint64_t shard_memory_bytes = 256ull << 20;  // staging buffers per shard, split over partitions
  // librdkafka's fetch queues (prefetch) in total: divided over the shard queues its partitions
  // are forwarded to, each at least a floor that keeps one partition streaming (8 MiB).
  uint64_t prefetch_bytes = 32ull << 20;
  // Continuous backup (`tidemark run`).
  std::string group;                          // consumer group shared by several nodes ("": none)
  int64_t flush_interval_ms = 1000;           // open segments reach the disk at least this often
  int64_t topic_refresh_interval_ms = 30000;  // how soon newly matching topics are picked up
  int64_t checkpoint_interval_ms = 1000;      // manifest rewritten at most this often after seals
};

struct StorageConfig {
  std::string path = "/var/lib/tidemark";
  io::DirectIoMode direct_io = io::DirectIoMode::kAuto;
};

struct UploadConfig {
  // Each overrides its AWS environment variable (AWS_ENDPOINT_URL, AWS_REGION).
  std::string endpoint, bucket, prefix, region;
  bool path_style = true;             // addressing = "path" | "virtual"
  std::string ca_file;                // "": the system CA store
  std::string credentials_file;       // AWS shared-credentials format; "": the environment
  std::string profile;                // its section ("": AWS_PROFILE, else "default")
  int workers = 4;                    // segments uploaded at once
  uint64_t part_bytes = 16ull << 20;  // multipart part size
  uint64_t multipart_threshold_bytes = 32ull << 20;  // larger objects go in parts
  int parts_in_flight = 4;                           // per multipart upload
  int queue_max_segments = 64;  // sealed segments waiting; the service's shards wait beyond
  int64_t timeout_ms = 60000;   // per request
  int retries = 5;              // per request, after the first attempt
  // Local copies after a confirmed upload: -1 keep all, 0 remove at once, > 0 keep this long.
  int64_t keep_local_ms = -1;
  // The store's catalog is uploaded at most this often (one chunk and one root each time).
  int64_t catalog_interval_ms = 10000;
  bool enabled() const { return !bucket.empty(); }
};

struct RestoreConfig {
  // Properties for the target cluster's producer, over [kafka.properties].
  std::vector<std::pair<std::string, std::string>> properties;
  uint64_t rate_limit_bytes = 0;    // bytes/s, 0: unlimited
  uint64_t rate_limit_records = 0;  // records/s, 0: unlimited
  int threads = 0;                  // reader threads, 0: one per core
  std::string state_dir;            // progress of restores from object storage ("": XDG state home)
};

// [retention]: what `tidemark run` drops as it runs and `tidemark prune` applies once.
struct RetentionConfig {
  int64_t max_age_ms = 0;  // continuous: segments whose newest record is older; snapshots older
                           // are deleted whole (0: no age limit)
  uint64_t max_bytes = 0;  // continuous: oldest segments first above this (0: no limit)
  int keep_last = 3;       // snapshots: never delete the newest N
  int64_t interval_ms = 60000;  // how often tidemark run applies it
  bool enabled() const { return max_age_ms > 0 || max_bytes > 0; }
};

struct MetricsConfig {
  std::string listen;  // host:port of the Prometheus endpoint ("": none)
  // /healthz says degraded past these: a partition's lag, a shard loop that has not turned.
  int64_t lag_alert_records = 1000000;
  int64_t stall_alert_ms = 30000;
};

struct Config {
  KafkaConfig kafka;
  BackupConfig backup;
  StorageConfig storage;
  UploadConfig upload;
  RestoreConfig restore;
  MetricsConfig metrics;
  RetentionConfig retention;
  std::string source = "<defaults>";  // where it came from, for messages
};

// Parses and validates a TOML document. `origin` names it in messages (a file path).
Result<Config> ParseConfig(std::string_view toml_text, const std::string& origin);
Result<Config> LoadConfigFile(const std::string& path);

// keep_local: "all" -> -1, "none" -> 0, "30m" / "12h" / "7d" / "90s" -> milliseconds.
Result<int64_t> ParseKeepLocal(const std::string& s);
// "90s", "30m", "12h", "30d" -> milliseconds (a positive whole number and one unit; at most
// 100 years).
Result<int64_t> ParseDuration(const std::string& s);

// Secrets stay out of messages and logs. A key whose name holds "password", "secret", "token"
// or "key" (any case: sasl.password, ssl.key.password, sasl.oauthbearer.client.secret) names a
// secret; its value is shown as "<redacted>".
bool IsSecretKey(std::string_view key);
// "'value'" for an ordinary key, "<redacted>" for a secret one.
std::string ShownValue(std::string_view key, std::string_view value);
// `text` with every occurrence of `secret` replaced by "<redacted>" (a library's message that
// repeats a value it refused).
std::string Scrub(std::string text, std::string_view secret);
// A URL with any user:password@ part replaced by "<redacted>@".
std::string RedactUrl(std::string_view url);

// [metrics] listen: "host:port" or "[ipv6]:port", the port 0 to 65535 (0: any free port).
struct HostPort {
  std::string host;  // without the brackets of an IPv6 address
  int port = 0;
};
Result<HostPort> ParseHostPort(std::string_view listen);

// Splits "a,b,c" (empty parts dropped).
std::vector<std::string> SplitList(const std::string& s);
// Checks what a config must hold before a backup starts (exit 2 when not).
Status ValidateForBackup(const Config& c);

}  // namespace tidemark::config
