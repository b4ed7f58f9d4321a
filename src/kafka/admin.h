// Admin operations on a cluster: topic creation, consumer-group listing, committed offsets
// (read at backup time, written at restore time) and group state. Each degrades to a clear
// error or note where a broker lacks the API (librdkafka's mock cluster has no CreateTopics,
// ListGroups or DescribeGroups).
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tidemark/status.h"

namespace tidemark::kafka {

using TopicPartition = std::pair<std::string, int32_t>;
using PartitionOffsets = std::map<TopicPartition, int64_t>;

// True when the cluster's metadata names a controller that is one of its brokers. Requests
// that go to the controller (CreateTopics, DescribeConfigs) would otherwise wait out their
// timeout: the mock cluster names controller 0 while its brokers are 1..N.
bool HasUsableController(rd_kafka_t* rk, int timeout_ms, int32_t* controller);

struct NewTopic {
  std::string name;
  int32_t partitions = 1;
  std::map<std::string, std::string> configs;
};
// Creates the topics (replication factor: the broker's default). A broker without the API, or
// one that refuses, gives an error that names each topic and the partition count to create.
Status CreateTopics(rd_kafka_t* rk, const std::vector<NewTopic>& topics, int timeout_ms);

// Every consumer group the cluster lists; an Unsupported status when it cannot list them.
Result<std::vector<std::string>> ListGroups(rd_kafka_t* rk, int timeout_ms);

// The committed offsets of `group` on `partitions` (partitions without a commit are left out).
Result<PartitionOffsets> FetchGroupOffsets(rd_kafka_t* rk, const std::string& group,
                                           const std::vector<TopicPartition>& partitions,
                                           int timeout_ms);

struct GroupState {
  std::string state;  // "Empty", "Stable", ... ; "unknown" when the broker cannot describe it
  size_t members = 0;
  bool known = false;
};
// DescribeConsumerGroups for one group; known = false when the broker lacks the API.
GroupState DescribeGroup(rd_kafka_t* rk, const std::string& group, int timeout_ms);

// Commits `offsets` for `group` (AlterConsumerGroupOffsets: OffsetCommit outside the group
// protocol). The broker refuses it for a group with active members; that refusal is reported
// naming the group.
Status CommitGroupOffsets(rd_kafka_t* rk, const std::string& group, const PartitionOffsets& offsets,
                          int timeout_ms);

}  // namespace tidemark::kafka
