// Fuzz target: the store's catalog reader (backup::ReadStoreCatalog), which ls, describe, verify
// and restore of s3:// run on objects that anyone with write access to the bucket may have
// changed: root.json and the chunks it names.
//
// The input is root.json, then the chunks, separated by "\n@@\n"; the reader's fetches get the
// chunks in the order it asks (past them: NotFound). When the input ends with a newline, every
// chunk line gets its checksum recomputed, so that mutations of the JSON reach the replay
// rules behind the checksums; otherwise the checksum checks are what is fuzzed.
//
// Beyond "never crashes": a catalog that reads back is written again as one base chunk and a
// root (what tidemark upload writes) and must read back identically, and its summaries must
// read too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backup/store_catalog.h"
#include "fuzz_util.h"

using namespace tidemark;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const bool fix = !in.empty() && in.back() == '\n';
  std::vector<std::string> parts;
  size_t pos = 0;
  for (;;) {
    const size_t sep = in.find("\n@@\n", pos);
    parts.emplace_back(
        in.substr(pos, sep == std::string_view::npos ? std::string_view::npos : sep - pos));
    if (sep == std::string_view::npos) break;
    pos = sep + 4;
  }
  if (fix)
    for (size_t i = 1; i < parts.size(); ++i) parts[i] = fuzz::FixLineChecksums(parts[i]);
  size_t next = 1;
  auto fetch = [&](const std::string& name) -> Result<std::string> {
    if (next >= parts.size()) return Status::NotFound(name + " is missing");
    return parts[next++];
  };
  auto m = backup::ReadStoreCatalog(parts[0], "root.json", {}, fetch);
  if (!m.ok()) return 0;

  int64_t seq = 1;
  const std::string base = backup::StoreBaseChunk(*m, &seq);
  const std::string name = backup::StoreChunkName(1);
  const std::string root = backup::StoreRootJson(*m, {{name, base.size()}});
  auto again =
      backup::ReadStoreCatalog(root, "rewritten root.json", {},
                               [&](const std::string&) -> Result<std::string> { return base; });
  if (!again.ok())
    fuzz::Fail("a catalog that read back was refused once rewritten: " + again.status().message());
  if (backup::ManifestToJson(*again) != backup::ManifestToJson(*m))
    fuzz::Fail("a catalog rewritten as one base reads back differently");
  backup::ReadScope summaries;
  summaries.summaries_only = true;
  auto sum = backup::ReadStoreCatalog(root, "rewritten root.json", summaries, fetch);
  if (!sum.ok()) fuzz::Fail("the summaries of a rewritten catalog: " + sum.status().message());
  return 0;
}
