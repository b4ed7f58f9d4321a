// The structure-aware mutator of fuzz_record_structured (see mutate.h): length and count fields
// set past their bounds, bodies mutated with consistent length prefixes, records generated,
// removed, duplicated and moved. Records carry no checksum of their own (the block's payload
// XXH3 covers them), so nothing needs recomputing here.
#include <algorithm>
#include <cstring>

#include "mutate.h"

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  tidemark::fuzz::Rng rng(seed);
  std::vector<uint8_t> p(data, data + size);
  for (uint64_t rounds = 1 + (rng.OneIn(3) ? rng.Below(3) : 0); rounds > 0; --rounds)
    tidemark::fuzz::MutateRecords(&p, rng, max_size);
  const size_t n = std::min(p.size(), max_size);
  std::memcpy(data, p.data(), n);
  return n;
}
