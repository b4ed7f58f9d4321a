#include "upload/uploader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>

#include "backup/catalog.h"
#include "backup/store_catalog.h"
#include "common/dir_lock.h"
#include "common/log.h"
#include "common/time.h"
#include "source/backup_source.h"

namespace tidemark::upload {

namespace fs = std::filesystem;

namespace {

Status ReadAt(int fd, uint64_t off, size_t len, std::string* out, const std::string& file) {
  out->resize(len);
  size_t done = 0;
  while (done < len) {
    const ssize_t n = ::pread(fd, out->data() + done, len - done, static_cast<off_t>(off + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Errno(errno, "read " + file);
    if (n == 0) return Status::Corrupt(file + ": shorter than expected (changed while uploading?)");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

Result<std::unique_ptr<Pool>> Pool::Make(const config::UploadConfig& u, s3::Settings st,
                                         const std::atomic<bool>* stop) {
  std::unique_ptr<Pool> p(new Pool(u, std::move(st)));
  p->st_.client.cancel = stop != nullptr ? stop : &p->cancel_;
  TM_ASSIGN_OR_RETURN(p->meta_, s3::Client::Make(p->st_.client, p->st_.credentials));
  for (int i = 0; i < u.workers; ++i) {
    auto w = std::make_unique<Worker>();
    for (int k = 0; k < u.parts_in_flight; ++k) {
      TM_ASSIGN_OR_RETURN(std::unique_ptr<s3::Client> c,
                          s3::Client::Make(p->st_.client, p->st_.credentials));
      w->clients.push_back(std::move(c));
    }
    p->workers_.push_back(std::move(w));
  }
  for (auto& w : p->workers_)
    w->thread = std::thread([pool = p.get(), w = w.get()] { pool->Loop(w); });
  return p;
}

Pool::~Pool() {
  Drain();
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) w->thread.join();
}

void Pool::Submit(Job job) {
  std::unique_lock lk(mu_);
  space_.wait(lk, [&] { return queue_.size() < static_cast<size_t>(u_.queue_max_segments); });
  queue_.push_back(std::move(job));
  cv_.notify_one();
}

bool Pool::TrySubmit(Job job) {
  std::lock_guard lk(mu_);
  if (queue_.size() >= static_cast<size_t>(u_.queue_max_segments)) return false;
  queue_.push_back(std::move(job));
  cv_.notify_one();
  return true;
}

void Pool::SubmitFirst(Job job) {
  std::lock_guard lk(mu_);
  queue_.push_front(std::move(job));
  cv_.notify_one();
}

void Pool::Drain() {
  std::unique_lock lk(mu_);
  idle_.wait(lk, [&] { return queue_.empty() && running_ == 0; });
}

void Pool::Cancel() {
  cancel_ = true;
  std::deque<Job> dropped;
  {
    std::lock_guard lk(mu_);
    dropped.swap(queue_);
  }
  space_.notify_all();
  for (auto& j : dropped)
    if (j.done) j.done(Status::Aborted("upload of " + j.key + " cancelled (stopping)"));
  Drain();
}

size_t Pool::depth() const {
  std::lock_guard lk(mu_);
  return queue_.size() + running_;
}

void Pool::Loop(Worker* w) {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left
    Job job = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    space_.notify_one();
    lk.unlock();
    const Status st = job.run ? job.run(*w->clients[0], st_.location.bucket)
                      : job.data
                          ? w->clients[0]->PutObject(st_.location.bucket, job.key, Bytes(*job.data))
                          : PutFile(w, job.file, job.key);
    if (job.done) job.done(st);
    lk.lock();
    --running_;
    if (queue_.empty() && running_ == 0) idle_.notify_all();
  }
}

Status Pool::CheckBucket() {
  std::lock_guard lk(meta_mu_);
  return meta_->CheckBucket(st_.location.bucket);
}

Status Pool::WithClient(const std::function<Status(s3::Client&, const std::string&)>& f) {
  std::lock_guard lk(meta_mu_);
  return f(*meta_, st_.location.bucket);
}

Status Pool::PutBytes(const std::string& key, const std::string& data) {
  std::lock_guard lk(meta_mu_);
  return meta_->PutObject(st_.location.bucket, key, Bytes(data));
}

Status Pool::PutFile(Worker* w, const std::string& file, const std::string& key) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Errno(errno, "open " + file + " for upload");
  struct stat sb {};
  ::fstat(fd, &sb);
  const uint64_t size = static_cast<uint64_t>(sb.st_size);
  const std::string& bucket = st_.location.bucket;
  Status result;
  if (size <= u_.multipart_threshold_bytes) {
    std::string data;
    result = ReadAt(fd, 0, size, &data, file);
    if (result.ok()) result = w->clients[0]->PutObject(bucket, key, Bytes(data));
  } else {
    auto id = w->clients[0]->CreateMultipartUpload(bucket, key);
    if (!id.ok()) {
      ::close(fd);
      return id.status();
    }
    const size_t parts = static_cast<size_t>((size + u_.part_bytes - 1) / u_.part_bytes);
    std::vector<std::string> etags(parts);
    std::atomic<size_t> next{0};
    std::mutex err_mu;
    Status first_error;
    std::atomic<bool> failed{false};
    // Up to parts_in_flight parts at once, each on its own connection.
    auto run = [&](s3::Client* c) {
      std::string buf;
      for (size_t i = next++; i < parts && !failed.load(); i = next++) {
        const uint64_t off = i * u_.part_bytes;
        const size_t len = static_cast<size_t>(std::min<uint64_t>(u_.part_bytes, size - off));
        Status st = ReadAt(fd, off, len, &buf, file);
        if (st.ok()) {
          auto etag = c->UploadPart(bucket, key, *id, static_cast<int>(i + 1), Bytes(buf));
          if (etag.ok())
            etags[i] = *etag;
          else
            st = etag.status();
        }
        if (!st.ok()) {
          std::lock_guard lk(err_mu);
          if (first_error.ok()) first_error = st;
          failed = true;
        }
      }
    };
    std::vector<std::thread> extra;
    for (size_t k = 1; k < w->clients.size() && k < parts; ++k)
      extra.emplace_back(run, w->clients[k].get());
    run(w->clients[0].get());
    for (auto& t : extra) t.join();
    result = first_error;
    if (result.ok()) result = w->clients[0]->CompleteMultipartUpload(bucket, key, *id, etags);
    if (!result.ok()) {
      if (Status a = w->clients[0]->AbortMultipartUpload(bucket, key, *id); !a.ok()) {
        TM_LOG_WARN(
            "upload: %s (the incomplete upload %s may hold parts on the store until a "
            "lifecycle rule removes them)",
            a.message().c_str(), id->c_str());
      }
    }
  }
  ::close(fd);
  if (result.ok()) bytes_ += size;
  return result;
}

std::vector<std::string> ApplyKeepLocal(backup::Manifest* m, int64_t keep_local_ms, int64_t now_ms,
                                        const std::set<std::string>* named) {
  std::vector<std::string> remove;
  if (keep_local_ms < 0) return remove;
  for (auto& [topic, t] : m->topics) {
    for (auto& p : t.partitions) {
      for (auto& s : p.segments) {
        if (s.local && s.uploaded_ms != 0 && s.uploaded_ms + keep_local_ms <= now_ms &&
            (named == nullptr || named->count(s.path) != 0)) {
          s.local = false;
          remove.push_back(s.path);
        }
      }
    }
  }
  return remove;
}

backup::Manifest RemoteView(const backup::Manifest& m) {
  backup::Manifest v = m;
  for (auto& [topic, t] : v.topics) {
    for (auto& p : t.partitions) {
      for (auto& s : p.segments)
        s.local = true;  // what this node keeps is not the store's business
      size_t k = 0;
      while (k < p.segments.size() && p.segments[k].uploaded_ms != 0) ++k;
      if (k == p.segments.size()) continue;
      // Everything below the first segment not in the store yet is in uploaded segments or gaps.
      const int64_t end = std::max(p.start_offset, p.segments[k].first_offset);
      p.segments.resize(k);
      p.end_offset = end;
      p.records = p.bytes_raw = p.bytes_stored = 0;
      for (const auto& s : p.segments) {
        p.records += s.records;
        p.bytes_raw += s.bytes_raw;
        p.bytes_stored += s.bytes_stored;
      }
      std::vector<backup::Gap> gaps;
      for (auto g : p.gaps) {
        if (g.from >= end) continue;
        g.to = std::min(g.to, end);
        gaps.push_back(g);
      }
      p.gaps = std::move(gaps);
    }
  }
  return v;
}

Status PutStoreCatalog(Pool* pool, const std::string& id, const backup::Manifest& view) {
  const s3::Location& loc = pool->settings().location;
  const std::string cat = id + "/" + backup::kCatalogDir + "/";
  int64_t seq = 1;
  const std::string text = backup::StoreBaseChunk(view, &seq);
  const std::string name =
      backup::StoreChunkName(static_cast<uint64_t>(std::max<int64_t>(WallClockMs(), 0)) * 1000);
  TM_RETURN_IF_ERROR(pool->PutBytes(loc.Key(cat + name), text));
  TM_RETURN_IF_ERROR(pool->PutBytes(loc.Key(cat + backup::kCatalogRoot),
                                    backup::StoreRootJson(view, {{name, text.size()}})));
  // The root names only the new chunk: older chunks and a version 1 manifest.json go.
  return pool->WithClient([&](s3::Client& c, const std::string& bucket) -> Status {
    const std::string prefix = loc.Key(cat + backup::kStoreChunksDir + "/");
    TM_ASSIGN_OR_RETURN(s3::Listing l, c.List(bucket, prefix));
    for (const auto& [key, size] : l.objects) {
      if (key == loc.Key(cat + name)) continue;
      Status st = c.DeleteObject(bucket, key);
      if (!st.ok() && !st.Is(Errc::kNotFound)) return st;
    }
    Status st = c.DeleteObject(bucket, loc.Key(id + "/" + backup::kManifestName));
    return st.Is(Errc::kNotFound) ? Status::Ok() : st;
  });
}

namespace {

// One backup: segments not uploaded yet, then (all confirmed) the manifest, then keep_local.
Status UploadBackup(Pool* pool, const config::Config& c, const std::string& id, Summary* sum) {
  const std::string dir = c.storage.path + "/" + id;
  auto lock = DirLock::Acquire(dir, "upload of backup " + id);
  if (!lock.ok()) {
    sum->skipped.push_back(id + ": " + lock.status().message());
    return Status::Ok();
  }
  TM_ASSIGN_OR_RETURN(backup::Manifest m, backup::ReadManifest(dir));
  if (m.kind == "snapshot" && m.finished_ms == 0) {
    sum->skipped.push_back(id + ": the snapshot did not finish (run the backup again)");
    return Status::Ok();
  }
  ++sum->backups;
  const s3::Location& loc = pool->settings().location;
  struct Pending {
    segment::SealedSegment* seg;
    Status status;
  };
  std::vector<std::unique_ptr<Pending>> pending;
  for (auto& [topic, t] : m.topics) {
    for (auto& p : t.partitions) {
      for (auto& s : p.segments) {
        if (s.uploaded_ms != 0) {
          ++sum->already;
          continue;
        }
        if (!s.local) {
          return Status::Corrupt(
              dir + ": " + s.path +
              " is neither uploaded nor kept locally (the manifest was edited?)");
        }
        pending.push_back(std::make_unique<Pending>(Pending{&s, Status::Ok()}));
        Pending* pd = pending.back().get();
        pool->Submit({dir + "/" + s.path, loc.Key(id + "/" + s.path),
                      [pd](const Status& st) { pd->status = st; }});
      }
    }
  }
  pool->Drain();
  const int64_t now = WallClockMs();
  Status first;
  size_t failed = 0;
  for (auto& pd : pending) {
    if (pd->status.ok()) {
      pd->seg->uploaded_ms = now;
      ++sum->segments;
      sum->bytes += pd->seg->bytes_stored;
    } else {
      ++failed;
      if (first.ok()) first = pd->status;
    }
  }
  // What was confirmed is recorded either way, so a re-run uploads only the rest.
  if (!pending.empty()) TM_RETURN_IF_ERROR(backup::WriteManifest(dir, m));
  if (!first.ok()) {
    return Status(first.code(), "upload of backup " + id + ": " + std::to_string(failed) + " of " +
                                    std::to_string(pending.size()) +
                                    " segments failed (nothing local was removed; run tidemark "
                                    "upload again to continue); first: " +
                                    first.message());
  }
  // Every segment is in the store: now its index may name them there.
  if (backup::HasCatalog(dir)) {
    TM_RETURN_IF_ERROR(PutStoreCatalog(pool, id, RemoteView(m)));
  } else {
    TM_RETURN_IF_ERROR(pool->PutBytes(loc.Key(id + "/" + backup::kManifestName),
                                      backup::ManifestToJson(RemoteView(m))));
  }
  ++sum->manifests;
  const std::vector<std::string> remove = ApplyKeepLocal(&m, c.upload.keep_local_ms, now);
  if (!remove.empty()) {
    // The manifest says "not local" before any file goes, so a crash in between leaves files the
    // manifest no longer counts on, never a manifest pointing at a removed file.
    TM_RETURN_IF_ERROR(backup::WriteManifest(dir, m));
    for (const auto& rel : remove) {
      std::error_code ec;
      fs::remove(dir + "/" + rel, ec);
      if (ec)
        TM_LOG_WARN("upload: remove %s/%s: %s", dir.c_str(), rel.c_str(), ec.message().c_str());
      ++sum->removed;
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Summary> UploadOnce(const config::Config& c, const std::string& id,
                           const std::atomic<bool>* stop) {
  if (!c.upload.enabled()) {
    return Status::Config("no [upload] bucket in " + c.source +
                          ": say where backups go ([upload] endpoint, bucket, prefix)");
  }
  std::vector<std::string> ids;
  std::error_code ec;
  if (!id.empty()) {
    if (!backup::HasIndex(c.storage.path + "/" + id))
      return Status::Config("no backup '" + id + "' in " + c.storage.path);
    ids.push_back(id);
  } else {
    // The backups under [storage] path, as ls finds them (the local source, no store behind it).
    TM_ASSIGN_OR_RETURN(auto local, source::Open(c.storage.path, config::UploadConfig{}));
    auto all = local->Ids();
    if (!all.ok()) return Status(all.status().code(), all.status().message() + " ([storage] path)");
    ids = std::move(*all);
  }
  TM_ASSIGN_OR_RETURN(s3::Settings st, s3::ResolveSettings(c.upload));
  const int64_t t0 = MonotonicNs();
  TM_ASSIGN_OR_RETURN(std::unique_ptr<Pool> pool, Pool::Make(c.upload, std::move(st), stop));
  TM_RETURN_IF_ERROR(pool->CheckBucket());
  Summary sum;
  for (const auto& b : ids) {
    if (stop != nullptr && stop->load()) return Status::Aborted("upload stopped by a signal");
    TM_RETURN_IF_ERROR(UploadBackup(pool.get(), c, b, &sum));
  }
  sum.seconds = static_cast<double>(MonotonicNs() - t0) / 1e9;
  return sum;
}

std::string SummaryToText(const Summary& s) {
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "uploaded %zu segments (%.1f MB) and %zu manifests of %zu backups in %.2f s "
                "(%.1f MB/s); %zu segments were uploaded before; %zu local segments removed "
                "(keep_local)\n",
                s.segments, static_cast<double>(s.bytes) / 1e6, s.manifests, s.backups, s.seconds,
                s.seconds > 0 ? static_cast<double>(s.bytes) / 1e6 / s.seconds : 0.0, s.already,
                s.removed);
  std::string out = buf;
  for (const auto& k : s.skipped) out += "skipped " + k + "\n";
  return out;
}

}  // namespace tidemark::upload
