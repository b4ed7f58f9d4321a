// End-to-end tests of the tidemark binary: exit codes and messages for good and bad input.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "kafka/mock.h"
#include "segment/segment_reader.h"
#include "test_util.h"

namespace tidemark {
namespace {

namespace fs = std::filesystem;

struct CmdResult {
  int code = -1;
  std::string out;  // stdout and stderr
};

CmdResult Tidemark(const std::string& args, bool merge_stderr = true) {
  const char* bin = std::getenv("TIDEMARK_BIN");
  EXPECT_NE(bin, nullptr) << "TIDEMARK_BIN is not set (meson sets it)";
  std::string cmd =
      std::string(bin ? bin : "tidemark") + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  CmdResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return r;
}

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

}  // namespace
}  // namespace tidemark
