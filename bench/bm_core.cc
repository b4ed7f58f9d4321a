// Microbenchmarks of the record path: encode, compress, checksum, decode, and the writer
// (io_uring O_DIRECT against buffered writes) at several write depths. Release builds only;
// p50/p99 are reported through counters where a latency is meaningful.
//
//   build/release/bench/bm_core --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "bench/datagen.h"
#include "common/histogram.h"
#include "common/time.h"
#include "io/io_backend.h"
#include "segment/block.h"
#include "segment/segment_writer.h"

namespace tidemark::bench {
namespace {

constexpr size_t kBlockBytes = 1 << 20;

void BM_EncodeRecord(benchmark::State& state) {
  const auto records = MakeRecords(1024, static_cast<size_t>(state.range(0)));
  segment::BlockBuilder builder(kBlockBytes);
  std::vector<HeaderView> scratch;
  int64_t offset = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    const auto& r = records[static_cast<size_t>(offset) & 1023];
    RecordView v = ViewOf(r, offset, 1763647380000 + offset, &scratch);
    ++offset;
    if (!builder.TryAppend(v)) {
      builder.Reset();
      builder.TryAppend(v);
    }
    bytes += r.key.size() + r.value.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(offset);
}
BENCHMARK(BM_EncodeRecord)->Arg(100)->Arg(1024)->Arg(10240);

// A full block of synthetic records from offset `first`, ready to compress.
segment::BlockBuilder FullBlock(size_t value_bytes, int64_t first = 0) {
  static const auto records = MakeRecords(4096, value_bytes);
  segment::BlockBuilder builder(kBlockBytes);
  std::vector<HeaderView> scratch;
  for (int64_t o = first;; ++o) {
    if (!builder.TryAppend(
            ViewOf(records[static_cast<size_t>(o) % records.size()], o, o, &scratch))) {
      break;
    }
  }
  return builder;
}

void BM_CompressBlock(benchmark::State& state, format::Codec codec, int level) {
  segment::BlockBuilder block = FullBlock(1024);
  segment::BlockCodec c(codec, level);
  io::AlignedBuffer out(segment::BlockCodec::MaxBlockSize(kBlockBytes));
  Histogram lat;
  uint64_t stored = 0;
  for (auto _ : state) {
    const int64_t t = MonotonicNs();
    auto h = c.Finish(block, &out);
    lat.Record(static_cast<uint64_t>((MonotonicNs() - t) / 1000));
    stored += h->stored_size;
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * block.raw_size()));
  state.counters["ratio"] =
      static_cast<double>(state.iterations() * block.raw_size()) / static_cast<double>(stored);
  state.counters["p50_us"] = static_cast<double>(lat.Quantile(0.5));
  state.counters["p99_us"] = static_cast<double>(lat.Quantile(0.99));
}
BENCHMARK_CAPTURE(BM_CompressBlock, zstd1, format::Codec::kZstd, 1);
BENCHMARK_CAPTURE(BM_CompressBlock, zstd3, format::Codec::kZstd, 3);
BENCHMARK_CAPTURE(BM_CompressBlock, lz4, format::Codec::kLz4, 1);
BENCHMARK_CAPTURE(BM_CompressBlock, none, format::Codec::kNone, 0);

void BM_Xxh3(benchmark::State& state) {
  std::vector<uint8_t> data(static_cast<size_t>(state.range(0)), 0x5a);
  for (auto _ : state) benchmark::DoNotOptimize(format::Xxh3(data.data(), data.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_Xxh3)->Arg(4096)->Arg(1 << 20);

void BM_DecodeBlock(benchmark::State& state, format::Codec codec) {
  segment::BlockBuilder block = FullBlock(1024);
  segment::BlockCodec c(codec, 1);
  io::AlignedBuffer out(segment::BlockCodec::MaxBlockSize(kBlockBytes));
  auto h = c.Finish(block, &out);
  segment::BlockDecoder dec;
  uint64_t records = 0;
  for (auto _ : state) {
    format::BlockHeader hdr;
    std::span<const uint8_t> payload;
    if (!dec.Decode(out.data(), h->block_size, &hdr, &payload).ok())
      state.SkipWithError("decode failed");
    RecordDecoder rd(payload);
    RecordView v;
    while (rd.Next(&v)) ++records;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * block.raw_size()));
  state.SetItemsProcessed(static_cast<int64_t>(records));
}
BENCHMARK_CAPTURE(BM_DecodeBlock, zstd, format::Codec::kZstd);
BENCHMARK_CAPTURE(BM_DecodeBlock, lz4, format::Codec::kLz4);

// Writes 1 MiB blocks through the segment writer's pool: O_DIRECT vs buffered (+ fdatasync at
// seal), at write depth state.range(0). The directory is TIDEMARK_BENCH_DIR or the working dir.
void BM_WriteBlocks(benchmark::State& state, io::DirectIoMode mode) {
  const std::string dir =
      std::getenv("TIDEMARK_BENCH_DIR") ? std::getenv("TIDEMARK_BENCH_DIR") : ".";
  const std::string sub = dir + "/bm_write_" + std::to_string(::getpid());
  std::filesystem::create_directories(sub);
  auto io = io::MakeUringBackend(sub, {mode, 256});
  if (!io.ok()) {
    state.SkipWithError(io.status().message().c_str());
    return;
  }
  if (mode == io::DirectIoMode::kOn && !io.value()->direct()) state.SkipWithError("no O_DIRECT");
  // 64 blocks with increasing offsets: a writer refuses offsets that go back.
  std::vector<segment::BlockBuilder> blocks;
  for (int b = 0; b < 64; ++b) blocks.push_back(FullBlock(1024, b * 100000));
  segment::BlockCodec codec(format::Codec::kNone, 0);
  segment::WritePool pool(io.value().get(), static_cast<size_t>(state.range(0)),
                          segment::SegmentWriter::BatchBufferBytes(kBlockBytes));
  pool.TryRegisterBuffers();
  uint64_t bytes = 0;
  int64_t seg = 0;
  for (auto _ : state) {
    // A 64 MiB segment per iteration: 64 blocks, then seal (footer, fdatasync, rename).
    segment::SegmentWriter w({sub, "bm", "bench", 0}, &pool, &codec);
    if (!w.Open(seg++, 0).ok()) state.SkipWithError("open failed");
    for (const auto& block : blocks) {
      if (!w.AppendBlock(block).ok()) state.SkipWithError("write failed");
    }
    segment::SealedSegment s;
    if (!w.Seal(&s).ok()) state.SkipWithError("seal failed");
    bytes += s.bytes_stored;
    // Outside the clock: an unlink on a filesystem mounted with `discard` is a synchronous discard.
    state.PauseTiming();
    std::filesystem::remove(sub + "/" + s.path);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["p50_us"] = static_cast<double>(pool.write_latency().Quantile(0.5));
  state.counters["p99_us"] = static_cast<double>(pool.write_latency().Quantile(0.99));
  state.SetLabel(io.value()->Describe());
  std::filesystem::remove_all(sub);
}
BENCHMARK_CAPTURE(BM_WriteBlocks, direct, io::DirectIoMode::kOn)
    ->Arg(1)
    ->Arg(4)
    ->Arg(16)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_WriteBlocks, buffered, io::DirectIoMode::kOff)
    ->Arg(1)
    ->Arg(4)
    ->Arg(16)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The baseline a writer without io_uring would be: the same 64 MiB segment of 1 MiB blocks
// with plain blocking pwrite(2), then fdatasync, rename and directory fsync, one block at a time.
void BM_WriteBlocksPwrite(benchmark::State& state) {
  const std::string dir =
      std::getenv("TIDEMARK_BENCH_DIR") ? std::getenv("TIDEMARK_BENCH_DIR") : ".";
  const std::string sub = dir + "/bm_pwrite_" + std::to_string(::getpid());
  std::filesystem::create_directories(sub);
  segment::BlockCodec codec(format::Codec::kNone, 0);
  std::vector<io::AlignedBuffer> blocks;
  std::vector<size_t> sizes;
  for (int b = 0; b < 64; ++b) {
    segment::BlockBuilder builder = FullBlock(1024, b * 100000);
    blocks.emplace_back(segment::BlockCodec::MaxBlockSize(kBlockBytes));
    auto h = codec.FinishInto(builder, blocks.back().data(), blocks.back().capacity());
    if (!h.ok()) state.SkipWithError("encode failed");
    sizes.push_back(h.ok() ? h->block_size : 0);
  }
  Histogram lat;
  uint64_t bytes = 0;
  int64_t seg = 0;
  for (auto _ : state) {
    const std::string tmp = sub + "/" + std::to_string(seg) + ".tmseg.open";
    const std::string fin = sub + "/" + std::to_string(seg++) + ".tmseg";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) state.SkipWithError("open failed");
    off_t off = 0;
    for (size_t b = 0; b < blocks.size(); ++b) {
      const int64_t t0 = MonotonicNs();
      if (::pwrite(fd, blocks[b].data(), sizes[b], off) != static_cast<ssize_t>(sizes[b]))
        state.SkipWithError("pwrite failed");
      lat.Record(static_cast<uint64_t>((MonotonicNs() - t0) / 1000));
      off += static_cast<off_t>(sizes[b]);
    }
    ::fdatasync(fd);
    ::close(fd);
    ::rename(tmp.c_str(), fin.c_str());
    if (!io::SyncDirectory(sub).ok()) state.SkipWithError("directory fsync failed");
    bytes += static_cast<uint64_t>(off);
    state.PauseTiming();
    std::filesystem::remove(fin);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["p50_us"] = static_cast<double>(lat.Quantile(0.5));
  state.counters["p99_us"] = static_cast<double>(lat.Quantile(0.99));
  std::filesystem::remove_all(sub);
}
BENCHMARK(BM_WriteBlocksPwrite)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tidemark::bench

BENCHMARK_MAIN();
