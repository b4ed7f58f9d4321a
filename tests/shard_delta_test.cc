// Unit tests: a continuous backup's shards publish what changed in a partition's manifest entry
// (shard::PartitionDelta), not the entry, and the service appends it (shard::ApplyDelta). An
// update then costs what changed, never the partition's history, and what the service did to
// the entry meanwhile (upload marks, retention trims) is never overwritten.
#include <gtest/gtest.h>

#include <random>

#include "backup/manifest.h"
#include "backup/retention.h"
#include "common/time.h"
#include "io/mem_backend.h"
#include "shard/partition_pipeline.h"
#include "test_util.h"

namespace tidemark {
namespace {

using testing::MakeRecord;
using testing::OwnedRecord;

constexpr const char* kTopic = "orders";

segment::SealedSegment Segment(int32_t partition, int64_t first, int64_t last) {
  segment::SealedSegment s;
  s.path = format::PartitionDir(kTopic, partition) + "/" + format::SegmentName(first, true);
  s.first_offset = first;
  s.last_offset = last;
  s.min_timestamp = 1000 + first;
  s.max_timestamp = 1000 + last;
  s.records = static_cast<uint64_t>(last - first + 1);
  s.bytes_raw = s.records * 100;
  s.bytes_stored = s.records * 40 + 8192;
  s.blocks = 1;
  return s;
}

// A partition's entry of `n` segments of 100 offsets each, as the service holds it.
backup::PartitionManifest History(int32_t partition, int n) {
  backup::PartitionManifest e;
  e.partition = partition;
  for (int i = 0; i < n; ++i) {
    e.segments.push_back(Segment(partition, i * 100, i * 100 + 99));
    e.records += e.segments.back().records;
    e.bytes_raw += e.segments.back().bytes_raw;
    e.bytes_stored += e.segments.back().bytes_stored;
  }
  e.end_offset = n * 100;
  return e;
}

shard::PartitionDelta DeltaOf(int32_t partition, std::vector<segment::SealedSegment> segments,
                              std::vector<backup::Gap> gaps, int64_t end) {
  shard::PartitionDelta d;
  d.partition = partition;
  d.end_offset = end;
  for (const auto& s : segments) {
    d.records += s.records;
    d.bytes_raw += s.bytes_raw;
    d.bytes_stored += s.bytes_stored;
  }
  d.segments = std::move(segments);
  d.gaps = std::move(gaps);
  return d;
}

Status Validate(const backup::PartitionManifest& e) {
  backup::Manifest m;
  m.id = "b1";
  m.kind = "continuous";
  backup::FindOrAddPartition(&m, kTopic, e.partition) = e;
  return backup::ValidateManifest(m, "test");
}

TEST(ApplyDelta, AppendsKeepingUploadMarksAndRetentionTrims) {
  backup::PartitionManifest e = History(3, 4);  // offsets [0, 400)
  e.segments[1].uploaded_ms = 1111;
  e.segments[1].local = false;
  e.segments[3].uploaded_ms = 3333;
  ASSERT_TRUE(backup::ApplyTrim(&e, 100).ok());  // retention dropped the first segment
  const uint64_t records = e.records, stored = e.bytes_stored;

  const auto first = DeltaOf(3, {Segment(3, 400, 499)}, {}, 500);
  ASSERT_TRUE(shard::ApplyDelta(first, &e).ok());
  ASSERT_EQ(e.segments.size(), 4u);
  EXPECT_EQ(e.segments[0].first_offset, 100) << "the trimmed segment came back";
  EXPECT_EQ(e.segments[0].uploaded_ms, 1111);
  EXPECT_FALSE(e.segments[0].local);
  EXPECT_EQ(e.segments[2].uploaded_ms, 3333);
  EXPECT_EQ(e.segments[3].first_offset, 400);
  EXPECT_EQ(e.segments[3].uploaded_ms, 0);
  EXPECT_TRUE(e.segments[3].local);
  EXPECT_EQ(backup::RetentionStart(e), 100) << "the trim was undone";
  EXPECT_EQ(e.records, records + 100) << "totals from before the trim";
  EXPECT_EQ(e.bytes_stored, stored + first.bytes_stored);
  EXPECT_EQ(e.end_offset, 500);
  EXPECT_TRUE(Validate(e).ok()) << Validate(e).message();

  // The same delta again (a repeated publish) would name the segment twice: refused whole.
  const backup::PartitionManifest before = e;
  Status again = shard::ApplyDelta(first, &e);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("entry ends at 500"), std::string::npos) << again.message();
  EXPECT_EQ(e.segments.size(), before.segments.size());
  EXPECT_EQ(e.records, before.records);
  EXPECT_EQ(e.end_offset, 500);

  // The next delta appends once; its gap continues the entry's last gap (same reason): merged.
  backup::AddGap(&e, 500, 510, backup::kGapNotDelivered);  // as a shard's earlier delta left it
  e.end_offset = 510;
  const auto second =
      DeltaOf(3, {Segment(3, 520, 529)}, {{510, 520, backup::kGapNotDelivered}}, 530);
  ASSERT_TRUE(shard::ApplyDelta(second, &e).ok());
  ASSERT_EQ(e.segments.size(), 5u);
  EXPECT_EQ(e.segments[4].first_offset, 520);
  ASSERT_EQ(e.gaps.size(), 2u);
  EXPECT_EQ(e.gaps[1].from, 500);
  EXPECT_EQ(e.gaps[1].to, 520);
  EXPECT_EQ(e.end_offset, 530);
  EXPECT_TRUE(Validate(e).ok()) << Validate(e).message();
}

TEST(ApplyDelta, RefusesWhatDoesNotContinueTheEntry) {
  const backup::PartitionManifest base = History(0, 2);  // [0, 200)
  struct Case {
    const char* what;
    shard::PartitionDelta d;
  };
  std::vector<Case> cases = {
      {"another partition", DeltaOf(1, {Segment(1, 200, 299)}, {}, 300)},
      {"a hole before it (a delta lost)", DeltaOf(0, {Segment(0, 250, 299)}, {}, 300)},
      {"an overlap", DeltaOf(0, {Segment(0, 150, 299)}, {}, 300)},
      {"an end moved back", DeltaOf(0, {}, {}, 150)},
      {"an end moved without naming what is below it", DeltaOf(0, {}, {}, 250)},
      {"a segment past its end", DeltaOf(0, {Segment(0, 200, 299)}, {}, 299)},
      {"a gap past its end", DeltaOf(0, {}, {{200, 260, backup::kGapNotDelivered}}, 250)},
      {"segments out of order", DeltaOf(0, {Segment(0, 200, 249), Segment(0, 240, 299)}, {}, 300)},
  };
  shard::PartitionDelta wrong_totals = DeltaOf(0, {Segment(0, 200, 299)}, {}, 300);
  wrong_totals.records += 1;
  cases.push_back({"totals that are not its segments' sums", wrong_totals});
  for (const auto& c : cases) {
    backup::PartitionManifest e = base;
    EXPECT_FALSE(shard::ApplyDelta(c.d, &e).ok()) << c.what;
    EXPECT_EQ(e.segments.size(), 2u) << c.what;
    EXPECT_EQ(e.end_offset, 200) << c.what;
    EXPECT_EQ(e.records, base.records) << c.what;
  }
  backup::PartitionManifest e = base;
  EXPECT_TRUE(shard::ApplyDelta(DeltaOf(0, {}, {}, 200), &e).ok()) << "an empty delta";
  EXPECT_TRUE(shard::ApplyDelta(DeltaOf(0, {}, {{200, 250, backup::kGapLogStart}}, 250), &e).ok())
      << "a gap alone";
  EXPECT_EQ(e.end_offset, 250);
}

// A partition pipeline of a continuous backup over the in-memory backend.
struct Pipeline {
  io::MemBackend mem{/*direct=*/true};
  segment::WritePool pool;
  segment::BlockCodec codec{format::Codec::kZstd, 1};
  std::unique_ptr<shard::PartitionPipeline> p;
  std::vector<HeaderView> scratch;
  Pipeline(shard::PartitionTask t, size_t block_bytes, uint64_t segment_max_bytes)
      : pool(&mem, 4, segment::SegmentWriter::BatchBufferBytes(block_bytes)) {
    p = std::make_unique<shard::PartitionPipeline>(
        std::move(t), shard::PipelineOptions{"/mem/b1", "b1", block_bytes, segment_max_bytes},
        &pool, &codec);
  }
  ~Pipeline() {
    pool.Drain().IgnoreError();
    p.reset();
  }
  void Append(const OwnedRecord& r) { ASSERT_TRUE(p->Append(r.View(&scratch)).ok()); }
  void Roll() { ASSERT_TRUE(p->RollIfOlderThan(WallClockMs() + 1000, 0).ok()); }
};

// A resumed partition's pipeline holds none of its history and publishes only what it sealed:
// before, each seal handed over the whole entry (every segment since the backup began).
TEST(PartitionDelta, ResumedPartitionPublishesOnlyWhatItSealedSince) {
  backup::PartitionManifest entry = History(0, 2000);  // offsets [0, 200000)
  entry.segments[10].uploaded_ms = 77;
  shard::PartitionTask t{kTopic, 0, entry.end_offset, shard::kNoEnd, entry};
  Pipeline pl(std::move(t), 64 * 1024, 64ull << 20);
  EXPECT_TRUE(pl.p->Result().segments.empty()) << "the pipeline holds the partition's history";

  shard::PartitionDelta d = pl.p->TakeDelta();  // as the shard publishes it when added
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.end_offset, 200000);
  ASSERT_TRUE(shard::ApplyDelta(d, &entry).ok());

  std::mt19937_64 rng(3);
  for (int64_t o = 200000; o < 200010; ++o) pl.Append(MakeRecord(rng, o));
  pl.Roll();
  d = pl.p->TakeDelta();
  ASSERT_EQ(d.segments.size(), 1u);
  EXPECT_EQ(d.segments[0].first_offset, 200000);
  EXPECT_EQ(d.segments[0].last_offset, 200009);
  EXPECT_EQ(d.records, 10u);
  EXPECT_EQ(d.bytes_stored, d.segments[0].bytes_stored);
  EXPECT_TRUE(d.gaps.empty());
  EXPECT_EQ(d.end_offset, 200010);
  ASSERT_TRUE(shard::ApplyDelta(d, &entry).ok());

  // Nothing sealed since: an empty delta. Then a jump (compaction) and a second segment.
  EXPECT_TRUE(pl.p->TakeDelta().empty());
  for (int64_t o = 200020; o < 200030; ++o) pl.Append(MakeRecord(rng, o));
  pl.Roll();
  ASSERT_TRUE(pl.p->Finish().ok());
  d = pl.p->TakeDelta();
  ASSERT_EQ(d.segments.size(), 1u) << "a segment published twice";
  EXPECT_EQ(d.segments[0].first_offset, 200020);
  ASSERT_EQ(d.gaps.size(), 1u);
  EXPECT_EQ(d.gaps[0].from, 200010);
  EXPECT_EQ(d.gaps[0].to, 200020);
  ASSERT_TRUE(shard::ApplyDelta(d, &entry).ok());

  ASSERT_EQ(entry.segments.size(), 2002u);
  EXPECT_EQ(entry.segments[10].uploaded_ms, 77);
  EXPECT_EQ(entry.records, 200020u);
  EXPECT_EQ(entry.end_offset, 200030);
  EXPECT_TRUE(Validate(entry).ok()) << Validate(entry).message();
}

// A segment sealed for its size inside Append, right before a record that jumps ahead: the gap
// up to that record lies past the sealed end until the record itself is sealed. A publish in
// between carried the gap past the entry's end, an entry ValidateManifest refuses (so would every
// reader of the catalog); a delta keeps it for the next one.
TEST(PartitionDelta, GapAfterASealForSizeWaitsForItsRecord) {
  shard::PartitionTask t{kTopic, 0, 0, shard::kNoEnd, std::nullopt};
  Pipeline pl(std::move(t), 4096, /*segment_max_bytes=*/1);  // every block seals its segment
  backup::PartitionManifest entry;
  ASSERT_TRUE(shard::ApplyDelta(pl.p->TakeDelta(), &entry).ok());
  std::mt19937_64 rng(7);
  int64_t offset = 0;
  int checked = 0;
  for (int i = 0; i < 400 && checked < 3; ++i, offset += 3) {  // every record jumps 2 offsets
    const uint64_t seals = pl.p->seal_count();
    pl.Append(MakeRecord(rng, offset));
    if (pl.p->seal_count() == seals) continue;
    // Sealed for size by this Append, which then recorded the gap before its record.
    shard::PartitionDelta d = pl.p->TakeDelta();
    EXPECT_EQ(d.end_offset, offset - 2);
    for (const auto& g : d.gaps) EXPECT_LE(g.to, d.end_offset);
    ASSERT_TRUE(shard::ApplyDelta(d, &entry).ok());
    EXPECT_TRUE(Validate(entry).ok()) << Validate(entry).message();
    ++checked;
  }
  ASSERT_EQ(checked, 3) << "no seal for size happened";
  ASSERT_TRUE(pl.p->Finish().ok());
  ASSERT_TRUE(shard::ApplyDelta(pl.p->TakeDelta(), &entry).ok());
  EXPECT_EQ(entry.end_offset, offset - 2);
  EXPECT_EQ(entry.records, static_cast<uint64_t>(offset / 3));
  EXPECT_TRUE(Validate(entry).ok()) << Validate(entry).message();
  // Every jump is named: the gaps cover exactly the offsets without a record.
  int64_t gap_offsets = 0;
  for (const auto& g : entry.gaps) gap_offsets += g.to - g.from;
  EXPECT_EQ(gap_offsets, entry.end_offset - static_cast<int64_t>(entry.records));
}

// A fresh partition (no prior): its first delta names the offsets below the log start.
TEST(PartitionDelta, FreshPartitionStartsWithItsLogStartGap) {
  shard::PartitionTask t{kTopic, 2, /*log_start=*/50, shard::kNoEnd, std::nullopt};
  Pipeline pl(std::move(t), 64 * 1024, 64ull << 20);
  backup::PartitionManifest entry;
  entry.partition = 2;
  shard::PartitionDelta d = pl.p->TakeDelta();
  ASSERT_EQ(d.gaps.size(), 1u);
  EXPECT_EQ(d.gaps[0].from, 0);
  EXPECT_EQ(d.gaps[0].to, 50);
  EXPECT_EQ(d.gaps[0].reason, backup::kGapLogStart);
  EXPECT_EQ(d.end_offset, 50);
  ASSERT_TRUE(shard::ApplyDelta(d, &entry).ok());
  EXPECT_EQ(entry.end_offset, 50);
  EXPECT_TRUE(pl.p->TakeDelta().empty()) << "the gap was handed over twice";
}

}  // namespace
}  // namespace tidemark
