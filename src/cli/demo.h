// `tidemark demo`: an embedded Kafka (librdkafka's mock cluster) filled with realistic records
// (keys, headers, tombstones, JSON values, an empty topic), backed up, verified and described.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "tidemark/status.h"

namespace tidemark::cli {

struct DemoOptions {
  std::string path;  // where the backup goes
  int records_per_partition = 5000;
  int shards = 0;
};

Status RunDemo(const DemoOptions& o);

struct MockOptions {
  std::vector<std::string> topics = {"bench:4"};  // NAME:PARTITIONS
  int records_per_partition = 0;
  size_t value_bytes = 1024;
  int brokers = 1;
};

// `tidemark mock`: an embedded Kafka in its own process, for kcat baselines and manual tours.
// Creates the topics, optionally fills them, prints "bootstrap.servers=..." on stdout and serves
// until *stop becomes true (SIGINT/SIGTERM).
Status RunMock(const MockOptions& o, const std::atomic<bool>* stop);

}  // namespace tidemark::cli
