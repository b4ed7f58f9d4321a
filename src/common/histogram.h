// A small fixed-size latency histogram (log-linear buckets, no allocation after construction).
// Values are in microseconds by convention of the callers. Not thread-safe: one per shard;
// merge after the shards have stopped.
#pragma once

#include <array>
#include <cstdint>

namespace tidemark {

class Histogram {
 public:
  void Record(uint64_t v);
  void Merge(const Histogram& o);
  // Value at quantile q in [0, 1], as the upper bound of its bucket.
  uint64_t Quantile(double q) const;
  uint64_t count() const { return count_; }
  uint64_t sum() const { return sum_; }  // of the values recorded
  uint64_t max() const { return max_; }

 private:
  // 8 sub-buckets per power of two up to 2^40: relative error under 12.5%.
  static constexpr int kSub = 8;
  static constexpr int kBuckets = 41 * kSub;
  static int BucketOf(uint64_t v);
  static uint64_t UpperBound(int b);
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

}  // namespace tidemark
