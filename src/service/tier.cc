#include "service/tier.h"

#include <algorithm>

#include "backup/catalog.h"
#include "backup/catalog_lines.h"
#include "common/log.h"
#include "common/time.h"
#include "s3/settings.h"

namespace tidemark::service {

namespace {

constexpr int64_t kRetryMinMs = 1000;
constexpr int64_t kRetryMaxMs = 30000;
using segment::SealedSegment;

// The first segment whose first offset is at or past `offset`.
size_t LowerBound(const std::vector<SealedSegment>& segs, int64_t offset) {
  return static_cast<size_t>(
      std::lower_bound(segs.begin(), segs.end(), offset,
                       [](const SealedSegment& s, int64_t v) { return s.first_offset < v; }) -
      segs.begin());
}

backup::PartitionManifest* FindPartition(backup::Manifest* m, const std::string& topic,
                                         int32_t partition) {
  auto t = m->topics.find(topic);
  if (t == m->topics.end()) return nullptr;
  auto& parts = t->second.partitions;
  auto it = std::lower_bound(
      parts.begin(), parts.end(), partition,
      [](const backup::PartitionManifest& p, int32_t v) { return p.partition < v; });
  return it != parts.end() && it->partition == partition ? &*it : nullptr;
}

// The partition as the store's catalog shows it when it names everything below `end`: the
// segments [0, end_index) (only those from `from` on copied), the gaps below `end`, the totals.
backup::PartitionManifest StoreView(const backup::PartitionManifest& p, int64_t end, size_t from) {
  backup::PartitionManifest v;
  v.partition = p.partition;
  v.start_offset = p.start_offset;
  v.end_offset = end;
  const size_t n = LowerBound(p.segments, end);
  v.records = p.records;
  v.bytes_raw = p.bytes_raw;
  v.bytes_stored = p.bytes_stored;
  for (size_t i = n; i < p.segments.size(); ++i) {  // what the store does not hold yet
    v.records -= p.segments[i].records;
    v.bytes_raw -= p.segments[i].bytes_raw;
    v.bytes_stored -= p.segments[i].bytes_stored;
  }
  for (size_t i = std::min(from, n); i < n; ++i) {
    v.segments.push_back(p.segments[i]);
    v.segments.back().local = true;  // what this node keeps is not the store's business
  }
  for (auto g : p.gaps) {
    if (g.from >= end) continue;
    g.to = std::min(g.to, end);
    v.gaps.push_back(std::move(g));
  }
  return v;
}

}  // namespace

Result<std::unique_ptr<Tier>> Tier::Make(const config::Config& c, std::string backup_dir,
                                         uint64_t min_rebase_bytes) {
  TM_ASSIGN_OR_RETURN(s3::Settings st, s3::ResolveSettings(c.upload));
  const std::string where = st.location.Url();
  // A quick look at the bucket (one try, 5 s at most): a hung store must not hold up the start.
  s3::ClientOptions quick = st.client;
  quick.timeout_ms = std::min(quick.timeout_ms, 5000);
  quick.retries = 0;
  TM_ASSIGN_OR_RETURN(std::unique_ptr<s3::Client> probe, s3::Client::Make(quick, st.credentials));
  const Status reachable = probe->CheckBucket(st.location.bucket);
  TM_ASSIGN_OR_RETURN(std::unique_ptr<upload::Pool> pool,
                      upload::Pool::Make(c.upload, std::move(st)));
  if (!reachable.ok()) {
    // Not fatal: the local store is the landing zone; uploads are retried until the store answers.
    TM_LOG_WARN("upload: %s; segments stay local and are uploaded once it answers",
                reachable.message().c_str());
  }
  TM_LOG_INFO("upload: sealed segments go to %s/%s (keep_local %s)", where.c_str(),
              c.backup.id.c_str(),
              c.upload.keep_local_ms < 0 ? "all"
              : c.upload.keep_local_ms == 0
                  ? "none"
                  : (std::to_string(c.upload.keep_local_ms / 1000) + " s").c_str());
  std::unique_ptr<Tier> t(new Tier(c.upload, c.backup.id, std::move(backup_dir), std::move(pool)));
  // Chunk names of this run sort after those of earlier runs (wall-clock microseconds), so the
  // sweep after this run's first root can tell an earlier run's leftovers from its own.
  t->chunk_serial_ = static_cast<uint64_t>(std::max<int64_t>(WallClockMs(), 0)) * 1000;
  t->first_serial_ = t->chunk_serial_;
  t->min_rebase_bytes_ = min_rebase_bytes;
  return t;
}

Tier::~Tier() { Stop(); }

void Tier::Stop() {
  if (pool_) pool_->Cancel();
}

std::string Tier::Key(const std::string& rel) const {
  return pool_->settings().location.Key(id_ + "/" + rel);
}

bool Tier::Turn(backup::Manifest* m, int64_t now_ms, bool submit) {
  bool changed = false;
  std::deque<Done> done;
  {
    std::lock_guard lk(mu_);
    done.swap(done_);
  }
  Settle(m, &done, now_ms, &changed);
  Walk(m, now_ms, submit, &changed);
  if (!submit) return changed;
  if (!upload_ && (generation_ == 0 || now_ms - last_upload_ms_ >= u_.catalog_interval_ms)) {
    BuildUpload(*m);
    if (upload_) last_upload_ms_ = now_ms;
  }
  SubmitUpload(now_ms);
  // Objects nothing names any more (a landed root stopped naming them).
  for (auto it = deletions_.begin(); it != deletions_.end();) {
    if (it->after_generation > landed_generation_ || it->not_before_ms > now_ms) {
      ++it;
      continue;
    }
    const std::string key = it->key;
    pool_->SubmitFirst({"", key,
                        [this, key](const Status& st) {
                          std::lock_guard lk(mu_);
                          done_.push_back({Kind::kDelete, key, st});
                        },
                        nullptr,
                        [key](s3::Client& c, const std::string& bucket) {
                          Status st = c.DeleteObject(bucket, key);
                          return st.Is(Errc::kNotFound) ? Status::Ok() : st;
                        }});
    it = deletions_.erase(it);
  }
  return changed;
}

void Tier::Fail(const std::string& what, const Status& st, int64_t now_ms) {
  ++stats_.failures;
  stats_.last_error = st.message();
  TM_LOG_WARN("upload: %s: %s; trying again in %lld ms", what.c_str(), st.message().c_str(),
              static_cast<long long>(failure_backoff_ms_));
  if (upload_) upload_->retry_at_ms = now_ms + failure_backoff_ms_;
  failure_backoff_ms_ = std::min(failure_backoff_ms_ * 2, kRetryMaxMs);
}

void Tier::Settle(backup::Manifest* m, std::deque<Done>* done, int64_t now_ms, bool* changed) {
  const int64_t wall = WallClockMs();
  for (auto& d : *done) {
    const bool aborted = d.status.Is(Errc::kAborted);
    switch (d.kind) {
      case Kind::kChunk:
      case Kind::kRoot:
        if (!upload_) break;
        upload_->in_pool = false;
        if (d.status.ok()) {
          failure_backoff_ms_ = kRetryMinMs;
          ++stats_.catalog_puts;
          if (d.kind == Kind::kChunk)
            upload_->put_done = true;
          else
            Landed();
        } else if (!aborted) {
          Fail(d.kind == Kind::kChunk ? "catalog chunk" : "catalog root", d.status, now_ms);
        }
        break;
      case Kind::kSweep:
        if (!d.status.ok() && !aborted) {
          TM_LOG_WARN(
              "upload: removing what earlier runs left under %s: %s; trying again after "
              "the next catalog upload",
              d.path.c_str(), d.status.message().c_str());
          swept_ = false;
        }
        break;
      case Kind::kDelete:
        if (!d.status.ok() && !aborted) {
          ++stats_.failures;
          stats_.last_error = d.status.message();
          TM_LOG_WARN("upload: delete %s: %s; trying again", d.path.c_str(),
                      d.status.message().c_str());
          deletions_.push_back({0, d.path, now_ms + kRetryMaxMs});
        }
        break;
      case Kind::kSegment: {
        auto it = in_pool_.find(d.path);
        if (it == in_pool_.end()) break;
        const auto [tp, first] = it->second;
        in_pool_.erase(it);
        if (d.status.ok()) {
          failure_backoff_ms_ = kRetryMinMs;
          backup::PartitionManifest* p = FindPartition(m, tp.first, tp.second);
          const size_t i = p != nullptr ? LowerBound(p->segments, first) : 0;
          if (p == nullptr || i == p->segments.size() || p->segments[i].path != d.path) {
            // Retention dropped it while it was uploading: no root ever named it.
            deletions_.push_back({0, Key(d.path), 0});
            break;
          }
          SealedSegment& s = p->segments[i];
          if (s.uploaded_ms == 0) {
            s.uploaded_ms = wall;
            marks_.push_back(d.path);
            ++stats_.uploaded_segments;
            stats_.uploaded_bytes += s.bytes_stored;
            *changed = true;
          }
        } else if (!aborted) {
          ++stats_.failures;
          stats_.last_error = d.status.message();
          TM_LOG_WARN("upload: %s; trying again in %lld ms (the segment stays local)",
                      d.status.message().c_str(), static_cast<long long>(failure_backoff_ms_));
          retry_at_[d.path] = now_ms + failure_backoff_ms_;
          failure_backoff_ms_ = std::min(failure_backoff_ms_ * 2, kRetryMaxMs);
        }
        break;
      }
    }
  }
}

void Tier::Walk(backup::Manifest* m, int64_t now_ms, bool submit, bool* changed) {
  backlog_ = 0;
  bool room = submit;
  const int64_t wall = WallClockMs();
  for (auto& [topic, t] : m->topics) {
    for (auto& p : t.partitions) {
      const TopicPartition tp{topic, p.partition};
      Remote& r = remote_[tp];
      auto& segs = p.segments;
      const size_t n = segs.size();
      // How far the store can name the partition: up to its first segment not uploaded.
      const int64_t kept = backup::RetentionStart(p);
      size_t i = LowerBound(segs, std::max(r.contig, kept));
      while (i < n && segs[i].uploaded_ms != 0) ++i;
      const int64_t contig = i < n ? std::max(p.start_offset, segs[i].first_offset) : p.end_offset;
      if (contig != r.contig) {
        r.contig = contig;
        r.dirty = true;
      }
      // The segments waiting, oldest first; the pool's queue is bounded.
      for (size_t j = i; j < n; ++j) {
        const SealedSegment& s = segs[j];
        if (s.uploaded_ms != 0) continue;
        ++backlog_;
        if (!room || in_pool_.count(s.path) != 0) continue;
        if (auto rt = retry_at_.find(s.path); rt != retry_at_.end()) {
          if (rt->second > now_ms) continue;
          retry_at_.erase(rt);
        }
        const std::string path = s.path;
        room = pool_->TrySubmit({backup_dir_ + "/" + path, Key(path),
                                 [this, path](const Status& st) {
                                   std::lock_guard lk(mu_);
                                   done_.push_back({Kind::kSegment, path, st});
                                 },
                                 nullptr, nullptr});
        if (room) in_pool_.emplace(path, std::make_pair(tp, s.first_offset));
      }
      // keep_local: only segments a root in the store names, from where the last turn stopped.
      if (u_.keep_local_ms < 0) continue;
      size_t k = LowerBound(segs, r.local_from);
      for (; k < n; ++k) {
        SealedSegment& s = segs[k];
        if (!s.local) continue;
        if (s.uploaded_ms == 0 || s.first_offset >= r.landed ||
            s.uploaded_ms + u_.keep_local_ms > wall)
          break;
        s.local = false;
        marks_.push_back(s.path);
        removals_.push_back(s.path);
        *changed = true;
      }
      r.local_from = k < n ? segs[k].first_offset : p.end_offset;
    }
  }
}

void Tier::BuildUpload(const backup::Manifest& m) {
  const bool base = generation_ == 0 || delta_bytes_ > std::max(base_bytes_, min_rebase_bytes_);
  bool any = base;
  for (const auto& [tp, r] : remote_) any = any || r.dirty || !r.trims.empty();
  if (!any) return;

  Upload up;
  up.generation = ++generation_;
  backup::Manifest summary;
  summary.id = m.id;
  summary.kind = m.kind;
  summary.started_ms = m.started_ms;
  summary.finished_ms = m.finished_ms;
  summary.brokers = m.brokers;
  summary.cluster_id = m.cluster_id;
  summary.compression = m.compression;
  summary.level = m.level;
  summary.groups_note = m.groups_note;
  backup::Manifest view = summary;  // a base's content
  std::string text;
  for (const auto& [topic, t] : m.topics) {
    backup::TopicManifest& st = summary.topics[topic];
    st.partition_count = t.partition_count;
    st.configs = t.configs;
    st.configs_note = t.configs_note;
    if (base) view.topics[topic] = st;
    for (const auto& p : t.partitions) {
      const TopicPartition tp{topic, p.partition};
      Remote& r = remote_[tp];
      const int64_t end = r.contig == INT64_MIN ? p.start_offset : r.contig;
      if (base) {
        view.topics[topic].partitions.push_back(StoreView(p, end, 0));
      } else if (r.dirty || !r.trims.empty()) {
        if (r.named) {
          // Retention: the store drops what it names below the start (all of it when the start is
          // past what it names; the partition line below then carries the rest of the gap).
          for (const int64_t start : r.trims) {
            const int64_t s = std::min(start, r.sent);
            backup::PartitionManifest after = StoreView(p, r.sent, SIZE_MAX);
            nlohmann::json l = backup::RetentionLine(topic, after, s, /*count=*/false);
            l["seq"] = next_seq_++;
            text += backup::EncodeLine(l);
          }
        }
        const size_t from = r.named ? LowerBound(p.segments, r.sent) : 0;
        nlohmann::json l =
            backup::PartitionLine(topic, StoreView(p, end, from), /*sf=*/0, /*gf=*/0);
        l["segments_from"] = from;
        l["seq"] = next_seq_++;
        text += backup::EncodeLine(l);
      } else {
        if (r.named) {
          backup::PartitionManifest s = StoreView(p, r.sent, SIZE_MAX);
          summary.topics[topic].partitions.push_back(std::move(s));
        }
        continue;
      }
      r.sent = end;
      r.named = true;
      r.dirty = false;
      r.trims.clear();
      up.ends[tp] = end;
      summary.topics[topic].partitions.push_back(StoreView(p, end, SIZE_MAX));
    }
  }
  Chunk c;
  if (base) {
    text = backup::StoreBaseChunk(view, &next_seq_);
    c = {backup::StoreChunkName(chunk_serial_++), text.size(), -1, nullptr};
    for (const auto& old : chunks_) up.obsolete.push_back(old.name);
    up.chunks = {c};
    base_bytes_ = text.size();
    delta_bytes_ = 0;
  } else {
    delta_bytes_ += text.size();
    c = {backup::StoreChunkName(chunk_serial_++), text.size(), 0,
         std::make_shared<const std::string>(std::move(text))};
    up.chunks = chunks_;
    up.chunks.push_back(c);
    // A binary counter: two chunks of one level become one of the next.
    while (up.chunks.size() >= 2) {
      Chunk& a = up.chunks[up.chunks.size() - 2];
      const Chunk& b = up.chunks.back();
      if (a.level < 0 || a.level != b.level) break;
      auto merged = std::make_shared<std::string>(*a.text);
      *merged += *b.text;
      if (a.name != c.name) up.obsolete.push_back(a.name);
      if (b.name != c.name) up.obsolete.push_back(b.name);
      Chunk mc{backup::StoreChunkName(chunk_serial_++), merged->size(), a.level + 1, merged};
      up.chunks.pop_back();
      up.chunks.back() = std::move(mc);
    }
    c = up.chunks.back();
    text = *c.text;
  }
  up.put = Chunk{c.name, c.bytes, c.level, std::make_shared<const std::string>(std::move(text))};
  std::vector<backup::StoreChunk> names;
  for (const auto& x : up.chunks) names.push_back({x.name, x.bytes});
  up.root = std::make_shared<const std::string>(backup::StoreRootJson(summary, names));
  chunks_ = up.chunks;
  upload_ = std::move(up);
}

void Tier::SubmitUpload(int64_t now_ms) {
  if (!upload_ || upload_->in_pool || now_ms < upload_->retry_at_ms) return;
  const bool chunk = upload_->put && !upload_->put_done;
  const std::string key = Key(std::string(backup::kCatalogDir) + "/" +
                              (chunk ? upload_->put->name : backup::kCatalogRoot));
  const Kind kind = chunk ? Kind::kChunk : Kind::kRoot;
  pool_->SubmitFirst({"", key,
                      [this, kind](const Status& st) {
                        std::lock_guard lk(mu_);
                        done_.push_back({kind, "", st});
                      },
                      chunk ? upload_->put->text : upload_->root, nullptr});
  upload_->in_pool = true;
}

void Tier::Landed() {
  landed_generation_ = upload_->generation;
  for (const auto& [tp, end] : upload_->ends) remote_[tp].landed = end;
  for (const auto& name : upload_->obsolete)
    deletions_.push_back(
        {landed_generation_, Key(std::string(backup::kCatalogDir) + "/" + name), 0});
  if (!swept_) {
    // This run's first root landed: what earlier runs left (their chunks, a version 1
    // manifest.json) is named by nothing now.
    swept_ = true;
    const std::string prefix =
        Key(std::string(backup::kCatalogDir) + "/" + backup::kStoreChunksDir + "/");
    const std::string first =
        Key(std::string(backup::kCatalogDir) + "/" + backup::StoreChunkName(first_serial_));
    const std::string v1 = Key(backup::kManifestName);
    pool_->SubmitFirst({"", prefix,
                        [this, prefix](const Status& st) {
                          std::lock_guard lk(mu_);
                          done_.push_back({Kind::kSweep, prefix, st});
                        },
                        nullptr,
                        [prefix, first, v1](s3::Client& c, const std::string& bucket) -> Status {
                          TM_ASSIGN_OR_RETURN(s3::Listing l, c.List(bucket, prefix, ""));
                          for (const auto& [key, size] : l.objects) {
                            // Names sort by serial: this run's start at `first`.
                            if (key.size() != first.size() || key >= first) continue;
                            Status st = c.DeleteObject(bucket, key);
                            if (!st.ok() && !st.Is(Errc::kNotFound)) return st;
                          }
                          Status st = c.DeleteObject(bucket, v1);
                          return st.Is(Errc::kNotFound) ? Status::Ok() : st;
                        }});
  }
  upload_.reset();
}

void Tier::Trimmed(const std::vector<backup::Trim>& trims) {
  for (const auto& t : trims) {
    Remote& r = remote_[{t.topic, t.partition}];
    if (r.named) r.trims.push_back(t.start);
    r.dirty = true;
    for (const auto& s : t.dropped) {
      retry_at_.erase(s.path);
      // Uploaded: named by a root, perhaps; deleted once the next root (which drops it) landed.
      // Still uploading: deleted when it is done (Settle). Never uploaded: nothing to delete.
      if (s.uploaded_ms != 0) deletions_.push_back({generation_ + 1, Key(s.path), 0});
    }
  }
}

std::vector<std::string> Tier::TakeMarks() {
  std::vector<std::string> out;
  out.swap(marks_);
  return out;
}

std::vector<std::string> Tier::TakeRemovals() {
  std::vector<std::string> out;
  out.swap(removals_);
  stats_.removed += out.size();
  return out;
}

UploadStats Tier::stats() const {
  UploadStats s = stats_;
  s.backlog = backlog_;
  s.backlog_limit = static_cast<uint64_t>(u_.queue_max_segments);
  return s;
}

}  // namespace tidemark::service
