// Shard: one pinned thread that owns a disjoint set of partitions and everything their data
// touches: a librdkafka queue (its partitions' fetch queues are forwarded to it), one io_uring
// backend, a bounded write pool allocated at start, a compression context, and the partitions'
// segment writers. Nothing on the hot path is shared with another shard, so there are no locks.
//
// Lifecycle (main thread): construct -> Init() (before rd_kafka_assign) -> Start() -> Join().
// Between Start and Join the main thread only reads the atomics (progress) and may set the
// stop flag. After Join, results() and status() are the shard's report.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/histogram.h"
#include "config/config.h"
#include "io/io_backend.h"
#include "shard/group_commit.h"
#include "shard/partition_pipeline.h"

namespace tidemark::shard {

struct ShardOptions {
  int index = 0;
  int cpu = -1;  // pin to this CPU; -1: no pinning
  PipelineOptions pipeline;
  format::Codec codec = format::Codec::kZstd;
  int level = 1;
  uint32_t io_depth = 8;
  uint64_t memory_bytes = 256ull << 20;  // staging buffers, split over the shard's partitions
  io::DirectIoMode direct_io = io::DirectIoMode::kAuto;
  // Continuous backup (`tidemark run`): partitions come and go at run time (AddPartition,
  // RemovePartition), the shard runs until stopped, reaches a durability point for all its
  // partitions every flush_interval_ms (group_commit.h) and seals a partition's segment
  // segment_max_interval_ms after its first record.
  bool continuous = false;
};

// Shard `index` of a backup into `dir` as the configuration asks (pinned to the index-th CPU,
// round-robin, of those this process may run on).
ShardOptions ShardOptionsFor(const config::Config& c, const std::string& dir, int index);

// The CPUs this process may run on (sched_getaffinity); every online CPU when that fails.
std::vector<int> AllowedCpus();
// The CPUs a cgroup v2 cpu.max file ("max 100000" or "QUOTA PERIOD") allows: ceil(QUOTA /
// PERIOD), at least 1; 0 when there is no limit or the text is not that form.
int CpusFromCgroupCpuMax(std::string_view text);
// The smallest cpu.max limit of this process's cgroup and its ancestors (/proc/self/cgroup,
// /sys/fs/cgroup); 0 when none limits it.
int CgroupCpuLimit();
// The CPUs this process can use: those its affinity mask allows, capped by its cgroup's CPU
// quota (a 2-CPU container on a 64-core host gets 2), at least 1. Shards when [backup] shards = 0
// and restore threads when [restore] threads = 0.
int UsableCpus();

// Continuous mode: what changed in a partition's manifest entry since the shard's last update of
// it (at a seal, when the partition is added, and a last one when it is released). The receiver
// appends it to the entry it holds (ApplyDelta): updates of a partition must be applied in the
// order TakeUpdates returns them, each once.
struct PartitionUpdate {
  std::string topic;
  PartitionDelta delta;
  bool released = false;  // the shard no longer owns the partition; this is its last update
};

struct TopicCounters {
  uint64_t records = 0;
  uint64_t bytes = 0;
};

struct ShardProgress {
  std::atomic<uint64_t> records{0};
  std::atomic<uint64_t> bytes_in{0};  // key + value + header bytes consumed
  std::atomic<bool> finished{false};
  std::atomic<int64_t> heartbeat_ms{0};  // monotonic ms of the shard loop's last turn
  std::atomic<uint64_t> syncs{0};        // durability points reached (continuous mode)
  std::atomic<uint64_t> seals{0};
  std::atomic<uint64_t> partitions{0};
  std::atomic<uint64_t> remaining{0};  // snapshot: partitions not yet read to their end
  // I/O, refreshed every tick: writes in flight, pool buffers held or in flight (of io_depth),
  // and how often the io_uring submission queue was full.
  std::atomic<uint64_t> in_flight{0};
  std::atomic<uint64_t> pool_in_use{0};
  std::atomic<uint64_t> sq_full{0};
};

// The stable rule that spreads partitions over shards: a topic's partitions go round-robin from
// a start chosen by the topic name's XXH3 (fixed across builds and platforms, unlike std::hash),
// so a partition lands on the same shard whatever else is being backed up.
int ShardOf(const std::string& topic, int32_t partition, int shards);

class Shard {
 public:
  Shard(ShardOptions o, rd_kafka_t* rk, std::vector<PartitionTask> tasks, std::atomic<bool>* stop);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Sets up the I/O backend, the pool and the queue forwarding. Call before rd_kafka_assign.
  Status Init();
  void Start();
  void Join();

  const ShardProgress& progress() const { return progress_; }
  const Status& status() const { return status_; }
  // Snapshot: every partition's manifest entry (continuous mode publishes deltas instead).
  std::vector<backup::PartitionManifest> results() const;
  // Partitions that did not reach their end offset, as "topic/partition (at offset N of M)".
  std::vector<std::string> Incomplete() const;
  std::string io_description() const { return io_description_; }
  const Histogram& write_latency() const { return latency_; }
  // Records (and events) waiting in the shard's queue; callable from any thread after Init().
  size_t QueueLength() const { return queue_ != nullptr ? rd_kafka_queue_length(queue_) : 0; }

  // Sends the partition's fetch queue to this shard; call before the partition is assigned.
  // Init() does it for the shard's tasks; in continuous mode, callable from any thread.
  Status Forward(const std::string& topic, int32_t partition);

  // Continuous mode; callable from any thread while the shard runs.
  void AddPartition(PartitionTask t);
  // The partition's open segment is sealed and the partition dropped; its final entry comes
  // through TakeUpdates with released = true.
  void RemovePartition(const std::string& topic, int32_t partition);
  std::vector<PartitionUpdate> TakeUpdates();
  // Settings a reload may change.
  void SetIntervals(int64_t flush_interval_ms, int64_t segment_max_interval_ms);
  // Latency of the shard's durability points (journal frame write and fsync with the segments'
  // fsyncs, all awaited together; one observation per point), and of seals, in us.
  Histogram SyncLatency() const;
  Histogram SealLatency() const;
  // Records and bytes consumed per topic since the shard started (refreshed every tick).
  std::map<std::string, TopicCounters> TopicTotals() const;

 private:
  void Run();
  Status Handle(rd_kafka_message_t* m);
  PartitionPipeline* Find(rd_kafka_message_t* m);
  void Pause(const PartitionPipeline& p);
  // Waits up to timeout_ms for something to arrive on the (empty) queue, reaping write
  // completions meanwhile; false when nothing arrived. A failed reap is put in *st.
  bool WaitForQueue(int timeout_ms, Status* st);
  Status ApplyCommands();
  Status Tick();
  // Continuous: queues what changed in pipeline i's entry since its last publish (TakeUpdates).
  void Publish(size_t i, bool released);
  size_t BlockBytesFor(size_t partitions) const;

  ShardOptions opts_;
  rd_kafka_t* rk_;
  std::vector<PartitionTask> tasks_;
  std::atomic<bool>* stop_;
  rd_kafka_queue_t* queue_ = nullptr;
  int wake_fd_ = -1;  // eventfd librdkafka writes when the queue stops being empty
  std::unique_ptr<io::IoBackend> io_;
  std::unique_ptr<segment::WritePool> pool_;
  std::unique_ptr<segment::BlockCodec> codec_;
  std::unique_ptr<GroupCommit> commit_;  // continuous mode: durability points and the journal
  std::vector<std::unique_ptr<PartitionPipeline>> pipelines_;
  // Message -> pipeline by librdkafka's topic handle and partition: filled at a partition's first
  // message, emptied when a partition goes, so that each record's lookup is O(1).
  struct RktKey {
    const rd_kafka_topic_t* rkt;
    int32_t partition;
    bool operator==(const RktKey&) const = default;
  };
  struct RktHash {
    size_t operator()(const RktKey& k) const noexcept {
      return std::hash<const void*>()(k.rkt) ^
             (static_cast<size_t>(k.partition) * 0x9E3779B97F4A7C15ull);
    }
  };
  std::unordered_map<RktKey, PartitionPipeline*, RktHash> by_rkt_;
  std::vector<bool> failed_;  // per pipeline: Finish() failed (set on the shard thread)
  std::vector<HeaderView> header_scratch_;
  size_t block_bytes_ = 0;
  size_t remaining_ = 0;
  std::thread thread_;
  ShardProgress progress_;
  Status status_;
  std::string io_description_;
  Histogram latency_;

  // Continuous mode.
  struct Command {
    bool add = false;
    PartitionTask task;
  };
  mutable std::mutex mu_;  // guards commands_, updates_, sync_latency_, seal_latency_
  std::vector<Command> commands_;
  std::vector<PartitionUpdate> updates_;
  Histogram sync_latency_;
  Histogram seal_latency_;
  std::map<std::string, TopicCounters> retired_;       // of partitions removed (shard thread)
  std::map<std::string, TopicCounters> topic_totals_;  // guarded by mu_
  std::vector<uint64_t> published_;                    // per pipeline: seal_count() last published
  std::atomic<int64_t> flush_interval_ms_{1000};
  std::atomic<int64_t> roll_interval_ms_{60000};
  int64_t next_tick_ms_ = 0;
};

}  // namespace tidemark::shard
