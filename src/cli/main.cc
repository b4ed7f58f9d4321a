// tidemark's command line. Flags override the config file; a config file is optional for
// one-shot commands. Exit codes: 0 success, 1 operational failure or damage found, 2 usage or
// configuration error. Human output on stdout, logs on stderr.
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include <librdkafka/rdkafka.h>
#include <lz4.h>
#include <mimalloc.h>
#include <xxhash.h>
#include <zstd.h>

#include "backup/catalog.h"
#include "backup/prune.h"
#include "backup/snapshot.h"
#include "bench/bench.h"
#include "cli/demo.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/time.h"
#include "config/config.h"
#include "restore/restore.h"
#include "s3/settings.h"
#include "segment/journal_format.h"
#include "service/run.h"
#include "source/backup_source.h"
#include "tidemark/format.h"
#include "upload/prune_store.h"
#include "upload/uploader.h"
#include "verify/verify.h"

namespace tidemark::cli {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};
void OnSignal(int) { g_stop.store(true); }
void OnHangup(int) { g_reload.store(true); }

int Fail(const Status& s) {
  std::fprintf(stderr, "tidemark: error: %s\n", s.message().c_str());
  return ExitCodeFor(s);
}

struct BackupFlags {
  std::string config, brokers, topics, exclude, groups, path, id, compression;
  int level = INT32_MIN, shards = -1;
  bool json = false;
};

Result<config::Config> BuildBackupConfig(const BackupFlags& f) {
  config::Config c;
  if (!f.config.empty()) {
    TM_ASSIGN_OR_RETURN(c, config::LoadConfigFile(f.config));
  }
  if (!f.brokers.empty()) c.kafka.bootstrap_servers = f.brokers;
  if (!f.topics.empty()) c.backup.topics = config::SplitList(f.topics);
  if (!f.exclude.empty()) c.backup.exclude = config::SplitList(f.exclude);
  if (!f.groups.empty()) c.backup.groups = config::SplitList(f.groups);
  if (!f.path.empty()) c.storage.path = f.path;
  if (!f.id.empty()) c.backup.id = f.id;
  if (!f.compression.empty() && !format::ParseCodec(f.compression, &c.backup.compression)) {
    return Status::Config("--compression '" + f.compression + "' is not one of zstd, lz4, none");
  }
  if (f.level != INT32_MIN) c.backup.level = f.level;
  if (f.shards >= 0) c.backup.shards = f.shards;
  return c;
}

struct RestoreFlags {
  std::string config, path, id, brokers, topics, topic_map, groups, from, to, from_offset,
      to_offset, repartition, progress = "auto";
  int64_t rate_bytes = -1, rate_records = -1;
  int threads = -1;
  bool dry_run = false, allow_nonempty = false, skip_damaged = false, json = false;
};

Result<restore::RestoreOptions> BuildRestoreOptions(const RestoreFlags& f) {
  config::Config c;
  if (!f.config.empty()) {
    TM_ASSIGN_OR_RETURN(c, config::LoadConfigFile(f.config));
  }
  restore::RestoreOptions o;
  o.path = f.path.empty() ? (f.config.empty() ? "" : c.storage.path) : f.path;
  o.id = f.id;
  o.upload = c.upload;
  o.state_dir = c.restore.state_dir;
  o.brokers = f.brokers;
  o.properties = c.kafka.properties;
  o.properties.insert(o.properties.end(), c.restore.properties.begin(), c.restore.properties.end());
  o.timeout_ms = static_cast<int>(c.kafka.timeout_ms);
  o.topics = config::SplitList(f.topics);
  o.groups = config::SplitList(f.groups);
  TM_ASSIGN_OR_RETURN(o.topic_map, restore::ParseTopicMap(f.topic_map));
  if (!f.from.empty()) {
    auto t = ParseTime(f.from);
    if (!t.ok()) return Status::Config("--from: " + t.status().message());
    o.from_ms = *t;
  }
  if (!f.to.empty()) {
    auto t = ParseTime(f.to);
    if (!t.ok()) return Status::Config("--to: " + t.status().message());
    o.to_ms = *t;
  }
  if (!f.from_offset.empty()) {
    TM_ASSIGN_OR_RETURN(o.from_offset, restore::ParseOffsetBound("--from-offset", f.from_offset));
  }
  if (!f.to_offset.empty()) {
    TM_ASSIGN_OR_RETURN(o.to_offset, restore::ParseOffsetBound("--to-offset", f.to_offset));
  }
  if (f.repartition == "murmur2") {
    o.repartition = restore::Repartition::kMurmur2;
  } else if (!f.repartition.empty() && f.repartition != "none") {
    return Status::Config("--repartition '" + f.repartition + "' is not one of murmur2, none");
  }
  o.rate_limit_bytes =
      f.rate_bytes >= 0 ? static_cast<uint64_t>(f.rate_bytes) : c.restore.rate_limit_bytes;
  o.rate_limit_records =
      f.rate_records >= 0 ? static_cast<uint64_t>(f.rate_records) : c.restore.rate_limit_records;
  o.threads = f.threads >= 0 ? f.threads : c.restore.threads;
  o.dry_run = f.dry_run;
  o.allow_nonempty = f.allow_nonempty;
  o.skip_damaged = f.skip_damaged;
  if (f.progress == "auto")
    o.progress = restore::Progress::kAuto;
  else if (f.progress == "terminal")
    o.progress = restore::Progress::kTerminal;
  else if (f.progress == "lines")
    o.progress = restore::Progress::kLines;
  else if (f.progress == "off")
    o.progress = restore::Progress::kOff;
  else
    return Status::Config("--progress '" + f.progress +
                          "' is not one of auto, terminal, lines, off");
  return o;
}

// `tidemark --version`: the release, the on-disk formats it writes (and reads back to version
// 1), and the libraries it runs with (their runtime versions, which a distribution upgrade may
// change under the same binary; liburing exports none, so its build version).
std::string VersionText() {
  const unsigned xxh = XXH_versionNumber();
  const int mi = mi_version();
  char text[640];
  std::snprintf(text, sizeof(text),
                "tidemark %s\n"
                "formats: segment %u, snapshot manifest %d, catalog %d, journal %u\n"
                "libraries: librdkafka %s, zstd %s, lz4 %s, xxHash %u.%u.%u, mimalloc %d.%d.%d, "
                "liburing %s (built with)",
                TIDEMARK_VERSION, static_cast<unsigned>(format::kVersion), backup::kManifestVersion,
                backup::kCatalogVersion, static_cast<unsigned>(segment::kJournalVersion),
                rd_kafka_version_str(), ZSTD_versionString(), LZ4_versionString(), xxh / 10000,
                xxh / 100 % 100, xxh % 100, mi / 100, mi / 10 % 10, mi % 10,
                TIDEMARK_LIBURING_VERSION);
  return text;
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"tidemark: Kafka backup and restore for bare metal"};
  app.require_subcommand(1);
  app.set_version_flag("--version", VersionText);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "debug logging on stderr");

  BackupFlags bf;
  auto* backup = app.add_subcommand(
      "backup", "snapshot backup: every record below each partition's high-water mark");
  backup->add_option("--config", bf.config, "TOML config file");
  backup->add_option("--brokers", bf.brokers, "bootstrap servers, host:port,...");
  backup->add_option("--topics", bf.topics, "topic globs, comma-separated");
  backup->add_option("--exclude", bf.exclude, "topic globs to leave out (default __*)");
  backup->add_option("--groups", bf.groups,
                     "consumer-group globs whose offsets are kept (default *; brokers that "
                     "cannot list groups need literal names)");
  backup->add_option("--path", bf.path, "storage directory");
  backup->add_option("--id", bf.id, "backup id");
  backup->add_option("--compression", bf.compression, "zstd | lz4 | none");
  backup->add_option("--level", bf.level, "compression level");
  backup->add_option("--shards", bf.shards, "shard threads (0: one per core)");
  backup->add_flag("--json", bf.json, "the summary as one JSON document on stdout");

  RestoreFlags rf;
  auto* restore_cmd = app.add_subcommand(
      "restore", "produce a backup (or a window of it) into a cluster, exactly once");
  restore_cmd->add_option("--config", rf.config,
                          "TOML config file ([kafka.properties], [restore])");
  restore_cmd->add_option("--path", rf.path,
                          "storage directory or s3://BUCKET/PREFIX holding the backup");
  restore_cmd->add_option("--id", rf.id, "backup id")->required();
  restore_cmd->add_option("--brokers", rf.brokers, "target cluster, host:port,...")->required();
  restore_cmd->add_option("--topics", rf.topics, "backed-up topic globs to restore (default all)");
  restore_cmd->add_option("--topic-map", rf.topic_map, "SRC=DST,...: restore SRC into DST");
  restore_cmd->add_option("--groups", rf.groups,
                          "consumer-group globs whose offsets are moved to the target");
  restore_cmd->add_option("--from", rf.from, "first timestamp restored (RFC 3339 or epoch ms)");
  restore_cmd->add_option("--to", rf.to, "timestamp restored up to, exclusive");
  restore_cmd->add_option("--from-offset", rf.from_offset,
                          "first offset: N, or TOPIC:PARTITION=N,...");
  restore_cmd->add_option("--to-offset", rf.to_offset,
                          "offset restored up to, exclusive: N, or TOPIC:PARTITION=N,...");
  restore_cmd->add_option("--repartition", rf.repartition,
                          "murmur2: route by key with Kafka's default partitioner");
  restore_cmd->add_option("--rate-limit-bytes", rf.rate_bytes, "bytes/s (keys, values, headers)");
  restore_cmd->add_option("--rate-limit-records", rf.rate_records, "records/s");
  restore_cmd->add_option("--threads", rf.threads, "reader threads (0: one per core)");
  restore_cmd->add_option("--progress", rf.progress, "auto | terminal | lines | off");
  restore_cmd->add_flag("--dry-run", rf.dry_run, "print the plan, produce nothing");
  restore_cmd->add_flag("--allow-nonempty", rf.allow_nonempty,
                        "append to target partitions that already hold records");
  restore_cmd->add_flag("--skip-damaged", rf.skip_damaged,
                        "go on past damaged blocks, reporting what was skipped");
  restore_cmd->add_flag("--json", rf.json, "one JSON document on stdout");

  bench::BenchOptions bo;
  std::string bench_data = "json", bench_codec = "zstd", bench_direct = "auto", bench_sweep,
              bench_sizes;
  auto* bench_cmd = app.add_subcommand("bench",
                                       "throughput baselines: pipeline (no broker), backup, "
                                       "restore, run (the service); --compare for ratios; grow: "
                                       "what grows with a backup's age");
  bench_cmd->add_option("mode", bo.mode, "pipeline | backup | restore | run | grow")
      ->check(CLI::IsMember({"pipeline", "backup", "restore", "run", "grow"}));
  bench_cmd->add_option("--dir", bo.dir, "scratch directory on the disk under test");
  bench_cmd
      ->add_option("--runs", bo.runs,
                   "backup, restore and pipeline --compare: alternating rounds (median ratio with "
                   "min and max); "
                   "grow: runs of ls and describe per size (the median is shown)")
      ->check(CLI::Range(1, 100));
  bench_cmd->add_option("--shards", bo.shards, "shard threads (0: one per core)");
  bench_cmd->add_option("--partitions", bo.partitions,
                        "partitions (pipeline: default 2 per shard; backup/restore: 16; grow: "
                        "200 in all)");
  bench_cmd->add_option("--gigabytes", bo.gigabytes, "pipeline: input bytes in total, GB");
  bench_cmd->add_option("--seconds,--duration", bo.seconds, "run: how long the producer writes");
  bench_cmd->add_option("--rate-mb", bo.rate_mb, "run: producer pace in MB/s (0: flat out)");
  bench_cmd
      ->add_option("--trickle-rate", bo.trickle_rate,
                   "run: trickle mode, records per second to every partition (over --topics "
                   "topics; 1 is issue 12's target); values default to 150 bytes (206-byte "
                   "records)")
      ->check(CLI::Range(0.0, 100000.0));
  bench_cmd
      ->add_option("--segment-max-interval-ms", bo.segment_max_interval_ms,
                   "run: the service's roll interval (0: its default, 60 s)")
      ->check(CLI::Range(int64_t{0}, int64_t{86400000}));
  bench_cmd->add_option("--upload-endpoint", bo.upload_endpoint,
                        "run: upload to this S3 endpoint (keys from AWS_ACCESS_KEY_ID and "
                        "AWS_SECRET_ACCESS_KEY), to count object PUTs");
  bench_cmd->add_option("--upload-bucket", bo.upload_bucket,
                        "run --upload-endpoint: the bucket (created if missing)");
  bench_cmd->add_option("--records", bo.records_per_partition,
                        "backup/restore: records per partition (the mock keeps ~5 MB each)");
  bench_cmd->add_option("--value-bytes", bo.value_bytes, "value size");
  bench_cmd->add_option("--keys", bo.keys, "key cardinality");
  bench_cmd->add_option("--data", bench_data, "json | text | random (compressibility)");
  bench_cmd->add_option("--codec", bench_codec, "zstd | lz4 | none");
  bench_cmd->add_option("--level", bo.level, "compression level");
  bench_cmd->add_option("--block-bytes", bo.block_bytes, "uncompressed bytes per block");
  bench_cmd->add_option("--io-depth", bo.io_depth, "block writes in flight per shard");
  bench_cmd->add_option("--direct-io", bench_direct, "auto | on | off");
  bench_cmd->add_flag("--compare", bo.compare,
                      "also run what a user would use instead, on the same data, and print ratios");
  bench_cmd->add_option("--sweep", bench_sweep,
                        "shards=1,2 | value-bytes=100,1024,10240 | gigabytes=1,10: one run each");
  bench_cmd->add_option("--brokers", bo.brokers,
                        "backup: a cluster of your own instead of the embedded one");
  bench_cmd->add_option("--topic", bo.topic, "backup with --brokers: the topic to back up");
  bench_cmd->add_flag("--json", bo.json, "one JSON document on stdout");
  bench_cmd->add_option("--topics", bo.topics,
                        "grow, run --trickle-rate: topics the partitions are spread over (10)");
  bench_cmd->add_option("--segments", bo.segments,
                        "grow without --sizes: generate a backup of this many sealed segments");
  bench_cmd
      ->add_option("--history-segments", bo.history_segments,
                   "run --trickle-rate: start the service on a backup already holding this many "
                   "synthetic sealed segments (grow's generator; topics it does not consume)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{100000000}));
  bench_cmd->add_option("--sizes", bench_sizes,
                        "grow: measure at these segment counts, increasing (e.g. "
                        "1000,10000,100000,1000000)");
  bench_cmd->add_flag("--files", bo.files,
                      "grow: write real (small) segment files, not only manifest entries");
  bench_cmd->add_option("--checkpoints", bo.checkpoints, "grow: checkpoints timed per size")
      ->check(CLI::Range(1, 100000));
  bench_cmd
      ->add_option("--checkpoint-segments", bo.checkpoint_segments,
                   "grow: new segments before each timed checkpoint")
      ->check(CLI::Range(1, 1000000));
  bench_cmd->add_option("--seed", bo.seed, "grow: the generator's seed");

  std::string path, id;
  bool as_json = false;
  auto* verify =
      app.add_subcommand("verify", "check every checksum, record and offset of a backup");
  std::string read_config;  // [upload]: how to reach object storage for s3:// paths
  verify->add_option("--path", path, "storage directory or s3://BUCKET/PREFIX")->required();
  verify->add_option("--id", id, "backup id")->required();
  verify->add_option("--config", read_config, "config file (its [upload] section)");
  verify->add_flag("--json", as_json, "one JSON document on stdout");
  auto* ls =
      app.add_subcommand("ls", "list the backups in a directory or under s3://BUCKET/PREFIX");
  ls->add_option("--path", path, "storage directory or s3://BUCKET/PREFIX")->required();
  ls->add_option("--config", read_config, "config file (its [upload] section)");
  ls->add_flag("--json", as_json, "one JSON document on stdout");
  auto* describe =
      app.add_subcommand("describe", "topics, partitions, segments and gaps of a backup");
  describe->add_option("--path", path, "storage directory or s3://BUCKET/PREFIX")->required();
  describe->add_option("--id", id, "backup id")->required();
  describe->add_option("--config", read_config, "config file (its [upload] section)");
  std::vector<std::string> describe_topics;
  describe->add_option("--topics", describe_topics,
                       "only these topics (globs; a catalog then reads only their logs)");
  std::string upload_config, upload_id;
  auto* upload_cmd = app.add_subcommand(
      "upload", "upload sealed segments, then manifests, to object storage once, and exit");
  upload_cmd->add_option("--config", upload_config, "config file ([storage] and [upload])")
      ->required();
  upload_cmd->add_option("--id", upload_id, "only this backup (default: every backup)");
  std::string prune_config, prune_id;
  bool prune_dry = false, prune_json = false;
  auto* prune_cmd = app.add_subcommand(
      "prune",
      "apply [retention] once to the backups under [storage] path (and in the [upload] store), "
      "and exit");
  prune_cmd
      ->add_option("--config", prune_config,
                   "config file ([storage], [retention], and [upload] for the store)")
      ->required();
  prune_cmd->add_option("--id", prune_id, "only this backup (default: every backup)");
  prune_cmd->add_flag("--dry-run", prune_dry, "say what would be removed; change nothing");
  prune_cmd->add_flag("--json", prune_json, "one JSON document on stdout");
  describe->add_flag("--json", as_json, "one JSON document on stdout");

  DemoOptions demo_opts;
  demo_opts.path = "/tmp/tidemark-demo";
  auto* demo = app.add_subcommand(
      "demo",
      "embedded Kafka, realistic records, backup, verify, describe, restore into a second one");
  demo->add_option("--path", demo_opts.path, "where the demo backup goes");
  demo->add_option("--records", demo_opts.records_per_partition, "records per partition");
  demo->add_option("--shards", demo_opts.shards, "shard threads (0: one per core)");

  std::string run_config;
  auto* run = app.add_subcommand(
      "run", "the continuous backup service (systemd): SIGTERM seals and exits, SIGHUP reloads");
  run->add_option("--config", run_config, "the TOML configuration")->required();
  bool run_check = false;
  run->add_flag("--check", run_check, "check the configuration and exit (0: good, 2: not)");

  MockOptions mock_opts;
  auto* mock = app.add_subcommand("mock",
                                  "serve an embedded Kafka (librdkafka mock cluster) until "
                                  "interrupted, for tests and baselines");
  mock->add_option("--topics", mock_opts.topics, "NAME:PARTITIONS, repeatable")->delimiter(',');
  mock->add_option("--records", mock_opts.records_per_partition,
                   "records to produce per partition");
  mock->add_option("--value-bytes", mock_opts.value_bytes, "value size of the produced records");
  mock->add_option("--brokers", mock_opts.brokers, "number of brokers");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (verbose) SetLogLevel(LogLevel::kDebug);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGHUP, *run ? OnHangup : OnSignal);

  if (*run) {
    auto c = config::LoadConfigFile(run_config);
    if (!c.ok()) return Fail(c.status());
    if (run_check) {
      if (Status s = config::ValidateForBackup(*c); !s.ok()) return Fail(s);
      std::printf("%s: good (backup %s of [%s] into %s/%s)\n", run_config.c_str(),
                  c->backup.id.c_str(), JoinList(c->backup.topics).c_str(), c->storage.path.c_str(),
                  c->backup.id.c_str());
      return 0;
    }
    return service::RunService(run_config, std::move(*c), {&g_stop, &g_reload});
  }

  if (*backup) {
    auto c = BuildBackupConfig(bf);
    if (!c.ok()) return Fail(c.status());
    auto sum = backup::RunSnapshot(*c, &g_stop);
    if (!sum.ok()) return Fail(sum.status());
    std::printf("%s", bf.json ? (backup::SummaryToJson(*sum) + "\n").c_str()
                              : backup::FormatSummary(*sum).c_str());
    return 0;
  }
  if (*bench_cmd) {
    if (!bench::ParseDataKind(bench_data, &bo.data))
      return Fail(Status::Config("--data '" + bench_data + "' is not one of json, text, random"));
    if (!format::ParseCodec(bench_codec, &bo.codec))
      return Fail(Status::Config("--codec '" + bench_codec + "' is not one of zstd, lz4, none"));
    if (bench_direct == "on")
      bo.direct_io = io::DirectIoMode::kOn;
    else if (bench_direct == "off")
      bo.direct_io = io::DirectIoMode::kOff;
    else if (bench_direct != "auto")
      return Fail(Status::Config("--direct-io '" + bench_direct + "' is not one of auto, on, off"));
    if (!bench_sweep.empty()) {
      const size_t eq = bench_sweep.find('=');
      if (eq == std::string::npos)
        return Fail(Status::Config("--sweep '" + bench_sweep + "' must be NAME=V1,V2,..."));
      bo.sweep = bench_sweep.substr(0, eq);
      for (const auto& v : config::SplitList(bench_sweep.substr(eq + 1))) {
        try {
          bo.sweep_values.push_back(std::stod(v));
        } catch (const std::exception&) {
          return Fail(Status::Config("--sweep: '" + v + "' is not a number"));
        }
      }
    }
    for (const auto& v : config::SplitList(bench_sizes)) {
      char* end = nullptr;
      errno = 0;
      const unsigned long long size = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || v[0] == '-' || *end != '\0' || errno != 0)
        return Fail(Status::Config("--sizes: '" + v + "' is not a count of segments"));
      bo.sizes.push_back(size);
    }
    // A trickle's records are issue 12's 206 bytes: a 150-byte value, a key of about 14 bytes
    // and two headers of about 42 (datagen.h).
    if (bo.trickle_rate > 0 && bench_cmd->count("--value-bytes") == 0) bo.value_bytes = 150;
    bo.stop = &g_stop;
    char self[4096];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
    bo.self = n > 0 ? std::string(self, static_cast<size_t>(n)) : argv[0];
    Status s = bench::RunBench(bo);
    if (!s.ok()) return Fail(s);
    return 0;
  }
  if (*restore_cmd) {
    auto o = BuildRestoreOptions(rf);
    if (!o.ok()) return Fail(o.status());
    auto r = restore::RunRestore(*o, &g_stop);
    if (!r.ok()) return Fail(r.status());
    std::printf("%s",
                rf.json ? restore::ReportToJson(*r).c_str() : restore::ReportToText(*r).c_str());
    return r->damaged() ? 1 : 0;
  }
  if (*upload_cmd) {
    auto c = config::LoadConfigFile(upload_config);
    if (!c.ok()) return Fail(c.status());
    auto sum = upload::UploadOnce(*c, upload_id, &g_stop);
    if (!sum.ok()) return Fail(sum.status());
    std::printf("%s", upload::SummaryToText(*sum).c_str());
    return 0;
  }
  if (*prune_cmd) {
    auto c = config::LoadConfigFile(prune_config);
    if (!c.ok()) return Fail(c.status());
    if (!c->retention.enabled()) {
      return Fail(Status::Config("no [retention] max_age or max_bytes in " + prune_config +
                                 ": nothing to prune by (see docs/OPERATIONS.md, Retention)"));
    }
    backup::PruneOptions po;
    po.path = c->storage.path;
    po.id = prune_id;
    po.dry_run = prune_dry;
    po.policy = {c->retention.max_age_ms, c->retention.max_bytes, c->retention.keep_last};
    po.now_ms = WallClockMs();
    // With [upload], the store too: a trimmed continuous backup's catalog there, then its
    // objects; snapshots in the store by the same policy.
    std::unique_ptr<upload::Pool> pool;
    if (c->upload.enabled()) {
      auto st = s3::ResolveSettings(c->upload);
      if (!st.ok()) return Fail(st.status());
      auto p = upload::Pool::Make(c->upload, std::move(*st), &g_stop);
      if (!p.ok()) return Fail(p.status());
      pool = std::move(*p);
      po.trimmed = [&pool](const std::string& id, const backup::Manifest& after) {
        return upload::StoreTrimmed(pool.get(), id, after);
      };
    }
    std::vector<backup::PruneEntry> entries;
    if (!pool || po.id.empty() || backup::HasIndex(po.path + "/" + po.id)) {
      auto r = backup::PruneLocal(po);
      if (!r.ok()) return Fail(r.status());
      entries = std::move(*r);
    }
    if (pool) {
      auto r = upload::PruneStoreSnapshots(pool.get(), po);
      if (!r.ok()) return Fail(r.status());
      for (auto& e : *r) entries.push_back(std::move(e));
    }
    std::printf("%s", prune_json ? backup::PruneToJson(entries, prune_dry).c_str()
                                 : backup::PruneToText(entries, prune_dry).c_str());
    return 0;
  }
  if (*verify || *ls || *describe) {
    config::Config c;
    if (!read_config.empty()) {
      auto rc = config::LoadConfigFile(read_config);
      if (!rc.ok()) return Fail(rc.status());
      c = std::move(*rc);
    }
    auto src = source::Open(path, c.upload);
    if (!src.ok()) return Fail(src.status());
    if (*verify) {
      auto r = verify::VerifyBackup(**src, id);
      if (!r.ok()) return Fail(r.status());
      std::printf("%s",
                  as_json ? verify::ReportToJson(*r).c_str() : verify::ReportToText(*r).c_str());
      return r->ok() ? 0 : 1;
    }
    auto r = *ls ? verify::ListBackups(**src, as_json)
                 : verify::DescribeBackup(**src, id, as_json, describe_topics);
    if (!r.ok()) return Fail(r.status());
    std::printf("%s", r->c_str());
    return 0;
  }
  if (*mock) {
    Status s = RunMock(mock_opts, &g_stop);
    if (!s.ok()) return Fail(s);
    return 0;
  }
  if (*demo) {
    Status s = RunDemo(demo_opts);
    if (!s.ok()) return Fail(s);
    return 0;
  }
  return 2;
}

}  // namespace tidemark::cli

int main(int argc, char** argv) {
  // mimalloc (which replaces malloc for the whole process, librdkafka included) takes its large
  // blocks from one reserved arena instead of fresh mappings from the OS: librdkafka's fetch
  // buffers, freed and allocated again with every fetch, then reuse pages. The arena is
  // committed (mapped read-write; pages become resident only when touched): reserved without
  // commit, the faults came back (54,000 against 40,000 per backup). A 32-partition backup: 26%
  // fewer page faults, 6% less CPU and 7% less time, the same peak RSS (medians of 10
  // alternating runs, docs/BENCHMARKS.md "Allocator"). Under strict overcommit
  // (vm.overcommit_memory 2) a committed mapping is charged in full, so none is reserved there;
  // a refusal only means the OS serves those blocks as before.
  if (std::ifstream("/proc/sys/vm/overcommit_memory").get() != '2')
    (void)mi_reserve_os_memory(512ull << 20, /*commit=*/true, /*allow_large=*/true);
  // What tidemark creates holds the topics' data (and its locks and restore state): files 0640,
  // directories 0750, whatever umask the caller had. Every creation site asks for 0644/0666 (data)
  // or 0600 (anything private), so this mask is the one place that decides.
  ::umask(027);
  return tidemark::cli::Main(argc, argv);
}
