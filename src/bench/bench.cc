#include "bench/bench.h"

#include "bench/grow.h"
#include "bench/modes.h"
#include "bench/process.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/histogram.h"
#include "common/time.h"
#include "kafka/mock.h"
#include "segment/block.h"
#include "segment/segment_writer.h"
#include "segment/write_pool.h"
#include "shard/partition_pipeline.h"

namespace tidemark::bench {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Runs `fn` in a forked child (see ForkAndRun) and returns its measurement, with the child's
// CPU time and peak RSS.
template <typename Fn>
Result<Measurement> InChild(Fn fn) {
  TM_ASSIGN_OR_RETURN(
      auto run, ForkAndRun([&] {
        Result<Measurement> m = fn();
        return m.ok() ? m->ToJson().dump() : json{{"error", m.status().message()}}.dump();
      }));
  json j = json::parse(run.first, nullptr, false);
  if (j.is_discarded()) {
    return Status::Aborted("benchmark child died (exit " + std::to_string(run.second.exit_code) +
                           ")");
  }
  if (j.contains("error")) return Status::Aborted(j["error"].get<std::string>());
  Measurement m;
  m.name = j["name"];
  m.seconds = j["seconds"];
  m.bytes = j["bytes"];
  m.records = j["records"];
  m.stored = j["bytes_stored"];
  m.p50_us = j["block_latency_us_p50"];
  m.p99_us = j["block_latency_us_p99"];
  m.io = j["io"];
  m.cpu_seconds = run.second.cpu_seconds;
  m.peak_rss_mb = run.second.peak_rss_mb;
  return m;
}

// --- pipeline ----------------------------------------------------------------------------------

struct ShardResult {
  Status status;
  uint64_t bytes_in = 0;
  uint64_t records = 0;
  uint64_t bytes_stored = 0;
  Histogram latency;
  std::string io;
};

// One shard of the pipeline: its own backend, pool, codec and partitions; records spread
// round-robin over its partitions in runs of 64 (as a fetch batch would deliver them).
void RunPipelineShard(const BenchOptions& o, int index, int partitions, uint64_t bytes_target,
                      const std::vector<SyntheticRecord>& data, ShardResult* out) {
  const std::string dir = o.dir + "/pipeline/shard" + std::to_string(index);
  std::error_code ec;
  fs::create_directories(dir, ec);
  auto io = io::MakeUringBackend(
      dir, {o.direct_io, o.io_depth * 2 + 8 + static_cast<unsigned>(partitions)});
  if (!io.ok()) {
    out->status = io.status();
    return;
  }
  segment::WritePool pool(io.value().get(), o.io_depth,
                          segment::SegmentWriter::BatchBufferBytes(o.block_bytes));
  out->io = io.value()->Describe() + ", " + pool.TryRegisterBuffers();
  segment::BlockCodec bc(o.codec, o.level);
  std::vector<std::unique_ptr<shard::PartitionPipeline>> parts;
  for (int p = 0; p < partitions; ++p) {
    parts.push_back(std::make_unique<shard::PartitionPipeline>(
        shard::PartitionTask{"bench", index * partitions + p, 0, INT64_MAX},
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
        out->bytes_in += RecordBytes(r);
        ++out->records;
      }
    }
    if (st.ok()) st = pool.Poll();
  }
  for (auto& p : parts) {
    Status fs = p->Finish();
    if (st.ok()) st = fs;
    out->bytes_stored += p->Result().bytes_stored;
  }
  Status ds = pool.Drain();
  if (st.ok()) st = ds;
  out->latency = pool.write_latency();
  out->status = st;
}

// The compressor alone: the same records encoded and compressed, nothing written.
void RunCompressShard(const BenchOptions& o, int index, uint64_t bytes_target,
                      const std::vector<SyntheticRecord>& data, ShardResult* out) {
  segment::BlockBuilder builder(o.block_bytes);
  segment::BlockCodec bc(o.codec, o.level);
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
    out->bytes_in += RecordBytes(r);
    ++out->records;
  }
}

// The pipeline (or, compress_only, the compressor alone) on every shard, in this process.
Result<Measurement> MeasureShards(const BenchOptions& o, bool compress_only) {
  const int shards = Shards(o);
  const int per_shard = std::max(1, (o.partitions > 0 ? o.partitions : 2 * shards) / shards);
  const auto data = MakeRecords(8192, o.value_bytes, 1, o.data, o.keys);
  const uint64_t total = static_cast<uint64_t>(o.gigabytes * 1e9);
  std::vector<ShardResult> results(static_cast<size_t>(shards));
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int64_t t0 = MonotonicNs();
  std::vector<std::thread> threads;
  for (int i = 0; i < shards; ++i) {
    threads.emplace_back([&, i] {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(static_cast<unsigned>(i) % cores, &set);
      pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
      auto* r = &results[static_cast<size_t>(i)];
      if (compress_only)
        RunCompressShard(o, i, total / static_cast<uint64_t>(shards), data, r);
      else
        RunPipelineShard(o, i, per_shard, total / static_cast<uint64_t>(shards), data, r);
    });
  }
  for (auto& t : threads) t.join();
  Measurement m;
  m.seconds = static_cast<double>(MonotonicNs() - t0) / 1e9;
  m.name = compress_only ? std::string("compressor alone (") + format::CodecName(o.codec) + ")"
                         : "tidemark pipeline";
  Histogram lat;
  for (auto& r : results) {
    TM_RETURN_IF_ERROR(r.status);
    m.bytes += r.bytes_in;
    m.records += r.records;
    m.stored += r.bytes_stored;
    lat.Merge(r.latency);
  }
  if (!compress_only) {
    m.io = results[0].io;
    m.p50_us = static_cast<int64_t>(lat.Quantile(0.5));
    m.p99_us = static_cast<int64_t>(lat.Quantile(0.99));
  }
  return m;
}

Result<Measurement> MeasureFio(const BenchOptions& o, double gigabytes) {
  const std::string dir = o.dir + "/fio";
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string out = o.dir + "/fio.json";
  TM_RETURN_IF_ERROR(
      Shell("fio --name=odirect --directory=" + dir +
                " --rw=write --bs=1M --size=" + std::to_string(static_cast<int>(gigabytes * 1000)) +
                "M --direct=1 --ioengine=io_uring --iodepth=" + std::to_string(o.io_depth) +
                " --numjobs=1 --output-format=json > " + out,
            o.dir + "/fio.log")
          .status());
  fs::remove_all(dir, ec);
  json j = json::parse(ReadFile(out), nullptr, false);
  if (j.is_discarded()) return Status::Aborted("cannot read fio's output " + out);
  Measurement m;
  m.name = "fio O_DIRECT write";
  const auto& w = j["jobs"][0]["write"];
  m.bytes = w["io_bytes"].get<uint64_t>();
  m.seconds = static_cast<double>(w["runtime"].get<uint64_t>()) / 1000;
  m.p50_us = static_cast<int64_t>(w["clat_ns"]["percentile"]["50.000000"].get<double>() / 1000);
  m.p99_us = static_cast<int64_t>(w["clat_ns"]["percentile"]["99.000000"].get<double>() / 1000);
  return m;
}

// --- backup and restore against an embedded Kafka ----------------------------------------------

// Fills topic "bench" of the mock with the generator's records. The mock keeps only about 5 MB
// (as the producer compressed it) of each partition and drops the oldest beyond: the records and
// bytes counted are those it kept (from each partition's low watermark), which is what every
// side then reads; a note says when records were dropped.
Status Fill(const BenchOptions& o, const std::string& brokers, uint64_t* bytes, uint64_t* records) {
  const auto data = MakeRecords(8192, o.value_bytes, 1, o.data, o.keys);
  kafka::Producer producer;
  TM_RETURN_IF_ERROR(producer.Connect(brokers, {{"linger.ms", "20"}, {"compression.type", "lz4"}}));
  size_t ri = 0;
  for (int32_t p = 0; p < Partitions(o); ++p) {
    for (int i = 0; i < o.records_per_partition; ++i) {
      const auto& r = data[ri++ % data.size()];
      std::vector<kafka::ProduceHeader> hs;
      for (const auto& [k, v] : r.headers) hs.push_back({k, v});
      TM_RETURN_IF_ERROR(producer.Produce("bench", p, r.key, r.value, hs, 1763647380000 + i));
    }
  }
  TM_RETURN_IF_ERROR(producer.Flush(120000));
  uint64_t dropped = 0;
  for (int32_t p = 0; p < Partitions(o); ++p) {
    int64_t lo = 0, hi = 0;
    const rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(producer.handle(), "bench", p, &lo, &hi, 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return Status::Kafka(std::string("bench watermarks: ") + rd_kafka_err2str(err));
    const size_t base = static_cast<size_t>(p) * static_cast<size_t>(o.records_per_partition);
    for (int64_t i = lo; i < hi; ++i) {
      *bytes += RecordBytes(data[(base + static_cast<size_t>(i)) % data.size()]);
      ++*records;
    }
    dropped += static_cast<uint64_t>(lo);
  }
  if (dropped > 0) {
    std::fprintf(stderr,
                 "bench: the mock kept %" PRIu64 " of %" PRIu64
                 " records (it keeps about 5 MB per partition as produced, lz4); all sides read "
                 "what it kept\n",
                 *records, *records + dropped);
  }
  return Status::Ok();
}

// --- output ------------------------------------------------------------------------------------

std::string Config(const BenchOptions& o) {
  char buf[512];
  if (o.mode == "pipeline") {
    const int shards = Shards(o);
    std::snprintf(buf, sizeof(buf),
                  "pipeline: %.2f GB of %s records, %zu-byte values, %" PRIu64
                  " keys; %d shards, %d partitions; %s level %d; block %zu B; io_depth %u; %s",
                  o.gigabytes, DataKindName(o.data), o.value_bytes, o.keys, shards,
                  std::max(1, (o.partitions > 0 ? o.partitions : 2 * shards) / shards) * shards,
                  format::CodecName(o.codec), o.level, o.block_bytes, o.io_depth, o.dir.c_str());
  } else {
    std::snprintf(
        buf, sizeof(buf),
        "%s: embedded Kafka (librdkafka mock cluster, own process), topic bench with %d "
        "partitions x %d %s records, %zu-byte values, %" PRIu64 " keys; %s level %d; shards %d; %s",
        o.mode.c_str(), Partitions(o), o.records_per_partition, DataKindName(o.data), o.value_bytes,
        o.keys, format::CodecName(o.codec), o.level, Shards(o), o.dir.c_str());
    if (!o.brokers.empty()) {
      std::snprintf(buf, sizeof(buf), "%s: topic %s on %s as it is; %s level %d; shards %d; %s",
                    o.mode.c_str(), o.topic.c_str(), o.brokers.c_str(), format::CodecName(o.codec),
                    o.level, Shards(o), o.dir.c_str());
    }
  }
  return buf;
}

void PrintTable(const std::vector<Measurement>& runs) {
  std::printf("  %-34s %9s %11s %9s %11s %14s %10s\n", "", "MB/s", "records/s", "CPU s/GB",
              "peak RSS MB", "p50/p99 us", "Kafka CPU");
  for (const auto& m : runs) {
    const std::string rps = m.records
                                ? std::to_string(static_cast<uint64_t>(
                                      static_cast<double>(m.records) / std::max(m.seconds, 1e-9)))
                                : "-";
    const std::string cpu =
        m.cpu_seconds > 0
            ? std::to_string(m.cpu_seconds / (static_cast<double>(m.bytes) / 1e9)).substr(0, 5)
            : "-";
    const std::string rss = m.peak_rss_mb > 0 ? std::to_string(m.peak_rss_mb).substr(0, 6) : "-";
    const std::string lat =
        m.p50_us >= 0 ? std::to_string(m.p50_us) + "/" + std::to_string(m.p99_us) : "-";
    // The embedded Kafka's CPU during the run, as a share of the machine's cores.
    char broker[32] = "-";
    if (m.broker_cpu_seconds >= 0) {
      const double cores = std::max(1u, std::thread::hardware_concurrency());
      std::snprintf(broker, sizeof(broker), "%.0f%%",
                    100 * m.broker_cpu_seconds / std::max(m.seconds, 1e-9) / cores);
    }
    std::printf("  %-34s %9.1f %11s %9s %11s %14s %10s\n", m.name.c_str(), m.mb_per_s(),
                rps.c_str(), cpu.c_str(), rss.c_str(), lat.c_str(), broker);
  }
}

void Print(const BenchOptions& o, const std::vector<Measurement>& runs,
           const std::vector<Ratio>& ratios) {
  if (o.json) {
    json j;
    j["mode"] = o.mode;
    j["config"] = Config(o);
    j["runs"] = json::array();
    for (const auto& m : runs) j["runs"].push_back(m.ToJson());
    j["ratios"] = json::array();
    for (const auto& r : ratios) {
      json jr = {{"what", r.what}, {"value", r.value}, {"target", r.target}};
      if (r.rounds > 1) {
        jr["min"] = r.lo;
        jr["max"] = r.hi;
        jr["rounds"] = r.rounds;
      }
      j["ratios"].push_back(jr);
    }
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("tidemark bench %s\n", Config(o).c_str());
  PrintTable(runs);
  for (const auto& m : runs) {
    if (!m.io.empty()) std::printf("  I/O of %s: %s\n", m.name.c_str(), m.io.c_str());
  }
  for (const auto& r : ratios) {
    if (r.rounds > 1) {
      std::printf("  %s: median %.2f (min %.2f, max %.2f over %d alternating rounds; target %s)\n",
                  r.what.c_str(), r.value, r.lo, r.hi, r.rounds, r.target.c_str());
    } else {
      std::printf("  %s: %.2f (target %s)\n", r.what.c_str(), r.value, r.target.c_str());
    }
  }
  std::fflush(stdout);
}

// --- the modes ---------------------------------------------------------------------------------

Status BenchPipeline(const BenchOptions& o, std::vector<Measurement>* runs,
                     std::vector<Ratio>* ratios) {
  std::error_code ec;
  auto pipeline = [&]() -> Result<Measurement> {
    TM_ASSIGN_OR_RETURN(Measurement pipe, InChild([&] { return MeasureShards(o, false); }));
    fs::remove_all(o.dir + "/pipeline", ec);  // outside the clock: unlink may be slow (discard)
    return pipe;
  };
  if (!o.compare) {
    TM_ASSIGN_OR_RETURN(Measurement pipe, pipeline());
    runs->push_back(pipe);
    return Status::Ok();
  }
  // The disk once (fio of up to 4 GB), then the pipeline and the compressor alone alternating
  // for --runs rounds; each round's ratio is against the lesser of the disk and that round's
  // compressor.
  TM_ASSIGN_OR_RETURN(Measurement fio, MeasureFio(o, std::min(o.gigabytes, 4.0)));
  std::vector<Measurement> pipes, comps;
  std::vector<double> pipe_mbs, lesser_mbs;
  double ratio = 1.0;
  for (int round = 0; round < std::max(1, o.runs); ++round) {
    TM_ASSIGN_OR_RETURN(Measurement pipe, pipeline());
    TM_ASSIGN_OR_RETURN(Measurement comp, InChild([&] { return MeasureShards(o, true); }));
    // The disk writes stored bytes, which are fewer than the input: its limit in input bytes.
    ratio = pipe.stored ? static_cast<double>(pipe.bytes) / static_cast<double>(pipe.stored) : 1.0;
    pipe_mbs.push_back(pipe.mb_per_s());
    lesser_mbs.push_back(std::min(fio.mb_per_s() * ratio, comp.mb_per_s()));
    pipes.push_back(pipe);
    comps.push_back(comp);
  }
  runs->push_back(MedianRun(pipes));
  runs->push_back(MedianRun(comps));
  runs->push_back(fio);
  ratios->push_back(RoundRatios("pipeline / lesser of (disk at the stored ratio " +
                                    std::to_string(ratio).substr(0, 4) + "x, compressor)",
                                pipe_mbs, lesser_mbs, ">= 0.80"));
  return Status::Ok();
}

// What `tidemark backup --json` printed (its JSON summary, after any log lines the same file
// holds): the bytes it stored, block write latency and I/O path into `m`, and the records and
// bytes it read.
Status ReadBackupJson(const std::string& out, Measurement* m, uint64_t* bytes, uint64_t* records) {
  const size_t at = out.rfind("\n{\n");
  const json j = json::parse(at == std::string::npos ? out : out.substr(at + 1), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("bytes_stored"))
    return Status::Aborted("tidemark backup --json printed no summary:\n" + out);
  m->stored = j["bytes_stored"].get<uint64_t>();
  m->p50_us = j["block_latency_us_p50"].get<int64_t>();
  m->p99_us = j["block_latency_us_p99"].get<int64_t>();
  m->io = j["io"].get<std::string>();
  *bytes = j["bytes_in"].get<uint64_t>();
  *records = j["records"].get<uint64_t>();
  return Status::Ok();
}

Status BenchBackup(const BenchOptions& o, std::vector<Measurement>* runs,
                   std::vector<Ratio>* ratios) {
  const bool own = !o.brokers.empty();
  if (own && o.mode == "restore") {
    return Status::Config(
        "bench restore runs against the embedded Kafka only (it writes a topic "
        "of its own); leave out --brokers");
  }
  if (own && o.topic.empty())
    return Status::Config("--brokers needs --topic (the topic to back up)");
  MockProcess mock;
  std::string brokers = o.brokers, topic = own ? o.topic : "bench";
  uint64_t bytes = 0, records = 0;
  if (!own) {
    TM_RETURN_IF_ERROR(
        mock.Start(o.self, "bench:" + std::to_string(Partitions(o)), o.dir + "/mock-source.log"));
    brokers = mock.brokers();
    TM_RETURN_IF_ERROR(Fill(o, brokers, &bytes, &records));
  }
  const std::string store = o.dir + "/store";
  std::error_code ec;
  const std::string log = o.dir + "/backup.log";
  auto backup = [&]() -> Result<Measurement> {
    fs::remove_all(store, ec);  // outside the clock
    TM_ASSIGN_OR_RETURN(
        ChildRun b,
        MustRun({o.self, "backup", "--brokers", brokers, "--topics", topic, "--path", store, "--id",
                 "bench", "--compression", format::CodecName(o.codec), "--level",
                 std::to_string(o.level), "--shards", std::to_string(Shards(o)), "--json"},
                log));
    Measurement m = FromChild("tidemark backup", b, bytes, records);
    uint64_t read_bytes = 0, read_records = 0;
    TM_RETURN_IF_ERROR(ReadBackupJson(ReadFile(log), &m, &read_bytes, &read_records));
    if (own) {  // a topic of the user's: what the backup read is the input
      bytes = m.bytes = read_bytes;
      records = m.records = read_records;
    }
    return m;
  };
  // A run, with the embedded Kafka's CPU during it.
  auto with_broker = [&](const std::function<Result<Measurement>()>& run) -> Result<Measurement> {
    const double cpu0 = mock.CpuSeconds();
    TM_ASSIGN_OR_RETURN(Measurement m, run());
    if (!own) m.broker_cpu_seconds = mock.CpuSeconds() - cpu0;
    return m;
  };
  if (o.mode != "backup" || !o.compare) {
    TM_ASSIGN_OR_RETURN(Measurement m, with_broker(backup));
    runs->push_back(m);
  } else {
    // The sides alternate (tidemark, kcat | zstd, kcat > /dev/null, tidemark, ...), so a slow
    // stretch of this shared machine weighs on every side alike; each ratio is per round.
    // kcat stops after the records there are (-c) when that is known, as tidemark stops at the
    // end offsets it read at start: with -e it would also wait for an empty fetch at the end,
    // which the broker holds back for fetch.wait.max.ms (500 ms).
    const std::string kcat =
        "kcat -C -b " + brokers + " -t " + topic + " -o beginning -q " +
        (records > 0 && !own ? "-c " + std::to_string(records) : std::string("-e"));
    std::vector<Measurement> tm, kz, kn;
    for (int round = 0; round < std::max(1, o.runs); ++round) {
      TM_ASSIGN_OR_RETURN(Measurement m, with_broker(backup));
      tm.push_back(m);
      TM_ASSIGN_OR_RETURN(
          Measurement zm, with_broker([&]() -> Result<Measurement> {
            TM_ASSIGN_OR_RETURN(
                ChildRun z, Shell(kcat + " -f '%k%s%h\\n' | zstd -1 -q > " + o.dir + "/kcat.zst",
                                  o.dir + "/kcat-zstd.log"));
            return FromChild("kcat -C | zstd -1 > file", z, bytes, records);
          }));
      kz.push_back(zm);
      TM_ASSIGN_OR_RETURN(Measurement nm, with_broker([&]() -> Result<Measurement> {
                            TM_ASSIGN_OR_RETURN(
                                ChildRun n, Shell(kcat + " > /dev/null", o.dir + "/kcat-null.log"));
                            return FromChild("kcat -C > /dev/null", n, bytes, records);
                          }));
      kn.push_back(nm);
    }
    // Each side's median run (by time) in the table.
    for (auto* side : {&tm, &kz, &kn}) runs->push_back(MedianRun(*side));
    ratios->push_back(
        RoundRatios("backup vs kcat -C | zstd -1 (speed-up)", Seconds(kz), Seconds(tm), ">= 2"));
    ratios->push_back(RoundRatios("backup vs kcat -C > /dev/null (speed-up)", Seconds(kn),
                                  Seconds(tm), ">= 1 with --codec none"));
  }
  if (o.mode != "restore") return Status::Ok();

  // Restore: the same records as kcat input (key TAB value per line), then a fresh target each.
  const std::string lines = o.dir + "/records.txt";
  TM_RETURN_IF_ERROR(Shell("kcat -C -b " + mock.brokers() +
                               " -t bench -o beginning -e -q -f '%k\\t%s\\n' > " + lines,
                           o.dir + "/kcat-export.log")
                         .status());
  mock.Stop();
  runs->clear();
  // Each run on a fresh target cluster; with --compare, tidemark restore and kcat -P alternate
  // for --runs rounds.
  auto on_fresh_target =
      [&](const std::string& name,
          const std::function<Result<ChildRun>(const std::string&)>& run) -> Result<Measurement> {
    MockProcess target;
    TM_RETURN_IF_ERROR(
        target.Start(o.self, "bench:" + std::to_string(Partitions(o)), o.dir + "/mock-target.log"));
    const double cpu0 = target.CpuSeconds();
    TM_ASSIGN_OR_RETURN(ChildRun r, run(target.brokers()));
    Measurement m = FromChild(name, r, bytes, records);
    m.broker_cpu_seconds = target.CpuSeconds() - cpu0;
    return m;
  };
  auto restore = [&](const std::string& target) {
    return MustRun({o.self, "restore", "--path", store, "--id", "bench", "--brokers", target,
                    "--progress", "off"},
                   o.dir + "/restore.log");
  };
  auto kcat_produce = [&](const std::string& target) {
    return Shell("kcat -P -b " + target + " -t bench -K '\\t' -H source=checkout -l " + lines,
                 o.dir + "/kcat-produce.log");
  };
  std::vector<Measurement> tr, kp;
  for (int round = 0; round < (o.compare ? std::max(1, o.runs) : 1); ++round) {
    TM_ASSIGN_OR_RETURN(Measurement r, on_fresh_target("tidemark restore", restore));
    tr.push_back(r);
    if (!o.compare) break;
    TM_ASSIGN_OR_RETURN(Measurement k, on_fresh_target("kcat -P", kcat_produce));
    kp.push_back(k);
  }
  runs->push_back(MedianRun(tr));
  if (!o.compare) return Status::Ok();
  runs->push_back(MedianRun(kp));
  ratios->push_back(RoundRatios("restore vs kcat -P (speed-up)", Seconds(kp), Seconds(tr), ">= 2"));
  return Status::Ok();
}

Status RunOnce(const BenchOptions& o, std::vector<Measurement>* runs, std::vector<Ratio>* ratios) {
  if (o.mode == "pipeline") return BenchPipeline(o, runs, ratios);
  if (o.mode == "run") return BenchService(o, runs, ratios);
  return BenchBackup(o, runs, ratios);
}

}  // namespace

Status RunBench(const BenchOptions& o) {
  if (o.mode != "pipeline" && o.mode != "backup" && o.mode != "restore" && o.mode != "run" &&
      o.mode != "grow")
    return Status::Config("bench mode '" + o.mode +
                          "' is not one of pipeline, backup, restore, run, grow");
  if (o.history_segments > 0 && !(o.mode == "run" && o.trickle_rate > 0))
    return Status::Config("--history-segments applies to bench run --trickle-rate only");
  if (o.mode != "pipeline" && ::access(o.self.c_str(), X_OK) != 0)
    return Status::Config("cannot run " + o.self + " for the embedded Kafka");
  std::error_code ec;
  fs::create_directories(o.dir, ec);
  if (ec) return Status::Errno(ec.value(), "create " + o.dir + " (give --dir)");
  if (o.mode == "grow") return RunGrow(o);                          // no broker, no external tools
  if (o.mode == "run" && o.trickle_rate > 0) return RunTrickle(o);  // its own report
  if (o.compare || o.mode != "pipeline") {
    for (const char* tool : {"kcat", "zstd", "fio"}) {
      const bool needed =
          o.mode == "pipeline" ? std::string(tool) == "fio" : std::string(tool) != "fio";
      if (needed &&
          std::system((std::string("command -v ") + tool + " > /dev/null").c_str()) != 0) {
        return Status::Config(std::string(tool) +
                              " is not installed; it comes with bash tools/install-deps.sh");
      }
    }
  }
  if (o.sweep.empty()) {
    std::vector<Measurement> runs;
    std::vector<Ratio> ratios;
    TM_RETURN_IF_ERROR(RunOnce(o, &runs, &ratios));
    Print(o, runs, ratios);
    return Status::Ok();
  }
  // A sweep: one run per value, the tidemark figure of each in one table (and CSV for plots).
  std::vector<std::pair<double, Measurement>> rows;
  for (double v : o.sweep_values) {
    BenchOptions one = o;
    one.compare = false;
    if (o.sweep == "shards")
      one.shards = static_cast<int>(v);
    else if (o.sweep == "value-bytes")
      one.value_bytes = static_cast<size_t>(v);
    else if (o.sweep == "gigabytes")
      one.gigabytes = v;
    else
      return Status::Config("--sweep '" + o.sweep +
                            "' is not one of shards, value-bytes, gigabytes");
    std::vector<Measurement> runs;
    std::vector<Ratio> ratios;
    TM_RETURN_IF_ERROR(RunOnce(one, &runs, &ratios));
    rows.emplace_back(v, runs.front());
  }
  if (o.json) {
    json j;
    j["mode"] = o.mode;
    j["config"] = Config(o);
    j["sweep"] = o.sweep;
    j["rows"] = json::array();
    for (const auto& [v, m] : rows) {
      json r = m.ToJson();
      r["value"] = v;
      j["rows"].push_back(r);
    }
    std::printf("%s\n", j.dump(2).c_str());
    return Status::Ok();
  }
  std::printf("tidemark bench %s\n  sweep over %s:\n", Config(o).c_str(), o.sweep.c_str());
  std::printf("  %12s %9s %11s %9s %11s %14s\n", o.sweep.c_str(), "MB/s", "records/s", "CPU s/GB",
              "peak RSS MB", "p50/p99 us");
  for (const auto& [v, m] : rows) {
    std::printf("  %12g %9.1f %11.0f %9.2f %11.1f %8" PRId64 "/%" PRId64 "\n", v, m.mb_per_s(),
                static_cast<double>(m.records) / std::max(m.seconds, 1e-9),
                m.cpu_seconds / (static_cast<double>(m.bytes) / 1e9), m.peak_rss_mb, m.p50_us,
                m.p99_us);
  }
  return Status::Ok();
}

}  // namespace tidemark::bench
