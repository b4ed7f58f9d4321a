#include "restore/state.h"

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "backup/json_fields.h"
#include "backup/manifest.h"
#include "tidemark/format.h"

namespace tidemark::restore {

namespace fs = std::filesystem;
using nlohmann::json;

Result<State> ReadState(const std::string& dir) {
  State s;
  const std::string path = dir + "/state.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) return s;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::Errno(errno, "open " + path);
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  std::fclose(f);
  json j = json::parse(text, nullptr, false);
  try {
    if (j.is_discarded()) throw std::runtime_error("not valid JSON");
    s.exists = true;
    s.complete = j.at("complete").get<bool>();
    // Integers through the checked reader: a float or an out-of-range number is damage, not
    // undefined behaviour.
    s.created_ms = backup::Int<int64_t>(j, "created_ms");
    for (const auto& t : j.at("targets")) {
      s.bases[{t.at("topic").get<std::string>(), backup::Int<int32_t>(t, "partition")}] =
          backup::Int<int64_t>(t, "base");
    }
  } catch (const std::exception& e) {
    return Status::Corrupt(path + ": " + e.what() +
                           "; it records where an earlier run of this restore started: restore "
                           "it, or remove the directory to start over into empty topics");
  }
  return s;
}

Status WriteState(const std::string& dir, const std::string& description, const State& s) {
  json j;
  j["format_version"] = 1;
  j["description"] = description;
  j["created_ms"] = s.created_ms;
  j["complete"] = s.complete;
  json targets = json::array();
  for (const auto& [k, base] : s.bases)
    targets.push_back({{"topic", k.topic}, {"partition", k.partition}, {"base", base}});
  j["targets"] = std::move(targets);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Errno(ec.value(), "create " + dir);
  return backup::WriteFileAtomic(dir, "state.json", j.dump(2) + "\n");
}

std::string StateKey(const std::string& description) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64,
                format::Xxh3(description.data(), description.size()));
  return buf;
}

Status WriteOffsetMap(const std::string& dir, const std::string& backup_id,
                      const std::string& description, const RestoreReport& report) {
  json map = json::object();
  map["format_version"] = 1;
  map["backup"] = backup_id;
  map["description"] = description;
  json parts = json::array();
  for (const auto& pr : report.partitions) {
    json jp = {{"topic", pr.topic},
               {"partition", pr.partition},
               {"target_topic", pr.target_topic},
               {"target_partition", pr.target_partition}};
    if (pr.target_partition < 0) {
      jp["note"] = "repartitioned by key: records of this partition spread over the target's";
    } else {
      json runs = json::array();
      for (const auto& r : pr.runs) runs.push_back({r.source, r.target, r.count});
      jp["runs"] = std::move(runs);
    }
    parts.push_back(std::move(jp));
  }
  map["partitions"] = std::move(parts);
  return backup::WriteFileAtomic(dir, "offset-map.json", map.dump(1) + "\n");
}

}  // namespace tidemark::restore
