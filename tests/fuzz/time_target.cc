// Fuzz target: the time parser (ParseTime, src/common/time.h), which reads --from/--to and
// manifest times typed by operators.
//
// Beyond "never crashes": a time it accepts formats back (FormatRfc3339) to a string that
// parses to the same instant, for every instant a four-digit year can write.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/time.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  auto t = tidemark::ParseTime(s);
  if (!t.ok()) {
    if (t.status().message().empty()) std::abort();  // an error must say what was wrong
    return 0;
  }
  // 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z: what FormatRfc3339 writes in four digits.
  constexpr int64_t kMin = -62167219200000, kMax = 253402300799999;
  if (*t < kMin || *t > kMax) return 0;
  const std::string again = tidemark::FormatRfc3339(*t);
  auto back = tidemark::ParseTime(again);
  if (!back.ok() || *back != *t) {
    std::fprintf(stderr, "time round trip: '%.*s' -> %lld -> '%s' -> %s\n",
                 static_cast<int>(s.size()), s.data(), static_cast<long long>(*t), again.c_str(),
                 back.ok() ? std::to_string(*back).c_str() : back.status().message().c_str());
    std::abort();
  }
  return 0;
}
