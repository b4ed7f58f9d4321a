#include "kafka/mock.h"

#include <cstring>

#include "common/log.h"
#include "config/config.h"

namespace tidemark::kafka {

MockCluster::~MockCluster() {
  if (mcluster_ != nullptr) rd_kafka_mock_cluster_destroy(mcluster_);
  if (host_ != nullptr) rd_kafka_destroy(host_);
}

Status MockCluster::Start(int brokers) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (host_ == nullptr) return Status::Kafka(std::string("mock cluster host: ") + err);
  mcluster_ = rd_kafka_mock_cluster_new(host_, brokers);
  if (mcluster_ == nullptr) return Status::Kafka("cannot start librdkafka's mock cluster");
  bootstraps_ = rd_kafka_mock_cluster_bootstraps(mcluster_);
  return Status::Ok();
}

Status MockCluster::CreateTopic(const std::string& name, int partitions) {
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mcluster_, name.c_str(), partitions, 1);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::Kafka("mock topic " + name + ": " + rd_kafka_err2str(e));
  return Status::Ok();
}

Producer::~Producer() {
  if (rk_ != nullptr) {
    rd_kafka_flush(rk_, 5000);
    rd_kafka_destroy(rk_);
  }
}

void Producer::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<Producer*>(opaque);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (self->failed_++ == 0) self->first_error_ = rd_kafka_err2str(m->err);
  }
}

Status Producer::Connect(const std::string& brokers,
                         const std::vector<std::pair<std::string, std::string>>& extra) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  std::vector<std::pair<std::string, std::string>> props = {{"bootstrap.servers", brokers},
                                                            {"enable.idempotence", "true"},
                                                            {"acks", "all"},
                                                            {"linger.ms", "5"},
                                                            {"batch.size", "1000000"},
                                                            {"log_level", "3"}};
  props.insert(props.end(), extra.begin(), extra.end());
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::Config("producer property " + k + ": " +
                            (config::IsSecretKey(k) ? config::Scrub(err, v) : std::string(err)));
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, &Producer::OnDelivery);
  rd_kafka_conf_set_opaque(conf, this);
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk_ == nullptr) return Status::Kafka(std::string("producer: ") + err);
  return Status::Ok();
}

Status Producer::Produce(const std::string& topic, int32_t partition,
                         const std::optional<std::string>& key,
                         const std::optional<std::string>& value,
                         const std::vector<ProduceHeader>& headers, int64_t timestamp_ms) {
  rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
  for (const auto& h : headers) {
    rd_kafka_header_add(hdrs, h.name.data(), static_cast<ssize_t>(h.name.size()),
                        h.value ? h.value->data() : nullptr,
                        h.value ? static_cast<ssize_t>(h.value->size()) : 0);
  }
  // The varargs macros need plain pointers and sizes (null pointer: a null key or value).
  const void* kptr = key ? static_cast<const void*>(key->data()) : nullptr;
  const size_t klen = key ? key->size() : 0;
  void* vptr = value ? const_cast<char*>(value->data()) : nullptr;
  const size_t vlen = value ? value->size() : 0;
  for (;;) {
    rd_kafka_resp_err_t e =
        rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(kptr, klen),
                          RD_KAFKA_V_VALUE(vptr, vlen), RD_KAFKA_V_HEADERS(hdrs),
                          RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk_, 10);
      continue;
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_destroy(hdrs);
      return Status::Kafka("produce to " + topic + ": " + rd_kafka_err2str(e));
    }
    break;
  }
  rd_kafka_poll(rk_, 0);
  return Status::Ok();
}

Status Producer::Flush(int timeout_ms) {
  rd_kafka_resp_err_t e = rd_kafka_flush(rk_, timeout_ms);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::Kafka(std::string("flush: ") + rd_kafka_err2str(e));
  if (failed_ > 0)
    return Status::Kafka(std::to_string(failed_) + " records failed delivery: " + first_error_);
  return Status::Ok();
}

}  // namespace tidemark::kafka
