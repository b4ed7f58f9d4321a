// The gateway the s3 suite tests against: Ceph's RADOS Gateway from the Debian packages, started
// once for the whole test program by tools/rgw.sh (one monitor, one OSD on memstore, 127.0.0.1
// only) and stopped after the last test. S3Test is the base of every test that needs it.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>

#include "cli_util.h"
#include "s3/client.h"
#include "test_util.h"

namespace tidemark::testing {

struct Gateway {
  std::string dir, endpoint, key, secret, error;
  // tools/rgw.sh COMMAND on this gateway ("kill-gw", "start-gw", "user NAME").
  CmdResult Run(const std::string& command) const {
    return Shell(std::string(std::getenv("TIDEMARK_RGW")) + " " +
                 command.substr(0, command.find(' ')) + " " + dir + "/ceph" +
                 (command.find(' ') == std::string::npos ? "" : command.substr(command.find(' '))) +
                 " 2>&1");
  }
};

inline Gateway& TheGateway() {
  static Gateway g;
  return g;
}

class GatewayEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    Gateway& g = TheGateway();
    const char* script = std::getenv("TIDEMARK_RGW");
    if (script == nullptr) {
      g.error = "TIDEMARK_RGW is not set (meson sets it)";
      return;
    }
    g.dir =
        (std::filesystem::temp_directory_path() / ("tidemark-rgw-" + std::to_string(::getpid())))
            .string();
    std::filesystem::remove_all(g.dir);
    std::filesystem::create_directories(g.dir);
    const std::string out = Shell(std::string(script) + " start " + g.dir + "/ceph 2>&1").out;
    std::smatch m;
    if (!std::regex_search(out, m,
                           std::regex("endpoint=(\\S+) access_key=(\\S+) secret_key=(\\S+)"))) {
      g.error = "the gateway did not start: " + out;
      return;
    }
    g.endpoint = m[1];
    g.key = m[2];
    g.secret = m[3];
  }
  void TearDown() override {
    Gateway& g = TheGateway();
    if (g.dir.empty()) return;
    g.Run("stop");
    std::filesystem::remove_all(g.dir);
  }
};

class S3Test : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(gw().error.empty()) << gw().error; }
  static const Gateway& gw() { return TheGateway(); }

  std::unique_ptr<s3::Client> Make(const std::string& secret, const std::string& endpoint = "") {
    s3::ClientOptions o;
    o.endpoint = endpoint.empty() ? gw().endpoint : endpoint;
    o.timeout_ms = 10000;
    o.retries = 1;
    o.backoff_ms = 20;
    auto c = s3::Client::Make(o, {gw().key, secret});
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? std::move(*c) : nullptr;
  }
};

}  // namespace tidemark::testing
