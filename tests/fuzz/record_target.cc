// Fuzz target: the record decoder (RecordDecoder, include/tidemark/record.h), which walks a
// decompressed block payload. The input is the payload.
//
// Beyond "never reads out of bounds": every record it decodes encodes back (EncodeRecord) to
// exactly the bytes it was decoded from, so nothing is dropped or invented.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_util.h"

using namespace tidemark;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  RecordDecoder dec(std::span<const uint8_t>(data, size));
  RecordView v;
  size_t pos = 0;
  std::vector<uint8_t> again;
  while (dec.Next(&v)) {
    const size_t n = EncodedRecordSize(v);
    if (n > size - pos) fuzz::Fail("a decoded record is longer than what is left");
    again.resize(n);
    if (EncodeRecord(v, again.data()) != n) fuzz::Fail("EncodeRecord wrote another size");
    if (std::memcmp(again.data(), data + pos, n) != 0)
      fuzz::Fail("a decoded record does not encode back to its bytes at " + std::to_string(pos));
    pos += n;
  }
  if (dec.status().ok() && pos != size) fuzz::Fail("decoder stopped early without an error");
  if (!dec.status().ok() && dec.status().message().empty()) fuzz::Fail("error without a message");
  return 0;
}
