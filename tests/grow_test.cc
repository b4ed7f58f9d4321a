// The synthetic backup generator of `tidemark bench grow`: what it writes loads and validates,
// holds exactly the segments and partitions asked for, grows deterministically, and (with real
// files) verifies like a backup the service wrote.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "backup/manifest.h"
#include "bench/grow.h"
#include "test_util.h"
#include "verify/verify.h"

namespace tidemark {
namespace {

namespace fs = std::filesystem;
using bench::BackupGenerator;
using bench::GrowShape;
using bench::PartitionChange;

GrowShape Shape(int topics, int partitions, bool files = false) {
  GrowShape s;
  s.topics = topics;
  s.partitions = partitions;
  s.files = files;
  return s;
}

TEST(GrowTest, GeneratesExactlyWhatWasAskedAndItValidates) {
  const fs::path root = testing::FreshTestDir("grow");
  BackupGenerator gen(root.string(), "g1", Shape(3, 20));
  ASSERT_TRUE(gen.Init().ok());
  std::vector<PartitionChange> changed;
  ASSERT_TRUE(gen.Add(2000, &changed).ok());
  ASSERT_TRUE(bench::Checkpointer(gen.dir()).Checkpoint(gen.mutable_manifest(), changed).ok());

  auto m = verify::LoadBackup(root.string(), "g1");  // its index, parsed and validated
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->kind, "continuous");
  EXPECT_EQ(m->id, "g1");
  EXPECT_EQ(m->TotalSegments(), 2000u);
  EXPECT_EQ(m->TotalPartitions(), 20u);
  ASSERT_EQ(m->topics.size(), 3u);
  // 20 partitions over 3 topics: 7, 7, 6; every partition sealed the same number of segments.
  std::vector<int32_t> counts;
  size_t log_start = 0, not_delivered = 0;
  for (const auto& [name, t] : m->topics) {
    counts.push_back(t.partition_count);
    ASSERT_EQ(t.partitions.size(), static_cast<size_t>(t.partition_count));
    for (const auto& p : t.partitions) {
      EXPECT_EQ(p.segments.size(), 100u) << name << "/" << p.partition;
      for (const auto& g : p.gaps) {
        log_start += g.reason == backup::kGapLogStart;
        not_delivered += g.reason == backup::kGapNotDelivered;
      }
      // Every offset of the partition is a segment's or a gap's.
      int64_t covered = 0;
      for (const auto& s : p.segments) covered += s.last_offset - s.first_offset + 1;
      for (const auto& g : p.gaps) covered += g.to - g.from;
      EXPECT_EQ(covered, p.end_offset - p.start_offset) << name << "/" << p.partition;
    }
  }
  EXPECT_EQ(counts, (std::vector<int32_t>{7, 7, 6}));
  EXPECT_GT(log_start, 0u);
  EXPECT_GT(not_delivered, 0u);
  EXPECT_LT(not_delivered, 200u);  // about 2% of 2000
  // What changed is everything: 20 partitions, 2000 segments, every gap.
  size_t segs = 0, gaps = 0;
  for (const auto& c : changed) {
    segs += c.segments_added;
    gaps += c.gaps_added;
  }
  EXPECT_EQ(changed.size(), 20u);
  EXPECT_EQ(segs, 2000u);
  EXPECT_EQ(gaps, log_start + not_delivered);
  // The manifest on disk is the one in memory.
  EXPECT_EQ(backup::ManifestToJson(*m), backup::ManifestToJson(gen.manifest()));
  // CatalogBytes counts the index: manifest.json, or the catalog's files.
  uint64_t index_bytes = 0;
  const fs::path dir(gen.dir());
  if (fs::exists(dir / "manifest.json")) index_bytes += fs::file_size(dir / "manifest.json");
  if (fs::exists(dir / "catalog")) {
    for (const auto& e : fs::recursive_directory_iterator(dir / "catalog"))
      index_bytes += e.is_regular_file() ? e.file_size() : 0;
  }
  EXPECT_GT(index_bytes, 0u);
  EXPECT_EQ(bench::CatalogBytes(gen.dir()), index_bytes);
}

TEST(GrowTest, GrowsDeterministicallyAndReportsOnlyWhatIsNew) {
  const fs::path root = testing::FreshTestDir("grow");
  BackupGenerator whole((root / "a").string(), "g", Shape(2, 10));
  ASSERT_TRUE(whole.Init().ok());
  ASSERT_TRUE(whole.Add(1000, nullptr).ok());

  BackupGenerator steps((root / "b").string(), "g", Shape(2, 10));
  ASSERT_TRUE(steps.Init().ok());
  std::vector<PartitionChange> changed;
  ASSERT_TRUE(steps.Add(995, &changed).ok());
  ASSERT_TRUE(steps.Add(5, &changed).ok());
  EXPECT_EQ(backup::ManifestToJson(whole.manifest()), backup::ManifestToJson(steps.manifest()));
  // 995 = 99 rounds of 10 and 5 more: the last 5 go to the other 5 partitions, one each.
  ASSERT_EQ(changed.size(), 5u);
  for (const auto& c : changed) EXPECT_EQ(c.segments_added, 1u);

  // Another seed is another backup.
  GrowShape other = Shape(2, 10);
  other.seed = 2;
  BackupGenerator seeded((root / "c").string(), "g", other);
  ASSERT_TRUE(seeded.Init().ok());
  ASSERT_TRUE(seeded.Add(1000, nullptr).ok());
  EXPECT_NE(backup::ManifestToJson(whole.manifest()), backup::ManifestToJson(seeded.manifest()));

  // A checkpoint after more segments leaves a manifest with all of them.
  ASSERT_TRUE(steps.Add(200, &changed).ok());
  ASSERT_TRUE(bench::Checkpointer(steps.dir()).Checkpoint(steps.mutable_manifest(), changed).ok());
  auto m = verify::LoadBackup((root / "b").string(), "g");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->TotalSegments(), 1200u);
}

TEST(GrowTest, WithFilesTheBackupVerifies) {
  const fs::path root = testing::FreshTestDir("grow");
  BackupGenerator gen(root.string(), "files", Shape(2, 5, true));
  ASSERT_TRUE(gen.Init().ok());
  std::vector<PartitionChange> changed;
  Status st = gen.Add(50, &changed);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(bench::Checkpointer(gen.dir()).Checkpoint(gen.mutable_manifest(), changed).ok());
  EXPECT_EQ(gen.files_written(), 50u);

  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(gen.dir()) / "topics"))
    files += e.is_regular_file() && e.path().extension() == ".tmseg";
  EXPECT_EQ(files, 50u);

  auto r = verify::VerifyBackup(root.string(), "files");
  ASSERT_TRUE(r.ok()) << r.status().message();
  for (const auto& d : r->damage) ADD_FAILURE() << d.file << ": " << d.what;
  EXPECT_TRUE(r->ok());
  EXPECT_TRUE(r->warnings.empty());
  EXPECT_EQ(r->segments, 50u);
  EXPECT_EQ(r->records, gen.manifest().TotalRecords());
  EXPECT_GT(r->records, 50u);
  // The index is counted, not the segments beside it.
  EXPECT_GT(bench::CatalogBytes(gen.dir()), 0u);
  EXPECT_LT(bench::CatalogBytes(gen.dir()), gen.manifest().TotalBytesStored());

  // A segment that loses a byte no longer verifies: the check above can fail.
  const auto& seg = gen.manifest().topics.begin()->second.partitions[0].segments[0];
  fs::resize_file(fs::path(gen.dir()) / seg.path, seg.bytes_stored - 1);
  auto bad = verify::VerifyBackup(root.string(), "files");
  ASSERT_TRUE(bad.ok()) << bad.status().message();
  EXPECT_FALSE(bad->ok());
}

TEST(GrowTest, RefusesShapesItCannotBuild) {
  const fs::path root = testing::FreshTestDir("grow");
  BackupGenerator none(root.string(), "g", Shape(0, 10));
  Status st = none.Init();
  EXPECT_TRUE(st.Is(Errc::kConfig)) << st.message();
  EXPECT_NE(st.message().find("--topics"), std::string::npos) << st.message();
  BackupGenerator thin(root.string(), "g", Shape(5, 3));
  st = thin.Init();
  EXPECT_TRUE(st.Is(Errc::kConfig)) << st.message();
  EXPECT_NE(st.message().find("--partitions"), std::string::npos) << st.message();
  BackupGenerator early(root.string(), "g", Shape(1, 1));
  EXPECT_FALSE(early.Add(1, nullptr).ok());  // before Init
}

TEST(GrowTest, ReplacesOnlyWhatItGenerated) {
  const fs::path root = testing::FreshTestDir("grow");
  // A backup the generator did not make is left alone.
  fs::create_directories(root / "store" / "real");
  { std::ofstream(root / "store" / "real" / "manifest.json") << "{}"; }
  BackupGenerator over((root / "store").string(), "real", Shape(1, 2));
  Status st = over.Init();
  EXPECT_TRUE(st.Is(Errc::kConfig)) << st.message();
  EXPECT_TRUE(fs::exists(root / "store" / "real" / "manifest.json"));
  // Its own earlier backup is replaced.
  BackupGenerator first((root / "gen").string(), "g", Shape(1, 2));
  ASSERT_TRUE(first.Init().ok());
  ASSERT_TRUE(first.Add(10, nullptr).ok());
  ASSERT_TRUE(backup::WriteManifest(first.dir(), first.manifest()).ok());
  BackupGenerator again((root / "gen").string(), "g", Shape(1, 2));
  st = again.Init();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(fs::is_empty(again.dir()));
}

}  // namespace
}  // namespace tidemark
