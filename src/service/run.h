// `tidemark run`: the continuous backup service.
//
// One process owns one backup directory (<path>/<id>, locked) and backs up the matching topics
// into it for as long as it runs, with the snapshot backup's shard pipeline. The segment store
// is the source of truth: at every start (and after any failure) it is recovered first
// (service/store.h), and each partition resumes at the end of what is sealed on disk. Open
// segments are synced every flush_interval_ms and sealed every segment_max_interval_ms (or at
// segment_max_bytes); after seals the manifest is rewritten, and only then, with
// `[backup] group`, are the group's offsets committed: committed <= in the manifest <= on disk.
//
// Signals: SIGTERM/SIGINT drain, seal and exit 0; SIGHUP reloads the settings that can change
// safely. A failure (a full disk, a broker gone) does not end the service: it tears the
// pipeline down, reports it (log, metrics, /healthz, systemd STATUS) and starts again after a
// back-off, recovering the store first.
#pragma once

#include <atomic>
#include <string>

#include "config/config.h"

namespace tidemark::service {

struct RunSignals {
  std::atomic<bool>* stop = nullptr;
  std::atomic<bool>* reload = nullptr;
};

// Runs until *stop is set. Returns the process exit code: 0 after a clean stop, 2 when the
// configuration cannot work (another instance holds the directory, the id names a snapshot,
// the metrics address cannot be bound).
int RunService(const std::string& config_path, config::Config c, RunSignals signals);

}  // namespace tidemark::service
