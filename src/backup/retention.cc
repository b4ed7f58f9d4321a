#include "backup/retention.h"

#include <algorithm>
#include <queue>
#include <tuple>

namespace tidemark::backup {

int64_t RetentionStart(const PartitionManifest& p) {
  if (!p.gaps.empty() && p.gaps.front().reason == kGapRetention &&
      p.gaps.front().from == p.start_offset)
    return p.gaps.front().to;
  return p.start_offset;
}

namespace {

// The gaps below `start` go or are cut at it; [start_offset, start) becomes one "retention" gap.
void TrimGaps(PartitionManifest* p, int64_t start) {
  std::vector<Gap> gaps;
  gaps.push_back({p->start_offset, start, kGapRetention});
  for (auto& g : p->gaps) {
    if (g.to <= start) continue;
    if (g.from < start) g.from = start;
    gaps.push_back(std::move(g));
  }
  p->gaps = std::move(gaps);
}

}  // namespace

Status ApplyTrim(PartitionManifest* p, int64_t start) {
  const int64_t kept = RetentionStart(*p);
  if (start < kept || start > p->end_offset) {
    return Status::Corrupt("retention start " + std::to_string(start) + " of partition " +
                           std::to_string(p->partition) + " is outside [" + std::to_string(kept) +
                           ", " + std::to_string(p->end_offset) + "]");
  }
  if (start == kept) return Status::Ok();
  if (p->settled.segments > 0) {
    // A windowed copy drops what it does not hold only whole: the totals follow from the sums it
    // kept; a start inside them would leave a count it cannot know (the caller reads whole).
    if (start < p->settled.end) {
      return Status::Unsupported("retention start " + std::to_string(start) + " of partition " +
                                 std::to_string(p->partition) +
                                 " lies among segments this windowed copy does not hold");
    }
    p->records -= p->settled.records;
    p->bytes_raw -= p->settled.bytes_raw;
    p->bytes_stored -= p->settled.bytes_stored;
    p->settled = Settled{};
  }
  size_t n = 0;
  while (n < p->segments.size() && p->segments[n].first_offset < start) {
    const auto& s = p->segments[n];
    if (s.records > 0 && s.last_offset >= start) {
      return Status::Corrupt("retention start " + std::to_string(start) + " of partition " +
                             std::to_string(p->partition) + " is inside segment " + s.path);
    }
    p->records -= s.records;
    p->bytes_raw -= s.bytes_raw;
    p->bytes_stored -= s.bytes_stored;
    ++n;
  }
  p->segments.erase(p->segments.begin(), p->segments.begin() + static_cast<ptrdiff_t>(n));
  TrimGaps(p, start);
  return Status::Ok();
}

Status ApplyTrim(PartitionManifest* p, const Trim& t) {
  if (p->settled.segments == 0) return ApplyTrim(p, t.start);
  const int64_t kept = RetentionStart(*p);
  auto refuse = [&](const std::string& why) {
    return Status::Corrupt("retention start " + std::to_string(t.start) + " of partition " +
                           std::to_string(p->partition) + ": " + why);
  };
  if (t.start < kept || t.start > p->end_offset)
    return refuse("outside [" + std::to_string(kept) + ", " + std::to_string(p->end_offset) + "]");
  if (t.start == kept) return Status::Ok();
  // The settled segments t.dropped names go by count and sums, then the held ones it names,
  // which must be the leading ones.
  Settled s = p->settled;
  size_t held = 0;
  uint64_t records = 0, raw = 0, stored = 0;
  for (const auto& d : t.dropped) {
    if (d.records > 0 && d.last_offset >= t.start) return refuse("inside segment " + d.path);
    if (d.first_offset < s.end) {
      if (s.segments == 0 || s.records < d.records || s.bytes_raw < d.bytes_raw ||
          s.bytes_stored < d.bytes_stored)
        return refuse("it drops more than the settled segments hold");
      --s.segments;
      s.records -= d.records;
      s.bytes_raw -= d.bytes_raw;
      s.bytes_stored -= d.bytes_stored;
    } else {
      if (held >= p->segments.size() || p->segments[held].first_offset != d.first_offset)
        return refuse("segment " + d.path + " is not the next one held");
      ++held;
    }
    records += d.records;
    raw += d.bytes_raw;
    stored += d.bytes_stored;
  }
  if (s.segments > 0 && t.start >= s.end) return refuse("settled segments stay below it");
  if (held < p->segments.size() && p->segments[held].first_offset < t.start)
    return refuse("segment " + p->segments[held].path + " stays below it");
  p->segments.erase(p->segments.begin(), p->segments.begin() + static_cast<ptrdiff_t>(held));
  p->records -= records;
  p->bytes_raw -= raw;
  p->bytes_stored -= stored;
  if (s.segments == 0) {
    s = Settled{};
  } else {
    s.pos = std::max(s.pos, t.front_pos);
    s.first_max_timestamp = t.front_max_timestamp;
  }
  p->settled = s;
  TrimGaps(p, t.start);
  return Status::Ok();
}

std::vector<Trim> PlanTrims(const Manifest& m, const RetentionPolicy& policy, int64_t now_ms) {
  struct Part {
    const std::string* topic;
    const PartitionManifest* p;
    size_t drop = 0;  // leading segments dropped
  };
  std::vector<Part> parts;
  uint64_t total = 0;
  for (const auto& [name, t] : m.topics) {
    for (const auto& p : t.partitions) {
      Part part{&name, &p};
      if (policy.max_age_ms > 0) {
        const int64_t cutoff = now_ms - policy.max_age_ms;
        while (part.drop < p.segments.size() && p.segments[part.drop].max_timestamp < cutoff)
          ++part.drop;
      }
      total += p.bytes_stored;
      for (size_t i = 0; i < part.drop; ++i) total -= p.segments[i].bytes_stored;
      parts.push_back(part);
    }
  }
  if (policy.max_bytes > 0 && total > policy.max_bytes) {
    // Oldest first across partitions: each partition offers its next leading segment.
    using Entry = std::tuple<int64_t, size_t>;  // newest record of the segment, partition index
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> next;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i].drop < parts[i].p->segments.size())
        next.emplace(parts[i].p->segments[parts[i].drop].max_timestamp, i);
    }
    while (total > policy.max_bytes && !next.empty()) {
      const size_t i = std::get<1>(next.top());
      next.pop();
      Part& part = parts[i];
      total -= part.p->segments[part.drop].bytes_stored;
      ++part.drop;
      if (part.drop < part.p->segments.size())
        next.emplace(part.p->segments[part.drop].max_timestamp, i);
      else if (part.p->settled.segments > 0)
        break;  // a front read in part (PlanWindowedTrims): what is next there is not known yet
    }
  }
  std::vector<Trim> trims;
  for (const auto& part : parts) {
    if (part.drop == 0) continue;
    const auto& segs = part.p->segments;
    Trim t;
    t.topic = *part.topic;
    t.partition = part.p->partition;
    t.start = part.drop < segs.size() ? segs[part.drop].first_offset : part.p->end_offset;
    t.dropped.assign(segs.begin(), segs.begin() + static_cast<ptrdiff_t>(part.drop));
    trims.push_back(std::move(t));
  }
  return trims;
}

std::vector<std::string> GroupsBelowRetention(const Manifest& m) {
  std::vector<std::string> out;
  for (const auto& [g, offsets] : m.groups) {
    for (const auto& [topic, parts] : offsets) {
      auto t = m.topics.find(topic);
      if (t == m.topics.end()) continue;
      for (const auto& [part, off] : parts) {
        for (const auto& p : t->second.partitions) {
          if (p.partition != part) continue;
          const int64_t start = RetentionStart(p);
          if (start > p.start_offset && off < start) {
            out.push_back("group " + g + ": " + topic + "/" + std::to_string(part) + " at " +
                          std::to_string(off) + ", below the retention start " +
                          std::to_string(start) + " (the records it pointed at were pruned)");
          }
        }
      }
    }
  }
  return out;
}

}  // namespace tidemark::backup
