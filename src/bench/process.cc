#include "bench/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
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

// Peak RSS of a process tree, sampled: each process's VmHWM (the peak of its own address space
// since its exec), summed over the processes seen (an upper bound for a pipeline whose parts
// peak at different times). Growth in a process's last 10 ms, and a descendant that lives less
// than that, are not seen. wait4's ru_maxrss cannot serve: Linux carries into it the address
// space a child had before its exec, which after fork() counts every page of this process (a
// child of a 160 MB benchmark reported 160 MB, whatever it used).
class TreePeak {
 public:
  void Sample(pid_t root) { Visit(root, 0); }
  double mb() const {
    uint64_t kb = 0;
    for (const auto& [pid, k] : kb_) kb += k;
    return static_cast<double>(kb) / 1024;
  }

 private:
  void Visit(pid_t pid, int depth) {
    const std::string proc = "/proc/" + std::to_string(pid);
    std::ifstream status(proc + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmHWM:", 0) == 0) {
        const uint64_t kb = std::strtoull(line.c_str() + 6, nullptr, 10);
        uint64_t& best = kb_[pid];
        best = std::max(best, kb);
        break;
      }
    }
    if (depth >= 8) return;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator(proc + "/task", ec)) {
      std::ifstream children(task.path() / "children");
      pid_t child = 0;
      while (children >> child) Visit(child, depth + 1);
    }
  }
  std::map<pid_t, uint64_t> kb_;
};

// Waits for `pid` (started at monotonic `t0`, past its exec) and measures it: wall time, CPU
// through wait4, peak RSS sampled every 10 ms (TreePeak; `peak` may hold earlier samples), or
// with a null `peak` wait4's.
Result<ChildRun> Wait(pid_t pid, int64_t t0, TreePeak* peak) {
  const int pidfd = peak != nullptr ? static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)) : -1;
  while (peak != nullptr) {
    peak->Sample(pid);
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      if (::poll(&p, 1, 10) > 0) break;
    } else {
      // No pidfd (a kernel before 5.3, or a sandbox): has it exited, without reaping it?
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  int status = 0;
  rusage ru{};
  while (::wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) return Status::Errno(errno, "wait4");
  }
  ChildRun r;
  r.seconds = static_cast<double>(MonotonicNs() - t0) / 1e9;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.cpu_seconds = CpuOf(ru);
  r.peak_rss_mb = peak != nullptr ? peak->mb() : static_cast<double>(ru.ru_maxrss) / 1024;
  return r;
}

// Starts argv with stdout and stderr into `log` (truncated here, before the child exists, so
// the caller never reads an earlier run's output); with `pdeathsig`, the child gets it when the
// caller dies.
Result<pid_t> ForkExec(const std::vector<std::string>& argv, const std::string& log,
                       int pdeathsig) {
  { std::ofstream truncate(log, std::ios::trunc); }
  // Returns once the child has exec'd (the close-on-exec pipe closes), so that a sample of its
  // peak RSS never sees the copy of this process it was before.
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) return Status::Errno(errno, "pipe");
  pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    ::close(exec_pipe[0]);
    ::close(exec_pipe[1]);
    return Status::Errno(e, "fork");
  }
  if (pid == 0) {
    ::close(exec_pipe[0]);
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
    const int e = errno;
    (void)!::write(exec_pipe[1], &e, sizeof(e));
    ::_exit(127);
  }
  ::close(exec_pipe[1]);
  int e = 0;
  ssize_t n;
  while ((n = ::read(exec_pipe[0], &e, sizeof(e))) < 0 && errno == EINTR) {
  }
  ::close(exec_pipe[0]);
  (void)n;  // 0: exec'd; sizeof(e): it failed, and the child exits 127 (its caller reports it)
  return pid;
}

}  // namespace

// Runs argv to completion (stdout and stderr into `out_path`), measuring its wall time, and
// through wait4 its CPU time and peak RSS (its own and its waited-for children's).
Result<ChildRun> Spawn(const std::vector<std::string>& argv, const std::string& out_path) {
  const int64_t t0 = MonotonicNs();
  TM_ASSIGN_OR_RETURN(pid_t pid, ForkExec(argv, out_path, 0));
  TreePeak peak;
  return Wait(pid, t0, &peak);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

unsigned long long StatCpuTicks(std::string_view stat) {
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return 0;
  std::string_view rest = stat.substr(close + 1);
  unsigned long long ticks = 0;
  for (int field = 3; field <= 15 && !rest.empty(); ++field) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    const size_t end = std::min(rest.find(' '), rest.size());
    if (field == 14 || field == 15) {
      unsigned long long v = 0;
      for (char c : rest.substr(0, end)) {
        if (c < '0' || c > '9') break;
        v = v * 10 + static_cast<unsigned long long>(c - '0');
      }
      ticks += v;
    }
    rest.remove_prefix(end);
  }
  return ticks;
}

double ProcessCpuSeconds(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (stat.rfind(')') == std::string::npos) return -1;
  return static_cast<double>(StatCpuTicks(stat)) / static_cast<double>(::sysconf(_SC_CLK_TCK));
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
  // A fork without exec, which has exited by now (its end of the pipe closed): wait4's peak,
  // which counts the pages it shares with this process too.
  TM_ASSIGN_OR_RETURN(ChildRun r, Wait(pid, t0, nullptr));
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
  TreePeak peak;
  peak.Sample(pid_);  // the peak while it ran (its shutdown is sampled by Wait)
  ::kill(pid_, sig);
  const pid_t pid = std::exchange(pid_, -1);
  return Wait(pid, t0_, &peak);
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
