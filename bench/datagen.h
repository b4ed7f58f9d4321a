// Synthetic records for benchmarks: JSON-like values with realistic repetition (field names,
// enumerations, numbers), keys from a bounded cardinality, and one or two headers. Deterministic
// for a seed, so runs compare like with like.
#pragma once

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "tidemark/record.h"

namespace tidemark::bench {

struct SyntheticRecord {
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

// `count` distinct records of about `value_bytes` each, to be cycled through.
inline std::vector<SyntheticRecord> MakeRecords(size_t count, size_t value_bytes,
                                                uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  static const char* kStatus[] = {"created", "paid", "shipped", "delivered", "refunded"};
  static const char* kRegion[] = {"eu-west-1", "us-east-1", "ap-south-1", "sa-east-1"};
  std::vector<SyntheticRecord> out(count);
  for (size_t i = 0; i < count; ++i) {
    auto& r = out[i];
    r.key = "customer-" + std::to_string(rng() % 100000);
    std::string v = "{";
    while (v.size() < value_bytes) {
      char field[160];
      std::snprintf(field, sizeof(field),
                    "\"order_id\":%llu,\"status\":\"%s\",\"region\":\"%s\",\"amount_cents\":%llu,"
                    "\"sku\":\"SKU-%05llu\",",
                    static_cast<unsigned long long>(rng() % 100000000), kStatus[rng() % 5],
                    kRegion[rng() % 4], static_cast<unsigned long long>(rng() % 1000000),
                    static_cast<unsigned long long>(rng() % 20000));
      v += field;
    }
    v.resize(value_bytes > 1 ? value_bytes - 1 : 0);
    v += "}";
    r.value = std::move(v);
    r.headers = {{"trace-id", std::to_string(rng())}, {"source", "checkout"}};
  }
  return out;
}

// A view of r at `offset`; `scratch` holds the header views.
inline RecordView ViewOf(const SyntheticRecord& r, int64_t offset, int64_t ts,
                         std::vector<HeaderView>* scratch) {
  scratch->clear();
  for (const auto& [n, v] : r.headers) scratch->push_back({n, Bytes::Of(v)});
  RecordView view;
  view.offset = offset;
  view.timestamp = ts;
  view.key = Bytes::Of(r.key);
  view.value = Bytes::Of(r.value);
  view.headers = *scratch;
  return view;
}

}  // namespace tidemark::bench
