// The one block reader (segment::SegmentReader with CheckBlock, ReadIndexed and ScanNext): a
// block that disagrees with its index entry is damage wherever it is read through the index
// (the store's recovery scan included), a scan stops at offsets that go back and at a torn
// block naming the byte, and crash recovery keeps exactly the blocks before that.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "segment/block.h"
#include "segment/recovery.h"
#include "segment/segment_reader.h"
#include "service/store.h"
#include "test_util.h"

namespace tidemark {
namespace {

namespace fs = std::filesystem;

// One encoded block of records first..last (timestamps from rng).
std::vector<uint8_t> Block(int64_t first, int64_t last, format::BlockHeader* h) {
  std::mt19937_64 rng(static_cast<uint64_t>(first));
  segment::BlockBuilder builder(1 << 20);
  std::vector<testing::OwnedRecord> records;
  std::vector<HeaderView> scratch;
  for (int64_t o = first; o <= last; ++o) {
    records.push_back(testing::MakeRecord(rng, o));
    EXPECT_TRUE(builder.TryAppend(records.back().View(&scratch)));
  }
  segment::BlockCodec codec(format::Codec::kZstd, 1);
  io::AlignedBuffer out(segment::BlockCodec::MaxBlockSize(builder.raw_size()));
  auto r = codec.Finish(builder, &out);
  EXPECT_TRUE(r.ok()) << r.status().message();
  *h = *r;
  return std::vector<uint8_t>(out.data(), out.data() + h->block_size);
}

// A segment file image: the header page, then `blocks`; with `footer`, the footer region
// encoded for it after the blocks.
std::vector<uint8_t> Image(int64_t first_offset, const std::vector<std::vector<uint8_t>>& blocks,
                           const format::Footer* footer) {
  std::vector<uint8_t> img(format::kFileHeaderSize);
  format::FileHeader fh;
  fh.topic = "orders";
  fh.partition = 0;
  fh.first_offset = first_offset;
  fh.backup_id = "b1";
  format::EncodeFileHeader(fh, img.data());
  for (const auto& b : blocks) img.insert(img.end(), b.begin(), b.end());
  if (footer != nullptr) {
    std::vector<uint8_t> region(format::FooterRegionSize(footer->blocks.size()));
    format::EncodeFooterRegion(*footer, img.size(), region.data());
    img.insert(img.end(), region.begin(), region.end());
  }
  return img;
}

void WriteAll(const fs::path& p, const std::vector<uint8_t>& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good());
}

class BlockReaderTest : public ::testing::Test {
 protected:
  void SetUp() override { tmp_ = testing::FreshTestDir("blockreader"); }
  void TearDown() override { fs::remove_all(tmp_); }
  fs::path tmp_;
};

// The footer is intact (its checksum recomputed) but names a wrong timestamp for block 1: the
// block reads fine by its position, and is damage through the index.
TEST_F(BlockReaderTest, BlockThatDisagreesWithItsIndexEntryIsDamageThroughTheIndex) {
  format::BlockHeader h0, h1;
  auto b0 = Block(0, 49, &h0), b1 = Block(50, 99, &h1);
  format::Footer footer;
  footer.first_offset = 0;
  format::AddBlockToFooter(&footer, format::kFileHeaderSize, h0);
  format::BlockHeader lie = h1;
  lie.max_timestamp += 1;
  format::AddBlockToFooter(&footer, format::kFileHeaderSize + h0.block_size, lie);
  const fs::path dir = tmp_ / "b1";
  const std::string rel = "topics/orders/0/" + format::SegmentName(0, true);
  WriteAll(dir / rel, Image(0, {b0, b1}, &footer));

  segment::SegmentReader r;
  ASSERT_TRUE(r.Open((dir / rel).string()).ok());
  ASSERT_TRUE(r.footer_status().ok()) << r.footer_status().message();
  format::BlockHeader h;
  std::span<const uint8_t> payload;
  EXPECT_TRUE(r.ReadIndexed(0, &h, &payload).ok());
  Status st = r.ReadIndexed(1, &h, &payload);
  EXPECT_TRUE(st.Is(Errc::kCorrupt));
  EXPECT_NE(st.message().find("disagrees with the footer's index entry"), std::string::npos)
      << st.message();
  EXPECT_TRUE(r.ReadBlockAt(format::kFileHeaderSize + h0.block_size, &h, &payload).ok());
  st = r.ReadIndexed(2, &h, &payload);
  EXPECT_TRUE(st.Is(Errc::kCorrupt)) << st.message();

  // The store's recovery scan does not adopt it: its offsets are fetched again.
  service::StoreRecovery report;
  auto m = service::RecoverStore(dir.string(), std::nullopt, &report);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_TRUE(report.adopted.empty());
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find(rel + ": block 1 at byte " +
                                    std::to_string(format::kFileHeaderSize + h0.block_size) +
                                    ": block disagrees with the footer's index entry"),
            std::string::npos)
      << report.problems[0];
  EXPECT_EQ(m->topics.at("orders").partitions.at(0).end_offset, 0);
}

// An unsealed file whose second block goes back in offsets, then a torn block: the scan stops
// at the second block, naming why, and recovery keeps the first block alone.
TEST_F(BlockReaderTest, ScanStopsWhereOffsetsGoBackAndRecoveryKeepsWhatCameBefore) {
  format::BlockHeader h0, h1, h2;
  auto b0 = Block(0, 49, &h0), b1 = Block(40, 89, &h1), b2 = Block(50, 99, &h2);
  const fs::path dir = tmp_ / "b1";
  const std::string rel = "topics/orders/0/" + format::SegmentName(0, false);
  WriteAll(dir / rel, Image(0, {b0, b1}, nullptr));

  segment::SegmentReader r;
  ASSERT_TRUE(r.Open((dir / rel).string()).ok());
  EXPECT_FALSE(r.footer_status().ok());
  segment::BlockScan scan;
  format::BlockHeader h;
  std::span<const uint8_t> payload;
  auto more = r.ScanNext(&scan, &h, &payload);
  ASSERT_TRUE(more.ok()) << more.status().message();
  EXPECT_TRUE(*more);
  EXPECT_EQ(h.last_offset, 49);
  EXPECT_EQ(scan.pos, format::kFileHeaderSize + h0.block_size);
  more = r.ScanNext(&scan, &h, &payload);
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(more.status().message(), "block offsets go back");
  EXPECT_EQ(scan.pos, format::kFileHeaderSize + h0.block_size);  // stays at the damage
  EXPECT_EQ(scan.block, 1);

  // Torn: the third block cut in half. The scan reads two blocks, then names the byte.
  auto torn = Image(0, {b0, b2}, nullptr);
  torn.insert(torn.end(), b2.begin(), b2.begin() + static_cast<long>(b2.size() / 2));
  WriteAll(dir / rel, torn);
  segment::SegmentReader r2;
  ASSERT_TRUE(r2.Open((dir / rel).string()).ok());
  segment::BlockScan scan2;
  int blocks = 0;
  for (;;) {
    more = r2.ScanNext(&scan2, &h, &payload);
    if (!more.ok() || !*more) break;
    ++blocks;
  }
  EXPECT_EQ(blocks, 2);
  ASSERT_FALSE(more.ok());
  const uint64_t at = format::kFileHeaderSize + h0.block_size + h2.block_size;
  EXPECT_NE(more.status().message().find("at byte " + std::to_string(at)), std::string::npos)
      << more.status().message();

  // Recovery of the first file keeps block 0 and says where and why it stopped.
  WriteAll(dir / rel, Image(0, {b0, b1}, nullptr));
  auto rec = segment::RecoverOpenSegment(dir.string(), rel);
  ASSERT_TRUE(rec.ok()) << rec.status().message();
  ASSERT_TRUE(rec->sealed.has_value());
  EXPECT_EQ(rec->sealed->last_offset, 49);
  EXPECT_EQ(rec->sealed->records, 50u);
  EXPECT_EQ(rec->dropped_bytes, h1.block_size);
  EXPECT_EQ(rec->stopped_because, "at byte " +
                                      std::to_string(format::kFileHeaderSize + h0.block_size) +
                                      ": block offsets go back");
}

// CheckBlock is what restore runs on its io_uring buffers: with an entry it checks agreement,
// and a buffer shorter than the block is damage, not a read past it.
TEST_F(BlockReaderTest, CheckBlockChecksTheEntryAndTheBufferLength) {
  format::BlockHeader h0;
  auto b0 = Block(0, 9, &h0);
  format::Footer footer;
  format::AddBlockToFooter(&footer, format::kFileHeaderSize, h0);
  segment::BlockDecoder decoder;
  format::BlockHeader h;
  std::span<const uint8_t> payload;
  EXPECT_TRUE(
      segment::CheckBlock(&decoder, b0.data(), b0.size(), &footer.blocks[0], &h, &payload).ok());
  EXPECT_EQ(payload.size(), h0.raw_size);
  format::FooterEntry other = footer.blocks[0];
  other.record_count = 9;
  Status st = segment::CheckBlock(&decoder, b0.data(), b0.size(), &other, &h, &payload);
  EXPECT_EQ(st.message(), "block disagrees with the footer's index entry");
  st = segment::CheckBlock(&decoder, b0.data(), b0.size() - 1, nullptr, &h, &payload);
  EXPECT_TRUE(st.Is(Errc::kCorrupt));
  EXPECT_NE(st.message().find("block truncated"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace tidemark
