// Unit tests: the segment writer over the fault-injecting in-memory backend and over io_uring.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>

#include <filesystem>
#include <random>

#include "io/mem_backend.h"
#include "segment/recovery.h"
#include "segment/segment_reader.h"
#include "segment/segment_writer.h"
#include "test_util.h"

namespace tidemark {
namespace {

using testing::MakeRecord;
using testing::OwnedRecord;

// Writes `n` records (with offset gaps) through a writer, sealing at the end.
struct Harness {
  io::IoBackend* io;
  segment::WritePool pool;
  segment::BlockCodec codec{format::Codec::kZstd, 1};
  segment::BlockBuilder builder{64 * 1024};
  segment::SegmentWriter writer;
  std::vector<OwnedRecord> written;

  Harness(io::IoBackend* backend, const std::string& dir, size_t depth = 4)
      : io(backend),
        pool(backend, depth, segment::BlockCodec::MaxBlockSize(64 * 1024)),
        writer({dir, "b1", "orders", 3}, &pool, &codec) {}
  // As a shard does at teardown: nothing may be in flight when writers go away.
  ~Harness() { pool.Drain().IgnoreError(); }

  Status Write(int n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<HeaderView> scratch;
    int64_t off = 100;
    for (int i = 0; i < n; ++i) {
      OwnedRecord r = MakeRecord(rng, off);
      off += 1 + static_cast<int64_t>(rng() % 2);
      if (!builder.TryAppend(r.View(&scratch))) {
        TM_RETURN_IF_ERROR(Flush());
        TM_CHECK(builder.TryAppend(r.View(&scratch)));
      }
      written.push_back(r);
    }
    return Flush();
  }
  Status Flush() {
    if (builder.empty()) return Status::Ok();
    if (!writer.is_open()) TM_RETURN_IF_ERROR(writer.Open(builder.stats().first_offset, 1));
    TM_RETURN_IF_ERROR(writer.AppendBlock(builder));
    builder.Reset();
    return Status::Ok();
  }
};

// Scans a segment file block by block from the first block, as a recovering reader would,
// appending the records of every intact block. Returns where the last intact block ends.
uint64_t ScanFile(const std::string& path, std::vector<OwnedRecord>* out) {
  segment::SegmentReader reader;
  EXPECT_TRUE(reader.Open(path).ok());
  uint64_t off = format::kFileHeaderSize;
  while (off < reader.blocks_end()) {
    format::BlockHeader h;
    std::span<const uint8_t> payload;
    if (!reader.ReadBlockAt(off, &h, &payload).ok()) break;
    RecordDecoder dec(payload);
    RecordView v;
    while (dec.Next(&v)) out->push_back(OwnedRecord::From(v));
    off += h.block_size;
  }
  return off;
}

// The same for a segment image held in memory.
std::vector<OwnedRecord> ScanImage(const std::vector<uint8_t>& img, const std::string& tmpdir) {
  const std::string p = tmpdir + "/scan.tmseg";
  FILE* f = std::fopen(p.c_str(), "wb");
  std::fwrite(img.data(), 1, img.size(), f);
  std::fclose(f);
  std::vector<OwnedRecord> out;
  ScanFile(p, &out);
  return out;
}

class SegmentWriterTest : public ::testing::Test {
 protected:
  void SetUp() override { tmp_ = testing::FreshTestDir("test"); }
  void TearDown() override { std::filesystem::remove_all(tmp_); }
  std::filesystem::path tmp_;
};

TEST_F(SegmentWriterTest, SealsAReadableSegmentWithShortWritesAndEintr) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("fault seed " + std::to_string(seed));
    io::FaultPlan plan;
    plan.seed = seed;
    plan.short_write_probability = 0.5;
    plan.eintr_probability = 0.2;
    io::MemBackend mem(/*direct=*/true, plan);
    Harness h(&mem, "/b");
    ASSERT_TRUE(h.Write(6000, seed).ok());
    segment::SealedSegment sealed;
    ASSERT_TRUE(h.writer.Seal(&sealed).ok());
    EXPECT_GT(mem.stats().short_writes, 0u);
    EXPECT_GT(mem.stats().retries, 0u);
    const std::string path = "/b/topics/orders/3/00000000000000000100.tmseg";
    ASSERT_TRUE(mem.Exists(path));
    EXPECT_FALSE(mem.Exists("/b/topics/orders/3/00000000000000000100.tmseg.open"));
    EXPECT_EQ(sealed.records, 6000u);
    EXPECT_EQ(sealed.bytes_stored, mem.Contents(path).size());
    EXPECT_TRUE(format::IsAligned(sealed.bytes_stored));
    EXPECT_EQ(ScanImage(mem.Contents(path), tmp_), h.written);
  }
}

TEST_F(SegmentWriterTest, InjectedWriteErrorIsStickyAndNothingIsSealed) {
  io::FaultPlan plan;
  plan.fail_write_after = 5;
  plan.fail_errno = EIO;
  io::MemBackend mem(true, plan);
  Harness h(&mem, "/b");
  Status st = h.Write(3000, 9);
  if (st.ok()) {
    segment::SealedSegment sealed;
    st = h.writer.Seal(&sealed);
  }
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.IsErrno(EIO)) << st.message();
  EXPECT_FALSE(h.writer.sticky_error().ok());
  // Later calls keep failing with the first error.
  segment::SealedSegment again;
  EXPECT_FALSE(h.writer.Seal(&again).ok());
  EXPECT_FALSE(mem.Exists("/b/topics/orders/3/00000000000000000100.tmseg"));
}

TEST_F(SegmentWriterTest, FullDiskFailsLoudlyAndLeavesNoSealedSegment) {
  io::FaultPlan plan;
  plan.capacity_bytes = 64 * 1024;
  io::MemBackend mem(true, plan);
  Harness h(&mem, "/b");
  Status st = h.Write(5000, 4);
  segment::SealedSegment sealed;
  if (st.ok()) st = h.writer.Seal(&sealed);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.IsErrno(ENOSPC)) << st.message();
  EXPECT_NE(st.message().find("disk full"), std::string::npos) << st.message();
  for (const auto& p : mem.List()) EXPECT_EQ(p.find(".tmseg.open"), p.size() - 11) << p;
}

TEST_F(SegmentWriterTest, CrashBeforeSealKeepsOnlySyncedData) {
  io::MemBackend mem(true);
  Harness h(&mem, "/b");
  ASSERT_TRUE(h.Write(500, 5).ok());
  ASSERT_TRUE(h.writer.Flush().ok());
  ASSERT_TRUE(h.pool.Drain().ok());
  EXPECT_FALSE(mem.List().empty());
  mem.Crash();  // never fsynced, never renamed into a synced directory: gone
  EXPECT_TRUE(mem.List().empty());
}

// An unsealed segment (a crash before its footer) recovers to its last complete block by
// scanning: the zeroed preallocation past the data and a torn last block both end the scan.
TEST_F(SegmentWriterTest, UnsealedSegmentRecoversToItsLastCompleteBlock) {
  auto io_or = io::MakeUringBackend(tmp_.string(), {io::DirectIoMode::kAuto, 32});
  ASSERT_TRUE(io_or.ok());
  const std::string dir = (tmp_ / "crash").string();
  std::vector<OwnedRecord> written;
  uint64_t file_blocks_end = 0;
  {
    Harness h(io_or.value().get(), dir);
    ASSERT_TRUE(h.Write(4000, 21).ok());
    ASSERT_TRUE(h.writer.Flush().ok());  // what a shard does when idle
    ASSERT_TRUE(h.pool.Drain().ok());
    written = h.written;
    file_blocks_end = h.writer.size();
  }  // never sealed
  const std::string path = dir + "/topics/orders/3/00000000000000000100.tmseg.open";
  ASSERT_TRUE(std::filesystem::exists(path));
  // Preallocation leaves zeros past the data; the file is larger than what was written.
  EXPECT_GT(std::filesystem::file_size(path), file_blocks_end);
  auto scan = [&](std::vector<OwnedRecord>* out) {
    segment::SegmentReader reader;
    EXPECT_TRUE(reader.Open(path).ok());
    EXPECT_FALSE(reader.footer_status().ok());  // never sealed: no footer to trust
    return ScanFile(path, out);
  };
  std::vector<OwnedRecord> recovered;
  EXPECT_EQ(scan(&recovered), file_blocks_end);
  EXPECT_EQ(recovered, written);

  // Tear the last block: cut the file in the middle of it.
  segment::SegmentReader reader;
  ASSERT_TRUE(reader.Open(path).ok());
  uint64_t off = format::kFileHeaderSize, last = off;
  size_t before_last = 0;
  std::vector<OwnedRecord> all;
  while (off < file_blocks_end) {
    format::BlockHeader h;
    std::span<const uint8_t> payload;
    ASSERT_TRUE(reader.ReadBlockAt(off, &h, &payload).ok());
    last = off;
    before_last = all.size();
    RecordDecoder dec(payload);
    RecordView v;
    while (dec.Next(&v)) all.push_back(OwnedRecord::From(v));
    off += h.block_size;
  }
  std::filesystem::resize_file(path, last + format::kBlockHeaderSize + 10);
  std::vector<OwnedRecord> torn;
  EXPECT_EQ(scan(&torn), last);
  EXPECT_EQ(torn.size(), before_last);
  EXPECT_TRUE(std::equal(torn.begin(), torn.end(), written.begin()));
}

// More writers than pool buffers, each holding a half-filled batch: the pool has the holders
// submit instead of deadlocking, and every writer's data comes out whole and in order.
TEST_F(SegmentWriterTest, MoreWritersThanBuffersDoNotDeadlock) {
  io::FaultPlan plan;
  plan.seed = 77;
  plan.short_write_probability = 0.2;
  io::MemBackend mem(true, plan);
  segment::WritePool pool(&mem, 2, segment::SegmentWriter::BatchBufferBytes(16 * 1024));
  segment::BlockCodec codec(format::Codec::kLz4, 1);
  constexpr int kWriters = 6;
  std::vector<std::unique_ptr<segment::SegmentWriter>> writers;
  std::vector<segment::BlockBuilder> builders;
  std::vector<std::vector<OwnedRecord>> written(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers.push_back(std::make_unique<segment::SegmentWriter>(
        segment::SegmentWriter::Options{"/m", "b", "t", w}, &pool, &codec));
    builders.emplace_back(16 * 1024);
  }
  std::mt19937_64 rng(3);
  std::vector<HeaderView> scratch;
  for (int64_t off = 0; off < 3000; ++off) {
    const int w = static_cast<int>(rng() % kWriters);
    OwnedRecord r = MakeRecord(rng, off);
    if (!builders[w].TryAppend(r.View(&scratch))) {
      if (!writers[w]->is_open()) {
        ASSERT_TRUE(writers[w]->Open(builders[w].stats().first_offset, 1).ok());
      }
      ASSERT_TRUE(writers[w]->AppendBlock(builders[w]).ok());
      builders[w].Reset();
      ASSERT_TRUE(builders[w].TryAppend(r.View(&scratch)));
    }
    written[w].push_back(r);
  }
  for (int w = 0; w < kWriters; ++w) {
    if (!builders[w].empty()) {
      if (!writers[w]->is_open()) {
        ASSERT_TRUE(writers[w]->Open(builders[w].stats().first_offset, 1).ok());
      }
      ASSERT_TRUE(writers[w]->AppendBlock(builders[w]).ok());
    }
    segment::SealedSegment s;
    ASSERT_TRUE(writers[w]->Seal(&s).ok());
    EXPECT_EQ(ScanImage(mem.Contents("/m/" + s.path), tmp_.string()), written[w]) << "writer " << w;
  }
  EXPECT_GT(pool.held_flushes(), 0u);
  ASSERT_TRUE(pool.Drain().ok());
}

// ramfs refuses O_DIRECT (EINVAL at open): "auto" falls back to buffered writes and says why,
// "on" is a clear error, and a segment written the buffered way is whole.
TEST_F(SegmentWriterTest, DirectIoProbeFallsBackWhereTheFilesystemRefusesIt) {
  const std::filesystem::path mnt = tmp_ / "ramfs";
  std::filesystem::create_directories(mnt);
  if (::mount("ramfs", mnt.c_str(), "ramfs", 0, nullptr) != 0) {
    GTEST_SKIP() << "cannot mount ramfs here (needs root): " << std::strerror(errno);
  }
  {
    auto on = io::MakeUringBackend(mnt.string(), {io::DirectIoMode::kOn, 16});
    ASSERT_FALSE(on.ok());
    EXPECT_TRUE(on.status().Is(Errc::kUnsupported));
    EXPECT_NE(on.status().message().find("direct_io = \"on\""), std::string::npos)
        << on.status().message();
    auto io = io::MakeUringBackend(mnt.string(), {io::DirectIoMode::kAuto, 16});
    ASSERT_TRUE(io.ok()) << io.status().message();
    EXPECT_FALSE(io.value()->direct());
    EXPECT_NE(io.value()->Describe().find("O_DIRECT refused here"), std::string::npos)
        << io.value()->Describe();
    Harness h(io.value().get(), mnt.string());
    ASSERT_TRUE(h.Write(2000, 8).ok());
    segment::SealedSegment sealed;
    ASSERT_TRUE(h.writer.Seal(&sealed).ok());
    segment::SegmentReader reader;
    ASSERT_TRUE(reader.Open(mnt.string() + "/" + sealed.path).ok());
    EXPECT_TRUE(reader.footer_status().ok());
    EXPECT_EQ(reader.footer().record_count, 2000u);
  }
  ::umount(mnt.c_str());
}

TEST_F(SegmentWriterTest, MisalignedDirectWriteIsRefused) {
  io::MemBackend mem(true);
  io::AlignedBuffer buf(8192);
  io::IoOp op;
  op.fd = 1;
  op.buf = buf.data() + 1;
  op.len = 4096;
  EXPECT_TRUE(mem.Submit(&op).IsErrno(EINVAL));
  op.buf = buf.data();
  op.len = 100;
  EXPECT_TRUE(mem.Submit(&op).IsErrno(EINVAL));
}

TEST_F(SegmentWriterTest, UringWritesARealFileBothDirectAndBuffered) {
  for (auto mode : {io::DirectIoMode::kAuto, io::DirectIoMode::kOff}) {
    auto io_or = io::MakeUringBackend(tmp_.string(), {mode, 32});
    ASSERT_TRUE(io_or.ok()) << io_or.status().message();
    auto& io = io_or.value();
    if (mode == io::DirectIoMode::kOff) {
      EXPECT_FALSE(io->direct());
    }
    SCOPED_TRACE(io->Describe());
    const std::string dir = (tmp_ / io->Describe()).string();
    Harness h(io.get(), dir);
    std::string reg = h.pool.TryRegisterBuffers();
    SCOPED_TRACE(reg);
    ASSERT_TRUE(h.Write(4000, 11).ok());
    segment::SealedSegment sealed;
    ASSERT_TRUE(h.writer.Seal(&sealed).ok());
    EXPECT_EQ(io->in_flight(), 0u);
    const std::string path = dir + "/" + sealed.path;
    EXPECT_EQ(std::filesystem::file_size(path), sealed.bytes_stored);
    segment::SegmentReader reader;
    ASSERT_TRUE(reader.Open(path).ok());
    ASSERT_TRUE(reader.footer_status().ok()) << reader.footer_status().message();
    EXPECT_EQ(reader.footer().record_count, 4000u);
    EXPECT_EQ(reader.footer_checksum(), sealed.checksum);
    std::vector<uint8_t> img(sealed.bytes_stored);
    FILE* f = std::fopen(path.c_str(), "rb");
    ASSERT_EQ(std::fread(img.data(), 1, img.size(), f), img.size());
    std::fclose(f);
    EXPECT_EQ(ScanImage(img, tmp_.string()), h.written);
  }
}

// Crash recovery of unsealed segments, on real files: a sealed segment is taken apart into the
// states a crash can leave, and recovery must give back exactly its intact blocks.
class RecoveryTest : public SegmentWriterTest {
 protected:
  void SetUp() override {
    SegmentWriterTest::SetUp();
    dir_ = (tmp_ / "b").string();
    auto io = io::MakeUringBackend(tmp_.string(), {io::DirectIoMode::kOff, 32});
    ASSERT_TRUE(io.ok()) << io.status().message();
    Harness h(io.value().get(), dir_);
    ASSERT_TRUE(h.Write(3000, 21).ok());
    ASSERT_TRUE(h.writer.Seal(&sealed_).ok());
    written_ = h.written;
    const std::string path = dir_ + "/" + sealed_.path;
    segment::SegmentReader reader;
    ASSERT_TRUE(reader.Open(path).ok());
    blocks_ = reader.footer().blocks;
    ASSERT_GE(blocks_.size(), 4u);
    image_.resize(sealed_.bytes_stored);
    FILE* f = std::fopen(path.c_str(), "rb");
    ASSERT_EQ(std::fread(image_.data(), 1, image_.size(), f), image_.size());
    std::fclose(f);
    std::filesystem::remove(path);
    open_ = sealed_.path + ".open";
  }
  // The unsealed file a crash left: bytes [0, len) of the image, then `zeros` zero bytes (what
  // a preallocation reads as).
  void LeaveOpenFile(size_t len, size_t zeros = 0) {
    std::vector<uint8_t> img(image_.begin(), image_.begin() + static_cast<std::ptrdiff_t>(len));
    img.resize(len + zeros, 0);
    FILE* f = std::fopen((dir_ + "/" + open_).c_str(), "wb");
    std::fwrite(img.data(), 1, img.size(), f);
    std::fclose(f);
  }
  // The records of blocks [0, n).
  std::vector<OwnedRecord> FirstBlocks(size_t n) {
    uint64_t count = 0;
    for (size_t i = 0; i < n; ++i) count += blocks_[i].record_count;
    return {written_.begin(), written_.begin() + static_cast<std::ptrdiff_t>(count)};
  }
  std::vector<OwnedRecord> ReadSealed(const segment::SealedSegment& s) {
    segment::SegmentReader reader;
    EXPECT_TRUE(reader.Open(dir_ + "/" + s.path).ok());
    EXPECT_TRUE(reader.footer_status().ok()) << reader.footer_status().message();
    EXPECT_EQ(reader.footer_checksum(), s.checksum);
    EXPECT_EQ(reader.file_size(), s.bytes_stored);
    std::vector<OwnedRecord> out;
    ScanFile(dir_ + "/" + s.path, &out);
    return out;
  }
  std::string dir_, open_;
  segment::SealedSegment sealed_;
  std::vector<OwnedRecord> written_;
  std::vector<format::FooterEntry> blocks_;
  std::vector<uint8_t> image_;
};

TEST_F(RecoveryTest, EveryBlockBeforeThePreallocatedTailComesBackAsTheSameSegment) {
  const uint64_t blocks_end = blocks_.back().file_offset + blocks_.back().block_size;
  LeaveOpenFile(blocks_end, 1 << 20);
  auto r = segment::RecoverOpenSegment(dir_, open_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->sealed.has_value());
  // The same blocks give the same footer: the recovered segment is the one the writer sealed.
  EXPECT_EQ(r->sealed->checksum, sealed_.checksum);
  EXPECT_EQ(r->sealed->records, sealed_.records);
  EXPECT_EQ(r->sealed->last_offset, sealed_.last_offset);
  EXPECT_EQ(r->sealed->bytes_stored, sealed_.bytes_stored);
  EXPECT_EQ(r->sealed->path, sealed_.path);
  EXPECT_EQ(r->dropped_bytes, 1u << 20);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/" + open_));
  EXPECT_EQ(ReadSealed(*r->sealed), written_);
}

TEST_F(RecoveryTest, TornOrDamagedBlockEndsTheSegmentJustBeforeIt) {
  // Torn inside the last block.
  const auto& last = blocks_.back();
  LeaveOpenFile(last.file_offset + last.block_size / 2);
  auto torn = segment::RecoverOpenSegment(dir_, open_);
  ASSERT_TRUE(torn.ok()) << torn.status().message();
  ASSERT_TRUE(torn->sealed.has_value());
  EXPECT_EQ(torn->sealed->blocks, blocks_.size() - 1);
  EXPECT_EQ(torn->sealed->last_offset, blocks_[blocks_.size() - 2].last_offset);
  EXPECT_EQ(torn->dropped_bytes, last.block_size / 2);
  EXPECT_FALSE(torn->stopped_because.empty());
  EXPECT_EQ(ReadSealed(*torn->sealed), FirstBlocks(blocks_.size() - 1));

  // A flipped byte in block 2: blocks 0 and 1 survive.
  std::filesystem::remove(dir_ + "/" + torn->sealed->path);
  image_[blocks_[2].file_offset + format::kBlockHeaderSize + 7] ^= 0x01;
  LeaveOpenFile(blocks_.back().file_offset + blocks_.back().block_size);
  auto flipped = segment::RecoverOpenSegment(dir_, open_);
  ASSERT_TRUE(flipped.ok()) << flipped.status().message();
  ASSERT_TRUE(flipped->sealed.has_value());
  EXPECT_EQ(flipped->sealed->blocks, 2u);
  EXPECT_NE(flipped->stopped_because.find("checksum"), std::string::npos)
      << flipped->stopped_because;
  EXPECT_EQ(ReadSealed(*flipped->sealed), FirstBlocks(2));
}

TEST_F(RecoveryTest, CrashDuringRecoveryRecoversToTheSameSegment) {
  const uint64_t blocks_end = blocks_.back().file_offset + blocks_.back().block_size;
  LeaveOpenFile(blocks_end, 8192);
  auto first = segment::RecoverOpenSegment(dir_, open_);
  ASSERT_TRUE(first.ok() && first->sealed.has_value());
  // As if the process died while writing the footer: the footer region is torn, not renamed.
  std::filesystem::rename(dir_ + "/" + first->sealed->path, dir_ + "/" + open_);
  std::filesystem::resize_file(dir_ + "/" + open_, first->sealed->bytes_stored - 100);
  auto again = segment::RecoverOpenSegment(dir_, open_);
  ASSERT_TRUE(again.ok()) << again.status().message();
  ASSERT_TRUE(again->sealed.has_value());
  EXPECT_EQ(again->sealed->checksum, first->sealed->checksum);
  EXPECT_EQ(ReadSealed(*again->sealed), written_);
}

TEST_F(RecoveryTest, NothingToKeepRemovesTheFileAndADamagedHeaderIsLeftAlone) {
  // The header page and half of the first block: no record survives.
  LeaveOpenFile(blocks_[0].file_offset + blocks_[0].block_size / 2);
  auto none = segment::RecoverOpenSegment(dir_, open_);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_FALSE(none->sealed.has_value());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/" + open_));

  // A damaged header page cannot be trusted to name the segment: an error, the file untouched.
  image_[8] ^= 0xff;
  LeaveOpenFile(image_.size());
  auto bad = segment::RecoverOpenSegment(dir_, open_);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("left as it is"), std::string::npos)
      << bad.status().message();
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/" + open_), image_.size());
  EXPECT_FALSE(segment::RecoverOpenSegment(dir_, sealed_.path).ok());  // not an .open name
}

// A shard's writers reserve file space ahead of their writes from one budget, not 8 MiB each;
// a segment written only at its seal (a quiet partition's) reserves nothing.
TEST(PreallocationBudget, WritersShareOneBudgetAndASealOnlySegmentReservesNothing) {
  io::MemBackend mem(/*direct=*/true);
  constexpr uint64_t kBudget = 24ull << 20;  // three 8 MiB steps
  segment::WritePool pool(&mem, 4, segment::BlockCodec::MaxBlockSize(64 * 1024), kBudget);
  segment::BlockCodec codec(format::Codec::kNone, 1);
  std::mt19937_64 rng(3);
  std::vector<HeaderView> scratch;
  std::vector<std::unique_ptr<segment::SegmentWriter>> writers;
  for (int32_t p = 0; p < 6; ++p) {
    writers.push_back(std::make_unique<segment::SegmentWriter>(
        segment::SegmentWriter::Options{"/b", "b1", "orders", p}, &pool, &codec));
    segment::BlockBuilder b(64 * 1024);
    ASSERT_TRUE(b.TryAppend(MakeRecord(rng, 0).View(&scratch)));
    ASSERT_TRUE(writers.back()->Open(0, 1).ok());
    ASSERT_TRUE(writers.back()->AppendBlock(b).ok());
    ASSERT_TRUE(writers.back()->Flush().ok());  // a block written before the seal: reserves
    EXPECT_LE(pool.preallocated(), kBudget);
  }
  ASSERT_TRUE(pool.Drain().ok());
  EXPECT_EQ(pool.preallocated(), kBudget) << "the budget was not used up, or was passed";
  for (auto& w : writers) {
    segment::SealedSegment s;
    ASSERT_TRUE(w->Seal(&s).ok());
    EXPECT_EQ(s.bytes_stored, mem.Contents("/b/" + s.path).size());
  }
  EXPECT_EQ(pool.preallocated(), 0u) << "seals did not give the budget back";

  // Written once, at its seal: one write, no fallocate, nothing reserved.
  segment::SegmentWriter quiet({"/b", "b1", "orders", 9}, &pool, &codec);
  segment::BlockBuilder b(64 * 1024);
  for (int64_t o = 0; o < 60; ++o) ASSERT_TRUE(b.TryAppend(MakeRecord(rng, o).View(&scratch)));
  ASSERT_TRUE(quiet.Open(0, 1).ok());
  ASSERT_TRUE(quiet.AppendBlock(b).ok());
  const uint64_t ops = mem.stats().writes_submitted;
  segment::SealedSegment s;
  ASSERT_TRUE(quiet.Seal(&s).ok());
  EXPECT_EQ(mem.stats().writes_submitted - ops, 1u) << "more than one write (an fallocate?)";
  EXPECT_EQ(pool.preallocated(), 0u);
  ASSERT_TRUE(pool.Drain().ok());
}

}  // namespace
}  // namespace tidemark
