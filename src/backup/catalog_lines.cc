#include "backup/catalog_lines.h"

#include <xxhash.h>

#include <cinttypes>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "backup/catalog.h"
#include "backup/json_fields.h"
#include "backup/retention.h"
#include "common/time.h"
#include "tidemark/format.h"

namespace tidemark::backup {

using nlohmann::json;

namespace {

constexpr size_t kHashChars = 16;

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, v);
  return buf;
}

}  // namespace

// "<16 hex XXH3 of the JSON text> <JSON text>\n"
std::string EncodeLine(const json& j) {
  std::string text = j.dump();
  std::string line = Hex64(XXH3_64bits(text.data(), text.size()));
  line.reserve(kHashChars + 2 + text.size());
  line += ' ';
  line += text;
  line += '\n';
  return line;
}

std::vector<CatalogLine> ScanLines(std::string_view data, size_t* valid_bytes) {
  std::vector<CatalogLine> out;
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos) break;
    std::string_view line = data.substr(pos, nl - pos);
    if (line.size() < kHashChars + 3 || line[kHashChars] != ' ') break;
    uint64_t sum = 0;
    bool hex = true;
    for (size_t i = 0; i < kHashChars; ++i) {
      const char c = line[i];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) {
        hex = false;
        break;
      }
      sum = sum << 4 | static_cast<uint64_t>(d);
    }
    std::string_view text = line.substr(kHashChars + 1);
    if (!hex || XXH3_64bits(text.data(), text.size()) != sum) break;
    CatalogLine l;
    l.j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (l.j.is_discarded() || !l.j.is_object() || !l.j.contains("seq") || !l.j.contains("type") ||
        !l.j["type"].is_string())
      break;
    try {
      l.seq = Int<int64_t>(l.j, "seq");
    } catch (const std::exception&) {
      break;
    }
    l.type = l.j["type"].get<std::string>();
    l.begin = pos;
    l.end = nl + 1;
    out.push_back(std::move(l));
    pos = nl + 1;
  }
  *valid_bytes = pos;
  return out;
}

json BackupFields(const Manifest& m) {
  return {{"finished_ms", m.finished_ms},
          {"brokers", m.brokers},
          {"cluster_id", m.cluster_id},
          {"compression", m.compression},
          {"level", m.level}};
}

void ApplyBackup(const json& j, Manifest* m) {
  m->finished_ms = Int<int64_t>(j, "finished_ms");
  m->brokers = j.at("brokers").get<std::string>();
  m->cluster_id = j.at("cluster_id").get<std::string>();
  m->compression = j.at("compression").get<std::string>();
  m->level = Int<int>(j, "level");
}

namespace {

int32_t PartitionOf(const json& j) {
  const int32_t p = Int<int32_t>(j, "partition");
  // FindOrAddPartition raises the partition count to p + 1.
  if (p < 0 || p == std::numeric_limits<int32_t>::max())
    throw std::out_of_range("partition " + std::to_string(p) + " is not a partition number");
  return p;
}

// A "partition" line: the partition's range and totals, and (full) its segments and gaps from
// the given indexes on.

}  // namespace

void ApplyPartition(const json& j, const std::string& topic, Manifest* m, bool full) {
  PartitionManifest& p = FindOrAddPartition(m, topic, PartitionOf(j));
  p.start_offset = Int<int64_t>(j, "start_offset");
  p.end_offset = Int<int64_t>(j, "end_offset");
  p.records = Int<uint64_t>(j, "records");
  p.bytes_raw = Int<uint64_t>(j, "bytes_raw");
  p.bytes_stored = Int<uint64_t>(j, "bytes_stored");
  if (!full) return;
  const uint64_t sf = Int<uint64_t>(j, "segments_from");
  const uint64_t gf = Int<uint64_t>(j, "gaps_from");
  if (sf > p.SegmentCount() || gf > p.gaps.size()) {
    throw std::out_of_range("a line for partition " + std::to_string(p.partition) +
                            " replaces segments from " + std::to_string(sf) + " or gaps from " +
                            std::to_string(gf) + ", past the " + std::to_string(p.SegmentCount()) +
                            " segments and " + std::to_string(p.gaps.size()) + " gaps it has");
  }
  if (sf < p.settled.segments) throw WindowTooNarrow(p.partition, "restates settled segments");
  p.segments.resize(sf - p.settled.segments);
  for (const auto& js : j.at("segments")) p.segments.push_back(SegmentFromJson(js));
  p.gaps.resize(gf);
  for (const auto& jg : j.at("gaps")) p.gaps.push_back(GapFromJson(jg));
}

// A "retention" line: everything below `start` was pruned (ApplyTrim); the line carries the
// totals after it for readers of summaries.
void ApplyRetention(const json& j, const std::string& topic, Manifest* m, bool full) {
  PartitionManifest& p = FindOrAddPartition(m, topic, PartitionOf(j));
  if (!full) {
    p.records = Int<uint64_t>(j, "records");
    p.bytes_raw = Int<uint64_t>(j, "bytes_raw");
    p.bytes_stored = Int<uint64_t>(j, "bytes_stored");
    return;
  }
  const int64_t start = Int<int64_t>(j, "start");
  if (p.settled.segments == 0 || start >= p.settled.end) {
    if (Status s = ApplyTrim(&p, start); !s.ok()) throw std::out_of_range(s.message());
    return;
  }
  // A windowed copy trimmed inside what it does not hold: the line's count and totals after the
  // trim say what stays settled (none of the held segments goes: they start past settled.end).
  if (!j.contains("segments")) throw WindowTooNarrow(p.partition, "trims without a count");
  Settled keep = p.settled;
  p.settled = Settled{};
  if (Status s = ApplyTrim(&p, start); !s.ok()) throw std::out_of_range(s.message());
  p.records = Int<uint64_t>(j, "records");
  p.bytes_raw = Int<uint64_t>(j, "bytes_raw");
  p.bytes_stored = Int<uint64_t>(j, "bytes_stored");
  uint64_t records = 0, raw = 0, stored = 0;
  for (const auto& s : p.segments) {
    records += s.records;
    raw += s.bytes_raw;
    stored += s.bytes_stored;
  }
  const uint64_t count = Int<uint64_t>(j, "segments");
  if (count < p.segments.size() || p.records < records || p.bytes_raw < raw ||
      p.bytes_stored < stored)
    throw std::out_of_range("a retention line's count or totals are below the segments held");
  keep.segments = count - p.segments.size();
  keep.first_max_timestamp.reset();  // the first one kept is not known here (pos stays before it)
  keep.records = p.records - records;
  keep.bytes_raw = p.bytes_raw - raw;
  keep.bytes_stored = p.bytes_stored - stored;
  p.settled = keep.segments > 0 ? keep : Settled{};
}

bool SegmentPathOffset(const std::string& path, const std::string& topic, int32_t partition,
                       int64_t* first) {
  const std::string dir = format::PartitionDir(topic, partition) + "/";
  bool sealed = false;
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         format::ParseSegmentName(path.substr(dir.size()), first, &sealed) && sealed &&
         path == dir + format::SegmentName(*first, true);
}

// A "mark" line: a segment's upload marks.
void ApplyMark(const json& j, const std::string& topic, Manifest* m) {
  const int32_t part = PartitionOf(j);
  const std::string path = j.at("path").get<std::string>();
  auto t = m->topics.find(topic);
  if (t != m->topics.end()) {
    for (auto& p : t->second.partitions) {
      if (p.partition != part) continue;
      for (auto it = p.segments.rbegin(); it != p.segments.rend(); ++it) {
        if (it->path != path) continue;
        it->uploaded_ms = Int<int64_t>(j, "uploaded_ms");
        it->local = j.at("local").get<bool>();
        return;
      }
      // A windowed copy: a mark of a settled segment (its canonical path, inside what is kept)
      // changes nothing it holds.
      int64_t first = -1;
      if (p.settled.segments > 0 && SegmentPathOffset(path, topic, part, &first) &&
          first >= RetentionStart(p) && first < p.settled.end)
        return;
    }
  }
  throw std::out_of_range("a mark names segment '" + path.substr(0, 300) +
                          "', which the catalog does not hold");
}

std::string LineTopic(const json& j) {
  std::string t = j.at("topic").get<std::string>();
  if (!format::IsLegalTopicName(t))
    throw std::invalid_argument("topic name '" + t.substr(0, 300) + "' is not legal");
  return t;
}

json PartitionLine(const std::string& topic, const PartitionManifest& p, size_t sf, size_t gf) {
  if (sf < p.settled.segments)
    throw WindowTooNarrow(p.partition, "cannot restate settled segments");
  json segs = json::array();
  for (size_t i = sf - p.settled.segments; i < p.segments.size(); ++i)
    segs.push_back(SegmentToJson(p.segments[i]));
  json gaps = json::array();
  for (size_t i = gf; i < p.gaps.size(); ++i) gaps.push_back(GapToJson(p.gaps[i]));
  return {{"type", "partition"},
          {"topic", topic},
          {"partition", p.partition},
          {"start_offset", p.start_offset},
          {"end_offset", p.end_offset},
          {"records", p.records},
          {"bytes_raw", p.bytes_raw},
          {"bytes_stored", p.bytes_stored},
          {"segments_from", sf},
          {"segments", std::move(segs)},
          {"gaps_from", gf},
          {"gaps", std::move(gaps)}};
}

json RootHeader(const Manifest& m) {
  json root = BackupFields(m);
  root["format_version"] = kCatalogVersion;
  root["id"] = m.id;
  root["kind"] = m.kind;
  root["started_ms"] = m.started_ms;
  root["started_at"] = FormatRfc3339(m.started_ms);
  root["finished_at"] = FormatRfc3339(m.finished_ms);
  if (!m.groups_note.empty()) root["groups_note"] = m.groups_note;
  return root;
}

void ApplyRootHeader(const json& root, Manifest* m) {
  m->id = root.at("id").get<std::string>();
  m->kind = root.at("kind").get<std::string>();
  m->started_ms = Int<int64_t>(root, "started_ms");
  m->groups_note = root.value("groups_note", "");
  ApplyBackup(root, m);
}

json TopicHeader(const TopicManifest& t) {
  json jt;
  jt["partition_count"] = t.partition_count;
  jt["configs"] = t.configs ? json(*t.configs) : json(nullptr);
  if (!t.configs_note.empty()) jt["configs_note"] = t.configs_note;
  json parts = json::array();
  for (const auto& p : t.partitions) {
    parts.push_back({{"partition", p.partition},
                     {"start_offset", p.start_offset},
                     {"end_offset", p.end_offset},
                     {"records", p.records},
                     {"bytes_raw", p.bytes_raw},
                     {"bytes_stored", p.bytes_stored}});
  }
  jt["partitions"] = std::move(parts);
  return jt;
}

void ApplyTopicHeader(const std::string& name, const json& jt, Manifest* m, bool summaries) {
  TopicManifest& t = m->topics[name];
  t.partition_count = Int<int32_t>(jt, "partition_count");
  if (jt.contains("configs") && !jt.at("configs").is_null())
    t.configs = jt.at("configs").get<std::map<std::string, std::string>>();
  t.configs_note = jt.value("configs_note", "");
  if (summaries)
    for (const auto& jp : jt.at("partitions")) ApplyPartition(jp, name, m, false);
}

Status CheckSummaries(const Manifest& m, const std::string& origin) {
  for (const auto& [name, t] : m.topics) {
    for (const auto& p : t.partitions) {
      if (p.partition >= t.partition_count || p.end_offset < p.start_offset || p.start_offset < 0)
        return Status::Corrupt(origin + ": partition " + name + "/" + std::to_string(p.partition) +
                               ": outside its partition count, or not a range of offsets");
    }
  }
  return Status::Ok();
}

json RetentionLine(const std::string& topic, const PartitionManifest& p, int64_t start,
                   bool count) {
  json l = {{"type", "retention"},           {"topic", topic},
            {"partition", p.partition},      {"start", start},
            {"records", p.records},          {"bytes_raw", p.bytes_raw},
            {"bytes_stored", p.bytes_stored}};
  if (count) l["segments"] = p.SegmentCount();
  return l;
}

}  // namespace tidemark::backup
