// The object-storage tier: sealed segments, then manifests, to S3-compatible storage.
//
// A Pool is a bounded set of upload workers (each with its own connections) fed by a bounded
// queue: Submit blocks while the queue is full, which is how uploads push back on whoever seals
// segments. A segment above multipart_threshold_bytes goes in parts of part_bytes, up to
// parts_in_flight at once; every part carries its Content-MD5 and its ETag is checked, and a
// failed multipart upload is aborted. Requests are retried with back-off and jitter (s3::Client).
//
// Ordering (docs/ARCHITECTURE.md, "Object storage"): a manifest is uploaded only after every
// segment it names is confirmed, and a local segment is removed (keep_local) only after both its
// upload and a manifest recording that are durable, locally and in the store.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backup/manifest.h"
#include "config/config.h"
#include "s3/client.h"
#include "s3/settings.h"
#include "tidemark/status.h"

namespace tidemark::upload {

struct Job {
  std::string file;                         // local path
  std::string key;                          // object key
  std::function<void(const Status&)> done;  // called on a worker thread
  std::shared_ptr<const std::string> data;  // an object from memory (a manifest)
  // Anything else on a worker's client (a delete, a listing); `file`, `key` and `data` unused.
  std::function<Status(s3::Client&, const std::string& bucket)> run;
};

class Pool {
 public:
  // `stop`, when given, cancels requests like Cancel() does (a signal handler's flag).
  static Result<std::unique_ptr<Pool>> Make(const config::UploadConfig& u, s3::Settings st,
                                            const std::atomic<bool>* stop = nullptr);
  ~Pool();  // finishes queued jobs first
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Queues a job; blocks while queue_max_segments jobs are waiting (back-pressure).
  void Submit(Job job);
  // Queues a job unless the queue is full.
  bool TrySubmit(Job job);
  // Queues a job ahead of the others, whatever the queue holds (the few catalog objects, which
  // must not wait behind a backlog of segments).
  void SubmitFirst(Job job);
  // Waits until every job submitted so far is done.
  void Drain();
  // Drops the jobs still waiting and stops the running ones at once (their callbacks get
  // kAborted; a multipart upload cut short is left for the store's lifecycle rules); waits for
  // the workers to let go. The pool takes no more work after it.
  void Cancel();
  size_t depth() const;  // waiting or running
  uint64_t bytes_uploaded() const { return bytes_.load(); }

  // That the bucket exists and may be listed: a clear error before any upload starts.
  Status CheckBucket();
  // One object from memory, on the calling thread (manifests).
  Status PutBytes(const std::string& key, const std::string& data);
  // Anything else on the calling thread's client (listings, deletes).
  Status WithClient(const std::function<Status(s3::Client&, const std::string& bucket)>& f);
  const s3::Settings& settings() const { return st_; }

 private:
  Pool(const config::UploadConfig& u, s3::Settings st) : u_(u), st_(std::move(st)) {}
  struct Worker {
    std::vector<std::unique_ptr<s3::Client>> clients;  // one per part in flight
    std::thread thread;
  };
  void Loop(Worker* w);
  Status PutFile(Worker* w, const std::string& file, const std::string& key);

  config::UploadConfig u_;
  s3::Settings st_;
  std::unique_ptr<s3::Client> meta_;  // PutBytes, under meta_mu_
  std::mutex meta_mu_;
  mutable std::mutex mu_;
  std::condition_variable cv_, space_, idle_;
  std::deque<Job> queue_;
  size_t running_ = 0;
  bool stop_ = false;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<uint64_t> bytes_{0};
  std::atomic<bool> cancel_{false};  // the clients' cancel flag (Cancel)
};

struct Summary {
  size_t backups = 0;                // backups looked at
  size_t segments = 0;               // uploaded by this run
  uint64_t bytes = 0;                // uploaded by this run
  size_t manifests = 0;              // uploaded by this run
  size_t removed = 0;                // local segments removed (keep_local)
  size_t already = 0;                // segments uploaded by an earlier run
  std::vector<std::string> skipped;  // backups left alone, and why
  double seconds = 0;
};

// `tidemark upload`: every backup under [storage] path (or only `id`), once: the segments not
// uploaded yet, then the manifest, then keep_local. Backups another process is writing are
// skipped (named in the summary). Fails on the first backup whose upload failed, after keeping
// what was confirmed: a re-run continues.
// `stop` (SIGINT/SIGTERM) cancels the requests in flight: the run fails, keeping what was
// confirmed.
Result<Summary> UploadOnce(const config::Config& c, const std::string& id,
                           const std::atomic<bool>* stop = nullptr);

// keep_local on a manifest: local copies of uploaded segments past `keep_local_ms` (only those
// in `named`, when given: what a manifest in the store names) are marked as removed. Returns the
// files to delete once a manifest saying so is durable.
std::vector<std::string> ApplyKeepLocal(backup::Manifest* m, int64_t keep_local_ms, int64_t now_ms,
                                        const std::set<std::string>* named = nullptr);

// The manifest as the store may show it: per partition, the segments up to the first one not
// confirmed yet, and the offsets they (and recorded gaps) cover; no node's `local` flags.
backup::Manifest RemoteView(const backup::Manifest& m);

// Writes the store's catalog of backup `id` whole: one base chunk holding `view` (what the store
// holds: RemoteView), then the root naming it; then removes the chunks and the version 1
// manifest.json it replaces. On the calling thread.
Status PutStoreCatalog(Pool* pool, const std::string& id, const backup::Manifest& view);

std::string SummaryToText(const Summary& s);

}  // namespace tidemark::upload
