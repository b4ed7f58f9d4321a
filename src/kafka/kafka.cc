#include "kafka/kafka.h"

#include <fnmatch.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "common/log.h"
#include "common/time.h"
#include "kafka/admin.h"

namespace tidemark::kafka {

void RdKafkaDeleter::operator()(rd_kafka_t* rk) const {
  if (rk == nullptr) return;
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

void ErrorState::Set(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  last_ = reason;
  count_.fetch_add(1, std::memory_order_relaxed);
  last_ms_.store(WallClockMs(), std::memory_order_relaxed);
}
std::string ErrorState::Last() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}
namespace {
void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
  auto* state = static_cast<ErrorState*>(opaque);
  state->Set(reason);
  TM_LOG_DEBUG("kafka: %s: %s", rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err)), reason);
}

}  // namespace

void LogToTidemark(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  if (level <= 3)
    TM_LOG_WARN("librdkafka %s: %s", fac, buf);
  else
    TM_LOG_DEBUG("librdkafka %s: %s", fac, buf);
}

Status SetProperties(rd_kafka_conf_t* conf,
                     const std::vector<std::pair<std::string, std::string>>& props) {
  char err[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      // librdkafka's message may repeat the value: a secret one is scrubbed from it.
      const std::string why = config::IsSecretKey(k) ? config::Scrub(err, v) : std::string(err);
      return Status::Config("kafka property '" + k + "' = " + config::ShownValue(k, v) + ": " +
                            why);
    }
  }
  return Status::Ok();
}

PrefetchLimits PrefetchPerQueue(uint64_t budget_bytes, size_t queues) {
  // librdkafka's ranges: queued.max.messages.kbytes 1..2097151, queued.min.messages 1..10^7.
  constexpr uint64_t kMaxKbytes = 2097151, kMaxMessages = 10000000;
  const uint64_t budget = std::max(budget_bytes, kPrefetchFloorBytes);
  const uint64_t share = queues == 0
                             ? kPrefetchFloorBytes
                             : std::clamp<uint64_t>(budget / queues, kPrefetchFloorBytes, budget);
  PrefetchLimits l;
  l.max_kbytes = static_cast<int64_t>(std::min(share / 1024, kMaxKbytes));
  l.min_messages = static_cast<int64_t>(std::min(share / kPrefetchRecordBytes, kMaxMessages));
  return l;
}

Result<KafkaHandle> MakeBackupConsumer(
    const config::Config& c, ErrorState* errors,
    const std::vector<std::pair<std::string, std::string>>& overrides,
    void (*customize)(rd_kafka_conf_t*), size_t queues) {
  const PrefetchLimits prefetch = PrefetchPerQueue(c.backup.prefetch_bytes, queues);
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto fail = [&](Status s) -> Result<KafkaHandle> {
    rd_kafka_conf_destroy(conf);
    return s;
  };
  const std::vector<std::pair<std::string, std::string>> defaults = {
      {"bootstrap.servers", c.kafka.bootstrap_servers},
      {"group.id", "tidemark-" + c.backup.id},  // required by librdkafka; nothing is committed
      {"client.id", "tidemark"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"isolation.level", "read_committed"},
      {"enable.partition.eof", "true"},
      {"auto.offset.reset", "error"},
      // Bounded prefetch from the budget (see PrefetchLimits): librdkafka's defaults, 64 MiB
      // and 100,000 records per queue, would not hold the memory target, and a fixed 8 MiB or
      // 100,000 records stalls one partition whose shard is slower than the fetches.
      {"queued.max.messages.kbytes", std::to_string(prefetch.max_kbytes)},
      {"queued.min.messages", std::to_string(prefetch.min_messages)},
      {"fetch.max.bytes", "52428800"},
      {"max.partition.fetch.bytes", "4194304"},
      {"socket.timeout.ms", std::to_string(std::max<int64_t>(c.kafka.timeout_ms, 10))},
  };
  if (Status s = SetProperties(conf, defaults); !s.ok()) return fail(s);
  if (Status s = SetProperties(conf, overrides); !s.ok()) return fail(s);
  if (Status s = SetProperties(conf, c.kafka.properties); !s.ok())
    return fail(s.WithContext(c.source + " [kafka.properties]"));
  if (customize != nullptr) customize(conf);
  rd_kafka_conf_set_error_cb(conf, OnError);
  rd_kafka_conf_set_log_cb(conf, LogToTidemark);
  rd_kafka_conf_set_opaque(conf, errors);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr)
    return fail(Status::Config(std::string("cannot create Kafka consumer: ") + err));
  return KafkaHandle(rk);
}

Result<std::vector<TopicInfo>> ListTopics(rd_kafka_t* rk, int timeout_ms,
                                          const ErrorState& errors) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::string last = errors.Last();
    return Status::Kafka(
        "cannot read cluster metadata within " + std::to_string(timeout_ms) +
        " ms: " + rd_kafka_err2str(err) + (last.empty() ? "" : " (last error: " + last + ")") +
        "; check --brokers / [kafka] bootstrap_servers and that the brokers are reachable");
  }
  std::vector<TopicInfo> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      TM_LOG_WARN("topic %s: metadata error %s; skipped", t.topic, rd_kafka_err2str(t.err));
      continue;
    }
    out.push_back({t.topic, t.partition_cnt});
  }
  rd_kafka_metadata_destroy(md);
  return out;
}

bool MatchesAny(const std::vector<std::string>& globs, const std::string& name) {
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) {
    return fnmatch(g.c_str(), name.c_str(), 0) == 0;
  });
}

bool IsLiteralGlob(const std::string& glob) {
  return glob.find_first_of("*?[\\") == std::string::npos;
}

std::vector<TopicInfo> MatchTopics(const std::vector<TopicInfo>& all,
                                   const std::vector<std::string>& include,
                                   const std::vector<std::string>& exclude) {
  std::vector<TopicInfo> out;
  for (const auto& t : all) {
    if (MatchesAny(include, t.name) && !MatchesAny(exclude, t.name)) out.push_back(t);
  }
  std::sort(out.begin(), out.end(),
            [](const TopicInfo& a, const TopicInfo& b) { return a.name < b.name; });
  return out;
}

Result<Watermarks> QueryWatermarks(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                                   int timeout_ms) {
  Watermarks w;
  rd_kafka_resp_err_t err =
      rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, &w.low, &w.high, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Kafka("cannot read watermarks of " + topic + "/" + std::to_string(partition) +
                         ": " + rd_kafka_err2str(err));
  }
  return w;
}

namespace {

// Both watermarks of every partition in two batched ListOffsets rounds (one request per leader
// each, for "earliest" and "latest"), through rd_kafka_offsets_for_times and Kafka's special
// timestamps -2 and -1. False when any partition did not answer: the caller asks one by one.
bool BatchedWatermarks(rd_kafka_t* rk,
                       const std::vector<std::pair<std::string, int32_t>>& partitions,
                       int timeout_ms, std::vector<Watermarks>* out) {
  bool ok = true;
  for (const int64_t which : {int64_t{-2}, int64_t{-1}}) {  // earliest, latest
    rd_kafka_topic_partition_list_t* l =
        rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
    for (const auto& [t, p] : partitions)
      rd_kafka_topic_partition_list_add(l, t.c_str(), p)->offset = which;
    ok = ok && rd_kafka_offsets_for_times(rk, l, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; ok && i < l->cnt; ++i) {
      const auto& e = l->elems[i];
      // The list keeps the order it was built in.
      if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR || e.offset < 0 ||
          partitions[static_cast<size_t>(i)].second != e.partition) {
        ok = false;
        break;
      }
      auto& w = (*out)[static_cast<size_t>(i)];
      (which == -2 ? w.low : w.high) = e.offset;
    }
    rd_kafka_topic_partition_list_destroy(l);
  }
  return ok;
}

}  // namespace

Result<std::vector<Watermarks>> QueryWatermarksAll(
    rd_kafka_t* rk, const std::vector<std::pair<std::string, int32_t>>& partitions, int timeout_ms,
    int parallelism) {
  std::vector<Watermarks> out(partitions.size());
  if (partitions.size() > 1 && BatchedWatermarks(rk, partitions, timeout_ms, &out)) return out;
  std::vector<Status> errors(partitions.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < partitions.size(); i = next.fetch_add(1)) {
      auto w = QueryWatermarks(rk, partitions[i].first, partitions[i].second, timeout_ms);
      if (w.ok())
        out[i] = *w;
      else
        errors[i] = w.status();
    }
  };
  std::vector<std::thread> threads;
  const size_t n =
      std::min<size_t>(static_cast<size_t>(std::max(1, parallelism)), partitions.size());
  for (size_t t = 1; t < n; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  for (const auto& e : errors) {
    if (!e.ok()) return e;
  }
  return out;
}

std::map<std::string, TopicConfigs> DescribeTopicConfigs(rd_kafka_t* rk,
                                                         const std::vector<std::string>& topics,
                                                         int timeout_ms) {
  std::map<std::string, TopicConfigs> out;
  if (topics.empty()) return out;
  // librdkafka sends DescribeConfigs to the controller and waits for it to come up; a cluster
  // whose metadata names a controller that is not one of its brokers (librdkafka's mock cluster
  // says 0, its brokers are 1..N) would only make us wait out the timeout.
  if (int32_t controller = -1; !HasUsableController(rk, timeout_ms, &controller)) {
    for (const auto& t : topics) {
      out[t] = TopicConfigs{std::nullopt, "the cluster names no usable controller (id " +
                                              std::to_string(controller) +
                                              "), so DescribeConfigs was not asked"};
    }
    return out;
  }
  std::vector<rd_kafka_ConfigResource_t*> res;
  for (const auto& t : topics)
    res.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, t.c_str()));
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
  char errstr[256];
  rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof(errstr));
  rd_kafka_DescribeConfigs(rk, res.data(), res.size(), opts, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
  std::string note;
  if (ev == nullptr) {
    note = "DescribeConfigs timed out";
  } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    note =
        std::string("broker does not answer DescribeConfigs: ") + rd_kafka_event_error_string(ev);
  } else {
    const rd_kafka_DescribeConfigs_result_t* r = rd_kafka_event_DescribeConfigs_result(ev);
    size_t n = 0;
    const rd_kafka_ConfigResource_t** rs = rd_kafka_DescribeConfigs_result_resources(r, &n);
    for (size_t i = 0; i < n; ++i) {
      TopicConfigs tc;
      const std::string name = rd_kafka_ConfigResource_name(rs[i]);
      if (rd_kafka_ConfigResource_error(rs[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        tc.note =
            std::string("DescribeConfigs failed: ") + rd_kafka_ConfigResource_error_string(rs[i]);
      } else {
        std::map<std::string, std::string> m;
        size_t cnt = 0;
        const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(rs[i], &cnt);
        for (size_t k = 0; k < cnt; ++k) {
          // Keep what was set on the topic, not broker defaults, and never secrets.
          if (rd_kafka_ConfigEntry_is_default(entries[k]) ||
              rd_kafka_ConfigEntry_is_sensitive(entries[k]))
            continue;
          const char* v = rd_kafka_ConfigEntry_value(entries[k]);
          m[rd_kafka_ConfigEntry_name(entries[k])] = v ? v : "";
        }
        tc.configs = std::move(m);
      }
      out[name] = std::move(tc);
    }
  }
  if (ev != nullptr) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_queue_destroy(q);
  for (auto* r : res) rd_kafka_ConfigResource_destroy(r);
  for (const auto& t : topics) {
    if (out.count(t) == 0)
      out[t] = TopicConfigs{std::nullopt, note.empty() ? "no answer for this topic" : note};
  }
  return out;
}

std::string ClusterId(rd_kafka_t* rk, int timeout_ms) {
  char* id = rd_kafka_clusterid(rk, timeout_ms);
  if (id == nullptr) return "";
  std::string s(id);
  rd_kafka_mem_free(rk, id);
  return s;
}

}  // namespace tidemark::kafka
