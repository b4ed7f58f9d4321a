// Helpers for tests that run the tidemark binary (meson passes its path in TIDEMARK_BIN).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace tidemark::testing {

struct CmdResult {
  int code = -1;
  std::string out;  // stdout and stderr
};

// Runs a shell command line; its exit code and stdout (stderr too if the command says 2>&1).
inline CmdResult Shell(const std::string& cmd) {
  CmdResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return r;
}

inline CmdResult Tidemark(const std::string& args, bool merge_stderr = true) {
  const char* bin = std::getenv("TIDEMARK_BIN");
  EXPECT_NE(bin, nullptr) << "TIDEMARK_BIN is not set (meson sets it)";
  return Shell(std::string(bin ? bin : "tidemark") + " " + args +
               (merge_stderr ? " 2>&1" : " 2>/dev/null"));
}

// Starts the tidemark binary with `args` (no shell), output to `log`; returns its pid.
inline pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  const char* bin = std::getenv("TIDEMARK_BIN");
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(bin));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(bin, argv.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace tidemark::testing
