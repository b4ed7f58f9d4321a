// Keepalive: what systemd hears while the service does long work on its main thread.
#include <gtest/gtest.h>
#include <systemd/sd-daemon.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "notify_socket.h"
#include "service/keepalive.h"

namespace tidemark {
namespace {

// While a long piece of work that reports no progress runs, systemd hears every interval that it
// goes on: the start timeout is extended, the watchdog fed, and STATUS says what runs and for how
// long; nothing once it is over.
TEST(Keepalive, TellsSystemdEveryIntervalUntilTheWorkEnds) {
  testing::NotifySocket sock;
  ::setenv("NOTIFY_SOCKET", sock.path().c_str(), 1);
  {
    // A 100 ms watchdog: a message at least every 50 ms.
    service::Keepalive alive("recovering the store in /x", 100000);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  sd_notify(0, "MARK=1");  // after the Keepalive is gone: nothing of it may follow
  std::vector<std::string> during = sock.Read("MARK=1", 2000);
  const std::vector<std::string> after = sock.Read("", 300);
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_FALSE(during.empty());
  ASSERT_EQ(during.back(), "MARK=1");
  during.pop_back();
  EXPECT_GE(during.size(), 6u);  // one at once, then every 50 ms for 500 ms
  for (const auto& m : during) {
    EXPECT_NE(m.find("EXTEND_TIMEOUT_USEC=150000"), std::string::npos) << m;
    EXPECT_NE(m.find("STATUS=recovering the store in /x ("), std::string::npos) << m;
    EXPECT_NE(m.find(" s so far)"), std::string::npos) << m;
    EXPECT_NE(m.find("WATCHDOG=1"), std::string::npos) << m;
  }
  EXPECT_TRUE(after.empty()) << after.front();
}

// Once the work reports progress, systemd is told it lives only while it advances: stuck work
// gets no extension and no WATCHDOG=1, so systemd's watchdog restarts it as it should.
TEST(Keepalive, StuckWorkIsNotKeptAlive) {
  testing::NotifySocket sock;
  ::setenv("NOTIFY_SOCKET", sock.path().c_str(), 1);
  {
    service::Keepalive alive("recovering the store in /x", 100000);
    alive.Progress(1, 10);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));  // and no further
  }
  sd_notify(0, "MARK=1");
  std::vector<std::string> got = sock.Read("MARK=1", 2000);
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_GE(got.size(), 6u);
  got.pop_back();
  int fed = 0;
  for (const auto& m : got) {
    if (m.find("WATCHDOG=1") != std::string::npos) {
      ++fed;
      EXPECT_NE(m.find("EXTEND_TIMEOUT_USEC="), std::string::npos) << m;
      EXPECT_EQ(m.find("no progress"), std::string::npos) << m;
    } else {
      EXPECT_EQ(m.find("EXTEND_TIMEOUT_USEC="), std::string::npos) << m;
      EXPECT_NE(m.find("1/10, no progress since the last report)"), std::string::npos) << m;
    }
  }
  EXPECT_LE(fed, 2);  // the construction's message, and the first after the first report
  EXPECT_GE(static_cast<int>(got.size()) - fed, 4);
}

}  // namespace
}  // namespace tidemark
