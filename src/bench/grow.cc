#include "bench/grow.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "bench/process.h"
#include "common/time.h"
#include "io/io_backend.h"
#include "segment/block.h"
#include "segment/segment_writer.h"
#include "segment/write_pool.h"
#include "tidemark/format.h"
#include "tidemark/record.h"

namespace tidemark::bench {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// 2025-11-20T13:23:00Z: the first record of every generated backup, so that a seed always makes
// the same bytes.
constexpr int64_t kBaseMs = 1763644980000;
constexpr int64_t kRollMs = 60000;  // the default segment_max_ms: one segment a minute
constexpr uint64_t kPage = 4096;
constexpr size_t kFileBlockBytes = 64 << 10;  // --files: raw bytes per block
// Beside every generated backup (in its parent directory, outside the backup).
constexpr const char* kGeneratedMarker = ".tidemark-bench-grow";

// SplitMix64: a fast, seedable generator, one small state per partition so that a partition's
// segments do not depend on the order partitions are visited in.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t In(uint64_t lo, uint64_t hi) { return lo + Next() % (hi - lo + 1); }  // [lo, hi]
};

uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

}  // namespace

// One partition being generated: its entry in the manifest and where its next segment starts.
struct BackupGenerator::Part {
  std::string topic;
  int32_t partition = 0;
  std::string dir;  // "topics/<topic>/<partition>/"
  backup::PartitionManifest* entry = nullptr;
  Rng rng{0};
  uint64_t records_lo = 1, records_hi = 1;  // records per segment
  uint64_t record_bytes = 200;              // average encoded record size
  int64_t next_offset = 0;
  int64_t next_ms = kBaseMs;
  size_t segments_reported = 0, gaps_reported = 0;  // as of the last Add's `changed`
};

// --files: real sealed segments through the library's writer, one at a time.
class BackupGenerator::FileWriter {
 public:
  Status Init(const std::string& dir) {
    TM_ASSIGN_OR_RETURN(io_, io::MakeUringBackend(dir, {io::DirectIoMode::kAuto, 32}));
    pool_ = std::make_unique<segment::WritePool>(
        io_.get(), 4, segment::SegmentWriter::BatchBufferBytes(kFileBlockBytes));
    return Status::Ok();
  }

  // Writes the records `s` plans (offsets first..last, times spread from min to max) and
  // replaces `s` with what the writer sealed: the real sizes, blocks and checksum.
  Status Write(const std::string& dir, const std::string& id, const std::string& topic,
               int32_t partition, segment::SealedSegment* s) {
    segment::SegmentWriter w({dir, id, topic, partition}, pool_.get(), &codec_);
    const int64_t n = static_cast<int64_t>(s->records);
    const int64_t span = s->max_timestamp - s->min_timestamp;
    std::string key, value;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t off = s->first_offset + i;
      key = "user-" + std::to_string(off % 977);
      value = "{\"seq\":" + std::to_string(off) + ",\"note\":\"" +
              std::string(static_cast<size_t>(off % 17), 'x') + "\"}";
      RecordView v;
      v.offset = off;
      v.timestamp = s->min_timestamp + (n > 1 ? span * i / (n - 1) : 0);
      v.key = Bytes::Of(key);
      v.value = Bytes::Of(value);
      if (!builder_.TryAppend(v)) {
        TM_RETURN_IF_ERROR(Flush(&w));
        if (!builder_.TryAppend(v)) return Status::Aborted("a generated record fits no block");
      }
    }
    TM_RETURN_IF_ERROR(Flush(&w));
    segment::SealedSegment sealed;
    TM_RETURN_IF_ERROR(w.Seal(&sealed));
    if (sealed.path != s->path || sealed.first_offset != s->first_offset ||
        sealed.last_offset != s->last_offset || sealed.records != s->records ||
        sealed.min_timestamp != s->min_timestamp || sealed.max_timestamp != s->max_timestamp) {
      return Status::Aborted("the generator's segment " + s->path +
                             " was sealed with other offsets, times or path (" + sealed.path +
                             "): a bug in the generator");
    }
    *s = std::move(sealed);
    return Status::Ok();
  }

  Status Drain() { return pool_ ? pool_->Drain() : Status::Ok(); }

 private:
  Status Flush(segment::SegmentWriter* w) {
    if (builder_.empty()) return Status::Ok();
    if (!w->is_open()) TM_RETURN_IF_ERROR(w->Open(builder_.stats().first_offset, WallClockMs()));
    TM_RETURN_IF_ERROR(w->AppendBlock(builder_));
    builder_.Reset();
    return Status::Ok();
  }

  std::unique_ptr<io::IoBackend> io_;
  std::unique_ptr<segment::WritePool> pool_;
  segment::BlockCodec codec_{format::Codec::kZstd, 1};
  segment::BlockBuilder builder_{kFileBlockBytes};
};

BackupGenerator::BackupGenerator(std::string path, std::string id, GrowShape shape)
    : path_(std::move(path)), id_(std::move(id)), dir_(path_ + "/" + id_), shape_(shape) {}

BackupGenerator::~BackupGenerator() = default;

Status BackupGenerator::Init() {
  if (shape_.topics < 1 || shape_.topics > 10000)
    return Status::Config("--topics " + std::to_string(shape_.topics) +
                          " must be between 1 and 10000");
  if (shape_.partitions < shape_.topics || shape_.partitions > 1000000)
    return Status::Config("--partitions " + std::to_string(shape_.partitions) +
                          " must be at least --topics (" + std::to_string(shape_.topics) +
                          ": every topic has a partition) and at most 1000000");
  if (!format::IsLegalTopicName(id_))
    return Status::Config("backup id '" + id_ + "' is not a legal name");
  // Only a backup this generator made is replaced: a marker beside it says so, so that a --dir
  // pointed at a real store by mistake never loses a backup.
  const std::string marker = path_ + "/" + kGeneratedMarker;
  std::error_code ec;
  if (!fs::is_empty(dir_, ec) && !ec && !fs::exists(marker, ec)) {
    return Status::Config(dir_ + " holds something the generator did not make (no " + marker +
                          "); give another --dir");
  }
  fs::remove_all(dir_, ec);
  if (ec) return Status::Errno(ec.value(), "remove the earlier " + dir_);
  fs::create_directories(dir_, ec);
  if (ec) return Status::Errno(ec.value(), "create " + dir_ + " (give another --dir)");
  if (std::FILE* f = std::fopen(marker.c_str(), "w"); f != nullptr) {
    std::fclose(f);
  } else {
    return Status::Errno(errno, "create " + marker);
  }

  m_ = backup::Manifest{};
  m_.id = id_;
  m_.kind = "continuous";
  m_.cluster_id = "synthetic-grow";
  m_.started_ms = kBaseMs;
  m_.finished_ms = kBaseMs;
  m_.compression = "zstd";
  m_.level = 1;
  const int width = static_cast<int>(std::to_string(shape_.topics - 1).size());
  std::vector<std::pair<std::string, int32_t>> names;
  for (int t = 0; t < shape_.topics; ++t) {
    char name[32];
    std::snprintf(name, sizeof(name), "events-%0*d", width, t);
    const int32_t n = shape_.partitions / shape_.topics + (t < shape_.partitions % shape_.topics);
    backup::TopicManifest& tm = m_.topics[name];
    tm.partition_count = n;
    tm.configs = std::map<std::string, std::string>{{"cleanup.policy", "delete"},
                                                    {"retention.ms", "604800000"}};
    tm.partitions.resize(static_cast<size_t>(n));
    for (int32_t p = 0; p < n; ++p) {
      tm.partitions[static_cast<size_t>(p)].partition = p;
      names.emplace_back(name, p);
    }
  }
  // Entries are in place (std::map nodes and vectors that no longer grow): pointers stay valid.
  parts_.clear();
  parts_.resize(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    Part& p = parts_[i];
    p.topic = names[i].first;
    p.partition = names[i].second;
    p.dir = format::PartitionDir(p.topic, p.partition) + "/";
    p.entry = &m_.topics[p.topic].partitions[static_cast<size_t>(p.partition)];
    p.rng.s = shape_.seed * 0x2545F4914F6CDD1Dull + i;
    const uint64_t cls = p.rng.Next() % 10;
    if (cls == 0) {  // hot
      p.records_lo = 2000, p.records_hi = 6000, p.record_bytes = p.rng.In(300, 1000);
    } else if (cls <= 3) {  // medium
      p.records_lo = 100, p.records_hi = 1000, p.record_bytes = p.rng.In(200, 2000);
    } else {  // quiet
      p.records_lo = 1, p.records_hi = 60, p.record_bytes = p.rng.In(100, 500);
    }
    if (p.rng.Next() % 2 == 0) {  // retention had deleted the start before the backup began
      const int64_t start = static_cast<int64_t>(p.rng.In(1, 5000000));
      backup::AddGap(p.entry, 0, start, backup::kGapLogStart);
      p.entry->end_offset = start;
      p.next_offset = start;
    }
    p.next_ms = kBaseMs + static_cast<int64_t>(p.rng.In(0, kRollMs - 1));
  }
  segments_ = 0;
  files_written_ = 0;
  files_.reset();
  if (shape_.files) {
    files_ = std::make_unique<FileWriter>();
    TM_RETURN_IF_ERROR(files_->Init(dir_));
  }
  return Status::Ok();
}

Status BackupGenerator::AddOne(Part* p) {
  backup::PartitionManifest& e = *p->entry;
  if (p->rng.Next() % 50 == 0) {  // offsets the broker did not hand over
    const int64_t len = static_cast<int64_t>(p->rng.In(1, 100));
    backup::AddGap(&e, p->next_offset, p->next_offset + len, backup::kGapNotDelivered);
    p->next_offset += len;
  }
  segment::SealedSegment s;
  s.records = p->rng.In(p->records_lo, p->records_hi);
  s.first_offset = p->next_offset;
  s.last_offset = p->next_offset + static_cast<int64_t>(s.records) - 1;
  s.path = p->dir + format::SegmentName(s.first_offset, true);
  s.min_timestamp = p->next_ms + static_cast<int64_t>(p->rng.In(0, 2000));
  s.max_timestamp = s.records > 1 ? s.min_timestamp + static_cast<int64_t>(p->rng.In(30000, 57000))
                                  : s.min_timestamp;
  // Sizes as a zstd-1 segment of JSON-like records would have them: about a quarter of the raw
  // bytes, a header page, blocks padded to pages, a footer page.
  s.bytes_raw = s.records * (p->record_bytes * p->rng.In(90, 110) / 100);
  s.blocks = static_cast<uint32_t>(std::max<uint64_t>(1, RoundUp(s.bytes_raw, 1 << 20) >> 20));
  s.bytes_stored = kPage + RoundUp(s.bytes_raw / 4 + 64 * s.blocks, kPage) + kPage;
  s.checksum = p->rng.Next();
  if (files_) {
    TM_RETURN_IF_ERROR(files_->Write(dir_, id_, p->topic, p->partition, &s));
    ++files_written_;
  }
  p->next_offset = s.last_offset + 1;
  p->next_ms += kRollMs;
  e.end_offset = p->next_offset;
  e.records += s.records;
  e.bytes_raw += s.bytes_raw;
  e.bytes_stored += s.bytes_stored;
  e.segments.push_back(std::move(s));
  ++segments_;
  return Status::Ok();
}

Status BackupGenerator::Add(uint64_t segments, std::vector<PartitionChange>* changed) {
  if (parts_.empty()) return Status::Invalid("BackupGenerator::Add before Init");
  for (uint64_t i = 0; i < segments; ++i) {
    // Round-robin from where the last call stopped: Add(a) + Add(b) == Add(a + b).
    TM_RETURN_IF_ERROR(AddOne(&parts_[segments_ % parts_.size()]));
  }
  if (files_) TM_RETURN_IF_ERROR(files_->Drain());
  if (changed != nullptr) changed->clear();
  for (Part& p : parts_) {
    const size_t segs = p.entry->segments.size(), gaps = p.entry->gaps.size();
    if (segs == p.segments_reported && gaps == p.gaps_reported) continue;
    if (changed != nullptr) {
      changed->push_back(
          {p.topic, p.partition, segs - p.segments_reported, gaps - p.gaps_reported});
    }
    p.segments_reported = segs;
    p.gaps_reported = gaps;
  }
  return Status::Ok();
}

// --- THE checkpoint -------------------------------------------------------------------------

Status Checkpointer::Checkpoint(backup::Manifest* m, const std::vector<PartitionChange>& changed) {
  // As Service::Checkpoint in src/service/run.cc: only the partitions that changed.
  m->finished_ms = WallClockMs();
  if (!writer_) {
    TM_ASSIGN_OR_RETURN(writer_, backup::CatalogWriter::Create(dir_, *m));
  } else {
    std::set<backup::TopicPartition> parts;
    for (const auto& c : changed) parts.insert({c.topic, c.partition});
    TM_RETURN_IF_ERROR(writer_->Checkpoint(*m, parts, {}));
  }
  ++checkpoints_;
  return Status::Ok();
}

uint64_t CatalogBytes(const std::string& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::error_code fec;
    if (e.is_regular_file(fec)) n += e.file_size(fec);
  }
  for (const auto& e : fs::recursive_directory_iterator(dir + "/catalog", ec)) {
    std::error_code fec;
    if (e.is_regular_file(fec)) n += e.file_size(fec);
  }
  return n;
}

// --- the benchmark ----------------------------------------------------------------------------

namespace {

constexpr const char* kGrowId = "grow";

struct Cmd {
  ChildRun run;  // the median run by wall time
  int runs = 0;
  json ToJson() const {
    return {{"seconds", run.seconds},
            {"cpu_seconds", run.cpu_seconds},
            {"peak_rss_mb", run.peak_rss_mb},
            {"runs", runs}};
  }
};

struct Row {
  uint64_t segments = 0;
  uint64_t records = 0;
  uint64_t catalog_bytes = 0;
  double generate_seconds = 0;  // in memory (and the files, with --files)
  double write_seconds = 0;     // the first checkpoint: everything generated is new
  Cmd ls, describe;
  std::vector<double> checkpoint_ms;
  std::vector<double> checkpoint_cpu_ms;  // this process's CPU time in each checkpoint
  uint64_t checkpoint_segments_first = 0, checkpoint_segments_last = 0;
  uint64_t catalog_bytes_after = 0;
  double bench_peak_rss_mb = 0;
};

// The nearest-rank quantile q of `v` (of 20 values, p99 is the largest).
double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

double SelfCpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double SelfPeakRssMb() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024;
}

GrowShape ShapeOf(const BenchOptions& o) {
  GrowShape s;
  s.topics = o.topics;
  s.partitions = o.partitions > 0 ? o.partitions : 200;
  s.seed = o.seed;
  s.files = o.files;
  return s;
}

// Starts the measured commands from a process forked before the generator allocates anything. A
// child's peak RSS (wait4) counts the pages it shares with its parent from the fork until its
// exec, so `ls` forked from this process holding a million manifest entries would report this
// process's size (hundreds of MB), not its own. The launcher stays as small as the benchmark was
// at its start: it reads one request per line (JSON: argv and log), runs it with MustRun and
// answers one line (the ChildRun, or the error); it ends when its input closes.
class Launcher {
 public:
  Launcher() = default;
  Launcher(const Launcher&) = delete;
  Launcher& operator=(const Launcher&) = delete;
  ~Launcher() {
    if (to_ != nullptr) std::fclose(to_);
    if (from_ != nullptr) std::fclose(from_);
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
  }

  // Call while this process runs no other thread (fork copies only the caller).
  Status Start() {
    int req[2], resp[2];
    if (::pipe(req) != 0) return Status::Errno(errno, "pipe");
    if (::pipe(resp) != 0) {
      const int err = errno;
      ::close(req[0]);
      ::close(req[1]);
      return Status::Errno(err, "pipe");
    }
    pid_ = ::fork();
    if (pid_ < 0) return Status::Errno(errno, "fork");
    if (pid_ == 0) {
      ::close(req[1]);
      ::close(resp[0]);
      Serve(req[0], resp[1]);
      ::_exit(0);
    }
    ::close(req[0]);
    ::close(resp[1]);
    to_ = ::fdopen(req[1], "w");
    from_ = ::fdopen(resp[0], "r");
    if (to_ == nullptr || from_ == nullptr) return Status::Errno(errno, "fdopen");
    return Status::Ok();
  }

  // MustRun(argv, log), started by the launcher.
  Result<ChildRun> Run(const std::vector<std::string>& argv, const std::string& log) {
    const std::string line = json{{"argv", argv}, {"log", log}}.dump() + "\n";
    if (std::fputs(line.c_str(), to_) < 0 || std::fflush(to_) != 0)
      return Status::Aborted("the benchmark's launcher process is gone");
    json r = json::parse(ReadLine(from_), nullptr, false);
    if (r.is_discarded()) return Status::Aborted("the benchmark's launcher process died");
    if (r.contains("error")) return Status::Aborted(r["error"].get<std::string>());
    ChildRun c;
    c.exit_code = r["exit_code"];
    c.seconds = r["seconds"];
    c.cpu_seconds = r["cpu_seconds"];
    c.peak_rss_mb = r["peak_rss_mb"];
    return c;
  }

 private:
  static std::string ReadLine(std::FILE* f) {
    std::string line;
    int ch;
    while ((ch = std::fgetc(f)) != EOF && ch != '\n') line.push_back(static_cast<char>(ch));
    return line;
  }

  static void Serve(int in_fd, int out_fd) {
    std::FILE* in = ::fdopen(in_fd, "r");
    std::FILE* out = ::fdopen(out_fd, "w");
    if (in == nullptr || out == nullptr) return;
    for (;;) {
      const std::string line = ReadLine(in);
      if (line.empty()) return;  // the benchmark closed its end
      json req = json::parse(line, nullptr, false);
      json resp;
      if (req.is_discarded() || !req.contains("argv") || !req.contains("log")) {
        resp = {{"error", "launcher: a request that is not {argv, log}"}};
      } else {
        Result<ChildRun> r =
            MustRun(req["argv"].get<std::vector<std::string>>(), req["log"].get<std::string>());
        if (r.ok()) {
          resp = {{"exit_code", r->exit_code},
                  {"seconds", r->seconds},
                  {"cpu_seconds", r->cpu_seconds},
                  {"peak_rss_mb", r->peak_rss_mb}};
        } else {
          resp = {{"error", r.status().message()}};
        }
      }
      std::fputs((resp.dump() + "\n").c_str(), out);
      std::fflush(out);
    }
  }

  pid_t pid_ = -1;
  std::FILE* to_ = nullptr;
  std::FILE* from_ = nullptr;
};

// Runs `argv` o.runs times (through the launcher) and keeps the median run by wall time.
Result<Cmd> Measure(const BenchOptions& o, Launcher* launcher, const std::vector<std::string>& argv,
                    const std::string& log) {
  std::vector<ChildRun> runs;
  for (int i = 0; i < std::max(1, o.runs); ++i) {
    TM_ASSIGN_OR_RETURN(ChildRun r, launcher->Run(argv, log));
    runs.push_back(r);
  }
  std::sort(runs.begin(), runs.end(),
            [](const ChildRun& a, const ChildRun& b) { return a.seconds < b.seconds; });
  return Cmd{runs[runs.size() / 2], static_cast<int>(runs.size())};
}

std::string Config(const BenchOptions& o, const GrowShape& s) {
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "grow: synthetic continuous backup (no broker), %d topics, %d partitions, seed "
                "%" PRIu64
                ", %s; checkpoint: %d x %d new segments; ls and describe: median of "
                "%d runs; %s/%s",
                s.topics, s.partitions, s.seed,
                s.files ? "real segment files" : "manifest entries only (no segment files)",
                o.checkpoints, o.checkpoint_segments, std::max(1, o.runs), o.dir.c_str(), kGrowId);
  return buf;
}

json RowToJson(const Row& r) {
  return {{"segments", r.segments},
          {"records", r.records},
          {"catalog_bytes", r.catalog_bytes},
          {"generate_seconds", r.generate_seconds},
          {"write_seconds", r.write_seconds},
          {"ls", r.ls.ToJson()},
          {"describe", r.describe.ToJson()},
          {"checkpoint",
           {{"count", r.checkpoint_ms.size()},
            {"segments_first", r.checkpoint_segments_first},
            {"segments_last", r.checkpoint_segments_last},
            {"ms_p50", Quantile(r.checkpoint_ms, 0.5)},
            {"ms_p99", Quantile(r.checkpoint_ms, 0.99)},
            {"cpu_ms_p50", Quantile(r.checkpoint_cpu_ms, 0.5)},
            {"catalog_bytes_after", r.catalog_bytes_after}}},
          {"bench_peak_rss_mb", r.bench_peak_rss_mb}};
}

void PrintRows(const std::vector<Row>& rows) {
  std::printf("  %9s %11s %10s %7s %7s | %7s %7s %8s | %7s %7s %8s | %8s %8s %8s\n", "segments",
              "records", "catalog MB", "gen s", "write s", "ls s", "ls CPU", "ls RSS", "desc s",
              "des CPU", "des RSS", "ckpt p50", "ckpt p99", "ckpt CPU");
  std::printf("  %9s %11s %10s %7s %7s | %7s %7s %8s | %7s %7s %8s | %8s %8s %8s\n", "", "", "", "",
              "", "", "s", "MB", "", "s", "MB", "ms", "ms", "p50 ms");
  for (const auto& r : rows) {
    std::printf("  %9" PRIu64 " %11" PRIu64
                " %10.1f %7.2f %7.2f | %7.2f %7.2f %8.1f | %7.2f %7.2f %8.1f | %8.1f %8.1f %8.1f\n",
                r.segments, r.records, static_cast<double>(r.catalog_bytes) / 1e6,
                r.generate_seconds, r.write_seconds, r.ls.run.seconds, r.ls.run.cpu_seconds,
                r.ls.run.peak_rss_mb, r.describe.run.seconds, r.describe.run.cpu_seconds,
                r.describe.run.peak_rss_mb, Quantile(r.checkpoint_ms, 0.5),
                Quantile(r.checkpoint_ms, 0.99), Quantile(r.checkpoint_cpu_ms, 0.5));
  }
}

// Generates up to `target` segments and writes them as one checkpoint; fills the generation
// columns of `row`.
Status GrowTo(BackupGenerator* gen, Checkpointer* ckpt, uint64_t target, Row* row) {
  std::vector<PartitionChange> changed;
  const int64_t t0 = MonotonicNs();
  TM_RETURN_IF_ERROR(gen->Add(target - gen->segments(), &changed));
  const int64_t t1 = MonotonicNs();
  TM_RETURN_IF_ERROR(ckpt->Checkpoint(gen->mutable_manifest(), changed));
  const int64_t t2 = MonotonicNs();
  row->segments = gen->segments();
  row->records = gen->manifest().TotalRecords();
  row->catalog_bytes = CatalogBytes(gen->dir());
  row->generate_seconds = static_cast<double>(t1 - t0) / 1e9;
  row->write_seconds = static_cast<double>(t2 - t1) / 1e9;
  return Status::Ok();
}

}  // namespace

Status RunGrow(const BenchOptions& o) {
  const GrowShape shape = ShapeOf(o);
  if (o.checkpoints < 1 || o.checkpoint_segments < 1)
    return Status::Config("--checkpoints and --checkpoint-segments must be at least 1");
  for (size_t i = 1; i < o.sizes.size(); ++i) {
    if (o.sizes[i] <= o.sizes[i - 1])
      return Status::Config("--sizes must increase (each size extends the backup of the last)");
  }
  Launcher launcher;  // first, while this process is small (see Launcher)
  if (!o.sizes.empty()) TM_RETURN_IF_ERROR(launcher.Start());
  const std::string path = o.dir + "/grow";
  BackupGenerator gen(path, kGrowId, shape);
  TM_RETURN_IF_ERROR(gen.Init());
  Checkpointer ckpt(gen.dir());

  if (o.sizes.empty()) {  // the generator alone
    Row row;
    TM_RETURN_IF_ERROR(GrowTo(&gen, &ckpt, o.segments, &row));
    if (o.json) {
      json j = RowToJson(row);
      for (const char* k : {"ls", "describe", "checkpoint"}) j.erase(k);
      j["mode"] = "grow";
      j["config"] = Config(o, shape);
      j["path"] = path;
      j["id"] = kGrowId;
      j["files"] = gen.files_written();
      j["bench_peak_rss_mb"] = SelfPeakRssMb();
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("generated backup %s in %s: %" PRIu64 " segments (%" PRIu64
                  " files) over %d partitions of %d topics, %" PRIu64
                  " records; manifest %.1f MB; %.2f s in memory, %.2f s to write\n",
                  kGrowId, path.c_str(), row.segments, gen.files_written(), shape.partitions,
                  shape.topics, row.records, static_cast<double>(row.catalog_bytes) / 1e6,
                  row.generate_seconds, row.write_seconds);
    }
    return Status::Ok();
  }

  // `describe --topics X` reads only what one topic needs (issue 12) where this tidemark has the
  // flag; before that, describe reads the whole backup, which is what is measured then.
  std::vector<std::string> describe = {o.self, "describe", "--path", path, "--id", kGrowId};
  TM_ASSIGN_OR_RETURN(ChildRun help,
                      Spawn({o.self, "describe", "--help"}, o.dir + "/grow-help.log"));
  if (help.exit_code == 0 &&
      ReadFile(o.dir + "/grow-help.log").find("--topics") != std::string::npos) {
    describe.push_back("--topics");
    describe.push_back(gen.manifest().topics.begin()->first);
  }
  std::string config =
      Config(o, shape) + "; describe " +
      (describe.size() > 6 ? "--topics " + describe.back() : "of the whole backup");
  std::vector<Row> rows;
  if (!o.json) {
    std::printf("tidemark bench %s\n", config.c_str());
    std::fflush(stdout);
  }
  for (uint64_t size : o.sizes) {
    Row row;
    if (size < gen.segments()) {
      return Status::Config(
          "--sizes " + std::to_string(size) + " is below the segments already generated (" +
          std::to_string(gen.segments()) + ": each size adds " +
          std::to_string(o.checkpoints * o.checkpoint_segments) + " for its checkpoints)");
    }
    TM_RETURN_IF_ERROR(GrowTo(&gen, &ckpt, size, &row));
    // The commands read the backup as it stands (its manifest fresh in the page cache).
    TM_ASSIGN_OR_RETURN(
        row.ls, Measure(o, &launcher, {o.self, "ls", "--path", path}, o.dir + "/grow-ls.log"));
    TM_ASSIGN_OR_RETURN(row.describe,
                        Measure(o, &launcher, describe, o.dir + "/grow-describe.log"));
    // Checkpoints as the service makes them: K segments sealed since the last one, then one
    // checkpoint; only the checkpoint is timed.
    std::vector<PartitionChange> changed;
    for (int c = 0; c < o.checkpoints; ++c) {
      TM_RETURN_IF_ERROR(gen.Add(static_cast<uint64_t>(o.checkpoint_segments), &changed));
      if (c == 0) row.checkpoint_segments_first = gen.segments();
      const double cpu0 = SelfCpuSeconds();
      const int64_t t0 = MonotonicNs();
      TM_RETURN_IF_ERROR(ckpt.Checkpoint(gen.mutable_manifest(), changed));
      row.checkpoint_ms.push_back(static_cast<double>(MonotonicNs() - t0) / 1e6);
      row.checkpoint_cpu_ms.push_back((SelfCpuSeconds() - cpu0) * 1e3);
    }
    row.checkpoint_segments_last = gen.segments();
    row.catalog_bytes_after = CatalogBytes(gen.dir());
    row.bench_peak_rss_mb = SelfPeakRssMb();
    rows.push_back(row);
    if (!o.json) {
      std::printf("  %" PRIu64
                  " segments: ls %.2f s, describe %.2f s, checkpoint p50 %.1f ms p99 %.1f ms "
                  "(backup of %" PRIu64 "..%" PRIu64 " segments)\n",
                  row.segments, row.ls.run.seconds, row.describe.run.seconds,
                  Quantile(row.checkpoint_ms, 0.5), Quantile(row.checkpoint_ms, 0.99),
                  row.checkpoint_segments_first, row.checkpoint_segments_last);
      std::fflush(stdout);
    }
  }
  if (o.json) {
    json j;
    j["mode"] = "grow";
    j["config"] = config;
    j["rows"] = json::array();
    for (const auto& r : rows) j["rows"].push_back(RowToJson(r));
    std::printf("%s\n", j.dump(2).c_str());
    return Status::Ok();
  }
  PrintRows(rows);
  std::printf(
      "  gen s: building the entries in memory%s; write s: the first, whole write of them; "
      "catalog: index bytes on disk; ckpt: one checkpoint after %d new segments (nearest rank "
      "of %d; CPU: this process's); RSS: peak of the child process\n",
      shape.files ? " and their segment files" : "", o.checkpoint_segments, o.checkpoints);
  return Status::Ok();
}

}  // namespace tidemark::bench
