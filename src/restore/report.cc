// Restore reports: text for people, JSON for machines.
#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "common/time.h"
#include "restore/restore.h"

namespace tidemark::restore {

using nlohmann::json;

namespace {

std::string TargetName(const PartitionResult& p) {
  return p.target_topic + "/" +
         (p.target_partition < 0 ? std::string("by key") : std::to_string(p.target_partition));
}

std::string DamageLine(const StreamDamage& d) {
  std::string s = d.file.empty() ? "" : d.file + ": ";
  s += d.what;
  if (d.first_offset >= 0 || d.last_offset >= 0) {
    s += " [offsets " + (d.first_offset >= 0 ? std::to_string(d.first_offset) : "?") + ".." +
         (d.last_offset >= 0 ? std::to_string(d.last_offset) : "?") + "]";
  }
  return s;
}

}  // namespace

std::string ReportToText(const RestoreReport& r) {
  std::string out;
  char buf[512];
  out += "restore of " + r.backup_dir + " into " + r.target +
         (r.dry_run ? " (dry run: nothing was produced)" : "") + "\n";
  if (r.resumed) out += "  continuing the restore recorded in " + r.state_dir + "\n";
  if (!r.created_topics.empty()) {
    out += std::string(r.dry_run ? "  topics to create: " : "  topics created: ") +
           JoinList(r.created_topics) + "\n";
  }
  for (const auto& p : r.partitions) {
    std::snprintf(buf, sizeof(buf), "  %s/%d -> %s: %" PRIu64 " records, %.1f MB", p.topic.c_str(),
                  p.partition, TargetName(p).c_str(), p.records,
                  static_cast<double>(p.bytes) / 1e6);
    out += buf;
    if (p.records > 0) {
      out += ", offsets " + std::to_string(p.first_offset) + ".." + std::to_string(p.last_offset) +
             ", " + FormatRfc3339(p.first_ms) + " .. " + FormatRfc3339(p.last_ms);
    }
    if (p.already > 0) out += ", " + std::to_string(p.already) + " landed by an earlier run";
    out += "\n";
    for (const auto& d : p.damage) {
      out += std::string(p.stopped ? "    STOPPED before damage: " : "    SKIPPED damage: ") +
             DamageLine(d) + "\n";
    }
  }
  for (const auto& g : r.groups) {
    out += "  group " + g.group + (g.committed ? " (committed)" : "") +
           (g.note.empty() ? "" : " (" + g.note + ")") + ":\n";
    for (const auto& [tp, v] : g.source) {
      out += "    " + tp.first + "/" + std::to_string(tp.second) + " offset " + std::to_string(v) +
             "\n";
    }
    for (const auto& [tp, v] : g.target) {
      out += "    -> " + tp.first + "/" + std::to_string(tp.second) + " offset " +
             std::to_string(v) + "\n";
    }
  }
  for (const auto& n : r.notes) out += "  note: " + n + "\n";
  const double secs = std::max(r.seconds, 1e-9);
  std::snprintf(buf, sizeof(buf),
                "%s %" PRIu64 " records (%.1f MB) in range; produced now %" PRIu64
                " records (%.1f MB) in %.2f s: %.1f MB/s, %.0f records/s\n",
                r.damaged() ? "DAMAGED:" : "ok:", r.records, static_cast<double>(r.bytes) / 1e6,
                r.produced, static_cast<double>(r.produced_bytes) / 1e6, r.seconds,
                static_cast<double>(r.produced_bytes) / 1e6 / secs,
                static_cast<double>(r.produced) / secs);
  out += buf;
  return out;
}

std::string ReportToJson(const RestoreReport& r) {
  json j;
  j["backup_dir"] = r.backup_dir;
  j["state_dir"] = r.state_dir;
  j["target"] = r.target;
  j["dry_run"] = r.dry_run;
  j["resumed"] = r.resumed;
  j["created_topics"] = r.created_topics;
  j["records"] = r.records;
  j["bytes"] = r.bytes;
  j["produced_records"] = r.produced;
  j["produced_bytes"] = r.produced_bytes;
  j["seconds"] = r.seconds;
  j["ok"] = !r.damaged();
  json parts = json::array();
  for (const auto& p : r.partitions) {
    json jp = {{"topic", p.topic},
               {"partition", p.partition},
               {"target_topic", p.target_topic},
               {"target_partition", p.target_partition},
               {"records", p.records},
               {"bytes", p.bytes},
               {"already_landed", p.already},
               {"first_offset", p.first_offset},
               {"last_offset", p.last_offset},
               {"first_timestamp_ms", p.first_ms},
               {"last_timestamp_ms", p.last_ms},
               {"stopped_on_damage", p.stopped}};
    json dmg = json::array();
    for (const auto& d : p.damage) {
      dmg.push_back({{"file", d.file},
                     {"block", d.block},
                     {"file_offset", d.file_offset},
                     {"first_offset", d.first_offset},
                     {"last_offset", d.last_offset},
                     {"what", d.what}});
    }
    jp["damage"] = std::move(dmg);
    parts.push_back(std::move(jp));
  }
  j["partitions"] = std::move(parts);
  json groups = json::array();
  for (const auto& g : r.groups) {
    json src = json::array(), dst = json::array();
    for (const auto& [tp, v] : g.source)
      src.push_back({{"topic", tp.first}, {"partition", tp.second}, {"offset", v}});
    for (const auto& [tp, v] : g.target)
      dst.push_back({{"topic", tp.first}, {"partition", tp.second}, {"offset", v}});
    groups.push_back({{"group", g.group},
                      {"committed", g.committed},
                      {"note", g.note},
                      {"source", src},
                      {"target", dst}});
  }
  j["groups"] = std::move(groups);
  j["notes"] = r.notes;
  return j.dump(2) + "\n";
}

}  // namespace tidemark::restore
