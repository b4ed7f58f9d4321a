#include "backup/catalog.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>

#include "backup/catalog_files.h"
#include "backup/catalog_lines.h"
#include "backup/json_fields.h"
#include "common/log.h"
#include "io/io_backend.h"
#include "tidemark/format.h"

namespace tidemark::backup {

namespace fs = std::filesystem;
using catalog_files::ForEachLine;
using catalog_files::IsLogRel;
using catalog_files::kTopicsDir;
using catalog_files::ListFiles;
using catalog_files::LogRel;
using catalog_files::ReadFile;
using catalog_files::WriteAt;
using nlohmann::json;

// --- the writer -----------------------------------------------------------------------------

CatalogWriter::CatalogWriter(std::string dir)
    : dir_(std::move(dir)), cat_dir_(dir_ + "/" + kCatalogDir) {}

CatalogWriter::~CatalogWriter() {
  if (changes_fd_ >= 0) ::close(changes_fd_);
}

namespace {

const PartitionManifest* Find(const Manifest& m, const std::string& topic, int32_t partition) {
  auto t = m.topics.find(topic);
  if (t == m.topics.end()) return nullptr;
  const auto& parts = t->second.partitions;
  auto it = std::lower_bound(parts.begin(), parts.end(), partition,
                             [](const PartitionManifest& p, int32_t v) { return p.partition < v; });
  return it != parts.end() && it->partition == partition ? &*it : nullptr;
}

bool SameGap(const Gap& a, const Gap& b) {
  return a.from == b.from && a.to == b.to && a.reason == b.reason;
}

}  // namespace

CatalogWriter::Known CatalogWriter::KnownOf(const PartitionManifest& p) {
  Known k;
  k.start = p.start_offset;
  k.end = p.end_offset;
  k.segments = p.SegmentCount();
  k.gaps = p.gaps.size();
  if (!p.gaps.empty()) k.last_gap = p.gaps.back();
  k.records = p.records;
  k.bytes_raw = p.bytes_raw;
  k.bytes_stored = p.bytes_stored;
  return k;
}

void CatalogWriter::Remember(const Manifest& m) {
  known_.clear();
  known_counts_.clear();
  for (const auto& [name, t] : m.topics) {
    known_counts_[name] = t.partition_count;
    for (const auto& p : t.partitions) known_[{name, p.partition}] = KnownOf(p);
  }
  known_backup_ = BackupFields(m).dump();
}

Status CatalogWriter::WriteRoot(const Manifest& m) {
  json root = RootHeader(m);
  root["folded_seq"] = folded_seq_;
  root["generation"] = generation_;
  json topics = json::object();
  for (const auto& [name, t] : m.topics) {
    json jt = TopicHeader(t);
    const auto log = logs_.find(name);
    jt["log"] = log != logs_.end() ? log->second.rel : "";
    jt["log_bytes"] = log != logs_.end() ? log->second.bytes : 0;
    for (size_t i = 0; i < t.partitions.size(); ++i)
      jt["partitions"][i]["segments"] = t.partitions[i].SegmentCount();
    topics[name] = std::move(jt);
  }
  root["topics"] = std::move(topics);
  return WriteFileAtomic(cat_dir_, kCatalogRoot, root.dump(1) + "\n");
}

Status CatalogWriter::OpenChanges(bool truncate) {
  const std::string path = cat_dir_ + "/" + kChangesLog;
  changes_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (changes_fd_ < 0) return Status::Errno(errno, "open " + path);
  if (truncate) {
    if (::ftruncate(changes_fd_, 0) != 0 || ::fdatasync(changes_fd_) != 0)
      return Status::Errno(errno, "empty " + path);
    changes_bytes_ = 0;
  }
  return io::SyncDirectory(cat_dir_);
}

Status CatalogWriter::AppendChanges(const std::string& text) {
  Status s = WriteAt(changes_fd_, text, changes_bytes_, cat_dir_ + "/" + kChangesLog);
  if (!s.ok()) {
    // Cut back what may have landed, so the next checkpoint appends after whole lines.
    if (::ftruncate(changes_fd_, static_cast<off_t>(changes_bytes_)) != 0) {
      return s.WithContext("and cannot cut " + std::string(kChangesLog) + " back (" +
                           std::strerror(errno) + ")");
    }
  }
  return s;
}

Result<std::unique_ptr<CatalogWriter>> CatalogWriter::Create(const std::string& dir,
                                                             const Manifest& m) {
  for (const auto& [name, t] : m.topics)
    for (const auto& p : t.partitions)
      if (p.settled.segments > 0)
        return Status::Invalid("a catalog is written whole only from a whole manifest (" + name +
                               "/" + std::to_string(p.partition) + " is windowed)");
  std::unique_ptr<CatalogWriter> w(new CatalogWriter(dir));
  std::error_code ec;
  fs::create_directories(w->cat_dir_ + "/" + kTopicsDir, ec);
  if (ec) return Status::Errno(ec.value(), "create " + w->cat_dir_);
  // Sequence numbers continue above any an earlier catalog used, so that none of its lines
  // still in changes.log can apply to the new one.
  int64_t seq0 = 0;
  if (auto old = ReadFile(w->cat_dir_ + "/" + kCatalogRoot); old.ok()) {
    json r = json::parse(*old, nullptr, false);
    try {
      if (r.is_object()) {
        seq0 = Int<int64_t>(r, "folded_seq", 0);
        w->generation_ = Int<uint64_t>(r, "generation", 0) + 1;
      }
    } catch (const std::exception&) {
    }
  }
  if (auto old = ReadFile(w->cat_dir_ + "/" + kChangesLog); old.ok()) {
    size_t valid = 0;
    for (const auto& l : ScanLines(*old, &valid)) seq0 = std::max(seq0, l.seq);
  }
  w->next_seq_ = seq0 + 1;
  for (const auto& [name, t] : m.topics) {
    std::string text;
    for (const auto& p : t.partitions) {
      json l = PartitionLine(name, p, 0, 0);
      l["seq"] = w->next_seq_++;
      text += EncodeLine(l);
    }
    TopicLog log{LogRel(name, w->generation_), text.size()};
    const std::string tdir = w->cat_dir_ + "/" + kTopicsDir + "/" + name;
    fs::create_directories(tdir, ec);
    if (ec) return Status::Errno(ec.value(), "create " + tdir);
    const std::string path = w->cat_dir_ + "/" + log.rel;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::Errno(errno, "create " + path);
    Status s = WriteAt(fd, text, 0, path);
    ::close(fd);
    TM_RETURN_IF_ERROR(s);
    TM_RETURN_IF_ERROR(io::SyncDirectory(tdir));
    w->logs_[name] = std::move(log);
  }
  TM_RETURN_IF_ERROR(io::SyncDirectory(w->cat_dir_ + "/" + kTopicsDir));
  w->folded_seq_ = w->next_seq_ - 1;
  TM_RETURN_IF_ERROR(w->WriteRoot(m));
  TM_RETURN_IF_ERROR(w->OpenChanges(/*truncate=*/true));
  // The earlier generation's logs: nothing names them any more.
  std::vector<fs::path> files, dirs;
  ListFiles(w->cat_dir_ + "/" + kTopicsDir, &files, &dirs);
  for (const auto& d : dirs) {
    auto log = w->logs_.find(d.filename().string());
    std::vector<fs::path> in, sub;
    ListFiles(d, &in, &sub);
    for (const auto& f : in) {
      if (log == w->logs_.end() || f != fs::path(w->cat_dir_) / log->second.rel) fs::remove(f, ec);
    }
    if (log == w->logs_.end()) fs::remove_all(d, ec);
  }
  w->Remember(m);
  return w;
}

Result<std::unique_ptr<CatalogWriter>> CatalogWriter::Open(const std::string& dir,
                                                           const Manifest& m) {
  std::unique_ptr<CatalogWriter> w(new CatalogWriter(dir));
  const std::string root_path = w->cat_dir_ + "/" + kCatalogRoot;
  TM_ASSIGN_OR_RETURN(std::string text, ReadFile(root_path));
  json root = json::parse(text, nullptr, false);
  try {
    w->folded_seq_ = Int<int64_t>(root, "folded_seq");
    w->generation_ = Int<uint64_t>(root, "generation");
    for (const auto& [name, jt] : root.at("topics").items()) {
      const std::string rel = jt.at("log").get<std::string>();
      if (!IsLogRel(rel, name)) continue;  // ReadCatalog refused this already
      w->logs_[name] = {rel, Int<uint64_t>(jt, "log_bytes")};
    }
  } catch (const std::exception& e) {
    return Status::Corrupt(root_path + ": " + e.what());
  }
  // Bytes a fold appended but no root vouched for: cut off, so appends follow whole lines.
  for (const auto& [name, log] : w->logs_) {
    const std::string path = w->cat_dir_ + "/" + log.rel;
    std::error_code ec;
    const uintmax_t size = fs::file_size(path, ec);
    if (ec) return Status::Errno(ec.value(), "stat " + path);
    if (size > log.bytes && ::truncate(path.c_str(), static_cast<off_t>(log.bytes)) != 0)
      return Status::Errno(errno, "cut " + path + " back to what root.json vouches for");
  }
  int64_t max_seq = w->folded_seq_;
  size_t valid = 0;
  if (auto changes = ReadFile(w->cat_dir_ + "/" + kChangesLog); changes.ok()) {
    try {
      for (const auto& l : ScanLines(*changes, &valid)) {
        max_seq = std::max(max_seq, l.seq);
        if (l.seq <= w->folded_seq_ || l.type == "backup" || l.type == "topic") continue;
        w->pending_[LineTopic(l.j)].append(*changes, l.begin, l.end - l.begin);
      }
    } catch (const std::exception& e) {
      return Status::Corrupt(w->cat_dir_ + "/" + kChangesLog + ": " + e.what());
    }
  } else if (!changes.status().Is(Errc::kNotFound)) {
    return changes.status();
  }
  w->next_seq_ = max_seq + 1;
  TM_RETURN_IF_ERROR(w->OpenChanges(/*truncate=*/false));
  if (::ftruncate(w->changes_fd_, static_cast<off_t>(valid)) != 0 ||
      ::fdatasync(w->changes_fd_) != 0)
    return Status::Errno(errno, "cut the torn end of " + w->cat_dir_ + "/" + kChangesLog);
  w->changes_bytes_ = valid;
  w->stats_.changes_bytes = valid;
  w->Remember(m);
  return w;
}

uint64_t CatalogWriter::TopicEnd(const std::string& topic) const {
  const auto log = logs_.find(topic);
  const auto pending = pending_.find(topic);
  return (log != logs_.end() ? log->second.bytes : 0) +
         (pending != pending_.end() ? pending->second.size() : 0);
}

Status CatalogWriter::ScanTopic(
    const std::string& topic, uint64_t from,
    const std::function<bool(uint64_t pos, const CatalogLine&)>& each) const {
  const auto log = logs_.find(topic);
  const uint64_t log_bytes = log != logs_.end() ? log->second.bytes : 0;
  bool more = true;
  if (from < log_bytes) {
    const std::string path = cat_dir_ + "/" + log->second.rel;
    try {
      TM_RETURN_IF_ERROR(
          ForEachLine(path, from, log_bytes,
                      [&](uint64_t pos, const CatalogLine& l) { return more = each(pos, l); }));
    } catch (const std::exception& e) {
      return Status::Corrupt(path + ": " + e.what());
    }
    from = log_bytes;
  }
  const auto pending = pending_.find(topic);
  if (!more || pending == pending_.end() || from - log_bytes >= pending->second.size())
    return Status::Ok();
  const std::string_view rest = std::string_view(pending->second).substr(from - log_bytes);
  size_t valid = 0;
  try {
    for (const auto& l : ScanLines(rest, &valid))
      if (!each(from + l.begin, l)) break;
  } catch (const std::exception& e) {
    return Status::Corrupt(cat_dir_ + "/" + kChangesLog + ": " + e.what());
  }
  return Status::Ok();
}

std::string CatalogWriter::BackupLine(const Manifest& m, int64_t seq) const {
  json l = BackupFields(m);
  l["type"] = "backup";
  l["seq"] = seq;
  return EncodeLine(l);
}

Status CatalogWriter::Checkpoint(const Manifest& m, const std::set<TopicPartition>& partitions,
                                 const std::vector<std::string>& marked,
                                 const std::vector<Trim>& trims) {
  std::string out;
  size_t written_segments = 0;
  std::map<std::string, std::string> add_pending;
  std::vector<std::pair<TopicPartition, Known>> updates;
  std::map<std::string, int32_t> counts;
  int64_t seq = next_seq_;
  const std::string backup_fields = BackupFields(m).dump();
  if (backup_fields != known_backup_) out += BackupLine(m, seq++);
  for (const auto& [name, t] : m.topics) {
    auto k = known_counts_.find(name);
    if (k != known_counts_.end() && k->second == t.partition_count) continue;
    out += EncodeLine({{"type", "topic"},
                       {"seq", seq++},
                       {"topic", name},
                       {"partition_count", t.partition_count}});
    counts[name] = t.partition_count;
  }
  std::set<TopicPartition> trimmed;
  for (const auto& trim : trims) {
    trimmed.insert({trim.topic, trim.partition});
    const PartitionManifest* p = Find(m, trim.topic, trim.partition);
    if (p == nullptr) continue;
    json l = RetentionLine(trim.topic, *p, trim.start);
    l["seq"] = seq++;
    std::string line = EncodeLine(l);
    out += line;
    add_pending[trim.topic] += line;
    updates.emplace_back(TopicPartition{trim.topic, trim.partition}, KnownOf(*p));
  }
  for (const auto& tp : partitions) {
    if (trimmed.count(tp)) continue;  // its retention line says all (see the header)
    auto t = m.topics.find(tp.first);
    if (t == m.topics.end()) continue;
    const auto& parts = t->second.partitions;
    auto it =
        std::lower_bound(parts.begin(), parts.end(), tp.second,
                         [](const PartitionManifest& p, int32_t v) { return p.partition < v; });
    if (it == parts.end() || it->partition != tp.second) continue;
    const PartitionManifest& p = *it;
    Known cur = KnownOf(p);
    size_t sf = 0, gf = 0;
    if (auto k = known_.find(tp); k != known_.end()) {
      const Known& was = k->second;
      if (was.start == cur.start && was.end == cur.end && was.segments == cur.segments &&
          was.gaps == cur.gaps && SameGap(was.last_gap, cur.last_gap) &&
          was.records == cur.records && was.bytes_raw == cur.bytes_raw &&
          was.bytes_stored == cur.bytes_stored)
        continue;
      // Segments and gaps are appended; the last gap may have grown (AddGap merges).
      sf = was.segments <= cur.segments ? was.segments : 0;
      gf = was.gaps <= cur.gaps ? was.gaps : 0;
      if (gf > 0 && !SameGap(p.gaps[gf - 1], was.last_gap)) --gf;
    }
    if (sf < p.settled.segments) {
      return Status::Invalid("partition " + tp.first + "/" + std::to_string(tp.second) +
                             " would restate segments its windowed copy let go of");
    }
    json l = PartitionLine(tp.first, p, sf, gf);
    l["seq"] = seq++;
    std::string line = EncodeLine(l);
    written_segments += cur.segments - std::min(sf, cur.segments);
    out += line;
    add_pending[tp.first] += line;
    updates.emplace_back(tp, std::move(cur));
  }
  for (const auto& path : marked) {
    // topics/<topic>/<partition>/<first offset>.tmseg
    const size_t a = path.find('/'), c = path.rfind('/');
    const size_t b = c == std::string::npos || c == 0 ? std::string::npos : path.rfind('/', c - 1);
    if (a == std::string::npos || b == std::string::npos || b <= a) continue;
    const std::string topic = path.substr(a + 1, b - a - 1);
    int32_t part = -1;
    try {
      part = std::stoi(path.substr(b + 1, c - b - 1));
    } catch (const std::exception&) {
      continue;
    }
    auto t = m.topics.find(topic);
    if (t == m.topics.end()) continue;
    for (const auto& p : t->second.partitions) {
      if (p.partition != part) continue;
      for (auto s = p.segments.rbegin(); s != p.segments.rend(); ++s) {
        if (s->path != path) continue;
        std::string line = EncodeLine({{"type", "mark"},
                                       {"seq", seq++},
                                       {"topic", topic},
                                       {"partition", part},
                                       {"path", path},
                                       {"uploaded_ms", s->uploaded_ms},
                                       {"local", s->local}});
        out += line;
        add_pending[topic] += line;
        break;
      }
    }
  }
  if (out.empty()) return Status::Ok();
  TM_RETURN_IF_ERROR(AppendChanges(out));
  line_bytes_written_ += out.size();
  segments_written_ += written_segments;
  stats_.lines += static_cast<uint64_t>(seq - next_seq_);
  next_seq_ = seq;
  known_backup_ = backup_fields;
  for (auto& [name, n] : counts) known_counts_[name] = n;
  for (auto& [tp, k] : updates) known_[tp] = std::move(k);
  for (auto& [name, text] : add_pending) pending_[name] += text;
  changes_bytes_ += out.size();
  ++stats_.checkpoints;
  stats_.changes_bytes = changes_bytes_;
  if (changes_bytes_ >= kFoldBytes) {
    // The checkpoint is durable whatever the fold does: a fold that fails (a full disk) leaves
    // the writer as it was and is tried again at the next checkpoint.
    if (Status f = Fold(m); !f.ok())
      TM_LOG_WARN("catalog: fold of %s postponed: %s", kChangesLog, f.message().c_str());
  }
  return Status::Ok();
}

Status CatalogWriter::Fold(const Manifest& m) {
  std::map<std::string, TopicLog> logs = logs_;
  std::error_code ec;
  std::set<std::string> new_dirs;
  // Every topic has a log, even one with nothing in it yet.
  std::map<std::string, std::string> appends = pending_;
  for (const auto& [name, t] : m.topics) appends[name];
  for (const auto& [name, text] : appends) {
    TopicLog& log = logs[name];
    const bool fresh = log.rel.empty();
    if (fresh) {
      log.rel = LogRel(name, generation_);
      const std::string tdir = cat_dir_ + "/" + kTopicsDir + "/" + name;
      fs::create_directories(tdir, ec);
      if (ec) return Status::Errno(ec.value(), "create " + tdir);
      new_dirs.insert(tdir);
    }
    if (text.empty() && !fresh) continue;
    const std::string path = cat_dir_ + "/" + log.rel;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Status::Errno(errno, "open " + path);
    Status s = WriteAt(fd, text, log.bytes, path);
    ::close(fd);
    TM_RETURN_IF_ERROR(s);
    log.bytes += text.size();
  }
  for (const auto& d : new_dirs) TM_RETURN_IF_ERROR(io::SyncDirectory(d));
  if (!new_dirs.empty()) TM_RETURN_IF_ERROR(io::SyncDirectory(cat_dir_ + "/" + kTopicsDir));
  const int64_t folded_before = folded_seq_;
  logs_.swap(logs);
  folded_seq_ = next_seq_ - 1;
  if (Status s = WriteRoot(m); !s.ok()) {
    logs_.swap(logs);
    folded_seq_ = folded_before;
    return s;
  }
  pending_.clear();
  ++stats_.folds;
  DropRetired();
  // The root covers every line now; emptying changes.log only saves readers from skipping them.
  if (::ftruncate(changes_fd_, 0) != 0 || ::fdatasync(changes_fd_) != 0)
    return Status::Errno(errno, "empty " + cat_dir_ + "/" + kChangesLog);
  changes_bytes_ = 0;
  stats_.changes_bytes = 0;
  return Status::Ok();
}

Result<std::optional<CatalogWriter::TopicLog>> CatalogWriter::CompactLog(const Manifest& m,
                                                                         const std::string& topic) {
  const TopicLog& old = logs_.at(topic);
  const auto t = m.topics.find(topic);
  if (t == m.topics.end()) return std::optional<TopicLog>();
  // The next name: the old one's number plus one (a leftover of a compaction cut short, which
  // nothing names, is overwritten).
  const uint64_t number = std::stoull(old.rel.substr(old.rel.size() - 24, 20));
  TopicLog next{LogRel(topic, number + 1), 0};
  const std::string path = cat_dir_ + "/" + next.rel;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Errno(errno, "create " + path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  // Per partition, what the new log names so far.
  struct Run {
    const PartitionManifest* p = nullptr;
    size_t count = 0;
    uint64_t records = 0, bytes_raw = 0, bytes_stored = 0;
    int64_t end = 0;
    int64_t last_first = -1;
  };
  std::map<int32_t, Run> runs;
  for (const auto& p : t->second.partitions) runs[p.partition] = {&p, 0, 0, 0, 0, p.start_offset};
  int64_t seq = next_seq_;
  std::string buf;
  uint64_t written = 0;
  bool usable = true;
  Status write_error;
  auto flush = [&](bool all) -> Status {
    if (buf.empty() || (!all && buf.size() < (1u << 20))) return Status::Ok();
    TM_RETURN_IF_ERROR(WriteAt(fd, buf, written, path, /*sync=*/false));
    written += buf.size();
    buf.clear();
    return Status::Ok();
  };
  auto emit = [&](json l) {
    l["seq"] = seq++;
    buf += EncodeLine(l);
  };
  Status st;
  try {
    st = ForEachLine(cat_dir_ + "/" + old.rel, 0, old.bytes, [&](uint64_t, const CatalogLine& l) {
      if (l.type != "partition" && l.type != "mark") return true;  // retention: in the last lines
      auto r = runs.find(Int<int32_t>(l.j, "partition"));
      if (r == runs.end()) return true;
      Run& run = r->second;
      const int64_t kept = RetentionStart(*run.p);
      if (l.type == "mark") {  // kept only for a segment the new log names
        int64_t first = -1;
        if (SegmentPathOffset(l.j.at("path").get<std::string>(), topic, run.p->partition, &first) &&
            first >= kept && first <= run.last_first)
          emit(l.j);  // with a seq of the new log
        return true;
      }
      json segs = json::array();
      for (const auto& js : l.j.at("segments")) {
        const int64_t first = Int<int64_t>(js, "first_offset");
        if (first < kept) continue;
        if (first <= run.last_first) {  // a line restating segments: not compacted here
          usable = false;
          return false;
        }
        const segment::SealedSegment s = SegmentFromJson(js);
        run.last_first = first;
        run.records += s.records;
        run.bytes_raw += s.bytes_raw;
        run.bytes_stored += s.bytes_stored;
        run.end = std::max(run.end, s.Last() + 1);
        segs.push_back(js);
      }
      if (segs.empty()) return true;
      const size_t n = segs.size();
      emit({{"type", "partition"},
            {"topic", topic},
            {"partition", run.p->partition},
            {"start_offset", run.p->start_offset},
            {"end_offset", run.end},
            {"records", run.records},
            {"bytes_raw", run.bytes_raw},
            {"bytes_stored", run.bytes_stored},
            {"segments_from", run.count},
            {"segments", std::move(segs)},
            {"gaps_from", 0},
            {"gaps", json::array()}});
      run.count += n;
      write_error = flush(false);
      return write_error.ok();
    });
  } catch (const std::exception& e) {
    return Status::Corrupt(cat_dir_ + "/" + old.rel + ": " + e.what());
  }
  TM_RETURN_IF_ERROR(st);
  TM_RETURN_IF_ERROR(write_error);
  for (const auto& [part, run] : runs) {
    const PartitionManifest& p = *run.p;
    if (run.count != p.SegmentCount() || run.records != p.records ||
        run.bytes_stored != p.bytes_stored)
      usable = false;
  }
  if (!usable) {
    ::unlink(path.c_str());
    return std::optional<TopicLog>();
  }
  // A last line per partition: its gaps (the retention range first), range and totals.
  for (const auto& [part, run] : runs) {
    json l = PartitionLine(topic, *run.p, run.p->SegmentCount(), 0);
    emit(std::move(l));
  }
  TM_RETURN_IF_ERROR(flush(true));
  if (::fdatasync(fd) != 0) return Status::Errno(errno, "fdatasync " + path);
  TM_RETURN_IF_ERROR(io::SyncDirectory(cat_dir_ + "/" + kTopicsDir + "/" + topic));
  next_seq_ = seq;
  next.bytes = written;
  return std::optional<TopicLog>(next);
}

// Logs an earlier compaction replaced: a reader that read the root naming one has had a fold's
// or a retention turn's time to read it.
void CatalogWriter::DropRetired() {
  for (const auto& rel : retired_) {
    std::error_code ec;
    fs::remove(cat_dir_ + "/" + rel, ec);
  }
  retired_.clear();
}

Result<std::vector<std::string>> CatalogWriter::CompactLogs(const Manifest& m) {
  DropRetired();
  std::vector<std::string> done;
  const uint64_t per_segment = segments_written_ >= 100
                                   ? std::max<uint64_t>(line_bytes_written_ / segments_written_, 64)
                                   : 400;
  std::map<std::string, uint64_t> kept;
  for (const auto& [tp, k] : known_) kept[tp.first] += k.segments;
  std::vector<std::string> due;
  for (const auto& [topic, log] : logs_) {
    if (log.bytes >= kCompactMinBytes && log.bytes > 2 * kept[topic] * per_segment)
      due.push_back(topic);
  }
  if (due.empty()) return done;
  if (!pending_.empty() || changes_bytes_ > 0) TM_RETURN_IF_ERROR(Fold(m));
  for (const auto& topic : due) {
    TM_ASSIGN_OR_RETURN(auto next, CompactLog(m, topic));
    if (!next) {
      TM_LOG_WARN(
          "catalog: the log of %s does not read back as the catalog names it; not compacted",
          topic.c_str());
      continue;
    }
    const TopicLog old = logs_[topic];
    const int64_t folded_before = folded_seq_;
    logs_[topic] = *next;
    folded_seq_ = next_seq_ - 1;
    if (Status s = WriteRoot(m); !s.ok()) {
      logs_[topic] = old;
      folded_seq_ = folded_before;
      ::unlink((cat_dir_ + "/" + next->rel).c_str());
      return s;
    }
    retired_.push_back(old.rel);  // named by nothing now; removed at the next fold
    ++stats_.compactions;
    done.push_back(topic);
  }
  return done;
}

}  // namespace tidemark::backup
