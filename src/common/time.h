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
// Accepts RFC 3339 ("2026-11-20T14:03:00Z", fractional seconds, Z or +hh:mm offsets, 'T', 't' or
// a space between date and time) or epoch milliseconds ("1763647380000"). Dates that do not exist
// (2026-02-31), hours past 23, offsets that are not hh:mm and trailing text are errors that say
// which part is wrong.
Result<int64_t> ParseTime(std::string_view s);

}  // namespace tidemark
