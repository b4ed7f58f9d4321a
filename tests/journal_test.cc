// Unit tests: the journal's frames (encode, scan, damage), its writer over the in-memory and the
// io_uring backends, a shard's group commit, and the journal's recovery into segments.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "common/time.h"
#include "io/mem_backend.h"
#include "segment/journal.h"
#include "segment/journal_format.h"
#include "segment/journal_replay.h"
#include "segment/recovery.h"
#include "segment/segment_reader.h"
#include "segment/segment_writer.h"
#include "shard/group_commit.h"
#include "test_util.h"

namespace tidemark {
namespace {

namespace fs = std::filesystem;
using testing::MakeRecord;
using testing::OwnedRecord;

// Records of offsets [from, to) stepping by `step`, encoded back to back.
struct EncodedRecords {
  std::vector<OwnedRecord> records;
  std::vector<uint8_t> bytes;
};
EncodedRecords Encode(int64_t from, int64_t to, uint64_t seed, int64_t step = 1) {
  EncodedRecords out;
  std::mt19937_64 rng(seed);
  std::vector<HeaderView> scratch;
  for (int64_t o = from; o < to; o += step) {
    OwnedRecord r = MakeRecord(rng, o);
    const RecordView v = r.View(&scratch);
    const size_t at = out.bytes.size();
    out.bytes.resize(at + EncodedRecordSize(v));
    EncodeRecord(v, out.bytes.data() + at);
    out.records.push_back(std::move(r));
  }
  return out;
}

std::vector<OwnedRecord> Decode(std::span<const uint8_t> bytes) {
  std::vector<OwnedRecord> out;
  RecordDecoder dec(bytes);
  RecordView v;
  while (dec.Next(&v)) out.push_back(OwnedRecord::From(v));
  EXPECT_TRUE(dec.status().ok()) << dec.status().message();
  return out;
}

void AppendFrame(segment::FrameBuilder* b, std::vector<uint8_t>* file) {
  const uint64_t size = b->Finish();
  file->insert(file->end(), b->data(), b->data() + size);
}

// A journal file of two frames: "orders"/0 and "clicks"/3 in the first, "orders"/0 in the second.
struct TwoFrames {
  std::vector<uint8_t> file;
  EncodedRecords a = Encode(100, 110, 1), b = Encode(7, 20, 2, 3), c = Encode(110, 115, 3);
  uint64_t first_frame_size = 0;
  TwoFrames() {
    segment::FrameBuilder fb;
    fb.Begin(41, 2, 1000);
    fb.AddSection("orders", 0, 100, 109, 10, a.bytes);
    fb.AddSection("clicks", 3, 5, 19, static_cast<uint32_t>(b.records.size()), b.bytes);
    AppendFrame(&fb, &file);
    first_frame_size = file.size();
    fb.Begin(42, 2, 1001);
    fb.AddSection("orders", 0, 110, 114, 5, c.bytes);
    AppendFrame(&fb, &file);
  }
};

TEST(JournalFormat, FramesRoundTripPaddedOncePerFrame) {
  TwoFrames t;
  EXPECT_EQ(t.file.size() % format::kPageSize, 0u);
  EXPECT_EQ(t.first_frame_size, format::kPageSize);  // two sections, one padded page
  auto scan = segment::ScanJournal(t.file, 41);
  EXPECT_EQ(scan.stopped_because, "");
  EXPECT_EQ(scan.end, t.file.size());
  ASSERT_EQ(scan.frames.size(), 2u);
  EXPECT_EQ(scan.frames[0].header.seq, 41u);
  EXPECT_EQ(scan.frames[0].header.shard, 2u);
  ASSERT_EQ(scan.frames[0].sections.size(), 2u);
  const auto& s = scan.frames[0].sections[1];
  EXPECT_EQ(s.topic, "clicks");
  EXPECT_EQ(s.partition, 3);
  EXPECT_EQ(s.first_offset, 5);
  EXPECT_EQ(s.last_offset, 19);
  EXPECT_EQ(Decode(s.records), t.b.records);
  EXPECT_EQ(Decode(scan.frames[0].sections[0].records), t.a.records);
  EXPECT_EQ(Decode(scan.frames[1].sections[0].records), t.c.records);
  // Zeros after the last frame (a preallocated or never written tail) are a clean end.
  t.file.resize(t.file.size() + 3 * format::kPageSize, 0);
  scan = segment::ScanJournal(t.file, 41);
  EXPECT_EQ(scan.frames.size(), 2u);
  EXPECT_EQ(scan.stopped_because, "");
  // A file whose name says another first seq: the first frame does not follow, nothing is used.
  scan = segment::ScanJournal(t.file, 40);
  EXPECT_TRUE(scan.frames.empty());
  EXPECT_NE(scan.stopped_because.find("seq"), std::string::npos) << scan.stopped_because;
}

TEST(JournalFormat, TornFrameEndsTheJournal) {
  TwoFrames t;
  for (size_t cut = 0; cut < t.file.size(); cut += 97) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    std::vector<uint8_t> torn(t.file.begin(), t.file.begin() + static_cast<ptrdiff_t>(cut));
    auto scan = segment::ScanJournal(torn, 41);
    EXPECT_EQ(scan.frames.size(), cut >= t.first_frame_size ? 1u : 0u);
    if (cut != 0 && cut != t.first_frame_size) {
      EXPECT_NE(scan.stopped_because, "");
    }
  }
}

TEST(JournalFormat, EveryChangedByteIsDetected) {
  TwoFrames t;
  for (size_t i = 0; i < t.file.size(); ++i) {
    std::vector<uint8_t> bad = t.file;
    bad[i] ^= 0x5A;
    auto scan = segment::ScanJournal(bad, 41);
    const size_t want = i < t.first_frame_size ? 0 : 1;
    ASSERT_EQ(scan.frames.size(), want) << "byte " << i;
    ASSERT_NE(scan.stopped_because, "") << "byte " << i;
  }
}

// Rewrites the header's checksums after an edit, as a forger would (XXH3 is no MAC).
void Reseal(uint8_t* frame, bool payload) {
  if (payload) {
    const uint64_t len = format::Get64(frame + 16);
    format::Put64(frame + 40, format::Xxh3(frame + segment::kFrameHeaderSize, len));
  }
  format::Put64(frame + 56, format::Xxh3(frame, 56));
}

TEST(JournalFormat, CraftedLengthsAreDamageNotAllocations) {
  TwoFrames t;
  auto expect_stop = [](std::vector<uint8_t> file, const std::string& what) {
    auto scan = segment::ScanJournal(file, 41);
    EXPECT_TRUE(scan.frames.empty()) << what;
    EXPECT_NE(scan.stopped_because, "") << what;
    return scan.stopped_because;
  };
  {
    auto f = t.file;  // a payload of 2^63 bytes
    format::Put64(f.data() + 16, 1ull << 63);
    Reseal(f.data(), false);
    EXPECT_NE(expect_stop(f, "huge payload").find("limit"), std::string::npos);
  }
  {
    auto f = t.file;  // a payload past the end of the file
    format::Put64(f.data() + 16, f.size());
    Reseal(f.data(), false);
    EXPECT_NE(expect_stop(f, "payload past the file").find("truncated"), std::string::npos);
  }
  {
    auto f = t.file;  // four billion sections
    format::Put32(f.data() + 24, 0xFFFFFFFFu);
    Reseal(f.data(), false);
    expect_stop(f, "section count");
  }
  const size_t topic_len_at = segment::kFrameHeaderSize;
  const size_t fixed_at = topic_len_at + 2 + 6;  // "orders"
  {
    auto f = t.file;  // a topic length past the payload
    format::Put16(f.data() + topic_len_at, 0xFFFF);
    Reseal(f.data(), true);
    expect_stop(f, "topic length");
  }
  {
    auto f = t.file;  // records size past the payload
    format::Put32(f.data() + fixed_at + 24, 0xFFFFFFF0u);
    Reseal(f.data(), true);
    expect_stop(f, "records size");
  }
  {
    auto f = t.file;  // a record count of zero, and one too many
    format::Put32(f.data() + fixed_at + 20, 0);
    Reseal(f.data(), true);
    expect_stop(f, "no records");
    format::Put32(f.data() + fixed_at + 20, 11);
    Reseal(f.data(), true);
    expect_stop(f, "count");
  }
  {
    auto f = t.file;  // a last offset that is not the last record's
    format::Put64(f.data() + fixed_at + 12, 200);
    Reseal(f.data(), true);
    expect_stop(f, "last offset");
    format::Put64(f.data() + fixed_at + 12, 105);  // a record after it
    Reseal(f.data(), true);
    expect_stop(f, "record past last");
    format::Put64(f.data() + fixed_at + 4, 101);  // first offset after the first record
    format::Put64(f.data() + fixed_at + 12, 109);
    Reseal(f.data(), true);
    expect_stop(f, "first offset");
  }
  {
    auto f = t.file;  // a negative partition; an illegal topic
    format::Put32(f.data() + fixed_at, 0x80000000u);
    Reseal(f.data(), true);
    expect_stop(f, "partition");
    f = t.file;
    f[topic_len_at + 2] = '/';
    Reseal(f.data(), true);
    expect_stop(f, "topic");
  }
}

TEST(JournalFormat, FileNames) {
  EXPECT_EQ(segment::JournalFileName(3, 42), "003-00000000000000000042.tmjournal");
  int shard = -1;
  uint64_t seq = 0;
  EXPECT_TRUE(segment::ParseJournalFileName("012-00000000000000000007.tmjournal", &shard, &seq));
  EXPECT_EQ(shard, 12);
  EXPECT_EQ(seq, 7u);
  for (const char* bad : {"3-42.tmjournal", "003-00000000000000000042.tmjournal.tmp", "x.tmjournal",
                          "003-+0000000000000000042.tmjournal", ".tmjournal"})
    EXPECT_FALSE(segment::ParseJournalFileName(bad, &shard, &seq)) << bad;
}

// A partition pipeline of a continuous backup with its own small pool, over `io`.
struct Partitions {
  io::IoBackend* io;
  segment::WritePool pool;
  segment::BlockCodec codec{format::Codec::kZstd, 1};
  std::vector<std::unique_ptr<shard::PartitionPipeline>> pipelines;
  Partitions(io::IoBackend* backend, const std::string& dir, size_t block_bytes, int n)
      : io(backend), pool(backend, 4, segment::SegmentWriter::BatchBufferBytes(block_bytes)) {
    for (int p = 0; p < n; ++p) {
      shard::PartitionTask t{"orders", p, 0, shard::kNoEnd, std::nullopt};
      pipelines.push_back(std::make_unique<shard::PartitionPipeline>(
          t, shard::PipelineOptions{dir, "b1", block_bytes, 64ull << 20}, &pool, &codec));
    }
  }
  ~Partitions() {
    pool.Drain().IgnoreError();
    pipelines.clear();
  }
  void Append(int p, const OwnedRecord& r) {
    std::vector<HeaderView> scratch;
    ASSERT_TRUE(pipelines[static_cast<size_t>(p)]->Append(r.View(&scratch)).ok());
  }
};

TEST(GroupCommit, OnePointWritesOneFrameAndSyncsOnlyWrittenSegments) {
  io::MemBackend mem(/*direct=*/true);
  const std::string dir = "/mem/b1";
  Partitions parts(&mem, dir, 64 * 1024, 3);
  shard::GroupCommit commit(&mem, dir, 0);
  ASSERT_TRUE(commit.Open().ok());
  std::mt19937_64 rng(5);
  std::vector<OwnedRecord> quiet;
  for (int i = 0; i < 3; ++i) quiet.push_back(MakeRecord(rng, i));
  for (const auto& r : quiet) parts.Append(0, r);  // partition 0: three records
  std::vector<OwnedRecord> busy;
  for (int64_t o = 0; o < 1500; ++o) busy.push_back(MakeRecord(rng, o));
  for (const auto& r : busy) parts.Append(1, r);  // partition 1: several full blocks
  // partition 2: nothing
  auto r = commit.Run(parts.pipelines);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(*r);
  auto again = commit.Run(parts.pipelines);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again) << "a second point with nothing new did something";

  mem.Crash();  // what survives a power loss right after the point returned
  const std::string jfile = dir + "/journal/" + segment::JournalFileName(0, 1);
  ASSERT_TRUE(mem.Exists(jfile));
  const auto& bytes = mem.Contents(jfile);
  EXPECT_EQ(bytes.size() % format::kPageSize, 0u);
  auto scan = segment::ScanJournal(bytes, 1);
  ASSERT_EQ(scan.frames.size(), 1u) << scan.stopped_because;
  ASSERT_EQ(scan.frames[0].sections.size(), 2u);  // partitions 0 and 1 (its open block)
  EXPECT_EQ(scan.frames[0].sections[0].partition, 0);
  EXPECT_EQ(Decode(scan.frames[0].sections[0].records), quiet);
  EXPECT_EQ(scan.frames[0].sections[0].first_offset, 0);
  // Partition 1: its closed blocks are durable in the segment, the rest is in the frame.
  const std::string seg =
      dir + "/" + format::PartitionDir("orders", 1) + "/" + format::SegmentName(0, false);
  ASSERT_TRUE(mem.Exists(seg));
  const auto& s1 = scan.frames[0].sections[1];
  EXPECT_EQ(s1.partition, 1);
  EXPECT_EQ(s1.last_offset, 1499);
  const auto tail = Decode(s1.records);
  ASSERT_FALSE(tail.empty());
  EXPECT_EQ(tail.back(), busy.back());
  EXPECT_GT(mem.Contents(seg).size(), format::kFileHeaderSize) << "no block durable";
  EXPECT_EQ(s1.first_offset, tail.front().offset) << "records between blocks and the frame";
  // Partition 0 never wrote a block: no segment file, no padded page for it.
  EXPECT_FALSE(mem.Exists(dir + "/" + format::PartitionDir("orders", 0) + "/" +
                          format::SegmentName(0, false)));
}

TEST(GroupCommit, FailedJournalWriteFailsThePoint) {
  io::MemBackend mem(/*direct=*/true);
  Partitions parts(&mem, "/mem/b1", 64 * 1024, 1);
  shard::GroupCommit commit(&mem, "/mem/b1", 0);
  ASSERT_TRUE(commit.Open().ok());
  std::mt19937_64 rng(5);
  parts.Append(0, MakeRecord(rng, 0));
  io::FaultPlan plan;
  plan.fail_write_after = 0;
  plan.fail_errno = ENOSPC;
  mem.set_plan(plan);
  auto r = commit.Run(parts.pipelines);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("disk full"), std::string::npos) << r.status().message();
}

TEST(GroupCommit, ShortJournalWritesStillEndDurable) {
  io::MemBackend mem(/*direct=*/false);  // short writes of any length
  Partitions parts(&mem, "/mem/b1", 64 * 1024, 2);
  shard::GroupCommit commit(&mem, "/mem/b1", 0);
  ASSERT_TRUE(commit.Open().ok());
  io::FaultPlan plan;
  plan.seed = 9;
  plan.short_write_probability = 0.7;
  mem.set_plan(plan);
  std::mt19937_64 rng(5);
  std::vector<OwnedRecord> all;
  for (int point = 0; point < 10; ++point) {
    for (int i = 0; i < 20; ++i) {
      all.push_back(MakeRecord(rng, static_cast<int64_t>(all.size())));
      parts.Append(0, all.back());
    }
    auto r = commit.Run(parts.pipelines);
    ASSERT_TRUE(r.ok()) << r.status().message() << " (seed " << plan.seed << ")";
  }
  EXPECT_GT(mem.stats().short_writes, 0u) << "no short write happened (seed " << plan.seed << ")";
  mem.Crash();
  std::vector<OwnedRecord> journaled;
  const std::string jfile = "/mem/b1/journal/" + segment::JournalFileName(0, 1);
  auto scan = segment::ScanJournal(mem.Contents(jfile), 1);
  EXPECT_EQ(scan.stopped_because, "");
  for (const auto& f : scan.frames) {
    for (const auto& s : f.sections) {
      for (auto& r : Decode(s.records)) journaled.push_back(std::move(r));
    }
  }
  // Blocks of 64 KiB: all of it is still in the open block, so all of it is in the journal.
  EXPECT_EQ(journaled, all);
}

// Partitions that start together (all of them, at a service start) do not all roll together:
// each one's first segment is shortened by a stable fraction of the interval, its later ones not.
TEST(SpreadRolls, FirstSegmentsRollSpreadOverTheIntervalThenEveryInterval) {
  io::MemBackend mem(/*direct=*/true);
  Partitions parts(&mem, "/mem/b1", 64 * 1024, 40);
  std::mt19937_64 rng(1);
  const int64_t t0 = WallClockMs();
  for (int p = 0; p < 40; ++p) parts.Append(p, MakeRecord(rng, 0));
  constexpr int64_t kInterval = 1000000;
  auto roll = [&](int64_t now) {
    std::vector<bool> rolled;
    for (auto& p : parts.pipelines) {
      const uint64_t seals = p->seal_count();
      EXPECT_TRUE(p->RollIfOlderThan(now, kInterval).ok());
      rolled.push_back(p->seal_count() != seals);
    }
    return rolled;
  };
  const auto half = roll(t0 + kInterval / 2);
  const auto rolled_half = std::count(half.begin(), half.end(), true);
  EXPECT_GT(rolled_half, 5) << "first rolls not spread (all late)";
  EXPECT_LT(rolled_half, 35) << "first rolls not spread (all early)";
  EXPECT_EQ(roll(t0 + kInterval / 2), std::vector<bool>(40, false)) << "a roll without records";
  // Every first segment is sealed by one interval; the second segments then roll after a whole
  // interval of their own, never earlier.
  for (int p = 0; p < 40; ++p) parts.Append(p, MakeRecord(rng, 1));
  const auto late = roll(t0 + kInterval + 5000);
  for (int p = 0; p < 40; ++p) {
    if (!half[static_cast<size_t>(p)]) {
      EXPECT_TRUE(late[static_cast<size_t>(p)]) << p;
    }
  }
  EXPECT_EQ(late, std::vector<bool>(40, true)) << "a segment older than the interval stayed open";
  for (int p = 0; p < 40; ++p) parts.Append(p, MakeRecord(rng, 2));
  const int64_t t1 = WallClockMs();
  EXPECT_EQ(roll(t1 + kInterval - 10000), std::vector<bool>(40, false));
  EXPECT_EQ(roll(WallClockMs() + kInterval), std::vector<bool>(40, true));
}

// The journal's recovery on a real directory.
class JournalReplayTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::FreshTestDir("journal"); }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  std::string dir() const { return dir_.string(); }

  // Writes the frames to <dir>/journal/<shard>-<first seq>.tmjournal.
  void WriteJournal(int shard, uint64_t first_seq, const std::vector<uint8_t>& bytes) {
    fs::create_directories(dir_ / "journal");
    std::ofstream out(dir_ / "journal" / segment::JournalFileName(shard, first_seq),
                      std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }
  // An unsealed segment of orders/`p` holding `recs` in blocks of about 4 KiB, as a crash
  // leaves it.
  void WriteOpenSegment(int32_t p, const std::vector<OwnedRecord>& recs) {
    auto io_or = io::MakeUringBackend(dir(), {io::DirectIoMode::kAuto, 16});
    ASSERT_TRUE(io_or.ok()) << io_or.status().message();
    auto io = std::move(io_or).value();
    segment::WritePool pool(io.get(), 4, segment::SegmentWriter::BatchBufferBytes(4096));
    segment::BlockCodec codec(format::Codec::kZstd, 1);
    segment::BlockBuilder b(4096);
    {
      segment::SegmentWriter w({dir(), "b1", "orders", p}, &pool, &codec);
      std::vector<HeaderView> scratch;
      for (const auto& r : recs) {
        if (!b.TryAppend(r.View(&scratch))) {
          if (!w.is_open()) {
            ASSERT_TRUE(w.Open(b.stats().first_offset, 1).ok());
          }
          ASSERT_TRUE(w.AppendBlock(b).ok());
          b.Reset();
          ASSERT_TRUE(b.TryAppend(r.View(&scratch)));
        }
      }
      if (!w.is_open()) {
        ASSERT_TRUE(w.Open(b.stats().first_offset, 1).ok());
      }
      ASSERT_TRUE(w.AppendBlock(b).ok());
      ASSERT_TRUE(w.Flush().ok());
      ASSERT_TRUE(pool.Drain().ok());
    }
  }
  // The records of every sealed segment of orders/`p`, in order.
  std::vector<OwnedRecord> Sealed(int32_t p, size_t* segments = nullptr) {
    std::vector<OwnedRecord> out;
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_ / format::PartitionDir("orders", p)))
      names.insert(e.path().filename().string());
    if (segments) *segments = 0;
    for (const auto& n : names) {
      EXPECT_TRUE(n.ends_with(".tmseg")) << n;
      segment::SegmentReader r;
      EXPECT_TRUE(r.Open((dir_ / format::PartitionDir("orders", p) / n).string()).ok());
      EXPECT_TRUE(r.footer_status().ok()) << n;
      if (segments) ++*segments;
      for (const auto& blk : r.footer().blocks) {
        format::BlockHeader h;
        std::span<const uint8_t> payload;
        EXPECT_TRUE(r.ReadBlockAt(blk.file_offset, &h, &payload).ok());
        for (auto& rec : Decode(payload)) out.push_back(std::move(rec));
      }
    }
    return out;
  }
  segment::JournalReplay Replay(int64_t known = 0) {
    segment::JournalReplay rep;
    Status st = segment::ReplayJournal(
        dir(), {"b1", format::Codec::kLz4, 1, 8192},
        [known](const std::string&, int32_t) { return known; }, &rep);
    EXPECT_TRUE(st.ok()) << st.message();
    return rep;
  }
  std::vector<uint8_t> Frame(uint64_t seq, int32_t p, int64_t first, const EncodedRecords& e) {
    segment::FrameBuilder fb;
    fb.Begin(seq, 0, 1);
    fb.AddSection("orders", p, first, e.records.back().offset,
                  static_cast<uint32_t>(e.records.size()), e.bytes);
    std::vector<uint8_t> out;
    AppendFrame(&fb, &out);
    return out;
  }

  fs::path dir_;
};

TEST_F(JournalReplayTest, RecordsOnlyInTheJournalMakeASegment) {
  const auto a = Encode(0, 30, 1), b = Encode(30, 60, 2, 2);  // b: every other offset
  auto file = Frame(1, 0, 0, a);
  const auto f2 = Frame(2, 0, 30, b);
  file.insert(file.end(), f2.begin(), f2.end());
  WriteJournal(0, 1, file);
  const auto rep = Replay();
  EXPECT_EQ(rep.problems, std::vector<std::string>{});
  EXPECT_EQ(rep.records, 45u);
  std::vector<OwnedRecord> want = a.records;
  want.insert(want.end(), b.records.begin(), b.records.end());
  EXPECT_EQ(Sealed(0), want);
  EXPECT_TRUE(fs::is_empty(dir_ / "journal")) << "the journal was not removed";
  // Run again (as after a crash right after the segment was sealed): nothing changes.
  WriteJournal(0, 1, file);
  EXPECT_EQ(Replay().records, 0u);
  size_t segments = 0;
  EXPECT_EQ(Sealed(0, &segments), want);
  EXPECT_EQ(segments, 1u);
}

TEST_F(JournalReplayTest, RecordsInABlockAndInTheJournalAreKeptOnce) {
  const auto all = Encode(0, 200, 3);
  WriteOpenSegment(0, {all.records.begin(), all.records.begin() + 120});
  // The journal holds 100..199 (100..119 were also in a block written since).
  EncodedRecords from_all;
  std::vector<HeaderView> scratch;
  for (size_t i = 100; i < 200; ++i) {
    const RecordView v = all.records[i].View(&scratch);
    const size_t at = from_all.bytes.size();
    from_all.bytes.resize(at + EncodedRecordSize(v));
    EncodeRecord(v, from_all.bytes.data() + at);
    from_all.records.push_back(all.records[i]);
  }
  WriteJournal(0, 1, Frame(1, 0, 100, from_all));
  const auto rep = Replay();
  EXPECT_EQ(rep.problems, std::vector<std::string>{});
  EXPECT_EQ(rep.records, 80u);
  size_t segments = 0;
  EXPECT_EQ(Sealed(0, &segments), all.records);
  EXPECT_EQ(segments, 1u) << "the journal's records went into the unsealed segment";
}

TEST_F(JournalReplayTest, ADiscontinuityIsNeverAGap) {
  const auto head = Encode(0, 50, 4);
  WriteOpenSegment(0, head.records);
  // The block with 50..59 was lost (a crash in the middle of a durability point): the frame
  // goes on from 60, so nothing of it is used; the partition resumes at 50.
  WriteJournal(0, 1, Frame(1, 0, 60, Encode(60, 70, 5)));
  const auto rep = Replay();
  ASSERT_EQ(rep.problems.size(), 1u);
  EXPECT_NE(rep.problems[0].find("fetched again"), std::string::npos) << rep.problems[0];
  EXPECT_EQ(Sealed(0), head.records);
}

TEST_F(JournalReplayTest, SkippedOffsetsTheFrameVouchesForAndTheManifestsEnd) {
  // Partition 1: the manifest covers up to 40 (sealed segments elsewhere, or a gap); the frame
  // says 40..44 were skipped and holds 45..49.
  const auto recs = Encode(45, 50, 6);
  WriteJournal(0, 1, Frame(1, 1, 40, recs));
  // Partition 2, in the next file of the same shard: the manifest already covers all of it.
  WriteJournal(0, 2, Frame(2, 2, 0, Encode(0, 10, 7)));
  const auto rep = Replay(/*known=*/40);
  EXPECT_EQ(rep.problems, std::vector<std::string>{});
  EXPECT_EQ(Sealed(1), recs.records);
  EXPECT_FALSE(fs::exists(dir_ / format::PartitionDir("orders", 2)));
}

TEST_F(JournalReplayTest, WhatIsNotAJournalFileIsLeftAlone) {
  const auto a = Encode(0, 10, 10);
  WriteJournal(0, 1, Frame(1, 0, 0, a));
  fs::create_directories(dir_ / "journal" / segment::JournalFileName(1, 5));  // a directory
  std::ofstream(dir_ / "journal" / "notes.txt") << "hello";
  const auto rep = Replay();
  ASSERT_EQ(rep.problems.size(), 2u);
  EXPECT_EQ(Sealed(0), a.records);
  EXPECT_TRUE(fs::exists(dir_ / "journal" / "notes.txt"));
  EXPECT_TRUE(fs::is_directory(dir_ / "journal" / segment::JournalFileName(1, 5)));
  EXPECT_FALSE(fs::exists(dir_ / "journal" / segment::JournalFileName(0, 1)));
}

TEST_F(JournalReplayTest, ATornFrameEndsTheReplay) {
  const auto a = Encode(0, 10, 8), b = Encode(10, 20, 9);
  auto file = Frame(1, 0, 0, a);
  auto f2 = Frame(2, 0, 10, b);
  f2[200] ^= 1;  // torn
  file.insert(file.end(), f2.begin(), f2.end());
  WriteJournal(0, 1, file);
  const auto rep = Replay();
  ASSERT_EQ(rep.problems.size(), 1u);
  EXPECT_NE(rep.problems[0].find("checksum"), std::string::npos) << rep.problems[0];
  EXPECT_EQ(Sealed(0), a.records);
}

}  // namespace
}  // namespace tidemark
