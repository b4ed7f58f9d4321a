// Unit tests: record encoding, blocks (all codecs), headers, footer and their damage detection.
#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "segment/block.h"
#include "test_util.h"
#include "tidemark/format.h"
#include "tidemark/record.h"

namespace tidemark {
namespace {

using testing::MakeRecord;
using testing::OwnedHeader;
using testing::OwnedRecord;

std::vector<OwnedRecord> DecodeAll(std::span<const uint8_t> payload, Status* st) {
  std::vector<OwnedRecord> out;
  RecordDecoder dec(payload);
  RecordView v;
  while (dec.Next(&v)) out.push_back(OwnedRecord::From(v));
  *st = dec.status();
  return out;
}

TEST(RecordCodec, RoundTripsEdgeCases) {
  std::vector<OwnedRecord> recs;
  OwnedRecord empty_everything;  // null key, null value, no headers
  empty_everything.offset = 0;
  recs.push_back(empty_everything);
  OwnedRecord empty_not_null;
  empty_not_null.offset = 1;
  empty_not_null.key = "";
  empty_not_null.value = "";
  empty_not_null.headers = {{"", std::string()}, {"", std::nullopt}};
  recs.push_back(empty_not_null);
  OwnedRecord big;
  big.offset = 2;
  big.key = "k";
  big.value = std::string(3 * 1024 * 1024 + 17, 'v');  // multi-MiB value
  recs.push_back(big);
  OwnedRecord many_headers;
  many_headers.offset = 3;
  many_headers.timestamp_type = format::TimestampType::kLogAppendTime;
  many_headers.timestamp = -1;
  for (int i = 0; i < 200; ++i) {  // more than the decoder's inline header scratch
    many_headers.headers.push_back(
        {"dup", i % 3 ? std::optional<std::string>("x" + std::to_string(i)) : std::nullopt});
  }
  recs.push_back(many_headers);

  std::vector<uint8_t> buf;
  std::vector<HeaderView> scratch;
  for (const auto& r : recs) {
    RecordView v = r.View(&scratch);
    size_t n = EncodedRecordSize(v);
    size_t at = buf.size();
    buf.resize(at + n);
    ASSERT_EQ(EncodeRecord(v, buf.data() + at), n);
  }
  Status st;
  auto got = DecodeAll(buf, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(got, recs);
  EXPECT_FALSE(got[0].key.has_value());
  EXPECT_TRUE(got[1].key.has_value());
}

TEST(RecordCodec, CorruptLengthsAreErrorsNotCrashes) {
  OwnedRecord r;
  r.key = "key";
  r.value = "value";
  r.headers = {{"h", std::string("v")}};
  std::vector<HeaderView> scratch;
  RecordView v = r.View(&scratch);
  std::vector<uint8_t> buf(EncodedRecordSize(v));
  EncodeRecord(v, buf.data());
  // Every single-byte change to a length field or the type must be caught or decode to the
  // same length structure; none may read out of bounds (ASan watches).
  for (size_t i = 0; i < buf.size(); ++i) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xFF}}) {
      std::vector<uint8_t> bad = buf;
      bad[i] ^= flip;
      Status st;
      DecodeAll(bad, &st);  // must not crash
    }
  }
  std::vector<uint8_t> truncated(buf.begin(), buf.end() - 1);
  Status st;
  DecodeAll(truncated, &st);
  EXPECT_TRUE(st.Is(Errc::kCorrupt));
}

class BlockTest : public ::testing::TestWithParam<format::Codec> {};

TEST_P(BlockTest, RoundTripsAndRollsAtTarget) {
  std::mt19937_64 rng(42);
  segment::BlockBuilder builder(16 * 1024);
  segment::BlockCodec codec(GetParam(), 1);
  segment::BlockDecoder decoder;
  io::AlignedBuffer out(segment::BlockCodec::MaxBlockSize(16 * 1024));
  std::vector<OwnedRecord> pending, decoded;
  std::vector<HeaderView> scratch;
  int blocks = 0;
  auto finish = [&] {
    auto h = codec.Finish(builder, &out);
    ASSERT_TRUE(h.ok());
    EXPECT_TRUE(format::IsAligned(h->block_size));
    EXPECT_TRUE(format::IsAligned(reinterpret_cast<uintptr_t>(out.data())));
    format::BlockHeader hdr;
    std::span<const uint8_t> payload;
    ASSERT_TRUE(decoder.Decode(out.data(), h->block_size, &hdr, &payload).ok());
    EXPECT_EQ(hdr.record_count, builder.stats().record_count);
    EXPECT_EQ(hdr.first_offset, builder.stats().first_offset);
    EXPECT_EQ(hdr.last_offset, builder.stats().last_offset);
    // The tail of the last page is zero.
    for (size_t i = format::kBlockHeaderSize + hdr.stored_size; i < hdr.block_size; ++i) {
      ASSERT_EQ(out.data()[i], 0) << "padding byte " << i;
    }
    Status st;
    auto recs = DecodeAll(payload, &st);
    ASSERT_TRUE(st.ok());
    decoded.insert(decoded.end(), recs.begin(), recs.end());
    builder.Reset();
    ++blocks;
  };
  for (int64_t off = 0; off < 2000; off += 1 + static_cast<int64_t>(rng() % 3)) {  // gaps too
    OwnedRecord r = MakeRecord(rng, off);
    pending.push_back(r);
    if (!builder.TryAppend(r.View(&scratch))) {
      finish();
      ASSERT_TRUE(builder.TryAppend(r.View(&scratch)));
    }
    EXPECT_LE(builder.raw_size(), 16u * 1024);
  }
  finish();
  EXPECT_GT(blocks, 3);
  EXPECT_EQ(decoded, pending);
}

TEST_P(BlockTest, OversizedRecordGetsItsOwnBlock) {
  segment::BlockBuilder builder(4096);
  segment::BlockCodec codec(GetParam(), 1);
  io::AlignedBuffer out(segment::BlockCodec::MaxBlockSize(4096));
  OwnedRecord small, huge;
  small.offset = 1;
  small.value = "small";
  huge.offset = 2;
  huge.value = std::string(2 * 1024 * 1024, 'h');
  std::vector<HeaderView> scratch;
  ASSERT_TRUE(builder.TryAppend(small.View(&scratch)));
  ASSERT_FALSE(builder.TryAppend(huge.View(&scratch)));  // does not fit beside another record
  ASSERT_TRUE(codec.Finish(builder, &out).ok());
  builder.Reset();
  ASSERT_TRUE(builder.TryAppend(huge.View(&scratch)));  // alone, the buffer grows
  auto h = codec.Finish(builder, &out);
  ASSERT_TRUE(h.ok());
  segment::BlockDecoder decoder;
  format::BlockHeader hdr;
  std::span<const uint8_t> payload;
  ASSERT_TRUE(decoder.Decode(out.data(), h->block_size, &hdr, &payload).ok());
  Status st;
  auto recs = DecodeAll(payload, &st);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0], huge);
}

TEST_P(BlockTest, AnyFlippedByteIsCaught) {
  std::mt19937_64 rng(7);
  segment::BlockBuilder builder(16 * 1024);
  segment::BlockCodec codec(GetParam(), 1);
  io::AlignedBuffer out(segment::BlockCodec::MaxBlockSize(16 * 1024));
  std::vector<HeaderView> scratch;
  for (int64_t off = 0;; ++off) {
    OwnedRecord r = MakeRecord(rng, off);
    if (!builder.TryAppend(r.View(&scratch))) break;
  }
  auto h = codec.Finish(builder, &out);
  ASSERT_TRUE(h.ok());
  const size_t meaningful = format::kBlockHeaderSize + h->stored_size;
  segment::BlockDecoder decoder;
  for (size_t i = 0; i < meaningful; i += 1 + i / 64) {  // every header byte, a spread of payload
    std::vector<uint8_t> bad(out.data(), out.data() + h->block_size);
    bad[i] ^= 0x10;
    format::BlockHeader hdr;
    std::span<const uint8_t> payload;
    Status st = decoder.Decode(bad.data(), bad.size(), &hdr, &payload);
    EXPECT_TRUE(st.Is(Errc::kCorrupt)) << "flip at byte " << i << " not caught";
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, BlockTest,
                         ::testing::Values(format::Codec::kNone, format::Codec::kZstd,
                                           format::Codec::kLz4),
                         [](const auto& info) {
                           return std::string(format::CodecName(info.param));
                         });

TEST(Block, IncompressibleDataIsStoredRaw) {
  std::mt19937_64 rng(3);
  segment::BlockBuilder builder(32 * 1024);
  segment::BlockCodec codec(format::Codec::kZstd, 3);
  io::AlignedBuffer out(segment::BlockCodec::MaxBlockSize(32 * 1024));
  OwnedRecord r;
  r.value = std::string(20000, '\0');
  for (auto& c : *r.value) c = static_cast<char>(rng());
  std::vector<HeaderView> scratch;
  ASSERT_TRUE(builder.TryAppend(r.View(&scratch)));
  auto h = codec.Finish(builder, &out);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->codec, format::Codec::kNone);
  EXPECT_EQ(h->stored_size, h->raw_size);
}

TEST(FileHeader, RoundTripAndChecksum) {
  format::FileHeader fh{"orders.eu-1", 7, 123456789, 1763647380000, "prod"};
  std::vector<uint8_t> page(format::kFileHeaderSize);
  format::EncodeFileHeader(fh, page.data());
  format::FileHeader got;
  ASSERT_TRUE(format::DecodeFileHeader(page.data(), page.size(), &got).ok());
  EXPECT_EQ(got.topic, fh.topic);
  EXPECT_EQ(got.partition, 7);
  EXPECT_EQ(got.first_offset, 123456789);
  EXPECT_EQ(got.backup_id, "prod");
  page[40] ^= 1;
  EXPECT_TRUE(format::DecodeFileHeader(page.data(), page.size(), &got).Is(Errc::kCorrupt));
}

TEST(Footer, RoundTripAndChecksum) {
  format::Footer f;
  f.first_offset = 10;
  f.last_offset = 309;
  f.record_count = 300;
  f.min_timestamp = 0;
  f.max_timestamp = 299;
  for (int i = 0; i < 300; ++i) {
    f.blocks.push_back(
        {4096u * (i + 1), 4096, 1, 10 + i, 10 + i, i, i, static_cast<uint64_t>(i) * 31});
  }
  const size_t region = format::FooterRegionSize(f.blocks.size());
  EXPECT_TRUE(format::IsAligned(region));
  std::vector<uint8_t> buf(region);
  const uint64_t footer_offset = 4096 * 301;
  uint64_t sum = format::EncodeFooterRegion(f, footer_offset, buf.data());
  format::Trailer t;
  ASSERT_TRUE(
      format::DecodeTrailer(buf.data() + region - format::kTrailerSize, footer_offset + region, &t)
          .ok());
  EXPECT_EQ(t.footer_offset, footer_offset);
  format::Footer got;
  uint64_t got_sum = 0;
  ASSERT_TRUE(format::DecodeFooter(buf.data(), region, t, &got, &got_sum).ok());
  EXPECT_EQ(got_sum, sum);
  ASSERT_EQ(got.blocks.size(), 300u);
  EXPECT_EQ(got.blocks[299].first_offset, 309);
  buf[100] ^= 4;
  EXPECT_TRUE(format::DecodeFooter(buf.data(), region, t, &got, &got_sum).Is(Errc::kCorrupt));
}

TEST(Names, SegmentNamesSortByOffset) {
  EXPECT_EQ(format::SegmentName(42, true), "00000000000000000042.tmseg");
  EXPECT_EQ(format::SegmentName(42, false), "00000000000000000042.tmseg.open");
  EXPECT_LT(format::SegmentName(999, true), format::SegmentName(1000, true));
  EXPECT_EQ(format::PartitionDir("orders", 3), "topics/orders/3");
}

TEST(Names, ParseSegmentNameTakesExactlyWhatSegmentNameWrites) {
  for (const int64_t first : {int64_t{0}, int64_t{42}, std::numeric_limits<int64_t>::max()}) {
    for (const bool sealed : {true, false}) {
      int64_t got = -1;
      bool got_sealed = !sealed;
      ASSERT_TRUE(format::ParseSegmentName(format::SegmentName(first, sealed), &got, &got_sealed));
      EXPECT_EQ(got, first);
      EXPECT_EQ(got_sealed, sealed);
    }
  }
  int64_t first = 7;
  bool sealed = true;
  for (const char* bad :
       {"", ".tmseg", "42.tmseg", "000000000000000000042.tmseg", "-0000000000000000042.tmseg",
        "-0000000000000000000.tmseg", "+0000000000000000042.tmseg", " 0000000000000000042.tmseg",
        "0000000000000000004x.tmseg", "99999999999999999999.tmseg",
        "00000000000000000042.tmseg.damaged", "00000000000000000042.tmsegx",
        "00000000000000000042"}) {
    EXPECT_FALSE(format::ParseSegmentName(bad, &first, &sealed)) << bad;
  }
  EXPECT_EQ(first, 7);  // untouched by a refusal
}

}  // namespace
}  // namespace tidemark
