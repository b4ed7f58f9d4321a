// Two tiers of assertion (Redpanda's vassert, TigerBeetle's assert discipline):
//  - TM_CHECK: always on. For anything that, if false, would let a backup lie: checksums,
//    offset continuity, state transitions, alignment handed to the kernel.
//  - TM_DCHECK: debug builds only, for hot paths.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace tidemark::detail {
[[noreturn]] inline void CheckFailed(const char* expr, const char* file, int line,
                                     const char* msg) {
  std::fprintf(stderr, "tidemark: internal check failed: %s (%s) at %s:%d\n", expr, msg, file,
               line);
  std::abort();
}
}  // namespace tidemark::detail

#define TM_CHECK_MSG(cond, msg) \
  ((cond) ? (void)0 : ::tidemark::detail::CheckFailed(#cond, __FILE__, __LINE__, msg))
#define TM_CHECK(cond) TM_CHECK_MSG(cond, "")

#ifdef NDEBUG
#define TM_DCHECK(cond) ((void)0)
#else
#define TM_DCHECK(cond) TM_CHECK(cond)
#endif
