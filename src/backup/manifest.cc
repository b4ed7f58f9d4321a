#include "backup/manifest.h"
#include "backup/catalog.h"
#include "backup/json_fields.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include "common/time.h"
#include "io/io_backend.h"

namespace tidemark::backup {

using nlohmann::json;

namespace {
// Sums f(partition) over every partition of the manifest.
template <typename F>
uint64_t SumPartitions(const Manifest& m, F f) {
  uint64_t n = 0;
  for (const auto& [name, t] : m.topics) {
    for (const auto& p : t.partitions) n += f(p);
  }
  return n;
}
}  // namespace

uint64_t Manifest::TotalRecords() const {
  return SumPartitions(*this, [](const PartitionManifest& p) { return p.records; });
}
uint64_t Manifest::TotalBytesRaw() const {
  return SumPartitions(*this, [](const PartitionManifest& p) { return p.bytes_raw; });
}
uint64_t Manifest::TotalBytesStored() const {
  return SumPartitions(*this, [](const PartitionManifest& p) { return p.bytes_stored; });
}
size_t Manifest::TotalPartitions() const {
  return SumPartitions(*this, [](const PartitionManifest&) { return 1; });
}
size_t Manifest::TotalSegments() const {
  return SumPartitions(*this, [](const PartitionManifest& p) { return p.segments.size(); });
}

namespace {
std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, v);
  return buf;
}
}  // namespace

json SegmentToJson(const segment::SealedSegment& s) {
  json js = {{"path", s.path},
             {"first_offset", s.first_offset},
             {"last_offset", s.last_offset},
             {"min_timestamp", s.min_timestamp},
             {"max_timestamp", s.max_timestamp},
             {"records", s.records},
             {"bytes_raw", s.bytes_raw},
             {"bytes_stored", s.bytes_stored},
             {"blocks", s.blocks},
             {"checksum", Hex64(s.checksum)}};
  if (s.uploaded_ms != 0) js["uploaded_ms"] = s.uploaded_ms;
  if (!s.local) js["local"] = false;
  return js;
}

segment::SealedSegment SegmentFromJson(const json& js) {
  segment::SealedSegment s;
  s.path = js.at("path").get<std::string>();
  s.first_offset = Int<int64_t>(js, "first_offset");
  s.last_offset = Int<int64_t>(js, "last_offset");
  s.min_timestamp = Int<int64_t>(js, "min_timestamp");
  s.max_timestamp = Int<int64_t>(js, "max_timestamp");
  s.records = Int<uint64_t>(js, "records");
  s.bytes_raw = Int<uint64_t>(js, "bytes_raw");
  s.bytes_stored = Int<uint64_t>(js, "bytes_stored");
  s.blocks = Int<uint32_t>(js, "blocks");
  const std::string sum = js.at("checksum").get<std::string>();
  if (sum.size() != 16 || sum.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw std::invalid_argument("segment checksum '" + sum.substr(0, 40) +
                                "' is not 16 lowercase hex digits");
  s.checksum = std::stoull(sum, nullptr, 16);
  s.uploaded_ms = Int<int64_t>(js, "uploaded_ms", 0);
  s.local = js.value("local", true);
  return s;
}

json GapToJson(const Gap& g) { return {{"from", g.from}, {"to", g.to}, {"reason", g.reason}}; }

Gap GapFromJson(const json& jg) {
  return {Int<int64_t>(jg, "from"), Int<int64_t>(jg, "to"), jg.at("reason").get<std::string>()};
}

void AddGap(PartitionManifest* p, int64_t from, int64_t to, const std::string& reason) {
  if (!p->gaps.empty() && p->gaps.back().to == from && p->gaps.back().reason == reason) {
    p->gaps.back().to = to;
    return;
  }
  p->gaps.push_back({from, to, reason});
}

PartitionManifest& FindOrAddPartition(Manifest* m, const std::string& topic, int32_t partition) {
  TopicManifest& t = m->topics[topic];
  // A listed partition is always below the partition count (ValidateManifest relies on it).
  t.partition_count = std::max(t.partition_count, partition + 1);
  auto& parts = t.partitions;
  auto it = std::lower_bound(parts.begin(), parts.end(), partition,
                             [](const PartitionManifest& p, int32_t v) { return p.partition < v; });
  if (it != parts.end() && it->partition == partition) return *it;
  PartitionManifest p;
  p.partition = partition;
  return *parts.insert(it, std::move(p));
}

void SettleSegments(PartitionManifest* p,
                    const std::function<bool(const segment::SealedSegment&)>& done, uint64_t pos) {
  size_t n = 0;
  for (; n < p->segments.size() && done(p->segments[n]); ++n) {
    const auto& s = p->segments[n];
    if (p->settled.segments == 0) {
      p->settled.pos = pos;
      p->settled.first_max_timestamp = s.max_timestamp;
    }
    p->settled.segments += 1;
    p->settled.records += s.records;
    p->settled.bytes_raw += s.bytes_raw;
    p->settled.bytes_stored += s.bytes_stored;
    p->settled.end = s.Last() + 1;
  }
  if (n == 0) return;
  p->segments.erase(p->segments.begin(), p->segments.begin() + static_cast<ptrdiff_t>(n));
  if (p->segments.capacity() > 2 * p->segments.size() + 16) p->segments.shrink_to_fit();
}

std::string ManifestToJson(const Manifest& m) {
  json j;
  j["format_version"] = m.version;
  j["id"] = m.id;
  j["kind"] = m.kind;
  j["cluster_id"] = m.cluster_id;
  j["brokers"] = m.brokers;
  j["started_ms"] = m.started_ms;
  j["started_at"] = FormatRfc3339(m.started_ms);
  j["finished_ms"] = m.finished_ms;
  j["finished_at"] = FormatRfc3339(m.finished_ms);
  j["compression"] = m.compression;
  j["level"] = m.level;
  json topics = json::object();
  for (const auto& [name, t] : m.topics) {
    json jt;
    jt["partition_count"] = t.partition_count;
    if (t.configs)
      jt["configs"] = *t.configs;
    else
      jt["configs"] = nullptr;
    if (!t.configs_note.empty()) jt["configs_note"] = t.configs_note;
    json parts = json::array();
    for (const auto& p : t.partitions) {
      json jp;
      jp["partition"] = p.partition;
      jp["start_offset"] = p.start_offset;
      jp["end_offset"] = p.end_offset;
      jp["records"] = p.records;
      jp["bytes_raw"] = p.bytes_raw;
      jp["bytes_stored"] = p.bytes_stored;
      json segs = json::array();
      for (const auto& s : p.segments) segs.push_back(SegmentToJson(s));
      jp["segments"] = std::move(segs);
      json gaps = json::array();
      for (const auto& g : p.gaps) gaps.push_back(GapToJson(g));
      jp["gaps"] = std::move(gaps);
      parts.push_back(std::move(jp));
    }
    jt["partitions"] = std::move(parts);
    topics[name] = std::move(jt);
  }
  j["topics"] = std::move(topics);
  json groups = json::object();
  for (const auto& [g, offsets] : m.groups) {
    json jg = json::object();
    for (const auto& [topic, parts] : offsets) {
      json jt = json::object();
      for (const auto& [p, o] : parts) jt[std::to_string(p)] = o;
      jg[topic] = std::move(jt);
    }
    groups[g] = std::move(jg);
  }
  j["groups"] = std::move(groups);
  if (!m.groups_note.empty()) j["groups_note"] = m.groups_note;
  return j.dump(2) + "\n";
}

namespace {

std::string Where(const std::string& topic, int32_t partition) {
  return topic + "/" + std::to_string(partition);
}

}  // namespace

Status ValidateSegments(const std::string& topic, const PartitionManifest& p,
                        const std::string& origin) {
  auto bad = [&](const std::string& what) {
    return Status::Corrupt(origin + ": partition " + Where(topic, p.partition) + ": " + what);
  };
  uint64_t records = p.settled.records, raw = p.settled.bytes_raw, stored = p.settled.bytes_stored;
  int64_t prev_last = p.settled.segments > 0 ? p.settled.end - 1 : -1;
  if (p.settled.segments > 0 && (p.settled.end <= p.start_offset || p.settled.end > p.end_offset))
    return bad("its settled segments end at " + std::to_string(p.settled.end) +
               ", outside its range");
  const std::string dir = format::PartitionDir(topic, p.partition) + "/";
  for (const auto& s : p.segments) {
    const std::string what = "segment " + std::to_string(s.first_offset) + ": ";
    if (s.path != dir + format::SegmentName(s.first_offset, true)) {
      return bad(what + "path '" + s.path + "' is not " + dir +
                 format::SegmentName(s.first_offset, true));
    }
    if (s.first_offset < p.start_offset || s.first_offset <= prev_last ||
        (s.records == 0 && s.first_offset >= p.end_offset))
      return bad(what + "out of order, or outside the partition's range");
    if (s.records > 0 && (s.last_offset < s.first_offset || s.last_offset >= p.end_offset ||
                          static_cast<uint64_t>(s.last_offset - s.first_offset) < s.records - 1 ||
                          s.min_timestamp > s.max_timestamp || s.blocks == 0)) {
      return bad(what + "offsets " + std::to_string(s.first_offset) + ".." +
                 std::to_string(s.last_offset) + " cannot hold its " + std::to_string(s.records) +
                 " records inside the partition's range, or its times or blocks are inconsistent");
    }
    prev_last = std::max(prev_last, s.Last());
    records += s.records;
    raw += s.bytes_raw;
    stored += s.bytes_stored;
  }
  if (records != p.records || raw != p.bytes_raw || stored != p.bytes_stored) {
    return bad("its counts (" + std::to_string(p.records) + " records, " +
               std::to_string(p.bytes_raw) + " raw and " + std::to_string(p.bytes_stored) +
               " stored bytes) are not the sums of its segments' (" + std::to_string(records) +
               ", " + std::to_string(raw) + ", " + std::to_string(stored) + ")");
  }
  return Status::Ok();
}

namespace {

Status ValidatePartition(const std::string& topic, const PartitionManifest& p,
                         const std::string& origin) {
  auto bad = [&](const std::string& what) {
    return Status::Corrupt(origin + ": partition " + Where(topic, p.partition) + ": " + what);
  };
  if (p.start_offset < 0 || p.end_offset < p.start_offset) {
    return bad("offset range [" + std::to_string(p.start_offset) + ", " +
               std::to_string(p.end_offset) + ") is not a range of offsets");
  }
  TM_RETURN_IF_ERROR(ValidateSegments(topic, p, origin));
  std::vector<Gap> gaps = p.gaps;
  std::sort(gaps.begin(), gaps.end(), [](const Gap& a, const Gap& b) { return a.from < b.from; });
  int64_t prev_to = p.start_offset;
  for (const auto& g : gaps) {
    if (g.from >= g.to || g.from < prev_to || g.to > p.end_offset) {
      return bad("gap [" + std::to_string(g.from) + ", " + std::to_string(g.to) +
                 ") is empty, overlaps another, or lies outside the partition's range");
    }
    prev_to = g.to;
  }
  return Status::Ok();
}

}  // namespace

Status ValidateManifest(const Manifest& m, const std::string& origin) {
  if (m.kind != "snapshot" && m.kind != "continuous")
    return Status::Corrupt(origin + ": kind '" + m.kind + "' is neither snapshot nor continuous");
  for (const auto& [topic, t] : m.topics) {
    if (!format::IsLegalTopicName(topic)) {
      return Status::Corrupt(origin + ": topic name '" + topic +
                             "' is not a legal Kafka topic name ([a-zA-Z0-9._-], 1 to 249 "
                             "characters, not '.' or '..')");
    }
    if (t.partition_count < 0)
      return Status::Corrupt(origin + ": topic " + topic + " has a negative partition count");
    int32_t prev = -1;
    for (const auto& p : t.partitions) {
      if (p.partition <= prev || p.partition >= t.partition_count) {
        return Status::Corrupt(origin + ": topic " + topic + " lists partition " +
                               std::to_string(p.partition) +
                               " out of order, twice, or outside its partition count " +
                               std::to_string(t.partition_count));
      }
      prev = p.partition;
      TM_RETURN_IF_ERROR(ValidatePartition(topic, p, origin));
    }
  }
  for (const auto& [g, offsets] : m.groups) {
    for (const auto& [topic, parts] : offsets) {
      for (const auto& [part, off] : parts) {
        if (off < 0) {
          return Status::Corrupt(origin + ": group '" + g + "' has a negative offset on " +
                                 Where(topic, part));
        }
      }
    }
  }
  return Status::Ok();
}

Result<Manifest> ManifestFromJson(const std::string& text, const std::string& origin) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Corrupt(origin + ": not valid JSON");
  // The JSON library reports missing or mistyped fields by exception; manifests are read at
  // the start of a command, never on a data path, so converting here is the simple, safe choice.
  try {
    Manifest m;
    m.version = Int<int>(j, "format_version");
    if (m.version != kManifestVersion) {
      return Status::Corrupt(origin + ": manifest format_version " + std::to_string(m.version) +
                             " is not supported by this tidemark (supports " +
                             std::to_string(kManifestVersion) + ")");
    }
    m.id = j.at("id").get<std::string>();
    m.kind = j.at("kind").get<std::string>();
    m.cluster_id = j.at("cluster_id").get<std::string>();
    m.brokers = j.value("brokers", "");
    m.started_ms = Int<int64_t>(j, "started_ms");
    m.finished_ms = Int<int64_t>(j, "finished_ms");
    m.compression = j.at("compression").get<std::string>();
    m.level = Int<int>(j, "level");
    for (const auto& [name, jt] : j.at("topics").items()) {
      TopicManifest t;
      t.partition_count = Int<int32_t>(jt, "partition_count");
      if (!jt.at("configs").is_null())
        t.configs = jt.at("configs").get<std::map<std::string, std::string>>();
      t.configs_note = jt.value("configs_note", "");
      for (const auto& jp : jt.at("partitions")) {
        PartitionManifest p;
        p.partition = Int<int32_t>(jp, "partition");
        p.start_offset = Int<int64_t>(jp, "start_offset");
        p.end_offset = Int<int64_t>(jp, "end_offset");
        p.records = Int<uint64_t>(jp, "records");
        p.bytes_raw = Int<uint64_t>(jp, "bytes_raw");
        p.bytes_stored = Int<uint64_t>(jp, "bytes_stored");
        for (const auto& js : jp.at("segments")) p.segments.push_back(SegmentFromJson(js));
        for (const auto& jg : jp.at("gaps")) p.gaps.push_back(GapFromJson(jg));
        t.partitions.push_back(std::move(p));
      }
      m.topics.emplace(name, std::move(t));
    }
    if (j.contains("groups")) {
      for (const auto& [g, jg] : j.at("groups").items()) {
        GroupOffsets offsets;
        for (const auto& [topic, jt] : jg.items()) {
          for (const auto& [p, o] : jt.items()) {
            int32_t part = -1;
            const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), part);
            if (ec != std::errc() || end != p.data() + p.size() || part < 0)
              return Status::Corrupt(origin + ": group '" + g + "' names partition '" + p +
                                     "' of topic '" + topic + "', not a partition number");
            offsets[topic][part] = Int<int64_t>(jt, p.c_str());
          }
        }
        m.groups.emplace(g, std::move(offsets));
      }
    }
    m.groups_note = j.value("groups_note", "");
    TM_RETURN_IF_ERROR(ValidateManifest(m, origin));
    return m;
  } catch (const std::exception& e) {
    return Status::Corrupt(origin +
                           ": manifest is missing a field or has a wrong type: " + e.what());
  }
}

Status WriteFileAtomic(const std::string& dir, const std::string& name, const std::string& data) {
  const std::string tmp = dir + "/." + name + ".tmp";
  const std::string dst = dir + "/" + name;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Errno(errno, "create " + tmp);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::Errno(err, "write " + tmp);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status::Errno(err, "fsync " + tmp);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), dst.c_str()) != 0) return Status::Errno(errno, "rename " + tmp);
  return io::SyncDirectory(dir);
}

Status WriteManifest(const std::string& dir, const Manifest& m) {
  if (HasCatalog(dir)) return CatalogWriter::Create(dir, m).status();
  return WriteFileAtomic(dir, kManifestName, ManifestToJson(m));
}

void ApplyScope(Manifest* m, const ReadScope& scope) {
  if (!scope.wants) return;
  std::erase_if(m->topics, [&scope](const auto& t) { return !scope.Wants(t.first); });
}

Result<Manifest> ReadManifest(const std::string& dir, const ReadScope& scope) {
  if (HasCatalog(dir)) return ReadCatalog(dir, scope);
  const std::string path = dir + "/" + kManifestName;
  std::ifstream in(path);
  if (!in) return Status::NotFound("no manifest at " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  TM_ASSIGN_OR_RETURN(Manifest m, ManifestFromJson(ss.str(), path));
  ApplyScope(&m, scope);
  return m;
}

}  // namespace tidemark::backup
