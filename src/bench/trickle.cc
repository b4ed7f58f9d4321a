// `tidemark bench run --trickle-rate R`: what grows over the continuous service's life (issue
// 12). Every partition, spread over a few topics of the embedded Kafka, gets R small records a
// second while a real `tidemark run` backs them up; the benchmark samples the service's CPU
// (/proc/<pid>/stat), walks its backup directory (allocated blocks, file sizes, files, the
// manifest or catalog) and reads its /metrics (durability points, checkpoints, uploads) as it goes.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <httplib.h>
#include <librdkafka/rdkafka.h>
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <regex>
#include <string_view>
#include <thread>

#include "bench/grow.h"
#include "bench/modes.h"
#include "bench/trickle.h"
#include "common/time.h"
#include "kafka/mock.h"
#include "s3/client.h"

namespace tidemark::bench {

namespace fs = std::filesystem;

double MetricSum(const std::string& body, const std::string& name) {
  double sum = 0;
  bool found = false;
  for (size_t at = 0; (at = body.find(name, at)) != std::string::npos; at += name.size()) {
    const size_t after = at + name.size();
    if ((at != 0 && body[at - 1] != '\n') || after >= body.size()) continue;
    size_t value = std::string::npos;
    if (body[after] == ' ') {
      value = after + 1;
    } else if (body[after] == '{') {
      const size_t close = body.find("} ", after);
      if (close != std::string::npos) value = close + 2;
    }
    if (value == std::string::npos) continue;
    sum += std::strtod(body.c_str() + value, nullptr);
    found = true;
  }
  return found ? sum : -1;
}

DiskUse WalkStore(const std::string& dir) {
  DiskUse d;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    ++d.files;
    d.allocated += static_cast<uint64_t>(st.st_blocks) * 512;
    d.bytes += static_cast<uint64_t>(st.st_size);
    const std::string name = it->path().filename().string();
    auto ends = [&](std::string_view suffix) {
      return name.size() >= suffix.size() &&
             name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends(".tmseg")) {
      ++d.sealed;
      d.sealed_allocated += static_cast<uint64_t>(st.st_blocks) * 512;
      d.sealed_bytes += static_cast<uint64_t>(st.st_size);
    }
    if (ends(".tmseg.open")) ++d.open;
    bool index = name == "manifest.json";
    for (const auto& part : it->path().lexically_relative(dir).parent_path()) {
      index = index || part == "catalog";
    }
    if (index) d.index_bytes += static_cast<uint64_t>(st.st_size);
  }
  return d;
}

double CpuPercent(const std::vector<std::pair<double, double>>& series, double from, double to) {
  const std::pair<double, double>*a = nullptr, *b = nullptr;
  for (const auto& s : series) {
    if (s.first < from - 1e-6 || s.first > to + 1e-6) continue;
    if (a == nullptr) a = &s;
    b = &s;
  }
  if (a == nullptr || a == b || b->first - a->first <= 0) return -1;
  return (b->second - a->second) / (b->first - a->first) * 100;
}

namespace {

using nlohmann::json;

// One point of the timeline.
struct TrickleSample {
  double t = 0;                     // seconds since the producer started
  uint64_t records = 0, bytes = 0;  // produced so far (bytes: key + value + headers)
  double bytes_in = -1;  // consumed so far, the same bytes (the service's tidemark_bytes_in_total)
  double cpu_seconds = -1;  // the service's CPU so far
  double cpu_percent = -1;  // of a core, since the previous sample
  double durability_points = 0, checkpoints = 0;
  double records_stored = 0;  // records in sealed segments the manifest names (/metrics)
  DiskUse disk;
  json ToJson() const {
    json j = disk.ToJson();
    j["seconds"] = t;
    j["records"] = records;
    j["bytes"] = bytes;
    j["bytes_consumed"] = bytes_in;
    j["service_cpu_percent"] = cpu_percent;
    j["durability_points"] = durability_points;
    j["checkpoints"] = checkpoints;
    j["records_stored"] = records_stored;
    return j;
  }
};

// Sealed segments' allocated bytes per input byte they hold: the records the manifest names
// (records_stored) times the average record produced so far; -1 before the first seal.
double SealedPerInput(const TrickleSample& s) {
  if (s.records_stored <= 0 || s.records == 0) return -1;
  const double avg = static_cast<double>(s.bytes) / static_cast<double>(s.records);
  return static_cast<double>(s.disk.sealed_allocated) / (s.records_stored * avg);
}

// Checkpoints written: tidemark_checkpoints_total (the catalog, format 2), or
// tidemark_manifest_writes_total (a whole manifest.json each, format 1).
double Checkpoints(const std::string& body) {
  const double n = MetricSum(body, "tidemark_checkpoints_total");
  return n >= 0 ? n : MetricSum(body, "tidemark_manifest_writes_total");
}

// A figure of the report: a value (or why it was not measured) and the target issue 12 sets.
struct Figure {
  std::string what;
  std::optional<double> value;
  std::string unit;
  std::string target;
  std::string note;
};

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

void PrintTrickle(const BenchOptions& o, const std::string& config,
                  const std::vector<Measurement>& runs, const std::vector<TrickleSample>& samples,
                  const std::vector<Figure>& figures) {
  if (o.json) {
    json j;
    j["mode"] = "run";
    j["config"] = config;
    j["runs"] = json::array();
    for (const auto& m : runs) j["runs"].push_back(m.ToJson());
    j["samples"] = json::array();
    for (const auto& s : samples) j["samples"].push_back(s.ToJson());
    j["figures"] = json::array();
    for (const auto& f : figures) {
      json jf = {{"what", f.what}, {"unit", f.unit}, {"target", f.target}, {"note", f.note}};
      jf["value"] = f.value ? json(*f.value) : json(nullptr);
      j["figures"].push_back(jf);
    }
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("tidemark bench %s\n", config.c_str());
  // alloc/in: everything allocated (open segments' preallocation included) per input byte the
  // service consumed; sealed/in: sealed segments alone, per input byte they hold.
  std::printf("  %6s %9s %8s %7s %6s %7s %10s %9s %8s %9s %11s %6s\n", "t (s)", "records",
              "input MB", "sealed", "open", "files", "alloc. MB", "files MB", "alloc/in",
              "sealed/in", "index KB", "CPU %");
  for (const auto& s : samples) {
    const double sealed = SealedPerInput(s);
    std::printf(
        "  %6.0f %9" PRIu64 " %8.2f %7" PRIu64 " %6" PRIu64 " %7" PRIu64
        " %10.1f %9.1f %8s %9s %11.1f %6s\n",
        s.t, s.records, static_cast<double>(s.bytes) / 1e6, s.disk.sealed, s.disk.open,
        s.disk.files, static_cast<double>(s.disk.allocated) / 1e6,
        static_cast<double>(s.disk.bytes) / 1e6,
        s.bytes_in > 0 ? Fixed(static_cast<double>(s.disk.allocated) / s.bytes_in, 1).c_str() : "-",
        sealed >= 0 ? Fixed(sealed, 1).c_str() : "-", static_cast<double>(s.disk.index_bytes) / 1e3,
        s.cpu_percent >= 0 ? Fixed(s.cpu_percent, 1).c_str() : "-");
  }
  for (const auto& m : runs) {
    std::printf("  %s: %.1f s", m.name.c_str(), m.seconds);
    if (m.cpu_seconds > 0)
      std::printf(", CPU %.1f s, peak RSS %.1f MB", m.cpu_seconds, m.peak_rss_mb);
    std::printf("%s%s\n", m.io.empty() ? "" : "; ", m.io.c_str());
  }
  for (const auto& f : figures) {
    std::string line = "  " + f.what + ": ";
    if (f.value) {
      const double v = *f.value;
      const bool whole = v == std::floor(v) && f.unit.empty();  // counts
      line += Fixed(v, whole ? 0 : (v != 0 && std::abs(v) < 10 ? 2 : (std::abs(v) < 1000 ? 1 : 0)));
      if (!f.unit.empty()) line += " " + f.unit;
      if (!f.target.empty()) line += " (target " + f.target + ")";
      if (!f.note.empty()) line += "; " + f.note;
    } else {
      line += "not measured (" + f.note + ")";
    }
    std::printf("%s\n", line.c_str());
  }
  std::fflush(stdout);
}

}  // namespace

// Trickle: every partition gets `trickle_rate` records a second for --seconds while the service
// backs them up. The service is a child (its CPU from /proc/<pid>/stat during the run, and
// wait4 at the end); the backup directory is walked every few seconds (allocated blocks, file
// sizes, files, the manifest or catalog) and /metrics read (durability points, checkpoints,
// uploads).
Status RunTrickle(const BenchOptions& o) {
  if (!o.brokers.empty())
    return Status::Config("bench run uses the embedded Kafka; leave out --brokers");
  if (!o.sweep.empty())
    return Status::Config("--sweep does not apply to bench run --trickle-rate: run once per value");
  if (!(o.seconds > 0))
    return Status::Config("--seconds must be positive (how long the trickle runs)");
  if (o.history_segments > 0 && !o.upload_endpoint.empty()) {
    return Status::Config(
        "--history-segments has no segment files to upload: leave out --upload-endpoint");
  }
  const int partitions = o.partitions > 0 ? o.partitions : 200;
  const int topic_count = std::clamp(o.topics, 1, partitions);
  std::vector<std::pair<std::string, int>> layout;  // topic, partitions
  std::string spec;
  std::vector<std::string> topics;
  for (int t = 0; t < topic_count; ++t) {
    char name[32];
    std::snprintf(name, sizeof(name), "trickle-%02d", t);
    const int n = partitions / topic_count + (t < partitions % topic_count ? 1 : 0);
    layout.emplace_back(name, n);
    topics.push_back(name);
    spec += (spec.empty() ? "" : ",") + std::string(name) + ":" + std::to_string(n);
  }
  const int64_t roll_ms = o.segment_max_interval_ms > 0 ? o.segment_max_interval_ms : 60000;
  std::string prefix;
  if (!o.upload_endpoint.empty()) {
    const char* key = std::getenv("AWS_ACCESS_KEY_ID");
    const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
    if (key == nullptr || secret == nullptr)
      return Status::Config(
          "--upload-endpoint needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
          "environment (the service reads the same)");
    s3::ClientOptions co;
    co.endpoint = o.upload_endpoint;
    if (const char* region = std::getenv("AWS_REGION")) co.region = region;
    TM_ASSIGN_OR_RETURN(auto client, s3::Client::Make(co, {key, secret}));
    TM_RETURN_IF_ERROR(client->CreateBucket(o.upload_bucket));
    prefix = "bench-run-" + std::to_string(WallClockMs());  // a fresh prefix per run
  }
  char config[768];
  std::snprintf(config, sizeof(config),
                "run (trickle): embedded Kafka (librdkafka mock cluster, own process), %d "
                "partitions over %d topics, %g records/s each of %s records with %zu-byte "
                "values, for %g s; %s level %d; shards %d; segment_max_interval_ms %" PRId64
                "%s; upload %s; history %" PRIu64 " sealed segments; %s",
                partitions, topic_count, o.trickle_rate, DataKindName(o.data), o.value_bytes,
                o.seconds, format::CodecName(o.codec), o.level, Shards(o), roll_ms,
                o.segment_max_interval_ms > 0 ? "" : " (default)",
                prefix.empty() ? "none" : (o.upload_endpoint + "/" + o.upload_bucket).c_str(),
                o.history_segments, o.dir.c_str());

  MockProcess mock;
  TM_RETURN_IF_ERROR(mock.Start(o.self, spec, o.dir + "/mock-run.log"));
  const std::string store = o.dir + "/store-run";
  std::error_code ec;
  fs::remove_all(store, ec);
  const std::string cfg = o.dir + "/run.toml";
  TM_RETURN_IF_ERROR(WriteServiceConfig(o, cfg, mock.brokers(), topics, store, prefix));
  double history_s = 0;
  double history_records = 0;  // in tidemark_records_stored from the start: not the trickle's
  if (o.history_segments > 0) {
    // The backup's past: sealed segments of 200 partitions over 10 topics the service does not
    // consume (events-*), in the catalog the service opens; no files (nothing reads them here).
    const int64_t h0 = MonotonicNs();
    BackupGenerator gen(store, "bench", GrowShape{});
    TM_RETURN_IF_ERROR(gen.Init());
    TM_RETURN_IF_ERROR(gen.Add(o.history_segments, nullptr));
    Checkpointer history(gen.dir());
    TM_RETURN_IF_ERROR(history.Checkpoint(gen.mutable_manifest(), {}));
    for (const auto& [name, t] : gen.manifest().topics)
      for (const auto& p : t.partitions)
        for (const auto& s : p.segments) history_records += static_cast<double>(s.records);
    history_s = static_cast<double>(MonotonicNs() - h0) / 1e9;
  }
  // What the history holds on disk (its catalog) is not the trickle's: left out of the ratios.
  const DiskUse history_disk = o.history_segments > 0 ? WalkStore(store) : DiskUse{};
  const std::string log = o.dir + "/run.log";
  Background svc;
  const int64_t svc0 = MonotonicNs();
  TM_RETURN_IF_ERROR(svc.Start({o.self, "run", "--config", cfg}, log));
  // Started: the metrics port is in the log, then every partition is owned.
  int port = 0;
  const int64_t start_deadline =
      MonotonicNs() + static_cast<int64_t>((60 + 0.05 * partitions) * 1e9);
  while (port == 0 && MonotonicNs() < start_deadline) {
    std::smatch m;
    const std::string out = ReadFile(log);
    if (std::regex_search(out, m, std::regex("\\(port ([0-9]+)\\)"))) port = std::stoi(m[1]);
    if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (port == 0) return Status::Aborted("the service did not start (see " + log + ")");
  httplib::Client http("127.0.0.1", port);
  auto metrics = [&] {
    auto res = http.Get("/metrics");
    return res && res->status == 200 ? res->body : std::string();
  };
  double owned = 0;
  while (MonotonicNs() < start_deadline) {
    owned = MetricSum(metrics(), "tidemark_partitions_owned");
    if (owned >= partitions) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (owned < partitions) {
    return Status::Aborted("the service owned " + std::to_string(static_cast<int>(owned)) + " of " +
                           std::to_string(partitions) + " partitions after " +
                           Fixed(60 + 0.05 * partitions, 0) + " s (see " + log + ")");
  }
  const double start_s = static_cast<double>(MonotonicNs() - svc0) / 1e9;

  const auto data = MakeRecords(8192, o.value_bytes, 1, o.data, o.keys);
  kafka::Producer producer;
  TM_RETURN_IF_ERROR(
      producer.Connect(mock.brokers(), {{"linger.ms", "5"}, {"compression.type", "lz4"}}));
  const pid_t pid = svc.pid();
  std::vector<std::pair<double, double>> cpu;  // seconds since start, service CPU seconds
  std::vector<TrickleSample> samples;
  const double sample_every_s = std::clamp(o.seconds / 24, 5.0, 60.0);
  auto stopped_early = [&] { return o.stop != nullptr && o.stop->load(); };
  const int64_t t0 = MonotonicNs();
  auto elapsed = [&] { return static_cast<double>(MonotonicNs() - t0) / 1e9; };
  uint64_t records = 0, bytes = 0, late_rounds = 0;
  auto sample = [&](const std::string& body) {
    TrickleSample s;
    s.t = elapsed();
    s.records = records;
    s.bytes = bytes;
    s.cpu_seconds = ProcessCpuSeconds(pid);
    if (s.cpu_seconds >= 0) cpu.emplace_back(s.t, s.cpu_seconds);
    if (!samples.empty() && s.t > samples.back().t && s.cpu_seconds >= 0 &&
        samples.back().cpu_seconds >= 0) {
      s.cpu_percent = (s.cpu_seconds - samples.back().cpu_seconds) / (s.t - samples.back().t) * 100;
    }
    s.durability_points = MetricSum(body, "tidemark_durability_points_total");
    s.checkpoints = Checkpoints(body);
    s.records_stored = std::max(0.0, MetricSum(body, "tidemark_records_stored") - history_records);
    s.bytes_in = MetricSum(body, "tidemark_bytes_in_total");
    s.disk = WalkStore(store);
    samples.push_back(s);
  };
  const std::string body0 = metrics();
  const double segment_puts0 = std::max(0.0, MetricSum(body0, "tidemark_uploaded_segments_total"));
  // The store's catalog (chunks and roots); a binary before it: whole manifests.
  auto index_puts_of = [](const std::string& body) {
    return std::max(0.0, MetricSum(body, "tidemark_remote_catalog_puts_total")) +
           std::max(0.0, MetricSum(body, "tidemark_remote_manifests_total"));
  };
  const double index_puts0 = index_puts_of(body0);
  sample(body0);
  const double period_s = 1.0 / o.trickle_rate;
  const int64_t until = t0 + static_cast<int64_t>(o.seconds * 1e9);
  double last_cpu = 0, last_sample = 0;
  size_t ri = 0;
  for (uint64_t round = 0;; ++round) {
    const int64_t due = t0 + static_cast<int64_t>(static_cast<double>(round) * period_s * 1e9);
    if (due >= until || stopped_early()) break;
    const int64_t now = MonotonicNs();
    if (due > now) {
      // In steps, so that a stop (Ctrl-C) is seen within 200 ms whatever the rate.
      while (MonotonicNs() < due && !stopped_early()) {
        std::this_thread::sleep_for(
            std::chrono::nanoseconds(std::min<int64_t>(due - MonotonicNs(), 200000000)));
      }
      if (stopped_early()) break;
    } else if (static_cast<double>(now - due) > period_s * 1e9) {
      ++late_rounds;  // the producer could not keep the pace
    }
    const int64_t ts = WallClockMs();
    for (const auto& [topic, n] : layout) {
      for (int p = 0; p < n; ++p) {
        const auto& r = data[ri++ % data.size()];
        std::vector<kafka::ProduceHeader> hs;
        for (const auto& [k, v] : r.headers) hs.push_back({k, v});
        TM_RETURN_IF_ERROR(producer.Produce(topic, p, r.key, r.value, hs, ts));
        bytes += RecordBytes(r);
        ++records;
      }
    }
    rd_kafka_poll(producer.handle(), 0);  // delivery reports
    const double t = elapsed();
    if (t - last_sample >= sample_every_s) {
      sample(metrics());
      last_sample = last_cpu = t;
    } else if (t - last_cpu >= 1) {
      if (const double c = ProcessCpuSeconds(pid); c >= 0) cpu.emplace_back(t, c);
      last_cpu = t;
    }
  }
  TM_RETURN_IF_ERROR(producer.Flush(120000));
  const double produce_s = elapsed();
  if (const double c = ProcessCpuSeconds(pid); c >= 0) cpu.emplace_back(produce_s, c);
  // Caught up: every record consumed; or no progress for 10 s, or a quarter of the run (at least
  // 30 s) spent waiting: a service that cannot keep up is reported behind, not waited for.
  std::string body;
  double consumed = -1;
  const int64_t wait_until =
      MonotonicNs() + static_cast<int64_t>(std::max(30.0, o.seconds / 4) * 1e9);
  for (int64_t last_change = MonotonicNs(); !stopped_early();) {
    body = metrics();
    const double n = MetricSum(body, "tidemark_records_in_total");
    if (n >= static_cast<double>(records)) {
      consumed = n;
      break;
    }
    if (n != consumed) {
      consumed = n;
      last_change = MonotonicNs();
    } else if (MonotonicNs() - last_change > 10000000000) {
      break;
    }
    if (MonotonicNs() > wait_until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double caught_up_s = elapsed();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a durability point, stats
  body = metrics();
  sample(body);
  const TrickleSample running = samples.back();
  const double segment_puts =
      std::max(0.0, MetricSum(body, "tidemark_uploaded_segments_total")) - segment_puts0;
  const double index_puts = index_puts_of(body) - index_puts0;
  TM_ASSIGN_OR_RETURN(ChildRun run, svc.Stop(SIGTERM));
  if (run.exit_code != 0)
    return Status::Aborted("the service exited " + std::to_string(run.exit_code) + " (see " + log +
                           ")");
  const DiskUse stopped = WalkStore(store);

  std::vector<Measurement> runs;
  Measurement prod;
  prod.name = "producer (librdkafka, lz4)";
  prod.seconds = produce_s;
  prod.bytes = bytes;
  prod.records = records;
  if (late_rounds > 0) prod.io = std::to_string(late_rounds) + " rounds started late";
  runs.push_back(prod);
  Measurement svc_m = FromChild("tidemark run", run, bytes, records);
  svc_m.stored = stopped.bytes;
  auto quantile_us = [&](const std::string& name, const char* q) {
    const double v = MetricValue(body, name + "{quantile=\"" + q + "\"}");
    return v < 0 ? int64_t{-1} : static_cast<int64_t>(v * 1e6);
  };
  svc_m.p50_us = quantile_us("tidemark_durability_point_seconds", "0.5");
  svc_m.p99_us = quantile_us("tidemark_durability_point_seconds", "0.99");
  runs.push_back(svc_m);

  // Per input byte the service consumed (all produced, unless it fell behind).
  const double in =
      running.bytes_in > 0 ? running.bytes_in : static_cast<double>(std::max<uint64_t>(bytes, 1));
  std::vector<Figure> f;
  f.push_back({"records produced per second per partition",
               static_cast<double>(records) / produce_s / partitions, "", "", ""});
  f.push_back({"average record (key + value + headers)",
               static_cast<double>(bytes) / static_cast<double>(std::max<uint64_t>(records, 1)),
               "B", "", "issue 12: 206 B"});
  f.push_back({"records consumed / produced",
               std::max(consumed, 0.0) / static_cast<double>(std::max<uint64_t>(records, 1)), "",
               "1", ""});
  if (consumed < static_cast<double>(records)) {
    f.push_back({"records behind when the benchmark stopped waiting",
                 static_cast<double>(records) - std::max(consumed, 0.0), "", "0",
                 "the service did not keep up; it consumed " +
                     Fixed(std::max(consumed, 0.0) / caught_up_s, 0) + " records/s of " +
                     Fixed(static_cast<double>(records) / produce_s, 0) + " produced"});
  }
  const std::string less_history =
      o.history_segments > 0 ? "; less the history's catalog as generated" : "";
  auto grown = [](uint64_t now, uint64_t before) {
    return static_cast<double>(now > before ? now - before : 0);
  };
  f.push_back({"disk allocated / input bytes, running (at the end)",
               grown(running.disk.allocated, history_disk.allocated) / in, "x", "<= 2",
               "st_blocks of every file, preallocation included" + less_history});
  f.push_back({"file bytes / input bytes, running (at the end)",
               grown(running.disk.bytes, history_disk.bytes) / in, "x", "", ""});
  f.push_back({"disk allocated / input bytes, after a clean stop (all sealed)",
               grown(stopped.allocated, history_disk.allocated) / in, "x", "<= 2", ""});
  f.push_back({"file bytes / input bytes, after a clean stop",
               grown(stopped.bytes, history_disk.bytes) / in, "x", "", ""});
  // Steady state: sealed segments alone per input byte they hold (no preallocation, no
  // half-filled open segment), while running and after the stop (which seals short segments).
  f.push_back(
      {"sealed segments: allocated / input bytes they hold, running (at the end)",
       SealedPerInput(running) >= 0 ? std::optional<double>(SealedPerInput(running)) : std::nullopt,
       "x", "<= 2",
       SealedPerInput(running) >= 0 ? "the steady state: whole rolls"
                                    : "nothing sealed yet: run longer than a roll"});
  const double stored = MetricSum(body, "tidemark_bytes_stored");
  const double bytes_in = MetricSum(body, "tidemark_bytes_in_total");
  if (stored >= 0 && bytes_in > 0 && o.history_segments == 0) {
    f.push_back({"the service's own tidemark_bytes_stored / tidemark_bytes_in_total (running)",
                 stored / bytes_in, "x", "",
                 "sealed segments' bytes over every byte consumed, open segments' records too"});
  }
  f.push_back({"files, after a clean stop", static_cast<double>(stopped.files), "", "", ""});
  f.push_back(
      {"segments sealed, after a clean stop", static_cast<double>(stopped.sealed), "", "", ""});
  const bool catalog = MetricSum(body, "tidemark_checkpoints_total") >= 0;
  f.push_back({catalog ? "catalog/ (root, changes.log, topic logs), after a clean stop"
                       : "manifest.json, after a clean stop",
               static_cast<double>(stopped.index_bytes), "B", "",
               stopped.sealed ? Fixed(grown(stopped.index_bytes, history_disk.index_bytes) /
                                          static_cast<double>(stopped.sealed),
                                      0) +
                                    " B per sealed segment" + less_history +
                                    (catalog ? "" : "; rewritten whole by every checkpoint")
                              : ""});
  f.push_back({"checkpoints written", Checkpoints(body), "", "", ""});
  if (const double folds = MetricSum(body, "tidemark_catalog_folds_total"); folds >= 0)
    f.push_back({"catalog folds", folds, "", "", ""});
  if (MetricValue(body, "tidemark_checkpoint_seconds{quantile=\"0.99\"}") >= 0) {
    f.push_back({"checkpoint latency p50",
                 MetricValue(body, "tidemark_checkpoint_seconds{quantile=\"0.5\"}") * 1e3, "ms", "",
                 ""});
    f.push_back({"checkpoint latency p99",
                 MetricValue(body, "tidemark_checkpoint_seconds{quantile=\"0.99\"}") * 1e3, "ms",
                 "< 10 at 1M segments", ""});
  } else {
    f.push_back({"checkpoint latency p50/p99", std::nullopt, "ms", "p99 < 10 at 1M segments",
                 "this service exports no checkpoint latency (tidemark_checkpoint_seconds), "
                 "only their count; see the manifest's size"});
  }
  f.push_back({"durability points per second",
               MetricSum(body, "tidemark_durability_points_total") / produce_s, "", "",
               "format 1: one per open segment per flush interval; with the journal: one per shard "
               "per point with something to make durable"});
  f.push_back(
      {"durability-point latency p50", static_cast<double>(svc_m.p50_us) / 1e3, "ms", "", ""});
  f.push_back({"durability-point latency p99", static_cast<double>(svc_m.p99_us) / 1e3, "ms",
               "< 5 at 1000 partitions", ""});
  if (o.history_segments > 0) {
    f.push_back({"history generated and written whole (before the service starts)", history_s, "s",
                 "", std::to_string(o.history_segments) + " sealed segments in the catalog"});
  }
  f.push_back({"service start, to owning every partition", start_s, "s", "",
               "reads the catalog, recovers the store, assigns"});
  const double window = std::min(30.0, produce_s / 3);
  const double cpu_start = CpuPercent(cpu, 0, window);
  const double cpu_end = CpuPercent(cpu, produce_s - window, produce_s);
  f.push_back({"service CPU, first " + Fixed(window, 0) + " s", cpu_start, "% of a core", "", ""});
  f.push_back({"service CPU, last " + Fixed(window, 0) + " s", cpu_end, "% of a core", "", ""});
  if (cpu_start > 0 && cpu_end >= 0)
    f.push_back({"service CPU end / start", cpu_end / cpu_start, "", "<= 1.5", ""});
  f.push_back({"service CPU, whole trickle", CpuPercent(cpu, 0, produce_s), "% of a core",
               o.history_segments > 0 ? "within 1.5x of a run with 1000 history segments" : "",
               ""});
  if (!prefix.empty()) {
    const double hours = (running.t - samples.front().t) / 3600;
    f.push_back({"object PUTs per hour", (segment_puts + index_puts) / std::max(hours, 1e-9), "",
                 "",
                 Fixed(segment_puts, 0) + " segments and " + Fixed(index_puts, 0) +
                     " index objects (catalog chunks and roots; format 1: manifests) uploaded in " +
                     Fixed(hours * 3600, 0) +
                     " s (a segment under multipart_threshold_bytes is one PUT; the first roll "
                     "interval uploads no segment)"});
  } else {
    f.push_back(
        {"object PUTs per hour", std::nullopt, "", "", "no [upload]: give --upload-endpoint"});
  }
  PrintTrickle(o, config, runs, samples, f);
  return Status::Ok();
}

}  // namespace tidemark::bench
