// The structure-aware mutator of fuzz_segment_structured (see mutate.h).
#include <algorithm>
#include <cstring>

#include "mutate.h"

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  tidemark::fuzz::Rng rng(seed);
  std::vector<uint8_t> file(data, data + size);
  tidemark::fuzz::MutateSegment(&file, rng, max_size);
  const size_t n = std::min(file.size(), max_size);
  std::memcpy(data, file.data(), n);
  return n;
}
