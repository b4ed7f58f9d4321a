#include "common/time.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

#include <date/date.h>

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
  // Floor division that cannot overflow, whatever the value (a manifest may hold any i64).
  int64_t secs = epoch_ms / 1000;
  int ms = static_cast<int>(epoch_ms % 1000);
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  time_t t = static_cast<time_t>(secs);
  tm tmv;
  if (gmtime_r(&t, &tmv) == nullptr) return std::to_string(epoch_ms) + " ms";
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tmv.tm_year + 1900,
                tmv.tm_mon + 1, tmv.tm_mday, tmv.tm_hour, tmv.tm_min, tmv.tm_sec, ms);
  return buf;
}

namespace {

// Reads exactly `width` decimal digits at `pos`; false when any of them is not a digit.
bool Digits(std::string_view s, size_t pos, size_t width, int* out) {
  if (pos + width > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

// The layout is checked by position (RFC 3339's fixed-width fields), the calendar by Howard
// Hinnant's date library: a day that does not exist in its month (2026-02-31, 2025-02-29) is an
// error, never moved into the next month as timegm would.
Result<int64_t> ParseTime(std::string_view s) {
  auto bad = [&](const std::string& what) {
    return Status::Config("invalid time '" + std::string(s) + "': " + what +
                          "; use RFC 3339 (2026-11-20T14:03:00Z, 2026-11-20T14:03:00.250+01:00; "
                          "'T', 't' or a space between date and time) or epoch milliseconds "
                          "(1795183380000)");
  };
  if (s.empty()) return bad("empty");
  if (s.find_first_not_of("0123456789") == std::string_view::npos) {
    if (s.size() > 15) return bad("epoch milliseconds past year 33658");
    int64_t ms = 0;
    for (char c : s) ms = ms * 10 + (c - '0');
    return ms;
  }
  int y, mo, d, h, mi, sec;
  if (!Digits(s, 0, 4, &y) || s.size() < 5 || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s.size() < 8 || s[7] != '-' || !Digits(s, 8, 2, &d)) {
    return bad("the date is not YYYY-MM-DD");
  }
  if (s.size() < 11 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ')) {
    return bad("the date must be followed by 'T' and the time of day");
  }
  if (!Digits(s, 11, 2, &h) || s.size() < 14 || s[13] != ':' || !Digits(s, 14, 2, &mi) ||
      s.size() < 17 || s[16] != ':' || !Digits(s, 17, 2, &sec)) {
    return bad("the time of day is not hh:mm:ss");
  }
  const date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(mo)},
                                 date::day{static_cast<unsigned>(d)}};
  if (!ymd.month().ok()) return bad("month " + std::string(s.substr(5, 2)) + " does not exist");
  if (!ymd.ok()) {
    return bad(
        std::string(s.substr(0, 10)) + " does not exist (" +
        std::to_string(static_cast<unsigned>(
            date::year_month_day_last{ymd.year(), date::month_day_last{ymd.month()}}.day())) +
        " days in that month)");
  }
  if (h > 23) return bad("hour " + std::string(s.substr(11, 2)) + " is past 23");
  if (mi > 59) return bad("minute " + std::string(s.substr(14, 2)) + " is past 59");
  // 60 is RFC 3339's leap second; it counts as the first second of the next minute.
  if (sec > 60) return bad("second " + std::string(s.substr(17, 2)) + " is past 60");
  size_t pos = 19;
  int64_t frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits_seen = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits_seen < 3) frac_ms = frac_ms * 10 + (s[pos] - '0');
      ++digits_seen;
      ++pos;
    }
    if (digits_seen == 0) return bad("no digits after the decimal point");
    for (int i = digits_seen; i < 3; ++i) frac_ms *= 10;
  }
  int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om)) {
      return bad("the offset is not Z or +hh:mm / -hh:mm");
    }
    if (oh > 23 || om > 59)
      return bad("the offset " + std::string(s.substr(pos, 6)) + " is not a UTC offset");
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad(pos < s.size() ? "the offset is not Z or +hh:mm / -hh:mm"
                              : "no UTC offset (add Z for UTC, or +hh:mm)");
  }
  if (pos != s.size()) return bad("unexpected '" + std::string(s.substr(pos)) + "' after the time");
  const int64_t days = date::sys_days{ymd}.time_since_epoch().count();
  const int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  return secs * 1000 + frac_ms;
}

}  // namespace tidemark
