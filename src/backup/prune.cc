#include "backup/prune.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "backup/json_fields.h"
#include "common/dir_lock.h"
#include "common/time.h"
#include "io/io_backend.h"
#include "tidemark/format.h"

namespace tidemark::backup {

namespace fs = std::filesystem;

Result<std::vector<segment::SealedSegment>> TrimContinuous(const std::string& dir, Manifest* m,
                                                           CatalogWriter* w,
                                                           const std::vector<Trim>& trims) {
  // All or nothing: a trim refused, or a checkpoint that failed (a full disk), leaves `m` as it
  // was, so that it still is what the catalog names. Kept aside per trim: the partition's range,
  // totals, gaps and settled part; the held segments it drops are in the trim.
  std::vector<PartitionManifest> saved;  // without segments
  auto undo = [&](size_t applied) {
    for (size_t i = saved.size(); i-- > 0;) {
      PartitionManifest& p = FindOrAddPartition(m, trims[i].topic, trims[i].partition);
      PartitionManifest& was = saved[i];
      if (i < applied) {
        std::vector<segment::SealedSegment> held;
        for (const auto& d : trims[i].dropped)
          if (was.settled.segments == 0 || d.first_offset >= was.settled.end) held.push_back(d);
        p.segments.insert(p.segments.begin(), held.begin(), held.end());
      }
      was.segments = std::move(p.segments);
      p = std::move(was);
    }
  };
  std::vector<segment::SealedSegment> dropped;
  for (size_t i = 0; i < trims.size(); ++i) {
    const Trim& t = trims[i];
    PartitionManifest& p = FindOrAddPartition(m, t.topic, t.partition);
    PartitionManifest was;
    was.partition = p.partition;
    was.start_offset = p.start_offset;
    was.end_offset = p.end_offset;
    was.records = p.records;
    was.bytes_raw = p.bytes_raw;
    was.bytes_stored = p.bytes_stored;
    was.gaps = p.gaps;
    was.settled = p.settled;
    saved.push_back(std::move(was));
    if (Status s = ApplyTrim(&p, t); !s.ok()) {
      undo(i);  // this one dropped no segment, but may have changed its totals
      return s;
    }
    dropped.insert(dropped.end(), t.dropped.begin(), t.dropped.end());
  }
  if (Status s = w->Checkpoint(*m, {}, {}, trims); !s.ok()) {
    undo(trims.size());
    return s.WithContext("cannot record what retention removes (nothing was deleted)");
  }
  // Durably unnamed: the files may go. One that stays (an error) is removed at the next start.
  std::set<std::string> dirs;
  for (const auto& s : dropped) {
    if (!s.local) continue;
    std::error_code ec;
    const fs::path f = fs::path(dir) / s.path;
    if (fs::remove(f, ec)) dirs.insert(f.parent_path().string());
  }
  for (const auto& d : dirs) (void)io::SyncDirectory(d);
  return dropped;
}

Result<std::vector<Trim>> PlanWindowedTrims(Manifest* window, const CatalogWriter& w,
                                            const RetentionPolicy& policy, int64_t now_ms,
                                            size_t max_segments) {
  const Manifest& m = *window;
  const int64_t cutoff = policy.max_age_ms > 0 ? now_ms - policy.max_age_ms : INT64_MIN;
  const bool over = policy.max_bytes > 0 && m.TotalBytesStored() > policy.max_bytes;
  struct Front {
    std::vector<segment::SealedSegment> segments;  // settled, read back, in offset order
    std::vector<uint64_t> pos;                     // where each one's line is
    bool whole = false;                            // every settled segment is in `segments`
    bool enough = false;
  };
  // What PlanTrims sees: per partition its front (settled segments read back, then the held ones
  // when the front reaches them), its range and its bytes.
  Manifest view;
  std::map<TopicPartition, Front> fronts;
  for (const auto& [topic, t] : m.topics) {
    std::map<int32_t, Front*> due;
    uint64_t from = UINT64_MAX;
    for (const auto& p : t.partitions) {
      if (p.settled.segments == 0) continue;
      const auto& first = p.settled.first_max_timestamp;
      if (!over && !(cutoff != INT64_MIN && (!first || *first < cutoff))) continue;
      due[p.partition] = &fronts[{topic, p.partition}];
      from = std::min(from, p.settled.pos);
    }
    size_t waiting = due.size();
    if (waiting > 0) {
      std::map<int32_t, const PartitionManifest*> parts;
      for (const auto& p : t.partitions) parts[p.partition] = &p;
      TM_RETURN_IF_ERROR(w.ScanTopic(topic, from, [&](uint64_t pos, const CatalogLine& l) {
        if (l.type != "partition" && l.type != "mark") return true;
        const int32_t part = Int<int32_t>(l.j, "partition");
        auto d = due.find(part);
        if (d == due.end()) return true;
        Front& f = *d->second;
        if (l.type == "mark") {  // upload marks of a segment read back
          const std::string path = l.j.at("path").get<std::string>();
          for (auto& s : f.segments) {
            if (s.path != path) continue;
            s.uploaded_ms = Int<int64_t>(l.j, "uploaded_ms");
            s.local = l.j.at("local").get<bool>();
          }
          return true;
        }
        if (f.enough) return true;
        const PartitionManifest& p = *parts[part];
        const int64_t kept = RetentionStart(p);
        for (const auto& js : l.j.at("segments")) {
          // Below the retention start (trimmed since), restated, or held: not a settled one.
          const int64_t first = Int<int64_t>(js, "first_offset");
          if (first < kept || first >= p.settled.end) continue;
          if (!f.segments.empty() && first <= f.segments.back().first_offset) continue;
          segment::SealedSegment s = SegmentFromJson(js);
          const bool fresh = s.max_timestamp >= cutoff;
          f.whole = s.Last() == p.settled.end - 1;
          f.segments.push_back(std::move(s));
          f.pos.push_back(pos);
          if (f.whole || f.segments.size() >= max_segments || (!over && fresh)) {
            f.enough = true;
            break;
          }
        }
        if (f.enough) --waiting;
        return waiting > 0;
      }));
    }
    // What the reads found is where each front is from now on (the next read starts there), and
    // a front read whole must be as many segments as settled.
    for (auto& p : window->topics[topic].partitions) {
      auto f = fronts.find({topic, p.partition});
      if (f == fronts.end() || f->second.segments.empty()) continue;
      if (f->second.whole && f->second.segments.size() != p.settled.segments) {
        return Status::Corrupt("catalog of " + topic + "/" + std::to_string(p.partition) + ": " +
                               std::to_string(f->second.segments.size()) +
                               " settled segments read back where the service counts " +
                               std::to_string(p.settled.segments) + "; retention left it alone");
      }
      p.settled.pos = std::max(p.settled.pos, f->second.pos.front());
      p.settled.first_max_timestamp = f->second.segments.front().max_timestamp;
    }
    TopicManifest& vt = view.topics[topic];
    vt.partition_count = t.partition_count;
    for (const auto& p : t.partitions) {
      PartitionManifest v;
      v.partition = p.partition;
      v.start_offset = p.start_offset;
      v.end_offset = p.end_offset;
      v.bytes_stored = p.bytes_stored;
      if (p.settled.segments == 0) {
        v.segments = p.segments;
      } else if (auto f = fronts.find({topic, p.partition}); f != fronts.end()) {
        v.segments = f->second.segments;
        if (f->second.whole) {
          v.segments.insert(v.segments.end(), p.segments.begin(), p.segments.end());
        } else if (!v.segments.empty()) {
          // A front read in part: a trim of all of it ends where its last segment does.
          v.end_offset = v.segments.back().Last() + 1;
          v.settled.segments = 1;  // more follow (PlanTrims stops max_bytes there)
        }
      }
      vt.partitions.push_back(std::move(v));
    }
  }
  std::vector<Trim> trims = PlanTrims(view, policy, now_ms);
  for (auto& t : trims) {
    auto f = fronts.find({t.topic, t.partition});
    if (f == fronts.end()) continue;
    const size_t next = t.dropped.size();  // the first one kept, among those read back
    if (next < f->second.segments.size()) {
      t.front_pos = f->second.pos[next];
      t.front_max_timestamp = f->second.segments[next].max_timestamp;
    } else if (!f->second.pos.empty()) {
      t.front_pos = f->second.pos.back();  // before the next one, wherever it is
    }
  }
  return trims;
}

namespace {

// Sealed files below their partition's retention start that `m` does not name: what a prune or
// a retention turn killed between its catalog line and its deletes left. Removed; returns how
// many (and names the ones that would not go in *notes).
size_t RemoveBelowRetention(const std::string& dir, const Manifest& m,
                            std::vector<std::string>* notes) {
  size_t removed = 0;
  for (const auto& [topic, t] : m.topics) {
    for (const auto& p : t.partitions) {
      const int64_t kept = RetentionStart(p);
      if (kept <= p.start_offset) continue;
      const std::string rel_dir = format::PartitionDir(topic, p.partition);
      std::set<std::string> named;
      for (const auto& s : p.segments) named.insert(s.path);
      std::error_code ec;
      fs::directory_iterator it(dir + "/" + rel_dir, ec), end;
      std::vector<std::string> gone;
      for (; !ec && it != end; it.increment(ec)) {
        const std::string n = it->path().filename().string();
        int64_t first = -1;
        bool sealed = false;
        if (!format::ParseSegmentName(n, &first, &sealed) || !sealed) continue;
        if (first < kept && named.count(rel_dir + "/" + n) == 0) gone.push_back(n);
      }
      for (const auto& n : gone) {
        std::error_code e;
        if (fs::remove(dir + "/" + rel_dir + "/" + n, e))
          ++removed;
        else if (e)
          notes->push_back("cannot remove " + rel_dir + "/" + n + ": " + e.message());
      }
      if (!gone.empty()) (void)io::SyncDirectory(dir + "/" + rel_dir);
    }
  }
  return removed;
}

std::vector<std::string> BackupIds(const std::string& path, Status* error) {
  std::vector<std::string> ids;
  std::error_code ec;
  fs::directory_iterator it(path, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::error_code e;
    if (it->is_directory(e) && HasIndex(it->path().string()))
      ids.push_back(it->path().filename().string());
  }
  if (ec) *error = Status::Errno(ec.value(), "list the backups in " + path);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::string Verb(const std::string& action, bool dry_run) {
  if (!dry_run || action == "kept" || action == "skipped") return action;
  if (action == "trimmed") return "would trim";
  if (action == "deleted") return "would delete";
  return action;
}

}  // namespace

Result<std::vector<PruneEntry>> PruneLocal(const PruneOptions& o) {
  std::error_code ec;
  if (!fs::is_directory(o.path, ec))
    return Status::Config("no such directory: " + o.path + " (check [storage] path)");
  Status list_error;
  std::vector<std::string> ids = BackupIds(o.path, &list_error);
  TM_RETURN_IF_ERROR(list_error);
  if (!o.id.empty()) {
    if (std::find(ids.begin(), ids.end(), o.id) == ids.end())
      return Status::Config("no backup '" + o.id + "' in " + o.path);
  }
  // Snapshots by age, newest first: the first keep_last of them are never deleted.
  std::vector<std::pair<int64_t, std::string>> snapshots;
  std::map<std::string, Manifest> summaries;
  for (const auto& id : ids) {
    auto m = ReadManifest(o.path + "/" + id, {nullptr, /*summaries_only=*/true});
    if (!m.ok()) continue;  // reported below, when (and if) it is this prune's business
    if (m->kind == "snapshot") snapshots.emplace_back(m->started_ms, id);
    summaries.emplace(id, std::move(*m));
  }
  std::sort(snapshots.rbegin(), snapshots.rend());
  std::set<std::string> protected_ids;
  for (size_t i = 0; i < snapshots.size() && i < static_cast<size_t>(o.policy.keep_last); ++i)
    protected_ids.insert(snapshots[i].second);

  std::vector<PruneEntry> out;
  for (const auto& id : ids) {
    if (!o.id.empty() && id != o.id) continue;
    const std::string dir = o.path + "/" + id;
    PruneEntry e;
    e.id = id;
    auto s = summaries.find(id);
    if (s == summaries.end()) {
      e.action = "skipped";
      auto m = ReadManifest(dir, {nullptr, true});
      e.notes.push_back("unreadable index: " + m.status().message());
      out.push_back(std::move(e));
      continue;
    }
    e.kind = s->second.kind;
    auto lock = DirLock::Acquire(dir, "prune " + id);
    if (!lock.ok()) {
      e.action = "skipped";
      e.notes.push_back(
          lock.status().message() +
          (e.kind == "continuous" ? " (tidemark run applies [retention] itself)" : ""));
      out.push_back(std::move(e));
      continue;
    }
    auto reading = DirLock::ForPruning(dir);
    if (!reading.ok()) {
      e.action = "skipped";
      e.notes.push_back(reading.status().message());
      out.push_back(std::move(e));
      continue;
    }
    TM_ASSIGN_OR_RETURN(Manifest m, ReadManifest(dir));
    if (m.kind == "snapshot") {
      const bool old = o.policy.max_age_ms > 0 && m.finished_ms < o.now_ms - o.policy.max_age_ms;
      if (!old || protected_ids.count(id)) {
        e.action = "kept";
        if (old) {
          e.notes.push_back("older than max_age, but one of the newest " +
                            std::to_string(o.policy.keep_last) + " snapshots (keep_last)");
        }
        out.push_back(std::move(e));
        continue;
      }
      e.action = "deleted";
      e.segments = m.TotalSegments();
      e.bytes = m.TotalBytesStored();
      if (!m.groups.empty()) {
        e.notes.push_back("the offsets of " + std::to_string(m.groups.size()) +
                          " consumer groups it captured go with it");
      }
      if (!o.dry_run) {
        // The manifest first: from then on the backup does not count, whatever else remains.
        fs::remove(dir + "/" + kManifestName, ec);
        if (ec) return Status::Errno(ec.value(), "remove " + dir + "/" + kManifestName);
        TM_RETURN_IF_ERROR(io::SyncDirectory(dir));
        fs::remove_all(dir, ec);
        if (ec) return Status::Errno(ec.value(), "remove " + dir);
        TM_RETURN_IF_ERROR(io::SyncDirectory(o.path));
      }
    } else {
      if (!o.dry_run) {
        if (const size_t n = RemoveBelowRetention(dir, m, &e.notes); n > 0) {
          e.notes.push_back("removed " + std::to_string(n) +
                            " files below the retention start that an interrupted prune left");
        }
      }
      std::vector<Trim> trims = PlanTrims(m, o.policy, o.now_ms);
      if (trims.empty()) {
        e.action = "kept";
        out.push_back(std::move(e));
        continue;
      }
      e.action = "trimmed";
      for (const auto& t : trims) {
        e.segments += t.dropped.size();
        for (const auto& seg : t.dropped) e.bytes += seg.bytes_stored;
      }
      if (!o.dry_run) {
        std::unique_ptr<CatalogWriter> w;
        if (HasCatalog(dir)) {
          TM_ASSIGN_OR_RETURN(w, CatalogWriter::Open(dir, m));
        } else {  // a version 1 continuous backup: converted first, as tidemark run would
          TM_ASSIGN_OR_RETURN(w, CatalogWriter::Create(dir, m));
          fs::remove(dir + "/" + kManifestName, ec);
          TM_RETURN_IF_ERROR(io::SyncDirectory(dir));
        }
        TM_RETURN_IF_ERROR(TrimContinuous(dir, &m, w.get(), trims).status());
        TM_RETURN_IF_ERROR(w->CompactLogs(m).status());  // logs mostly of pruned lines
        if (o.trimmed) TM_RETURN_IF_ERROR(o.trimmed(id, m));
      } else {
        for (const auto& t : trims)
          TM_RETURN_IF_ERROR(ApplyTrim(&FindOrAddPartition(&m, t.topic, t.partition), t.start));
      }
      for (auto& n : GroupsBelowRetention(m)) e.notes.push_back(std::move(n));
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::string PruneToText(const std::vector<PruneEntry>& entries, bool dry_run) {
  std::string text;
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%-24s %-10s %-12s %10s %14s\n", "ID", "KIND", "ACTION",
                "SEGMENTS", "BYTES");
  text = buf;
  for (const auto& e : entries) {
    std::snprintf(buf, sizeof(buf), "%-24s %-10s %-12s %10" PRIu64 " %14" PRIu64 "\n", e.id.c_str(),
                  e.kind.c_str(), Verb(e.action, dry_run).c_str(), e.segments, e.bytes);
    text += buf;
    for (const auto& n : e.notes) text += "  " + n + "\n";
  }
  if (dry_run) text += "dry run: nothing was changed\n";
  return text;
}

std::string PruneToJson(const std::vector<PruneEntry>& entries, bool dry_run) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& e : entries) {
    arr.push_back({{"id", e.id},
                   {"kind", e.kind},
                   {"action", Verb(e.action, dry_run)},
                   {"segments", e.segments},
                   {"bytes", e.bytes},
                   {"notes", e.notes}});
  }
  return nlohmann::json{{"dry_run", dry_run}, {"backups", arr}}.dump(2) + "\n";
}

}  // namespace tidemark::backup
