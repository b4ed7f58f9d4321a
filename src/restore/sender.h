// The producing side of a restore: the target partitions, the idempotent producer, the pool of
// decompressed blocks whose values are produced without a copy, delivery accounting and rate
// limits.
//
// Thread contract: reader threads call Produce() and RateLimiter::Take(); the thread that polls
// the producer runs the delivery callback, which alone touches Target::delivered and
// Shared::delivered*. A Target's `routed` belongs to the one reader thread that feeds it.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kafka/kafka.h"
#include "restore/restore.h"
#include "tidemark/record.h"

namespace tidemark::restore {

// Token buckets for bytes/s and records/s, shared by the reader threads. A taker may run into
// debt (a record larger than the bucket still goes) and then sleeps the debt off, so over any
// window the records and bytes sent stay within rate x window + one bucket (100 ms worth).
class RateLimiter {
 public:
  RateLimiter(uint64_t bytes_per_s, uint64_t records_per_s)
      : bytes_(bytes_per_s), records_(records_per_s) {}
  bool enabled() const { return bytes_.rate > 0 || records_.rate > 0; }
  void Take(uint64_t records, uint64_t bytes, const std::atomic<bool>& stop);

 private:
  struct Bucket {
    explicit Bucket(uint64_t r) : rate(static_cast<double>(r)), cap(rate / 10), tokens(cap) {}
    double Take(double n, int64_t now);  // seconds to wait to pay off the debt
    double rate, cap, tokens;
    int64_t last = 0;
  };
  std::mutex mu_;
  Bucket bytes_, records_;
};

// One target partition.
struct Target {
  std::string topic;
  int32_t partition = 0;
  rd_kafka_topic_t* rkt = nullptr;
  int64_t base = 0;     // high-water mark before the first run (from the state file)
  int64_t landed = 0;   // records an earlier run landed: high-water mark now - base
  uint64_t routed = 0;  // records of this restore's order that reached this partition so far
  uint64_t delivered = 0;
};

// The target partitions of one target topic, by partition number: the topic handle's opaque,
// so a delivery report finds its Target without a lookup table.
using TopicTargets = std::vector<Target*>;

// A decompressed block whose records are in the producer's hands. Values are produced straight
// from it (no copy per record); each produced record holds a reference, the reader one more
// while it walks the block, and the last release returns the buffer to the pool.
class BlockPool;
struct BlockRef {
  std::vector<uint8_t> data;
  std::atomic<uint32_t> refs{0};
  BlockPool* pool = nullptr;
  uint64_t counted = 0;  // what the pool counts for its buffer (pool's lock)
};

// Bounded: a new block is made only while the blocks' buffers hold under `budget_bytes` in all
// (or fewer than `min_blocks` exist, what the reader threads may hold at once); beyond that a
// reader waits for a delivery report to free one, so memory follows the budget, not how far
// the producer lags the readers.
class BlockPool {
 public:
  // Before the first Get.
  void Limit(uint64_t budget_bytes, size_t min_blocks) {
    budget_bytes_ = budget_bytes;
    min_blocks_ = min_blocks;
  }
  // A block with one reference, the caller's; null once `stopping` says so while it waits.
  BlockRef* Get(const std::function<bool()>& stopping);
  static void Release(BlockRef* b);
  // `b` (the caller's, from Get) now holds a decompressed block: its buffer is counted at its
  // capacity from now on, not at the estimate it was made with.
  void Filled(BlockRef* b);
  // The blocks made, and the most their buffers held at once (at most the budget, give or take
  // one block per reader thread, but for min_blocks).
  size_t blocks() const;
  uint64_t peak_bytes() const;

 private:
  void Put(BlockRef* b);
  void Count(BlockRef* b);  // under mu_
  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<BlockRef>> all_;
  std::vector<BlockRef*> free_;
  uint64_t budget_bytes_ = RestoreOptions{}.block_pool_bytes;
  size_t min_blocks_ = 1;
  uint64_t bytes_ = 0;  // the buffers' capacities as of their last return (new ones: estimate_)
  uint64_t estimate_ = 1ull << 20;  // a new block's: the largest buffer returned so far
  uint64_t peak_bytes_ = 0;
};

// Shared by the reader threads, the delivery callback and the main loop.
struct Shared {
  rd_kafka_t* rk = nullptr;
  std::atomic<bool> abort{false};
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> produced{0}, produced_bytes{0};
  uint64_t delivered = 0, delivered_bytes = 0;  // polling thread only
  kafka::ErrorState errors;

  void Fail(const std::string& what);  // the first failure wins; stops the readers
  std::string Error();

 private:
  std::mutex mu_;
  std::string first_error_;
};

// The restore producer: idempotent, acks=all, gapless, no topic auto-creation, big lz4 batches,
// an 8 MiB queue; then `o.properties`. Delivery reports go to `sh`.
Result<rd_kafka_t*> MakeProducer(const RestoreOptions& o, Shared* sh);

// Bytes of a record's key, value and header names and values (what rate limits count).
uint64_t RecordBytes(const RecordView& r);

// Produces `r` to `t` with its value pointed at inside `block` (one reference taken until the
// delivery report). Blocks while the producer queue is full. A failure fails `sh`.
void Produce(Shared* sh, Target* t, const PartitionResult& source, const RecordView& r,
             uint64_t bytes, BlockRef* block);

}  // namespace tidemark::restore
