#include "restore/sender.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/log.h"
#include "common/time.h"

namespace tidemark::restore {

// --- rate limiting ---------------------------------------------------------------------------

void RateLimiter::Take(uint64_t records, uint64_t bytes, const std::atomic<bool>& stop) {
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

double RateLimiter::Bucket::Take(double n, int64_t now) {
  if (rate <= 0) return 0;
  if (last != 0) tokens = std::min(cap, tokens + rate * static_cast<double>(now - last) / 1e9);
  last = now;
  tokens -= n;
  return tokens < 0 ? -tokens / rate : 0;
}

// --- blocks ----------------------------------------------------------------------------------

BlockRef* BlockPool::Get(const std::function<bool()>& stopping) {
  std::unique_lock<std::mutex> lock(mu_);
  while (free_.empty()) {
    if (all_.size() < min_blocks_ || bytes_ + estimate_ <= budget_bytes_) {
      all_.push_back(std::make_unique<BlockRef>());
      all_.back()->pool = this;
      all_.back()->counted = estimate_;
      bytes_ += estimate_;
      peak_bytes_ = std::max(peak_bytes_, bytes_);
      free_.push_back(all_.back().get());
      break;
    }
    // Every block is held by records in the producer's queue (or by the readers): their
    // delivery reports free them.
    freed_.wait_for(lock, std::chrono::milliseconds(20));
    if (free_.empty() && stopping()) return nullptr;
  }
  BlockRef* b = free_.back();
  free_.pop_back();
  b->refs.store(1, std::memory_order_relaxed);
  return b;
}

void BlockPool::Release(BlockRef* b) {
  if (b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) b->pool->Put(b);
}

void BlockPool::Count(BlockRef* b) {
  const uint64_t cap = b->data.capacity();
  bytes_ = bytes_ - b->counted + cap;
  b->counted = cap;
  estimate_ = std::max(estimate_, cap);
  peak_bytes_ = std::max(peak_bytes_, bytes_);
}

void BlockPool::Filled(BlockRef* b) {
  std::lock_guard<std::mutex> lock(mu_);
  Count(b);
}

void BlockPool::Put(BlockRef* b) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Count(b);
    free_.push_back(b);
  }
  freed_.notify_one();
}

size_t BlockPool::blocks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return all_.size();
}

uint64_t BlockPool::peak_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_bytes_;
}

// --- the producer ----------------------------------------------------------------------------

void Shared::Fail(const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  // Never empty once failed: an empty error would read as success (ProduceAll).
  if (first_error_.empty()) first_error_ = what.empty() ? "a reader failed" : what;
  abort.store(true);
}

std::string Shared::Error() {
  std::lock_guard<std::mutex> lock(mu_);
  return first_error_;
}

namespace {

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

}  // namespace

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
  if (Status st = kafka::SetProperties(conf, props); !st.ok()) {
    rd_kafka_conf_destroy(conf);
    return st.WithContext("the restore producer");
  }
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  rd_kafka_conf_set_error_cb(conf, OnError);
  rd_kafka_conf_set_log_cb(conf, kafka::LogToTidemark);
  rd_kafka_conf_set_opaque(conf, sh);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) return Status::Config(std::string("cannot create the producer: ") + err);
  return rk;
}

uint64_t RecordBytes(const RecordView& r) {
  uint64_t n = r.key.len + r.value.len;
  for (const auto& h : r.headers) n += h.name.size() + h.value.len;
  return n;
}

void Produce(Shared* sh, Target* t, const PartitionResult& source, const RecordView& r,
             uint64_t bytes, BlockRef* block) {
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
    err = rd_kafka_producev(sh->rk, RD_KAFKA_V_RKT(t->rkt), RD_KAFKA_V_PARTITION(t->partition),
                            RD_KAFKA_V_MSGFLAGS(flags), RD_KAFKA_V_KEY(key, r.key.len),
                            RD_KAFKA_V_VALUE(value, r.value.len), RD_KAFKA_V_TIMESTAMP(ts),
                            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(block), RD_KAFKA_V_END);
  } else {
    err = rd_kafka_producev(sh->rk, RD_KAFKA_V_RKT(t->rkt), RD_KAFKA_V_PARTITION(t->partition),
                            RD_KAFKA_V_MSGFLAGS(flags), RD_KAFKA_V_KEY(key, r.key.len),
                            RD_KAFKA_V_VALUE(value, r.value.len), RD_KAFKA_V_TIMESTAMP(ts),
                            RD_KAFKA_V_OPAQUE(block), RD_KAFKA_V_END);
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);
    BlockPool::Release(block);
    sh->Fail("cannot produce offset " + std::to_string(r.offset) + " of " + source.topic + "/" +
             std::to_string(source.partition) + " (" + std::to_string(bytes) + " bytes) to " +
             t->topic + "/" + std::to_string(t->partition) + ": " + rd_kafka_err2str(err));
    return;
  }
  sh->produced.fetch_add(1, std::memory_order_relaxed);
  sh->produced_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

}  // namespace tidemark::restore
