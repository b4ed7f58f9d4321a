#include "source/backup_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "backup/catalog.h"
#include "backup/store_catalog.h"
#include "common/log.h"
#include "s3/client.h"
#include "s3/settings.h"

namespace tidemark::source {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kRangeBytes = 8ull << 20;  // one ranged GET
constexpr int kFetchThreads = 4;
constexpr size_t kMaxAhead = 8;  // fetched or queued segments nobody has asked for yet

class S3Source final : public BackupSource {
 public:
  S3Source(s3::Settings st, std::string spool) : st_(std::move(st)), spool_(std::move(spool)) {}

  ~S3Source() override {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    std::error_code ec;
    fs::remove_all(spool_, ec);
  }

  Status Start() {
    TM_ASSIGN_OR_RETURN(meta_, s3::Client::Make(st_.client, st_.credentials));
    for (int i = 0; i < kFetchThreads; ++i) {
      TM_ASSIGN_OR_RETURN(std::unique_ptr<s3::Client> c,
                          s3::Client::Make(st_.client, st_.credentials));
      threads_.emplace_back([this, c = std::shared_ptr<s3::Client>(std::move(c))] { Loop(*c); });
    }
    return Status::Ok();
  }

  std::string Where() const override { return st_.location.Url(); }
  std::string Url(const std::string& key) const {
    return "s3://" + st_.location.bucket + "/" + key;
  }
  bool remote() const override { return true; }

  Result<std::vector<std::string>> Ids() override {
    const std::string pre = st_.location.prefix.empty() ? "" : st_.location.prefix + "/";
    std::lock_guard lk(meta_mu_);
    TM_ASSIGN_OR_RETURN(s3::Listing l, meta_->List(st_.location.bucket, pre, "/"));
    std::vector<std::string> ids;
    for (std::string p : l.prefixes) {
      p = p.substr(pre.size());
      if (!p.empty() && p.back() == '/') p.pop_back();
      if (!p.empty()) ids.push_back(p);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  Result<backup::Manifest> ReadManifest(const std::string& id,
                                        const backup::ReadScope& scope) override {
    // A continuous backup's catalog (backup/store_catalog.h); else a manifest.json (snapshots,
    // and continuous backups uploaded by tidemark 1.x).
    const std::string cat = id + "/" + backup::kCatalogDir + "/";
    const std::string root_key = st_.location.Key(cat + backup::kCatalogRoot);
    std::lock_guard lk(meta_mu_);
    auto root = meta_->GetObject(st_.location.bucket, root_key);
    if (root.ok()) {
      return backup::ReadStoreCatalog(
          *root, Url(root_key), scope, [&](const std::string& name) -> Result<std::string> {
            auto chunk = meta_->GetObject(st_.location.bucket, st_.location.Key(cat + name));
            if (!chunk.ok() && chunk.status().Is(Errc::kNotFound)) {
              return Status::Corrupt(Url(st_.location.Key(cat + name)) +
                                     " is missing, though the catalog's root names it");
            }
            return chunk;
          });
    }
    if (!root.status().Is(Errc::kNotFound)) return root.status();
    const std::string key = st_.location.Key(id + "/" + backup::kManifestName);
    TM_ASSIGN_OR_RETURN(std::string text, meta_->GetObject(st_.location.bucket, key));
    TM_ASSIGN_OR_RETURN(backup::Manifest m, backup::ManifestFromJson(text, Url(key)));
    backup::ApplyScope(&m, scope);
    return m;
  }

  Result<SegmentFile> Fetch(const std::string& id, const segment::SealedSegment& s) override {
    const std::string key = st_.location.Key(id + "/" + s.path);
    std::unique_lock lk(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      it = entries_.emplace(key, Entry{}).first;
      queue_.push_front(key);  // wanted now: ahead of read-ahead
      cv_.notify_all();
    }
    it->second.claimed = true;
    cv_.wait(lk, [&] { return it->second.done; });
    if (!it->second.status.ok()) {
      Status st = it->second.status;
      entries_.erase(it);
      if (st.Is(Errc::kNotFound)) {
        return Status::NotFound("s3://" + st_.location.bucket + "/" + key +
                                " is missing from the store (deleted behind tidemark's back?)");
      }
      return st;
    }
    const std::string path = it->second.path;
    return SegmentFile(path, [this, key, path] {
      ::unlink(path.c_str());
      std::lock_guard g(mu_);
      entries_.erase(key);
    });
  }

  void Prefetch(const std::string& id, const segment::SealedSegment& s) override {
    const std::string key = st_.location.Key(id + "/" + s.path);
    std::lock_guard lk(mu_);
    if (entries_.count(key) != 0) return;
    size_t ahead = 0;
    for (const auto& [k, e] : entries_) ahead += e.claimed ? 0 : 1;
    if (ahead >= kMaxAhead) return;
    entries_.emplace(key, Entry{});
    queue_.push_back(key);
    cv_.notify_all();
  }

 private:
  struct Entry {
    bool claimed = false;  // a reader asked for it (not only read-ahead)
    bool done = false;
    Status status;
    std::string path;
  };

  void Loop(s3::Client& c) {
    std::unique_lock lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      const std::string key = queue_.front();
      queue_.pop_front();
      const std::string path = spool_ + "/" + std::to_string(++seq_) + ".tmseg";
      lk.unlock();
      Status st = Download(c, key, path);
      if (!st.ok()) ::unlink(path.c_str());
      lk.lock();
      auto it = entries_.find(key);
      if (it == entries_.end()) {  // nobody wants it any more
        ::unlink(path.c_str());
        continue;
      }
      it->second.done = true;
      it->second.status = st;
      it->second.path = path;
      cv_.notify_all();
    }
  }

  // The object, range by range, into a spool file.
  Status Download(s3::Client& c, const std::string& key, const std::string& path) {
    TM_ASSIGN_OR_RETURN(s3::ObjectInfo info, c.HeadObject(st_.location.bucket, key));
    const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return Status::Errno(errno, "create " + path + " (the fetch spool)");
    Status st;
    for (uint64_t off = 0; st.ok() && off < info.size; off += kRangeBytes) {
      const uint64_t len = std::min(kRangeBytes, info.size - off);
      auto part = c.GetObject(st_.location.bucket, key, off, len);
      if (!part.ok()) {
        st = part.status();
      } else if (part->size() != len) {
        st = Status::Corrupt("s3://" + st_.location.bucket + "/" + key + ": asked for " +
                             std::to_string(len) + " bytes at " + std::to_string(off) + ", got " +
                             std::to_string(part->size()));
      } else if (::pwrite(fd, part->data(), len, static_cast<off_t>(off)) !=
                 static_cast<ssize_t>(len)) {
        st = Status::Errno(errno, "write " + path + " (the fetch spool; is " + spool_ + " full?)");
      }
    }
    ::close(fd);
    return st;
  }

  s3::Settings st_;
  std::string spool_;
  std::mutex meta_mu_;
  std::unique_ptr<s3::Client> meta_;  // manifests and listings
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;  // by object key
  std::deque<std::string> queue_;
  std::vector<std::thread> threads_;
  uint64_t seq_ = 0;
  bool stop_ = false;
};

Result<std::unique_ptr<S3Source>> OpenS3(s3::Settings st) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/tidemark-fetch-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr)
    return Status::Errno(errno, "create a fetch spool directory " + tmpl + " (set TMPDIR)");
  auto src = std::make_unique<S3Source>(std::move(st), tmpl);
  TM_RETURN_IF_ERROR(src->Start());
  return src;
}

class LocalSource final : public BackupSource {
 public:
  LocalSource(std::string path, config::UploadConfig upload)
      : path_(std::move(path)), upload_(std::move(upload)) {}

  std::string Where() const override { return path_; }
  bool remote() const override { return false; }

  Result<std::vector<std::string>> Ids() override {
    std::error_code ec;
    if (!fs::is_directory(path_, ec)) return Status::Config("no such directory: " + path_);
    std::vector<std::string> ids;
    // The error_code forms throughout: an entry that cannot be inspected (a symlink loop, a
    // vanished directory) is not a backup, and a listing that fails midway is an error, never
    // an exception.
    fs::directory_iterator it(path_, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      std::error_code entry_ec;
      if (it->is_directory(entry_ec) && backup::HasIndex(it->path().string()))
        ids.push_back(it->path().filename());
    }
    if (ec) return Status::Errno(ec.value(), "list the backups in " + path_);
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  Result<backup::Manifest> ReadManifest(const std::string& id,
                                        const backup::ReadScope& scope) override {
    return backup::ReadManifest(path_ + "/" + id, scope);
  }

  Result<SegmentFile> Fetch(const std::string& id, const segment::SealedSegment& s) override {
    if (s.local) return SegmentFile(path_ + "/" + id + "/" + s.path, nullptr);
    TM_ASSIGN_OR_RETURN(BackupSource * remote, Remote(s));
    return remote->Fetch(id, s);
  }

  void Prefetch(const std::string& id, const segment::SealedSegment& s) override {
    if (s.local) return;
    if (auto remote = Remote(s); remote.ok()) (*remote)->Prefetch(id, s);
  }

 private:
  // Where segments removed after their upload are read from: the [upload] store.
  Result<BackupSource*> Remote(const segment::SealedSegment& s) {
    std::lock_guard lk(mu_);
    if (remote_ != nullptr) return remote_.get();
    const std::string what =
        path_ + ": " + s.path + " was removed from this node after its upload (keep_local)";
    if (!upload_.enabled()) {
      return Status::NotFound(what +
                              "; read the backup from object storage with --path "
                              "s3://BUCKET/PREFIX, or give the [upload] section it went to");
    }
    auto st = s3::ResolveSettings(upload_);
    if (!st.ok())
      return Status::Config(what + "; reading it from the store: " + st.status().message());
    auto r = OpenS3(std::move(*st));
    if (!r.ok()) return r.status();
    remote_ = std::move(*r);
    return remote_.get();
  }

  std::string path_;
  config::UploadConfig upload_;
  std::mutex mu_;
  std::unique_ptr<BackupSource> remote_;
};

}  // namespace

Result<std::unique_ptr<BackupSource>> Open(const std::string& path,
                                           const config::UploadConfig& upload) {
  if (!s3::IsS3Url(path))
    return std::unique_ptr<BackupSource>(std::make_unique<LocalSource>(path, upload));
  TM_ASSIGN_OR_RETURN(s3::Location loc, s3::ParseS3Url(path));
  config::UploadConfig u = upload;
  u.bucket = loc.bucket;
  u.prefix = loc.prefix;
  TM_ASSIGN_OR_RETURN(s3::Settings st, s3::ResolveSettings(u));
  TM_ASSIGN_OR_RETURN(std::unique_ptr<S3Source> src, OpenS3(std::move(st)));
  return std::unique_ptr<BackupSource>(std::move(src));
}

}  // namespace tidemark::source
