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
#include <memory>
#include <thread>
#include <vector>

#include "common/histogram.h"
#include "config/config.h"
#include "io/io_backend.h"
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
};

struct ShardProgress {
  std::atomic<uint64_t> records{0};
  std::atomic<uint64_t> bytes_in{0};  // key + value + header bytes consumed
  std::atomic<bool> finished{false};
};

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
  std::vector<backup::PartitionManifest> results() const;
  // Partitions that did not reach their end offset, as "topic/partition (at offset N of M)".
  std::vector<std::string> Incomplete() const;
  std::string io_description() const { return io_description_; }
  const Histogram& write_latency() const { return latency_; }

 private:
  void Run();
  Status Handle(rd_kafka_message_t* m);
  PartitionPipeline* Find(rd_kafka_message_t* m);
  void Pause(const PartitionPipeline& p);

  ShardOptions opts_;
  rd_kafka_t* rk_;
  std::vector<PartitionTask> tasks_;
  std::atomic<bool>* stop_;
  rd_kafka_queue_t* queue_ = nullptr;
  std::unique_ptr<io::IoBackend> io_;
  std::unique_ptr<segment::WritePool> pool_;
  std::unique_ptr<segment::BlockCodec> codec_;
  std::vector<std::unique_ptr<PartitionPipeline>> pipelines_;
  std::vector<rd_kafka_topic_t*> rkts_;  // cached per pipeline after the first message
  std::vector<bool> failed_;             // per pipeline: Finish() failed (set on the shard thread)
  std::vector<HeaderView> header_scratch_;
  size_t block_bytes_ = 0;
  size_t remaining_ = 0;
  std::thread thread_;
  ShardProgress progress_;
  Status status_;
  std::string io_description_;
  Histogram latency_;
};

}  // namespace tidemark::shard
