#include "service/tier.h"

#include <algorithm>

#include "common/log.h"
#include "common/time.h"
#include "s3/settings.h"

namespace tidemark::service {

namespace {

constexpr int64_t kRetryMinMs = 1000;
constexpr int64_t kRetryMaxMs = 30000;

template <typename F>
void ForEachSegment(backup::Manifest* m, F f) {
  for (auto& [topic, t] : m->topics)
    for (auto& p : t.partitions)
      for (auto& s : p.segments) f(s);
}

}  // namespace

Result<std::unique_ptr<Tier>> Tier::Make(const config::Config& c, std::string backup_dir) {
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
  return std::unique_ptr<Tier>(
      new Tier(c.upload, c.backup.id, std::move(backup_dir), std::move(pool)));
}

Tier::~Tier() { Stop(); }

void Tier::Stop() {
  if (pool_) pool_->Cancel();
}

bool Tier::Turn(backup::Manifest* m, int64_t now_ms, bool submit) {
  bool changed = false;
  std::deque<Done> done;
  {
    std::lock_guard lk(mu_);
    done.swap(done_);
  }
  std::map<std::string, segment::SealedSegment*> by_path;
  if (!done.empty()) ForEachSegment(m, [&](segment::SealedSegment& s) { by_path[s.path] = &s; });
  const int64_t wall = WallClockMs();
  for (auto& d : done) {
    if (d.path.empty()) {  // the manifest
      manifest_in_pool_ = false;
      if (d.status.ok()) {
        remote_named_ = std::move(remote_named_pending_);
        ++stats_.manifests;
      } else if (!d.status.Is(Errc::kAborted)) {
        ++stats_.failures;
        stats_.last_error = d.status.message();
        TM_LOG_WARN("upload: manifest: %s; trying again", d.status.message().c_str());
        next_manifest_retry_ms_ = now_ms + failure_backoff_ms_;
        manifest_due_ = true;
      }
      continue;
    }
    in_pool_.erase(d.path);
    if (d.status.ok()) {
      failure_backoff_ms_ = kRetryMinMs;
      auto it = by_path.find(d.path);
      if (it != by_path.end() && it->second->uploaded_ms == 0) {
        it->second->uploaded_ms = wall;
        marks_.push_back(d.path);
        ++stats_.uploaded_segments;
        stats_.uploaded_bytes += it->second->bytes_stored;
        changed = true;
        manifest_due_ = true;
      }
    } else if (!d.status.Is(Errc::kAborted)) {
      ++stats_.failures;
      stats_.last_error = d.status.message();
      TM_LOG_WARN("upload: %s; trying again in %lld ms (the segment stays local)",
                  d.status.message().c_str(), static_cast<long long>(failure_backoff_ms_));
      retry_at_[d.path] = now_ms + failure_backoff_ms_;
      failure_backoff_ms_ = std::min(failure_backoff_ms_ * 2, kRetryMaxMs);
    }
  }

  // Queue what waits, oldest first per partition; the pool's queue is bounded.
  backlog_ = 0;
  bool room = submit;
  const s3::Location& loc = pool_->settings().location;
  ForEachSegment(m, [&](segment::SealedSegment& s) {
    if (s.uploaded_ms != 0) return;
    ++backlog_;
    if (!room || in_pool_.count(s.path) != 0) return;
    if (auto r = retry_at_.find(s.path); r != retry_at_.end()) {
      if (r->second > now_ms) return;
      retry_at_.erase(r);
    }
    const std::string path = s.path;
    room = pool_->TrySubmit({backup_dir_ + "/" + path, loc.Key(id_ + "/" + path),
                             [this, path](const Status& st) {
                               std::lock_guard lk(mu_);
                               done_.push_back({path, st});
                             },
                             nullptr});
    if (room) in_pool_.insert(path);
  });

  // A manifest naming what the store holds, one at a time so an older one never lands last.
  if (submit && manifest_due_ && !manifest_in_pool_ && now_ms >= next_manifest_retry_ms_) {
    backup::Manifest view = upload::RemoteView(*m);
    std::set<std::string> names;
    ForEachSegment(&view, [&](segment::SealedSegment& s) { names.insert(s.path); });
    if (!names.empty() &&
        pool_->TrySubmit({"", loc.Key(id_ + "/" + backup::kManifestName),
                          [this](const Status& st) {
                            std::lock_guard lk(mu_);
                            done_.push_back({"", st});
                          },
                          std::make_shared<const std::string>(backup::ManifestToJson(view))})) {
      manifest_in_pool_ = true;
      remote_named_pending_ = std::move(names);
      manifest_due_ = false;
    } else if (names.empty()) {
      manifest_due_ = false;
    }
  }

  // keep_local: only segments a manifest in the store names.
  for (auto& rel : upload::ApplyKeepLocal(m, u_.keep_local_ms, wall, &remote_named_)) {
    marks_.push_back(rel);
    removals_.push_back(std::move(rel));
    changed = true;
  }
  return changed;
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
  return s;
}

}  // namespace tidemark::service
