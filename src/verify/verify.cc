#include "verify/verify.h"

#include <algorithm>
#include <cinttypes>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "common/dir_lock.h"
#include "common/strings.h"
#include "common/time.h"
#include "kafka/kafka.h"
#include "segment/segment_reader.h"
#include "source/backup_source.h"

namespace tidemark::verify {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Walks one partition's offsets in order and checks that every offset from start to end is
// either a record or inside a recorded gap.
class Continuity {
 public:
  Continuity(const backup::PartitionManifest& p) : gaps_(p.gaps), expected_(p.start_offset) {
    std::sort(gaps_.begin(), gaps_.end(),
              [](const auto& a, const auto& b) { return a.from < b.from; });
  }
  // Moves to `target`, through recorded gaps only. Returns an empty string or the damage.
  std::string AdvanceTo(int64_t target) {
    while (expected_ < target) {
      if (gi_ < gaps_.size() && gaps_[gi_].from == expected_ && gaps_[gi_].to <= target) {
        expected_ = gaps_[gi_++].to;
        continue;
      }
      std::string what = "offsets " + std::to_string(expected_) + ".." +
                         std::to_string(target - 1) + " are missing and not recorded as a gap";
      expected_ = target;
      while (gi_ < gaps_.size() && gaps_[gi_].to <= target) ++gi_;
      return what;
    }
    if (expected_ > target) {
      return "offset " + std::to_string(target) +
             " is out of order or inside a recorded gap (expected " + std::to_string(expected_) +
             ")";
    }
    return "";
  }
  void Consumed(int64_t offset) { expected_ = std::max(expected_, offset + 1); }
  int64_t expected() const { return expected_; }

 private:
  std::vector<backup::Gap> gaps_;
  size_t gi_ = 0;
  int64_t expected_;
};

void VerifySegment(const std::string& file, const std::string& topic,
                   const backup::PartitionManifest& p, const segment::SealedSegment& s,
                   Continuity* cont, Report* r) {
  auto damage = [&](int64_t block, uint64_t at, int64_t offset, const std::string& what) {
    r->damage.push_back({s.path, block, at, offset, what});
  };
  segment::SegmentReader reader;
  Status st = reader.Open(file);
  if (!st.ok()) {
    damage(-1, 0, s.first_offset, st.message());
    cont->Consumed(s.last_offset);  // the loss is reported once, here
    return;
  }
  ++r->segments;
  r->bytes += reader.file_size();
  const auto& fh = reader.file_header();
  if (fh.topic != topic || fh.partition != p.partition || fh.first_offset != s.first_offset) {
    damage(-1, 0, s.first_offset,
           "file header says " + fh.topic + "/" + std::to_string(fh.partition) + " from offset " +
               std::to_string(fh.first_offset) + ", manifest expects " + topic + "/" +
               std::to_string(p.partition) + " from " + std::to_string(s.first_offset));
  }
  const bool sealed = reader.footer_status().ok();
  if (!sealed) {
    damage(-1, reader.file_size(), -1, reader.footer_status().message());
  } else {
    if (reader.footer_checksum() != s.checksum)
      damage(-1, reader.blocks_end(), -1, "footer checksum differs from the manifest's");
    if (reader.footer().record_count != s.records)
      damage(-1, reader.blocks_end(), -1, "footer record count differs from the manifest's");
    if (reader.file_size() != s.bytes_stored) {
      damage(-1, reader.file_size(), -1,
             "file is " + std::to_string(reader.file_size()) + " bytes, manifest says " +
                 std::to_string(s.bytes_stored));
    }
  }
  // A sealed segment is read through its footer's index (each block must agree with its entry,
  // and damage is skipped to the next entry); an unsealed one is scanned up to its damage.
  const auto& index = reader.footer().blocks;
  segment::BlockScan scan;
  uint64_t records = 0;
  int64_t b = 0;
  for (;;) {
    format::BlockHeader h;
    std::span<const uint8_t> payload;
    uint64_t off = 0;
    if (sealed) {
      if (static_cast<size_t>(b) >= index.size()) break;
      off = index[static_cast<size_t>(b)].file_offset;
      st = reader.ReadIndexed(static_cast<size_t>(b), &h, &payload);
    } else {
      off = scan.pos;
      auto more = reader.ScanNext(&scan, &h, &payload);
      if (more.ok() && !*more) break;
      st = more.status();
    }
    uint32_t n = 0;
    if (st.ok()) {
      RecordDecoder dec(payload);
      RecordView v;
      int64_t prev = -1;
      while (dec.Next(&v)) {
        if (v.offset < h.first_offset || v.offset > h.last_offset || v.offset <= prev ||
            v.timestamp < h.min_timestamp || v.timestamp > h.max_timestamp) {
          st = Status::Corrupt("record at offset " + std::to_string(v.offset) +
                               " outside the block header's ranges");
          break;
        }
        if (std::string hole = cont->AdvanceTo(v.offset); !hole.empty())
          damage(b, off, v.offset, hole);
        cont->Consumed(v.offset);
        prev = v.offset;
        ++n;
      }
      if (st.ok()) st = dec.status();
      if (st.ok() && n != h.record_count) {
        st = Status::Corrupt("block holds " + std::to_string(n) + " records, header says " +
                             std::to_string(h.record_count));
      }
    }
    if (!st.ok()) {
      const int64_t at = sealed ? index[static_cast<size_t>(b)].first_offset : cont->expected();
      damage(b, off, at, st.message());
      // Skip to the next block through the footer when we can; otherwise the rest is unreadable.
      if (sealed && static_cast<size_t>(b) + 1 < index.size()) {
        cont->Consumed(index[static_cast<size_t>(b++)].last_offset);
        continue;
      }
      cont->Consumed(s.last_offset);
      break;
    }
    ++r->blocks;
    records += n;
    r->records += n;
    ++b;
  }
  // Reported whatever else was found, here or in earlier segments: records that were read but
  // that the manifest does not count (or the reverse) are damage of their own.
  if (records != s.records) {
    damage(-1, 0, s.first_offset,
           "segment holds " + std::to_string(records) + " records, manifest says " +
               std::to_string(s.records));
  }
}

}  // namespace

Result<backup::Manifest> LoadBackup(source::BackupSource& src, const std::string& id,
                                    const backup::ReadScope& scope) {
  auto m = src.ReadManifest(id, scope);
  if (!m.ok() && m.status().Is(Errc::kNotFound)) {
    auto ids = src.Ids();
    return Status::Config("no backup '" + id + "' in " + src.Where() +
                          (!ids.ok()      ? ""
                           : ids->empty() ? " (it holds no backups)"
                                          : " (backups there: " + JoinList(*ids) + ")"));
  }
  return m;
}

Result<Report> VerifyBackup(source::BackupSource& src, const std::string& id) {
  // Retention waits while the segments are read (a local backup).
  DirLock reading;
  if (!src.remote()) {
    TM_ASSIGN_OR_RETURN(reading, DirLock::ForReading(src.Where(id)));
  }
  TM_ASSIGN_OR_RETURN(backup::Manifest m, LoadBackup(src, id));
  Report r;
  r.backup_dir = src.Where(id);
  std::vector<std::pair<std::string, const backup::PartitionManifest*>> parts;
  for (const auto& [topic, t] : m.topics)
    for (const auto& p : t.partitions) parts.emplace_back(topic, &p);
  // Read-ahead (object storage): the next segments are fetched while this one is checked.
  std::vector<const segment::SealedSegment*> order;
  for (const auto& [topic, p] : parts)
    for (const auto& s : p->segments) order.push_back(&s);
  size_t next = 0;
  std::set<std::string> known;
  for (const auto& [topic, pp] : parts) {
    const backup::PartitionManifest& p = *pp;
    Continuity cont(p);
    uint64_t records = 0;
    for (const auto& s : p.segments) {
      for (size_t k = next + 1; k < std::min(order.size(), next + 4); ++k)
        src.Prefetch(id, *order[k]);
      ++next;
      known.insert(s.path);
      records += s.records;
      auto file = src.Fetch(id, s);
      if (!file.ok() && !s.local && !src.remote() && file.status().Is(Errc::kNotFound)) {
        r.not_checked.push_back(file.status().message());
        cont.Consumed(s.last_offset);
        continue;
      }
      if (!file.ok()) {
        r.damage.push_back({s.path, -1, 0, s.first_offset, file.status().message()});
        cont.Consumed(s.last_offset);
        continue;
      }
      VerifySegment(file->path(), topic, p, s, &cont, &r);
    }
    if (std::string hole = cont.AdvanceTo(p.end_offset); !hole.empty()) {
      r.damage.push_back({format::PartitionDir(topic, p.partition), -1, 0, cont.expected(), hole});
    }
    if (records != p.records) {
      r.damage.push_back({format::PartitionDir(topic, p.partition), -1, 0, -1,
                          "segments hold " + std::to_string(records) + " records, manifest says " +
                              std::to_string(p.records)});
    }
  }
  if (src.remote()) return r;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(r.backup_dir + "/topics", ec);
       !ec && it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file()) continue;
    const std::string rel = fs::relative(it->path(), r.backup_dir).string();
    if (known.count(rel) == 0)
      r.warnings.push_back(rel + " is not in the manifest (left by an interrupted run?)");
  }
  return r;
}

namespace {

// Opens a local directory with no object store behind it.
Result<std::unique_ptr<source::BackupSource>> Local(const std::string& path) {
  return source::Open(path, config::UploadConfig{});
}

}  // namespace

Result<backup::Manifest> LoadBackup(const std::string& path, const std::string& id) {
  TM_ASSIGN_OR_RETURN(auto src, Local(path));
  return LoadBackup(*src, id);
}

Result<Report> VerifyBackup(const std::string& path, const std::string& id) {
  TM_ASSIGN_OR_RETURN(auto src, Local(path));
  return VerifyBackup(*src, id);
}

Result<std::string> ListBackups(const std::string& path, bool as_json) {
  TM_ASSIGN_OR_RETURN(auto src, Local(path));
  return ListBackups(*src, as_json);
}

Result<std::string> DescribeBackup(const std::string& path, const std::string& id, bool as_json,
                                   const std::vector<std::string>& topics) {
  TM_ASSIGN_OR_RETURN(auto src, Local(path));
  return DescribeBackup(*src, id, as_json, topics);
}

std::string ReportToText(const Report& r) {
  std::string out;
  char buf[512];
  if (r.ok()) {
    std::snprintf(buf, sizeof(buf),
                  "verify OK: %s: %" PRIu64 " segments, %" PRIu64 " blocks, %" PRIu64
                  " records, %" PRIu64 " bytes checked\n",
                  r.backup_dir.c_str(), r.segments, r.blocks, r.records, r.bytes);
    out = buf;
  } else if (r.damage.empty()) {
    std::snprintf(buf, sizeof(buf),
                  "verify INCOMPLETE: %s: %zu segment(s) not checked; %" PRIu64
                  " segments, %" PRIu64 " records checked without damage\n",
                  r.backup_dir.c_str(), r.not_checked.size(), r.segments, r.records);
    out = buf;
    out += "  first not checked: " + r.not_checked.front() + "\n";
    out +=
        "  (give --config with the [upload] section of the store that holds them, or verify "
        "the store itself with --path s3://BUCKET/PREFIX)\n";
  } else {
    const Damage& d = r.damage.front();
    std::snprintf(buf, sizeof(buf), "verify FAILED: %s: %zu damage(s); first: %s",
                  r.backup_dir.c_str(), r.damage.size(), d.file.c_str());
    out = buf;
    if (d.block >= 0) out += ", block " + std::to_string(d.block);
    out += ", byte " + std::to_string(d.file_offset);
    if (d.offset >= 0) out += ", offset " + std::to_string(d.offset);
    out += ": " + d.what + "\n";
    out += "  (tidemark verify --json lists every damage)\n";
    if (!r.not_checked.empty()) {
      out += "  and " + std::to_string(r.not_checked.size()) +
             " segment(s) not checked; first: " + r.not_checked.front() + "\n";
    }
  }
  for (const auto& w : r.warnings) out += "warning: " + w + "\n";
  return out;
}

std::string ReportToJson(const Report& r) {
  json j;
  j["ok"] = r.ok();
  j["backup_dir"] = r.backup_dir;
  j["segments"] = r.segments;
  j["blocks"] = r.blocks;
  j["records"] = r.records;
  j["bytes"] = r.bytes;
  json d = json::array();
  for (const auto& x : r.damage) {
    d.push_back({{"file", x.file},
                 {"block", x.block},
                 {"file_offset", x.file_offset},
                 {"offset", x.offset},
                 {"what", x.what}});
  }
  j["damage"] = std::move(d);
  j["complete"] = r.complete();
  j["not_checked"] = r.not_checked;
  j["warnings"] = r.warnings;
  return j.dump(2) + "\n";
}

Result<std::string> ListBackups(source::BackupSource& src, bool as_json) {
  TM_ASSIGN_OR_RETURN(std::vector<std::string> ids, src.Ids());
  json arr = json::array();
  std::string text;
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%-24s %-9s %-24s %7s %10s %14s %14s\n", "ID", "KIND", "STARTED",
                "TOPICS", "PARTITIONS", "RECORDS", "BYTES");
  text = buf;
  for (const auto& id : ids) {
    auto m = src.ReadManifest(id, {nullptr, /*summaries_only=*/true});
    if (!m.ok() && m.status().Is(Errc::kNotFound) && src.remote()) continue;  // upload under way
    if (!m.ok()) {
      text += id + ": unreadable manifest: " + m.status().message() + "\n";
      arr.push_back({{"id", id}, {"error", m.status().message()}});
      continue;
    }
    std::snprintf(buf, sizeof(buf), "%-24s %-9s %-24s %7zu %10zu %14" PRIu64 " %14" PRIu64 "\n",
                  id.c_str(), m->kind.c_str(), FormatRfc3339(m->started_ms).c_str(),
                  m->topics.size(), m->TotalPartitions(), m->TotalRecords(), m->TotalBytesStored());
    text += buf;
    arr.push_back({{"id", id},
                   {"kind", m->kind},
                   {"cluster_id", m->cluster_id},
                   {"started_at", FormatRfc3339(m->started_ms)},
                   {"finished_at", FormatRfc3339(m->finished_ms)},
                   {"topics", m->topics.size()},
                   {"partitions", m->TotalPartitions()},
                   {"records", m->TotalRecords()},
                   {"bytes_stored", m->TotalBytesStored()}});
  }
  if (as_json) return json{{"path", src.Where()}, {"backups", arr}}.dump(2) + "\n";
  return text;
}

Result<std::string> DescribeBackup(source::BackupSource& src, const std::string& id, bool as_json,
                                   const std::vector<std::string>& topics) {
  backup::ReadScope scope;
  if (!topics.empty())
    scope.wants = [&topics](const std::string& t) { return kafka::MatchesAny(topics, t); };
  TM_ASSIGN_OR_RETURN(backup::Manifest m, LoadBackup(src, id, scope));
  if (as_json) return backup::ManifestToJson(m);
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "backup %s (%s) of cluster %s\n  started %s, finished %s, compression %s level %d\n"
                "  %zu topics, %zu partitions, %zu segments, %" PRIu64 " records, %" PRIu64
                " bytes stored (%" PRIu64 " raw)\n",
                m.id.c_str(), m.kind.c_str(), m.cluster_id.empty() ? "?" : m.cluster_id.c_str(),
                FormatRfc3339(m.started_ms).c_str(), FormatRfc3339(m.finished_ms).c_str(),
                m.compression.c_str(), m.level, m.topics.size(), m.TotalPartitions(),
                m.TotalSegments(), m.TotalRecords(), m.TotalBytesStored(), m.TotalBytesRaw());
  out += buf;
  for (const auto& [name, t] : m.topics) {
    out += "topic " + name + ": " + std::to_string(t.partition_count) + " partitions";
    if (t.configs)
      out += ", " + std::to_string(t.configs->size()) + " non-default configs";
    else
      out += ", configs not captured (" + t.configs_note + ")";
    out += "\n";
    for (const auto& p : t.partitions) {
      std::snprintf(buf, sizeof(buf),
                    "  partition %d: offsets [%" PRId64 ", %" PRId64 "), %" PRIu64
                    " records, %zu segments, %" PRIu64 " bytes",
                    p.partition, p.start_offset, p.end_offset, p.records, p.segments.size(),
                    p.bytes_stored);
      out += buf;
      if (!p.segments.empty()) {
        out += ", time " + FormatRfc3339(p.segments.front().min_timestamp) + " .. " +
               FormatRfc3339(p.segments.back().max_timestamp);
      }
      size_t uploaded = 0, local = 0;
      for (const auto& s : p.segments) {
        uploaded += s.uploaded_ms != 0 ? 1 : 0;
        local += s.local ? 1 : 0;
      }
      if (uploaded > 0 && !src.remote()) {  // the store's copy: flags from upload time
        out += " (" + std::to_string(uploaded) + " uploaded, " + std::to_string(local) +
               " kept locally)";
      }
      out += "\n";
      for (const auto& g : p.gaps) {
        out += "    gap [" + std::to_string(g.from) + ", " + std::to_string(g.to) +
               "): " + g.reason + "\n";
      }
    }
  }
  return out;
}

}  // namespace tidemark::verify
