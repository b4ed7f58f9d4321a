// Version 1 backups stay readable (issue 12): the fixture in tests/fixtures/v1 was written by
// tidemark before format 2 (a snapshot and a continuous backup, each indexed by one
// manifest.json; README.md there says how). Copies of it are verified, listed, described and
// restored by the tidemark binary of this tree (meson passes it in TIDEMARK_BIN), into
// librdkafka's mock cluster, and compared with the records the source held (records.json).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "backup/catalog.h"
#include "backup/manifest.h"
#include "backup_reader.h"
#include "cli_util.h"
#include "kafka/mock.h"
#include "kafka_test_util.h"
#include "test_util.h"

namespace tidemark {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::OwnedRecord;
using testing::PartitionRecords;
using testing::Tidemark;

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<std::string> OptString(const json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<std::string>();
}

class CompatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* fixtures = std::getenv("TIDEMARK_FIXTURES");
    ASSERT_NE(fixtures, nullptr) << "TIDEMARK_FIXTURES is not set (meson sets it)";
    fixture_ = fs::path(fixtures) / "v1";
    dir_ = testing::FreshTestDir("compat");
    store_ = (dir_ / "store").string();
    fs::create_directories(store_);
    // Copies: the tests write into them (restore locks, conversion), never into the fixture.
    for (const char* id : {"snap", "cont"})
      fs::copy(fixture_ / id, fs::path(store_) / id, fs::copy_options::recursive);
    const json records = json::parse(ReadText(fixture_ / "records.json"));
    for (const auto& [topic, parts] : records.items()) {
      for (const auto& [part, recs] : parts.items()) {
        auto& out = expected_[{topic, std::stoi(part)}];
        for (const auto& r : recs) {
          OwnedRecord o;
          o.offset = r.at("offset").get<int64_t>();
          o.timestamp = r.at("timestamp").get<int64_t>();
          o.key = OptString(r.at("key"));
          o.value = OptString(r.at("value"));
          for (const auto& h : r.at("headers"))
            o.headers.push_back({h.at(0).get<std::string>(), OptString(h.at(1))});
          out.push_back(std::move(o));
        }
      }
    }
    ASSERT_TRUE(target_.Start(1).ok());
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // The fixture's records of `topics`.
  PartitionRecords Expected(const std::set<std::string>& topics) const {
    PartitionRecords out;
    for (const auto& [tp, recs] : expected_)
      if (topics.count(tp.first)) out[tp] = recs;
    return out;
  }
  // What the continuous backup holds: "orders" from offset 2 on in partition 0 (its gap).
  PartitionRecords ExpectedContinuous() const {
    PartitionRecords out = Expected({"orders"});
    auto& p0 = out.at({"orders", 0});
    p0.erase(p0.begin(), p0.begin() + 2);
    return out;
  }

  // The backup, read by this tree's reader, holds exactly `want` at their offsets.
  void ExpectBackupHolds(const std::string& id, const PartitionRecords& want) {
    const PartitionRecords got = testing::ReadBackup(store_ + "/" + id);
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [tp, recs] : want) {
      SCOPED_TRACE(id + " " + tp.first + "/" + std::to_string(tp.second));
      auto it = got.find(tp);
      ASSERT_NE(it, got.end());
      ASSERT_EQ(it->second.size(), recs.size());
      for (size_t i = 0; i < recs.size(); ++i) {
        EXPECT_EQ(it->second[i], recs[i]) << "record " << i;  // CreateTime, as produced
      }
    }
  }

  // `tidemark restore` of backup `id` into the empty target cluster: a consumer of the target
  // reads the same records in the same order (a restore into an empty topic numbers from 0).
  void RestoreAndCompare(const std::string& id, const PartitionRecords& want) {
    std::map<std::string, int> partitions;
    for (const auto& [tp, recs] : want)
      partitions[tp.first] = std::max(partitions[tp.first], tp.second + 1);
    for (const auto& [topic, n] : partitions) ASSERT_TRUE(target_.CreateTopic(topic, n).ok());
    auto r = Tidemark("restore --path " + store_ + " --id " + id + " --brokers " +
                      target_.bootstraps() + " --progress off");
    ASSERT_EQ(r.code, 0) << r.out;
    for (const auto& [topic, n] : partitions) {
      auto got = testing::ConsumeTopic(target_.bootstraps(), topic);
      for (int32_t p = 0; p < n; ++p) {
        SCOPED_TRACE("restored " + id + " " + topic + "/" + std::to_string(p));
        const auto& w = want.at({topic, p});
        ASSERT_EQ(got[p].size(), w.size());
        for (size_t i = 0; i < w.size(); ++i) {
          OwnedRecord expect = w[i];
          expect.offset = static_cast<int64_t>(i);
          EXPECT_EQ(got[p][i], expect) << "record " << i;
        }
      }
    }
  }

  // `tidemark verify --json` passes and counts `records`.
  void ExpectVerifies(const std::string& id, size_t records) {
    auto v = Tidemark("verify --path " + store_ + " --id " + id + " --json", false);
    ASSERT_EQ(v.code, 0) << v.out;
    const json j = json::parse(v.out);
    EXPECT_TRUE(j.at("ok").get<bool>()) << v.out;
    EXPECT_EQ(j.at("records").get<size_t>(), records) << v.out;
  }

  static size_t Count(const PartitionRecords& r) {
    size_t n = 0;
    for (const auto& [tp, recs] : r) n += recs.size();
    return n;
  }

  fs::path fixture_, dir_;
  std::string store_;
  PartitionRecords expected_;
  kafka::MockCluster target_;
};

// The fixture is what it claims: version 1 indexes, no catalog, and a gap in the continuous one
// (so the tests below read a partition that does not start at offset 0).
TEST_F(CompatTest, TheFixtureIsAVersionOneSnapshotAndAContinuousBackup) {
  for (const auto& [id, kind] : std::vector<std::pair<std::string, std::string>>{
           {"snap", "snapshot"}, {"cont", "continuous"}}) {
    SCOPED_TRACE(id);
    EXPECT_FALSE(backup::HasCatalog(store_ + "/" + id));
    const json m = json::parse(ReadText(fs::path(store_) / id / "manifest.json"));
    EXPECT_EQ(m.at("format_version").get<int>(), 1);
    EXPECT_EQ(m.at("kind").get<std::string>(), kind);
  }
  ASSERT_EQ(expected_.size(), 4u);
  // The continuous backup was one node of a consumer group whose other node had backed up
  // orders/0 below offset 2: a gap the restore and verify must step over.
  const json cont_json = json::parse(ReadText(fs::path(store_) / "cont" / "manifest.json"));
  const json& p0 = cont_json.at("topics").at("orders").at("partitions").at(0);
  ASSERT_EQ(p0.at("partition"), 0);
  ASSERT_EQ(p0.at("gaps").size(), 1u) << p0.dump();
  EXPECT_EQ(p0.at("gaps")[0].at("from"), 0);
  EXPECT_EQ(p0.at("gaps")[0].at("to"), 2);
  EXPECT_EQ(p0.at("gaps")[0].at("reason"), "group-peer");
  auto cont = backup::ReadManifest(store_ + "/cont");
  ASSERT_TRUE(cont.ok()) << cont.status().message();
  size_t segments = 0;
  for (const auto& p : cont->topics.at("orders").partitions) segments += p.segments.size();
  EXPECT_GT(segments, 2u) << "the continuous fixture should have rolled at least once";
}

TEST_F(CompatTest, AVersionOneSnapshotVerifiesListsDescribesAndRestoresExactly) {
  const PartitionRecords want = Expected({"users", "orders"});
  ExpectBackupHolds("snap", want);
  ExpectVerifies("snap", Count(want));

  auto ls = Tidemark("ls --path " + store_ + " --json", false);
  ASSERT_EQ(ls.code, 0) << ls.out;
  std::map<std::string, json> listed;
  const json ls_json = json::parse(ls.out);
  for (const auto& b : ls_json.at("backups")) listed[b.at("id")] = b;
  ASSERT_EQ(listed.size(), 2u) << ls.out;
  EXPECT_EQ(listed["snap"].at("kind"), "snapshot");
  EXPECT_EQ(listed["snap"].at("topics"), 2);
  EXPECT_EQ(listed["snap"].at("partitions"), 4);
  EXPECT_EQ(listed["snap"].at("records").get<size_t>(), Count(want));
  EXPECT_EQ(listed["cont"].at("kind"), "continuous");
  EXPECT_EQ(listed["cont"].at("records").get<size_t>(), Count(ExpectedContinuous()));

  auto d = Tidemark("describe --path " + store_ + " --id snap", false);
  ASSERT_EQ(d.code, 0) << d.out;
  EXPECT_NE(d.out.find("backup snap (snapshot)"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("topic users: 2 partitions"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("partition 1: offsets [0, 4), 4 records, 1 segments"), std::string::npos)
      << d.out;
  auto dj = Tidemark("describe --path " + store_ + " --id snap --json", false);
  ASSERT_EQ(dj.code, 0) << dj.out;
  EXPECT_EQ(json::parse(dj.out).at("topics").size(), 2u) << dj.out;

  RestoreAndCompare("snap", want);
  // Read, never changed: still version 1.
  EXPECT_FALSE(backup::HasCatalog(store_ + "/snap"));
  EXPECT_EQ(ReadText(fs::path(store_) / "snap" / "manifest.json"),
            ReadText(fixture_ / "snap" / "manifest.json"));
}

TEST_F(CompatTest, AVersionOneContinuousBackupVerifiesDescribesAndRestoresExactly) {
  const PartitionRecords want = ExpectedContinuous();
  ExpectBackupHolds("cont", want);
  ExpectVerifies("cont", Count(want));
  auto d = Tidemark("describe --path " + store_ + " --id cont", false);
  ASSERT_EQ(d.code, 0) << d.out;
  EXPECT_NE(d.out.find("backup cont (continuous)"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("gap [0, 2): group-peer"), std::string::npos) << d.out;
  RestoreAndCompare("cont", want);
  EXPECT_FALSE(backup::HasCatalog(store_ + "/cont"));
}

// `tidemark run` on a version 1 continuous backup that an earlier tidemark run wrote (several
// segments per partition, gaps, its own identity): converted to a catalog that keeps all of it,
// records of a new topic go on beside it, and the converted backup verifies and restores the
// fixture's records exactly. (ServiceTest.AVersionOneContinuousBackupIsConvertedAtStart... covers
// the conversion of a relabelled snapshot; this one reads what the old service itself wrote.)
TEST_F(CompatTest, RunConvertsTheVersionOneContinuousBackupAndKeepsItsHistory) {
  kafka::MockCluster source;
  ASSERT_TRUE(source.Start(1).ok());
  ASSERT_TRUE(source.CreateTopic("fresh", 1).ok());
  {
    kafka::Producer p;
    ASSERT_TRUE(p.Connect(source.bootstraps()).ok());
    for (int i = 0; i < 20; ++i)
      ASSERT_TRUE(p.Produce("fresh", 0, "k", "fresh " + std::to_string(i), {}, 5000 + i).ok());
    ASSERT_TRUE(p.Flush().ok());
  }
  auto before = backup::ReadManifest(store_ + "/cont");
  ASSERT_TRUE(before.ok()) << before.status().message();

  // A snapshot id is refused and left as it was.
  const auto config = [&](const std::string& id) {
    const fs::path p = dir_ / (id + ".toml");
    std::ofstream(p) << "[kafka]\nbootstrap_servers = \"" << source.bootstraps()
                     << "\"\n[backup]\nid = \"" << id
                     << "\"\ntopics = [\"fresh\"]\nshards = 1\nsegment_max_interval_ms = 500\n"
                        "flush_interval_ms = 50\ncheckpoint_interval_ms = 100\n[storage]\npath = \""
                     << store_ << "\"\n";
    return p.string();
  };
  auto refused = Tidemark("run --config " + config("snap"));
  EXPECT_EQ(refused.code, 2) << refused.out;
  EXPECT_NE(refused.out.find("is a snapshot backup"), std::string::npos) << refused.out;
  EXPECT_FALSE(backup::HasCatalog(store_ + "/snap"));

  const std::string log = (dir_ / "run.log").string();
  const pid_t pid = testing::Spawn({"run", "--config", config("cont")}, log);
  ASSERT_GT(pid, 0);
  bool covered = false;
  for (int i = 0; i < 600 && !covered; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto m = backup::ReadManifest(store_ + "/cont");
    covered = m.ok() && m->topics.count("fresh") && m->topics.at("fresh").partitions.size() == 1 &&
              m->topics.at("fresh").partitions[0].end_offset == 20;
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(covered) << ReadText(log);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadText(log);
  EXPECT_NE(ReadText(log).find("converted to a catalog"), std::string::npos) << ReadText(log);
  EXPECT_TRUE(backup::HasCatalog(store_ + "/cont"));
  EXPECT_FALSE(fs::exists(fs::path(store_) / "cont" / "manifest.json"));

  // The history is the old manifest's: identity, segments and gaps, partition by partition.
  auto after = backup::ReadManifest(store_ + "/cont");
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(after->id, before->id);
  EXPECT_EQ(after->kind, "continuous");
  EXPECT_EQ(after->cluster_id, before->cluster_id);
  EXPECT_EQ(after->started_ms, before->started_ms);
  const auto& old_parts = before->topics.at("orders").partitions;
  const auto& new_parts = after->topics.at("orders").partitions;
  ASSERT_EQ(new_parts.size(), old_parts.size());
  for (size_t i = 0; i < old_parts.size(); ++i) {
    SCOPED_TRACE("orders/" + std::to_string(old_parts[i].partition));
    EXPECT_EQ(new_parts[i].partition, old_parts[i].partition);
    EXPECT_EQ(new_parts[i].start_offset, old_parts[i].start_offset);
    EXPECT_EQ(new_parts[i].end_offset, old_parts[i].end_offset);
    EXPECT_EQ(new_parts[i].records, old_parts[i].records);
    ASSERT_EQ(new_parts[i].segments.size(), old_parts[i].segments.size());
    for (size_t s = 0; s < old_parts[i].segments.size(); ++s)
      EXPECT_EQ(new_parts[i].segments[s].path, old_parts[i].segments[s].path);
    ASSERT_EQ(new_parts[i].gaps.size(), old_parts[i].gaps.size());
    for (size_t g = 0; g < old_parts[i].gaps.size(); ++g) {
      EXPECT_EQ(new_parts[i].gaps[g].from, old_parts[i].gaps[g].from);
      EXPECT_EQ(new_parts[i].gaps[g].to, old_parts[i].gaps[g].to);
      EXPECT_EQ(new_parts[i].gaps[g].reason, old_parts[i].gaps[g].reason);
    }
  }

  PartitionRecords want = ExpectedContinuous();
  for (int i = 0; i < 20; ++i) {
    OwnedRecord r;
    r.offset = i;
    r.timestamp = 5000 + i;
    r.key = "k";
    r.value = "fresh " + std::to_string(i);
    want[{"fresh", 0}].push_back(r);
  }
  ExpectBackupHolds("cont", want);
  ExpectVerifies("cont", Count(want));
  RestoreAndCompare("cont", want);
}

}  // namespace
}  // namespace tidemark
