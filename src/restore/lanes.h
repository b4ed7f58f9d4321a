// The reading side of a restore: lanes (a source partition into its target partition, or a whole
// topic merged by timestamp and routed by key) walked record by record, filtered, counted for
// the plan and the offset map, and handed to the producer.
//
// Thread contract: a lane runs on one reader thread, with that thread's ReadContext.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "backup/manifest.h"
#include "restore/block_stream.h"
#include "restore/restore.h"
#include "restore/sender.h"

namespace tidemark::restore {

// A unit of work for one reader thread: one source partition into one target partition, or
// (repartitioning) all partitions of a source topic merged in timestamp order and routed by key.
struct Lane {
  std::string topic;
  std::vector<const backup::PartitionManifest*> parts;
  std::vector<size_t> results;   // index into the report's partitions, per part
  std::vector<Target*> targets;  // direct: one; repartition: the target topic's partitions
  bool merge = false;
};

struct LaneContext {
  const RestoreOptions* o;
  source::BackupSource* src;
  RestoreReport* report;
  Shared* sh;
  RateLimiter* rate;
  BlockPool* pool;
  const std::atomic<bool>* stop;
};

bool Stopping(const LaneContext& c);

// Reads the lane's partitions and emits their wanted records; returns when they are done, or
// early when the restore stops. Fails only on an I/O error of the ring itself.
Status RunLane(const LaneContext& c, ReadContext* ring, const Lane& lane);

}  // namespace tidemark::restore
