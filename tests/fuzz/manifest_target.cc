// Fuzz target: the manifest parser (backup::ManifestFromJson), which reads manifest.json from a
// backup directory or a bucket before verify, describe, restore and `tidemark run` trust it.
//
// Beyond "never crashes": a manifest it accepts is written back (ManifestToJson) to a text that
// it accepts again and that is written back identically.
#include <cstddef>
#include <cstdint>
#include <string>

#include "backup/manifest.h"
#include "fuzz_util.h"

using namespace tidemark;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto m = backup::ManifestFromJson(text, "fuzz/manifest.json");
  if (!m.ok()) {
    if (m.status().message().empty()) fuzz::Fail("error without a message");
    return 0;
  }
  const std::string once = backup::ManifestToJson(*m);
  auto again = backup::ManifestFromJson(once, "fuzz/again.json");
  if (!again.ok()) fuzz::Fail("a manifest written back is refused: " + again.status().message());
  if (backup::ManifestToJson(*again) != once) fuzz::Fail("a manifest does not round-trip");
  return 0;
}
