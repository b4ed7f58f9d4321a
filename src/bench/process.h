// Child processes for `tidemark bench`: measured runs (wall time, CPU time through wait4, peak RSS
// sampled from /proc every 10 ms: each process's VmHWM, summed over the child and its
// descendants) and the embedded Kafka in a process of its own.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tidemark/status.h"

namespace tidemark::bench {

struct ChildRun {
  int exit_code = -1;
  double seconds = 0;
  double cpu_seconds = 0;
  double peak_rss_mb = 0;
};

// Runs argv to completion (stdout and stderr into `out_path`), measuring its wall time, CPU time
// and peak RSS (its own and its descendants').
Result<ChildRun> Spawn(const std::vector<std::string>& argv, const std::string& out_path);
// The same for a command that must succeed: a failure carries the end of its output.
Result<ChildRun> MustRun(const std::vector<std::string>& argv, const std::string& log);
Result<ChildRun> Shell(const std::string& cmd, const std::string& log);
std::string ReadFile(const std::string& path);

// User plus system clock ticks in the text of a /proc/<pid>/stat file (fields 14 and 15,
// counted after the command name's closing parenthesis, which may itself hold spaces and
// parentheses); 0 when the text has no command name.
unsigned long long StatCpuTicks(std::string_view stat);
// CPU seconds (user and system, every thread) process `pid` has used so far; -1 if unreadable.
double ProcessCpuSeconds(pid_t pid);

// Runs `fn` in a forked child, so its CPU is its own: returns what fn returned (sent back through
// a pipe) and the child's measurements. Its peak RSS includes the pages it shares with this
// process (a fork without exec): call it while this process is small. The caller must not be
// running other threads (fork copies only the caller).
Result<std::pair<std::string, ChildRun>> ForkAndRun(const std::function<std::string()>& fn);

// A measured child that runs until told to stop (the service): started now, stopped with a
// signal, then measured like Spawn's (wall time since start, CPU, peak RSS).
class Background {
 public:
  Background() = default;
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  Status Start(const std::vector<std::string>& argv, const std::string& log);
  Result<ChildRun> Stop(int sig);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }  // -1 when not running (for /proc/<pid>/stat)

 private:
  pid_t pid_ = -1;
  int64_t t0_ = 0;
};

// An embedded Kafka in its own process (`tidemark mock`), so its memory and CPU are not the
// measured run's. Killed when it goes out of scope, and with the benchmark if that dies first.
class MockProcess {
 public:
  MockProcess() = default;
  ~MockProcess() { Stop(); }
  MockProcess(const MockProcess&) = delete;
  MockProcess& operator=(const MockProcess&) = delete;
  // `self`: the tidemark binary; `topics`: NAME:PARTITIONS; `log`: where its output goes.
  Status Start(const std::string& self, const std::string& topics, const std::string& log);
  void Stop();
  const std::string& brokers() const { return brokers_; }
  // CPU seconds it has used so far (ProcessCpuSeconds): what the embedded Kafka takes of the
  // machine while a run competes with it. -1 when it is not running.
  double CpuSeconds() const { return pid_ > 0 ? ProcessCpuSeconds(pid_) : -1; }

 private:
  pid_t pid_ = -1;
  std::string brokers_;
};

}  // namespace tidemark::bench
