// A restore's files beside the backup (docs/FORMAT.md, "Restore state"): state.json, written
// before anything is produced, and offset-map.json, written once the records landed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "restore/restore.h"
#include "tidemark/status.h"

namespace tidemark::restore {

struct TargetKey {
  std::string topic;
  int32_t partition;
  bool operator<(const TargetKey& o) const {
    return std::tie(topic, partition) < std::tie(o.topic, o.partition);
  }
};

struct State {
  bool exists = false;  // an earlier run wrote it
  bool complete = false;
  int64_t created_ms = 0;
  std::map<TargetKey, int64_t> bases;  // each target partition's high-water mark at the start
};

// <dir>/state.json, or a State with exists = false when there is none.
Result<State> ReadState(const std::string& dir);
Status WriteState(const std::string& dir, const std::string& description, const State& s);
// <dir>/offset-map.json from the report's partitions and their runs.
Status WriteOffsetMap(const std::string& dir, const std::string& backup_id,
                      const std::string& description, const RestoreReport& report);
// The directory name of a restore: 16 hex digits of the description's XXH3.
std::string StateKey(const std::string& description);

}  // namespace tidemark::restore
