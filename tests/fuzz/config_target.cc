// Fuzz target: the configuration parser (config::ParseConfig), which reads the TOML file of
// every command and of the service. The input is the TOML text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.h"
#include "fuzz_util.h"

using namespace tidemark;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = config::ParseConfig(text, "fuzz.toml");
  if (!c.ok()) {
    if (c.status().message().empty()) fuzz::Fail("error without a message");
    return 0;
  }
  config::ValidateForBackup(*c).IgnoreError();
  return 0;
}
