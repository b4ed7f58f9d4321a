// tidemark's command line. Flags override the config file; a config file is optional for
// one-shot commands. Exit codes: 0 success, 1 operational failure or damage found, 2 usage or
// configuration error. Human output on stdout, logs on stderr.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "backup/snapshot.h"
#include "cli/demo.h"
#include "common/log.h"
#include "config/config.h"
#include "verify/verify.h"

namespace tidemark::cli {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

int Fail(const Status& s) {
  std::fprintf(stderr, "tidemark: error: %s\n", s.message().c_str());
  return ExitCodeFor(s);
}

struct BackupFlags {
  std::string config, brokers, topics, exclude, path, id, compression;
  int level = INT32_MIN, shards = -1;
};

Result<config::Config> BuildBackupConfig(const BackupFlags& f) {
  config::Config c;
  if (!f.config.empty()) {
    TM_ASSIGN_OR_RETURN(c, config::LoadConfigFile(f.config));
  }
  if (!f.brokers.empty()) c.kafka.bootstrap_servers = f.brokers;
  if (!f.topics.empty()) c.backup.topics = config::SplitList(f.topics);
  if (!f.exclude.empty()) c.backup.exclude = config::SplitList(f.exclude);
  if (!f.path.empty()) c.storage.path = f.path;
  if (!f.id.empty()) c.backup.id = f.id;
  if (!f.compression.empty() && !format::ParseCodec(f.compression, &c.backup.compression)) {
    return Status::Config("--compression '" + f.compression + "' is not one of zstd, lz4, none");
  }
  if (f.level != INT32_MIN) c.backup.level = f.level;
  if (f.shards >= 0) c.backup.shards = f.shards;
  return c;
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"tidemark: Kafka backup and restore for bare metal"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tidemark 0.1.0");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "debug logging on stderr");

  BackupFlags bf;
  auto* backup = app.add_subcommand(
      "backup", "snapshot backup: every record below each partition's high-water mark");
  backup->add_option("--config", bf.config, "TOML config file");
  backup->add_option("--brokers", bf.brokers, "bootstrap servers, host:port,...");
  backup->add_option("--topics", bf.topics, "topic globs, comma-separated");
  backup->add_option("--exclude", bf.exclude, "topic globs to leave out (default __*)");
  backup->add_option("--path", bf.path, "storage directory");
  backup->add_option("--id", bf.id, "backup id");
  backup->add_option("--compression", bf.compression, "zstd | lz4 | none");
  backup->add_option("--level", bf.level, "compression level");
  backup->add_option("--shards", bf.shards, "shard threads (0: one per core)");

  std::string path, id;
  bool as_json = false;
  auto* verify =
      app.add_subcommand("verify", "check every checksum, record and offset of a backup");
  verify->add_option("--path", path, "storage directory")->required();
  verify->add_option("--id", id, "backup id")->required();
  verify->add_flag("--json", as_json, "one JSON document on stdout");
  auto* ls = app.add_subcommand("ls", "list the backups in a directory");
  ls->add_option("--path", path, "storage directory")->required();
  ls->add_flag("--json", as_json, "one JSON document on stdout");
  auto* describe =
      app.add_subcommand("describe", "topics, partitions, segments and gaps of a backup");
  describe->add_option("--path", path, "storage directory")->required();
  describe->add_option("--id", id, "backup id")->required();
  describe->add_flag("--json", as_json, "one JSON document on stdout");

  DemoOptions demo_opts;
  demo_opts.path = "/tmp/tidemark-demo";
  auto* demo =
      app.add_subcommand("demo", "embedded Kafka, realistic records, backup, verify, describe");
  demo->add_option("--path", demo_opts.path, "where the demo backup goes");
  demo->add_option("--records", demo_opts.records_per_partition, "records per partition");
  demo->add_option("--shards", demo_opts.shards, "shard threads (0: one per core)");

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

  if (*backup) {
    auto c = BuildBackupConfig(bf);
    if (!c.ok()) return Fail(c.status());
    auto sum = backup::RunSnapshot(*c, &g_stop);
    if (!sum.ok()) return Fail(sum.status());
    std::printf("%s", backup::FormatSummary(*sum).c_str());
    return 0;
  }
  if (*verify) {
    auto r = verify::VerifyBackup(path, id);
    if (!r.ok()) return Fail(r.status());
    std::printf("%s",
                as_json ? verify::ReportToJson(*r).c_str() : verify::ReportToText(*r).c_str());
    return r->ok() ? 0 : 1;
  }
  if (*ls) {
    auto r = verify::ListBackups(path, as_json);
    if (!r.ok()) return Fail(r.status());
    std::printf("%s", r->c_str());
    return 0;
  }
  if (*describe) {
    auto r = verify::DescribeBackup(path, id, as_json);
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

int main(int argc, char** argv) { return tidemark::cli::Main(argc, argv); }
