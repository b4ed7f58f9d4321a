// An embedded Kafka for the demo, the tests and the benchmarks: librdkafka's mock cluster (the
// real Kafka protocol over TCP on 127.0.0.1), and a small producer to fill it.
//
// Limits of the mock cluster to keep in mind: a partition keeps only about the last 5 MB, it
// has no CreateTopics/DescribeConfigs/ListGroups, and aborted transactions leave no control
// records behind.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tidemark/status.h"

namespace tidemark::kafka {

class MockCluster {
 public:
  MockCluster() = default;
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  Status Start(int brokers);
  Status CreateTopic(const std::string& name, int partitions);
  const std::string& bootstraps() const { return bootstraps_; }
  rd_kafka_mock_cluster_t* handle() { return mcluster_; }

 private:
  rd_kafka_t* host_ = nullptr;  // the client instance that owns the mock cluster
  rd_kafka_mock_cluster_t* mcluster_ = nullptr;
  std::string bootstraps_;
};

struct ProduceHeader {
  std::string name;
  std::optional<std::string> value;
};

// A producer for fixtures: idempotent, acks=all, records with explicit partition, timestamp,
// nullable key and value, and headers.
class Producer {
 public:
  ~Producer();
  // extra: more librdkafka properties (for example transactional.id).
  Status Connect(const std::string& brokers,
                 const std::vector<std::pair<std::string, std::string>>& extra = {});
  Status Produce(const std::string& topic, int32_t partition, const std::optional<std::string>& key,
                 const std::optional<std::string>& value, const std::vector<ProduceHeader>& headers,
                 int64_t timestamp_ms);
  // Waits for every record to be acknowledged; fails if any delivery failed.
  Status Flush(int timeout_ms = 30000);
  rd_kafka_t* handle() { return rk_; }

 private:
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque);
  rd_kafka_t* rk_ = nullptr;
  std::string first_error_;
  uint64_t failed_ = 0;
};

}  // namespace tidemark::kafka
