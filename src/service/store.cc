#include "service/store.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "common/log.h"
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
                                          std::vector<backup::Gap>* holes) {
  segment::SegmentReader r;
  TM_RETURN_IF_ERROR(r.Open(dir + "/" + rel));
  TM_RETURN_IF_ERROR(r.footer_status());
  const format::Footer& f = r.footer();
  int64_t expected = f.first_offset;
  for (const auto& b : f.blocks) {
    format::BlockHeader h;
    std::span<const uint8_t> payload;
    TM_RETURN_IF_ERROR(r.ReadBlockAt(b.file_offset, &h, &payload));
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

}  // namespace

Result<backup::Manifest> RecoverStore(const std::string& dir, std::optional<backup::Manifest> prior,
                                      StoreRecovery* report) {
  backup::Manifest m = prior ? std::move(*prior) : backup::Manifest{};
  std::error_code ec;
  const fs::path topics = fs::path(dir) / "topics";
  if (!fs::exists(topics, ec)) return m;
  for (const auto& tdir : fs::directory_iterator(topics, ec)) {
    if (!tdir.is_directory()) continue;
    const std::string topic = tdir.path().filename().string();
    for (const auto& pdir : fs::directory_iterator(tdir.path(), ec)) {
      if (!pdir.is_directory()) continue;
      char* end = nullptr;
      const std::string pname = pdir.path().filename().string();
      const long partition = std::strtol(pname.c_str(), &end, 10);
      if (end == pname.c_str() || *end != '\0') continue;
      const std::string rel_dir = "topics/" + topic + "/" + pname;
      // 1. Unsealed segments: recover and seal.
      std::vector<std::string> names;
      for (const auto& f : fs::directory_iterator(pdir.path(), ec))
        names.push_back(f.path().filename().string());
      for (const auto& n : names) {
        if (!EndsWith(n, format::kOpenSuffix)) continue;
        const std::string rel = rel_dir + "/" + n;
        auto rec = segment::RecoverOpenSegment(dir, rel);
        if (!rec.ok() && !rec.status().Is(Errc::kCorrupt)) return rec.status();  // I/O: retry
        if (!rec.ok()) {
          const std::string aside = dir + "/" + rel + ".damaged";
          fs::rename(dir + "/" + rel, aside, ec);
          report->problems.push_back(rel + ": " + rec.status().message() + "; moved aside to " +
                                     aside + " (its records are backed up again)");
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
          line +=
              "; cut " + std::to_string(rec->dropped_bytes) + " bytes after the last good block";
        if (!rec->stopped_because.empty()) line += " (" + rec->stopped_because + ")";
        report->recovered.push_back(line);
      }
      // 2. Sealed segments the manifest does not name, in offset order.
      std::map<int64_t, std::string> sealed;
      for (const auto& f : fs::directory_iterator(pdir.path(), ec)) {
        const std::string n = f.path().filename().string();
        if (!EndsWith(n, format::kSegmentSuffix)) continue;
        sealed[std::strtoll(n.c_str(), nullptr, 10)] = rel_dir + "/" + n;
      }
      auto& entry = backup::FindOrAddPartition(&m, topic, static_cast<int32_t>(partition));
      for (const auto& s : entry.segments) {
        if (s.local && !sealed.count(s.first_offset))
          report->problems.push_back(s.path + " is in the manifest but missing on disk");
        if (!s.local && sealed.count(s.first_offset)) {
          // Uploaded, and marked for removal (keep_local) just before a crash: finish it.
          fs::remove(dir + "/" + s.path, ec);
          ec.clear();
        }
        sealed.erase(s.first_offset);
      }
      for (const auto& [first, rel] : sealed) {
        if (first < entry.end_offset) {
          report->problems.push_back(rel + " overlaps offsets the manifest already covers (below " +
                                     std::to_string(entry.end_offset) + "); left out");
          continue;
        }
        std::vector<backup::Gap> holes;
        auto seg = ReadSealed(dir, rel, &holes);
        if (!seg.ok()) {
          report->problems.push_back(rel + ": " + seg.status().message() + "; left out");
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
  }
  if (ec) return Status::Errno(ec.value(), "cannot list the segments under " + topics.string());
  return m;
}

}  // namespace tidemark::service
