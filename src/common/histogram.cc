#include "common/histogram.h"

#include <algorithm>
#include <bit>

namespace tidemark {

int Histogram::BucketOf(uint64_t v) {
  if (v < kSub) return static_cast<int>(v);
  const int msb = 63 - std::countl_zero(v);  // >= 3
  const int shift = msb - 3;
  const int sub = static_cast<int>((v >> shift) & (kSub - 1));
  const int b = (msb - 2) * kSub + sub;
  return std::min(b, kBuckets - 1);
}

uint64_t Histogram::UpperBound(int b) {
  if (b < kSub) return static_cast<uint64_t>(b);
  const int msb = b / kSub + 2;
  const int sub = b % kSub;
  const int shift = msb - 3;
  return ((static_cast<uint64_t>(kSub + sub) + 1) << shift) - 1;
}

void Histogram::Record(uint64_t v) {
  ++counts_[static_cast<size_t>(BucketOf(v))];
  ++count_;
  sum_ += v;
  max_ = std::max(max_, v);
}

void Histogram::Merge(const Histogram& o) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  max_ = std::max(max_, o.max_);
}

uint64_t Histogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  const uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += counts_[static_cast<size_t>(b)];
    if (seen >= rank) return std::min(UpperBound(b), max_);
  }
  return max_;
}

}  // namespace tidemark
