// Fuzz target: the crash recovery of an unsealed segment (segment::RecoverOpenSegment), which
// `tidemark run` runs at every start on each `.tmseg.open` file it finds: a crash here is a
// crash loop under systemd. The input is the `.tmseg.open` file; it is written to a private
// directory (on tmpfs), recovered, and removed.
//
// Beyond "never crashes": a segment that recovery seals must read back as a sealed segment
// (trailer, footer and every block in its index checked, as verify reads it), holding the
// records the recovery reported, so a recovered segment is never one that verify calls damaged.
//
// Built with the segment mutator (segment_mutate.cc), so the blocks recovery scans pass their
// checksums and its deeper checks are reached.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_util.h"
#include "segment/recovery.h"
#include "segment/segment_reader.h"

using namespace tidemark;

namespace {

const char* kOpen = "topics/orders/3/00000000000000000100.tmseg.open";
const char* kSealed = "topics/orders/3/00000000000000000100.tmseg";

// A fresh directory under $TIDEMARK_FUZZ_TMP (tools/fuzz.sh removes it even after a crash),
// else under /dev/shm or /tmp; removed at a normal exit.
const std::string& Dir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TIDEMARK_FUZZ_TMP");
    if (base == nullptr) base = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string d = std::string(base) + "/tidemark-fuzz-recovery-XXXXXX";
    if (::mkdtemp(d.data()) == nullptr) fuzz::Fail("mkdtemp under " + std::string(base));
    for (const char* sub : {"/topics", "/topics/orders", "/topics/orders/3"})
      if (::mkdir((d + sub).c_str(), 0750) != 0) fuzz::Fail("mkdir " + d + sub);
    static std::string cleanup;
    cleanup = d;
    std::atexit([] {
      std::remove((cleanup + "/" + kOpen).c_str());
      std::remove((cleanup + "/" + kSealed).c_str());
      for (const char* sub : {"/topics/orders/3", "/topics/orders", "/topics", ""})
        ::rmdir((cleanup + sub).c_str());
    });
    return d;
  }();
  return dir;
}

void WriteFile(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0)
    fuzz::Fail("cannot write " + path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = Dir();
  const std::string open_path = dir + "/" + kOpen, sealed_path = dir + "/" + kSealed;
  std::remove(sealed_path.c_str());
  WriteFile(open_path, data, size);
  auto r = segment::RecoverOpenSegment(dir, kOpen);
  if (r.ok() && r->sealed) {
    segment::SegmentReader reader;
    Status st = reader.Open(sealed_path);
    if (st.ok()) st = reader.footer_status();
    if (!st.ok()) fuzz::Fail("a recovered segment does not read back: " + st.message());
    if (reader.footer().record_count != r->sealed->records)
      fuzz::Fail("a recovered segment's footer disagrees with what recovery reported");
    uint64_t records = 0;
    for (size_t i = 0; i < reader.footer().blocks.size(); ++i) {
      format::BlockHeader h;
      std::span<const uint8_t> payload;
      st = reader.ReadIndexed(i, &h, &payload);
      if (!st.ok()) fuzz::Fail("a recovered segment has a bad block: " + st.message());
      records += h.record_count;
    }
    if (records != r->sealed->records) fuzz::Fail("a recovered segment's blocks miscount");
  }
  std::remove(open_path.c_str());
  std::remove(sealed_path.c_str());
  return 0;
}
