#include "backup/catalog.h"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "backup/catalog_files.h"
#include "backup/catalog_lines.h"
#include "backup/json_fields.h"
#include "tidemark/format.h"

namespace tidemark::backup {

namespace fs = std::filesystem;
using catalog_files::ForEachLine;
using catalog_files::IsLogRel;
using catalog_files::ReadFile;
using nlohmann::json;

bool HasCatalog(const std::string& dir) {
  std::error_code ec;
  return fs::exists(dir + "/" + kCatalogDir + "/" + kCatalogRoot, ec);
}

bool HasIndex(const std::string& dir) {
  std::error_code ec;
  return HasCatalog(dir) || fs::exists(dir + "/" + kManifestName, ec);
}

namespace {

Result<Manifest> ReadCatalogIn(const std::string& dir, const ReadScope& scope);

}  // namespace

Result<Manifest> ReadCatalog(const std::string& dir, const ReadScope& scope) {
  if (scope.settle) {
    try {
      return ReadCatalogIn(dir, scope);
    } catch (const WindowTooNarrow&) {
      ReadScope whole = scope;
      whole.settle = nullptr;
      return ReadCatalogIn(dir, whole);
    }
  }
  return ReadCatalogIn(dir, scope);
}

namespace {

Result<Manifest> ReadCatalogIn(const std::string& dir, const ReadScope& scope) {
  const std::string cat = dir + "/" + kCatalogDir;
  const std::string root_path = cat + "/" + kCatalogRoot;
  TM_ASSIGN_OR_RETURN(std::string text, ReadFile(root_path));
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object())
    return Status::Corrupt(root_path + ": not a JSON object");
  auto in_scope = [&scope](const std::string& t) { return scope.Wants(t); };
  const bool full = !scope.summaries_only;
  Manifest m;
  // A windowed read lets the partition's leading settled segments go after each of its lines.
  // Positions are those CatalogWriter::ScanTopic uses: in the topic log, then past its end in
  // the topic's lines of changes.log.
  std::map<std::string, uint64_t> log_bytes;
  // After a partition, retention or mark line (whose partition number the Apply* checked).
  auto settle = [&](const CatalogLine& l, const std::string& topic, uint64_t pos) {
    if (!scope.settle || (l.type != "partition" && l.type != "retention" && l.type != "mark"))
      return;
    PartitionManifest& p = FindOrAddPartition(&m, topic, Int<int32_t>(l.j, "partition"));
    // What settles leaves validation's reach: its segments are checked now.
    if (Status s = ValidateSegments(topic, p, cat); !s.ok())
      throw std::invalid_argument(s.message());
    SettleSegments(&p, scope.settle, pos);
  };
  std::string origin = root_path;
  try {
    const int version = Int<int>(root, "format_version");
    if (version != kCatalogVersion) {
      return Status::Corrupt(root_path + ": catalog format_version " + std::to_string(version) +
                             " is not supported by this tidemark (supports " +
                             std::to_string(kCatalogVersion) + ")");
    }
    ApplyRootHeader(root, &m);
    const int64_t folded = Int<int64_t>(root, "folded_seq");
    Int<uint64_t>(root, "generation");  // what CatalogWriter::Open continues from
    for (const auto& [name, jt] : root.at("topics").items()) {
      if (!format::IsLegalTopicName(name))
        throw std::invalid_argument("topic name '" + name.substr(0, 300) + "' is not legal");
      if (!in_scope(name)) continue;
      ApplyTopicHeader(name, jt, &m, /*summaries=*/!full);
      if (!full) continue;
      const std::string rel = jt.at("log").get<std::string>();
      const uint64_t bytes = Int<uint64_t>(jt, "log_bytes");
      if (!IsLogRel(rel, name))
        throw std::invalid_argument("topic " + name + ": log '" + rel.substr(0, 300) +
                                    "' is not topics/" + name + "/<20 digits>.log");
      origin = cat + "/" + rel;
      int64_t prev = 0;
      log_bytes[name] = bytes;
      const std::string& topic = name;  // a structured binding: not captured by clang 14
      TM_RETURN_IF_ERROR(ForEachLine(origin, 0, bytes, [&](uint64_t pos, const CatalogLine& l) {
        if (l.seq <= prev || l.seq > folded)
          throw std::out_of_range("line seq " + std::to_string(l.seq) + " out of order");
        prev = l.seq;
        if (LineTopic(l.j) != topic) throw std::invalid_argument("a line of another topic");
        if (l.type == "partition")
          ApplyPartition(l.j, topic, &m, true);
        else if (l.type == "retention")
          ApplyRetention(l.j, topic, &m, true);
        else if (l.type == "mark")
          ApplyMark(l.j, topic, &m);
        else
          throw std::invalid_argument("line type '" + l.type.substr(0, 40) + "' in a topic log");
        settle(l, topic, pos);
        return true;
      }));
      origin = root_path;
    }
    origin = cat + "/" + kChangesLog;
    auto changes = ReadFile(origin);
    if (!changes.ok() && !changes.status().Is(Errc::kNotFound)) return changes.status();
    if (changes.ok()) {
      size_t valid = 0;
      int64_t prev = 0;
      std::map<std::string, uint64_t> pending_bytes;  // as CatalogWriter::Open gathers them
      for (const auto& l : ScanLines(*changes, &valid)) {
        if (l.seq <= prev)
          throw std::out_of_range("line seq " + std::to_string(l.seq) + " out of order");
        prev = l.seq;
        if (l.seq <= folded) continue;  // already in the topic logs (a fold ended before the cut)
        if (l.type == "backup") {
          ApplyBackup(l.j, &m);
          continue;
        }
        const std::string topic = LineTopic(l.j);
        if (!in_scope(topic)) continue;
        const uint64_t pos = log_bytes[topic] + pending_bytes[topic];
        if (l.type != "topic") pending_bytes[topic] += l.end - l.begin;
        if (l.type == "topic") {
          m.topics[topic].partition_count = Int<int32_t>(l.j, "partition_count");
        } else if (l.type == "partition") {
          ApplyPartition(l.j, topic, &m, full);
        } else if (l.type == "retention") {
          ApplyRetention(l.j, topic, &m, full);
        } else if (l.type == "mark") {
          if (full) ApplyMark(l.j, topic, &m);
        } else {
          throw std::invalid_argument("line type '" + l.type.substr(0, 40) + "'");
        }
        if (full) settle(l, topic, pos);
      }
    }
    origin = root_path;
    TM_RETURN_IF_ERROR(full ? ValidateManifest(m, cat) : CheckSummaries(m, cat));
    return m;
  } catch (const WindowTooNarrow&) {
    throw;
  } catch (const std::exception& e) {
    return Status::Corrupt(origin + ": " + e.what());
  }
}

}  // namespace

}  // namespace tidemark::backup
