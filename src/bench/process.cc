#include "bench/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "common/time.h"

namespace tidemark::bench {

namespace {

double CpuOf(const rusage& ru) {
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Waits for `pid` (started at monotonic `t0`) and measures it.
Result<ChildRun> Wait(pid_t pid, int64_t t0) {
  int status = 0;
  rusage ru{};
  while (::wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) return Status::Errno(errno, "wait4");
  }
  ChildRun r;
  r.seconds = static_cast<double>(MonotonicNs() - t0) / 1e9;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.cpu_seconds = CpuOf(ru);
  r.peak_rss_mb = static_cast<double>(ru.ru_maxrss) / 1024;
  return r;
}

// Starts argv with stdout and stderr into `log` (truncated here, before the child exists, so
// the caller never reads an earlier run's output); with `pdeathsig`, the child gets it when the
// caller dies.
Result<pid_t> ForkExec(const std::vector<std::string>& argv, const std::string& log,
                       int pdeathsig) {
  { std::ofstream truncate(log, std::ios::trunc); }
  pid_t pid = ::fork();
  if (pid < 0) return Status::Errno(errno, "fork");
  if (pid == 0) {
    if (pdeathsig != 0) ::prctl(PR_SET_PDEATHSIG, pdeathsig);
    int fd = ::open(log.c_str(), O_WRONLY | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

// Runs argv to completion (stdout and stderr into `out_path`), measuring its wall time, and
// through wait4 its CPU time and peak RSS (its own and its waited-for children's).
Result<ChildRun> Spawn(const std::vector<std::string>& argv, const std::string& out_path) {
  const int64_t t0 = MonotonicNs();
  TM_ASSIGN_OR_RETURN(pid_t pid, ForkExec(argv, out_path, 0));
  return Wait(pid, t0);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a command line that must succeed; its output is in `log` for the error message.
Result<ChildRun> MustRun(const std::vector<std::string>& argv, const std::string& log) {
  TM_ASSIGN_OR_RETURN(ChildRun r, Spawn(argv, log));
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    std::string out = ReadFile(log);
    if (out.size() > 2000) out = out.substr(out.size() - 2000);
    return Status::Aborted("`" + cmd + "` exited " + std::to_string(r.exit_code) + ":\n" + out);
  }
  return r;
}

Result<ChildRun> Shell(const std::string& cmd, const std::string& log) {
  return MustRun({"/bin/sh", "-c", cmd}, log);
}

Result<std::pair<std::string, ChildRun>> ForkAndRun(const std::function<std::string()>& fn) {
  int fds[2];
  if (::pipe(fds) != 0) return Status::Errno(errno, "pipe");
  const int64_t t0 = MonotonicNs();
  pid_t pid = ::fork();
  if (pid < 0) return Status::Errno(errno, "fork");
  if (pid == 0) {
    ::close(fds[0]);
    const std::string out = fn();
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = ::write(fds[1], out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  TM_ASSIGN_OR_RETURN(ChildRun r, Wait(pid, t0));
  return std::make_pair(std::move(text), r);
}

Background::~Background() {
  if (pid_ > 0) (void)Stop(SIGKILL);
}

Status Background::Start(const std::vector<std::string>& argv, const std::string& log) {
  t0_ = MonotonicNs();
  TM_ASSIGN_OR_RETURN(pid_, ForkExec(argv, log, SIGKILL));  // never outlive the benchmark
  return Status::Ok();
}

Result<ChildRun> Background::Stop(int sig) {
  if (pid_ <= 0) return Status::Invalid("not running");
  ::kill(pid_, sig);
  const pid_t pid = std::exchange(pid_, -1);
  return Wait(pid, t0_);
}

Status MockProcess::Start(const std::string& self, const std::string& topics,
                          const std::string& log) {
  TM_ASSIGN_OR_RETURN(pid_, ForkExec({self, "mock", "--topics", topics, "--records", "0"}, log,
                                     SIGTERM));  // never outlive the benchmark
  for (int i = 0; i < 300; ++i) {
    const std::string out = ReadFile(log);
    const size_t at = out.find("bootstrap.servers=");
    const size_t nl = at == std::string::npos ? std::string::npos : out.find('\n', at);
    if (nl != std::string::npos) {
      brokers_ = out.substr(at + 18, nl - at - 18);
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Aborted("the embedded Kafka did not start (see " + log + ")");
}

void MockProcess::Stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

}  // namespace tidemark::bench
