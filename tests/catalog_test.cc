// The catalog (backup/catalog.h): checkpoints append only what changed, folds move the changes
// into the topic logs, a crash at any point between leaves a catalog that reads back exactly,
// and a damaged or crafted catalog is an error naming the file.
#include "backup/catalog.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <xxhash.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "backup/catalog_lines.h"
#include "backup/manifest.h"
#include "backup/prune.h"
#include "backup/retention.h"
#include "backup/store_catalog.h"
#include "common/dir_lock.h"
#include "service/store.h"
#include "tidemark/format.h"
#include "verify/verify.h"

namespace tidemark::backup {
namespace {

namespace fs = std::filesystem;

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // <storage path>/<backup id>, the storage path holding nothing else.
    root_ = fs::temp_directory_path() /
            ("tm-catalog-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    dir_ = root_ / "cat";
    fs::remove_all(root_);
    fs::create_directories(dir_);
    m_.id = "cat";
    m_.kind = "continuous";
    m_.started_ms = 1763647380000;
    m_.compression = "zstd";
    m_.level = 1;
    m_.groups_note = "a continuous backup does not capture consumer groups";
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string dir() const { return dir_.string(); }
  std::string cat(const std::string& rel) const { return (dir_ / kCatalogDir / rel).string(); }

  // Appends a sealed segment of `n` records at the partition's end, as a shard's seal would.
  void Seal(const std::string& topic, int32_t part, uint64_t n, int64_t skip = 0) {
    PartitionManifest& p = FindOrAddPartition(&m_, topic, part);
    if (skip > 0) {
      AddGap(&p, p.end_offset, p.end_offset + skip, kGapNotDelivered);
      p.end_offset += skip;
    }
    segment::SealedSegment s;
    s.first_offset = p.end_offset;
    s.last_offset = p.end_offset + static_cast<int64_t>(n) - 1;
    s.path = format::PartitionDir(topic, part) + "/" + format::SegmentName(s.first_offset, true);
    s.min_timestamp = 1763647380000 + s.first_offset;
    s.max_timestamp = s.min_timestamp + 10;
    s.records = n;
    s.bytes_raw = n * 100;
    s.bytes_stored = 12288;
    s.blocks = 1;
    s.checksum = 0x9f86d081884c7d65ull + static_cast<uint64_t>(s.first_offset);
    p.end_offset = s.last_offset + 1;
    p.records += s.records;
    p.bytes_raw += s.bytes_raw;
    p.bytes_stored += s.bytes_stored;
    p.segments.push_back(s);
    changed_.insert({topic, part});
  }

  Status Checkpoint(CatalogWriter& w, std::vector<std::string> marked = {}) {
    m_.finished_ms += 1000;
    Status s = w.Checkpoint(m_, changed_, marked);
    if (s.ok()) changed_.clear();
    return s;
  }

  // The catalog read back equals what the writer was given.
  void ExpectReadsBack(const ReadScope& scope = {}) {
    auto r = ReadCatalog(dir(), scope);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(ManifestToJson(*r), ManifestToJson(m_));
  }

  static uint64_t Size(const std::string& path) {
    std::error_code ec;
    const auto n = fs::file_size(path, ec);
    return ec ? 0 : n;
  }

  fs::path root_, dir_;
  Manifest m_;
  std::set<TopicPartition> changed_;
};

TEST_F(CatalogTest, ReadsBackWhatCheckpointsWroteWithAndWithoutFolds) {
  auto w = CatalogWriter::Create(dir(), m_);
  ASSERT_TRUE(w.ok()) << w.status().message();
  ExpectReadsBack();
  for (int i = 0; i < 30; ++i) {
    Seal("orders", i % 3, 10 + static_cast<uint64_t>(i), i % 4 == 0 ? 5 : 0);
    if (i % 5 == 0) Seal("orders..v2", 0, 3);
    ASSERT_TRUE(Checkpoint(**w).ok());
    ExpectReadsBack();
    if (i == 12) {
      ASSERT_TRUE((*w)->Fold(m_).ok());
      EXPECT_EQ(Size(cat(kChangesLog)), 0u);
      ExpectReadsBack();
    }
  }
  // A writer opened again (the next start) appends after what is there.
  auto again = ReadCatalog(dir());
  ASSERT_TRUE(again.ok());
  auto w2 = CatalogWriter::Open(dir(), *again);
  ASSERT_TRUE(w2.ok()) << w2.status().message();
  Seal("orders", 1, 7);
  ASSERT_TRUE(Checkpoint(**w2).ok());
  ExpectReadsBack();
  ASSERT_TRUE((*w2)->Fold(m_).ok());
  ExpectReadsBack();
}

TEST_F(CatalogTest, ACheckpointWritesWhatChangedNotTheHistory) {
  auto w = CatalogWriter::Create(dir(), m_);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 5000; ++i) Seal("orders", i % 50, 100);
  ASSERT_TRUE(Checkpoint(**w).ok());
  ASSERT_TRUE((*w)->Fold(m_).ok());
  // One more segment in one partition: the line holds that segment, not the partition's 100.
  const uint64_t before = Size(cat(kChangesLog));
  Seal("orders", 7, 100);
  ASSERT_TRUE(Checkpoint(**w).ok());
  const uint64_t grew = Size(cat(kChangesLog)) - before;
  EXPECT_GT(grew, 200u);
  EXPECT_LT(grew, 1200u) << "a checkpoint of one new segment wrote " << grew << " bytes";
  // Nothing changed: nothing written.
  const uint64_t after = Size(cat(kChangesLog));
  ASSERT_TRUE((*w)->Checkpoint(m_, {}, {}).ok());
  EXPECT_EQ(Size(cat(kChangesLog)), after);
  ExpectReadsBack();
}

TEST_F(CatalogTest, AGapThatGrowsAndUploadMarksReadBack) {
  auto w = CatalogWriter::Create(dir(), m_);
  ASSERT_TRUE(w.ok());
  Seal("orders", 0, 10);
  PartitionManifest& p = FindOrAddPartition(&m_, "orders", 0);
  AddGap(&p, p.end_offset, p.end_offset + 5, kGapLogStart);
  p.end_offset += 5;
  ASSERT_TRUE(Checkpoint(**w).ok());
  AddGap(&p, p.end_offset, p.end_offset + 5, kGapLogStart);  // merges into the last gap
  p.end_offset += 5;
  changed_.insert({"orders", 0});
  ASSERT_TRUE(Checkpoint(**w).ok());
  ExpectReadsBack();
  ASSERT_EQ(p.gaps.size(), 1u);
  p.segments[0].uploaded_ms = 1763647999000;
  ASSERT_TRUE(Checkpoint(**w, {p.segments[0].path}).ok());
  ExpectReadsBack();
  ASSERT_TRUE((*w)->Fold(m_).ok());
  p.segments[0].local = false;
  ASSERT_TRUE(Checkpoint(**w, {p.segments[0].path}).ok());
  ExpectReadsBack();
}

TEST_F(CatalogTest, ReadersLoadOnlyTheTopicsAskedForAndSummaries) {
  auto w = CatalogWriter::Create(dir(), m_);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 20; ++i) {
    Seal("orders", i % 2, 10);
    Seal("payments", 0, 5);
  }
  ASSERT_TRUE(Checkpoint(**w).ok());
  ASSERT_TRUE((*w)->Fold(m_).ok());
  Seal("payments", 1, 5);  // only in changes.log
  ASSERT_TRUE(Checkpoint(**w).ok());

  auto one = ReadCatalog(dir(), {[](const std::string& t) { return t == "payments"; }, false});
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(one->topics.size(), 1u);
  EXPECT_EQ(one->TotalSegments(), 21u);
  // describe --topics payments does not need the other topic's log.
  fs::remove_all(dir_ / kCatalogDir / "topics" / "orders");
  auto described = verify::DescribeBackup(root_.string(), "cat",
                                          /*json=*/false, {"pay*"});
  ASSERT_TRUE(described.ok()) << described.status().message();
  EXPECT_NE(described->find("topic payments"), std::string::npos) << *described;
  EXPECT_EQ(described->find("topic orders"), std::string::npos) << *described;
  // A summary does not read the topic logs: removing them does not matter to it.
  fs::remove_all(dir_ / kCatalogDir / "topics");
  auto sums = ReadCatalog(dir(), {nullptr, true});
  ASSERT_TRUE(sums.ok()) << sums.status().message();
  EXPECT_EQ(sums->TotalRecords(), m_.TotalRecords());
  EXPECT_EQ(sums->TotalBytesStored(), m_.TotalBytesStored());
  EXPECT_EQ(sums->TotalPartitions(), m_.TotalPartitions());
  EXPECT_EQ(sums->finished_ms, m_.finished_ms);
  // ls reads summaries; describe --topics reads the topics it names.
  auto ls = verify::ListBackups(root_.string(), /*json=*/false);
  ASSERT_TRUE(ls.ok()) << ls.status().message();
  EXPECT_NE(ls->find("cat"), std::string::npos) << *ls;
  EXPECT_EQ(ls->find("unreadable"), std::string::npos) << *ls;
  // ... while a full read does, and says which file is missing.
  auto full = ReadCatalog(dir());
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.status().message().find("topics/orders/"), std::string::npos)
      << full.status().message();
}

// A crash while appending (a torn line), while folding (topic logs longer than the root says, or
// the root rewritten but changes.log not yet emptied): the catalog reads back as the last
// complete checkpoint, and a writer opened on it goes on from there.
TEST_F(CatalogTest, CrashesAtEveryStepOfAFoldReadBackExactly) {
  auto w = CatalogWriter::Create(dir(), m_);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 10; ++i) Seal("orders", i % 2, 10);
  ASSERT_TRUE(Checkpoint(**w).ok());
  const Manifest durable = m_;

  // Torn append.
  { std::ofstream(cat(kChangesLog), std::ios::app) << "0123456789abcdef {\"seq\":99,\"ty"; }
  ExpectReadsBack();

  // The root rewritten by a fold, changes.log not yet emptied: its lines are skipped by seq.
  std::string changes;
  {
    std::ifstream in(cat(kChangesLog));
    changes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_TRUE((*w)->Fold(m_).ok());
  { std::ofstream(cat(kChangesLog), std::ios::trunc) << changes; }
  ExpectReadsBack();

  // A fold that appended to a topic log but died before the root: extra bytes past the root's
  // length are not read, and cut off by the next writer.
  std::string log_rel;
  for (auto& e : fs::recursive_directory_iterator(dir_ / kCatalogDir / "topics"))
    if (e.is_regular_file()) log_rel = fs::relative(e.path(), dir_ / kCatalogDir).string();
  ASSERT_FALSE(log_rel.empty());
  const uint64_t log_size = Size(cat(log_rel));
  { std::ofstream(cat(log_rel), std::ios::app) << "ffffffffffffffff {\"seq\":12345}\n"; }
  ExpectReadsBack();
  auto read = ReadCatalog(dir());
  ASSERT_TRUE(read.ok());
  auto w2 = CatalogWriter::Open(dir(), *read);
  ASSERT_TRUE(w2.ok()) << w2.status().message();
  EXPECT_EQ(Size(cat(log_rel)), log_size);
  Seal("orders", 0, 4);
  ASSERT_TRUE(Checkpoint(**w2).ok());
  ASSERT_TRUE((*w2)->Fold(m_).ok());
  ExpectReadsBack();
  EXPECT_EQ(m_.TotalSegments(), durable.TotalSegments() + 1);
}

TEST_F(CatalogTest, ADamagedOrCraftedCatalogIsAnErrorNamingTheFile) {
  auto w = CatalogWriter::Create(dir(), m_);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 4; ++i) Seal("orders", 0, 10);
  ASSERT_TRUE(Checkpoint(**w).ok());
  ASSERT_TRUE((*w)->Fold(m_).ok());
  std::string log_rel;
  for (auto& e : fs::recursive_directory_iterator(dir_ / kCatalogDir / "topics"))
    if (e.is_regular_file()) log_rel = fs::relative(e.path(), dir_ / kCatalogDir).string();

  // Every single changed byte of the topic log, inside what the root vouches for, is refused.
  std::string log;
  {
    std::ifstream in(cat(log_rel));
    log.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (size_t i = 0; i < log.size(); i += 7) {
    std::string bad = log;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    std::ofstream(cat(log_rel), std::ios::trunc) << bad;
    auto r = ReadCatalog(dir());
    ASSERT_FALSE(r.ok()) << "byte " << i;
    EXPECT_NE(r.status().message().find(log_rel), std::string::npos) << r.status().message();
  }
  std::ofstream(cat(log_rel), std::ios::trunc) << log;
  ExpectReadsBack();

  // A well-checksummed line that replaces segments past what the partition has.
  auto crafted = [](const std::string& json) {
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx",
                  static_cast<unsigned long long>(XXH3_64bits(json.data(), json.size())));
    return std::string(hex) + " " + json + "\n";
  };
  {
    std::ofstream(cat(kChangesLog), std::ios::app) << crafted(
        R"({"seq":100000,"type":"partition","topic":"orders","partition":0,"start_offset":0,)"
        R"("end_offset":40,"records":40,"bytes_raw":4000,"bytes_stored":49152,)"
        R"("segments_from":9,"segments":[],"gaps_from":0,"gaps":[]})");
  }
  auto r = ReadCatalog(dir());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("changes.log"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("past the 4 segments"), std::string::npos)
      << r.status().message();
  // A partition number that would overflow the partition count, and a root pointing its log
  // outside the catalog.
  fs::resize_file(cat(kChangesLog), 0);
  {
    std::ofstream(cat(kChangesLog), std::ios::app)
        << crafted(R"({"seq":100001,"type":"partition","topic":"orders","partition":2147483647,)"
                   R"("start_offset":0,"end_offset":0,"records":0,"bytes_raw":0,"bytes_stored":0,)"
                   R"("segments_from":0,"segments":[],"gaps_from":0,"gaps":[]})");
  }
  r = ReadCatalog(dir());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not a partition number"), std::string::npos)
      << r.status().message();
  fs::resize_file(cat(kChangesLog), 0);
  std::string root;
  {
    std::ifstream in(cat(kCatalogRoot));
    root.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t at = root.find(log_rel);
  ASSERT_NE(at, std::string::npos);
  std::string escape = root;
  escape.replace(at, log_rel.size(), "../../../../etc/passwd");
  std::ofstream(cat(kCatalogRoot), std::ios::trunc) << escape;
  r = ReadCatalog(dir());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("is not topics/orders/<20 digits>.log"), std::string::npos)
      << r.status().message();
  // A root without the generation a writer continues from is refused by the reader too, not
  // read and then refused by CatalogWriter::Open (a fuzz finding).
  std::string no_generation = root;
  const size_t g = no_generation.find("\"generation\"");
  ASSERT_NE(g, std::string::npos);
  no_generation.replace(g, std::string("\"generation\"").size(), "\"giarenteon\"");
  std::ofstream(cat(kCatalogRoot), std::ios::trunc) << no_generation;
  r = ReadCatalog(dir());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("generation"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(kCatalogRoot), std::string::npos) << r.status().message();
}

// Version 1: a manifest.json still reads; WriteManifest on a backup with a catalog (tidemark
// upload marking segments) writes the catalog, never a manifest.json beside it.
TEST_F(CatalogTest, VersionOneManifestsAndWholeRewrites) {
  Seal("orders", 0, 10);
  ASSERT_TRUE(WriteManifest(dir(), m_).ok());
  EXPECT_FALSE(HasCatalog(dir()));
  EXPECT_TRUE(HasIndex(dir()));
  auto v1 = ReadManifest(dir());
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(ManifestToJson(*v1), ManifestToJson(m_));

  fs::remove(dir_ / kManifestName);
  EXPECT_FALSE(HasIndex(dir()));
  auto w = CatalogWriter::Create(dir(), m_);
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(HasIndex(dir()));
  Seal("orders", 0, 10);
  ASSERT_TRUE(Checkpoint(**w).ok());
  m_.topics["orders"].partitions[0].segments[0].uploaded_ms = 1763647999000;
  ASSERT_TRUE(WriteManifest(dir(), m_).ok());
  EXPECT_FALSE(fs::exists(dir_ / kManifestName));
  auto back = ReadManifest(dir());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(ManifestToJson(*back), ManifestToJson(m_));
  // Only the new generation's logs remain.
  int logs = 0;
  for (auto& e : fs::recursive_directory_iterator(dir_ / kCatalogDir / "topics"))
    logs += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(logs, 1);
}

}  // namespace
}  // namespace tidemark::backup

namespace tidemark::backup {
namespace {

// Retention: whole segments leave from the front of a partition, the offsets below the new start
// become one "retention" gap (so verify can tell pruned from lost), the catalog says so durably
// before any file goes, and a reader of the catalog sees exactly the trimmed backup.
TEST_F(CatalogTest, RetentionTrimsWholeSegmentsFromTheFrontAndRecordsTheRange) {
  auto w = CatalogWriter::Create(dir(), m_);
  ASSERT_TRUE(w.ok());
  // orders/0: 6 segments with newest records at offsets 1..; orders/1: 2 segments.
  for (int i = 0; i < 6; ++i) Seal("orders", 0, 10, i == 3 ? 4 : 0);
  for (int i = 0; i < 2; ++i) Seal("orders", 1, 10);
  ASSERT_TRUE(Checkpoint(**w).ok());
  for (const auto& t : m_.topics["orders"].partitions) {
    for (const auto& s : t.segments) {
      fs::create_directories((dir_ / s.path).parent_path());
      std::ofstream(dir_ / s.path) << "segment";
    }
  }
  const PartitionManifest& p0 = m_.topics["orders"].partitions[0];
  // max_age: every segment whose newest record is older than the cutoff, from the front.
  RetentionPolicy age;
  age.max_age_ms = 1000;
  const int64_t now = p0.segments[2].max_timestamp + 1000 + 1;  // the first three are older
  auto trims = PlanTrims(m_, age, now);
  ASSERT_EQ(trims.size(), 2u);  // orders/1's segments are older still
  EXPECT_EQ(trims[0].start, p0.segments[3].first_offset);
  EXPECT_EQ(trims[0].dropped.size(), 3u);
  EXPECT_EQ(trims[1].start, m_.topics["orders"].partitions[1].end_offset);  // all of it

  auto lock = DirLock::ForPruning(dir());
  ASSERT_TRUE(lock.ok()) << lock.status().message();
  const std::string gone = p0.segments[0].path, kept = p0.segments[3].path;
  auto dropped = TrimContinuous(dir(), &m_, w->get(), trims);
  ASSERT_TRUE(dropped.ok()) << dropped.status().message();
  EXPECT_EQ(dropped->size(), 5u);
  EXPECT_FALSE(fs::exists(dir_ / gone));
  EXPECT_TRUE(fs::exists(dir_ / kept));
  ASSERT_EQ(p0.gaps.front().reason, kGapRetention);
  EXPECT_EQ(p0.gaps.front().from, 0);
  EXPECT_EQ(p0.gaps.front().to, trims[0].start);
  EXPECT_EQ(RetentionStart(p0), trims[0].start);
  EXPECT_EQ(p0.records, 30u);
  ExpectReadsBack();  // from changes.log
  auto sums = ReadCatalog(dir(), {nullptr, true});
  ASSERT_TRUE(sums.ok());
  EXPECT_EQ(sums->TotalRecords(), m_.TotalRecords());
  ASSERT_TRUE((*w)->Fold(m_).ok());
  ExpectReadsBack();  // from the topic log
  // A later seal appends after the trimmed range, and a second trim merges the range.
  Seal("orders", 0, 10);
  ASSERT_TRUE(Checkpoint(**w).ok());
  RetentionPolicy bytes;
  bytes.max_bytes = 2 * 12288;  // the two newest segments of the backup stay
  trims = PlanTrims(m_, bytes, now);
  ASSERT_EQ(trims.size(), 1u);
  ASSERT_TRUE(TrimContinuous(dir(), &m_, w->get(), trims).ok());
  EXPECT_EQ(m_.TotalSegments(), 2u);
  ASSERT_EQ(p0.gaps.size(), 1u) << "the not-delivered gap below the start went into the range";
  EXPECT_EQ(p0.gaps.front().to, p0.segments.front().first_offset);
  ExpectReadsBack();
  auto again = ReadCatalog(dir());
  ASSERT_TRUE(again.ok());
  auto w2 = CatalogWriter::Open(dir(), *again);
  ASSERT_TRUE(w2.ok());
  Seal("orders", 0, 10);
  ASSERT_TRUE(Checkpoint(**w2).ok());
  ExpectReadsBack();
}

// The service's windowed copy (ReadScope::settle): only the segments whose state can still change
// stay in memory, the rest are counted and summed, and the catalog it writes on is the one a
// whole copy would have written.
TEST_F(CatalogTest, AWindowedCopyHoldsOnlyWhatCanChangeAndWritesTheSameCatalog) {
  auto w = CatalogWriter::Create(dir(), m_);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 40; ++i) {
    Seal("orders", i % 4, 10 + static_cast<uint64_t>(i % 3), i % 7 == 0 ? 3 : 0);
    if (i % 10 == 0) {
      ASSERT_TRUE(Checkpoint(**w).ok());
    }
    if (i == 20) {
      ASSERT_TRUE((*w)->Fold(m_).ok());
    }
  }
  ASSERT_TRUE(Checkpoint(**w).ok());
  // Retention trims orders/1 (a line with the count after it); the last segment of orders/2 is
  // marked uploaded, the first one of orders/3 too.
  RetentionPolicy age;
  age.max_age_ms = 1;
  const auto& p1 = m_.topics["orders"].partitions[1];
  Trim t{"orders", 1, p1.segments[4].first_offset, {}};
  t.dropped.assign(p1.segments.begin(), p1.segments.begin() + 4);
  ASSERT_TRUE(TrimContinuous(dir(), &m_, w->get(), {t}).ok());
  auto& p2 = m_.topics["orders"].partitions[2];
  auto& p3 = m_.topics["orders"].partitions[3];
  p2.segments.back().uploaded_ms = 1763647390000;
  p3.segments.front().uploaded_ms = 1763647390001;
  ASSERT_TRUE(Checkpoint(**w, {p2.segments.back().path, p3.segments.front().path}).ok());

  // Settled: everything but orders/2's segments from its sixth on.
  const std::string held_from = p2.segments[5].path;
  ReadScope window;
  window.settle = [&](const segment::SealedSegment& s) {
    return s.path.rfind("topics/orders/2/", 0) != 0 || s.first_offset < p2.segments[5].first_offset;
  };
  auto win = ReadCatalog(dir(), window);
  ASSERT_TRUE(win.ok()) << win.status().message();
  ASSERT_EQ(win->topics["orders"].partitions.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    const PartitionManifest& whole = m_.topics["orders"].partitions[i];
    const PartitionManifest& part = win->topics["orders"].partitions[i];
    EXPECT_EQ(part.SegmentCount(), whole.segments.size()) << i;
    EXPECT_EQ(part.records, whole.records);
    EXPECT_EQ(part.bytes_stored, whole.bytes_stored);
    EXPECT_EQ(part.end_offset, whole.end_offset);
    EXPECT_EQ(part.gaps.size(), whole.gaps.size());
    const size_t held = i == 2 ? whole.segments.size() - 5 : 0;
    ASSERT_EQ(part.segments.size(), held) << i;
    uint64_t records = 0;
    for (size_t k = 0; k < whole.segments.size() - held; ++k) records += whole.segments[k].records;
    EXPECT_EQ(part.settled.records, records) << i;
    EXPECT_EQ(part.settled.end, whole.segments[whole.segments.size() - held - 1].last_offset + 1);
  }
  EXPECT_EQ(win->topics["orders"].partitions[2].segments.front().path, held_from);
  EXPECT_NE(win->topics["orders"].partitions[2].segments.back().uploaded_ms, 0) << "mark kept";

  // A writer on the windowed copy: new seals land as they would from the whole copy.
  auto ww = CatalogWriter::Open(dir(), *win);
  ASSERT_TRUE(ww.ok()) << ww.status().message();
  Manifest copy = *win;
  for (int round = 0; round < 3; ++round) {
    for (int32_t part : {0, 2}) {
      Seal("orders", part, 5, round == 1 ? 2 : 0);
      PartitionManifest& c = FindOrAddPartition(&copy, "orders", part);
      const PartitionManifest& whole = m_.topics["orders"].partitions[static_cast<size_t>(part)];
      c.segments.push_back(whole.segments.back());
      c.gaps = whole.gaps;
      c.end_offset = whole.end_offset;
      c.records = whole.records;
      c.bytes_raw = whole.bytes_raw;
      c.bytes_stored = whole.bytes_stored;
    }
    copy.finished_ms = m_.finished_ms + 1000;
    ASSERT_TRUE((*ww)->Checkpoint(copy, changed_, {}).ok());
    m_.finished_ms = copy.finished_ms;
    changed_.clear();
    ExpectReadsBack();
    // What was written settles (the service does so after each checkpoint).
    SettleSegments(&FindOrAddPartition(&copy, "orders", 0),
                   [](const segment::SealedSegment&) { return true; });
    if (round == 1) {
      ASSERT_TRUE((*ww)->Fold(copy).ok());
    }
    ExpectReadsBack();
  }
  EXPECT_TRUE(copy.topics["orders"].partitions[0].segments.empty());
  // A whole rewrite from a windowed copy is refused: it would lose what it does not hold.
  EXPECT_FALSE(CatalogWriter::Create(dir(), copy).ok());
  ExpectReadsBack();
}

// Retention over a windowed copy reads each partition's front back from the catalog, a few
// segments per turn, and ends where retention over the whole copy ends in one turn.
TEST_F(CatalogTest, WindowedRetentionEndsWhereWholeRetentionDoes) {
  for (const bool by_bytes : {false, true}) {
    SCOPED_TRACE(by_bytes ? "max_bytes" : "max_age");
    fs::remove_all(root_);
    fs::create_directories(dir_);
    m_.topics.clear();
    auto w = CatalogWriter::Create(dir(), m_);
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 120; ++i) {
      // Partitions of different pace (offsets, and so the seals' timestamps, grow apart):
      // orders/0 seals 40 records at a time, orders/3 seals every eighth time.
      const int32_t part = i % 8 == 0 ? 3 : i % 3;
      Seal(part == 2 ? "audit" : "orders", part,
           part == 0 ? 40 : 10 + static_cast<uint64_t>(i % 5));
      if (i % 9 == 0) {
        ASSERT_TRUE(Checkpoint(**w).ok());
      }
      if (i == 50) {
        ASSERT_TRUE((*w)->Fold(m_).ok());
      }
    }
    ASSERT_TRUE(Checkpoint(**w).ok());
    w->reset();
    const fs::path twin = root_ / "twin";
    fs::copy(dir_, twin, fs::copy_options::recursive);

    RetentionPolicy policy;
    int64_t newest = 0;
    for (const auto& [name, t] : m_.topics)
      for (const auto& p : t.partitions) newest = std::max(newest, p.segments.back().max_timestamp);
    if (by_bytes)
      policy.max_bytes = m_.TotalBytesStored() / 3;
    else
      policy.max_age_ms = (newest - 1763647380000) / 2;  // about half of the busiest partition
    const int64_t now = newest + 1;

    // The whole copy: one plan, one trim.
    auto whole_w = CatalogWriter::Open(dir(), m_);
    ASSERT_TRUE(whole_w.ok());
    auto lock = DirLock::ForPruning(dir());
    ASSERT_TRUE(lock.ok());
    const auto whole_trims = PlanTrims(m_, policy, now);
    ASSERT_FALSE(whole_trims.empty());
    ASSERT_TRUE(TrimContinuous(dir(), &m_, whole_w->get(), whole_trims).ok());

    // The windowed copy of the twin: fronts read back three segments at a time.
    ReadScope window;
    window.settle = [](const segment::SealedSegment&) { return true; };
    auto win = ReadCatalog(twin.string(), window);
    ASSERT_TRUE(win.ok()) << win.status().message();
    auto win_w = CatalogWriter::Open(twin.string(), *win);
    ASSERT_TRUE(win_w.ok());
    auto twin_lock = DirLock::ForPruning(twin.string());
    ASSERT_TRUE(twin_lock.ok());
    int turns = 0;
    for (; turns < 100; ++turns) {
      auto trims = PlanWindowedTrims(&*win, **win_w, policy, now, 3);
      ASSERT_TRUE(trims.ok()) << trims.status().message();
      if (trims->empty()) break;
      auto done = TrimContinuous(twin.string(), &*win, win_w->get(), *trims);
      ASSERT_TRUE(done.ok()) << done.status().message();
    }
    EXPECT_GT(turns, 2) << "three segments a turn take several turns";
    EXPECT_LT(turns, 100);
    for (const auto& [name, t] : m_.topics) {
      for (const auto& p : t.partitions) {
        const auto& q = FindOrAddPartition(&*win, name, p.partition);
        EXPECT_EQ(q.SegmentCount(), p.segments.size()) << name << "/" << p.partition;
        EXPECT_EQ(q.bytes_stored, p.bytes_stored);
        EXPECT_EQ(RetentionStart(q), RetentionStart(p));
      }
    }
    auto a = ReadCatalog(dir());
    auto b = ReadCatalog(twin.string());
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(ManifestToJson(*a), ManifestToJson(*b));
    // A windowed copy read now holds the same summaries as the trimmed whole one.
    auto again = ReadCatalog(twin.string(), window);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->TotalBytesStored(), m_.TotalBytesStored());
  }
}

// A topic log that is mostly lines of pruned segments is rewritten with the kept ones: smaller,
// reading back the same (whole and windowed), marks kept, and written on as before.
TEST_F(CatalogTest, ALogOfMostlyPrunedSegmentsIsRewrittenAndReadsBackTheSame) {
  auto w = CatalogWriter::Create(dir(), m_);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 6000; ++i) {
    Seal("orders", i % 4, 10, i % 500 == 7 ? 2 : 0);
    if (i % 700 == 0) {
      ASSERT_TRUE(Checkpoint(**w).ok());
    }
  }
  Seal("audit", 0, 10);  // a small topic: its log is not rewritten
  ASSERT_TRUE(Checkpoint(**w).ok());
  // Marks on kept segments (one of them settled later in a windowed read), then retention
  // drops nine in ten of every orders partition.
  auto& p1 = m_.topics["orders"].partitions[1];
  p1.segments[1400].uploaded_ms = 1763647390000;
  p1.segments.back().uploaded_ms = 1763647390001;
  ASSERT_TRUE(Checkpoint(**w, {p1.segments[1400].path, p1.segments.back().path}).ok());
  std::vector<Trim> trims;
  for (const auto& p : m_.topics["orders"].partitions) {
    Trim t{"orders", p.partition, p.segments[1350].first_offset, {}};
    t.dropped.assign(p.segments.begin(), p.segments.begin() + 1350);
    trims.push_back(std::move(t));
  }
  auto lock = DirLock::ForPruning(dir());
  ASSERT_TRUE(lock.ok());
  ASSERT_TRUE(TrimContinuous(dir(), &m_, w->get(), trims).ok());
  ASSERT_TRUE((*w)->Fold(m_).ok());
  const auto log_of = [&](const std::string& topic) {
    std::vector<fs::path> logs;
    for (const auto& e : fs::directory_iterator(dir_ / kCatalogDir / "topics" / topic))
      logs.push_back(e.path());
    return logs;
  };
  ASSERT_EQ(log_of("orders").size(), 1u);
  const uint64_t before = Size(log_of("orders")[0].string());
  ASSERT_GT(before, CatalogWriter::kCompactMinBytes);

  auto done = (*w)->CompactLogs(m_);
  ASSERT_TRUE(done.ok()) << done.status().message();
  ASSERT_EQ(*done, std::vector<std::string>{"orders"});
  ASSERT_EQ(log_of("orders").size(), 2u) << "the old log stays until the next fold";
  ExpectReadsBack();
  ASSERT_TRUE((*w)->Fold(m_).ok());
  ASSERT_EQ(log_of("orders").size(), 1u) << "the old log is removed at the next fold";
  const uint64_t after = Size(log_of("orders")[0].string());
  EXPECT_LT(after * 5, before) << before << " -> " << after;
  ExpectReadsBack();
  EXPECT_EQ(FindOrAddPartition(&m_, "orders", 1).segments[50].uploaded_ms, 1763647390000);
  // Nothing more to rewrite; a windowed copy reads it, and retention and writes go on.
  auto again = (*w)->CompactLogs(m_);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  ReadScope window;
  window.settle = [](const segment::SealedSegment&) { return true; };
  auto win = ReadCatalog(dir(), window);
  ASSERT_TRUE(win.ok()) << win.status().message();
  EXPECT_EQ(win->TotalBytesStored(), m_.TotalBytesStored());
  auto ww = CatalogWriter::Open(dir(), *win);
  ASSERT_TRUE(ww.ok());
  RetentionPolicy bytes;
  bytes.max_bytes = m_.TotalBytesStored() - 3 * 12288;
  auto plan = PlanWindowedTrims(&*win, **ww, bytes, 0);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_FALSE(plan->empty());
  ASSERT_TRUE(TrimContinuous(dir(), &*win, ww->get(), *plan).ok());
  for (const auto& t : PlanTrims(m_, bytes, 0)) {
    ASSERT_TRUE(ApplyTrim(&FindOrAddPartition(&m_, t.topic, t.partition), t.start).ok());
  }
  ExpectReadsBack();
}

// A retention line written before lines carried their count cannot be followed by a windowed
// read: it reads whole instead.
TEST_F(CatalogTest, AWindowedReadOfAnOldRetentionLineReadsWhole) {
  auto w = CatalogWriter::Create(dir(), m_);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 6; ++i) Seal("orders", 0, 10);
  ASSERT_TRUE(Checkpoint(**w).ok());
  const auto& p0 = m_.topics["orders"].partitions[0];
  Trim t{"orders", 0, p0.segments[2].first_offset, {}};
  t.dropped.assign(p0.segments.begin(), p0.segments.begin() + 2);
  ASSERT_TRUE(TrimContinuous(dir(), &m_, w->get(), {t}).ok());
  w->reset();
  // The retention line as the previous version wrote it: no "segments".
  std::ifstream in(cat(kChangesLog));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t valid = 0;
  std::string rewritten;
  int retention_lines = 0;
  for (auto& l : ScanLines(text, &valid)) {
    if (l.type == "retention") {
      ASSERT_TRUE(l.j.contains("segments"));
      EXPECT_EQ(l.j["segments"].get<uint64_t>(), 4u);
      l.j.erase("segments");
      ++retention_lines;
    }
    rewritten += EncodeLine(l.j);
  }
  ASSERT_EQ(retention_lines, 1);
  std::ofstream(cat(kChangesLog), std::ios::trunc) << rewritten;
  ReadScope window;
  window.settle = [](const segment::SealedSegment&) { return true; };
  auto r = ReadCatalog(dir(), window);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(ManifestToJson(*r), ManifestToJson(m_));
  EXPECT_EQ(r->topics["orders"].partitions[0].settled.segments, 0u) << "read whole";
}

// A crash after retention's catalog line and before its files were removed: the next start's
// store recovery removes them, and adopts nothing below the retention start.
TEST_F(CatalogTest, StoreRecoveryFinishesAPruneACrashInterrupted) {
  auto w = CatalogWriter::Create(dir(), m_);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 3; ++i) Seal("orders", 0, 10);
  ASSERT_TRUE(Checkpoint(**w).ok());
  const auto segs = m_.topics["orders"].partitions[0].segments;
  for (const auto& s : segs) {
    fs::create_directories((dir_ / s.path).parent_path());
    std::ofstream(dir_ / s.path) << "segment";
  }
  PartitionManifest& p = m_.topics["orders"].partitions[0];
  ASSERT_TRUE(ApplyTrim(&p, segs[2].first_offset).ok());
  Trim t{"orders", 0, segs[2].first_offset, {segs[0], segs[1]}};
  ASSERT_TRUE((*w)->Checkpoint(m_, {}, {}, {t}).ok());  // ... and the crash: no file removed
  auto read = ReadCatalog(dir());
  ASSERT_TRUE(read.ok());
  service::StoreRecovery rec;
  auto recovered = service::RecoverStore(dir(), *read, &rec);
  ASSERT_TRUE(recovered.ok()) << recovered.status().message();
  EXPECT_FALSE(fs::exists(dir_ / segs[0].path));
  EXPECT_FALSE(fs::exists(dir_ / segs[1].path));
  EXPECT_TRUE(fs::exists(dir_ / segs[2].path));
  EXPECT_EQ(ManifestToJson(*recovered), ManifestToJson(m_));
  ASSERT_EQ(rec.problems.size(), 2u);
  EXPECT_NE(rec.problems[0].find("below the retention start"), std::string::npos)
      << rec.problems[0];
}

// Trims are applied all or none: one refused leaves every partition as the catalog names it,
// whole or windowed (a later checkpoint then writes lines that follow the catalog).
TEST_F(CatalogTest, ARefusedTrimLeavesEveryPartitionAsTheCatalogNamesIt) {
  auto w = CatalogWriter::Create(dir(), m_);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 8; ++i) Seal("orders", i % 2, 10, i == 4 ? 3 : 0);
  ASSERT_TRUE(Checkpoint(**w).ok());
  auto lock = DirLock::ForPruning(dir());
  ASSERT_TRUE(lock.ok());
  for (const bool windowed : {false, true}) {
    SCOPED_TRACE(windowed ? "windowed" : "whole");
    ReadScope scope;
    if (windowed) scope.settle = [](const segment::SealedSegment&) { return true; };
    auto copy = ReadCatalog(dir(), scope);
    ASSERT_TRUE(copy.ok());
    auto cw = CatalogWriter::Open(dir(), *copy);
    ASSERT_TRUE(cw.ok());
    const std::string before = ManifestToJson(*copy);
    const auto& p0 = m_.topics["orders"].partitions[0];
    const auto& p1 = m_.topics["orders"].partitions[1];
    Trim good{"orders", 0, p0.segments[2].first_offset, {}};
    good.dropped.assign(p0.segments.begin(), p0.segments.begin() + 2);
    Trim bad{"orders", 1, p1.segments[1].first_offset + 3, {}};  // inside a segment
    bad.dropped.assign(p1.segments.begin(), p1.segments.begin() + 2);
    auto r = TrimContinuous(dir(), &*copy, cw->get(), {good, bad});
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(ManifestToJson(*copy), before);
    for (int32_t part : {0, 1}) {
      const auto& was = m_.topics["orders"].partitions[static_cast<size_t>(part)];
      const auto& now = FindOrAddPartition(&*copy, "orders", part);
      EXPECT_EQ(now.SegmentCount(), was.segments.size());
      EXPECT_EQ(now.records, was.records);
      EXPECT_EQ(now.gaps.size(), was.gaps.size());
      EXPECT_EQ(now.settled.segments, windowed ? was.segments.size() : 0u);
    }
    ExpectReadsBack();  // the catalog holds no line of it
  }
}

TEST_F(CatalogTest, ATrimInsideASegmentOrOutsideTheRangeIsRefused) {
  Seal("orders", 0, 10);
  Seal("orders", 0, 10);
  PartitionManifest p = m_.topics["orders"].partitions[0];
  EXPECT_FALSE(ApplyTrim(&p, 5).ok());   // inside the first segment
  EXPECT_FALSE(ApplyTrim(&p, 21).ok());  // past the end
  EXPECT_TRUE(ApplyTrim(&p, 10).ok());
  EXPECT_FALSE(ApplyTrim(&p, 0).ok());  // below what is already trimmed
  EXPECT_TRUE(ApplyTrim(&p, 10).ok());  // the same start again: nothing to do
  EXPECT_EQ(p.segments.size(), 1u);
}

// tidemark prune on snapshots: older than max_age goes whole, except the newest keep_last; a
// dry run changes nothing; a backup being read is skipped, not pruned under the reader.
TEST_F(CatalogTest, PruneDeletesOldSnapshotsKeepsTheNewestAndSkipsOnesBeingRead) {
  const int64_t day = 86400000;
  const int64_t now = 1763647380000 + 10 * day;
  ASSERT_TRUE(CatalogWriter::Create(dir(), m_).ok());  // a continuous backup beside them, empty
  for (int i = 0; i < 4; ++i) {
    Manifest s;
    s.id = "snap" + std::to_string(i);
    s.kind = "snapshot";
    s.started_ms = 1763647380000 + i * day;
    s.finished_ms = s.started_ms + 1000;
    s.compression = "zstd";
    fs::create_directories(root_ / s.id);
    ASSERT_TRUE(WriteManifest((root_ / s.id).string(), s).ok());
  }
  PruneOptions o;
  o.path = root_.string();
  o.policy.max_age_ms = 5 * day;  // all four are older
  o.policy.keep_last = 1;
  o.now_ms = now;
  o.dry_run = true;
  auto dry = PruneLocal(o);
  ASSERT_TRUE(dry.ok()) << dry.status().message();
  EXPECT_NE(PruneToText(*dry, true).find("would delete"), std::string::npos);
  EXPECT_TRUE(fs::exists(root_ / "snap0" / kManifestName));

  auto reading = DirLock::ForReading((root_ / "snap1").string());
  ASSERT_TRUE(reading.ok());
  o.dry_run = false;
  auto r = PruneLocal(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::map<std::string, std::string> action;
  for (const auto& e : *r) action[e.id] = e.action;
  EXPECT_EQ(action["snap0"], "deleted");
  EXPECT_EQ(action["snap1"], "skipped");  // a reader holds it
  EXPECT_EQ(action["snap2"], "deleted");
  EXPECT_EQ(action["snap3"], "kept");  // the newest, keep_last = 1
  EXPECT_EQ(action["cat"], "kept");    // the continuous backup of the fixture: nothing is old
  EXPECT_FALSE(fs::exists(root_ / "snap0"));
  EXPECT_TRUE(fs::exists(root_ / "snap1" / kManifestName));
  EXPECT_TRUE(fs::exists(root_ / "snap3" / kManifestName));
}

// A prune killed between its catalog line and its deletes leaves files below the retention start;
// the next prune removes them (and nothing the catalog names), whether or not it trims.
TEST_F(CatalogTest, PruneRemovesFilesAnInterruptedPruneLeftBelowTheRetentionStart) {
  for (int i = 0; i < 3; ++i) Seal("orders", 0, 10);
  ASSERT_TRUE(CatalogWriter::Create(dir(), m_).ok());
  const std::string pdir = dir() + "/" + format::PartitionDir("orders", 0);
  fs::create_directories(pdir);
  auto touch = [&](int64_t first) {
    std::ofstream(pdir + "/" + format::SegmentName(first, true)) << "x";
  };
  for (int64_t first : {0, 10, 20}) touch(first);
  PruneOptions o;
  o.path = root_.string();
  o.policy.max_bytes = 20000;  // two of the three 12 KiB segments go
  o.now_ms = 1763647380000;
  auto r = PruneLocal(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->at(0).action, "trimmed");
  EXPECT_FALSE(fs::exists(pdir + "/" + format::SegmentName(0, true)));

  // What a killed prune leaves: files below the start that the catalog no longer names.
  touch(0);
  touch(10);
  r = PruneLocal(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->at(0).action, "kept");
  ASSERT_FALSE(r->at(0).notes.empty());
  EXPECT_NE(r->at(0).notes.back().find("removed 2 files"), std::string::npos);
  EXPECT_FALSE(fs::exists(pdir + "/" + format::SegmentName(0, true)));
  EXPECT_FALSE(fs::exists(pdir + "/" + format::SegmentName(10, true)));
  EXPECT_TRUE(fs::exists(pdir + "/" + format::SegmentName(20, true))) << "the catalog names it";
}

// The store's catalog (backup/store_catalog.h): a base and later chunks replay to the backup; the
// root alone gives the summaries; every crafted root or chunk is an error naming what is wrong.
class StoreCatalogTest : public CatalogTest {
 protected:
  std::map<std::string, std::string> objects_;  // chunk name -> bytes
  int fetches_ = 0;
  FetchChunk Fetch() {
    return [this](const std::string& name) -> Result<std::string> {
      ++fetches_;
      auto it = objects_.find(name);
      if (it == objects_.end()) return Status::NotFound(name + " is missing");
      return it->second;
    };
  }
  std::string Root(const std::vector<std::string>& names) {
    std::vector<StoreChunk> chunks;
    for (const auto& n : names) chunks.push_back({n, objects_[n].size()});
    return StoreRootJson(m_, chunks);
  }
};

TEST_F(StoreCatalogTest, ABaseAndItsChunksReadBackAndTheRootAloneGivesSummaries) {
  for (int i = 0; i < 6; ++i) Seal("orders", i % 2, 10, i == 3 ? 4 : 0);
  Seal("payments", 0, 7);
  int64_t seq = 1;
  objects_[StoreChunkName(1)] = StoreBaseChunk(m_, &seq);
  // A later chunk: partition 0 gains a segment, then retention drops its first two.
  Seal("orders", 0, 5);
  PartitionManifest& p0 = FindOrAddPartition(&m_, "orders", 0);
  nlohmann::json l = PartitionLine("orders", p0, p0.segments.size() - 1, 0);
  l["seq"] = seq++;
  std::string delta = EncodeLine(l);
  const int64_t start = p0.segments[2].first_offset;
  ASSERT_TRUE(ApplyTrim(&p0, start).ok());
  nlohmann::json r = RetentionLine("orders", p0, start);
  r["seq"] = seq++;
  delta += EncodeLine(r);
  objects_[StoreChunkName(2)] = delta;
  const std::string root = Root({StoreChunkName(1), StoreChunkName(2)});

  auto full = ReadStoreCatalog(root, "s3://b/cat/catalog/root.json", {}, Fetch());
  ASSERT_TRUE(full.ok()) << full.status().message();
  EXPECT_EQ(ManifestToJson(*full), ManifestToJson(m_));
  EXPECT_EQ(fetches_, 2);

  fetches_ = 0;
  ReadScope summaries;
  summaries.summaries_only = true;
  auto sum = ReadStoreCatalog(root, "root", summaries, Fetch());
  ASSERT_TRUE(sum.ok()) << sum.status().message();
  EXPECT_EQ(fetches_, 0) << "ls reads the root alone";
  EXPECT_EQ(sum->TotalRecords(), m_.TotalRecords());
  EXPECT_TRUE(sum->topics.at("orders").partitions.at(0).segments.empty());

  ReadScope one;
  one.wants = [](const std::string& t) { return t == "payments"; };
  auto only = ReadStoreCatalog(root, "root", one, Fetch());
  ASSERT_TRUE(only.ok()) << only.status().message();
  EXPECT_EQ(only->topics.size(), 1u);
  EXPECT_EQ(only->TotalRecords(), 7u);
}

TEST_F(StoreCatalogTest, CraftedRootsAndChunksAreErrorsNamingWhatIsWrong) {
  Seal("orders", 0, 10);
  Seal("orders", 0, 10);
  int64_t seq = 1;
  const std::string base = StoreBaseChunk(m_, &seq);
  const std::string name = StoreChunkName(7);
  objects_[name] = base;
  const std::string good = Root({name});
  ASSERT_TRUE(ReadStoreCatalog(good, "root", {}, Fetch()).ok());

  auto expect = [&](const std::string& root, const std::string& what) {
    auto r = ReadStoreCatalog(root, "s3://b/x/catalog/root.json", {}, Fetch());
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().message();
  };
  expect("[1,2]", "not a JSON object");
  nlohmann::json j = nlohmann::json::parse(good);
  j["format_version"] = 3;
  expect(j.dump(), "not a store catalog");
  j = nlohmann::json::parse(good);
  j["chunks"][0]["name"] = "chunks/../../../etc/passwd";
  expect(j.dump(), "is not chunks/<20 digits>.log");
  j = nlohmann::json::parse(good);
  j["chunks"][0]["name"] = StoreChunkName(8);
  expect(j.dump(), "missing");
  j = nlohmann::json::parse(good);
  j["chunks"][0]["bytes"] = base.size() + 1;
  expect(j.dump(), "the root says");
  j = nlohmann::json::parse(good);
  j["chunks"] = nlohmann::json::array();
  for (int i = 0; i < 5000; ++i) j["chunks"].push_back({{"name", name}, {"bytes", base.size()}});
  expect(j.dump(), "at most");
  // The same chunk twice: its lines go back in sequence.
  j = nlohmann::json::parse(good);
  j["chunks"].push_back(j["chunks"][0]);
  expect(j.dump(), "out of order");
  // A damaged byte inside a line.
  std::string bad = base;
  bad[bad.size() / 2] ^= 0x20;
  objects_[name] = bad;
  expect(good, "damaged");
  // A line of a topic the root does not have.
  Manifest other = m_;
  other.topics.erase("orders");
  objects_[name] = base;
  std::vector<StoreChunk> chunks = {{name, base.size()}};
  expect(StoreRootJson(other, chunks), "which the root lacks");
  // A chunk that drops segments below a start inside one.
  PartitionManifest& p = FindOrAddPartition(&m_, "orders", 0);
  nlohmann::json r = RetentionLine("orders", p, 5);
  r["seq"] = seq++;
  objects_[StoreChunkName(9)] = EncodeLine(r);
  expect(Root({name, StoreChunkName(9)}), "inside segment");
}

}  // namespace
}  // namespace tidemark::backup
