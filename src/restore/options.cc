// Restore options and the small pure functions behind them: flag parsing, offset translation,
// Kafka's partitioner.
#include <librdkafka/rdkafka.h>

#include <algorithm>

#include "config/config.h"
#include "restore/restore.h"

namespace tidemark::restore {

// --- argument parsing ------------------------------------------------------------------------

std::optional<int64_t> OffsetBound::For(const std::string& topic, int32_t partition) const {
  auto it = per_partition.find({topic, partition});
  if (it != per_partition.end()) return it->second;
  return all;
}

namespace {

Result<int64_t> ParseOffset(const std::string& flag, const std::string& s) {
  size_t used = 0;
  int64_t v = -1;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty() || v < 0) {
    return Status::Config(flag + ": '" + s + "' is not an offset (a whole number, 0 or more)");
  }
  return v;
}

}  // namespace

Result<OffsetBound> ParseOffsetBound(const std::string& flag, const std::string& text) {
  OffsetBound b;
  for (const auto& part : config::SplitList(text)) {
    const size_t eq = part.find('=');
    if (eq == std::string::npos) {
      TM_ASSIGN_OR_RETURN(int64_t v, ParseOffset(flag, part));
      b.all = v;
      continue;
    }
    const std::string tp = part.substr(0, eq);
    const size_t colon = tp.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      return Status::Config(flag + ": '" + part +
                            "' must be N (every partition) or TOPIC:PARTITION=N");
    }
    TM_ASSIGN_OR_RETURN(int64_t p, ParseOffset(flag, tp.substr(colon + 1)));
    TM_ASSIGN_OR_RETURN(int64_t v, ParseOffset(flag, part.substr(eq + 1)));
    b.per_partition[{tp.substr(0, colon), static_cast<int32_t>(p)}] = v;
  }
  return b;
}

Result<std::map<std::string, std::string>> ParseTopicMap(const std::string& text) {
  std::map<std::string, std::string> m;
  for (const auto& part : config::SplitList(text)) {
    const size_t eq = part.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == part.size()) {
      return Status::Config("--topic-map: '" + part + "' must be SOURCE=TARGET");
    }
    const std::string src = part.substr(0, eq);
    if (m.count(src)) return Status::Config("--topic-map names " + src + " twice");
    m[src] = part.substr(eq + 1);
  }
  return m;
}

RecordFilter FilterFor(const RestoreOptions& o, const std::string& topic, int32_t partition) {
  RecordFilter f;
  f.from_ms = o.from_ms;
  f.to_ms = o.to_ms;
  f.from_offset = o.from_offset.For(topic, partition).value_or(0);
  f.to_offset = o.to_offset.For(topic, partition).value_or(INT64_MAX);
  return f;
}

int64_t TranslateOffset(const std::vector<OffsetRun>& runs, int64_t committed, int64_t target_end) {
  // Runs are in source order; the first one that ends past the committed offset holds the
  // first restored record at or after it.
  auto it = std::partition_point(runs.begin(), runs.end(), [&](const OffsetRun& r) {
    return r.source + r.count <= committed;
  });
  if (it == runs.end()) return target_end;
  if (committed <= it->source) return it->target;
  return it->target + (committed - it->source);
}

int32_t KafkaPartitionForKey(const void* key, size_t len, int32_t partitions) {
  return rd_kafka_msg_partitioner_murmur2(nullptr, key, len, partitions, nullptr, nullptr);
}

bool RestoreReport::damaged() const {
  return std::any_of(partitions.begin(), partitions.end(),
                     [](const PartitionResult& p) { return !p.damage.empty(); });
}

}  // namespace tidemark::restore
