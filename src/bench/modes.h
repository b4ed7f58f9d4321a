// What the modes of `tidemark bench` share (bench.cc: pipeline, backup, restore and the
// output; bench_run.cc: the service). Internal to src/bench.
#pragma once

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench.h"
#include "bench/datagen.h"
#include "bench/process.h"

namespace tidemark::bench {

// One measured run.
struct Measurement {
  std::string name;
  double seconds = 0;
  double cpu_seconds = 0;
  double peak_rss_mb = 0;
  uint64_t bytes = 0;    // input bytes (key + value + headers, or the tool's input size)
  uint64_t records = 0;  // 0: not known (an external tool)
  uint64_t stored = 0;   // bytes written, where known
  int64_t p50_us = -1, p99_us = -1;
  double broker_cpu_seconds = -1;  // the embedded Kafka's CPU during the run (-1: not measured)
  std::string io;
  double mb_per_s() const { return static_cast<double>(bytes) / 1e6 / std::max(seconds, 1e-9); }
  nlohmann::json ToJson() const {
    return {{"name", name},
            {"seconds", seconds},
            {"mb_per_s", mb_per_s()},
            {"records_per_s", static_cast<double>(records) / std::max(seconds, 1e-9)},
            {"cpu_s_per_gb", cpu_seconds / std::max(static_cast<double>(bytes) / 1e9, 1e-12)},
            {"peak_rss_mb", peak_rss_mb},
            {"bytes", bytes},
            {"records", records},
            {"bytes_stored", stored},
            {"block_latency_us_p50", p50_us},
            {"block_latency_us_p99", p99_us},
            {"broker_cpu_seconds", broker_cpu_seconds},
            {"io", io}};
  }
};

// A comparison the run reports: `value` against the `target` PRODUCT.md sets. Over alternating
// runs, `value` is the median of the per-round ratios and `lo`/`hi` their extremes (`rounds` > 1).
struct Ratio {
  std::string what;
  double value;
  std::string target;
  double lo = 0, hi = 0;
  int rounds = 1;
};

// The run of median time among `v` (not empty): what a table shows of alternating rounds.
inline Measurement MedianRun(std::vector<Measurement> v) {
  std::sort(v.begin(), v.end(),
            [](const Measurement& a, const Measurement& b) { return a.seconds < b.seconds; });
  return v[v.size() / 2];
}

// Each run's wall time, in order.
inline std::vector<double> Seconds(const std::vector<Measurement>& v) {
  std::vector<double> s;
  for (const auto& m : v) s.push_back(m.seconds);
  return s;
}

// The median of `v` (the mean of the middle two for an even count); 0 for none.
inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The ratio of each round (a[i] / b[i]) as a Ratio: median, min and max.
inline Ratio RoundRatios(std::string what, const std::vector<double>& a,
                         const std::vector<double>& b, std::string target) {
  std::vector<double> r;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) r.push_back(a[i] / std::max(b[i], 1e-9));
  Ratio out{std::move(what), Median(r), std::move(target)};
  if (!r.empty()) {
    out.lo = *std::min_element(r.begin(), r.end());
    out.hi = *std::max_element(r.begin(), r.end());
  }
  out.rounds = static_cast<int>(r.size());
  return out;
}

inline uint64_t RecordBytes(const SyntheticRecord& r) {
  uint64_t n = r.key.size() + r.value.size();
  for (const auto& [k, v] : r.headers) n += k.size() + v.size();
  return n;
}

inline int Shards(const BenchOptions& o) {
  return o.shards > 0 ? o.shards
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

inline int Partitions(const BenchOptions& o) { return o.partitions > 0 ? o.partitions : 16; }

inline Measurement FromChild(const std::string& name, const ChildRun& r, uint64_t bytes,
                             uint64_t records) {
  Measurement m;
  m.name = name;
  m.seconds = r.seconds;
  m.cpu_seconds = r.cpu_seconds;
  m.peak_rss_mb = r.peak_rss_mb;
  m.bytes = bytes;
  m.records = records;
  return m;
}

// The first sample of metric `name` (with its labels, if any) in a Prometheus text body; -1
// when it has none.
double MetricValue(const std::string& body, const std::string& name);
// Writes the service's configuration for a run (bench_run.cc): `topics` of the embedded Kafka at
// `brokers` into `store`; with `upload_prefix`, [upload] to --upload-endpoint under it.
Status WriteServiceConfig(const BenchOptions& o, const std::string& path,
                          const std::string& brokers, const std::vector<std::string>& topics,
                          const std::string& store, const std::string& upload_prefix);

// `tidemark bench run`: the service backing up while this process produces.
Status BenchService(const BenchOptions& o, std::vector<Measurement>* runs,
                    std::vector<Ratio>* ratios);
// `tidemark bench run --trickle-rate R` (trickle.cc): what grows over the service's life, with
// its own report (a timeline of samples and the figures issue 12 sets targets for) on stdout.
Status RunTrickle(const BenchOptions& o);

}  // namespace tidemark::bench
