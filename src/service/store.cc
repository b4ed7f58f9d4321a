#include "service/store.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>

#include "backup/retention.h"
#include "common/log.h"
#include "io/io_backend.h"
#include "segment/journal_replay.h"
#include "segment/recovery.h"
#include "segment/segment_reader.h"
#include "tidemark/record.h"

namespace tidemark::service {

namespace fs = std::filesystem;

namespace {

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() > suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Reads a sealed segment back: what the manifest records for it, and the offsets inside its
// range that hold no record (compaction, transaction markers), which become gaps.
Result<segment::SealedSegment> ReadSealed(const std::string& dir, const std::string& rel,
                                          const std::string& topic, int32_t partition,
                                          std::vector<backup::Gap>* holes) {
  segment::SegmentReader r;
  TM_RETURN_IF_ERROR(r.Open(dir + "/" + rel));
  TM_RETURN_IF_ERROR(r.footer_status());
  if (r.file_header().topic != topic || r.file_header().partition != partition) {
    return Status::Corrupt("its header names " + r.file_header().topic + "/" +
                           std::to_string(r.file_header().partition));
  }
  const format::Footer& f = r.footer();
  int64_t expected = f.first_offset;
  for (size_t i = 0; i < f.blocks.size(); ++i) {
    format::BlockHeader h;
    std::span<const uint8_t> payload;
    Status st = r.ReadIndexed(i, &h, &payload);
    if (!st.ok()) {
      return st.WithContext("block " + std::to_string(i) + " at byte " +
                            std::to_string(f.blocks[i].file_offset));
    }
    RecordDecoder dec(payload);
    RecordView rec;
    while (dec.Next(&rec)) {
      if (rec.offset > expected) holes->push_back({expected, rec.offset, backup::kGapNotDelivered});
      expected = rec.offset + 1;
    }
    TM_RETURN_IF_ERROR(dec.status());
  }
  return segment::SealedSegment::Of(f, rel, r.file_size(), r.footer_checksum());
}

// The entries of `dir`: name and whether it is a directory. Never throws.
Result<std::vector<std::pair<std::string, bool>>> ListDir(const fs::path& dir) {
  std::vector<std::pair<std::string, bool>> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    const bool is_dir = it->is_directory(type_ec);
    out.emplace_back(it->path().filename().string(), is_dir && !type_ec);
  }
  if (ec) return Status::Errno(ec.value(), "cannot list " + dir.string());
  return out;
}

// Renames dir/rel to dir/rel + suffix, durably; the returned text says where it went.
std::string MoveAside(const std::string& dir, const std::string& rel, const char* suffix) {
  const std::string from = dir + "/" + rel, to = from + suffix;
  if (::rename(from.c_str(), to.c_str()) != 0)
    return "could not move it aside (" + std::string(std::strerror(errno)) + ")";
  (void)io::SyncDirectory(to.substr(0, to.rfind('/')));
  return "moved aside to " + to;
}

}  // namespace

Result<backup::Manifest> RecoverStore(const std::string& dir, std::optional<backup::Manifest> prior,
                                      StoreRecovery* report, const RecoveryProgress& progress) {
  backup::Manifest m = prior ? std::move(*prior) : backup::Manifest{};
  std::error_code ec;
  // 0. The journal: records a durability point vouched for that were in no durable block go
  // into their segments, which are sealed (the steps below adopt them like any other).
  {
    segment::ReplayOptions ro;
    ro.backup_id = !m.id.empty() ? m.id : fs::path(dir).filename().string();
    format::Codec codec;
    if (format::ParseCodec(m.compression, &codec)) ro.codec = codec;
    if (m.level > 0) ro.level = m.level;
    segment::JournalReplay jr;
    const auto known_end = [&m](const std::string& topic, int32_t partition) -> int64_t {
      auto t = m.topics.find(topic);
      if (t == m.topics.end()) return 0;
      for (const auto& p : t->second.partitions)
        if (p.partition == partition) return p.end_offset;
      return 0;
    };
    TM_RETURN_IF_ERROR(segment::ReplayJournal(dir, ro, known_end, &jr));
    for (auto& l : jr.recovered) report->recovered.push_back(std::move(l));
    for (auto& l : jr.problems) report->problems.push_back("journal: " + std::move(l));
  }
  const fs::path topics = fs::path(dir) / "topics";
  if (!fs::exists(topics, ec)) {
    if (ec) return Status::Errno(ec.value(), "cannot read " + topics.string());
    return m;
  }
  // First the partition directories and how many segment files they hold (listing is cheap next
  // to reading), so that progress can say how far recovery is.
  struct PartitionDir {
    std::string topic, pname;
    int32_t partition;
  };
  std::vector<PartitionDir> dirs;
  uint64_t total = 0, done = 0;
  TM_ASSIGN_OR_RETURN(auto topic_dirs, ListDir(topics));
  for (const auto& [topic, topic_is_dir] : topic_dirs) {
    if (!topic_is_dir) continue;
    if (!format::IsLegalTopicName(topic)) {
      report->problems.push_back("topics/" + topic +
                                 " is not a legal Kafka topic name; left alone");
      continue;
    }
    TM_ASSIGN_OR_RETURN(auto part_dirs, ListDir(topics / topic));
    for (const auto& [pname, part_is_dir] : part_dirs) {
      if (!part_is_dir) continue;
      int32_t partition = -1;
      const auto [pend, perr] =
          std::from_chars(pname.data(), pname.data() + pname.size(), partition);
      if (perr != std::errc() || pend != pname.data() + pname.size() || partition < 0) continue;
      TM_ASSIGN_OR_RETURN(auto names, ListDir(topics / topic / pname));
      for (const auto& [n, n_is_dir] : names)
        total +=
            !n_is_dir && (EndsWith(n, format::kOpenSuffix) || EndsWith(n, format::kSegmentSuffix));
      dirs.push_back({topic, pname, partition});
    }
  }
  auto step = [&] {
    if (progress) progress(std::min(++done, total), total);
  };
  for (const auto& [topic, pname, partition] : dirs) {
    const std::string rel_dir = "topics/" + topic + "/" + pname;
    // 1. Unsealed segments: recover and seal.
    TM_ASSIGN_OR_RETURN(auto names, ListDir(topics / topic / pname));
    for (const auto& [n, n_is_dir] : names) {
      if (n_is_dir || !EndsWith(n, format::kOpenSuffix)) continue;
      step();
      const std::string rel = rel_dir + "/" + n;
      auto rec = segment::RecoverOpenSegment(dir, rel);
      if (!rec.ok() && !rec.status().Is(Errc::kCorrupt)) return rec.status();  // I/O: retry
      if (!rec.ok()) {
        report->problems.push_back(rel + ": " + rec.status().message() + "; " +
                                   MoveAside(dir, rel, ".damaged") +
                                   " (its records are backed up again)");
        continue;
      }
      std::string line = rel + ": ";
      if (rec->sealed) {
        line += "kept " + std::to_string(rec->sealed->records) + " records, offsets " +
                std::to_string(rec->sealed->first_offset) + ".." +
                std::to_string(rec->sealed->last_offset);
      } else {
        line += "no complete block, removed";
      }
      if (rec->dropped_bytes > 0)
        line += "; cut " + std::to_string(rec->dropped_bytes) + " bytes after the last good block";
      if (!rec->stopped_because.empty()) line += " (" + rec->stopped_because + ")";
      report->recovered.push_back(line);
    }
    // 2. Sealed segments the manifest does not name, in offset order.
    TM_ASSIGN_OR_RETURN(names, ListDir(topics / topic / pname));
    std::map<int64_t, std::string> sealed;
    for (const auto& [n, n_is_dir] : names) {
      if (n_is_dir || !EndsWith(n, format::kSegmentSuffix)) continue;
      int64_t first = -1;
      bool is_sealed = false;
      if (!format::ParseSegmentName(n, &first, &is_sealed) || !is_sealed) {
        report->problems.push_back(rel_dir + "/" + n + " is not a segment name; left alone");
        continue;
      }
      sealed[first] = rel_dir + "/" + n;
    }
    auto& entry = backup::FindOrAddPartition(&m, topic, partition);
    // A windowed manifest (the service's): the files of settled segments are named by the
    // catalog and final; whether each is still there is verify's question, not the start's.
    if (entry.settled.segments > 0) {
      const int64_t kept = backup::RetentionStart(entry);  // below it: left by a prune, removed
      for (auto it = sealed.begin(); it != sealed.end() && it->first < entry.settled.end;) {
        if (it->first < kept) {
          ++it;
          continue;
        }
        it = sealed.erase(it);
        step();
      }
    }
    for (const auto& s : entry.segments) {
      if (s.local && !sealed.count(s.first_offset))
        report->problems.push_back(s.path + " is in the manifest but missing on disk");
      if (!s.local && sealed.count(s.first_offset)) {
        // Uploaded, and marked for removal (keep_local) just before a crash: finish it.
        fs::remove(dir + "/" + s.path, ec);
        ec.clear();
      }
      if (sealed.erase(s.first_offset) > 0) step();
    }
    // Adopted in offset order, and only as long as each one reads back whole: the offsets of
    // a segment that cannot be read are not in the backup, so they must be fetched again (a
    // loss is never recorded as a gap). Everything after it is moved aside too, since the
    // partition resumes before it and will write those offsets anew.
    const std::string* unreadable = nullptr;
    for (const auto& [first, rel] : sealed) {
      step();
      if (unreadable != nullptr) {
        report->problems.push_back(rel + ": after the unreadable " + *unreadable + "; " +
                                   MoveAside(dir, rel, ".superseded") +
                                   " (its records are backed up again)");
        continue;
      }
      if (first < backup::RetentionStart(entry)) {
        // Pruned by retention, whose catalog line is durable, just before a crash: finish it.
        fs::remove(dir + "/" + rel, ec);
        report->problems.push_back(rel + " lies below the retention start " +
                                   std::to_string(backup::RetentionStart(entry)) +
                                   (ec ? "; cannot remove it: " + ec.message() : "; removed"));
        ec.clear();
        continue;
      }
      if (first < entry.end_offset) {
        report->problems.push_back(rel + " overlaps offsets the manifest already covers (below " +
                                   std::to_string(entry.end_offset) + "); left out");
        continue;
      }
      std::vector<backup::Gap> holes;
      auto seg = ReadSealed(dir, rel, topic, partition, &holes);
      if (!seg.ok() && !seg.status().Is(Errc::kCorrupt)) return seg.status();  // I/O: retry
      if (seg.ok() && seg->first_offset != first) {
        seg = Status::Corrupt("its footer starts at offset " + std::to_string(seg->first_offset) +
                              ", its name at " + std::to_string(first));
      }
      if (!seg.ok()) {
        report->problems.push_back(rel + ": " + seg.status().message() + "; " +
                                   MoveAside(dir, rel, ".damaged") +
                                   " (its records are backed up again from offset " +
                                   std::to_string(entry.end_offset) + ")");
        unreadable = &rel;
        continue;
      }
      if (seg->first_offset > entry.end_offset)
        backup::AddGap(&entry, entry.end_offset, seg->first_offset, backup::kGapNotDelivered);
      for (const auto& h : holes) backup::AddGap(&entry, h.from, h.to, h.reason);
      entry.records += seg->records;
      entry.bytes_raw += seg->bytes_raw;
      entry.bytes_stored += seg->bytes_stored;
      entry.end_offset = seg->last_offset + 1;
      report->adopted.push_back(rel + " (" + std::to_string(seg->records) + " records)");
      entry.segments.push_back(std::move(*seg));
    }
  }
  return m;
}

}  // namespace tidemark::service
