#include "cli/demo.h"

#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include <unistd.h>

#include "backup/snapshot.h"
#include "common/log.h"
#include "common/time.h"
#include "kafka/admin.h"
#include "kafka/mock.h"
#include "restore/restore.h"
#include "service/run.h"
#include "verify/verify.h"

namespace tidemark::cli {

namespace {

struct TopicSpec {
  const char* name;
  int partitions;
};

// Orders keyed by customer (JSON values, trace headers, some duplicate header names), payment
// events with tombstones (null values, as compaction would keep them), an audit log with no
// keys, and an empty topic.
Status Fill(kafka::Producer& p, int per_partition) {
  std::mt19937_64 rng(20261122);
  const int64_t base_ts = WallClockMs() - 3600 * 1000;
  const char* const regions[] = {"eu-west", "us-east", "ap-south"};
  for (int32_t part = 0; part < 3; ++part) {
    for (int i = 0; i < per_partition; ++i) {
      const int customer = static_cast<int>(rng() % 500);
      char value[256];
      std::snprintf(
          value, sizeof(value),
          "{\"order_id\":%d,\"customer\":\"c-%04d\",\"amount_cents\":%d,\"currency\":\"EUR\","
          "\"region\":\"%s\",\"items\":%d}",
          part * per_partition + i, customer, static_cast<int>(rng() % 100000), regions[rng() % 3],
          static_cast<int>(1 + rng() % 5));
      std::vector<kafka::ProduceHeader> h = {{"trace-id", "t-" + std::to_string(rng())},
                                             {"source", std::string("checkout")}};
      if (i % 10 == 0) h.push_back({"source", std::string("retry")});  // a duplicate name
      if (i % 17 == 0) h.push_back({"note", std::nullopt});            // a null header value
      TM_RETURN_IF_ERROR(p.Produce("orders", part, "c-" + std::to_string(customer),
                                   std::string(value), h, base_ts + i * 10));
    }
  }
  for (int32_t part = 0; part < 2; ++part) {
    for (int i = 0; i < per_partition; ++i) {
      const std::string key = "pay-" + std::to_string(rng() % 1000);
      std::optional<std::string> value;
      if (i % 9 != 0)
        value =
            "{\"status\":\"captured\",\"psp\":\"acme\",\"ms\":" + std::to_string(rng() % 900) + "}";
      TM_RETURN_IF_ERROR(p.Produce("payments", part, key, value, {{"schema", std::string("v2")}},
                                   base_ts + i * 7));
    }
  }
  for (int i = 0; i < per_partition; ++i) {
    TM_RETURN_IF_ERROR(p.Produce(
        "audit.log", 0, std::nullopt,
        "user u" + std::to_string(rng() % 50) + " did action " + std::to_string(rng() % 20), {},
        base_ts + i));
  }
  return p.Flush();
}

}  // namespace

Status RunDemo(const DemoOptions& o) {
  kafka::MockCluster cluster;
  TM_RETURN_IF_ERROR(cluster.Start(3));
  const TopicSpec topics[] = {
      {"orders", 3}, {"payments", 2}, {"audit.log", 1}, {"inventory.empty", 2}};
  for (const auto& t : topics) TM_RETURN_IF_ERROR(cluster.CreateTopic(t.name, t.partitions));
  std::printf("demo: embedded Kafka (librdkafka mock cluster, 3 brokers) at %s\n",
              cluster.bootstraps().c_str());
  std::printf(
      "demo: producing %d records per partition to orders(3), payments(2, with tombstones), "
      "audit.log(1); "
      "inventory.empty(2) stays empty\n",
      o.records_per_partition);
  std::fflush(stdout);
  {
    kafka::Producer producer;
    TM_RETURN_IF_ERROR(producer.Connect(cluster.bootstraps()));
    TM_RETURN_IF_ERROR(Fill(producer, o.records_per_partition));
    // A consumer group "billing" that has read half of each orders partition.
    kafka::PartitionOffsets billing;
    for (int32_t p = 0; p < 3; ++p) billing[{"orders", p}] = o.records_per_partition / 2;
    TM_RETURN_IF_ERROR(kafka::CommitGroupOffsets(producer.handle(), "billing", billing, 15000));
  }

  config::Config c;
  c.kafka.bootstrap_servers = cluster.bootstraps();
  c.kafka.timeout_ms = 15000;
  c.backup.id = "demo-" + std::to_string(WallClockMs() / 1000);
  c.backup.topics = {"*"};
  c.backup.groups = {"billing"};  // the mock cluster cannot list groups: name them
  c.backup.shards = o.shards;
  c.storage.path = o.path;
  std::printf("demo: tidemark backup --brokers %s --topics '*' --path %s --id %s\n",
              c.kafka.bootstrap_servers.c_str(), o.path.c_str(), c.backup.id.c_str());
  std::fflush(stdout);
  TM_ASSIGN_OR_RETURN(backup::SnapshotSummary sum, backup::RunSnapshot(c, nullptr));
  std::printf("%s", backup::FormatSummary(sum).c_str());

  std::printf("\ndemo: tidemark verify --path %s --id %s\n", o.path.c_str(), c.backup.id.c_str());
  TM_ASSIGN_OR_RETURN(verify::Report report, verify::VerifyBackup(o.path, c.backup.id));
  std::printf("%s", verify::ReportToText(report).c_str());
  if (!report.ok()) return Status::Corrupt("the demo backup failed verification");

  std::printf("\ndemo: tidemark describe --path %s --id %s\n", o.path.c_str(), c.backup.id.c_str());
  TM_ASSIGN_OR_RETURN(std::string desc, verify::DescribeBackup(o.path, c.backup.id, false));
  std::printf("%s", desc.c_str());

  // Restore into a second cluster, orders under a new name, with the group moved along.
  kafka::MockCluster target;
  TM_RETURN_IF_ERROR(target.Start(1));
  // (The mock cluster has no CreateTopics, so the demo makes the target topics itself.)
  TM_RETURN_IF_ERROR(target.CreateTopic("orders.restored", 3));
  TM_RETURN_IF_ERROR(target.CreateTopic("payments", 2));
  TM_RETURN_IF_ERROR(target.CreateTopic("audit.log", 1));
  TM_RETURN_IF_ERROR(target.CreateTopic("inventory.empty", 2));
  restore::RestoreOptions ro;
  ro.path = o.path;
  ro.id = c.backup.id;
  ro.brokers = target.bootstraps();
  ro.topic_map = {{"orders", "orders.restored"}};
  ro.groups = {"billing"};
  ro.progress = restore::Progress::kOff;
  std::printf(
      "\ndemo: tidemark restore --path %s --id %s --brokers %s --topic-map "
      "orders=orders.restored --groups billing\n",
      o.path.c_str(), c.backup.id.c_str(), target.bootstraps().c_str());
  std::fflush(stdout);
  std::atomic<bool> no_stop{false};
  TM_ASSIGN_OR_RETURN(restore::RestoreReport rr, restore::RunRestore(ro, &no_stop));
  std::printf("%s", restore::ReportToText(rr).c_str());
  if (rr.produced != sum.records) {
    return Status::Corrupt("the demo restore produced " + std::to_string(rr.produced) +
                           " records, the backup holds " + std::to_string(sum.records));
  }

  // The continuous service on the same cluster while more orders arrive, then a stop as systemd
  // does it (SIGTERM): everything sealed, the manifest written, every record there.
  config::Config live = c;
  live.backup.id = "live-" + std::to_string(WallClockMs() / 1000);
  live.backup.topics = {"orders"};
  live.backup.flush_interval_ms = 200;
  live.backup.segment_max_interval_ms = 1000;
  std::printf(
      "\ndemo: tidemark run (the continuous service) backing up orders into %s/%s while "
      "300 more orders arrive; then SIGTERM\n",
      o.path.c_str(), live.backup.id.c_str());
  std::fflush(stdout);
  std::atomic<bool> stop{false}, reload{false};
  int service_rc = -1;
  std::thread service([&] { service_rc = service::RunService("<demo>", live, {&stop, &reload}); });
  Status produced;
  {
    kafka::Producer producer;
    produced = producer.Connect(cluster.bootstraps());
    for (int i = 0; i < 300 && produced.ok(); ++i) {
      produced =
          producer.Produce("orders", i % 3, "c-late",
                           "{\"order_id\":\"late-" + std::to_string(i) + "\"}", {}, WallClockMs());
      ::usleep(10 * 1000);
    }
    if (produced.ok()) produced = producer.Flush();
  }
  // Caught up: the manifest covers every order (it is rewritten after each seal).
  const int64_t want = 3 * o.records_per_partition + 300;
  int64_t covered = 0;
  for (int i = 0; i < 300 && covered < want && produced.ok(); ++i) {
    ::usleep(100 * 1000);
    auto m = backup::ReadManifest(o.path + "/" + live.backup.id);
    covered = 0;
    if (m.ok() && m->topics.count("orders")) {
      for (const auto& p : m->topics.at("orders").partitions) covered += p.end_offset;
    }
  }
  stop.store(true);
  service.join();
  TM_RETURN_IF_ERROR(produced);
  if (service_rc != 0)
    return Status::Aborted("the demo service exited " + std::to_string(service_rc));
  TM_ASSIGN_OR_RETURN(verify::Report live_report, verify::VerifyBackup(o.path, live.backup.id));
  std::printf("%s", verify::ReportToText(live_report).c_str());
  if (!live_report.ok() || covered < want) {
    return Status::Corrupt("the continuous backup covers " + std::to_string(covered) + " of " +
                           std::to_string(want) + " orders");
  }
  std::printf("\ndemo: done. Try: tidemark ls --path %s\n", o.path.c_str());
  return Status::Ok();
}

Status RunMock(const MockOptions& o, const std::atomic<bool>* stop) {
  kafka::MockCluster cluster;
  TM_RETURN_IF_ERROR(cluster.Start(o.brokers));
  std::vector<std::pair<std::string, int>> topics;
  for (const auto& spec : o.topics) {
    const auto colon = spec.rfind(':');
    int parts = 1;
    std::string name = spec;
    if (colon != std::string::npos) {
      name = spec.substr(0, colon);
      parts = std::atoi(spec.c_str() + colon + 1);
    }
    if (name.empty() || parts <= 0)
      return Status::Config("--topics: '" + spec + "' is not NAME:PARTITIONS");
    TM_RETURN_IF_ERROR(cluster.CreateTopic(name, parts));
    topics.emplace_back(name, parts);
  }
  if (o.records_per_partition > 0) {
    kafka::Producer producer;
    TM_RETURN_IF_ERROR(producer.Connect(cluster.bootstraps()));
    std::mt19937_64 rng(7);
    std::string value(o.value_bytes, 'x');
    for (const auto& [name, parts] : topics) {
      for (int32_t p = 0; p < parts; ++p) {
        for (int i = 0; i < o.records_per_partition; ++i) {
          for (size_t k = 0; k < value.size(); k += 8)
            value[k] = static_cast<char>('a' + rng() % 26);
          TM_RETURN_IF_ERROR(producer.Produce(name, p, "key-" + std::to_string(rng() % 10000),
                                              value, {{"source", std::string("mock")}},
                                              WallClockMs()));
        }
      }
    }
    TM_RETURN_IF_ERROR(producer.Flush());
  }
  std::printf("bootstrap.servers=%s\n", cluster.bootstraps().c_str());
  std::fflush(stdout);
  while (!stop->load()) ::usleep(100 * 1000);
  return Status::Ok();
}

}  // namespace tidemark::cli
