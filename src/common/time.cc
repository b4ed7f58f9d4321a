#include "common/time.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace tidemark {

int64_t WallClockMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string FormatRfc3339(int64_t epoch_ms) {
  int64_t secs = epoch_ms >= 0 ? epoch_ms / 1000 : (epoch_ms - 999) / 1000;
  int ms = static_cast<int>(epoch_ms - secs * 1000);
  time_t t = static_cast<time_t>(secs);
  tm tmv;
  gmtime_r(&t, &tmv);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tmv.tm_year + 1900,
                tmv.tm_mon + 1, tmv.tm_mday, tmv.tm_hour, tmv.tm_min, tmv.tm_sec, ms);
  return buf;
}

Result<int64_t> ParseTime(std::string_view s) {
  const std::string str(s);
  auto bad = [&] {
    return Status::Config("invalid time '" + str +
                          "': use RFC 3339 (2026-11-20T14:03:00Z) or epoch milliseconds");
  };
  if (str.empty()) return bad();
  bool digits = true;
  for (char c : str) digits = digits && c >= '0' && c <= '9';
  if (digits) {
    if (str.size() > 15) return bad();
    return static_cast<int64_t>(std::stoll(str));
  }
  int y, mo, d, h, mi, sec, consumed = 0;
  if (std::sscanf(str.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
                  &consumed) != 6) {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return bad();
  size_t pos = static_cast<size_t>(consumed);
  int64_t frac_ms = 0;
  if (pos < str.size() && str[pos] == '.') {
    ++pos;
    int digits_seen = 0;
    while (pos < str.size() && str[pos] >= '0' && str[pos] <= '9') {
      if (digits_seen < 3) frac_ms = frac_ms * 10 + (str[pos] - '0');
      ++digits_seen;
      ++pos;
    }
    if (digits_seen == 0) return bad();
    for (int i = digits_seen; i < 3; ++i) frac_ms *= 10;
  }
  int64_t offset_s = 0;
  if (pos < str.size() && (str[pos] == 'Z' || str[pos] == 'z')) {
    ++pos;
  } else if (pos < str.size() && (str[pos] == '+' || str[pos] == '-')) {
    int oh, om;
    if (str.size() - pos != 6 || std::sscanf(str.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) {
      return bad();
    }
    offset_s = (oh * 3600 + om * 60) * (str[pos] == '-' ? -1 : 1);
    pos = str.size();
  } else {
    return bad();
  }
  if (pos != str.size()) return bad();
  tm tmv{};
  tmv.tm_year = y - 1900;
  tmv.tm_mon = mo - 1;
  tmv.tm_mday = d;
  tmv.tm_hour = h;
  tmv.tm_min = mi;
  tmv.tm_sec = sec;
  int64_t secs = static_cast<int64_t>(timegm(&tmv)) - offset_s;
  return secs * 1000 + frac_ms;
}

}  // namespace tidemark
