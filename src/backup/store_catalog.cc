#include "backup/store_catalog.h"

#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "backup/catalog.h"
#include "backup/catalog_lines.h"
#include "backup/json_fields.h"
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
  json root = RootHeader(summary);
  root["index"] = "store";
  json topics = json::object();
  for (const auto& [name, t] : summary.topics) topics[name] = TopicHeader(t);
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
    ApplyRootHeader(root, &m);
    for (const auto& [name, jt] : root.at("topics").items()) {
      if (!format::IsLegalTopicName(name))
        throw std::invalid_argument("topic name '" + name.substr(0, 300) + "' is not legal");
      if (scope.Wants(name)) ApplyTopicHeader(name, jt, &m, /*summaries=*/!full);
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
      TM_RETURN_IF_ERROR(CheckSummaries(m, origin));
    }
    return m;
  } catch (const std::exception& e) {
    return Status::Corrupt(where + ": " + e.what());
  }
}

}  // namespace tidemark::backup
