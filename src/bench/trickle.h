// The measurements of `tidemark bench run --trickle-rate` (trickle.cc) that do not need a
// running service: reading its /metrics text and /proc/<pid>/stat, and walking a backup
// directory. Internal to src/bench; here so that tests/trickle_test.cc can check them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tidemark::bench {

// The sum of the samples of metric `name` over all its label sets (for example records in, per
// topic) in a Prometheus text body; -1 when it has none. A metric whose name only starts with
// `name` (tidemark_durability_point_seconds for tidemark_durability_point) is not counted.
double MetricSum(const std::string& body, const std::string& name);

// What a backup directory holds on disk.
struct DiskUse {
  uint64_t files = 0;        // regular files
  uint64_t sealed = 0;       // *.tmseg
  uint64_t open = 0;         // *.tmseg.open
  uint64_t allocated = 0;    // st_blocks * 512: what the filesystem reserved (preallocation too)
  uint64_t bytes = 0;        // st_size
  uint64_t index_bytes = 0;  // what names the segments: manifest.json, or catalog/ (format 2)
  uint64_t sealed_allocated = 0, sealed_bytes = 0;  // of the *.tmseg files alone
  nlohmann::json ToJson() const {
    return {{"files", files},
            {"segments_sealed", sealed},
            {"segments_open", open},
            {"bytes_allocated", allocated},
            {"bytes_files", bytes},
            {"sealed_bytes_allocated", sealed_allocated},
            {"sealed_bytes_files", sealed_bytes},
            {"index_bytes", index_bytes}};
  }
};

// Walks `dir` while the service writes in it: a file renamed or removed between the listing and
// its stat is skipped (it is counted under its new name, or it is gone).
DiskUse WalkStore(const std::string& dir);

// The CPU in percent of one core between the samples of `series` (seconds, CPU seconds) nearest
// inside [from, to]; -1 when the window holds fewer than two.
double CpuPercent(const std::vector<std::pair<double, double>>& series, double from, double to);

}  // namespace tidemark::bench
