#include "shard/shard.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>

#include "common/log.h"
#include "segment/block.h"
#include "tidemark/assert.h"

namespace tidemark::shard {

namespace {
constexpr int kBatch = 1024;
constexpr int kPollTimeoutMs = 100;
constexpr size_t kMinBlockBytes = 64 * 1024;
constexpr size_t kMaxRingEntries = 32768;  // the kernel's IORING_MAX_ENTRIES
}  // namespace

Shard::Shard(ShardOptions o, rd_kafka_t* rk, std::vector<PartitionTask> tasks,
             std::atomic<bool>* stop)
    : opts_(std::move(o)), rk_(rk), tasks_(std::move(tasks)), stop_(stop) {}

Shard::~Shard() {
  TM_CHECK_MSG(!thread_.joinable(), "shard destroyed while running");
  // Teardown invariant (Dragonfly's fixture rule): nothing may still be in flight.
  if (io_) TM_CHECK_MSG(io_->in_flight() == 0, "shard destroyed with I/O in flight");
  pipelines_.clear();
  if (queue_ != nullptr) rd_kafka_queue_destroy(queue_);
}

Status Shard::Init() {
  const std::string& dir = opts_.pipeline.backup_dir;
  // The ring holds every op that can be in flight at once: io_depth writes plus one fallocate per
  // partition (each writer preallocates ahead of itself). Sized so, the submission queue never
  // fills for long and the completion queue (twice the size) never overflows between reaps.
  const size_t ring_entries =
      std::min<size_t>(opts_.io_depth * 2 + 8 + tasks_.size(), kMaxRingEntries);
  TM_ASSIGN_OR_RETURN(
      io_, io::MakeUringBackend(dir, {opts_.direct_io, static_cast<unsigned>(ring_entries)}));
  // The staging memory budget is split over the partitions, so a shard with many partitions
  // builds smaller blocks instead of growing without bound.
  block_bytes_ = opts_.pipeline.block_bytes;
  if (!tasks_.empty()) {
    block_bytes_ =
        std::clamp<size_t>(opts_.memory_bytes / tasks_.size(), kMinBlockBytes, block_bytes_);
  }
  pool_ = std::make_unique<segment::WritePool>(
      io_.get(), opts_.io_depth, segment::SegmentWriter::BatchBufferBytes(block_bytes_));
  const std::string reg = pool_->TryRegisterBuffers();
  io_description_ = io_->Describe() + ", " + reg;
  codec_ = std::make_unique<segment::BlockCodec>(opts_.codec, opts_.level);
  PipelineOptions po = opts_.pipeline;
  po.block_bytes = block_bytes_;
  queue_ = rd_kafka_queue_new(rk_);
  for (const auto& t : tasks_) {
    pipelines_.push_back(std::make_unique<PartitionPipeline>(t, po, pool_.get(), codec_.get()));
    rkts_.push_back(nullptr);
    if (pipelines_.back()->done()) continue;  // empty partition: nothing to fetch
    ++remaining_;
    // Forward before assign: librdkafka creates the partition on demand and keeps an
    // application-set forward, so no message can reach the consumer's main queue instead.
    rd_kafka_queue_t* pq = rd_kafka_queue_get_partition(rk_, t.topic.c_str(), t.partition);
    if (pq == nullptr)
      return Status::Kafka("cannot get the queue of " + t.topic + "/" +
                           std::to_string(t.partition));
    rd_kafka_queue_forward(pq, queue_);
    rd_kafka_queue_destroy(pq);
  }
  header_scratch_.reserve(64);
  return Status::Ok();
}

void Shard::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Shard::Join() {
  if (thread_.joinable()) thread_.join();
}

PartitionPipeline* Shard::Find(rd_kafka_message_t* m) {
  for (size_t i = 0; i < pipelines_.size(); ++i) {
    if (rkts_[i] == m->rkt && pipelines_[i]->task().partition == m->partition)
      return pipelines_[i].get();
  }
  const char* name = rd_kafka_topic_name(m->rkt);
  for (size_t i = 0; i < pipelines_.size(); ++i) {
    auto& p = *pipelines_[i];
    if (p.task().partition == m->partition && p.task().topic == name) {
      rkts_[i] = m->rkt;
      return &p;
    }
  }
  return nullptr;
}

void Shard::Pause(const PartitionPipeline& p) {
  rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, p.task().topic.c_str(), p.task().partition);
  rd_kafka_pause_partitions(rk_, l);
  rd_kafka_topic_partition_list_destroy(l);
}

Status Shard::Handle(rd_kafka_message_t* m) {
  PartitionPipeline* p = Find(m);
  if (p == nullptr) {
    return Status::Kafka(std::string("message for a partition this shard does not own: ") +
                         rd_kafka_topic_name(m->rkt) + "/" + std::to_string(m->partition));
  }
  const bool was_done = p->done();
  if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    p->OnEof(m->offset);
  } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Kafka(p->task().topic + "/" + std::to_string(p->task().partition) +
                         " at offset " + std::to_string(p->next_offset()) + ": " +
                         rd_kafka_message_errstr(m));
  } else {
    RecordView r;
    r.offset = m->offset;
    rd_kafka_timestamp_type_t tstype;
    r.timestamp = rd_kafka_message_timestamp(m, &tstype);
    r.timestamp_type = static_cast<format::TimestampType>(tstype);
    r.key = m->key ? Bytes::Of(m->key, m->key_len) : Bytes::Null();
    r.value = m->payload ? Bytes::Of(m->payload, m->len) : Bytes::Null();
    header_scratch_.clear();
    size_t bytes = m->key_len + m->len;
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const size_t n = rd_kafka_header_cnt(hdrs);
      for (size_t i = 0; i < n; ++i) {
        const char* name;
        const void* val;
        size_t size;
        if (rd_kafka_header_get_all(hdrs, i, &name, &val, &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
          break;
        header_scratch_.push_back({name, val ? Bytes::Of(val, size) : Bytes::Null()});
        bytes += std::char_traits<char>::length(name) + size;
      }
    }
    r.headers = header_scratch_;
    TM_RETURN_IF_ERROR(
        p->Append(r).WithContext(p->task().topic + "/" + std::to_string(p->task().partition)));
    progress_.records.fetch_add(1, std::memory_order_relaxed);
    progress_.bytes_in.fetch_add(bytes, std::memory_order_relaxed);
  }
  if (!was_done && p->done()) {
    --remaining_;
    Pause(*p);
  }
  return Status::Ok();
}

void Shard::Run() {
  if (opts_.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(opts_.cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }
  char name[16];
  std::snprintf(name, sizeof(name), "tm-shard-%d", opts_.index);
  pthread_setname_np(pthread_self(), name);

  rd_kafka_message_t* msgs[kBatch];
  Status st;
  while (st.ok() && remaining_ > 0 && !stop_->load(std::memory_order_relaxed)) {
    ssize_t n = rd_kafka_consume_batch_queue(queue_, kPollTimeoutMs, msgs, kBatch);
    if (n < 0) {
      st = Status::Kafka(std::string("consume: ") + rd_kafka_err2str(rd_kafka_last_error()));
      break;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (st.ok()) st = Handle(msgs[i]);
      rd_kafka_message_destroy(msgs[i]);
    }
    if (st.ok() && n == 0) {
      // Idle: nothing fetched for a poll interval. Write out what is held rather than wait.
      for (auto& p : pipelines_) {
        if (st.ok()) st = p->FlushWrites();
      }
    }
    if (st.ok()) st = pool_->Poll();
  }
  // Seal what was written, even when stopping early: a sealed segment is always true to its
  // contents; whether the run as a whole succeeded is decided by the caller.
  failed_.assign(pipelines_.size(), false);
  for (size_t i = 0; i < pipelines_.size(); ++i) {
    auto& p = pipelines_[i];
    Status fs = p->Finish();
    TM_LOG_DEBUG("shard %d: finish %s/%d: %s", opts_.index, p->task().topic.c_str(),
                 p->task().partition, fs.ok() ? "ok" : fs.message().c_str());
    if (!fs.ok()) {
      failed_[i] = true;
      if (st.ok()) st = fs.WithContext(p->task().topic + "/" + std::to_string(p->task().partition));
    }
  }
  Status ds = pool_->Drain();
  if (!ds.ok() && st.ok()) st = ds;
  latency_ = pool_->write_latency();
  status_ = st;
  progress_.finished.store(true, std::memory_order_release);
}

std::vector<backup::PartitionManifest> Shard::results() const {
  std::vector<backup::PartitionManifest> out;
  for (const auto& p : pipelines_) out.push_back(p->Result());
  return out;
}

std::vector<std::string> Shard::Incomplete() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < pipelines_.size(); ++i) {
    const auto& p = pipelines_[i];
    const std::string name = p->task().topic + "/" + std::to_string(p->task().partition);
    if (i < failed_.size() && failed_[i]) {
      out.push_back(name + " (its segments could not be written)");
    } else if (!p->done()) {
      out.push_back(name + " (at offset " + std::to_string(p->next_offset()) + " of " +
                    std::to_string(p->task().end_offset) + ")");
    }
  }
  return out;
}

}  // namespace tidemark::shard
