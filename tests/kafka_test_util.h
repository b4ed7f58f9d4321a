// Test helpers that talk to a cluster directly through librdkafka (not through tidemark), so a
// restore is checked by an independent reader.
#pragma once

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <map>
#include <string>
#include <vector>

#include "kafka/mock.h"
#include "test_util.h"

namespace tidemark::testing {

// Every record of every partition of `topic`, read from the beginning to the high-water mark.
inline std::map<int32_t, std::vector<OwnedRecord>> ConsumeTopic(const std::string& brokers,
                                                                const std::string& topic) {
  std::map<int32_t, std::vector<OwnedRecord>> out;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] :
       std::vector<std::pair<std::string, std::string>>{{"bootstrap.servers", brokers},
                                                        {"group.id", "tidemark-test-reader"},
                                                        {"enable.auto.commit", "false"},
                                                        {"enable.partition.eof", "true"},
                                                        {"log_level", "3"}}) {
    EXPECT_EQ(rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)), RD_KAFKA_CONF_OK);
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  EXPECT_NE(rk, nullptr) << err;
  if (rk == nullptr) return out;
  rd_kafka_poll_set_consumer(rk);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  EXPECT_EQ(rd_kafka_metadata(rk, 0, rkt, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  int parts = 0;
  if (md != nullptr && md->topic_cnt == 1) parts = md->topics[0].partition_cnt;
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(parts);
  for (int p = 0; p < parts; ++p) {
    rd_kafka_topic_partition_list_add(l, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    out[p];
  }
  EXPECT_EQ(rd_kafka_assign(rk, l), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(l);
  int eof = 0;
  int idle = 0;
  while (eof < parts && idle < 200) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) {
      ++idle;
      continue;
    }
    idle = 0;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      ++eof;
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ADD_FAILURE() << "consume " << topic << ": " << rd_kafka_message_errstr(m);
    } else {
      OwnedRecord r;
      r.offset = m->offset;
      rd_kafka_timestamp_type_t tt;
      r.timestamp = rd_kafka_message_timestamp(m, &tt);
      r.timestamp_type = static_cast<format::TimestampType>(tt);
      if (m->key != nullptr) r.key = std::string(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr)
        r.value = std::string(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* val;
        size_t size;
        for (size_t i = 0;
             rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          OwnedHeader h{name, std::nullopt};
          if (val != nullptr) h.value = std::string(static_cast<const char*>(val), size);
          r.headers.push_back(std::move(h));
        }
      }
      out[m->partition].push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }
  EXPECT_EQ(eof, parts) << "did not reach the end of every partition of " << topic;
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

// Produces `n` varied records (MakeRecord, CreateTime) into each of `partitions` partitions of
// `topic` through tidemark's fixture producer; returns them per partition, in offset order.
inline std::map<int32_t, std::vector<OwnedRecord>> ProduceVaried(const std::string& brokers,
                                                                 const std::string& topic,
                                                                 int partitions, int n,
                                                                 uint64_t seed) {
  kafka::Producer producer;
  EXPECT_TRUE(producer.Connect(brokers).ok());
  std::mt19937_64 rng(seed);
  std::map<int32_t, std::vector<OwnedRecord>> out;
  for (int32_t p = 0; p < partitions; ++p) {
    for (int i = 0; i < n; ++i) {
      OwnedRecord r = MakeRecord(rng, i);
      r.timestamp_type = format::TimestampType::kCreateTime;
      std::vector<kafka::ProduceHeader> hs;
      for (const auto& h : r.headers) hs.push_back({h.name, h.value});
      EXPECT_TRUE(producer.Produce(topic, p, r.key, r.value, hs, r.timestamp).ok());
      out[p].push_back(std::move(r));
    }
  }
  EXPECT_TRUE(producer.Flush().ok());
  return out;
}

}  // namespace tidemark::testing
