#include "backup/snapshot.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "backup/catalog.h"
#include "common/dir_lock.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/time.h"
#include "kafka/admin.h"
#include "kafka/kafka.h"
#include "shard/shard.h"

namespace tidemark::backup {

namespace fs = std::filesystem;

namespace {

// A broker answers DescribeConfigs in milliseconds; one that lacks the API (the mock cluster)
// only times out, and the backup waits for that answer before writing its manifest.
constexpr int kDescribeConfigsTimeoutMs = 3000;

double CpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Creates <path>/<id> and locks it, refusing to overwrite a finished backup. A directory without a
// manifest is the remains of a failed run: its segments are cleared so nothing stale mixes in.
Result<std::string> PrepareBackupDir(const config::Config& c, DirLock* lock) {
  const std::string dir = c.storage.path + "/" + c.backup.id;
  std::error_code ec;
  if (HasIndex(dir)) {
    return Status::Config("backup '" + c.backup.id + "' already exists in " + c.storage.path +
                          "; choose another --id (tidemark ls --path " + c.storage.path +
                          " lists them)");
  }
  fs::create_directories(dir, ec);
  if (ec) {
    return Status::Errno(ec.value(), "cannot create backup directory " + dir +
                                         " (check --path / [storage] path and its permissions)");
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    return Status::Errno(errno,
                         "backup directory " + dir + " is not writable (check its owner and mode)");
  }
  // Before anything in it is touched: another run with this id may be writing there.
  TM_ASSIGN_OR_RETURN(*lock, DirLock::Acquire(dir, "backup " + c.backup.id));
  if (HasIndex(dir)) {  // finished while we waited to look
    return Status::Config("backup '" + c.backup.id + "' already exists in " + c.storage.path);
  }
  if (fs::exists(dir + "/topics", ec)) {
    TM_LOG_WARN("%s holds segments of an unfinished earlier run; clearing them", dir.c_str());
    fs::remove_all(dir + "/topics", ec);
    if (ec) return Status::Errno(ec.value(), "cannot clear " + dir + "/topics");
  }
  return dir;
}

// Committed offsets of the consumer groups matching `globs` on the backed-up partitions. Groups
// come from ListGroups; a broker that cannot list them (the mock cluster) is asked for the
// literal names among the globs. What could not be done goes into the note, not an error: the
// records matter more than the group positions.
void CaptureGroups(rd_kafka_t* rk, const std::vector<std::string>& globs,
                   const std::vector<kafka::TopicPartition>& partitions, int timeout_ms,
                   Manifest* m) {
  if (globs.empty()) {
    m->groups_note = "no groups asked for ([backup] groups is empty)";
    return;
  }
  std::vector<std::string> names;
  auto listed = kafka::ListGroups(rk, timeout_ms);
  if (listed.ok()) {
    for (const auto& g : *listed) {
      if (kafka::MatchesAny(globs, g)) names.push_back(g);
    }
    m->groups_note = "listed by the broker; " + std::to_string(names.size()) + " of " +
                     std::to_string(listed->size()) + " groups match";
  } else {
    for (const auto& g : globs) {
      if (kafka::IsLiteralGlob(g)) names.push_back(g);
    }
    m->groups_note = "the broker cannot list groups (" + listed.status().message() +
                     "), so only the literal names among [backup] groups / --groups were asked";
  }
  for (const auto& g : names) {
    auto offsets = kafka::FetchGroupOffsets(rk, g, partitions, timeout_ms);
    if (!offsets.ok()) {
      TM_LOG_WARN("consumer group %s: %s; its offsets are not in the backup", g.c_str(),
                  offsets.status().message().c_str());
      m->groups_note += "; " + g + ": " + offsets.status().message();
      continue;
    }
    if (offsets->empty()) continue;  // no commits on these topics
    GroupOffsets& go = m->groups[g];
    for (const auto& [tp, o] : *offsets) go[tp.first][tp.second] = o;
  }
}

}  // namespace

Result<SnapshotSummary> RunSnapshot(const config::Config& c, std::atomic<bool>* external_stop) {
  TM_RETURN_IF_ERROR(config::ValidateForBackup(c));
  const int timeout_ms = static_cast<int>(c.kafka.timeout_ms);
  const int64_t started_ms = WallClockMs();
  const int64_t t0 = MonotonicNs();
  const double cpu0 = CpuSeconds();

  kafka::ErrorState errors;
  TM_ASSIGN_OR_RETURN(kafka::KafkaHandle rk, kafka::MakeBackupConsumer(c, &errors));
  TM_ASSIGN_OR_RETURN(auto all_topics, kafka::ListTopics(rk.get(), timeout_ms, errors));
  auto topics = kafka::MatchTopics(all_topics, c.backup.topics, c.backup.exclude);
  if (topics.empty()) {
    return Status::Config("no topic matches --topics [" + JoinList(c.backup.topics) +
                          "] (excluding [" + JoinList(c.backup.exclude) + "]) among the " +
                          std::to_string(all_topics.size()) + " topics of " +
                          c.kafka.bootstrap_servers);
  }
  DirLock lock;  // held until the manifest is written
  TM_ASSIGN_OR_RETURN(std::string dir, PrepareBackupDir(c, &lock));

  Manifest m;
  m.id = c.backup.id;
  m.kind = "snapshot";
  m.brokers = c.kafka.bootstrap_servers;
  m.cluster_id = kafka::ClusterId(rk.get(), timeout_ms);
  m.started_ms = started_ms;
  m.compression = format::CodecName(c.backup.compression);
  m.level = c.backup.level;

  // The snapshot's end: each partition's watermarks, read once, now.
  // 0: one per CPU this process may use (affinity mask, cgroup quota), as the service does.
  int shard_count = c.backup.shards > 0 ? c.backup.shards : shard::UsableCpus();
  std::vector<std::vector<shard::PartitionTask>> per_shard(static_cast<size_t>(shard_count));
  std::vector<std::string> topic_names;
  std::vector<std::pair<std::string, int32_t>> partitions;
  for (const auto& t : topics) {
    topic_names.push_back(t.name);
    m.topics[t.name].partition_count = t.partition_count;
    for (int32_t p = 0; p < t.partition_count; ++p) partitions.emplace_back(t.name, p);
  }
  // Group offsets first: read before the watermarks, each is at most its partition's end.
  CaptureGroups(rk.get(), c.backup.groups, partitions,
                std::min(timeout_ms, kDescribeConfigsTimeoutMs), &m);
  TM_ASSIGN_OR_RETURN(auto marks, kafka::QueryWatermarksAll(rk.get(), partitions, timeout_ms));
  const size_t total_partitions = partitions.size();
  for (size_t i = 0; i < partitions.size(); ++i) {
    const auto& [topic, p] = partitions[i];
    per_shard[static_cast<size_t>(shard::ShardOf(topic, p, shard_count))].push_back(
        {topic, p, marks[i].low, marks[i].high});
  }
  // Topic configs are asked for in parallel with the backup: a broker without DescribeConfigs
  // (the mock cluster) only answers with a timeout, which must not delay the data.
  auto configs_future = std::async(std::launch::async, [&rk, topic_names, timeout_ms] {
    return kafka::DescribeTopicConfigs(rk.get(), topic_names,
                                       std::min(timeout_ms, kDescribeConfigsTimeoutMs));
  });
  auto collect_configs = [&] {
    for (auto& [name, tc] : configs_future.get()) {
      m.topics[name].configs = tc.configs;
      m.topics[name].configs_note = tc.note;
    }
  };
  // Never more shards than partitions: an idle shard would only hold memory.
  per_shard.erase(
      std::remove_if(per_shard.begin(), per_shard.end(), [](const auto& v) { return v.empty(); }),
      per_shard.end());

  // The data goes through a consumer of its own, made now that the shards are known: librdkafka
  // fixes the prefetch bound when the handle is made, and the budget is divided over the shards'
  // queues (the first handle stays for metadata and topic configs).
  // A snapshot reads up to offsets it knows, so a fetch never needs to wait for new records,
  // and a long poll hurts: once some partitions of a broker are fetched to their end while the
  // others are held back (their shard's queue is over its bound), the next fetch holds only the
  // finished ones and the broker keeps it for fetch.wait.max.ms (500 ms by default) before the
  // others are fetched again. 32 partitions of 4 MB measured 0.35-0.42 s or 0.78-0.85 s (half
  // the runs) with the default, 0.35-0.41 s in 10 of 10 runs with 10 ms.
  auto data_rk_or = kafka::MakeBackupConsumer(c, &errors, {{"fetch.wait.max.ms", "10"}}, nullptr,
                                              per_shard.size());
  if (!data_rk_or.ok()) {
    collect_configs();
    return data_rk_or.status();
  }
  kafka::KafkaHandle data_rk = std::move(data_rk_or).value();
  // Its metadata first: a partition of a topic the handle knows nothing of waits for librdkafka's
  // once-a-second scan of unknown topics before it is fetched (up to a second of nothing).
  if (auto warm = kafka::ListTopics(data_rk.get(), timeout_ms, errors); !warm.ok()) {
    collect_configs();
    return warm.status();
  }

  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<shard::Shard>> shards;
  for (size_t i = 0; i < per_shard.size(); ++i) {
    shard::ShardOptions so = shard::ShardOptionsFor(c, dir, static_cast<int>(i));
    shards.push_back(std::make_unique<shard::Shard>(so, data_rk.get(), per_shard[i], &stop));
    Status init = shards.back()->Init();
    if (!init.ok()) {
      collect_configs();
      return init;
    }
  }
  const std::string io_path = shards.front()->io_description();
  TM_LOG_INFO("backup %s: %zu topics, %zu partitions, %zu shards, %s, I/O: %s", c.backup.id.c_str(),
              topics.size(), total_partitions, shards.size(), m.compression.c_str(),
              io_path.c_str());

  // Assign every non-empty partition at its log start (an explicit offset, so the gap below it
  // is known, never a reset policy).
  rd_kafka_topic_partition_list_t* assignment =
      rd_kafka_topic_partition_list_new(static_cast<int>(total_partitions));
  for (const auto& tasks : per_shard) {
    for (const auto& t : tasks) {
      if (t.log_start >= t.end_offset) continue;
      rd_kafka_topic_partition_list_add(assignment, t.topic.c_str(), t.partition)->offset =
          t.log_start;
    }
  }
  rd_kafka_resp_err_t aerr = rd_kafka_assign(data_rk.get(), assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  if (aerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
    collect_configs();
    return Status::Kafka(std::string("assign: ") + rd_kafka_err2str(aerr));
  }

  const int64_t data_t0 = MonotonicNs();
  for (auto& s : shards) s->Start();

  // The main thread serves the consumer's own queue (errors, logs) and watches for stalls.
  Status failure;
  uint64_t last_records = 0;
  int64_t last_progress_ns = MonotonicNs();
  // librdkafka 2.0 stops fetching for a shard queue over its prefetch bound and fetches for it
  // again only when the broker thread wakes for something else, up to a second later, while the
  // shard, having emptied the queue, waits. So a shard seen with an empty queue and partitions
  // still to read has the leader of one of them (in turn) asked for its watermarks: the request
  // wakes the broker thread, which then finds the queue under its bound and fetches. The answer
  // is not needed. Only a shard that has also handled no record for kStallNs is woken: the call
  // returns only with the answer, and a request queued behind a fetch in flight on the same
  // connection (fetching is not stalled then) holds this thread until that fetch returns, up to
  // fetch.wait.max.ms (500 ms) at the end of the data, when it is a long poll. Waking on an empty
  // queue alone added that half second to a third of small backups (0.06 s against 0.58 s for 4
  // partitions of 4 MB; none in 12 runs with kStallNs). At most every kWakeIntervalNs per
  // shard, from this thread.
  constexpr int64_t kWakeIntervalNs = 20'000'000;
  // The request's own timeout: librdkafka scans for timed-out requests about once a second, and
  // an answer comes first (the wait is bounded by the fetch ahead of it, not by this).
  constexpr int kWakeWaitMs = 2;
  constexpr int64_t kStallNs = 10'000'000;
  std::vector<int64_t> next_wake_ns(shards.size(), 0);
  std::vector<size_t> wake_turn(shards.size(), 0);
  std::vector<uint64_t> shard_records(shards.size(), 0);
  std::vector<int64_t> shard_moved_ns(shards.size(), MonotonicNs());
  uint64_t wakes = 0;
  for (;;) {
    const int64_t now_ns = MonotonicNs();
    for (size_t i = 0; i < shards.size(); ++i) {
      const uint64_t n = shards[i]->progress().records.load(std::memory_order_relaxed);
      if (n != shard_records[i]) {
        shard_records[i] = n;
        shard_moved_ns[i] = now_ns;
      }
      if (shards[i]->progress().remaining.load(std::memory_order_relaxed) == 0 ||
          shards[i]->QueueLength() > 0 || now_ns - shard_moved_ns[i] < kStallNs ||
          now_ns < next_wake_ns[i] || per_shard[i].empty())
        continue;
      next_wake_ns[i] = now_ns + kWakeIntervalNs;
      const auto& t = per_shard[i][wake_turn[i]++ % per_shard[i].size()];
      int64_t lo = 0, hi = 0;
      rd_kafka_query_watermark_offsets(data_rk.get(), t.topic.c_str(), t.partition, &lo, &hi,
                                       kWakeWaitMs);
      ++wakes;
    }
    bool all_finished = true;
    uint64_t records = 0;
    for (auto& s : shards) {
      all_finished = all_finished && s->progress().finished.load(std::memory_order_acquire);
      records += s->progress().records.load(std::memory_order_relaxed);
    }
    if (all_finished) break;
    // A short poll: the end of the data phase is noticed here, so its wait is the backup's tail.
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(data_rk.get(), 10);
    if (msg != nullptr) {
      if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR && msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
          failure.ok()) {
        failure = Status::Kafka(std::string("consumer error: ") + rd_kafka_message_errstr(msg));
      } else if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR && failure.ok()) {
        failure =
            Status::Kafka("internal: a record reached the consumer queue instead of its shard");
      }
      rd_kafka_message_destroy(msg);
    }
    if (records != last_records) {
      last_records = records;
      last_progress_ns = MonotonicNs();
    } else if (MonotonicNs() - last_progress_ns >
               static_cast<int64_t>(c.kafka.timeout_ms) * 1000000) {
      std::string last = errors.Last();
      failure = Status::Incomplete("no progress for " + std::to_string(c.kafka.timeout_ms) + " ms" +
                                   (last.empty() ? "" : " (last Kafka error: " + last + ")"));
    }
    if (external_stop != nullptr && external_stop->load() && failure.ok())
      failure = Status::Aborted("stopped by signal");
    if (!failure.ok()) stop.store(true);
    for (auto& s : shards) {
      if (s->progress().finished.load(std::memory_order_acquire) && !s->status().ok())
        stop.store(true);
    }
  }
  for (auto& s : shards) s->Join();
  TM_LOG_DEBUG("backup %s: %" PRIu64 " fetch wake-ups", c.backup.id.c_str(), wakes);
  const double data_seconds = static_cast<double>(MonotonicNs() - data_t0) / 1e9;
  collect_configs();

  SnapshotSummary sum;
  sum.data_seconds = data_seconds;
  sum.backup_dir = dir;
  sum.io_path = io_path;
  sum.shards = static_cast<int>(shards.size());
  std::vector<std::string> incomplete;
  for (auto& s : shards) {
    if (!s->status().ok() && failure.ok()) failure = s->status();
    for (auto& inc : s->Incomplete()) incomplete.push_back(inc);
    sum.bytes_in += s->progress().bytes_in.load();
    sum.write_latency_us.Merge(s->write_latency());
  }
  if (!failure.ok() || !incomplete.empty()) {
    std::string list;
    for (size_t i = 0; i < incomplete.size() && i < 20; ++i)
      list += (i ? ", " : "") + incomplete[i];
    if (incomplete.size() > 20) list += ", and " + std::to_string(incomplete.size() - 20) + " more";
    Status base = failure.ok() ? Status::Incomplete("snapshot incomplete") : failure;
    return Status(base.code(), base.message() + (list.empty() ? "" : "; not backed up: " + list) +
                                   "; no manifest was written, so this backup does not count");
  }
  for (size_t i = 0; i < shards.size(); ++i) {
    auto results = shards[i]->results();
    for (size_t k = 0; k < results.size(); ++k)
      m.topics[per_shard[i][k].topic].partitions.push_back(results[k]);
  }
  for (auto& [name, t] : m.topics) {
    std::sort(t.partitions.begin(), t.partitions.end(),
              [](const PartitionManifest& a, const PartitionManifest& b) {
                return a.partition < b.partition;
              });
  }
  m.finished_ms = WallClockMs();
  TM_RETURN_IF_ERROR(WriteManifest(dir, m));
  sum.records = m.TotalRecords();
  sum.bytes_raw = m.TotalBytesRaw();
  sum.bytes_stored = m.TotalBytesStored();
  sum.seconds = static_cast<double>(MonotonicNs() - t0) / 1e9;
  sum.cpu_seconds = CpuSeconds() - cpu0;
  sum.manifest = std::move(m);
  return sum;
}

namespace {

// What the text and the JSON summary derive alike. Rates are over the data phase (shards started
// to all sealed); the total adds metadata, watermarks, topic configs and the manifest.
struct SummaryRates {
  double ratio, mb_per_s, records_per_s;
};

SummaryRates RatesOf(const SnapshotSummary& s) {
  const double secs = std::max(s.data_seconds, 1e-9);
  return {
      s.bytes_stored ? static_cast<double>(s.bytes_in) / static_cast<double>(s.bytes_stored) : 0.0,
      static_cast<double>(s.bytes_in) / 1e6 / secs, static_cast<double>(s.records) / secs};
}

}  // namespace

std::string FormatSummary(const SnapshotSummary& s) {
  const SummaryRates r = RatesOf(s);
  char buf[1024];
  std::snprintf(
      buf, sizeof(buf),
      "backup %s complete: %s\n"
      "  topics %zu, partitions %zu, segments %zu, shards %d, I/O %s\n"
      "  records     %" PRIu64
      "\n"
      "  bytes in    %" PRIu64
      " (key+value+headers)\n"
      "  bytes out   %" PRIu64 " (segments on disk; %" PRIu64
      " encoded before compression)\n"
      "  ratio       %.2fx (bytes in / bytes out), %s\n"
      "  duration    %.3f s total; data phase %.3f s: %.1f MB/s, %.0f records/s; %.2f CPU s\n"
      "  block write latency p50 %" PRIu64 " us, p99 %" PRIu64 " us\n",
      s.manifest.id.c_str(), s.backup_dir.c_str(), s.manifest.topics.size(),
      s.manifest.TotalPartitions(), s.manifest.TotalSegments(), s.shards, s.io_path.c_str(),
      s.records, s.bytes_in, s.bytes_stored, s.bytes_raw, r.ratio, s.manifest.compression.c_str(),
      s.seconds, s.data_seconds, r.mb_per_s, r.records_per_s, s.cpu_seconds,
      s.write_latency_us.Quantile(0.5), s.write_latency_us.Quantile(0.99));
  return buf;
}

std::string SummaryToJson(const SnapshotSummary& s) {
  const SummaryRates r = RatesOf(s);
  nlohmann::json j = {{"id", s.manifest.id},
                      {"backup_dir", s.backup_dir},
                      {"topics", s.manifest.topics.size()},
                      {"partitions", s.manifest.TotalPartitions()},
                      {"segments", s.manifest.TotalSegments()},
                      {"shards", s.shards},
                      {"io", s.io_path},
                      {"compression", s.manifest.compression},
                      {"records", s.records},
                      {"bytes_in", s.bytes_in},
                      {"bytes_raw", s.bytes_raw},
                      {"bytes_stored", s.bytes_stored},
                      {"ratio", r.ratio},
                      {"seconds", s.seconds},
                      {"data_seconds", s.data_seconds},
                      {"mb_per_s", r.mb_per_s},
                      {"records_per_s", r.records_per_s},
                      {"cpu_seconds", s.cpu_seconds},
                      {"block_latency_us_p50", s.write_latency_us.Quantile(0.5)},
                      {"block_latency_us_p99", s.write_latency_us.Quantile(0.99)}};
  return j.dump(2);
}

}  // namespace tidemark::backup
