// The fixture of the object-storage tier tests (s3_tier_test.cc, s3_service_test.cc): a mock
// Kafka cluster, a scratch directory, AWS_* pointed at the gateway (s3_gateway.h), and helpers
// to back up, configure, list the store and restore from it.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include "backup/retention.h"
#include "backup/snapshot.h"
#include "cli_util.h"
#include "common/time.h"
#include "kafka/mock.h"
#include "kafka_test_util.h"
#include "restore/restore.h"
#include "s3/settings.h"
#include "s3_gateway.h"
#include "source/backup_source.h"
#include "test_util.h"
#include "upload/uploader.h"
#include "verify/verify.h"

namespace tidemark::testing {

namespace fs = std::filesystem;

#define ASSERT_OK(expr)                                      \
  do {                                                       \
    const Status st_ = (expr);                               \
    ASSERT_TRUE(st_.ok()) << #expr << ": " << st_.message(); \
  } while (0)

class TierTest : public S3Test {
 protected:
  void SetUp() override {
    S3Test::SetUp();
    ASSERT_TRUE(kafka_.Start(1).ok());
    dir_ = testing::FreshTestDir("tier");
    fs::create_directories(dir_ / "tmp");
    ::setenv("TMPDIR", (dir_ / "tmp").c_str(), 1);  // where fetched segments are spooled
    ::setenv("AWS_ACCESS_KEY_ID", gw().key.c_str(), 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", gw().secret.c_str(), 1);
    ::setenv("AWS_ENDPOINT_URL", gw().endpoint.c_str(), 1);
    client_ = Make(gw().secret);
  }
  void TearDown() override {
    ::unsetenv("TMPDIR");
    fs::remove_all(dir_);
  }

  // `n` records in each of `partitions` partitions of `topic`, backed up as snapshot `id`.
  std::map<int32_t, std::vector<OwnedRecord>> FillAndBackUp(const std::string& topic,
                                                            int partitions, int n,
                                                            const std::string& id) {
    EXPECT_TRUE(kafka_.CreateTopic(topic, partitions).ok());
    auto out = testing::ProduceVaried(kafka_.bootstraps(), topic, partitions, n, 11);
    config::Config c;
    c.kafka.bootstrap_servers = kafka_.bootstraps();
    c.kafka.timeout_ms = 20000;
    c.backup.id = id;
    c.backup.topics = {topic};
    c.backup.shards = 2;
    c.backup.block_bytes = 16 * 1024;
    c.backup.compression = format::Codec::kNone;
    c.backup.segment_max_bytes = 256 << 10;  // several segments per partition
    c.storage.path = (dir_ / "local").string();
    auto sum = backup::RunSnapshot(c, nullptr);
    EXPECT_TRUE(sum.ok()) << sum.status().message();
    return out;
  }

  // `tidemark upload`'s configuration file for this test's backups.
  std::string WriteUploadConfig(const std::string& bucket, const std::string& extra) {
    const std::string conf = (dir_ / "upload.toml").string();
    std::ofstream(conf) << "[storage]\npath = \"" << (dir_ / "local").string()
                        << "\"\n[upload]\nbucket = \"" << bucket
                        << "\"\nprefix = \"site-a\"\nkeep_local = \"none\"\n"
                        << extra;
    return conf;
  }

  config::Config UploadConfig(const std::string& bucket, const std::string& keep = "none") {
    config::Config c;
    c.storage.path = (dir_ / "local").string();
    c.upload.bucket = bucket;
    c.upload.prefix = "site-a";
    c.upload.keep_local_ms = *config::ParseKeepLocal(keep);
    c.upload.timeout_ms = 10000;
    return c;
  }

  // Every object under `prefix` in `bucket`, with its size.
  std::map<std::string, uint64_t> Objects(const std::string& bucket, const std::string& prefix) {
    auto l = client_->List(bucket, prefix);
    EXPECT_TRUE(l.ok()) << l.status().message();
    std::map<std::string, uint64_t> out;
    if (l.ok())
      for (const auto& [k, size] : l->objects) out[k] = size;
    return out;
  }

  // The objects a backup must have in the store: its manifest and every segment it names.
  std::set<std::string> Expected(const backup::Manifest& m, const std::string& id) {
    std::set<std::string> want = {"site-a/" + id + "/manifest.json"};
    for (const auto& [t, tm] : m.topics)
      for (const auto& p : tm.partitions)
        for (const auto& s : p.segments) want.insert("site-a/" + id + "/" + s.path);
    return want;
  }

  // `tidemark run` on `topic` into backup `id`, sealing every `seal_ms`, uploading to `bucket`.
  std::string WriteRunConfig(const std::string& id, const std::string& topic,
                             const std::string& seal_ms, const std::string& bucket,
                             const std::string& upload_extra) {
    const std::string conf = (dir_ / "run.toml").string();
    std::ofstream(conf)
        << "[kafka]\nbootstrap_servers = \"" << kafka_.bootstraps()
        << "\"\ntimeout_ms = 10000\n[backup]\nid = \"" << id << "\"\ntopics = [\"" << topic
        << "\"]\nshards = 1\nblock_bytes = 65536\n"
        << "segment_max_bytes = 1048576\nsegment_max_interval_ms = " << seal_ms
        << "\nflush_interval_ms = 50\ncheckpoint_interval_ms = 100\n[storage]\npath = \""
        << (dir_ / "local").string() << "\"\n[upload]\nbucket = \"" << bucket
        << "\"\nprefix = \"site-a\"\nkeep_local = \"none\"\n"
        << upload_extra;
    return conf;
  }

  struct Restored {
    restore::RestoreReport report;
    std::map<int32_t, std::vector<OwnedRecord>> records;  // what landed, per partition
  };
  // Restores backup `id` from `url` into a fresh cluster holding `topic` with `partitions`.
  Result<Restored> RestoreFromS3(const std::string& url, const std::string& id,
                                 const std::string& topic, int partitions) {
    kafka::MockCluster target;
    TM_RETURN_IF_ERROR(target.Start(1));
    TM_RETURN_IF_ERROR(target.CreateTopic(topic, partitions));
    restore::RestoreOptions o;
    o.path = url;
    o.id = id;
    o.brokers = target.bootstraps();
    o.timeout_ms = 20000;
    o.progress = restore::Progress::kOff;
    o.threads = 2;
    o.state_dir = (dir_ / "state").string();
    std::atomic<bool> stop{false};
    Restored out;
    TM_ASSIGN_OR_RETURN(out.report, restore::RunRestore(o, &stop));
    out.records = testing::ConsumeTopic(target.bootstraps(), topic);
    return out;
  }

  kafka::MockCluster kafka_;
  fs::path dir_;
  std::unique_ptr<s3::Client> client_;
};

}  // namespace tidemark::testing
