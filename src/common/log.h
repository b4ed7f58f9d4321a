// Logging to stderr: "2026-11-22T10:00:00.123Z INFO message". Human output goes to stdout, logs
// to stderr (PRODUCT.md). Thread-safe: each line is one write(2).
#pragma once

#include <cstdarg>

namespace tidemark {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
void Logf(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace tidemark

#define TM_LOG_DEBUG(...)                                          \
  do {                                                             \
    if (::tidemark::GetLogLevel() <= ::tidemark::LogLevel::kDebug) \
      ::tidemark::Logf(::tidemark::LogLevel::kDebug, __VA_ARGS__); \
  } while (0)
#define TM_LOG_INFO(...) ::tidemark::Logf(::tidemark::LogLevel::kInfo, __VA_ARGS__)
#define TM_LOG_WARN(...) ::tidemark::Logf(::tidemark::LogLevel::kWarn, __VA_ARGS__)
#define TM_LOG_ERROR(...) ::tidemark::Logf(::tidemark::LogLevel::kError, __VA_ARGS__)
