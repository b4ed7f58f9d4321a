// The metrics endpoint: Prometheus text exposition at /metrics and a health check at /healthz,
// served by cpp-httplib on its own threads. The service hands it two functions that render the
// current state; they are called on the server's threads and must be thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "tidemark/status.h"

namespace httplib {
class Server;
}

namespace tidemark::service {

struct Health {
  bool ok = true;
  std::string text;  // "ok" or "degraded: <reasons>"
};

class MetricsServer {
 public:
  MetricsServer(std::function<std::string()> metrics, std::function<Health()> health);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds host:port (port 0: any free port) and starts serving.
  Status Start(const std::string& listen);
  int port() const { return port_; }
  void Stop();

 private:
  std::function<std::string()> metrics_;
  std::function<Health()> health_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace tidemark::service
