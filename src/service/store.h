// The local segment store of a continuous backup, brought back to a consistent state at start.
//
// The store, not the consumer group's committed offsets, is the source of truth for where a
// continuous backup resumes. Whatever stopped the last run (kill -9, power loss, a full disk):
//   0. the journal's records (those a durability point vouched for that were in no durable
//      block) are appended to their partition's unsealed segment, or make a new one, and sealed
//      (segment::ReplayJournal); then the journal is removed;
//   1. every unsealed segment (`.tmseg.open`) is recovered to its last complete, checksummed
//      block and sealed (segment::RecoverOpenSegment); one whose header page is damaged is moved
//      aside as `.damaged` and reported (its records are fetched again: they are not in the
//      manifest);
//   2. every sealed segment the manifest does not name yet (sealed just before the stop) is read
//      back, its offset holes become gaps, and it is added to its partition's entry;
//   3. the manifest is rewritten, so each partition's end_offset is where consumption resumes.
// Nothing here trusts the previous manifest beyond what the files confirm.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backup/manifest.h"

namespace tidemark::service {

struct StoreRecovery {
  std::vector<std::string> recovered;  // one line per recovered open segment
  std::vector<std::string> adopted;    // sealed segments added to the manifest
  std::vector<std::string> problems;   // moved aside, overlapping or missing files
};

// Called as recovery goes: `done` of `total` segment files (unsealed and sealed) examined.
using RecoveryProgress = std::function<void(uint64_t done, uint64_t total)>;

// `dir` is <path>/<id>; `manifest` is what the last run wrote (nullopt: none yet). `progress`, when
// given, hears after every segment file (a long recovery keeps systemd informed through it).
Result<backup::Manifest> RecoverStore(const std::string& dir,
                                      std::optional<backup::Manifest> manifest,
                                      StoreRecovery* report, const RecoveryProgress& progress = {});

}  // namespace tidemark::service
