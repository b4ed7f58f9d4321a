#include "restore/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "common/time.h"

namespace tidemark::restore {

namespace {

std::string Duration(double s) {
  char buf[32];
  const auto t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof(buf), "%" PRId64 "h%02" PRId64 "m", t / 3600, t / 60 % 60);
  else
    std::snprintf(buf, sizeof(buf), "%" PRId64 "m%02" PRId64 "s", t / 60, t % 60);
  return buf;
}

}  // namespace

ProgressPrinter::ProgressPrinter(Progress mode, uint64_t total_read_bytes)
    : total_(total_read_bytes), start_ns_(MonotonicNs()), last_ns_(start_ns_) {
  if (mode == Progress::kAuto) mode = ::isatty(2) ? Progress::kTerminal : Progress::kLines;
  mode_ = mode;
}

void ProgressPrinter::Tick(const Shared& sh, bool final) {
  if (mode_ == Progress::kOff) return;
  const int64_t now = MonotonicNs();
  const int64_t every = mode_ == Progress::kTerminal ? 500'000'000 : 10'000'000'000;
  if (!final && now - last_ns_ < every) return;
  last_ns_ = now;
  const double secs = static_cast<double>(now - start_ns_) / 1e9;
  const double mb = static_cast<double>(sh.delivered_bytes) / 1e6;
  const uint64_t read = sh.bytes_read.load();
  const double frac = total_ > 0 ? std::min(1.0, static_cast<double>(read) / total_) : 1.0;
  std::string eta = "-";
  if (frac > 0.01 && frac < 1.0) eta = Duration(secs / frac - secs);
  char line[256];
  std::snprintf(line, sizeof(line),
                "restore: %" PRIu64 " records (%.1f MB) landed, %.1f MB/s, %.0f%% read, ETA %s",
                sh.delivered, mb, secs > 0 ? mb / secs : 0.0, frac * 100, eta.c_str());
  if (mode_ == Progress::kTerminal) {
    std::fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
  } else if (!final) {
    std::fprintf(stderr, "%s\n", line);
  }
  std::fflush(stderr);
}

}  // namespace tidemark::restore
