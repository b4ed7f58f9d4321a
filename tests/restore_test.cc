// Restore tests: a backup taken from one mock cluster is restored into a second one over TCP,
// and an independent consumer compares what landed with what was produced.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "backup/snapshot.h"
#include "common/time.h"
#include "kafka/admin.h"
#include "kafka/mock.h"
#include "kafka_test_util.h"
#include "restore/restore.h"
#include "segment/segment_reader.h"
#include "test_util.h"

namespace tidemark {
namespace {

namespace fs = std::filesystem;
using testing::OwnedRecord;

// Kafka's own test vectors for its murmur2 (org.apache.kafka.common.utils.UtilsTest): the
// partitioner restore uses must put a key where the Java client would.
TEST(Murmur2, MatchesKafkasJavaPartitioner) {
  const std::vector<std::pair<std::string, int32_t>> cases = {
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107}};
  for (const auto& [key, hash] : cases) {
    for (int32_t n : {1, 2, 3, 7, 50, 1000}) {
      const auto want = static_cast<int32_t>((static_cast<uint32_t>(hash) & 0x7fffffff) %
                                             static_cast<uint32_t>(n));
      EXPECT_EQ(restore::KafkaPartitionForKey(key.data(), key.size(), n), want)
          << key << " over " << n;
    }
  }
}

TEST(TranslateOffset, CommittedOffsetsMapToTheFirstRestoredRecordAtOrAfterThem) {
  // Source offsets 10..19 and 30..34 restored to target 0..9 and 10..14 (20..29 a gap).
  const std::vector<restore::OffsetRun> runs = {{10, 0, 10}, {30, 10, 5}};
  EXPECT_EQ(restore::TranslateOffset(runs, 0, 15), 0);    // before everything
  EXPECT_EQ(restore::TranslateOffset(runs, 10, 15), 0);   // the first record
  EXPECT_EQ(restore::TranslateOffset(runs, 15, 15), 5);   // inside a run
  EXPECT_EQ(restore::TranslateOffset(runs, 19, 15), 9);   // the last of a run
  EXPECT_EQ(restore::TranslateOffset(runs, 20, 15), 10);  // inside the gap: next restored
  EXPECT_EQ(restore::TranslateOffset(runs, 29, 15), 10);
  EXPECT_EQ(restore::TranslateOffset(runs, 34, 15), 14);
  EXPECT_EQ(restore::TranslateOffset(runs, 35, 15), 15);  // past the end: the end
  EXPECT_EQ(restore::TranslateOffset({}, 7, 3), 3);       // nothing restored
}

TEST(RestoreArgs, OffsetBoundsAndTopicMapsParseOrSayWhatIsWrong) {
  auto b = restore::ParseOffsetBound("--from-offset", "100,orders:2=7");
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->For("orders", 2), 7);
  EXPECT_EQ(b->For("orders", 1), 100);
  EXPECT_FALSE(restore::ParseOffsetBound("--to-offset", "x").ok());
  EXPECT_FALSE(restore::ParseOffsetBound("--to-offset", "orders=3").ok());
  EXPECT_FALSE(restore::ParseOffsetBound("--to-offset", "-4").ok());
  auto m = restore::ParseTopicMap("a=b, c=d");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->at("c"), "d");
  EXPECT_FALSE(restore::ParseTopicMap("a").ok());
  EXPECT_FALSE(restore::ParseTopicMap("a=b,a=c").ok());
}

class RestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(source_.Start(1).ok());
    ASSERT_TRUE(target_.Start(1).ok());
    dir_ = testing::FreshTestDir("restore");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Produces `n` varied records per partition into the source; returns them per partition.
  std::map<int32_t, std::vector<OwnedRecord>> Fill(const std::string& topic, int partitions, int n,
                                                   uint64_t seed = 7) {
    EXPECT_TRUE(source_.CreateTopic(topic, partitions).ok());
    return testing::ProduceVaried(source_.bootstraps(), topic, partitions, n, seed);
  }

  backup::SnapshotSummary Backup(const std::string& id, std::vector<std::string> topics,
                                 std::vector<std::string> groups = {}) {
    config::Config c;
    c.kafka.bootstrap_servers = source_.bootstraps();
    c.kafka.timeout_ms = 20000;
    c.backup.id = id;
    c.backup.topics = std::move(topics);
    c.backup.groups = std::move(groups);
    c.backup.shards = 2;
    c.backup.block_bytes = 16 * 1024;  // many blocks per partition
    c.backup.segment_max_bytes = 1 << 20;
    c.storage.path = dir_.string();
    auto s = backup::RunSnapshot(c, nullptr);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? *s : backup::SnapshotSummary{};
  }

  restore::RestoreOptions Options(const std::string& id) {
    restore::RestoreOptions o;
    o.path = dir_.string();
    o.id = id;
    o.brokers = target_.bootstraps();
    o.timeout_ms = 20000;
    o.progress = restore::Progress::kOff;
    return o;
  }

  int64_t TargetHighWater(const std::string& topic, int32_t p) {
    kafka::Producer pr;
    EXPECT_TRUE(pr.Connect(target_.bootstraps()).ok());
    int64_t lo = -1, hi = -1;
    EXPECT_EQ(rd_kafka_query_watermark_offsets(pr.handle(), topic.c_str(), p, &lo, &hi, 10000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    return hi;
  }

  static std::atomic<bool> no_stop_;
  kafka::MockCluster source_, target_;
  fs::path dir_;
};
std::atomic<bool> RestoreTest::no_stop_{false};

// Records as they must land: same key, value, headers and timestamp, offsets renumbered from
// `base` in order.
std::vector<OwnedRecord> Renumbered(std::vector<OwnedRecord> recs, int64_t base = 0) {
  for (auto& r : recs) r.offset = base++;
  return recs;
}

TEST_F(RestoreTest, EveryFieldAndTheOrderOfEveryPartitionRoundTrip) {
  auto produced = Fill("orders", 3, 1200);
  Backup("b", {"orders"});
  ASSERT_TRUE(target_.CreateTopic("orders", 3).ok());
  auto o = Options("b");
  o.threads = 2;
  auto r = restore::RunRestore(o, &no_stop_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->damaged());
  EXPECT_EQ(r->records, 3u * 1200);
  EXPECT_EQ(r->produced, 3u * 1200);
  auto got = testing::ConsumeTopic(target_.bootstraps(), "orders");
  for (int32_t p = 0; p < 3; ++p) {
    SCOPED_TRACE("partition " + std::to_string(p));
    const auto want = Renumbered(produced[p]);
    ASSERT_EQ(got[p].size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[p][i], want[i]) << "record " << i;
  }
  // The offset map: source offsets 0..1199 to target 0..1199, one run per partition.
  std::ifstream map_file(r->state_dir + "/offset-map.json");
  ASSERT_TRUE(map_file.good());
  auto map = nlohmann::json::parse(map_file);
  ASSERT_EQ(map["partitions"].size(), 3u);
  EXPECT_EQ(map["partitions"][0]["runs"], nlohmann::json::parse("[[0,0,1200]]"));

  // Running it again finds everything landed and produces nothing.
  auto again = restore::RunRestore(o, &no_stop_);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->resumed);
  EXPECT_EQ(again->produced, 0u);
  EXPECT_EQ(TargetHighWater("orders", 1), 1200);
}

TEST_F(RestoreTest, TimeWindowBoundariesAreExactToTheMillisecond) {
  const int64_t from = 1763647380000, to = from + 1000;
  ASSERT_TRUE(source_.CreateTopic("events", 1).ok());
  kafka::Producer producer;
  ASSERT_TRUE(producer.Connect(source_.bootstraps()).ok());
  // Out of order on purpose: CreateTime is whatever producers say.
  const std::vector<int64_t> stamps = {from - 1,    from,   to - 1, to,     from + 500,
                                       from - 1000, to + 1, from,   to - 1, from - 1};
  for (size_t i = 0; i < stamps.size(); ++i) {
    ASSERT_TRUE(producer.Produce("events", 0, "k" + std::to_string(i), "v", {}, stamps[i]).ok());
  }
  ASSERT_TRUE(producer.Flush().ok());
  Backup("w", {"events"});
  auto o = Options("w");
  o.from_ms = from;
  o.to_ms = to;
  o.topic_map = {{"events", "events-window"}};
  ASSERT_TRUE(target_.CreateTopic("events-window", 1).ok());
  auto r = restore::RunRestore(o, &no_stop_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto got = testing::ConsumeTopic(target_.bootstraps(), "events-window")[0];
  std::vector<std::string> keys;
  for (const auto& g : got) {
    keys.push_back(*g.key);
    EXPECT_GE(g.timestamp, from);
    EXPECT_LT(g.timestamp, to);
  }
  // from, to-1, from+500, from, to-1: in their original order; from-1 and to never.
  EXPECT_EQ(keys, (std::vector<std::string>{"k1", "k2", "k4", "k7", "k8"}));
}

TEST_F(RestoreTest, RemapAndMurmur2RepartitionKeepKeysTogether) {
  auto produced = Fill("users", 4, 400);
  Backup("k", {"users"});
  ASSERT_TRUE(target_.CreateTopic("users-v2", 2).ok());
  auto o = Options("k");
  o.topic_map = {{"users", "users-v2"}};
  // Fewer target partitions without a strategy: refused before anything is produced.
  auto refused = restore::RunRestore(o, &no_stop_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(ExitCodeFor(refused.status()), 2);
  EXPECT_NE(refused.status().message().find("--repartition murmur2"), std::string::npos);
  EXPECT_EQ(TargetHighWater("users-v2", 0), 0);

  o.repartition = restore::Repartition::kMurmur2;
  // The block pool at its floor: the merged lane holds a block of each of its 4 partitions, and
  // every other block waits for a delivery report to free one.
  o.block_pool_bytes = 1;
  auto r = restore::RunRestore(o, &no_stop_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->produced, 4u * 400);
  auto got = testing::ConsumeTopic(target_.bootstraps(), "users-v2");
  ASSERT_EQ(got[0].size() + got[1].size(), 4u * 400);
  // Every keyed record is on Kafka's partition for its key; per key, the original order holds.
  std::map<std::string, std::vector<std::string>> by_key_src, by_key_dst;
  for (const auto& [p, recs] : produced) {
    for (const auto& rec : recs) {
      if (rec.key) by_key_src[*rec.key].push_back(rec.value.value_or("<null>"));
    }
  }
  for (const auto& [p, recs] : got) {
    for (const auto& rec : recs) {
      if (!rec.key) continue;
      EXPECT_EQ(p, restore::KafkaPartitionForKey(rec.key->data(), rec.key->size(), 2));
      by_key_dst[*rec.key].push_back(rec.value.value_or("<null>"));
    }
  }
  // Keys repeat across source partitions, so only the multiset per key is comparable ...
  for (auto& [k, v] : by_key_src) std::sort(v.begin(), v.end());
  for (auto& [k, v] : by_key_dst) std::sort(v.begin(), v.end());
  EXPECT_EQ(by_key_src, by_key_dst);
  // ... and each target partition holds exactly the documented order: the source partitions
  // merged by timestamp (ties to the lower partition), so a source partition's records keep
  // their order, and null keys stay on their source partition's number modulo the count.
  std::map<int32_t, std::vector<OwnedRecord>> want;
  std::vector<size_t> head(4, 0);
  for (;;) {
    int best = -1;
    for (int p = 0; p < 4; ++p) {
      if (head[p] >= produced[p].size()) continue;
      if (best < 0 || produced[p][head[p]].timestamp < produced[best][head[best]].timestamp)
        best = p;
    }
    if (best < 0) break;
    const OwnedRecord& rec = produced[best][head[best]++];
    const int32_t t =
        rec.key ? restore::KafkaPartitionForKey(rec.key->data(), rec.key->size(), 2) : best % 2;
    want[t].push_back(rec);
  }
  for (int32_t t = 0; t < 2; ++t) {
    SCOPED_TRACE("target partition " + std::to_string(t));
    const auto w = Renumbered(want[t]);
    ASSERT_EQ(got[t].size(), w.size());
    for (size_t i = 0; i < w.size(); ++i) ASSERT_EQ(got[t][i], w[i]) << "record " << i;
  }
}

TEST_F(RestoreTest, GroupOffsetsAreCapturedAndTranslatedAcrossACut) {
  Fill("orders", 2, 300);
  {
    kafka::Producer admin;
    ASSERT_TRUE(admin.Connect(source_.bootstraps()).ok());
    ASSERT_TRUE(kafka::CommitGroupOffsets(admin.handle(), "billing",
                                          {{{"orders", 0}, 50}, {{"orders", 1}, 300}}, 10000)
                    .ok());
    ASSERT_TRUE(
        kafka::CommitGroupOffsets(admin.handle(), "audit", {{{"orders", 0}, 150}}, 10000).ok());
  }
  // The mock cluster cannot list groups, so they are named.
  auto sum = Backup("g", {"orders"}, {"billing", "audit", "ghost", "pay*"});
  const auto& groups = sum.manifest.groups;
  ASSERT_EQ(groups.size(), 2u) << sum.manifest.groups_note;
  EXPECT_EQ(groups.at("billing").at("orders").at(0), 50);
  EXPECT_EQ(groups.at("billing").at("orders").at(1), 300);
  EXPECT_EQ(groups.at("audit").at("orders").at(0), 150);
  EXPECT_NE(sum.manifest.groups_note.find("cannot list"), std::string::npos);

  ASSERT_TRUE(target_.CreateTopic("orders", 2).ok());
  auto o = Options("g");
  o.groups = {"billing", "aud*"};
  o.from_offset.per_partition[{"orders", 0}] = 100;  // offsets 0..99 of partition 0 stay out

  // A dry run plans everything and produces nothing.
  o.dry_run = true;
  auto plan = restore::RunRestore(o, &no_stop_);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->records, 200u + 300u);
  EXPECT_EQ(plan->produced, 0u);
  ASSERT_EQ(plan->groups.size(), 2u);
  EXPECT_FALSE(plan->groups[0].committed);
  EXPECT_NE(restore::ReportToText(*plan).find("dry run"), std::string::npos);
  EXPECT_EQ(TargetHighWater("orders", 0), 0);
  EXPECT_EQ(TargetHighWater("orders", 1), 0);
  EXPECT_FALSE(fs::exists(plan->state_dir));

  o.dry_run = false;
  auto r = restore::RunRestore(o, &no_stop_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->produced, 500u);
  kafka::Producer admin;
  ASSERT_TRUE(admin.Connect(target_.bootstraps()).ok());
  auto billing =
      kafka::FetchGroupOffsets(admin.handle(), "billing", {{"orders", 0}, {"orders", 1}}, 10000);
  ASSERT_TRUE(billing.ok()) << billing.status().message();
  // 50 was cut: the first restored record at or after it is source 100, now target 0.
  EXPECT_EQ(billing->at({"orders", 0}), 0);
  EXPECT_EQ(billing->at({"orders", 1}), 300);  // the end stays the end
  auto audit = kafka::FetchGroupOffsets(admin.handle(), "audit", {{"orders", 0}}, 10000);
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->at({"orders", 0}), 50);  // source 150 -> target 150 - 100

  // Asking for groups the backup does not hold is a usage error naming the ones it does.
  o.groups = {"nope"};
  auto none = restore::RunRestore(o, &no_stop_);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(ExitCodeFor(none.status()), 2);
  EXPECT_NE(none.status().message().find("billing"), std::string::npos);
}

// Flips one byte inside block `block` of the first segment of topic/partition.
void DamageBlock(const std::string& backup_dir, const std::string& topic, int32_t partition,
                 size_t block) {
  auto m = backup::ReadManifest(backup_dir);
  ASSERT_TRUE(m.ok());
  const auto& seg = m->topics.at(topic).partitions.at(static_cast<size_t>(partition)).segments[0];
  segment::SegmentReader reader;
  ASSERT_TRUE(reader.Open(backup_dir + "/" + seg.path).ok());
  ASSERT_GT(reader.footer().blocks.size(), block);
  const uint64_t at = reader.footer().blocks[block].file_offset + format::kBlockHeaderSize + 5;
  std::fstream f(backup_dir + "/" + seg.path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char c;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x10);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(&c, 1);
}

TEST_F(RestoreTest, DamageStopsThePartitionBeforeTheBadBlockOrIsSkippedAndReported) {
  auto produced = Fill("logs", 2, 1500);
  auto sum = Backup("d", {"logs"});
  segment::SegmentReader reader;
  const auto& seg = sum.manifest.topics.at("logs").partitions[0].segments[0];
  ASSERT_TRUE(reader.Open(sum.backup_dir + "/" + seg.path).ok());
  ASSERT_GE(reader.footer().blocks.size(), 4u);
  const auto bad = reader.footer().blocks[2];
  DamageBlock(sum.backup_dir, "logs", 0, 2);

  ASSERT_TRUE(target_.CreateTopic("logs", 2).ok());
  auto o = Options("d");
  auto r = restore::RunRestore(o, &no_stop_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->damaged());
  const auto& p0 = r->partitions[0];
  EXPECT_TRUE(p0.stopped);
  ASSERT_EQ(p0.damage.size(), 1u);
  EXPECT_EQ(p0.damage[0].file, seg.path);
  EXPECT_EQ(p0.damage[0].block, 2);
  EXPECT_EQ(p0.damage[0].first_offset, bad.first_offset);
  // Partition 0 holds exactly the records before the damaged block; partition 1 all of them.
  auto got = testing::ConsumeTopic(target_.bootstraps(), "logs");
  const std::vector<OwnedRecord> before(produced[0].begin(),
                                        produced[0].begin() + bad.first_offset);
  EXPECT_EQ(got[0], Renumbered(before));
  EXPECT_EQ(got[1], Renumbered(produced[1]));
  EXPECT_NE(restore::ReportToText(*r).find("STOPPED before damage"), std::string::npos);

  // With --skip-damaged (into a fresh topic) everything but that block lands, and the report
  // names exactly the offsets skipped.
  ASSERT_TRUE(target_.CreateTopic("logs-skip", 2).ok());
  o.topic_map = {{"logs", "logs-skip"}};
  o.skip_damaged = true;
  auto s = restore::RunRestore(o, &no_stop_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->partitions[0].damage.size(), 1u);
  EXPECT_FALSE(s->partitions[0].stopped);
  EXPECT_EQ(s->partitions[0].damage[0].first_offset, bad.first_offset);
  EXPECT_EQ(s->partitions[0].damage[0].last_offset, bad.last_offset);
  std::vector<OwnedRecord> kept;
  for (const auto& rec : produced[0]) {
    if (rec.offset < bad.first_offset || rec.offset > bad.last_offset) kept.push_back(rec);
  }
  got = testing::ConsumeTopic(target_.bootstraps(), "logs-skip");
  EXPECT_EQ(got[0], Renumbered(kept));
  EXPECT_EQ(got[1], Renumbered(produced[1]));
  // A segment file missing behind the manifest's back stops its partition, naming the file.
  const auto& seg1 = sum.manifest.topics.at("logs").partitions[1].segments[0];
  fs::remove(sum.backup_dir + "/" + seg1.path);
  ASSERT_TRUE(target_.CreateTopic("logs-missing", 2).ok());
  o.topic_map = {{"logs", "logs-missing"}};
  o.skip_damaged = false;
  auto missing = restore::RunRestore(o, &no_stop_);
  ASSERT_TRUE(missing.ok()) << missing.status().message();
  const auto& p1 = missing->partitions[1];
  EXPECT_TRUE(p1.stopped);
  ASSERT_EQ(p1.damage.size(), 1u);
  EXPECT_EQ(p1.damage[0].file, seg1.path);
  EXPECT_NE(p1.damage[0].what.find("No such file"), std::string::npos) << p1.damage[0].what;
  EXPECT_EQ(TargetHighWater("logs-missing", 1), 0);
}

TEST_F(RestoreTest, RateLimitHoldsTheBytesPerSecond) {
  Fill("slow", 1, 2500);
  Backup("r", {"slow"});
  ASSERT_TRUE(target_.CreateTopic("slow", 1).ok());
  auto o = Options("r");
  o.rate_limit_bytes = 200 * 1000;
  const int64_t t0 = MonotonicNs();
  auto r = restore::RunRestore(o, &no_stop_);
  const double secs = static_cast<double>(MonotonicNs() - t0) / 1e9;
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_GT(r->bytes, 300'000u);
  // A lower bound only (a slow machine can only take longer): at most one 100 ms bucket may go
  // ahead of the rate.
  const double floor_s =
      (static_cast<double>(r->bytes) - 0.1 * o.rate_limit_bytes) / o.rate_limit_bytes;
  EXPECT_GE(secs, floor_s * 0.98) << r->bytes << " bytes";
}

TEST_F(RestoreTest, NonEmptyTargetIsRefusedUnlessAllowed) {
  auto produced = Fill("busy", 1, 100);
  Backup("n", {"busy"});
  ASSERT_TRUE(target_.CreateTopic("busy", 1).ok());
  {
    kafka::Producer p;
    ASSERT_TRUE(p.Connect(target_.bootstraps()).ok());
    ASSERT_TRUE(p.Produce("busy", 0, std::nullopt, std::string("already here"), {}, 1).ok());
    ASSERT_TRUE(p.Flush().ok());
  }
  auto o = Options("n");
  auto refused = restore::RunRestore(o, &no_stop_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(ExitCodeFor(refused.status()), 2);
  EXPECT_NE(refused.status().message().find("--allow-nonempty"), std::string::npos);
  EXPECT_EQ(TargetHighWater("busy", 0), 1);

  o.allow_nonempty = true;
  auto r = restore::RunRestore(o, &no_stop_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto again = restore::RunRestore(o, &no_stop_);  // the state remembers where it started
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->produced, 0u);
  auto got = testing::ConsumeTopic(target_.bootstraps(), "busy")[0];
  ASSERT_EQ(got.size(), 101u);
  EXPECT_EQ(std::vector<OwnedRecord>(got.begin() + 1, got.end()), Renumbered(produced[0], 1));
}

TEST_F(RestoreTest, ActiveGroupOnTheTargetIsNotMovedAndIsNamed) {
  Fill("live", 1, 50);
  {
    kafka::Producer admin;
    ASSERT_TRUE(admin.Connect(source_.bootstraps()).ok());
    ASSERT_TRUE(
        kafka::CommitGroupOffsets(admin.handle(), "readers", {{{"live", 0}, 20}}, 10000).ok());
  }
  Backup("a", {"live"}, {"readers"});
  ASSERT_TRUE(target_.CreateTopic("live", 1).ok());
  // A consumer of group "readers" is running on the target.
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", target_.bootstraps().c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "group.id", "readers", err, sizeof(err));
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  ASSERT_NE(consumer, nullptr);
  rd_kafka_topic_partition_list_t* sub = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(sub, "live", RD_KAFKA_PARTITION_UA);
  ASSERT_EQ(rd_kafka_subscribe(consumer, sub), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(sub);
  for (int i = 0; i < 50; ++i) {  // until the group has its member
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m != nullptr) rd_kafka_message_destroy(m);
    rd_kafka_topic_partition_list_t* a = nullptr;
    rd_kafka_assignment(consumer, &a);
    const bool assigned = a != nullptr && a->cnt > 0;
    if (a != nullptr) rd_kafka_topic_partition_list_destroy(a);
    if (assigned) break;
  }
  auto o = Options("a");
  o.groups = {"readers"};
  auto r = restore::RunRestore(o, &no_stop_);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  ASSERT_FALSE(r.ok()) << "the offsets of a group with a live member were moved";
  EXPECT_NE(r.status().message().find("readers"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("active"), std::string::npos) << r.status().message();
  // The mock cluster cannot describe groups, so the refusal comes from the commit itself, after
  // the records landed. (The mock keeps refusing commits from outside the group even after its
  // member left, unlike Kafka, so the re-run that only commits is not exercised here.)
  EXPECT_EQ(TargetHighWater("live", 0), 50);
  EXPECT_NE(r.status().message().find("every record landed"), std::string::npos);
}

}  // namespace
}  // namespace tidemark
