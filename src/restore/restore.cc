#include "restore/restore.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "backup/manifest.h"
#include "common/log.h"
#include "common/time.h"
#include "kafka/admin.h"
#include "kafka/kafka.h"
#include "verify/verify.h"

namespace tidemark::restore {

namespace fs = std::filesystem;
using nlohmann::json;

// --- argument parsing ------------------------------------------------------------------------

std::optional<int64_t> OffsetBound::For(const std::string& topic, int32_t partition) const {
  auto it = per_partition.find({topic, partition});
  if (it != per_partition.end()) return it->second;
  return all;
}

namespace {

Result<int64_t> ParseOffset(const std::string& flag, const std::string& s) {
  size_t used = 0;
  int64_t v = -1;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty() || v < 0) {
    return Status::Config(flag + ": '" + s + "' is not an offset (a whole number, 0 or more)");
  }
  return v;
}

}  // namespace

Result<OffsetBound> ParseOffsetBound(const std::string& flag, const std::string& text) {
  OffsetBound b;
  for (const auto& part : config::SplitList(text)) {
    const size_t eq = part.find('=');
    if (eq == std::string::npos) {
      TM_ASSIGN_OR_RETURN(int64_t v, ParseOffset(flag, part));
      b.all = v;
      continue;
    }
    const std::string tp = part.substr(0, eq);
    const size_t colon = tp.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      return Status::Config(flag + ": '" + part +
                            "' must be N (every partition) or TOPIC:PARTITION=N");
    }
    TM_ASSIGN_OR_RETURN(int64_t p, ParseOffset(flag, tp.substr(colon + 1)));
    TM_ASSIGN_OR_RETURN(int64_t v, ParseOffset(flag, part.substr(eq + 1)));
    b.per_partition[{tp.substr(0, colon), static_cast<int32_t>(p)}] = v;
  }
  return b;
}

Result<std::map<std::string, std::string>> ParseTopicMap(const std::string& text) {
  std::map<std::string, std::string> m;
  for (const auto& part : config::SplitList(text)) {
    const size_t eq = part.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == part.size()) {
      return Status::Config("--topic-map: '" + part + "' must be SOURCE=TARGET");
    }
    const std::string src = part.substr(0, eq);
    if (m.count(src)) return Status::Config("--topic-map names " + src + " twice");
    m[src] = part.substr(eq + 1);
  }
  return m;
}

int64_t TranslateOffset(const std::vector<OffsetRun>& runs, int64_t committed, int64_t target_end) {
  // Runs are in source order; the first one that ends past the committed offset holds the
  // first restored record at or after it.
  auto it = std::partition_point(runs.begin(), runs.end(), [&](const OffsetRun& r) {
    return r.source + r.count <= committed;
  });
  if (it == runs.end()) return target_end;
  if (committed <= it->source) return it->target;
  return it->target + (committed - it->source);
}

int32_t KafkaPartitionForKey(const void* key, size_t len, int32_t partitions) {
  return rd_kafka_msg_partitioner_murmur2(nullptr, key, len, partitions, nullptr, nullptr);
}

bool RestoreReport::damaged() const {
  return std::any_of(partitions.begin(), partitions.end(),
                     [](const PartitionResult& p) { return !p.damage.empty(); });
}

namespace {

// Watermark queries in flight at once (one round trip to a partition's leader each).
constexpr int kWatermarkParallelism = 32;

// --- rate limiting ---------------------------------------------------------------------------

// Token buckets for bytes/s and records/s, shared by the reader threads. A taker may run into
// debt (a record larger than the bucket still goes) and then sleeps the debt off, so over any
// window the records and bytes sent stay within rate x window + one bucket (100 ms worth).
class RateLimiter {
 public:
  RateLimiter(uint64_t bytes_per_s, uint64_t records_per_s)
      : bytes_(bytes_per_s), records_(records_per_s) {}
  bool enabled() const { return bytes_.rate > 0 || records_.rate > 0; }

  void Take(uint64_t records, uint64_t bytes, const std::atomic<bool>& stop) {
    double wait_s = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const int64_t now = MonotonicNs();
      wait_s = std::max(bytes_.Take(static_cast<double>(bytes), now),
                        records_.Take(static_cast<double>(records), now));
    }
    while (wait_s > 0 && !stop.load(std::memory_order_relaxed)) {
      const double step = std::min(wait_s, 0.05);
      std::this_thread::sleep_for(std::chrono::duration<double>(step));
      wait_s -= step;
    }
  }

 private:
  struct Bucket {
    explicit Bucket(uint64_t r) : rate(static_cast<double>(r)), cap(rate / 10), tokens(cap) {}
    // Returns the seconds to wait to pay off the debt.
    double Take(double n, int64_t now) {
      if (rate <= 0) return 0;
      if (last != 0) tokens = std::min(cap, tokens + rate * static_cast<double>(now - last) / 1e9);
      last = now;
      tokens -= n;
      return tokens < 0 ? -tokens / rate : 0;
    }
    double rate, cap, tokens;
    int64_t last = 0;
  };
  std::mutex mu_;
  Bucket bytes_, records_;
};

// --- the target ------------------------------------------------------------------------------

// One target partition. `routed` is written only by the reader thread that feeds it; the
// delivery fields only by the thread that polls the producer.
struct Target {
  std::string topic;
  int32_t partition = 0;
  rd_kafka_topic_t* rkt = nullptr;
  int64_t base = 0;     // high-water mark before the first run (from the state file)
  int64_t landed = 0;   // records an earlier run landed: high-water mark now - base
  uint64_t routed = 0;  // records of this restore's order that reached this partition so far
  uint64_t delivered = 0;
};

// A decompressed block whose records are in the producer's hands. Values are produced straight
// from it (no copy per record); each produced record holds a reference, the reader one more
// while it walks the block, and the last release returns the buffer to the pool.
class BlockPool;
struct BlockRef {
  std::vector<uint8_t> data;
  std::atomic<uint32_t> refs{0};
  BlockPool* pool = nullptr;
};

class BlockPool {
 public:
  BlockRef* Get() {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.empty()) {
      all_.push_back(std::make_unique<BlockRef>());
      all_.back()->pool = this;
      free_.push_back(all_.back().get());
    }
    BlockRef* b = free_.back();
    free_.pop_back();
    b->refs.store(1, std::memory_order_relaxed);
    return b;
  }
  static void Release(BlockRef* b) {
    if (b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) b->pool->Put(b);
  }

 private:
  void Put(BlockRef* b) {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(b);
  }
  std::mutex mu_;
  std::vector<std::unique_ptr<BlockRef>> all_;
  std::vector<BlockRef*> free_;
};

// The target partitions of one target topic, by partition number: the topic handle's opaque,
// so a delivery report finds its Target without a lookup table.
using TopicTargets = std::vector<Target*>;

// Shared by the reader threads, the delivery callback and the main loop.
struct Shared {
  rd_kafka_t* rk = nullptr;
  std::atomic<bool> abort{false};
  std::mutex mu;
  std::string first_error;
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> produced{0}, produced_bytes{0};
  uint64_t delivered = 0, delivered_bytes = 0;  // polling thread only
  kafka::ErrorState errors;

  void Fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    if (first_error.empty()) first_error = what;
    abort.store(true);
  }
  std::string Error() {
    std::lock_guard<std::mutex> lock(mu);
    return first_error;
  }
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* sh = static_cast<Shared*>(opaque);
  BlockPool::Release(static_cast<BlockRef*>(m->_private));
  const auto* tt = static_cast<const TopicTargets*>(rd_kafka_topic_opaque(m->rkt));
  Target* t = (*tt)[static_cast<size_t>(m->partition)];
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
      return;  // interrupted on purpose
    sh->Fail("delivery to " + t->topic + "/" + std::to_string(t->partition) +
             " failed: " + rd_kafka_err2str(m->err));
    return;
  }
  const int64_t expected = t->base + t->landed + static_cast<int64_t>(t->delivered);
  if (m->offset != expected) {
    sh->Fail("record landed in " + t->topic + "/" + std::to_string(t->partition) + " at offset " +
             std::to_string(m->offset) + ", expected " + std::to_string(expected) +
             ": something else writes to this partition, so the restore cannot stay exact");
  }
  ++t->delivered;
  ++sh->delivered;
  sh->delivered_bytes += m->len + m->key_len;
}

void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* sh = static_cast<Shared*>(opaque);
  sh->errors.Set(reason);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    rd_kafka_fatal_error(rk, buf, sizeof(buf));
    sh->Fail(std::string("the producer failed fatally: ") + buf);
  }
  TM_LOG_DEBUG("kafka: %s", reason);
}

void OnLog(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  if (level <= 3)
    TM_LOG_WARN("librdkafka %s: %s", fac, buf);
  else
    TM_LOG_DEBUG("librdkafka %s: %s", fac, buf);
}

Result<rd_kafka_t*> MakeProducer(const RestoreOptions& o, Shared* sh) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", o.brokers},
      {"client.id", "tidemark-restore"},
      // Exactness: no duplicates from retries, order kept per partition, and a record that
      // fails for good fails the producer rather than leaving a hole behind later records.
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"enable.gapless.guarantee", "true"},
      // A missing topic must be an error, never one created with the broker's defaults.
      {"allow.auto.create.topics", "false"},
      // Throughput: big batches, a bounded queue (the producer's memory is the restore's).
      {"linger.ms", "20"},
      {"batch.size", "1000000"},
      {"batch.num.messages", "100000"},
      // 8 MiB of values queued: enough to keep batches full, and (values are produced from
      // the decompressed blocks, which stay referenced until delivered) it bounds the blocks
      // held in memory. 64 MiB measured no faster and used 3x the memory.
      {"queue.buffering.max.kbytes", "8192"},
      {"queue.buffering.max.messages", "1000000"},
      // The broker decides (max.message.bytes per topic); the client must not refuse first.
      {"message.max.bytes", "100000000"},
      // Batches go out compressed: cheaper for the network and the brokers' disks, and lz4
      // costs the producer little. [restore.properties] can say otherwise.
      {"compression.type", "lz4"},
      {"socket.timeout.ms", std::to_string(std::max(o.timeout_ms, 10))},
  };
  props.insert(props.end(), o.properties.begin(), o.properties.end());
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::Config("producer property '" + k + "' = '" + v + "': " + err);
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  rd_kafka_conf_set_error_cb(conf, OnError);
  rd_kafka_conf_set_log_cb(conf, OnLog);
  rd_kafka_conf_set_opaque(conf, sh);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) return Status::Config(std::string("cannot create the producer: ") + err);
  return rk;
}

// --- reading records -------------------------------------------------------------------------

// One source partition's wanted records, in offset order.
class Cursor {
 public:
  Cursor(ReadContext* ring, const std::string& dir, const std::string& topic,
         const backup::PartitionManifest* part, RecordFilter filter, bool skip_damaged,
         unsigned depth, PartitionResult* result, std::atomic<uint64_t>* bytes_read,
         BlockPool* pool)
      : stream_(ring, dir, topic, part, filter, skip_damaged, depth),
        filter_(filter),
        skip_damaged_(skip_damaged),
        result_(result),
        bytes_read_(bytes_read),
        pool_(pool) {}
  ~Cursor() { ReleaseBlock(); }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  // Moves to the next wanted record (cur()); false at the end.
  Result<bool> Advance() {
    for (;;) {
      if (dec_) {
        while (dec_->Next(&cur_)) {
          if (filter_.Wants(cur_.offset, cur_.timestamp)) return true;
        }
        if (!dec_->status().ok()) {
          // The payload passed its checksum but does not decode: damage all the same.
          const uint64_t before = stream_.bytes_read();
          result_->damage.push_back({"", -1, 0, header_.first_offset, header_.last_offset,
                                     "records of the block at offsets " +
                                         std::to_string(header_.first_offset) + ".." +
                                         std::to_string(header_.last_offset) +
                                         " do not decode: " + dec_->status().message()});
          (void)before;
          if (!skip_damaged_) {
            dec_.reset();
            done_ = true;
            result_->stopped = true;
            return false;
          }
        }
        dec_.reset();
      }
      if (done_) return false;
      const uint64_t before = stream_.bytes_read();
      std::span<const uint8_t> payload;
      auto more = stream_.Next(&header_, &payload);
      bytes_read_->fetch_add(stream_.bytes_read() - before, std::memory_order_relaxed);
      if (!more.ok()) return more.status();
      if (!*more) {
        done_ = true;
        result_->damage.insert(result_->damage.end(), stream_.damage().begin(),
                               stream_.damage().end());
        result_->stopped = result_->stopped || stream_.stopped();
        return false;
      }
      ReleaseBlock();
      block_ = pool_->Get();
      stream_.TakePayload(&block_->data, &payload);
      dec_.emplace(payload);
    }
  }
  const RecordView& cur() const { return cur_; }
  // The block the current record's bytes live in.
  BlockRef* block() const { return block_; }

 private:
  BlockStream stream_;
  RecordFilter filter_;
  bool skip_damaged_;
  PartitionResult* result_;
  std::atomic<uint64_t>* bytes_read_;
  format::BlockHeader header_;
  void ReleaseBlock() {
    if (block_ != nullptr) BlockPool::Release(block_);
    block_ = nullptr;
  }
  BlockPool* pool_;
  BlockRef* block_ = nullptr;
  std::optional<RecordDecoder> dec_;
  RecordView cur_;
  bool done_ = false;
};

uint64_t RecordBytes(const RecordView& r) {
  uint64_t n = r.key.len + r.value.len;
  for (const auto& h : r.headers) n += h.name.size() + h.value.len;
  return n;
}

// A unit of work for one reader thread: one source partition into one target partition, or
// (repartitioning) all partitions of a source topic merged in timestamp order and routed by key.
struct Lane {
  std::string topic;
  std::vector<const backup::PartitionManifest*> parts;
  std::vector<size_t> results;   // index into the report's partitions, per part
  std::vector<Target*> targets;  // direct: one; repartition: the target topic's partitions
  bool merge = false;
};

struct LaneContext {
  const RestoreOptions* o;
  std::string dir;
  RestoreReport* report;
  Shared* sh;
  RateLimiter* rate;
  BlockPool* pool;
  const std::atomic<bool>* stop;
};

// Kafka's default partitioner for keyed records (murmur2, as the Java client computes it);
// records without a key stay on their source partition's number, modulo the target's count,
// so the routing is deterministic and a re-run sends every record where the first run did.
int32_t RouteByKey(const Lane& lane, const RecordView& r, int32_t source_partition) {
  const auto n = static_cast<int32_t>(lane.targets.size());
  if (r.key.is_null) return source_partition % n;
  return KafkaPartitionForKey(r.key.data, r.key.len, n);
}

bool Stopping(const LaneContext& c) { return c.sh->abort.load() || c.stop->load(); }

// Sends (or, in a dry run or when an earlier run landed it, only counts) one record.
void Emit(const LaneContext& c, Target* t, PartitionResult* pr, bool map_runs, const RecordView& r,
          BlockRef* block) {
  const uint64_t idx = t->routed++;
  const uint64_t bytes = RecordBytes(r);
  if (pr->records == 0) {
    pr->first_offset = r.offset;
    pr->first_ms = r.timestamp;
  }
  ++pr->records;
  pr->bytes += bytes;
  pr->last_offset = r.offset;
  pr->last_ms = r.timestamp;
  if (map_runs) {
    const int64_t target_offset = t->base + static_cast<int64_t>(idx);
    if (!pr->runs.empty() && pr->runs.back().source + pr->runs.back().count == r.offset &&
        pr->runs.back().target + pr->runs.back().count == target_offset) {
      ++pr->runs.back().count;
    } else {
      pr->runs.push_back({r.offset, target_offset, 1});
    }
  }
  if (idx < static_cast<uint64_t>(t->landed)) {
    ++pr->already;
    return;
  }
  if (c.o->dry_run) return;
  if (c.rate->enabled()) c.rate->Take(1, bytes, *c.stop);
  // A non-null empty key or value needs a non-null pointer: null means null in librdkafka.
  static uint8_t kEmpty[1] = {0};
  auto ptr = [](const Bytes& b) -> void* {
    if (b.is_null) return nullptr;
    return const_cast<uint8_t*>(b.data != nullptr ? b.data : kEmpty);
  };
  const void* key = ptr(r.key);
  void* value = ptr(r.value);
  rd_kafka_headers_t* hdrs = nullptr;
  if (!r.headers.empty()) {
    hdrs = rd_kafka_headers_new(r.headers.size());
    for (const auto& h : r.headers) {
      rd_kafka_header_add(hdrs, h.name.data(), static_cast<ssize_t>(h.name.size()), ptr(h.value),
                          h.value.is_null ? 0 : static_cast<ssize_t>(h.value.len));
    }
  }
  // librdkafka stamps "now" for timestamp 0; a record without a timestamp (-1) gets that.
  const int64_t ts = r.timestamp > 0 ? r.timestamp : 0;
  // No copy: the value stays in the block, which the record's reference keeps alive until its
  // delivery report. (librdkafka copies keys and headers, which are small.)
  const int flags = RD_KAFKA_MSG_F_BLOCK;
  block->refs.fetch_add(1, std::memory_order_relaxed);
  rd_kafka_resp_err_t err;
  if (hdrs != nullptr) {
    err = rd_kafka_producev(c.sh->rk, RD_KAFKA_V_RKT(t->rkt), RD_KAFKA_V_PARTITION(t->partition),
                            RD_KAFKA_V_MSGFLAGS(flags), RD_KAFKA_V_KEY(key, r.key.len),
                            RD_KAFKA_V_VALUE(value, r.value.len), RD_KAFKA_V_TIMESTAMP(ts),
                            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(block), RD_KAFKA_V_END);
  } else {
    err = rd_kafka_producev(c.sh->rk, RD_KAFKA_V_RKT(t->rkt), RD_KAFKA_V_PARTITION(t->partition),
                            RD_KAFKA_V_MSGFLAGS(flags), RD_KAFKA_V_KEY(key, r.key.len),
                            RD_KAFKA_V_VALUE(value, r.value.len), RD_KAFKA_V_TIMESTAMP(ts),
                            RD_KAFKA_V_OPAQUE(block), RD_KAFKA_V_END);
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);
    BlockPool::Release(block);
    c.sh->Fail("cannot produce offset " + std::to_string(r.offset) + " of " + pr->topic + "/" +
               std::to_string(pr->partition) + " (" + std::to_string(bytes) + " bytes) to " +
               t->topic + "/" + std::to_string(t->partition) + ": " + rd_kafka_err2str(err));
    return;
  }
  c.sh->produced.fetch_add(1, std::memory_order_relaxed);
  c.sh->produced_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

Status RunLane(const LaneContext& c, ReadContext* ring, const Lane& lane) {
  std::vector<std::unique_ptr<Cursor>> cursors;
  for (size_t i = 0; i < lane.parts.size(); ++i) {
    const auto* p = lane.parts[i];
    RecordFilter f;
    f.from_ms = c.o->from_ms;
    f.to_ms = c.o->to_ms;
    f.from_offset = c.o->from_offset.For(lane.topic, p->partition).value_or(0);
    f.to_offset = c.o->to_offset.For(lane.topic, p->partition).value_or(INT64_MAX);
    cursors.push_back(std::make_unique<Cursor>(
        ring, c.dir, lane.topic, p, f, c.o->skip_damaged,
        lane.merge ? std::min(2u, c.o->read_ahead) : c.o->read_ahead,
        &c.report->partitions[lane.results[i]], &c.sh->bytes_read, c.pool));
  }
  if (!lane.merge) {
    PartitionResult* pr = &c.report->partitions[lane.results[0]];
    for (;;) {
      if (Stopping(c)) return Status::Ok();
      TM_ASSIGN_OR_RETURN(bool more, cursors[0]->Advance());
      if (!more) return Status::Ok();
      Emit(c, lane.targets[0], pr, true, cursors[0]->cur(), cursors[0]->block());
    }
  }
  // Merge by (timestamp, source partition, offset): deterministic, so every target partition
  // receives its records in the same order on every run.
  std::vector<bool> live(cursors.size());
  for (size_t i = 0; i < cursors.size(); ++i) {
    TM_ASSIGN_OR_RETURN(bool more, cursors[i]->Advance());
    live[i] = more;
  }
  for (;;) {
    if (Stopping(c)) return Status::Ok();
    size_t best = cursors.size();
    for (size_t i = 0; i < cursors.size(); ++i) {
      if (!live[i]) continue;
      if (best == cursors.size() || cursors[i]->cur().timestamp < cursors[best]->cur().timestamp)
        best = i;
    }
    if (best == cursors.size()) return Status::Ok();
    const RecordView& r = cursors[best]->cur();
    const int32_t src = lane.parts[best]->partition;
    Target* t = lane.targets[static_cast<size_t>(RouteByKey(lane, r, src))];
    Emit(c, t, &c.report->partitions[lane.results[best]], false, r, cursors[best]->block());
    TM_ASSIGN_OR_RETURN(bool more, cursors[best]->Advance());
    live[best] = more;
  }
}

// --- the state file --------------------------------------------------------------------------

struct TargetKey {
  std::string topic;
  int32_t partition;
  bool operator<(const TargetKey& o) const {
    return std::tie(topic, partition) < std::tie(o.topic, o.partition);
  }
};

struct State {
  bool exists = false;
  bool complete = false;
  int64_t created_ms = 0;
  std::map<TargetKey, int64_t> bases;
};

Result<State> ReadState(const std::string& dir) {
  State s;
  const std::string path = dir + "/state.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) return s;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::Errno(errno, "open " + path);
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  std::fclose(f);
  json j = json::parse(text, nullptr, false);
  try {
    if (j.is_discarded()) throw std::runtime_error("not valid JSON");
    s.exists = true;
    s.complete = j.at("complete").get<bool>();
    s.created_ms = j.at("created_ms").get<int64_t>();
    for (const auto& t : j.at("targets")) {
      s.bases[{t.at("topic").get<std::string>(), t.at("partition").get<int32_t>()}] =
          t.at("base").get<int64_t>();
    }
  } catch (const std::exception& e) {
    return Status::Corrupt(path + ": " + e.what() +
                           "; it records where an earlier run of this restore started: restore "
                           "it, or remove the directory to start over into empty topics");
  }
  return s;
}

Status WriteState(const std::string& dir, const std::string& description, const State& s) {
  json j;
  j["format_version"] = 1;
  j["description"] = description;
  j["created_ms"] = s.created_ms;
  j["complete"] = s.complete;
  json targets = json::array();
  for (const auto& [k, base] : s.bases)
    targets.push_back({{"topic", k.topic}, {"partition", k.partition}, {"base", base}});
  j["targets"] = std::move(targets);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Errno(ec.value(), "create " + dir);
  return backup::WriteFileAtomic(dir, "state.json", j.dump(2) + "\n");
}

std::string Hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, v);
  return buf;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// --- progress --------------------------------------------------------------------------------

std::string Duration(double s) {
  char buf[32];
  const auto t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof(buf), "%" PRId64 "h%02" PRId64 "m", t / 3600, t / 60 % 60);
  else
    std::snprintf(buf, sizeof(buf), "%" PRId64 "m%02" PRId64 "s", t / 60, t % 60);
  return buf;
}

class ProgressPrinter {
 public:
  ProgressPrinter(Progress mode, uint64_t total_read_bytes)
      : total_(total_read_bytes), start_ns_(MonotonicNs()), last_ns_(start_ns_) {
    if (mode == Progress::kAuto) mode = ::isatty(2) ? Progress::kTerminal : Progress::kLines;
    mode_ = mode;
  }
  void Tick(const Shared& sh, bool final) {
    if (mode_ == Progress::kOff) return;
    const int64_t now = MonotonicNs();
    const int64_t every = mode_ == Progress::kTerminal ? 500'000'000 : 10'000'000'000;
    if (!final && now - last_ns_ < every) return;
    last_ns_ = now;
    const double secs = static_cast<double>(now - start_ns_) / 1e9;
    const double mb = static_cast<double>(sh.delivered_bytes) / 1e6;
    const uint64_t read = sh.bytes_read.load();
    const double frac = total_ > 0 ? std::min(1.0, static_cast<double>(read) / total_) : 1.0;
    std::string eta = "-";
    if (frac > 0.01 && frac < 1.0) eta = Duration(secs / frac - secs);
    char line[256];
    std::snprintf(line, sizeof(line),
                  "restore: %" PRIu64 " records (%.1f MB) landed, %.1f MB/s, %.0f%% read, ETA %s",
                  sh.delivered, mb, secs > 0 ? mb / secs : 0.0, frac * 100, eta.c_str());
    if (mode_ == Progress::kTerminal) {
      std::fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
    } else if (!final) {
      std::fprintf(stderr, "%s\n", line);
    }
    std::fflush(stderr);
  }

 private:
  Progress mode_;
  uint64_t total_;
  int64_t start_ns_;
  int64_t last_ns_;
};

}  // namespace

Result<RestoreReport> RunRestore(const RestoreOptions& o, const std::atomic<bool>* stop) {
  const int64_t t0 = MonotonicNs();
  // --- arguments and the backup (usage errors, before touching any broker) ---
  if (o.path.empty()) return Status::Config("no backup path: give --path");
  if (o.id.empty()) return Status::Config("no backup id: give --id (tidemark ls lists them)");
  if (o.brokers.empty()) return Status::Config("no target brokers: give --brokers");
  if (o.from_ms >= o.to_ms) {
    return Status::Config("--from (" + FormatRfc3339(o.from_ms) + ") must be before --to (" +
                          FormatRfc3339(o.to_ms) + "): the window is [from, to)");
  }
  TM_ASSIGN_OR_RETURN(backup::Manifest m, verify::LoadBackup(o.path, o.id));
  RestoreReport report;
  report.backup_dir = o.path + "/" + o.id;
  report.dry_run = o.dry_run;
  report.target = o.brokers;

  std::vector<std::string> all_topics, selected;
  for (const auto& [name, t] : m.topics) {
    all_topics.push_back(name);
    if (o.topics.empty() || kafka::MatchesAny(o.topics, name)) selected.push_back(name);
  }
  if (selected.empty()) {
    return Status::Config("no backed-up topic matches --topics [" + Join(o.topics) + "]; backup " +
                          o.id + " holds: " + Join(all_topics));
  }
  std::map<std::string, std::string> target_of;
  std::map<std::string, std::string> source_of;
  for (const auto& [src, dst] : o.topic_map) {
    if (!m.topics.count(src)) {
      return Status::Config("--topic-map names " + src + ", which is not in backup " + o.id +
                            " (it holds: " + Join(all_topics) + ")");
    }
    if (std::find(selected.begin(), selected.end(), src) == selected.end()) {
      return Status::Config("--topic-map names " + src + ", which --topics leaves out");
    }
  }
  for (const auto& src : selected) {
    auto it = o.topic_map.find(src);
    const std::string dst = it == o.topic_map.end() ? src : it->second;
    if (source_of.count(dst)) {
      return Status::Config("topics " + source_of[dst] + " and " + src + " would both go to " +
                            dst +
                            "; the order inside a partition would then depend on timing, "
                            "so give each its own target with --topic-map");
    }
    source_of[dst] = src;
    target_of[src] = dst;
  }
  for (const auto* bound : {&o.from_offset, &o.to_offset}) {
    for (const auto& [tp, v] : bound->per_partition) {
      const auto it = m.topics.find(tp.first);
      const bool known =
          it != m.topics.end() &&
          std::any_of(it->second.partitions.begin(), it->second.partitions.end(),
                      [&](const backup::PartitionManifest& p) { return p.partition == tp.second; });
      if (!known) {
        return Status::Config("offset bound " + tp.first + ":" + std::to_string(tp.second) +
                              " names a partition that is not in backup " + o.id);
      }
    }
  }
  // Consumer groups: the captured ones matching --groups.
  std::vector<std::string> group_names, captured;
  for (const auto& [g, offsets] : m.groups) {
    captured.push_back(g);
    if (!o.groups.empty() && kafka::MatchesAny(o.groups, g)) group_names.push_back(g);
  }
  if (!o.groups.empty() && group_names.empty()) {
    return Status::Config("no consumer group in backup " + o.id + " matches --groups [" +
                          Join(o.groups) + "]; " +
                          (captured.empty() ? "it captured none" : "it holds: " + Join(captured)) +
                          (m.groups_note.empty() ? "" : " (" + m.groups_note + ")"));
  }
  if (o.repartition != Repartition::kNone) {
    for (const auto& g : group_names) {
      for (const auto& [topic, parts] : m.groups[g]) {
        if (target_of.count(topic)) {
          return Status::Config("consumer group " + g + " has offsets on " + topic +
                                ", which --repartition spreads over other partitions: its "
                                "positions have no equivalent there; leave it out of --groups");
        }
      }
    }
  }
  if (!m.groups.empty() && o.groups.empty()) {
    report.notes.push_back(std::to_string(m.groups.size()) +
                           " consumer groups were captured; pass --groups to move them");
  }

  // --- the target cluster ---
  Shared sh;
  TM_ASSIGN_OR_RETURN(rd_kafka_t * rk, MakeProducer(o, &sh));
  sh.rk = rk;
  struct Closer {
    rd_kafka_t* rk;
    std::vector<Target>* targets;
    ~Closer() {
      for (auto& t : *targets) {
        if (t.rkt) rd_kafka_topic_destroy(t.rkt);
      }
      rd_kafka_destroy(rk);
    }
  };
  std::vector<Target> targets;  // never resized after the lanes take pointers
  std::map<std::string, TopicTargets> topic_targets;
  BlockPool pool;  // outlives the producer: messages in its queue point into these blocks
  Closer closer{rk, &targets};

  auto listed = kafka::ListTopics(rk, o.timeout_ms, sh.errors);
  if (!listed.ok()) {
    return Status::Kafka("target cluster " + o.brokers +
                         " unreachable: " + listed.status().message() + "; nothing was restored");
  }
  std::map<std::string, int32_t> existing;
  for (const auto& t : *listed) existing[t.name] = t.partition_count;
  std::vector<kafka::NewTopic> to_create;
  for (const auto& src : selected) {
    const auto& tm = m.topics.at(src);
    const std::string& dst = target_of[src];
    auto it = existing.find(dst);
    if (it == existing.end()) {
      to_create.push_back(
          {dst, tm.partition_count, tm.configs.value_or(std::map<std::string, std::string>{})});
      continue;
    }
    int32_t needed = 0;
    for (const auto& p : tm.partitions) needed = std::max(needed, p.partition + 1);
    if (o.repartition == Repartition::kNone && it->second < needed) {
      return Status::Config("target topic " + dst + " has " + std::to_string(it->second) +
                            " partitions, but " + src + " needs " + std::to_string(needed) +
                            " (a partition goes to the same number); add partitions, or pass "
                            "--repartition murmur2 to route records by key");
    }
  }
  for (const auto& nt : to_create) report.created_topics.push_back(nt.name);
  if (!to_create.empty() && !o.dry_run) {
    TM_RETURN_IF_ERROR(
        kafka::CreateTopics(rk, to_create, o.timeout_ms).WithContext("nothing was restored"));
    // Wait until the metadata shows them with all their partitions.
    const int64_t deadline = MonotonicNs() + int64_t{o.timeout_ms} * 1'000'000;
    for (;;) {
      TM_ASSIGN_OR_RETURN(auto now, kafka::ListTopics(rk, o.timeout_ms, sh.errors));
      size_t ready = 0;
      for (const auto& nt : to_create) {
        for (const auto& t : now) ready += t.name == nt.name && t.partition_count == nt.partitions;
      }
      if (ready == to_create.size()) {
        for (const auto& t : now) existing[t.name] = t.partition_count;
        break;
      }
      if (MonotonicNs() > deadline)
        return Status::Kafka("created topics did not appear in the target's metadata in time");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  } else {
    for (const auto& nt : to_create) existing[nt.name] = nt.partitions;
  }

  // --- lanes and target partitions ---
  std::vector<Lane> lanes;
  std::map<TargetKey, size_t> target_index;
  auto target = [&](const std::string& topic, int32_t p) {
    auto [it, fresh] = target_index.emplace(TargetKey{topic, p}, targets.size());
    if (fresh) targets.push_back(Target{topic, p});
    return it->second;
  };
  std::vector<std::vector<size_t>> lane_targets;
  for (const auto& src : selected) {
    const auto& tm = m.topics.at(src);
    const std::string& dst = target_of[src];
    if (o.repartition == Repartition::kMurmur2) {
      Lane lane;
      lane.topic = src;
      lane.merge = true;
      std::vector<size_t> ts;
      for (int32_t p = 0; p < existing[dst]; ++p) ts.push_back(target(dst, p));
      for (const auto& p : tm.partitions) {
        lane.parts.push_back(&p);
        lane.results.push_back(report.partitions.size());
        report.partitions.push_back({src, p.partition, dst, -1});
      }
      lanes.push_back(std::move(lane));
      lane_targets.push_back(std::move(ts));
    } else {
      for (const auto& p : tm.partitions) {
        Lane lane;
        lane.topic = src;
        lane.parts.push_back(&p);
        lane.results.push_back(report.partitions.size());
        report.partitions.push_back({src, p.partition, dst, p.partition});
        lane_targets.push_back({target(dst, p.partition)});
        lanes.push_back(std::move(lane));
      }
    }
  }
  for (size_t i = 0; i < lanes.size(); ++i) {
    for (size_t ti : lane_targets[i]) lanes[i].targets.push_back(&targets[ti]);
  }

  // --- where an earlier run got to ---
  std::string description =
      "backup=" + o.id + "\ntarget=" + kafka::ClusterId(rk, o.timeout_ms) + "@" + o.brokers +
      "\nfrom_ms=" + std::to_string(o.from_ms) + "\nto_ms=" + std::to_string(o.to_ms) +
      "\nrepartition=" + (o.repartition == Repartition::kMurmur2 ? "murmur2" : "none") +
      "\nskip_damaged=" + (o.skip_damaged ? "1" : "0");
  for (const auto& src : selected) description += "\ntopic=" + src + ">" + target_of[src];
  for (const auto& [name, bound] :
       {std::pair{"from_offset", &o.from_offset}, std::pair{"to_offset", &o.to_offset}}) {
    if (bound->all) description += "\n" + std::string(name) + "=" + std::to_string(*bound->all);
    for (const auto& [tp, v] : bound->per_partition) {
      description += "\n" + std::string(name) + "=" + tp.first + ":" + std::to_string(tp.second) +
                     "=" + std::to_string(v);
    }
  }
  report.state_dir = report.backup_dir + "/restores/" +
                     Hex16(format::Xxh3(description.data(), description.size()));
  TM_ASSIGN_OR_RETURN(State state, ReadState(report.state_dir));
  report.resumed = state.exists;

  std::vector<std::pair<std::string, int32_t>> tparts;
  for (const auto& t : targets) tparts.emplace_back(t.topic, t.partition);
  std::vector<kafka::Watermarks> marks(targets.size());
  bool have_marks = false;
  if (!(o.dry_run && !to_create.empty())) {
    // (In a dry run, topics to be created have no watermarks yet.)
    auto w = kafka::QueryWatermarksAll(rk, tparts, o.timeout_ms, kWatermarkParallelism);
    if (!w.ok()) return w.status().WithContext("target cluster " + o.brokers);
    marks = std::move(*w);
    have_marks = true;
  }
  if (state.exists) {
    for (size_t i = 0; i < targets.size(); ++i) {
      auto it = state.bases.find({targets[i].topic, targets[i].partition});
      if (it == state.bases.end()) {
        return Status::Corrupt(report.state_dir + "/state.json has no entry for " +
                               targets[i].topic + "/" + std::to_string(targets[i].partition) +
                               "; remove that directory to start over into empty topics");
      }
      targets[i].base = it->second;
      targets[i].landed = marks[i].high - it->second;
      if (targets[i].landed < 0) {
        return Status::Kafka(targets[i].topic + "/" + std::to_string(targets[i].partition) +
                             " is at offset " + std::to_string(marks[i].high) +
                             ", behind where this restore started (" + std::to_string(it->second) +
                             "): was the topic deleted and recreated? Remove " + report.state_dir +
                             " to start over");
      }
    }
  } else {
    std::vector<std::string> nonempty;
    for (size_t i = 0; have_marks && i < targets.size(); ++i) {
      targets[i].base = marks[i].high;
      if (marks[i].high > marks[i].low) {
        nonempty.push_back(targets[i].topic + "/" + std::to_string(targets[i].partition) + " (" +
                           std::to_string(marks[i].high - marks[i].low) + " records)");
      }
    }
    if (!nonempty.empty() && !o.allow_nonempty) {
      return Status::Config(
          "target partitions already hold records: " + Join(nonempty) +
          ". Restore into empty topics (a topic map can name new ones), or pass "
          "--allow-nonempty: records are then appended after what is there, and a re-run after "
          "a crash stays exact only if nothing else writes to those partitions meanwhile");
    }
    if (!nonempty.empty()) {
      report.notes.push_back("appending after existing records in " + Join(nonempty) +
                             " (--allow-nonempty)");
    }
    state.created_ms = WallClockMs();
    for (const auto& t : targets) state.bases[{t.topic, t.partition}] = t.base;
    if (!o.dry_run) TM_RETURN_IF_ERROR(WriteState(report.state_dir, description, state));
  }
  for (auto& t : targets) {
    TopicTargets& tt = topic_targets[t.topic];
    if (tt.size() <= static_cast<size_t>(t.partition)) tt.resize(t.partition + 1);
    tt[static_cast<size_t>(t.partition)] = &t;
  }
  for (auto& t : targets) {
    if (o.dry_run) continue;
    rd_kafka_topic_conf_t* tc = rd_kafka_topic_conf_new();
    rd_kafka_topic_conf_set_opaque(tc, &topic_targets[t.topic]);
    t.rkt = rd_kafka_topic_new(rk, t.topic.c_str(), tc);
  }

  // Groups with active members on the target are refused before anything is produced.
  for (const auto& g : group_names) {
    const kafka::GroupState gs = kafka::DescribeGroup(rk, g, std::min(o.timeout_ms, 5000));
    if (gs.known && gs.state != "Empty" && gs.state != "Dead") {
      const std::string msg = "consumer group " + g + " is " + gs.state + " with " +
                              std::to_string(gs.members) +
                              " members on the target; its offsets can only be moved while "
                              "it has none: stop its consumers, or leave it out of --groups";
      if (!o.dry_run) return Status::Kafka(msg + "; nothing was restored");
      report.notes.push_back(msg);
    }
  }

  // --- the data ---
  uint64_t total_read = 0;
  for (const auto& lane : lanes) {
    for (const auto* p : lane.parts) {
      RecordFilter f;
      f.from_ms = o.from_ms;
      f.to_ms = o.to_ms;
      f.from_offset = o.from_offset.For(lane.topic, p->partition).value_or(0);
      f.to_offset = o.to_offset.For(lane.topic, p->partition).value_or(INT64_MAX);
      for (const auto& s : p->segments) {
        if (s.records > 0 &&
            f.Overlaps(s.first_offset, s.last_offset, s.min_timestamp, s.max_timestamp))
          total_read += s.bytes_stored;
      }
    }
  }
  RateLimiter rate(o.dry_run ? 0 : o.rate_limit_bytes, o.dry_run ? 0 : o.rate_limit_records);
  LaneContext ctx{&o, report.backup_dir, &report, &sh, &rate, &pool, stop};
  std::atomic<size_t> next_lane{0};
  std::vector<Status> thread_status;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const size_t nthreads = std::min<size_t>(
      lanes.size(), o.threads > 0 ? static_cast<size_t>(o.threads) : static_cast<size_t>(cores));
  thread_status.resize(nthreads);
  std::atomic<size_t> running{nthreads};
  std::vector<std::thread> threads;
  for (size_t ti = 0; ti < nthreads; ++ti) {
    threads.emplace_back([&, ti] {
      ReadContext ring;
      Status st = ring.ring.Init(256);
      for (size_t i = next_lane.fetch_add(1); st.ok() && i < lanes.size();
           i = next_lane.fetch_add(1)) {
        if (Stopping(ctx)) break;
        st = RunLane(ctx, &ring, lanes[i]);
      }
      if (!st.ok()) sh.Fail(st.message());
      thread_status[ti] = st;
      running.fetch_sub(1);
    });
  }
  ProgressPrinter progress(o.dry_run ? Progress::kOff : o.progress, total_read);
  while (running.load() > 0) {
    rd_kafka_poll(rk, 10);
    progress.Tick(sh, false);
  }
  for (auto& t : threads) t.join();
  // Everything produced must land (or fail) before the outcome is known.
  bool interrupted = stop->load() && !sh.abort.load();
  if (sh.abort.load() || interrupted) {
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE);
  }
  while (rd_kafka_outq_len(rk) > 0) {
    rd_kafka_flush(rk, 100);
    progress.Tick(sh, false);
    if (stop->load() && !interrupted) {
      interrupted = true;
      rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE);
    }
  }
  rd_kafka_poll(rk, 0);
  progress.Tick(sh, true);
  report.produced = sh.delivered;
  report.produced_bytes = sh.produced_bytes.load();
  for (const auto& p : report.partitions) {
    report.records += p.records;
    report.bytes += p.bytes;
  }
  if (!sh.Error().empty()) {
    return Status::Kafka(sh.Error() + "; " + std::to_string(sh.delivered) +
                         " records landed in this run. Re-run the same command to continue "
                         "exactly where it stopped once the cause is fixed");
  }
  if (interrupted) {
    return Status::Aborted("interrupted after " + std::to_string(sh.delivered) +
                           " records landed in this run; re-run the same command to continue "
                           "exactly where it stopped");
  }

  // --- checks, the offset map, consumer groups ---
  for (auto& t : targets) {
    if (t.landed > static_cast<int64_t>(t.routed)) {
      return Status::Kafka(t.topic + "/" + std::to_string(t.partition) + " holds " +
                           std::to_string(t.landed) + " records past where this restore " +
                           "started, more than the " + std::to_string(t.routed) +
                           " it restores: something else wrote to it");
    }
  }
  if (!o.dry_run) {
    // End to end: every target partition must now hold exactly base + what this restore routed.
    TM_ASSIGN_OR_RETURN(auto after,
                        kafka::QueryWatermarksAll(rk, tparts, o.timeout_ms, kWatermarkParallelism));
    for (size_t i = 0; i < targets.size(); ++i) {
      const int64_t want = targets[i].base + static_cast<int64_t>(targets[i].routed);
      if (after[i].high != want) {
        return Status::Kafka(targets[i].topic + "/" + std::to_string(targets[i].partition) +
                             " ends at offset " + std::to_string(after[i].high) + ", expected " +
                             std::to_string(want) + ": something else wrote to it");
      }
    }
  }
  for (auto& pr : report.partitions) {
    if (pr.target_partition < 0) continue;
    pr.target_base = targets[target_index[{pr.target_topic, pr.target_partition}]].base;
  }
  if (!o.dry_run) {
    json map = json::object();
    map["format_version"] = 1;
    map["backup"] = o.id;
    map["description"] = description;
    json parts = json::array();
    for (const auto& pr : report.partitions) {
      json jp = {{"topic", pr.topic},
                 {"partition", pr.partition},
                 {"target_topic", pr.target_topic},
                 {"target_partition", pr.target_partition}};
      if (pr.target_partition < 0) {
        jp["note"] = "repartitioned by key: records of this partition spread over the target's";
      } else {
        json runs = json::array();
        for (const auto& r : pr.runs) runs.push_back({r.source, r.target, r.count});
        jp["runs"] = std::move(runs);
      }
      parts.push_back(std::move(jp));
    }
    map["partitions"] = std::move(parts);
    TM_RETURN_IF_ERROR(
        backup::WriteFileAtomic(report.state_dir, "offset-map.json", map.dump(1) + "\n"));
  }
  for (const auto& g : group_names) {
    GroupResult gr;
    gr.group = g;
    for (const auto& [topic, parts] : m.groups.at(g)) {
      if (!target_of.count(topic)) continue;
      for (const auto& [p, committed] : parts) {
        auto it = std::find_if(
            report.partitions.begin(), report.partitions.end(),
            [&](const PartitionResult& pr) { return pr.topic == topic && pr.partition == p; });
        if (it == report.partitions.end() || it->target_partition < 0) continue;
        const Target& t = targets[target_index[{it->target_topic, it->target_partition}]];
        gr.source[{topic, p}] = committed;
        gr.target[{it->target_topic, it->target_partition}] =
            TranslateOffset(it->runs, committed, t.base + static_cast<int64_t>(t.routed));
      }
    }
    report.groups.push_back(std::move(gr));
  }
  if (!o.dry_run && !report.groups.empty()) {
    if (std::any_of(report.partitions.begin(), report.partitions.end(),
                    [](const PartitionResult& p) { return p.stopped; })) {
      for (auto& gr : report.groups)
        gr.note = "not committed: damage stopped a partition, so the restore is incomplete";
    } else {
      for (auto& gr : report.groups) {
        Status st = kafka::CommitGroupOffsets(rk, gr.group, gr.target, o.timeout_ms);
        if (!st.ok()) {
          return st.WithContext(
              "every record landed; the consumer groups are what is left (a re-run with the "
              "same arguments produces nothing and only commits them)");
        }
        gr.committed = true;
      }
    }
  }
  if (!o.dry_run && !report.damaged()) {
    state.complete = true;
    TM_RETURN_IF_ERROR(WriteState(report.state_dir, description, state));
  }
  report.seconds = static_cast<double>(MonotonicNs() - t0) / 1e9;
  return report;
}

namespace {

std::string TargetName(const PartitionResult& p) {
  return p.target_topic + "/" +
         (p.target_partition < 0 ? std::string("by key") : std::to_string(p.target_partition));
}

std::string DamageLine(const StreamDamage& d) {
  std::string s = d.file.empty() ? "" : d.file + ": ";
  s += d.what;
  if (d.first_offset >= 0 || d.last_offset >= 0) {
    s += " [offsets " + (d.first_offset >= 0 ? std::to_string(d.first_offset) : "?") + ".." +
         (d.last_offset >= 0 ? std::to_string(d.last_offset) : "?") + "]";
  }
  return s;
}

}  // namespace

std::string ReportToText(const RestoreReport& r) {
  std::string out;
  char buf[512];
  out += "restore of " + r.backup_dir + " into " + r.target +
         (r.dry_run ? " (dry run: nothing was produced)" : "") + "\n";
  if (r.resumed) out += "  continuing the restore recorded in " + r.state_dir + "\n";
  if (!r.created_topics.empty()) {
    out += std::string(r.dry_run ? "  topics to create: " : "  topics created: ") +
           Join(r.created_topics) + "\n";
  }
  for (const auto& p : r.partitions) {
    std::snprintf(buf, sizeof(buf), "  %s/%d -> %s: %" PRIu64 " records, %.1f MB", p.topic.c_str(),
                  p.partition, TargetName(p).c_str(), p.records,
                  static_cast<double>(p.bytes) / 1e6);
    out += buf;
    if (p.records > 0) {
      out += ", offsets " + std::to_string(p.first_offset) + ".." + std::to_string(p.last_offset) +
             ", " + FormatRfc3339(p.first_ms) + " .. " + FormatRfc3339(p.last_ms);
    }
    if (p.already > 0) out += ", " + std::to_string(p.already) + " landed by an earlier run";
    out += "\n";
    for (const auto& d : p.damage) {
      out += std::string(p.stopped ? "    STOPPED before damage: " : "    SKIPPED damage: ") +
             DamageLine(d) + "\n";
    }
  }
  for (const auto& g : r.groups) {
    out += "  group " + g.group + (g.committed ? " (committed)" : "") +
           (g.note.empty() ? "" : " (" + g.note + ")") + ":\n";
    for (const auto& [tp, v] : g.source) {
      out += "    " + tp.first + "/" + std::to_string(tp.second) + " offset " + std::to_string(v) +
             "\n";
    }
    for (const auto& [tp, v] : g.target) {
      out += "    -> " + tp.first + "/" + std::to_string(tp.second) + " offset " +
             std::to_string(v) + "\n";
    }
  }
  for (const auto& n : r.notes) out += "  note: " + n + "\n";
  const double secs = std::max(r.seconds, 1e-9);
  std::snprintf(buf, sizeof(buf),
                "%s %" PRIu64 " records (%.1f MB) in range; produced now %" PRIu64
                " records (%.1f MB) in %.2f s: %.1f MB/s, %.0f records/s\n",
                r.damaged() ? "DAMAGED:" : "ok:", r.records, static_cast<double>(r.bytes) / 1e6,
                r.produced, static_cast<double>(r.produced_bytes) / 1e6, r.seconds,
                static_cast<double>(r.produced_bytes) / 1e6 / secs,
                static_cast<double>(r.produced) / secs);
  out += buf;
  return out;
}

std::string ReportToJson(const RestoreReport& r) {
  json j;
  j["backup_dir"] = r.backup_dir;
  j["state_dir"] = r.state_dir;
  j["target"] = r.target;
  j["dry_run"] = r.dry_run;
  j["resumed"] = r.resumed;
  j["created_topics"] = r.created_topics;
  j["records"] = r.records;
  j["bytes"] = r.bytes;
  j["produced_records"] = r.produced;
  j["produced_bytes"] = r.produced_bytes;
  j["seconds"] = r.seconds;
  j["ok"] = !r.damaged();
  json parts = json::array();
  for (const auto& p : r.partitions) {
    json jp = {{"topic", p.topic},
               {"partition", p.partition},
               {"target_topic", p.target_topic},
               {"target_partition", p.target_partition},
               {"records", p.records},
               {"bytes", p.bytes},
               {"already_landed", p.already},
               {"first_offset", p.first_offset},
               {"last_offset", p.last_offset},
               {"first_timestamp_ms", p.first_ms},
               {"last_timestamp_ms", p.last_ms},
               {"stopped_on_damage", p.stopped}};
    json dmg = json::array();
    for (const auto& d : p.damage) {
      dmg.push_back({{"file", d.file},
                     {"block", d.block},
                     {"file_offset", d.file_offset},
                     {"first_offset", d.first_offset},
                     {"last_offset", d.last_offset},
                     {"what", d.what}});
    }
    jp["damage"] = std::move(dmg);
    parts.push_back(std::move(jp));
  }
  j["partitions"] = std::move(parts);
  json groups = json::array();
  for (const auto& g : r.groups) {
    json src = json::array(), dst = json::array();
    for (const auto& [tp, v] : g.source)
      src.push_back({{"topic", tp.first}, {"partition", tp.second}, {"offset", v}});
    for (const auto& [tp, v] : g.target)
      dst.push_back({{"topic", tp.first}, {"partition", tp.second}, {"offset", v}});
    groups.push_back({{"group", g.group},
                      {"committed", g.committed},
                      {"note", g.note},
                      {"source", src},
                      {"target", dst}});
  }
  j["groups"] = std::move(groups);
  j["notes"] = r.notes;
  return j.dump(2) + "\n";
}

}  // namespace tidemark::restore
