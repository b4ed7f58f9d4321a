#include "service/http.h"

#include <httplib.h>

#include "config/config.h"

namespace tidemark::service {

MetricsServer::MetricsServer(std::function<std::string()> metrics, std::function<Health()> health)
    : metrics_(std::move(metrics)), health_(std::move(health)) {}

MetricsServer::~MetricsServer() { Stop(); }

Status MetricsServer::Start(const std::string& listen) {
  auto hp = config::ParseHostPort(listen);
  if (!hp.ok()) return hp.status().WithContext("[metrics] listen");
  const std::string host = hp->host;
  const int port = hp->port;
  server_ = std::make_unique<httplib::Server>();
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    Health h = health_();
    res.status = h.ok ? 200 : 503;
    res.set_content(h.text + "\n", "text/plain; charset=utf-8");
  });
  port_ = port == 0 ? server_->bind_to_any_port(host.c_str())
                    : (server_->bind_to_port(host.c_str(), port) ? port : -1);
  if (port_ <= 0) {
    server_.reset();
    return Status::Config("cannot listen on " + listen +
                          " for metrics (in use, or not an address of this host); change "
                          "[metrics] listen");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::Ok();
}

void MetricsServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace tidemark::service
