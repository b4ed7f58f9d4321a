// `tidemark bench run`: the continuous service (a real `tidemark run` process) backing up while
// this process produces at a set pace. With --trickle-rate, trickle.cc instead.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "bench/modes.h"
#include "common/time.h"
#include "kafka/mock.h"

namespace tidemark::bench {

namespace fs = std::filesystem;

double MetricValue(const std::string& body, const std::string& name) {
  size_t at = 0;
  while ((at = body.find(name + " ", at)) != std::string::npos) {
    if (at == 0 || body[at - 1] == '\n')
      return std::strtod(body.c_str() + at + name.size(), nullptr);
    ++at;
  }
  return -1;
}

// The benchmark's codec, shards and block settings; metrics on a free port.
Status WriteServiceConfig(const BenchOptions& o, const std::string& path,
                          const std::string& brokers, const std::vector<std::string>& topics,
                          const std::string& store, const std::string& upload_prefix) {
  std::ofstream out(path, std::ios::trunc);
  out << "[kafka]\nbootstrap_servers = \"" << brokers << "\"\n[backup]\nid = \"bench\"\ntopics = [";
  for (size_t i = 0; i < topics.size(); ++i) out << (i ? ", " : "") << '"' << topics[i] << '"';
  out << "]\ncompression = \"" << format::CodecName(o.codec) << "\"\nlevel = " << o.level
      << "\nshards = " << Shards(o) << "\nblock_bytes = " << o.block_bytes
      << "\nio_depth = " << o.io_depth << "\n";
  if (o.segment_max_interval_ms > 0)
    out << "segment_max_interval_ms = " << o.segment_max_interval_ms << "\n";
  out << "[storage]\npath = \"" << store << "\"\ndirect_io = \""
      << (o.direct_io == io::DirectIoMode::kOn
              ? "on"
              : (o.direct_io == io::DirectIoMode::kOff ? "off" : "auto"))
      << "\"\n";
  if (!upload_prefix.empty()) {
    out << "[upload]\nendpoint = \"" << o.upload_endpoint << "\"\nbucket = \"" << o.upload_bucket
        << "\"\nprefix = \"" << upload_prefix << "\"\n";
  }
  out << "[metrics]\nlisten = \"127.0.0.1:0\"\n";
  out.close();
  if (!out) return Status::Errno(errno, "write " + path);
  return Status::Ok();
}

// The service backing up while this process produces: does it keep up, and how long does a
// durability point take. The service is measured from its start to SIGTERM (CPU, peak RSS).
Status BenchService(const BenchOptions& o, std::vector<Measurement>* runs,
                    std::vector<Ratio>* ratios) {
  if (!o.brokers.empty())
    return Status::Config("bench run uses the embedded Kafka; leave out --brokers");
  MockProcess mock;
  TM_RETURN_IF_ERROR(
      mock.Start(o.self, "bench:" + std::to_string(Partitions(o)), o.dir + "/mock-run.log"));
  const std::string store = o.dir + "/store-run";
  std::error_code ec;
  fs::remove_all(store, ec);
  const std::string cfg = o.dir + "/run.toml";
  TM_RETURN_IF_ERROR(WriteServiceConfig(o, cfg, mock.brokers(), {"bench"}, store, ""));
  const std::string log = o.dir + "/run.log";
  Background svc;
  TM_RETURN_IF_ERROR(svc.Start({o.self, "run", "--config", cfg}, log));
  int port = 0;
  for (int i = 0; i < 1500; ++i) {
    const std::string out = ReadFile(log);
    std::smatch m;
    if (port == 0 && std::regex_search(out, m, std::regex("\\(port ([0-9]+)\\)")))
      port = std::stoi(m[1]);
    size_t owned = 0;
    for (size_t at = 0; (at = out.find("backing up from", at)) != std::string::npos; ++at) ++owned;
    if (port > 0 && owned >= static_cast<size_t>(Partitions(o))) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (port == 0) return Status::Aborted("the service did not start (see " + log + ")");
  httplib::Client http("127.0.0.1", port);

  const auto data = MakeRecords(8192, o.value_bytes, 1, o.data, o.keys);
  kafka::Producer producer;
  TM_RETURN_IF_ERROR(
      producer.Connect(mock.brokers(), {{"linger.ms", "5"}, {"compression.type", "lz4"}}));
  uint64_t bytes = 0, records = 0;
  const int64_t t0 = MonotonicNs();
  const int64_t until = t0 + static_cast<int64_t>(o.seconds * 1e9);
  for (size_t ri = 0; MonotonicNs() < until; ++ri) {
    const auto& r = data[ri % data.size()];
    std::vector<kafka::ProduceHeader> hs;
    for (const auto& [k, v] : r.headers) hs.push_back({k, v});
    TM_RETURN_IF_ERROR(producer.Produce("bench", static_cast<int32_t>(ri % Partitions(o)), r.key,
                                        r.value, hs, 1763647380000 + static_cast<int64_t>(ri)));
    bytes += RecordBytes(r);
    ++records;
    if (o.rate_mb > 0 && records % 256 == 0) {  // paced: wait while ahead of schedule
      const int64_t due =
          t0 + static_cast<int64_t>(static_cast<double>(bytes) / (o.rate_mb * 1e6) * 1e9);
      const int64_t now = MonotonicNs();
      if (due > now) std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
    }
  }
  TM_RETURN_IF_ERROR(producer.Flush(120000));
  const double produce_s = static_cast<double>(MonotonicNs() - t0) / 1e9;
  // Caught up: every produced record consumed by the service, or no progress for 5 s (records
  // the mock's retention (~5 MB per partition) deleted before the service read them never come).
  std::string body;
  double last = -1;
  int64_t last_change = MonotonicNs();
  for (;;) {
    auto res = http.Get("/metrics");
    body = res ? res->body : "";
    const double n = MetricValue(body, "tidemark_records_in_total{topic=\"bench\"}");
    if (n >= static_cast<double>(records)) break;
    if (n != last) {
      last = n;
      last_change = MonotonicNs();
    } else if (MonotonicNs() - last_change > 5000000000) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const double caught_up_s = static_cast<double>(MonotonicNs() - t0) / 1e9;
  const double consumed = MetricValue(body, "tidemark_records_in_total{topic=\"bench\"}");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a last stats refresh
  if (auto res = http.Get("/metrics"); res) body = res->body;
  TM_ASSIGN_OR_RETURN(ChildRun run, svc.Stop(SIGTERM));
  if (run.exit_code != 0)
    return Status::Aborted("the service exited " + std::to_string(run.exit_code) + " (see " + log +
                           ")");
  const bool kept_up = consumed >= static_cast<double>(records);
  Measurement p;
  p.name = "producer (librdkafka, lz4)";
  p.seconds = produce_s;
  p.bytes = bytes;
  p.records = records;
  runs->push_back(p);
  Measurement m = FromChild("tidemark run (to caught up)", run, bytes, records);
  m.seconds = caught_up_s;
  m.p50_us = static_cast<int64_t>(
      MetricValue(body, "tidemark_durability_point_seconds{quantile=\"0.5\"}") * 1e6);
  m.p99_us = static_cast<int64_t>(
      MetricValue(body, "tidemark_durability_point_seconds{quantile=\"0.99\"}") * 1e6);
  const double seals = MetricValue(body, "tidemark_segment_seal_seconds_count");
  m.io = "durability points " +
         std::to_string(
             static_cast<uint64_t>(MetricValue(body, "tidemark_durability_point_seconds_count"))) +
         " (the p50/p99 column is their latency), segments sealed " +
         std::to_string(static_cast<uint64_t>(std::max(seals, 0.0)));
  if (seals > 0) {
    m.io += " (seal p99 " +
            std::to_string(static_cast<int64_t>(
                MetricValue(body, "tidemark_segment_seal_seconds{quantile=\"0.99\"}") * 1e6)) +
            " us)";
  }
  runs->push_back(m);
  ratios->push_back({"records consumed / produced (the rest fell out of the mock's retention)",
                     std::max(consumed, 0.0) / static_cast<double>(records), "1"});
  if (kept_up) {
    ratios->push_back({"run keeps up (producer time / time until all consumed)",
                       produce_s / caught_up_s, ">= 0.95"});
  }
  ratios->push_back(
      {"durability-point latency p99 (ms)", static_cast<double>(m.p99_us) / 1000, "< 10"});
  return Status::Ok();
}

}  // namespace tidemark::bench
