// The continuous service's object-storage tier: every sealed segment the manifest names is
// uploaded by the upload pool; a manifest naming only what is confirmed in the store follows;
// local copies go per keep_local once a manifest in the store names them.
//
// Runs on the service's main thread (Turn), with the pool's workers reporting back through a
// mutex-guarded list. The main thread owns the manifest; the tier only edits segments' upload
// fields in it and tells the service when it changed and what to delete after the next durable
// manifest write.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "backup/manifest.h"
#include "config/config.h"
#include "service/metrics.h"
#include "upload/uploader.h"

namespace tidemark::service {

class Tier {
 public:
  // Fails only on a configuration error (exit 2); an unreachable store is retried, not fatal.
  static Result<std::unique_ptr<Tier>> Make(const config::Config& c, std::string backup_dir);
  ~Tier();

  // One turn of the main loop: takes what the workers finished, marks confirmed segments in
  // `m`, queues what is waiting, and uploads a fresh remote manifest when one is due. Returns
  // true when `m` changed (the caller checkpoints it).
  bool Turn(backup::Manifest* m, int64_t now_ms, bool submit = true);
  // Files (relative to the backup directory) marked "not local" in `m`, for the caller to delete
  // once a manifest saying so is durable.
  std::vector<std::string> TakeRemovals();
  // Segments (paths relative to the backup directory) whose upload marks Turn changed in `m`
  // since the last call, for the caller's next catalog checkpoint.
  std::vector<std::string> TakeMarks();
  // The backlog reached queue_max_segments: the service stops consuming until it drains.
  bool full() const { return backlog_ >= static_cast<size_t>(u_.queue_max_segments); }
  bool below_resume() const {
    return backlog_ * 4 <= static_cast<size_t>(u_.queue_max_segments) * 3;
  }
  UploadStats stats() const;
  // Stops: waiting uploads are dropped (the next start uploads them), running ones finish.
  void Stop();
  void Update(const config::UploadConfig& u) { u_.keep_local_ms = u.keep_local_ms; }

 private:
  Tier(config::UploadConfig u, std::string id, std::string dir, std::unique_ptr<upload::Pool> pool)
      : u_(std::move(u)), id_(std::move(id)), backup_dir_(std::move(dir)), pool_(std::move(pool)) {}

  struct Done {
    std::string path;  // "" for the manifest
    Status status;
  };

  config::UploadConfig u_;
  std::string id_;
  std::string backup_dir_;
  std::unique_ptr<upload::Pool> pool_;
  std::mutex mu_;
  std::deque<Done> done_;                    // reported by workers
  std::set<std::string> in_pool_;            // segments queued or uploading
  std::map<std::string, int64_t> retry_at_;  // failed segments: not before (ms)
  size_t backlog_ = 0;
  bool manifest_in_pool_ = false;
  bool manifest_due_ = true;                    // something changed since the last remote manifest
  std::set<std::string> remote_named_pending_;  // what the manifest in flight names
  std::set<std::string> remote_named_;          // what the store's manifest names
  std::vector<std::string> removals_;
  std::vector<std::string> marks_;
  int64_t next_manifest_retry_ms_ = 0;
  int64_t failure_backoff_ms_ = 1000;
  UploadStats stats_;
};

}  // namespace tidemark::service
