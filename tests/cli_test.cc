// End-to-end tests of the tidemark binary: exit codes and messages for good and bad input.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "backup/catalog.h"
#include "backup/manifest.h"
#include "cli_util.h"
#include "kafka/mock.h"
#include "kafka_test_util.h"
#include "segment/segment_reader.h"
#include "test_util.h"
#include "tidemark/format.h"

namespace tidemark {
namespace {

namespace fs = std::filesystem;
using testing::CmdResult;
using testing::Spawn;
using testing::Tidemark;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::FreshTestDir("cli"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p) << text;
    return p;
  }
  void StartKafka(int records) {
    ASSERT_TRUE(cluster_.Start(1).ok());
    ASSERT_TRUE(cluster_.CreateTopic("t1", 2).ok());
    ASSERT_TRUE(cluster_.CreateTopic("t2", 1).ok());
    kafka::Producer producer;
    ASSERT_TRUE(producer.Connect(cluster_.bootstraps()).ok());
    for (int i = 0; i < records; ++i) {
      ASSERT_TRUE(producer
                      .Produce(i % 2 ? "t1" : "t2", i % 2 ? i % 4 / 2 : 0, "k" + std::to_string(i),
                               "{\"n\":" + std::to_string(i) + "}", {{"h", std::string("v")}},
                               1000 + i)
                      .ok());
    }
    ASSERT_TRUE(producer.Flush().ok());
  }
  fs::path dir_;
  kafka::MockCluster cluster_;
};

TEST_F(CliTest, BackupThenVerifyThenAFlippedByteFailsVerify) {
  StartKafka(4000);
  const std::string path = (dir_ / "store").string();
  CmdResult b = Tidemark("backup --brokers " + cluster_.bootstraps() + " --topics 't*' --path " +
                         path + " --id x");
  ASSERT_EQ(b.code, 0) << b.out;
  EXPECT_NE(b.out.find("records     4000"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("MB/s"), std::string::npos);
  CmdResult v = Tidemark("verify --path " + path + " --id x");
  ASSERT_EQ(v.code, 0) << v.out;
  EXPECT_NE(v.out.find("verify OK"), std::string::npos);

  CmdResult ls = Tidemark("ls --path " + path + " --json", false);
  ASSERT_EQ(ls.code, 0);
  auto lj = nlohmann::json::parse(ls.out);
  ASSERT_EQ(lj["backups"].size(), 1u);
  EXPECT_EQ(lj["backups"][0]["records"], 4000);
  CmdResult d = Tidemark("describe --path " + path + " --id x --json", false);
  ASSERT_EQ(d.code, 0);
  EXPECT_EQ(nlohmann::json::parse(d.out)["topics"]["t1"]["partition_count"], 2);

  // The summary as JSON on stdout (logs on stderr): the same counts as the manifest's.
  const std::string json_path = (dir_ / "store-json").string();
  CmdResult bj = Tidemark("backup --brokers " + cluster_.bootstraps() + " --topics 't*' --path " +
                              json_path + " --id y --json",
                          false);
  ASSERT_EQ(bj.code, 0) << bj.out;
  const auto sj = nlohmann::json::parse(bj.out);
  EXPECT_EQ(sj["id"], "y");
  EXPECT_EQ(sj["records"], 4000);
  EXPECT_EQ(sj["topics"], 2);
  EXPECT_EQ(sj["partitions"], 3);
  EXPECT_GT(sj["bytes_in"].get<uint64_t>(), 0u);
  EXPECT_GT(sj["bytes_stored"].get<uint64_t>(), 0u);
  EXPECT_GE(sj["block_latency_us_p99"].get<int64_t>(), sj["block_latency_us_p50"].get<int64_t>());
  const auto dy =
      nlohmann::json::parse(Tidemark("describe --path " + json_path + " --id y --json", false).out);
  size_t segments = 0;
  for (const auto& [name, t] : dy.at("topics").items())
    for (const auto& p : t.at("partitions")) segments += p.at("segments").size();
  EXPECT_EQ(sj["segments"], segments);

  // The same id again is refused: a finished backup is never overwritten.
  CmdResult again = Tidemark("backup --brokers " + cluster_.bootstraps() +
                             " --topics 't*' --path " + path + " --id x");
  EXPECT_EQ(again.code, 2) << again.out;
  EXPECT_NE(again.out.find("already exists"), std::string::npos) << again.out;

  fs::path seg;
  for (const auto& e : fs::recursive_directory_iterator(path)) {
    if (e.path().extension() == ".tmseg") seg = e.path();
  }
  ASSERT_FALSE(seg.empty());
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(format::kFileHeaderSize + format::kBlockHeaderSize + 10);
    char c;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x40);
    f.seekp(format::kFileHeaderSize + format::kBlockHeaderSize + 10);
    f.write(&c, 1);
  }
  CmdResult bad = Tidemark("verify --path " + path + " --id x");
  EXPECT_EQ(bad.code, 1) << bad.out;
  EXPECT_NE(bad.out.find(seg.filename().string()), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("block 0"), std::string::npos) << bad.out;
  CmdResult badj = Tidemark("verify --path " + path + " --id x --json", false);
  EXPECT_EQ(badj.code, 1);
  auto j = nlohmann::json::parse(badj.out);
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_GE(j["damage"].size(), 1u);
}

TEST_F(CliTest, VersionSaysTheFormatsAndTheLibrariesItRunsWith) {
  CmdResult v = Tidemark("--version", false);
  ASSERT_EQ(v.code, 0) << v.out;
  EXPECT_EQ(v.out.rfind("tidemark ", 0), 0u) << v.out;
  EXPECT_NE(v.out.find("segment " + std::to_string(format::kVersion) + ","), std::string::npos)
      << v.out;
  EXPECT_NE(v.out.find("catalog " + std::to_string(backup::kCatalogVersion) + ","),
            std::string::npos)
      << v.out;
  // The librdkafka this test runs with is the one tidemark runs with (the same Debian package).
  EXPECT_NE(v.out.find(std::string("librdkafka ") + rd_kafka_version_str() + ","),
            std::string::npos)
      << v.out;
  for (const char* lib : {"zstd ", "lz4 ", "xxHash ", "mimalloc ", "liburing "})
    EXPECT_NE(v.out.find(lib), std::string::npos) << lib << " in " << v.out;
}

TEST_F(CliTest, UnreachableBrokerFailsWithinTheTimeout) {
  const std::string cfg =
      WriteFile("t.toml", "[kafka]\nbootstrap_servers = \"127.0.0.1:1\"\ntimeout_ms = 1500\n");
  CmdResult r = Tidemark("backup --config " + cfg + " --topics x --path " + (dir_ / "s").string() +
                         " --id a");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("cannot read cluster metadata within 1500 ms"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "s" / "a" / "manifest.json"));
}

TEST_F(CliTest, TopicPatternsMatchingNothingAreAUsageError) {
  StartKafka(10);
  CmdResult r = Tidemark("backup --brokers " + cluster_.bootstraps() +
                         " --topics 'nope*,zz' --path " + (dir_ / "s").string() + " --id a");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("nope*, zz"), std::string::npos) << r.out;
}

TEST_F(CliTest, UnknownConfigKeyNamesTheKeyAndLine) {
  const std::string cfg = WriteFile(
      "t.toml", "[kafka]\nbootstrap_servers = \"x:1\"\n\n[backup]\ncompresion = \"zstd\"\n");
  CmdResult r = Tidemark("backup --config " + cfg + " --topics x --path /tmp --id a");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("t.toml:5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("backup.compresion"), std::string::npos) << r.out;
}

TEST_F(CliTest, MistypedAndBadConfigValuesAreErrors) {
  const std::string cfg = WriteFile("t.toml", "[backup]\nlevel = \"high\"\n");
  CmdResult r = Tidemark("backup --config " + cfg + " --brokers x:1 --topics x --path /tmp --id a");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("t.toml:2: 'backup.level' must be an integer"), std::string::npos) << r.out;
  const std::string cfg2 = WriteFile("u.toml", "[storage]\ndirect_io = \"maybe\"\n");
  CmdResult r2 =
      Tidemark("backup --config " + cfg2 + " --brokers x:1 --topics x --path /tmp --id a");
  EXPECT_EQ(r2.code, 2) << r2.out;
  EXPECT_NE(r2.out.find("storage.direct_io"), std::string::npos) << r2.out;
  CmdResult r3 =
      Tidemark("backup --brokers x:1 --topics x --path /tmp --id a --compression brotli");
  EXPECT_EQ(r3.code, 2) << r3.out;
  CmdResult r4 = Tidemark("frobnicate");
  EXPECT_EQ(r4.code, 2) << r4.out;
}

// A secret in [kafka.properties] never reaches the output: not when librdkafka refuses it, not
// when its line is not valid TOML.
TEST_F(CliTest, SecretPropertyValuesAreNeverEchoed) {
  const std::string s = (dir_ / "s").string();
  const std::string refused =
      WriteFile("refused.toml",
                "[kafka.properties]\n\"sasl.oauthbearer.client.secret\" = \"hunter2-s3cr3t\"\n");
  CmdResult r = Tidemark("backup --config " + refused +
                         " --brokers 127.0.0.1:1 --topics x --path " + s + " --id a");
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("hunter2-s3cr3t"), std::string::npos) << r.out;
  const std::string bad =
      WriteFile("bad.toml",
                "[kafka]\nbootstrap_servers = \"127.0.0.1:1\"\n[kafka.properties]\n"
                "\"sasl.mechanism\" = \"PLAIN\"\n\"sasl.password\" = \"hunter2\\qs3cr3t\"\n");
  CmdResult p = Tidemark("backup --config " + bad + " --topics x --path " + s + " --id a");
  EXPECT_EQ(p.code, 2) << p.out;
  EXPECT_NE(p.out.find("bad.toml:5"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("sasl.password"), std::string::npos) << p.out;
  for (const char* piece : {"hunter2", "s3cr3t", "\\q"})
    EXPECT_EQ(p.out.find(piece), std::string::npos) << piece << " in " << p.out;
}

// Whatever umask the caller has, what tidemark creates is 0640 (files) and 0750 (directories):
// a backup holds the topics' data and is no one else's to read.
TEST_F(CliTest, CreatedFilesAre0640AndDirectories0750WhateverTheUmask) {
  StartKafka(200);
  const char* bin = std::getenv("TIDEMARK_BIN");
  ASSERT_NE(bin, nullptr);
  for (const std::string mask : {"000", "077", "022"}) {
    SCOPED_TRACE("umask " + mask);
    const fs::path path = dir_ / ("store" + mask);
    CmdResult b = testing::Shell("umask " + mask + " && " + bin + " backup --brokers " +
                                 cluster_.bootstraps() + " --topics 't*' --path " + path.string() +
                                 " --id x 2>&1");
    ASSERT_EQ(b.code, 0) << b.out;
    auto mode = [](const fs::path& p) { return fs::status(p).permissions() & fs::perms::all; };
    EXPECT_EQ(mode(path), fs::perms(0750));
    int files = 0, dirs = 0;
    for (const auto& e : fs::recursive_directory_iterator(path)) {
      if (e.is_directory()) {
        ++dirs;
        EXPECT_EQ(mode(e.path()), fs::perms(0750)) << e.path();
      } else {
        ++files;
        EXPECT_EQ(mode(e.path()), fs::perms(0640)) << e.path();
      }
    }
    EXPECT_GE(files, 4);  // the manifest and segments of three partitions
    EXPECT_GE(dirs, 3);   // the backup and its topics' directories
  }
}

// An entry of the backup path that cannot be inspected (a symlink loop) is not a backup: ls,
// verify and describe go on (the throwing std::filesystem forms used to abort here).
TEST_F(CliTest, ASymlinkLoopInTheBackupPathIsNotACrash) {
  fs::create_directories(dir_ / "s");
  fs::create_directory_symlink("loop", dir_ / "s" / "loop");
  CmdResult ls = Tidemark("ls --path " + (dir_ / "s").string());
  EXPECT_EQ(ls.code, 0) << ls.out;
  EXPECT_NE(ls.out.find("KIND"), std::string::npos) << ls.out;
  CmdResult d = Tidemark("describe --path " + (dir_ / "s").string() + " --id nope");
  EXPECT_EQ(d.code, 2) << d.out;
  EXPECT_EQ(d.out.find("terminate"), std::string::npos) << d.out;
}

// Object-storage usage errors are caught before anything is sent (no store needed).
TEST_F(CliTest, UploadAndS3PathUsageErrorsSayWhatToDo) {
  const std::string none = WriteFile("none.toml", "[storage]\npath = \"/tmp\"\n");
  CmdResult r = Tidemark("upload --config " + none);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("no [upload] bucket"), std::string::npos) << r.out;

  const std::string cfg = WriteFile(
      "up.toml", "[storage]\npath = \"" + dir_.string() +
                     "\"\n[upload]\nendpoint = \"http://127.0.0.1:1\"\nbucket = \"b-1\"\n");
  CmdResult missing = Tidemark("upload --config " + cfg + " --id nope");
  EXPECT_EQ(missing.code, 2) << missing.out;
  EXPECT_NE(missing.out.find("no backup 'nope'"), std::string::npos) << missing.out;

  CmdResult bad_url = Tidemark("ls --path s3://Bad_Bucket/x");
  EXPECT_EQ(bad_url.code, 2) << bad_url.out;
  EXPECT_NE(bad_url.out.find("is not a valid bucket name"), std::string::npos) << bad_url.out;

  CmdResult no_creds = testing::Shell("env -u AWS_ACCESS_KEY_ID -u AWS_SHARED_CREDENTIALS_FILE " +
                                      std::string(std::getenv("TIDEMARK_BIN")) +
                                      " verify --path s3://bkt/x --id a 2>&1");
  EXPECT_EQ(no_creds.code, 2) << no_creds.out;
  EXPECT_NE(no_creds.out.find("no S3 credentials"), std::string::npos) << no_creds.out;

  const std::string bad_keep =
      WriteFile("keep.toml", "[upload]\nbucket = \"b-1\"\nkeep_local = \"sometimes\"\n");
  CmdResult keep = Tidemark("upload --config " + bad_keep);
  EXPECT_EQ(keep.code, 2) << keep.out;
  EXPECT_NE(keep.out.find("'upload.keep_local'"), std::string::npos) << keep.out;
  EXPECT_NE(keep.out.find("none, all or a duration"), std::string::npos) << keep.out;
}

TEST_F(CliTest, UnwritablePathIsAClearError) {
  StartKafka(10);
  const std::string file = WriteFile("plainfile", "x");
  CmdResult r = Tidemark("backup --brokers " + cluster_.bootstraps() + " --topics 't*' --path " +
                         file + "/sub --id a");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("cannot create backup directory"), std::string::npos) << r.out;
}

TEST_F(CliTest, UnknownBackupIdListsTheOnesThatExist) {
  StartKafka(10);
  const std::string path = (dir_ / "store").string();
  ASSERT_EQ(Tidemark("backup --brokers " + cluster_.bootstraps() + " --topics 't*' --path " + path +
                     " --id real")
                .code,
            0);
  CmdResult r = Tidemark("verify --path " + path + " --id imaginary");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("backups there: real"), std::string::npos) << r.out;
}

// tidemark prune: without [retention] it is a usage error; with it, a dry run says what would go
// and changes nothing, and the real run deletes the old snapshot and keeps the newest.
TEST_F(CliTest, PruneDeletesOldSnapshotsAfterADryRunAndNeedsARetentionSection) {
  StartKafka(10);
  const std::string path = (dir_ / "store").string();
  for (const char* id : {"old", "new"}) {
    ASSERT_EQ(Tidemark("backup --brokers " + cluster_.bootstraps() + " --topics 't*' --path " +
                       path + " --id " + id)
                  .code,
              0);
  }
  // "old" finished 40 days ago.
  auto m = backup::ReadManifest(path + "/old");
  ASSERT_TRUE(m.ok());
  m->started_ms -= 40LL * 86400000;
  m->finished_ms -= 40LL * 86400000;
  ASSERT_TRUE(backup::WriteManifest(path + "/old", *m).ok());

  const std::string none = WriteFile("none.toml", "[storage]\npath = \"" + path + "\"\n");
  CmdResult r = Tidemark("prune --config " + none);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("no [retention] max_age or max_bytes"), std::string::npos) << r.out;

  const std::string cfg =
      WriteFile("ret.toml", "[storage]\npath = \"" + path +
                                "\"\n[retention]\nmax_age = \"30d\"\nkeep_last = 1\n");
  r = Tidemark("prune --config " + cfg + " --dry-run --json", /*merge_stderr=*/false);
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["dry_run"], true);
  std::map<std::string, std::string> action;
  for (const auto& b : j["backups"]) action[b["id"]] = b["action"];
  EXPECT_EQ(action["old"], "would delete") << r.out;
  EXPECT_EQ(action["new"], "kept") << r.out;
  EXPECT_TRUE(fs::exists(fs::path(path) / "old" / "manifest.json"));

  r = Tidemark("prune --config " + cfg);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("deleted"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(fs::path(path) / "old"));
  r = Tidemark("ls --path " + path);
  EXPECT_EQ(r.out.find("old"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("new"), std::string::npos) << r.out;
}

TEST_F(CliTest, FullDiskFailsAndNoSealedSegmentLies) {
  const fs::path mnt = dir_ / "small";
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a size-limited tmpfs here (needs root): " << std::strerror(errno);
  }
  ASSERT_TRUE(cluster_.Start(1).ok());
  ASSERT_TRUE(cluster_.CreateTopic("fill", 2).ok());
  {
    kafka::Producer producer;
    ASSERT_TRUE(producer.Connect(cluster_.bootstraps()).ok());
    std::mt19937_64 rng(1);
    std::string v(16 * 1024, '\0');
    for (int i = 0; i < 200; ++i) {  // ~3 MB of incompressible values into a 1 MiB disk
      for (auto& ch : v) ch = static_cast<char>(rng());
      ASSERT_TRUE(producer.Produce("fill", i % 2, std::nullopt, v, {}, 1 + i).ok());
    }
    ASSERT_TRUE(producer.Flush().ok());
  }
  CmdResult r = Tidemark("backup --brokers " + cluster_.bootstraps() + " --topics fill --path " +
                         mnt.string() + " --id full --compression none --shards 1");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("disk full"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not backed up"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(mnt / "full" / "manifest.json"));
  // Whatever was sealed before the disk filled is whole and true to its footer.
  for (const auto& e : fs::recursive_directory_iterator(mnt)) {
    if (e.path().extension() != ".tmseg") continue;
    segment::SegmentReader reader;
    ASSERT_TRUE(reader.Open(e.path()).ok());
    EXPECT_TRUE(reader.footer_status().ok()) << e.path();
  }
  ::umount(mnt.c_str());
}

class RestoreCliTest : public CliTest {
 protected:
  // A backup "src" of topic "orders" (3 partitions, `n` records each) from a source cluster,
  // and an empty target cluster with the topic created.
  void SetUpBackup(int n) {
    ASSERT_TRUE(cluster_.Start(1).ok());
    ASSERT_TRUE(cluster_.CreateTopic("orders", 3).ok());
    kafka::Producer producer;
    ASSERT_TRUE(producer.Connect(cluster_.bootstraps()).ok());
    std::mt19937_64 rng(5);
    for (int32_t p = 0; p < 3; ++p) {
      for (int i = 0; i < n; ++i) {
        testing::OwnedRecord r = testing::MakeRecord(rng, i);
        std::vector<kafka::ProduceHeader> hs;
        for (const auto& h : r.headers) hs.push_back({h.name, h.value});
        ASSERT_TRUE(producer.Produce("orders", p, r.key, r.value, hs, r.timestamp).ok());
      }
    }
    ASSERT_TRUE(producer.Flush().ok());
    path_ = (dir_ / "store").string();
    CmdResult b = Tidemark("backup --brokers " + cluster_.bootstraps() +
                           " --topics orders --path " + path_ + " --id src");
    ASSERT_EQ(b.code, 0) << b.out;
    ASSERT_TRUE(target_.Start(1).ok());
    ASSERT_TRUE(target_.CreateTopic("orders", 3).ok());
  }
  // The restore's arguments (for Spawn), slowed to `records_per_s`.
  std::vector<std::string> SlowRestoreArgs(int records_per_s) {
    return {"restore",
            "--path",
            path_,
            "--id",
            "src",
            "--brokers",
            target_.bootstraps(),
            "--rate-limit-records",
            std::to_string(records_per_s)};
  }
  std::string Restore(const std::string& extra) {
    return "restore --path " + path_ + " --id src --brokers " + target_.bootstraps() + " " + extra;
  }
  // What a consumer of the target sees, with offsets as they were in the source (a restore
  // into an empty topic renumbers from 0, which is also the source's numbering here).
  void ExpectTargetEqualsSource() {
    auto want = testing::ConsumeTopic(cluster_.bootstraps(), "orders");
    auto got = testing::ConsumeTopic(target_.bootstraps(), "orders");
    for (int32_t p = 0; p < 3; ++p) {
      SCOPED_TRACE("partition " + std::to_string(p));
      ASSERT_EQ(got[p].size(), want[p].size());
      for (size_t i = 0; i < want[p].size(); ++i) ASSERT_EQ(got[p][i], want[p][i]) << i;
    }
  }
  kafka::MockCluster target_;
  std::string path_;
};

TEST_F(RestoreCliTest, KilledRestoreRerunLandsEveryRecordExactlyOnce) {
  SetUpBackup(2000);
  // Slowed down so the kills land mid-restore: 6000 records at 2500 records/s.
  const std::vector<std::string> args = SlowRestoreArgs(2500);
  const std::string log = (dir_ / "restore.log").string();
  std::mt19937 rng(std::random_device{}());
  bool saw_partial = false;
  for (int kill = 0; kill < 4; ++kill) {
    pid_t pid = Spawn(args, log);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(250 + rng() % 400));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ::waitpid(pid, &status, 0);
    int64_t total = 0;
    kafka::Producer q;
    ASSERT_TRUE(q.Connect(target_.bootstraps()).ok());
    for (int32_t p = 0; p < 3; ++p) {
      int64_t lo = 0, hi = 0;
      ASSERT_EQ(rd_kafka_query_watermark_offsets(q.handle(), "orders", p, &lo, &hi, 5000),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      total += hi;
    }
    saw_partial = saw_partial || (total > 0 && total < 6000);
  }
  EXPECT_TRUE(saw_partial) << "no kill landed in the middle of the restore";
  // SIGTERM (and SIGINT) stop it cleanly: exit 1, saying how to continue. (Into a topic of
  // its own, 2.4 s of work at this rate, so the signal always lands mid-restore.)
  {
    ASSERT_TRUE(target_.CreateTopic("orders-term", 3).ok());
    std::vector<std::string> term_args = args;
    term_args.insert(term_args.end(), {"--topic-map", "orders=orders-term"});
    pid_t pid = Spawn(term_args, (dir_ / "term.log").string());
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    ASSERT_EQ(::kill(pid, SIGTERM), 0);
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::ifstream in(dir_ / "term.log");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_TRUE(WIFEXITED(status)) << text;
    EXPECT_EQ(WEXITSTATUS(status), 1) << text;
    EXPECT_NE(text.find("interrupted after"), std::string::npos) << text;
    EXPECT_NE(text.find("re-run the same command"), std::string::npos) << text;
  }
  CmdResult done = Tidemark(Restore("--rate-limit-records 0"));
  ASSERT_EQ(done.code, 0) << done.out;
  EXPECT_NE(done.out.find("continuing the restore"), std::string::npos) << done.out;
  EXPECT_NE(done.out.find("landed by an earlier run"), std::string::npos) << done.out;
  ExpectTargetEqualsSource();
}

TEST_F(RestoreCliTest, DryRunPrintsThePlanAndProducesNothing) {
  SetUpBackup(100);
  CmdResult r = Tidemark(Restore("--dry-run --topic-map orders=orders-copy"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("dry run"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("topics to create: orders-copy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("orders/2 -> orders-copy/2: 100 records"), std::string::npos) << r.out;
  CmdResult j = Tidemark(Restore("--dry-run --json"), false);
  ASSERT_EQ(j.code, 0) << j.out;
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["records"], 300);
  EXPECT_EQ(doc["produced_records"], 0);
  auto got = testing::ConsumeTopic(target_.bootstraps(), "orders");
  EXPECT_TRUE(got[0].empty() && got[1].empty() && got[2].empty());
}

TEST_F(RestoreCliTest, BadArgumentsAreClearAndProduceNothing) {
  SetUpBackup(50);
  struct Case {
    std::string args, says;
    int code;
  };
  const std::vector<Case> cases = {
      {"restore --path " + path_ + " --id nope --brokers " + target_.bootstraps(),
       "backups there: src", 2},
      {Restore("--from 2026-11-20T14:03:00Z --to 2026-11-20T14:02:00Z"), "must be before --to", 2},
      {Restore("--from yesterday"), "--from", 2},
      {Restore("--topic-map missing=x"), "missing, which is not in backup src", 2},
      {Restore("--topics 'zz*'"), "no backed-up topic matches", 2},
      {Restore("--repartition round-robin"), "is not one of murmur2", 2},
      {Restore("--groups g1"), "no consumer group in backup src matches", 2},
  };
  for (const auto& c : cases) {
    CmdResult r = Tidemark(c.args);
    EXPECT_EQ(r.code, c.code) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << c.args << "\n" << r.out;
  }
  // A target topic that does not exist, on a cluster that cannot create topics.
  CmdResult missing = Tidemark(Restore("--topic-map orders=brand-new"));
  EXPECT_EQ(missing.code, 1) << missing.out;
  EXPECT_NE(missing.out.find("topics missing on the target: brand-new (3 partitions)"),
            std::string::npos)
      << missing.out;
  const std::string cfg = WriteFile("t.toml", "[kafka]\ntimeout_ms = 1500\n");
  CmdResult down =
      Tidemark("restore --config " + cfg + " --path " + path_ + " --id src --brokers 127.0.0.1:1");
  EXPECT_EQ(down.code, 1) << down.out;
  EXPECT_NE(down.out.find("unreachable"), std::string::npos) << down.out;
  auto got = testing::ConsumeTopic(target_.bootstraps(), "orders");
  EXPECT_TRUE(got[0].empty() && got[1].empty() && got[2].empty());
  EXPECT_FALSE(fs::exists(path_ + "/src/restores"));
}

// The README's first command runs this: every stage of the demo, end to end.
TEST_F(CliTest, DemoRunsEveryStage) {
  CmdResult d = Tidemark("demo --records 300 --path " + (dir_ / "demo").string());
  ASSERT_EQ(d.code, 0) << d.out;
  for (const char* stage : {"tidemark backup", "verify OK", "tidemark restore", "tidemark run",
                            "stopping: sealing open segments", "demo: done"}) {
    EXPECT_NE(d.out.find(stage), std::string::npos) << stage << "\n" << d.out;
  }
}

TEST_F(CliTest, BenchPipelineAndBackupPrintTheirFiguresAndRatios) {
  const std::string dir = (dir_ / "bench").string();
  CmdResult p = Tidemark("bench pipeline --compare --json --gigabytes 0.05 --dir " + dir, false);
  ASSERT_EQ(p.code, 0) << p.out;
  auto pj = nlohmann::json::parse(p.out);
  ASSERT_EQ(pj["runs"].size(), 3u);  // the pipeline, the compressor alone, fio
  EXPECT_EQ(pj["runs"][0]["name"], "tidemark pipeline");
  EXPECT_GE(pj["runs"][0]["bytes"].get<uint64_t>(), 50'000'000u);
  EXPECT_GT(pj["runs"][0]["mb_per_s"].get<double>(), 0);
  EXPECT_GT(pj["runs"][0]["peak_rss_mb"].get<double>(), 0);
  EXPECT_GE(pj["runs"][0]["block_latency_us_p99"].get<int64_t>(),
            pj["runs"][0]["block_latency_us_p50"].get<int64_t>());
  ASSERT_EQ(pj["ratios"].size(), 1u);
  EXPECT_GT(pj["ratios"][0]["value"].get<double>(), 0);
  EXPECT_EQ(pj["ratios"][0]["rounds"], 3);  // the pipeline and the compressor alternate

  CmdResult b = Tidemark("bench backup --compare --partitions 2 --records 500 --dir " + dir);
  ASSERT_EQ(b.code, 0) << b.out;
  EXPECT_NE(b.out.find("tidemark backup"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("kcat -C | zstd -1 > file"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("backup vs kcat -C | zstd -1 (speed-up)"), std::string::npos) << b.out;

  CmdResult r = Tidemark(
      "bench restore --compare --json --runs 2 --partitions 2 --records 500 --dir " + dir, false);
  ASSERT_EQ(r.code, 0) << r.out;
  auto rj = nlohmann::json::parse(r.out);
  ASSERT_EQ(rj["runs"].size(), 2u);  // each side's median round
  EXPECT_EQ(rj["runs"][0]["records"], 1000);
  EXPECT_EQ(rj["runs"][1]["name"], "kcat -P");
  for (const auto& run : rj["runs"]) {
    // The embedded Kafka's CPU during the run, read from /proc: measured, so not -1.
    EXPECT_GE(run["broker_cpu_seconds"].get<double>(), 0) << run;
    EXPECT_GT(run["peak_rss_mb"].get<double>(), 0) << run;
  }
  ASSERT_EQ(rj["ratios"].size(), 1u);
  EXPECT_EQ(rj["ratios"][0]["rounds"], 2);
  EXPECT_LE(rj["ratios"][0]["min"].get<double>(), rj["ratios"][0]["value"].get<double>());
  EXPECT_GE(rj["ratios"][0]["max"].get<double>(), rj["ratios"][0]["value"].get<double>());

  // The service backing up while a producer writes: every record consumed, and the
  // durability-point latency read from its /metrics.
  CmdResult svc = Tidemark(
      "bench run --json --partitions 2 --seconds 2 --rate-mb 2 --value-bytes 200 --dir " + dir,
      false);
  ASSERT_EQ(svc.code, 0) << svc.out;
  auto sj = nlohmann::json::parse(svc.out);
  ASSERT_EQ(sj["runs"].size(), 2u);
  EXPECT_EQ(sj["runs"][1]["name"], "tidemark run (to caught up)");
  EXPECT_EQ(sj["runs"][1]["records"], sj["runs"][0]["records"]);
  EXPECT_GT(sj["runs"][1]["block_latency_us_p99"].get<int64_t>(), 0);
  ASSERT_EQ(sj["ratios"].size(), 3u);
  EXPECT_EQ(sj["ratios"][0]["value"].get<double>(), 1.0);  // consumed / produced

  // The trickle on a backup that already holds a generated history: the service continues it
  // (the history stays in its catalog) and every trickled record is consumed.
  CmdResult hist = Tidemark(
      "bench run --json --trickle-rate 5 --partitions 4 --topics 2 --seconds 3 "
      "--history-segments 3000 --dir " +
          dir,
      false);
  ASSERT_EQ(hist.code, 0) << hist.out;
  auto hj = nlohmann::json::parse(hist.out);
  std::map<std::string, double> figures;
  for (const auto& f : hj["figures"])
    if (!f["value"].is_null()) figures[f["what"].get<std::string>()] = f["value"].get<double>();
  EXPECT_EQ(figures["records consumed / produced"], 1.0) << hist.out;
  EXPECT_GT(figures["service start, to owning every partition"], 0) << hist.out;
  EXPECT_GT(figures.count("history generated and written whole (before the service starts)"), 0u);
  CmdResult ls = Tidemark("ls --json --path " + dir + "/store-run", false);
  ASSERT_EQ(ls.code, 0) << ls.out;
  auto lj = nlohmann::json::parse(ls.out);
  ASSERT_EQ(lj["backups"].size(), 1u) << ls.out;
  EXPECT_EQ(lj["backups"][0]["topics"], 2 + 10) << ls.out;  // trickled + the history's
  EXPECT_EQ(lj["backups"][0]["partitions"], 4 + 200) << ls.out;
  EXPECT_EQ(Tidemark("bench run --history-segments 10 --seconds 1 --dir " + dir).code, 2);
  CmdResult up = Tidemark(
      "bench run --trickle-rate 1 --history-segments 10 --seconds 1 --upload-endpoint "
      "http://127.0.0.1:1 --dir " +
      dir);
  EXPECT_EQ(up.code, 2) << up.out;
  EXPECT_NE(up.out.find("no segment files to upload"), std::string::npos) << up.out;

  CmdResult sweep =
      Tidemark("bench pipeline --sweep shards=1,2 --gigabytes 0.02 --json --dir " + dir, false);
  ASSERT_EQ(sweep.code, 0) << sweep.out;
  EXPECT_EQ(nlohmann::json::parse(sweep.out)["rows"].size(), 2u);

  // Against a cluster of one's own: its topic as it is.
  StartKafka(400);
  CmdResult own = Tidemark("bench backup --compare --json --brokers " + cluster_.bootstraps() +
                               " --topic t1 --dir " + dir,
                           false);
  ASSERT_EQ(own.code, 0) << own.out;
  auto oj = nlohmann::json::parse(own.out);
  EXPECT_EQ(oj["runs"][0]["records"], 200);  // t1 holds every other record
  EXPECT_EQ(oj["ratios"].size(), 2u);

  CmdResult bad = Tidemark("bench pipeline --data binary --dir " + dir);
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("not one of json, text, random"), std::string::npos) << bad.out;
}

TEST_F(RestoreCliTest, TheSameRestoreTwiceAtOnceIsRefusedNamingTheFirst) {
  SetUpBackup(2000);
  const std::vector<std::string> args = SlowRestoreArgs(2000);
  pid_t first = Spawn(args, (dir_ / "first.log").string());
  // Wait until it holds the lock (it writes its state file right after taking it); its work
  // then lasts about 3 s at this rate.
  auto started = [&] {
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(path_ + "/src", ec)) {
      if (e.path().filename() == "state.json") return true;
    }
    return false;
  };
  for (int i = 0; i < 200 && !started(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(started()) << "the first restore never started";
  CmdResult second = Tidemark(Restore(""));
  ::kill(first, SIGKILL);
  ::waitpid(first, nullptr, 0);
  EXPECT_EQ(second.code, 1) << second.out;
  EXPECT_NE(second.out.find("in use by another tidemark process (pid " + std::to_string(first)),
            std::string::npos)
      << second.out;
  // With the first gone (killed), the lock went with it: the restore completes exactly.
  CmdResult done = Tidemark(Restore(""));
  ASSERT_EQ(done.code, 0) << done.out;
  ExpectTargetEqualsSource();
}

}  // namespace
}  // namespace tidemark
