#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>

#include "common/time.h"

namespace tidemark {
namespace {
std::atomic<LogLevel> g_level{LogLevel::kInfo};
const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }
LogLevel GetLogLevel() { return g_level.load(std::memory_order_relaxed); }

void Logf(LogLevel level, const char* fmt, ...) {
  if (level < GetLogLevel()) return;
  char line[2048];
  std::string ts = FormatRfc3339(WallClockMs());
  int n = std::snprintf(line, sizeof(line), "%s %-5s ", ts.c_str(), LevelName(level));
  va_list ap;
  va_start(ap, fmt);
  int m = std::vsnprintf(line + n, sizeof(line) - static_cast<size_t>(n) - 1, fmt, ap);
  va_end(ap);
  size_t len = static_cast<size_t>(n) + static_cast<size_t>(m < 0 ? 0 : m);
  if (len > sizeof(line) - 2) len = sizeof(line) - 2;
  line[len++] = '\n';
  ssize_t w = ::write(STDERR_FILENO, line, len);
  (void)w;
}

}  // namespace tidemark
