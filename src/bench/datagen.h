// Synthetic records for benchmarks. Deterministic for a seed, so runs compare like with like.
//
//   json    JSON-like values with realistic repetition (field names, enumerations, numbers):
//           compresses about 3-5x with zstd -1, like typical event streams
//   text    English-like words from a small vocabulary: compresses about 2-3x
//   random  random bytes: does not compress
//
// Keys come from a bounded cardinality ("customer-N", N < keys); every record has two headers.
#pragma once

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tidemark/record.h"
#include "tidemark/status.h"

namespace tidemark::bench {

enum class DataKind { kJson, kText, kRandom };

inline bool ParseDataKind(std::string_view s, DataKind* out) {
  if (s == "json")
    *out = DataKind::kJson;
  else if (s == "text")
    *out = DataKind::kText;
  else if (s == "random")
    *out = DataKind::kRandom;
  else
    return false;
  return true;
}
inline const char* DataKindName(DataKind k) {
  return k == DataKind::kJson ? "json" : k == DataKind::kText ? "text" : "random";
}

struct SyntheticRecord {
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

// `count` distinct records of `value_bytes` each (values hold no tab or newline, so they can be
// fed to kcat line by line), to be cycled through.
inline std::vector<SyntheticRecord> MakeRecords(size_t count, size_t value_bytes, uint64_t seed = 1,
                                                DataKind kind = DataKind::kJson,
                                                uint64_t keys = 100000) {
  std::mt19937_64 rng(seed);
  static const char* kStatus[] = {"created", "paid", "shipped", "delivered", "refunded"};
  static const char* kRegion[] = {"eu-west-1", "us-east-1", "ap-south-1", "sa-east-1"};
  static const char* kWords[] = {"the",   "order", "was",   "shipped", "to",      "customer",
                                 "and",   "paid",  "with",  "card",    "after",   "a",
                                 "delay", "of",    "two",   "days",    "because", "stock",
                                 "ran",   "low",   "in",    "the",     "north",   "warehouse",
                                 "so",    "we",    "moved", "it",      "from",    "south"};
  std::vector<SyntheticRecord> out(count);
  for (size_t i = 0; i < count; ++i) {
    auto& r = out[i];
    r.key = "customer-" + std::to_string(rng() % (keys == 0 ? 1 : keys));
    std::string v;
    switch (kind) {
      case DataKind::kJson:
        v = "{";
        while (v.size() < value_bytes) {
          char field[160];
          std::snprintf(
              field, sizeof(field),
              "\"order_id\":%llu,\"status\":\"%s\",\"region\":\"%s\",\"amount_cents\":%llu,"
              "\"sku\":\"SKU-%05llu\",",
              static_cast<unsigned long long>(rng() % 100000000), kStatus[rng() % 5],
              kRegion[rng() % 4], static_cast<unsigned long long>(rng() % 1000000),
              static_cast<unsigned long long>(rng() % 20000));
          v += field;
        }
        v.resize(value_bytes > 1 ? value_bytes - 1 : 0);
        v += "}";
        break;
      case DataKind::kText:
        while (v.size() < value_bytes) {
          v += kWords[rng() % (sizeof(kWords) / sizeof(kWords[0]))];
          v += ' ';
        }
        v.resize(value_bytes);
        break;
      case DataKind::kRandom:
        v.resize(value_bytes);
        for (auto& c : v) {
          // Any byte but tab and newline (kcat's delimiters), so the same data feeds kcat.
          c = static_cast<char>(rng() % 256);
          if (c == '\t' || c == '\n') c = ' ';
        }
        break;
    }
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
