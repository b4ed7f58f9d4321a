// The continuous service's object-storage tier: every sealed segment the manifest names is
// uploaded by the upload pool; the store's catalog (backup/store_catalog.h) follows, naming only
// what is confirmed in the store; local copies go per keep_local once a catalog in the store
// names them; segments retention dropped go from the store once a catalog there stopped naming
// them.
//
// Cost per turn (every 100 ms): O(partitions + segments waiting), never O(history): per partition
// the tier keeps offsets (what is uploaded contiguously, what its last chunk named, what a landed
// root names, where keep_local's scan resumes) and finds segments by binary search on their
// first offsets. A catalog upload is one chunk with what changed since the last one (merged with
// the recent chunks like a binary counter: one object PUT per upload, O(log n) objects for a
// reader) and a root; the first of each run is a base holding everything.
//
// Runs on the service's main thread (Turn), with the pool's workers reporting back through a
// mutex-guarded list. The main thread owns the manifest; the tier only edits segments' upload
// fields in it and tells the service when it changed and what to delete after the next durable
// checkpoint.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "backup/manifest.h"
#include "backup/retention.h"
#include "backup/store_catalog.h"
#include "config/config.h"
#include "service/metrics.h"
#include "upload/uploader.h"

namespace tidemark::service {

class Tier {
 public:
  // The base is rebuilt once the chunks since it hold more than it does (and at least this):
  // the store's catalog then stays within about twice what it names, and each line is uploaded
  // O(1) times in bases, O(log n) times in merges.
  static constexpr uint64_t kMinRebaseBytes = 4ull << 20;

  // Fails only on a configuration error (exit 2); an unreachable store is retried, not fatal.
  // `min_rebase_bytes`: kMinRebaseBytes but in tests, which rebase after a few segments.
  static Result<std::unique_ptr<Tier>> Make(const config::Config& c, std::string backup_dir,
                                            uint64_t min_rebase_bytes = kMinRebaseBytes);
  ~Tier();

  // One turn of the main loop: takes what the workers finished, marks confirmed segments in
  // `m`, queues what is waiting, and uploads the store's catalog when it is due. Returns true
  // when `m` changed (the caller checkpoints it).
  bool Turn(backup::Manifest* m, int64_t now_ms, bool submit = true);
  // Files (relative to the backup directory) marked "not local" in `m`, for the caller to delete
  // once a checkpoint saying so is durable.
  std::vector<std::string> TakeRemovals();
  // Segments (paths relative to the backup directory) whose upload marks Turn changed in `m`
  // since the last call, for the caller's next catalog checkpoint.
  std::vector<std::string> TakeMarks();
  // Retention trimmed `m` (durably, in the local catalog): the next chunk says so, and once a
  // root naming it landed, the dropped segments' objects are deleted.
  void Trimmed(const std::vector<backup::Trim>& trims);
  // The backlog reached queue_max_segments: the service stops consuming until it drains.
  bool full() const { return backlog_ >= static_cast<size_t>(u_.queue_max_segments); }
  bool below_resume() const {
    return backlog_ * 4 <= static_cast<size_t>(u_.queue_max_segments) * 3;
  }
  UploadStats stats() const;
  // Stops: waiting uploads are dropped (the next start uploads them), running ones finish.
  void Stop();
  void Update(const config::UploadConfig& u) {
    u_.keep_local_ms = u.keep_local_ms;
    u_.catalog_interval_ms = u.catalog_interval_ms;
  }

 private:
  using TopicPartition = std::pair<std::string, int32_t>;
  Tier(config::UploadConfig u, std::string id, std::string dir, std::unique_ptr<upload::Pool> pool)
      : u_(std::move(u)), id_(std::move(id)), backup_dir_(std::move(dir)), pool_(std::move(pool)) {}

  enum class Kind { kSegment, kChunk, kRoot, kDelete, kSweep };
  struct Done {
    Kind kind;
    std::string path;  // a segment's
    Status status;
  };
  // What the tier knows of a partition, as offsets (stable when retention drops segments).
  struct Remote {
    int64_t contig = INT64_MIN;      // segments below are all uploaded (and gaps cover the rest)
    int64_t sent = INT64_MIN;        // the last chunk built names the partition up to here
    int64_t landed = INT64_MIN;      // a root in the store names it up to here
    int64_t local_from = INT64_MIN;  // keep_local: segments below are not local any more
    bool named = false;              // a chunk built names the partition at all
    bool dirty = true;               // changed since the last chunk built
    std::vector<int64_t> trims;      // retention starts not in a chunk yet
  };
  struct Chunk {
    std::string name;
    uint64_t bytes = 0;
    int level = 0;                            // merges it holds (binary counter); -1: a base
    std::shared_ptr<const std::string> text;  // kept to merge (not for a base)
  };
  // One catalog upload: its new chunk (if any), then the root; retried until it lands.
  struct Upload {
    uint64_t generation = 0;
    std::optional<Chunk> put;  // the chunk object to put first
    bool put_done = false;
    bool in_pool = false;
    std::vector<Chunk> chunks;  // what the root names
    std::shared_ptr<const std::string> root;
    std::map<TopicPartition, int64_t> ends;  // per partition, what it names
    std::vector<std::string> obsolete;       // chunks to delete once it landed
    int64_t retry_at_ms = 0;
  };
  struct Deletion {
    uint64_t after_generation;  // deleted once this root generation landed
    std::string key;
    int64_t not_before_ms = 0;
  };

  void Settle(backup::Manifest* m, std::deque<Done>* done, int64_t now_ms, bool* changed);
  void Walk(backup::Manifest* m, int64_t now_ms, bool submit, bool* changed);
  void BuildUpload(const backup::Manifest& m);
  void SubmitUpload(int64_t now_ms);
  void Landed();
  void Fail(const std::string& what, const Status& st, int64_t now_ms);
  std::string Key(const std::string& rel) const;

  config::UploadConfig u_;
  std::string id_;
  std::string backup_dir_;
  std::unique_ptr<upload::Pool> pool_;
  std::mutex mu_;
  std::deque<Done> done_;  // reported by workers
  // Segments queued or uploading, with their partition and first offset.
  std::map<std::string, std::pair<TopicPartition, int64_t>> in_pool_;
  std::map<std::string, int64_t> retry_at_;  // failed segments: not before (ms)
  std::map<TopicPartition, Remote> remote_;
  size_t backlog_ = 0;
  std::vector<Chunk> chunks_;  // what the landed root names (or, before one, the last built)
  std::optional<Upload> upload_;
  uint64_t generation_ = 0;         // of the last upload built
  uint64_t landed_generation_ = 0;  // of the last root that landed
  uint64_t chunk_serial_ = 0;       // next chunk name
  uint64_t first_serial_ = 0;       // this run's first
  int64_t next_seq_ = 1;            // next catalog line
  uint64_t delta_bytes_ = 0;        // chunks since the base
  uint64_t base_bytes_ = 0;
  uint64_t min_rebase_bytes_ = kMinRebaseBytes;
  int64_t last_upload_ms_ = 0;
  bool swept_ = false;  // this run removed the chunks no root names
  std::deque<Deletion> deletions_;
  std::vector<std::string> removals_;
  std::vector<std::string> marks_;
  int64_t failure_backoff_ms_ = 1000;
  UploadStats stats_;
};

}  // namespace tidemark::service
