// `tidemark demo`: an embedded Kafka (librdkafka's mock cluster) filled with realistic records
// (keys, headers, tombstones, JSON values, an empty topic), backed up, verified and described.
#pragma once

#include <string>

#include "tidemark/status.h"

namespace tidemark::cli {

struct DemoOptions {
  std::string path;  // where the backup goes
  int records_per_partition = 5000;
  int shards = 0;
};

Status RunDemo(const DemoOptions& o);

}  // namespace tidemark::cli
