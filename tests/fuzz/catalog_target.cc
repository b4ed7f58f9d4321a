// Fuzz target: the catalog reader (backup::ReadCatalog) and writer start (CatalogWriter::Open),
// which `tidemark run`, ls, describe, verify, restore and prune run on a continuous backup's
// catalog/ directory: root.json, changes.log and a topic log, all of which a disk or a person may
// have changed.
//
// The input is the three files, separated by "\n@@\n": root.json, changes.log, and the log at
// catalog/topics/orders/00000000000000000001.log (the one the seed's root names). When the input
// ends with a newline, every line of the two logs gets its checksum recomputed before it is
// written, so that mutations of the JSON reach the replay rules behind the checksums; otherwise
// the lines are written as they are, and the checksum checks are what is fuzzed.
//
// Beyond "never crashes": a catalog that reads back is rewritten whole (CatalogWriter::Create)
// and must read back identically; a writer opened on it must accept a checkpoint.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "backup/catalog.h"
#include "fuzz_util.h"

using namespace tidemark;
namespace fs = std::filesystem;

namespace {

const std::string& Dir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TIDEMARK_FUZZ_TMP");
    if (base == nullptr) base = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string d = std::string(base) + "/tidemark-fuzz-catalog-XXXXXX";
    if (::mkdtemp(d.data()) == nullptr) fuzz::Fail("mkdtemp under " + std::string(base));
    static std::string cleanup;
    cleanup = d;
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(cleanup, ec);
    });
    return d;
  }();
  return dir;
}

void Put(const fs::path& p, std::string_view data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) fuzz::Fail("write " + p.string());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  constexpr std::string_view kSep = "\n@@\n";
  const size_t a = in.find(kSep);
  const size_t b = a == std::string_view::npos ? a : in.find(kSep, a + kSep.size());
  const std::string_view root = in.substr(0, a);
  const std::string_view changes = a == std::string_view::npos
                                       ? std::string_view()
                                       : in.substr(a + kSep.size(), b - a - kSep.size());
  const std::string_view log =
      b == std::string_view::npos ? std::string_view() : in.substr(b + kSep.size());

  const fs::path dir = Dir();
  std::error_code ec;
  fs::remove_all(dir / "catalog", ec);
  fs::create_directories(dir / "catalog" / "topics" / "orders", ec);
  if (ec) fuzz::Fail("mkdir: " + ec.message());
  Put(dir / "catalog" / "root.json", root);
  const bool fix = !in.empty() && in.back() == '\n';
  Put(dir / "catalog" / "changes.log",
      fix ? fuzz::FixLineChecksums(changes) : std::string(changes));
  Put(dir / "catalog" / "topics" / "orders" / "00000000000000000001.log",
      fix ? fuzz::FixLineChecksums(log) : std::string(log));

  auto sums = backup::ReadCatalog(dir.string(), {nullptr, /*summaries_only=*/true});
  if (!sums.ok() && sums.status().message().empty()) fuzz::Fail("error without a message");
  auto m = backup::ReadCatalog(dir.string());
  if (!m.ok()) {
    if (m.status().message().empty()) fuzz::Fail("error without a message");
    return 0;
  }
  // The service's windowed read: either refused with a message, or the same partitions (counts,
  // totals, ranges) as the whole read, holding none of their segments.
  backup::ReadScope window;
  window.settle = [](const segment::SealedSegment&) { return true; };
  auto win = backup::ReadCatalog(dir.string(), window);
  if (!win.ok() && win.status().message().empty()) fuzz::Fail("error without a message");
  if (win.ok()) {
    for (const auto& [topic, t] : m->topics) {
      auto wt = win->topics.find(topic);
      if (wt == win->topics.end() || wt->second.partitions.size() != t.partitions.size())
        fuzz::Fail("a windowed read lists other partitions");
      for (size_t i = 0; i < t.partitions.size(); ++i) {
        const auto& a = t.partitions[i];
        const auto& b = wt->second.partitions[i];
        if (a.partition != b.partition || a.end_offset != b.end_offset || a.records != b.records ||
            a.bytes_stored != b.bytes_stored || a.segments.size() != b.SegmentCount() ||
            a.gaps.size() != b.gaps.size())
          fuzz::Fail("a windowed read differs from the whole read in " + topic);
      }
    }
  }
  auto w = backup::CatalogWriter::Open(dir.string(), *m);
  if (!w.ok()) fuzz::Fail("a catalog that reads back cannot be opened: " + w.status().message());
  backup::Manifest next = *m;
  next.finished_ms += 1;
  if (Status s = (*w)->Checkpoint(next, {}, {}); !s.ok())
    fuzz::Fail("a checkpoint on a catalog that reads back fails: " + s.message());
  auto after = backup::ReadCatalog(dir.string());
  if (!after.ok())
    fuzz::Fail("a catalog after a checkpoint is refused: " + after.status().message());
  if (backup::ManifestToJson(*after) != backup::ManifestToJson(next))
    fuzz::Fail("a checkpoint does not read back");
  auto whole = backup::CatalogWriter::Create(dir.string(), next);
  if (!whole.ok()) fuzz::Fail("rewriting a catalog whole fails: " + whole.status().message());
  auto again = backup::ReadCatalog(dir.string());
  if (!again.ok()) fuzz::Fail("a catalog rewritten whole is refused: " + again.status().message());
  if (backup::ManifestToJson(*again) != backup::ManifestToJson(next))
    fuzz::Fail("a catalog rewritten whole does not read back");
  return 0;
}
