#include "shard/shard.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <fstream>

#include "common/log.h"
#include "common/time.h"
#include "segment/block.h"
#include "tidemark/assert.h"

namespace tidemark::shard {

namespace {
constexpr int kBatch = 1024;
constexpr int kPollTimeoutMs = 100;
constexpr size_t kMinBlockBytes = 64 * 1024;
constexpr size_t kMaxRingEntries = 32768;  // the kernel's IORING_MAX_ENTRIES
}  // namespace

int ShardOf(const std::string& topic, int32_t partition, int shards) {
  const uint64_t h = format::Xxh3(topic.data(), topic.size());
  return static_cast<int>((h + static_cast<uint64_t>(partition)) % static_cast<uint64_t>(shards));
}

std::vector<int> AllowedCpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  if (cpus.empty()) {
    const int n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int cpu = 0; cpu < n; ++cpu) cpus.push_back(cpu);
  }
  return cpus;
}

int CpusFromCgroupCpuMax(std::string_view text) {
  // "QUOTA PERIOD\n" in microseconds, QUOTA "max" for no limit (cgroup-v2.rst, cpu.max).
  auto number = [&](size_t* pos, uint64_t* out) {
    const size_t start = *pos;
    uint64_t v = 0;
    while (*pos < text.size() && text[*pos] >= '0' && text[*pos] <= '9') {
      if (v > (UINT64_MAX - 9) / 10) return false;
      v = v * 10 + static_cast<uint64_t>(text[(*pos)++] - '0');
    }
    *out = v;
    return *pos > start;
  };
  size_t pos = 0;
  uint64_t quota = 0, period = 0;
  if (!number(&pos, &quota)) return 0;  // "max", or not the expected form
  if (pos >= text.size() || text[pos] != ' ') return 0;
  ++pos;
  if (!number(&pos, &period) || period == 0 || quota == 0) return 0;
  if (text.substr(pos).find_first_not_of(" \n") != std::string_view::npos) return 0;
  const uint64_t cpus = (quota + period - 1) / period;
  return static_cast<int>(std::clamp<uint64_t>(cpus, 1, 1 << 20));
}

int CgroupCpuLimit() {
  // cgroup v2 only: "0::/system.slice/tidemark.service" in /proc/self/cgroup.
  std::ifstream in("/proc/self/cgroup");
  std::string line, path;
  while (std::getline(in, line))
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  int limit = 0;
  // A quota on any ancestor bounds this cgroup too; in a container the namespace's root is the
  // container's own cgroup, so /sys/fs/cgroup/cpu.max is checked last either way.
  for (std::string p = path;; p = p.substr(0, p.rfind('/'))) {
    std::ifstream f("/sys/fs/cgroup" + p + "/cpu.max");
    std::string text;
    if (f && std::getline(f, text)) {
      const int n = CpusFromCgroupCpuMax(text);
      if (n > 0 && (limit == 0 || n < limit)) limit = n;
    }
    if (p.empty() || p == "/" || p.find('/') == std::string::npos) break;
  }
  return limit;
}

int UsableCpus() {
  int n = static_cast<int>(AllowedCpus().size());
  if (const int quota = CgroupCpuLimit(); quota > 0) n = std::min(n, quota);
  return std::max(n, 1);
}

ShardOptions ShardOptionsFor(const config::Config& c, const std::string& dir, int index) {
  const std::vector<int> cpus = AllowedCpus();
  ShardOptions so;
  so.index = index;
  so.cpu = cpus[static_cast<size_t>(index) % cpus.size()];
  so.pipeline = {dir, c.backup.id, c.backup.block_bytes, c.backup.segment_max_bytes};
  so.codec = c.backup.compression;
  so.level = c.backup.level;
  so.io_depth = c.backup.io_depth;
  so.memory_bytes = c.backup.shard_memory_bytes;
  so.direct_io = c.storage.direct_io;
  return so;
}

Shard::Shard(ShardOptions o, rd_kafka_t* rk, std::vector<PartitionTask> tasks,
             std::atomic<bool>* stop)
    : opts_(std::move(o)), rk_(rk), tasks_(std::move(tasks)), stop_(stop) {}

Shard::~Shard() {
  TM_CHECK_MSG(!thread_.joinable(), "shard destroyed while running");
  // Teardown invariant (Dragonfly's fixture rule): nothing may still be in flight.
  if (io_) TM_CHECK_MSG(io_->in_flight() == 0, "shard destroyed with I/O in flight");
  by_rkt_.clear();
  pipelines_.clear();
  if (queue_ != nullptr) {
    if (wake_fd_ >= 0) rd_kafka_queue_io_event_enable(queue_, -1, nullptr, 0);
    rd_kafka_queue_destroy(queue_);
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Status Shard::Init() {
  const std::string& dir = opts_.pipeline.backup_dir;
  progress_.heartbeat_ms.store(MonotonicNs() / 1000000);
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
  if (opts_.continuous) {
    commit_ = std::make_unique<GroupCommit>(io_.get(), dir, opts_.index);
    TM_RETURN_IF_ERROR(commit_->Open());
  }
  PipelineOptions po = opts_.pipeline;
  po.block_bytes = block_bytes_;
  queue_ = rd_kafka_queue_new(rk_);
  // librdkafka writes to this eventfd when something arrives on the (empty) queue, so the shard
  // can wait for the first record and then take whatever is there (see WaitForQueue).
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Status::Errno(errno, "eventfd for the shard's Kafka queue");
  static const uint64_t kWake = 1;
  rd_kafka_queue_io_event_enable(queue_, wake_fd_, &kWake, sizeof(kWake));
  for (const auto& t : tasks_) {
    pipelines_.push_back(std::make_unique<PartitionPipeline>(t, po, pool_.get(), codec_.get()));
    if (pipelines_.back()->done()) continue;  // empty partition: nothing to fetch
    ++remaining_;
    progress_.remaining.store(remaining_, std::memory_order_relaxed);
    // Forward before assign: librdkafka creates the partition on demand and keeps an
    // application-set forward, so no message can reach the consumer's main queue instead.
    TM_RETURN_IF_ERROR(Forward(t.topic, t.partition));
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

size_t Shard::BlockBytesFor(size_t partitions) const {
  return std::clamp<size_t>(opts_.memory_bytes / std::max<size_t>(1, partitions), kMinBlockBytes,
                            block_bytes_);
}

Status Shard::Forward(const std::string& topic, int32_t partition) {
  rd_kafka_queue_t* pq = rd_kafka_queue_get_partition(rk_, topic.c_str(), partition);
  if (pq == nullptr)
    return Status::Kafka("cannot get the queue of " + topic + "/" + std::to_string(partition));
  rd_kafka_queue_forward(pq, queue_);
  rd_kafka_queue_destroy(pq);
  return Status::Ok();
}

void Shard::AddPartition(PartitionTask t) {
  std::lock_guard<std::mutex> g(mu_);
  commands_.push_back({true, std::move(t)});
}

void Shard::RemovePartition(const std::string& topic, int32_t partition) {
  Command c;
  c.task.topic = topic;
  c.task.partition = partition;
  std::lock_guard<std::mutex> g(mu_);
  commands_.push_back(std::move(c));
}

std::vector<PartitionUpdate> Shard::TakeUpdates() {
  std::lock_guard<std::mutex> g(mu_);
  return std::exchange(updates_, {});
}

void Shard::SetIntervals(int64_t flush_interval_ms, int64_t segment_max_interval_ms) {
  flush_interval_ms_.store(flush_interval_ms);
  roll_interval_ms_.store(segment_max_interval_ms);
}

Histogram Shard::SyncLatency() const {
  std::lock_guard<std::mutex> g(mu_);
  return sync_latency_;
}

std::map<std::string, TopicCounters> Shard::TopicTotals() const {
  std::lock_guard<std::mutex> g(mu_);
  return topic_totals_;
}

Histogram Shard::SealLatency() const {
  std::lock_guard<std::mutex> g(mu_);
  return seal_latency_;
}

void Shard::Publish(size_t i, bool released) {
  auto& p = *pipelines_[i];
  published_[i] = p.seal_count();
  PartitionDelta d = p.TakeDelta();
  std::lock_guard<std::mutex> g(mu_);
  updates_.push_back({p.task().topic, std::move(d), released});
}

// Continuous mode: partitions handed over or taken away since the last turn.
Status Shard::ApplyCommands() {
  std::vector<Command> cmds;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (commands_.empty()) return Status::Ok();
    cmds.swap(commands_);
  }
  for (auto& c : cmds) {
    if (c.add) {
      PipelineOptions po = opts_.pipeline;
      po.block_bytes = BlockBytesFor(pipelines_.size() + 1);
      pipelines_.push_back(
          std::make_unique<PartitionPipeline>(std::move(c.task), po, pool_.get(), codec_.get()));
      published_.push_back(pipelines_.back()->seal_count());
      // Where the entry starts (a resumed partition may have gained a gap): published at once.
      Publish(pipelines_.size() - 1, false);
      continue;
    }
    for (size_t i = 0; i < pipelines_.size(); ++i) {
      auto& p = *pipelines_[i];
      if (p.task().topic != c.task.topic || p.task().partition != c.task.partition) continue;
      const int64_t t0 = MonotonicNs();
      Status fs = p.Finish();
      if (!fs.ok())
        return fs.WithContext(p.task().topic + "/" + std::to_string(p.task().partition));
      {
        std::lock_guard<std::mutex> g(mu_);
        seal_latency_.Record(static_cast<uint64_t>((MonotonicNs() - t0) / 1000));
      }
      Publish(i, true);
      retired_[p.task().topic].records += p.records_in();
      retired_[p.task().topic].bytes += p.bytes_in();
      std::erase_if(by_rkt_, [&p](const auto& e) { return e.second == &p; });
      pipelines_.erase(pipelines_.begin() + static_cast<ptrdiff_t>(i));
      published_.erase(published_.begin() + static_cast<ptrdiff_t>(i));
      break;
    }
  }
  progress_.partitions.store(pipelines_.size(), std::memory_order_relaxed);
  return Status::Ok();
}

// Continuous mode, about every flush interval: time-based rolls, the shard's durability point
// (one group commit for all its partitions), and the manifest entries that changed.
Status Shard::Tick() {
  const int64_t now_ms = MonotonicNs() / 1000000;
  progress_.heartbeat_ms.store(now_ms, std::memory_order_relaxed);
  if (now_ms < next_tick_ms_) return Status::Ok();
  next_tick_ms_ = now_ms + flush_interval_ms_.load(std::memory_order_relaxed);
  const int64_t wall_ms = WallClockMs();
  const int64_t roll_ms = roll_interval_ms_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < pipelines_.size(); ++i) {
    auto& p = *pipelines_[i];
    const uint64_t seals = p.seal_count();
    const int64_t t0 = MonotonicNs();
    TM_RETURN_IF_ERROR(p.RollIfOlderThan(wall_ms, roll_ms)
                           .WithContext(p.task().topic + "/" + std::to_string(p.task().partition)));
    if (p.seal_count() != seals) {
      std::lock_guard<std::mutex> g(mu_);
      seal_latency_.Record(static_cast<uint64_t>((MonotonicNs() - t0) / 1000));
    }
  }
  const int64_t t0 = MonotonicNs();
  TM_ASSIGN_OR_RETURN(const bool synced, commit_->Run(pipelines_));
  if (synced) {
    progress_.syncs.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> g(mu_);
    sync_latency_.Record(static_cast<uint64_t>((MonotonicNs() - t0) / 1000));
  }
  for (size_t i = 0; i < pipelines_.size(); ++i) {
    auto& p = *pipelines_[i];
    if (p.seal_count() != published_[i]) {
      progress_.seals.fetch_add(p.seal_count() - published_[i], std::memory_order_relaxed);
      Publish(i, false);
    }
  }
  std::map<std::string, TopicCounters> totals = retired_;
  for (const auto& p : pipelines_) {
    totals[p->task().topic].records += p->records_in();
    totals[p->task().topic].bytes += p->bytes_in();
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    topic_totals_.swap(totals);
  }
  progress_.in_flight.store(io_->in_flight(), std::memory_order_relaxed);
  progress_.pool_in_use.store(pool_->in_use(), std::memory_order_relaxed);
  progress_.sq_full.store(io_->stats().sq_full, std::memory_order_relaxed);
  return Status::Ok();
}

PartitionPipeline* Shard::Find(rd_kafka_message_t* m) {
  if (auto it = by_rkt_.find({m->rkt, m->partition}); it != by_rkt_.end()) return it->second;
  // A partition's first message (or one of a partition this shard no longer owns).
  const char* name = rd_kafka_topic_name(m->rkt);
  for (auto& p : pipelines_) {
    if (p->task().partition == m->partition && p->task().topic == name) {
      by_rkt_.emplace(RktKey{m->rkt, m->partition}, p.get());
      return p.get();
    }
  }
  return nullptr;
}

bool Shard::WaitForQueue(int timeout_ms, Status* st) {
  // While writes are in flight the wait goes in slices of a millisecond, reaping between them:
  // a write's latency is measured until it is reaped (and its buffer is free only then), so a
  // shard waiting for Kafka would otherwise report its wait as disk latency (the 100 ms p99 of
  // block writes seen whenever fetches paused).
  const int64_t until_ns = MonotonicNs() + int64_t{timeout_ms} * 1000000;
  for (;;) {
    const int64_t left_ms = (until_ns - MonotonicNs() + 999999) / 1000000;
    if (left_ms <= 0) return false;
    const bool writing = io_->in_flight() > 0;
    pollfd p{wake_fd_, POLLIN, 0};
    int rc;
    do {
      rc = ::poll(&p, 1, writing ? 1 : static_cast<int>(left_ms));
    } while (rc < 0 && errno == EINTR);
    if (rc > 0) {
      uint64_t events;
      if (::read(wake_fd_, &events, sizeof(events)) < 0) {
        // EAGAIN: another reader took it; the queue is looked at either way.
      }
      return true;
    }
    if (writing) {
      *st = pool_->Poll();
      if (!st->ok()) return true;  // the caller stops on the error
    }
  }
}

void Shard::Pause(const PartitionPipeline& p) {
  rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, p.task().topic.c_str(), p.task().partition);
  rd_kafka_pause_partitions(rk_, l);
  rd_kafka_topic_partition_list_destroy(l);
}

Status Shard::Handle(rd_kafka_message_t* m) {
  PartitionPipeline* p = Find(m);
  if (p == nullptr && opts_.continuous) {
    // Fetched before the partition was taken away (a rebalance): its next owner reads it again
    // from the sealed end.
    return Status::Ok();
  }
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
    // Continuous backup: a jump to at or below the broker's log start means retention deleted
    // records before they were read (the service fell behind): said loudly, and recorded so.
    const char* jump = backup::kGapNotDelivered;
    if (opts_.continuous && m->offset > p->next_offset()) {
      int64_t lo = -1, hi = -1;
      if (rd_kafka_get_watermark_offsets(rk_, p->task().topic.c_str(), m->partition, &lo, &hi) ==
              RD_KAFKA_RESP_ERR_NO_ERROR &&
          lo >= m->offset) {
        jump = backup::kGapLogStart;
        TM_LOG_WARN("%s/%d: offsets %" PRId64 "..%" PRId64
                    " were deleted by retention before they were backed up (log-start gap)",
                    p->task().topic.c_str(), m->partition, p->next_offset(), m->offset - 1);
      }
    }
    // The context is built only for an error: a topic name past the small-string buffer would
    // otherwise allocate for every record.
    if (Status s = p->Append(r, jump); !s.ok())
      return s.WithContext(p->task().topic + "/" + std::to_string(p->task().partition));
    p->CountIn(bytes);
    progress_.records.fetch_add(1, std::memory_order_relaxed);
    progress_.bytes_in.fetch_add(bytes, std::memory_order_relaxed);
  }
  if (!was_done && p->done()) {
    --remaining_;
    progress_.remaining.store(remaining_, std::memory_order_relaxed);
    Pause(*p);
  }
  return Status::Ok();
}

void Shard::Run() {
  if (opts_.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(opts_.cpu, &set);
    if (const int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set); err != 0) {
      TM_LOG_WARN("shard %d: cannot pin its thread to cpu %d (%s); it runs unpinned", opts_.index,
                  opts_.cpu, std::strerror(err));
    }
  }
  char name[16];
  std::snprintf(name, sizeof(name), "tm-shard-%d", opts_.index);
  pthread_setname_np(pthread_self(), name);

  rd_kafka_message_t* msgs[kBatch];
  Status st;
  while (st.ok() && (remaining_ > 0 || opts_.continuous) &&
         !stop_->load(std::memory_order_relaxed)) {
    if (opts_.continuous) st = ApplyCommands();
    if (!st.ok()) break;
    const int timeout_ms =
        opts_.continuous
            ? static_cast<int>(std::clamp<int64_t>(flush_interval_ms_.load(), 1, kPollTimeoutMs))
            : kPollTimeoutMs;
    // What is there, at once: with a timeout, librdkafka 2.0 returns only once the batch is
    // full or the timeout has passed, so the last records before a pause in the fetches (the end
    // of a snapshot, a fetch held back) would wait out the timeout unwritten. Only an empty
    // queue is waited for, and only a wait that timed out counts as idle.
    ssize_t n = rd_kafka_consume_batch_queue(queue_, 0, msgs, kBatch);
    bool idle = false;
    if (n == 0) {
      idle = !WaitForQueue(timeout_ms, &st);
      if (!st.ok()) break;
      if (!idle) n = rd_kafka_consume_batch_queue(queue_, 0, msgs, kBatch);
    }
    if (n < 0) {
      st = Status::Kafka(std::string("consume: ") + rd_kafka_err2str(rd_kafka_last_error()));
      break;
    }
    // A partition is added before it is assigned, so its first records are never ahead of it.
    if (n > 0 && opts_.continuous) st = ApplyCommands();
    for (ssize_t i = 0; i < n; ++i) {
      if (st.ok()) st = Handle(msgs[i]);
      rd_kafka_message_destroy(msgs[i]);
    }
    if (st.ok() && idle && !opts_.continuous) {
      // Idle: nothing fetched for a poll interval. Write out what is held rather than wait.
      for (auto& p : pipelines_) {
        if (st.ok()) st = p->FlushWrites();
      }
    }
    if (st.ok() && opts_.continuous) st = Tick();
    if (st.ok()) st = pool_->Poll();
  }
  if (!st.ok()) TM_LOG_ERROR("shard %d: %s", opts_.index, st.message().c_str());
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
  // Every partition sealed: the journal holds nothing a segment does not. Otherwise it stays for
  // the next start's recovery.
  if (commit_ && std::find(failed_.begin(), failed_.end(), true) == failed_.end() && ds.ok())
    commit_->RemoveJournal();
  if (opts_.continuous) {
    for (size_t i = 0; i < pipelines_.size(); ++i) {
      if (!failed_[i]) Publish(i, true);
    }
  }
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
