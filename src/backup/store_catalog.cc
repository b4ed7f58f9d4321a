#include "backup/store_catalog.h"

#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "backup/catalog.h"
#include "backup/catalog_lines.h"
#include "backup/json_fields.h"
#include "common/time.h"
#include "tidemark/format.h"

namespace tidemark::backup {

using nlohmann::json;

namespace {

// Chunks a root may name: enough for years of merges (a merge keeps them O(log n)), far below
// what would make a crafted root a denial of service.
constexpr size_t kMaxChunks = 4096;

}  // namespace

std::string StoreChunkName(uint64_t serial) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s/%020" PRIu64 ".log", kStoreChunksDir, serial);
  return buf;
}

bool IsStoreChunkName(const std::string& name) {
  const std::string prefix = std::string(kStoreChunksDir) + "/";
  if (name.size() != prefix.size() + 24 || name.compare(0, prefix.size(), prefix) != 0)
    return false;
  for (size_t i = prefix.size(); i < prefix.size() + 20; ++i)
    if (name[i] < '0' || name[i] > '9') return false;
  return name.compare(prefix.size() + 20, 4, ".log") == 0;
}

std::string StoreRootJson(const Manifest& summary, const std::vector<StoreChunk>& chunks) {
  json root;
  root["format_version"] = kCatalogVersion;
  root["index"] = "store";
  root["id"] = summary.id;
  root["kind"] = summary.kind;
  root["started_ms"] = summary.started_ms;
  root["started_at"] = FormatRfc3339(summary.started_ms);
  const json fields = BackupFields(summary);
  for (const auto& [k, v] : fields.items()) root[k] = v;
  root["finished_at"] = FormatRfc3339(summary.finished_ms);
  if (!summary.groups_note.empty()) root["groups_note"] = summary.groups_note;
  json topics = json::object();
  for (const auto& [name, t] : summary.topics) {
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
    topics[name] = std::move(jt);
  }
  root["topics"] = std::move(topics);
  json jc = json::array();
  for (const auto& c : chunks) jc.push_back({{"name", c.name}, {"bytes", c.bytes}});
  root["chunks"] = std::move(jc);
  return root.dump(1) + "\n";
}

std::string StoreBaseChunk(const Manifest& view, int64_t* seq) {
  std::string out;
  for (const auto& [name, t] : view.topics) {  // partition counts are the root's
    for (const auto& p : t.partitions) {
      json l = PartitionLine(name, p, 0, 0);
      l["seq"] = (*seq)++;
      out += EncodeLine(l);
    }
  }
  return out;
}

Result<Manifest> ReadStoreCatalog(const std::string& root_text, const std::string& origin,
                                  const ReadScope& scope, const FetchChunk& fetch) {
  json root = json::parse(root_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object())
    return Status::Corrupt(origin + ": not a JSON object");
  const bool full = !scope.summaries_only;
  std::string where = origin;
  try {
    const int version = Int<int>(root, "format_version");
    if (version != kCatalogVersion || root.value("index", "") != "store") {
      return Status::Corrupt(origin + ": not a store catalog of format_version " +
                             std::to_string(kCatalogVersion) + " (this tidemark reads those)");
    }
    Manifest m;
    m.id = root.at("id").get<std::string>();
    m.kind = root.at("kind").get<std::string>();
    m.started_ms = Int<int64_t>(root, "started_ms");
    m.groups_note = root.value("groups_note", "");
    ApplyBackup(root, &m);
    for (const auto& [name, jt] : root.at("topics").items()) {
      if (!format::IsLegalTopicName(name))
        throw std::invalid_argument("topic name '" + name.substr(0, 300) + "' is not legal");
      if (!scope.Wants(name)) continue;
      TopicManifest& t = m.topics[name];
      t.partition_count = Int<int32_t>(jt, "partition_count");
      if (jt.contains("configs") && !jt.at("configs").is_null())
        t.configs = jt.at("configs").get<std::map<std::string, std::string>>();
      t.configs_note = jt.value("configs_note", "");
      if (!full)
        for (const auto& jp : jt.at("partitions")) ApplyPartition(jp, name, &m, false);
    }
    if (full) {
      const json& chunks = root.at("chunks");
      if (!chunks.is_array() || chunks.size() > kMaxChunks)
        throw std::invalid_argument("\"chunks\" is not a list of at most " +
                                    std::to_string(kMaxChunks));
      int64_t prev = 0;
      for (const auto& jc : chunks) {
        const std::string name = jc.at("name").get<std::string>();
        const uint64_t bytes = Int<uint64_t>(jc, "bytes");
        if (!IsStoreChunkName(name))
          throw std::invalid_argument("chunk '" + name.substr(0, 300) +
                                      "' is not chunks/<20 digits>.log");
        where = origin + " (chunk " + name + ")";
        TM_ASSIGN_OR_RETURN(std::string data, fetch(name));
        size_t valid = 0;
        std::vector<CatalogLine> lines = ScanLines(data, &valid);
        if (valid != data.size() || data.size() != bytes) {
          return Status::Corrupt(where + ": " + std::to_string(data.size()) +
                                 " bytes, the root says " + std::to_string(bytes) + "; line " +
                                 std::to_string(lines.size() + 1) +
                                 " is damaged or cut short (checksum or JSON)");
        }
        for (const auto& l : lines) {
          if (l.seq <= prev)
            throw std::out_of_range("line seq " + std::to_string(l.seq) + " out of order");
          prev = l.seq;
          if (l.type == "backup") {
            ApplyBackup(l.j, &m);
            continue;
          }
          const std::string topic = LineTopic(l.j);
          if (!scope.Wants(topic)) continue;
          if (m.topics.count(topic) == 0)
            throw std::invalid_argument("a line of topic " + topic + ", which the root lacks");
          if (l.type == "topic")
            m.topics[topic].partition_count = Int<int32_t>(l.j, "partition_count");
          else if (l.type == "partition")
            ApplyPartition(l.j, topic, &m, true);
          else if (l.type == "retention")
            ApplyRetention(l.j, topic, &m, true);
          else
            throw std::invalid_argument("line type '" + l.type.substr(0, 40) + "' in a chunk");
        }
      }
      where = origin;
      TM_RETURN_IF_ERROR(ValidateManifest(m, origin));
    } else {
      for (const auto& [name, t] : m.topics) {
        for (const auto& p : t.partitions) {
          if (p.partition >= t.partition_count || p.end_offset < p.start_offset ||
              p.start_offset < 0)
            return Status::Corrupt(origin + ": partition " + name + "/" +
                                   std::to_string(p.partition) +
                                   ": outside its partition count, or not a range of offsets");
        }
      }
    }
    return m;
  } catch (const std::exception& e) {
    return Status::Corrupt(where + ": " + e.what());
  }
}

}  // namespace tidemark::backup
