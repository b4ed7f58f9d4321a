// Keeps systemd informed while the service does a long piece of work on the main thread (the
// store recovery at each session's start), so a large store is not taken for a hang.
//
// Before the first READY=1 systemd bounds the start (TimeoutStartSec); after it, the watchdog
// (WatchdogSec) bounds the gap between WATCHDOG=1 messages, and a session that starts again after
// a failure recovers the store after READY. While a Keepalive lives, a thread of its own sends,
// every interval: EXTEND_TIMEOUT_USEC (three intervals), WATCHDOG=1 when the watchdog is on, and
// STATUS saying what runs and for how long. The first message goes out at construction.
// Once the work reports its progress (Progress), the extension and WATCHDOG=1 go out only when it
// advanced since the last message: work stuck for a watchdog period (two intervals) is killed
// and restarted as a hang should be, with STATUS saying where it stopped.
//
// Lifecycle: constructed on the thread that runs the work, destroyed (stopped and joined) by it
// when the work ends. The thread only calls sd_notify; nothing is shared but the stop flag.
#pragma once

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace tidemark::service {

class Keepalive {
 public:
  // `what` goes into STATUS ("recovering the store in /var/lib/tidemark/x"); `watchdog_usec` is
  // sd_watchdog_enabled's interval (0: no watchdog). `interval` is at most half the watchdog's.
  Keepalive(std::string what, uint64_t watchdog_usec,
            std::chrono::milliseconds interval = std::chrono::seconds(5))
      : what_(std::move(what)), watchdog_(watchdog_usec != 0) {
    if (watchdog_usec != 0) {
      interval = std::min<std::chrono::milliseconds>(
          interval, std::chrono::milliseconds(std::max<uint64_t>(watchdog_usec / 2000, 1)));
    }
    interval_ = interval;
    Notify();
    thread_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!cv_.wait_for(lock, interval_, [this] { return done_; })) Notify();
    });
  }
  ~Keepalive() {
    {
      std::lock_guard<std::mutex> g(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Keepalive(const Keepalive&) = delete;
  Keepalive& operator=(const Keepalive&) = delete;

  // How far the work is ("N/M" in STATUS from the next message on); any thread may call it,
  // for example a progress callback of the work itself.
  void Progress(uint64_t done, uint64_t total) {
    std::lock_guard<std::mutex> g(mu_);
    done_items_ = done;
    total_items_ = total;
    if (!reported_) last_done_ = ~done;  // the first report counts as progress
    reported_ = true;
  }

 private:
  void Notify() {
    const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::steady_clock::now() - started_)
                             .count();
    const auto extend_usec =
        static_cast<unsigned long long>(std::chrono::microseconds(interval_).count()) * 3;
    const std::string progress =
        total_items_ == 0 ? ""
                          : ", " + std::to_string(done_items_) + "/" + std::to_string(total_items_);
    const bool advancing = !reported_ || done_items_ != last_done_;
    last_done_ = done_items_;
    if (advancing) {
      sd_notifyf(0, "EXTEND_TIMEOUT_USEC=%llu\nSTATUS=%s (%lld s so far%s)%s", extend_usec,
                 what_.c_str(), static_cast<long long>(elapsed), progress.c_str(),
                 watchdog_ ? "\nWATCHDOG=1" : "");
    } else {
      sd_notifyf(0, "STATUS=%s (%lld s so far%s, no progress since the last report)", what_.c_str(),
                 static_cast<long long>(elapsed), progress.c_str());
    }
  }

  const std::string what_;
  const bool watchdog_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  uint64_t done_items_ = 0, total_items_ = 0, last_done_ = 0;
  bool reported_ = false;  // Progress was called: the watchdog follows it
  std::thread thread_;
};

}  // namespace tidemark::service
