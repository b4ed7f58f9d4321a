// The pipeline without a broker: synthetic records -> shard threads -> encode -> compress ->
// io_uring (O_DIRECT where the filesystem takes it) -> sealed segments. Also measures, in the
// same run, the compressor alone on all shards (`--mode compress`), so the two can be compared
// as a ratio. Prints configuration, MB/s, records/s, CPU seconds per GB, peak RSS and p50/p99
// block write latency.
//
//   build/release/bench/pipeline_bench --dir /var/lib/tidemark/bench --shards 2 --partitions 4
//       --gigabytes 2 --codec zstd --level 1   (one command line)
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "bench/datagen.h"
#include "common/histogram.h"
#include "common/time.h"
#include "io/io_backend.h"
#include "shard/partition_pipeline.h"

namespace tidemark::bench {
namespace {

struct Options {
  std::string dir = ".";
  std::string mode = "pipeline";  // pipeline | compress
  int shards = 2;
  int partitions = 4;
  double gigabytes = 1.0;
  size_t value_bytes = 1024;
  std::string codec = "zstd";
  int level = 1;
  size_t block_bytes = 1 << 20;
  uint64_t segment_max_bytes = 128ull << 20;
  uint32_t io_depth = 8;
  std::string direct_io = "auto";
  bool pin = true;
};

double CpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long PeakRssKb() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

struct ShardResult {
  Status status;
  uint64_t bytes_in = 0;
  uint64_t records = 0;
  uint64_t bytes_stored = 0;
  Histogram latency;
  std::string io;
  double full_wait_s = 0;  // time blocked waiting for a free write buffer
  double seconds = 0;      // this shard's wall time
  double cpu_seconds = 0;  // this shard's thread CPU time
};

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// One shard: its own backend, pool, codec and pipelines; records spread round-robin over its
// partitions in runs of 64 (as a fetch batch would deliver them).
void RunShard(const Options& o, int index, uint64_t bytes_target,
              const std::vector<SyntheticRecord>& data, ShardResult* out) {
  format::Codec codec;
  format::ParseCodec(o.codec, &codec);
  io::DirectIoMode dm = o.direct_io == "on"    ? io::DirectIoMode::kOn
                        : o.direct_io == "off" ? io::DirectIoMode::kOff
                                               : io::DirectIoMode::kAuto;
  const std::string dir = o.dir + "/shard" + std::to_string(index);
  std::filesystem::create_directories(dir);
  auto io = io::MakeUringBackend(dir, {dm, o.io_depth * 2 + 8});
  if (!io.ok()) {
    out->status = io.status();
    return;
  }
  segment::WritePool pool(io.value().get(), o.io_depth,
                          segment::SegmentWriter::BatchBufferBytes(o.block_bytes));
  out->io = io.value()->Describe() + ", " + pool.TryRegisterBuffers();
  segment::BlockCodec bc(codec, o.level);
  std::vector<std::unique_ptr<shard::PartitionPipeline>> parts;
  const int per_shard = std::max(1, o.partitions / o.shards);
  for (int p = 0; p < per_shard; ++p) {
    parts.push_back(std::make_unique<shard::PartitionPipeline>(
        shard::PartitionTask{"bench", index * per_shard + p, 0, INT64_MAX},
        shard::PipelineOptions{dir, "bench", o.block_bytes, o.segment_max_bytes}, &pool, &bc));
  }
  std::vector<HeaderView> scratch;
  std::vector<int64_t> next(parts.size(), 0);
  size_t ri = static_cast<size_t>(index) * 7919;
  Status st;
  while (st.ok() && out->bytes_in < bytes_target) {
    for (size_t p = 0; p < parts.size() && st.ok(); ++p) {
      for (int k = 0; k < 64; ++k) {
        const auto& r = data[ri++ % data.size()];
        st = parts[p]->Append(ViewOf(r, next[p], 1763647380000 + next[p], &scratch));
        ++next[p];
        out->bytes_in += r.key.size() + r.value.size() + 8 + 8 + 6 + 20;
        ++out->records;
      }
    }
    if (st.ok()) st = pool.Poll();
  }
  for (auto& p : parts) {
    Status fs = p->Finish();
    if (st.ok()) st = fs;
    auto m = p->Result();
    out->bytes_stored += m.bytes_stored;
  }
  Status ds = pool.Drain();
  if (st.ok()) st = ds;
  out->latency = pool.write_latency();
  out->full_wait_s = static_cast<double>(pool.full_wait_ns()) / 1e9;
  out->status = st;
}

// The compressor alone: the same records, encoded and compressed, nothing written.
void RunCompressOnly(const Options& o, int index, uint64_t bytes_target,
                     const std::vector<SyntheticRecord>& data, ShardResult* out) {
  format::Codec codec;
  format::ParseCodec(o.codec, &codec);
  segment::BlockBuilder builder(o.block_bytes);
  segment::BlockCodec bc(codec, o.level);
  io::AlignedBuffer buf(segment::BlockCodec::MaxBlockSize(o.block_bytes));
  std::vector<HeaderView> scratch;
  size_t ri = static_cast<size_t>(index) * 7919;
  int64_t off = 0;
  while (out->bytes_in < bytes_target) {
    const auto& r = data[ri++ % data.size()];
    RecordView v = ViewOf(r, off, 1763647380000 + off, &scratch);
    ++off;
    if (!builder.TryAppend(v)) {
      auto h = bc.Finish(builder, &buf);
      out->bytes_stored += h->block_size;
      builder.Reset();
      builder.TryAppend(v);
    }
    out->bytes_in += r.key.size() + r.value.size() + 8 + 8 + 6 + 20;
    ++out->records;
  }
}

int Main(int argc, char** argv) {
  Options o;
  bool json = false;
  CLI::App app{"tidemark pipeline benchmark (no broker)"};
  app.add_option("--dir", o.dir, "directory on the disk under test");
  app.add_option("--mode", o.mode, "pipeline | compress")
      ->check(CLI::IsMember({"pipeline", "compress"}));
  app.add_option("--shards", o.shards);
  app.add_option("--partitions", o.partitions);
  app.add_option("--gigabytes", o.gigabytes, "input bytes in total, GB");
  app.add_option("--value-bytes", o.value_bytes);
  app.add_option("--codec", o.codec)->check(CLI::IsMember({"zstd", "lz4", "none"}));
  app.add_option("--level", o.level);
  app.add_option("--block-bytes", o.block_bytes);
  app.add_option("--segment-max-bytes", o.segment_max_bytes);
  app.add_option("--io-depth", o.io_depth);
  app.add_option("--direct-io", o.direct_io)->check(CLI::IsMember({"auto", "on", "off"}));
  app.add_flag("--json", json);
  app.add_flag("!--no-pin", o.pin, "do not pin shard threads to cores");
  CLI11_PARSE(app, argc, argv);

  const auto data = MakeRecords(8192, o.value_bytes);
  const uint64_t total = static_cast<uint64_t>(o.gigabytes * 1e9);
  std::vector<ShardResult> results(static_cast<size_t>(o.shards));
  const double cpu0 = CpuSeconds();
  const int64_t t0 = MonotonicNs();
  std::vector<std::thread> threads;
  for (int i = 0; i < o.shards; ++i) {
    threads.emplace_back([&, i] {
      if (o.pin) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(static_cast<unsigned>(i) % std::max(1u, std::thread::hardware_concurrency()), &set);
        pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
      }
      const int64_t start = MonotonicNs();
      const double cpu_start = ThreadCpuSeconds();
      if (o.mode == "pipeline") {
        RunShard(o, i, total / static_cast<uint64_t>(o.shards), data,
                 &results[static_cast<size_t>(i)]);
      } else {
        RunCompressOnly(o, i, total / static_cast<uint64_t>(o.shards), data,
                        &results[static_cast<size_t>(i)]);
      }
      results[static_cast<size_t>(i)].seconds = static_cast<double>(MonotonicNs() - start) / 1e9;
      results[static_cast<size_t>(i)].cpu_seconds = ThreadCpuSeconds() - cpu_start;
    });
  }
  for (auto& t : threads) t.join();
  const double secs = static_cast<double>(MonotonicNs() - t0) / 1e9;
  const double cpu = CpuSeconds() - cpu0;
  uint64_t bytes = 0, records = 0, stored = 0;
  Histogram lat;
  for (auto& r : results) {
    if (!r.status.ok()) {
      std::fprintf(stderr, "pipeline_bench: %s\n", r.status.message().c_str());
      return 1;
    }
    bytes += r.bytes_in;
    records += r.records;
    stored += r.bytes_stored;
    lat.Merge(r.latency);
  }
  // Cleanup after the clock stopped: on a filesystem mounted with `discard` an unlink issues
  // synchronous discards, which are no part of the pipeline.
  std::filesystem::remove_all(o.dir + "/shard0");
  for (int i = 1; i < o.shards; ++i)
    std::filesystem::remove_all(o.dir + "/shard" + std::to_string(i));
  const double mbps = static_cast<double>(bytes) / 1e6 / secs;
  const std::string io = results.empty() ? "" : results[0].io;
  if (json) {
    std::printf(
        "{\"mode\":\"%s\",\"shards\":%d,\"partitions\":%d,\"value_bytes\":%zu,\"codec\":\"%s\","
        "\"level\":%d,"
        "\"io\":\"%s\",\"bytes_in\":%llu,\"bytes_stored\":%llu,\"seconds\":%.3f,\"mb_per_s\":%.1f,"
        "\"records_per_s\":%.0f,\"cpu_s_per_gb\":%.3f,\"peak_rss_mb\":%.1f,\"block_latency_us_"
        "p50\":%llu,"
        "\"block_latency_us_p99\":%llu}\n",
        o.mode.c_str(), o.shards, o.partitions, o.value_bytes, o.codec.c_str(), o.level, io.c_str(),
        static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(stored), secs, mbps,
        static_cast<double>(records) / secs, cpu / (static_cast<double>(bytes) / 1e9),
        static_cast<double>(PeakRssKb()) / 1024, static_cast<unsigned long long>(lat.Quantile(0.5)),
        static_cast<unsigned long long>(lat.Quantile(0.99)));
  } else {
    std::printf(
        "mode %s: shards %d, partitions %d, value %zu B, codec %s level %d, block %zu B, io_depth "
        "%u\n",
        o.mode.c_str(), o.shards, o.partitions, o.value_bytes, o.codec.c_str(), o.level,
        o.block_bytes, o.io_depth);
    if (!io.empty()) std::printf("  I/O           %s\n", io.c_str());
    std::printf("  input         %.3f GB in %.2f s: %.1f MB/s, %.0f records/s\n",
                static_cast<double>(bytes) / 1e9, secs, mbps, static_cast<double>(records) / secs);
    std::printf("  stored        %.3f GB (ratio %.2fx)\n", static_cast<double>(stored) / 1e9,
                stored ? static_cast<double>(bytes) / static_cast<double>(stored) : 0.0);
    std::printf("  CPU           %.2f s per GB\n", cpu / (static_cast<double>(bytes) / 1e9));
    std::printf("  peak RSS      %.1f MB\n", static_cast<double>(PeakRssKb()) / 1024);
    for (size_t i = 0; i < results.size(); ++i) {
      std::printf("  shard %zu       %.2f s wall, %.2f s CPU, %.2f s waiting for a write buffer\n",
                  i, results[i].seconds, results[i].cpu_seconds, results[i].full_wait_s);
    }
    if (lat.count() > 0) {
      std::printf("  block write   p50 %llu us, p99 %llu us\n",
                  static_cast<unsigned long long>(lat.Quantile(0.5)),
                  static_cast<unsigned long long>(lat.Quantile(0.99)));
    }
  }
  return 0;
}

}  // namespace
}  // namespace tidemark::bench

int main(int argc, char** argv) { return tidemark::bench::Main(argc, argv); }
