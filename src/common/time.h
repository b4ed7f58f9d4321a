// Time helpers: wall clock and monotonic milliseconds, RFC 3339 formatting and parsing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tidemark/status.h"

namespace tidemark {

int64_t WallClockMs();
int64_t MonotonicNs();
// "2026-11-20T14:03:00.000Z"
std::string FormatRfc3339(int64_t epoch_ms);
// Accepts RFC 3339 ("2026-11-20T14:03:00Z", fractional seconds, +hh:mm offsets) or epoch
// milliseconds ("1763647380000").
Result<int64_t> ParseTime(std::string_view s);

}  // namespace tidemark
