// Where ls, describe, verify and restore read a backup from: a local directory, or object
// storage (s3://bucket/prefix, the layout the uploader writes: <prefix>/<id>/manifest.json and
// <prefix>/<id>/<segment path>).
//
// Readers work on segment files: a local segment is its own file; a segment in object storage is
// fetched into a spool directory with range reads (a few MiB per request) by a small pool of
// fetch threads, ahead of the reader when it says what it will want next (Prefetch), and deleted
// as soon as the reader lets go of it. So a reader never holds more than the segments it is on
// plus its read-ahead, never a whole backup.
//
// Thread contract: a BackupSource may be used from several threads at once (restore's readers).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backup/manifest.h"
#include "config/config.h"
#include "tidemark/status.h"

namespace tidemark::source {

// A segment as a local file, held until this is destroyed (a fetched copy is then deleted).
class SegmentFile {
 public:
  SegmentFile() = default;
  SegmentFile(std::string path, std::function<void()> release)
      : path_(std::move(path)), release_(std::move(release)) {}
  ~SegmentFile() { Reset(); }
  SegmentFile(SegmentFile&& o) noexcept
      : path_(std::move(o.path_)), release_(std::exchange(o.release_, nullptr)) {}
  SegmentFile& operator=(SegmentFile&& o) noexcept {
    if (this != &o) {
      Reset();
      path_ = std::move(o.path_);
      release_ = std::exchange(o.release_, nullptr);
    }
    return *this;
  }
  const std::string& path() const { return path_; }
  void Reset() {
    if (release_) std::exchange(release_, nullptr)();
  }

 private:
  std::string path_;
  std::function<void()> release_;
};

class BackupSource {
 public:
  virtual ~BackupSource() = default;
  // "/var/lib/tidemark" or "s3://bucket/prefix", and a backup's place in it.
  virtual std::string Where() const = 0;
  std::string Where(const std::string& id) const { return Where() + "/" + id; }
  virtual bool remote() const = 0;
  // The backups (ids with a manifest), sorted.
  virtual Result<std::vector<std::string>> Ids() = 0;
  // NotFound when there is no such backup. `scope` lets a local catalog read only the topics
  // (or the summaries) asked for; a source may return more than asked.
  virtual Result<backup::Manifest> ReadManifest(const std::string& id,
                                                const backup::ReadScope& scope) = 0;
  Result<backup::Manifest> ReadManifest(const std::string& id) { return ReadManifest(id, {}); }
  // Segment `s` of backup `id` as a local file. NotFound when it is gone.
  virtual Result<SegmentFile> Fetch(const std::string& id, const segment::SealedSegment& s) = 0;
  // Read-ahead: `s` will be fetched soon. A hint; a local source ignores it.
  virtual void Prefetch(const std::string& /*id*/, const segment::SealedSegment& /*s*/) {}
};

// A local directory, or an s3:// URL read with the [upload] settings and the AWS environment.
// A local backup whose segments were removed after upload (keep_local) reads those segments
// from the store named by [upload], when there is one.
Result<std::unique_ptr<BackupSource>> Open(const std::string& path,
                                           const config::UploadConfig& upload);

}  // namespace tidemark::source
