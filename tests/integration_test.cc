// Integration tests: snapshot backups of librdkafka's mock cluster over TCP, compared record by
// record with what was produced; gaps; verify against damage.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "backup/snapshot.h"
#include "backup_reader.h"
#include "io/io_backend.h"
#include "kafka/mock.h"
#include "segment/segment_reader.h"
#include "shard/partition_pipeline.h"
#include "test_util.h"
#include "verify/verify.h"

namespace tidemark {
namespace {

namespace fs = std::filesystem;
using testing::OwnedHeader;
using testing::OwnedRecord;

using testing::PartitionRecords;
using testing::ReadBackup;

class MockClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.Start(3).ok());
    dir_ = testing::FreshTestDir("it");
  }
  void TearDown() override { fs::remove_all(dir_); }

  config::Config BackupConfig(const std::string& id, std::vector<std::string> topics) {
    config::Config c;
    c.kafka.bootstrap_servers = cluster_.bootstraps();
    c.kafka.timeout_ms = 20000;
    c.backup.id = id;
    c.backup.topics = std::move(topics);
    c.backup.shards = 2;
    c.backup.block_bytes = 64 * 1024;  // several blocks per partition
    c.backup.segment_max_bytes = 1 << 20;
    c.storage.path = dir_.string();
    return c;
  }

  // Every Fetch from now on fails (librdkafka backs off and retries, forever) until cleared.
  void FailFetches() {
    std::vector<rd_kafka_resp_err_t> errors(5000, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    rd_kafka_mock_push_request_errors_array(cluster_.handle(), kFetchApiKey, errors.size(),
                                            errors.data());
  }
  void ClearFetchFailures() { rd_kafka_mock_clear_request_errors(cluster_.handle(), kFetchApiKey); }
  static constexpr int16_t kFetchApiKey = 1;

  kafka::MockCluster cluster_;
  fs::path dir_;
};

TEST_F(MockClusterTest, EveryFieldOfEveryRecordSurvives) {
  ASSERT_TRUE(cluster_.CreateTopic("orders", 3).ok());
  ASSERT_TRUE(cluster_.CreateTopic("payments", 2).ok());
  ASSERT_TRUE(cluster_.CreateTopic("empty", 2).ok());
  ASSERT_TRUE(cluster_.CreateTopic("other", 1).ok());  // not matched by the patterns
  kafka::Producer producer;
  ASSERT_TRUE(producer.Connect(cluster_.bootstraps(), {{"message.max.bytes", "4000000"}}).ok());
  std::mt19937_64 rng(99);
  PartitionRecords expected;
  for (const auto& [topic, parts] :
       std::vector<std::pair<std::string, int>>{{"orders", 3}, {"payments", 2}}) {
    for (int32_t p = 0; p < parts; ++p) {
      auto& recs = expected[{topic, p}];
      for (int i = 0; i < 1500; ++i) {
        OwnedRecord r = testing::MakeRecord(rng, i);
        if (i == 7)
          r.value = std::string(1536 * 1024, 'z');  // a 1.5 MiB value, larger than a block
        std::vector<kafka::ProduceHeader> hs;
        for (const auto& h : r.headers) hs.push_back({h.name, h.value});
        r.timestamp_type = format::TimestampType::kCreateTime;
        Status st = producer.Produce(topic, p, r.key, r.value, hs, r.timestamp);
        ASSERT_TRUE(st.ok()) << st.message();
        recs.push_back(r);
      }
    }
  }
  ASSERT_TRUE(producer.Produce("other", 0, std::nullopt, std::string("x"), {}, 1).ok());
  ASSERT_TRUE(producer.Flush().ok());

  config::Config c = BackupConfig("b1", {"orders", "pay*", "empty"});
  c.backup.compression = format::Codec::kNone;  // uncompressed end to end, and segments roll
  c.backup.segment_max_bytes = 128 * 1024;
  auto sum = backup::RunSnapshot(c, nullptr);
  ASSERT_TRUE(sum.ok()) << sum.status().message();
  EXPECT_EQ(sum->records, 5u * 1500);
  const auto& m = sum->manifest;
  ASSERT_EQ(m.topics.size(), 3u);
  EXPECT_EQ(m.topics.count("other"), 0u);
  EXPECT_EQ(m.topics.at("orders").partition_count, 3);
  // The mock cluster has no DescribeConfigs: a note, not a failure.
  EXPECT_FALSE(m.topics.at("orders").configs.has_value());
  EXPECT_FALSE(m.topics.at("orders").configs_note.empty());
  for (const auto& p : m.topics.at("empty").partitions) {
    EXPECT_EQ(p.records, 0u);
    EXPECT_TRUE(p.segments.empty());
    EXPECT_EQ(p.end_offset, 0);
  }

  PartitionRecords got = ReadBackup(sum->backup_dir);
  for (const auto& [key, recs] : expected) {
    SCOPED_TRACE(key.first + "/" + std::to_string(key.second));
    const auto& g = got[key];
    ASSERT_EQ(g.size(), recs.size());
    for (size_t i = 0; i < recs.size(); ++i) {
      ASSERT_EQ(g[i], recs[i]) << "record " << i;
    }
  }
  // Segments rolled at segment_max_bytes (128 KiB).
  EXPECT_GT(m.TotalSegments(), 10u);

  auto report = verify::VerifyBackup(dir_.string(), "b1");
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << verify::ReportToText(*report);
  EXPECT_EQ(report->records, 5u * 1500);
}

TEST_F(MockClusterTest, AbortedTransactionsAreNotBackedUp) {
  ASSERT_TRUE(cluster_.CreateTopic("tx", 1).ok());
  kafka::Producer producer;
  ASSERT_TRUE(producer.Connect(cluster_.bootstraps(), {{"transactional.id", "tm-test"}}).ok());
  rd_kafka_t* rk = producer.handle();
  ASSERT_EQ(rd_kafka_init_transactions(rk, 20000), nullptr);
  int committed = 0;
  for (int txn = 0; txn < 6; ++txn) {
    ASSERT_EQ(rd_kafka_begin_transaction(rk), nullptr);
    const bool abort = txn % 2 == 1;
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(
          producer.Produce("tx", 0, "k", std::string(abort ? "aborted" : "committed"), {}, 1000 + i)
              .ok());
    }
    if (abort) {
      ASSERT_EQ(rd_kafka_abort_transaction(rk, 20000), nullptr);
    } else {
      ASSERT_EQ(rd_kafka_commit_transaction(rk, 20000), nullptr);
      committed += 50;
    }
  }
  auto sum = backup::RunSnapshot(BackupConfig("tx", {"tx"}), nullptr);
  ASSERT_TRUE(sum.ok()) << sum.status().message();
  PartitionRecords got = ReadBackup(sum->backup_dir);
  const auto& recs = got[{"tx", 0}];
  ASSERT_EQ(recs.size(), static_cast<size_t>(committed));
  for (const auto& r : recs) EXPECT_EQ(r.value, std::optional<std::string>("committed"));
  auto report = verify::VerifyBackup(dir_.string(), "tx");
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << verify::ReportToText(*report);
}

TEST_F(MockClusterTest, PartitionPastRetentionRecordsAGapFromZero) {
  ASSERT_TRUE(cluster_.CreateTopic("big", 1).ok());
  kafka::Producer producer;
  ASSERT_TRUE(producer.Connect(cluster_.bootstraps()).ok());
  // About 12 MB into one partition: the mock cluster keeps only the last ~5 MB.
  const std::string value(64 * 1024, 'r');
  for (int i = 0; i < 190; ++i)
    ASSERT_TRUE(producer.Produce("big", 0, std::to_string(i), value, {}, 5000 + i).ok());
  ASSERT_TRUE(producer.Flush().ok());
  auto sum = backup::RunSnapshot(BackupConfig("ret", {"big"}), nullptr);
  ASSERT_TRUE(sum.ok()) << sum.status().message();
  const auto& p = sum->manifest.topics.at("big").partitions.at(0);
  ASSERT_FALSE(p.gaps.empty());
  EXPECT_EQ(p.gaps.front().from, 0);
  EXPECT_GT(p.gaps.front().to, 0);
  EXPECT_EQ(p.gaps.front().reason, backup::kGapLogStart);
  EXPECT_EQ(p.end_offset, 190);
  EXPECT_EQ(static_cast<int64_t>(p.records), 190 - p.gaps.front().to);
  auto got = ReadBackup(sum->backup_dir)[{"big", 0}];
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front().offset, p.gaps.front().to);
  EXPECT_EQ(got.back().offset, 189);
  auto report = verify::VerifyBackup(dir_.string(), "ret");
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << verify::ReportToText(*report);
}

// A broker that stops serving fetches: the snapshot does not hang and does not pretend; it
// fails after the configured timeout, naming every partition it could not finish.
TEST_F(MockClusterTest, StalledFetchesFailLoudlyNamingWhatIsMissing) {
  ASSERT_TRUE(cluster_.CreateTopic("stuck", 2).ok());
  kafka::Producer producer;
  ASSERT_TRUE(producer.Connect(cluster_.bootstraps()).ok());
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(producer.Produce("stuck", i % 2, "k", std::string("v"), {}, 1 + i).ok());
  }
  ASSERT_TRUE(producer.Flush().ok());
  FailFetches();
  config::Config c = BackupConfig("stall", {"stuck"});
  c.kafka.timeout_ms = 2000;
  auto sum = backup::RunSnapshot(c, nullptr);
  ASSERT_FALSE(sum.ok());
  EXPECT_TRUE(sum.status().Is(Errc::kIncomplete)) << sum.status().message();
  EXPECT_EQ(ExitCodeFor(sum.status()), 1);
  const std::string& msg = sum.status().message();
  EXPECT_NE(msg.find("no progress for 2000 ms"), std::string::npos) << msg;
  EXPECT_NE(msg.find("stuck/0 (at offset 0 of 50)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("stuck/1 (at offset 0 of 50)"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir_ / "stall" / "manifest.json"));
  ClearFetchFailures();
}

// A stop request (SIGINT/SIGTERM in the CLI) ends the snapshot promptly as a failure.
TEST_F(MockClusterTest, StopRequestEndsTheSnapshotAsAFailure) {
  ASSERT_TRUE(cluster_.CreateTopic("s", 1).ok());
  kafka::Producer producer;
  ASSERT_TRUE(producer.Connect(cluster_.bootstraps()).ok());
  ASSERT_TRUE(producer.Produce("s", 0, "k", std::string("v"), {}, 1).ok());
  ASSERT_TRUE(producer.Flush().ok());
  FailFetches();
  std::atomic<bool> stop{true};  // asked to stop before any record arrives
  auto sum = backup::RunSnapshot(BackupConfig("stop", {"s"}), &stop);
  ASSERT_FALSE(sum.ok());
  EXPECT_TRUE(sum.status().Is(Errc::kAborted)) << sum.status().message();
  EXPECT_NE(sum.status().message().find("s/0"), std::string::npos) << sum.status().message();
  ClearFetchFailures();
}

// --- non-contiguous offsets, as a real broker leaves them for transaction markers, aborted data
// and compaction (the mock cluster writes no control records, so this is fed directly) --------

struct PipelineFixture {
  std::unique_ptr<io::IoBackend> io;
  std::unique_ptr<segment::WritePool> pool;
  segment::BlockCodec codec{format::Codec::kLz4, 1};
};

TEST(PartitionPipeline, OffsetGapsAreRecordedAndVerifyTellsThemFromHoles) {
  fs::path dir = testing::FreshTestDir("gaps");
  fs::create_directories(dir / "g");
  PipelineFixture f;
  auto io = io::MakeUringBackend(dir.string(), {io::DirectIoMode::kAuto, 16});
  ASSERT_TRUE(io.ok());
  f.io = std::move(io.value());
  f.pool =
      std::make_unique<segment::WritePool>(f.io.get(), 4, segment::BlockCodec::MaxBlockSize(4096));
  backup::PartitionManifest pm;
  {
    shard::PartitionPipeline p({"t", 0, /*log_start=*/3, /*end_offset=*/40},
                               {(dir / "g").string(), "g", 4096, 1 << 20}, f.pool.get(), &f.codec);
    // Offsets 3..9, then a commit marker at 10, records 11..19, aborted data 20..29 and its
    // marker 30, records 31..37, and a final marker at 38..39 seen only through EOF.
    std::vector<int64_t> offsets;
    for (int64_t o = 3; o < 10; ++o) offsets.push_back(o);
    for (int64_t o = 11; o < 20; ++o) offsets.push_back(o);
    for (int64_t o = 31; o < 38; ++o) offsets.push_back(o);
    std::vector<HeaderView> scratch;
    for (int64_t o : offsets) {
      OwnedRecord r;
      r.offset = o;
      r.timestamp = 1000 + o;
      r.value = std::string(600, 'a' + static_cast<char>(o % 26));
      ASSERT_TRUE(p.Append(r.View(&scratch)).ok());
      r.offset = o - 1;  // a redelivery is dropped, not stored twice
      ASSERT_TRUE(p.Append(r.View(&scratch)).ok());
    }
    EXPECT_FALSE(p.done());
    p.OnEof(40);
    EXPECT_TRUE(p.done());
    ASSERT_TRUE(p.Finish().ok());
    EXPECT_EQ(p.duplicates_dropped(), offsets.size());
    pm = p.Result();
    ASSERT_TRUE(f.pool->Drain().ok());
  }
  ASSERT_EQ(pm.gaps.size(), 4u);
  EXPECT_EQ(pm.gaps[0].from, 0);
  EXPECT_EQ(pm.gaps[0].to, 3);
  EXPECT_EQ(pm.gaps[0].reason, backup::kGapLogStart);
  EXPECT_EQ(pm.gaps[1].from, 10);
  EXPECT_EQ(pm.gaps[1].to, 11);
  EXPECT_EQ(pm.gaps[2].from, 20);
  EXPECT_EQ(pm.gaps[2].to, 31);
  EXPECT_EQ(pm.gaps[3].from, 38);
  EXPECT_EQ(pm.gaps[3].to, 40);
  EXPECT_EQ(pm.records, 23u);

  backup::Manifest m;
  m.id = "g";
  m.compression = "lz4";
  m.topics["t"].partition_count = 1;
  m.topics["t"].partitions.push_back(pm);
  ASSERT_TRUE(backup::WriteManifest((dir / "g").string(), m).ok());
  auto ok = verify::VerifyBackup(dir.string(), "g");
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->ok()) << verify::ReportToText(*ok);

  // Forget one gap: the same data is now a hole, and verify must say so.
  m.topics["t"].partitions[0].gaps.erase(m.topics["t"].partitions[0].gaps.begin() + 2);
  ASSERT_TRUE(backup::WriteManifest((dir / "g").string(), m).ok());
  auto bad = verify::VerifyBackup(dir.string(), "g");
  ASSERT_TRUE(bad.ok());
  ASSERT_FALSE(bad->ok());
  EXPECT_NE(bad->damage.front().what.find("20..30"), std::string::npos) << bad->damage.front().what;
  fs::remove_all(dir);
}

// --- verify against damage ------------------------------------------------------------------

class VerifyDamageTest : public MockClusterTest {
 protected:
  void SetUp() override {
    MockClusterTest::SetUp();
    ASSERT_TRUE(cluster_.CreateTopic("v", 1).ok());
    kafka::Producer producer;
    ASSERT_TRUE(producer.Connect(cluster_.bootstraps()).ok());
    std::mt19937_64 rng(5);
    for (int i = 0; i < 3000; ++i) {
      OwnedRecord r = testing::MakeRecord(rng, i);
      ASSERT_TRUE(producer.Produce("v", 0, r.key, r.value, {}, r.timestamp).ok());
    }
    ASSERT_TRUE(producer.Flush().ok());
    auto sum = backup::RunSnapshot(BackupConfig("v", {"v"}), nullptr);
    ASSERT_TRUE(sum.ok()) << sum.status().message();
    const auto& segs = sum->manifest.topics.at("v").partitions.at(0).segments;
    ASSERT_EQ(segs.size(), 1u);
    segment_ = (dir_ / "v" / segs[0].path).string();
    ASSERT_TRUE(verify::VerifyBackup(dir_.string(), "v")->ok());
    std::ifstream in(segment_, std::ios::binary);
    original_.assign(std::istreambuf_iterator<char>(in), {});
    ASSERT_GT(original_.size(), 4u * format::kPageSize);
  }
  void WriteSegment(const std::string& bytes) {
    std::ofstream out(segment_, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  std::string segment_;
  std::string original_;
};

TEST_F(VerifyDamageTest, OneFlippedByteAnywhereIsCaught) {
  segment::SegmentReader reader;
  ASSERT_TRUE(reader.Open(segment_).ok());
  const uint64_t first_block = format::kFileHeaderSize;
  const uint64_t footer = reader.blocks_end();
  const uint64_t size = reader.file_size();
  // File header, block header, the middle of a payload, the last block, footer, trailer.
  const std::vector<uint64_t> positions = {
      10,         first_block + 3, first_block + 40, first_block + 500,
      footer / 2, footer - 200,    footer + 20,      size - 8};
  for (uint64_t pos : positions) {
    SCOPED_TRACE("flipped byte at " + std::to_string(pos));
    std::string bad = original_;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x01);
    // Some of these positions land in zero padding; only check positions that hold data.
    WriteSegment(bad);
    auto r = verify::VerifyBackup(dir_.string(), "v");
    ASSERT_TRUE(r.ok());
    bool padding = false;
    if (pos >= first_block && pos < footer) {
      // Find whether pos is inside a block's meaningful bytes.
      segment::SegmentReader clean;
      WriteSegment(original_);
      ASSERT_TRUE(clean.Open(segment_).ok());
      padding = true;
      for (const auto& e : clean.footer().blocks) {
        format::BlockHeader h;
        std::span<const uint8_t> payload;
        ASSERT_TRUE(clean.ReadBlockAt(e.file_offset, &h, &payload).ok());
        if (pos >= e.file_offset && pos < e.file_offset + format::kBlockHeaderSize + h.stored_size)
          padding = false;
      }
    }
    if (!padding) {
      EXPECT_FALSE(r->ok()) << "flip not caught";
      if (!r->ok()) {
        EXPECT_NE(r->damage.front().file.find(".tmseg"), std::string::npos);
      }
    }
  }
  WriteSegment(original_);
  EXPECT_TRUE(verify::VerifyBackup(dir_.string(), "v")->ok());
}

TEST_F(VerifyDamageTest, TruncatedSegmentIsCaught) {
  for (size_t cut : {original_.size() - 1, original_.size() - format::kPageSize,
                     original_.size() / 2, size_t{5000}}) {
    SCOPED_TRACE("truncated to " + std::to_string(cut));
    WriteSegment(original_.substr(0, cut));
    auto r = verify::VerifyBackup(dir_.string(), "v");
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok());
  }
}

TEST_F(VerifyDamageTest, MissingSegmentIsCaught) {
  fs::remove(segment_);
  auto r = verify::VerifyBackup(dir_.string(), "v");
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->ok());
  EXPECT_NE(r->damage.front().what.find("No such file"), std::string::npos)
      << r->damage.front().what;
}

}  // namespace
}  // namespace tidemark
