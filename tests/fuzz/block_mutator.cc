// The structure-aware mutator of fuzz_block_structured (see mutate.h).
#include <algorithm>
#include <cstring>

#include "mutate.h"

using namespace tidemark;

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  fuzz::Rng rng(seed);
  std::vector<uint8_t> out;
  fuzz::BlockModel b;
  if (rng.OneIn(6) || !fuzz::ParseBlock(data, size, &b)) {
    out.assign(data, data + size);
    fuzz::BlindMutate(&out, max_size);
    if (!rng.OneIn(8)) fuzz::FixBlockChecksums(out.data(), out.size());
  } else {
    for (uint64_t rounds = 1 + (rng.OneIn(3) ? rng.Below(3) : 0); rounds > 0; --rounds)
      fuzz::MutateBlock(&b, rng, max_size);
    fuzz::AppendBlock(b, &out, /*keep_payload_xxh3=*/rng.OneIn(16));
    if (rng.OneIn(8) && !out.empty()) out.resize(rng.Below(out.size()));  // cut short
  }
  if (out.size() > max_size) {
    out.assign(data, data + size);
    fuzz::BlindMutate(&out, max_size);
  }
  std::memcpy(data, out.data(), out.size());
  return out.size();
}
