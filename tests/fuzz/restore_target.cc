// Fuzz target: the restore reader (restore::BlockStream), which reads a backed-up partition's
// segments block by block through io_uring, from the footer's index (read-ahead, reads sized by
// what the index claims) or by a scan when the footer cannot be trusted. The input is one
// segment file of backup "b", topic "orders", partition 3; the manifest entry that names it is
// built from what its header and footer say (as a forged bucket would make them agree). The
// last input byte picks whether damage stops the stream or is skipped (--skip-damaged).
//
// Built with the segment mutator (segment_mutate.cc), so reads get past the checksums.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_util.h"
#include "restore/block_stream.h"
#include "source/backup_source.h"

using namespace tidemark;

namespace {

// $TIDEMARK_FUZZ_TMP (tools/fuzz.sh removes it), else /dev/shm or /tmp: <dir>/b/topics/orders/3.
const std::string& Root() {
  static const std::string root = [] {
    const char* base = std::getenv("TIDEMARK_FUZZ_TMP");
    if (base == nullptr) base = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string d = std::string(base) + "/tidemark-fuzz-restore-XXXXXX";
    if (::mkdtemp(d.data()) == nullptr) fuzz::Fail("mkdtemp under " + std::string(base));
    for (const char* sub : {"/b", "/b/topics", "/b/topics/orders", "/b/topics/orders/3"})
      if (::mkdir((d + sub).c_str(), 0750) != 0) fuzz::Fail("mkdir " + d + sub);
    return d;
  }();
  return root;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile* mem = new fuzz::MemFile;
  static restore::ReadContext* ctx = [] {
    auto* c = new restore::ReadContext;
    if (!c->ring.Init(64).ok()) fuzz::Fail("io_uring set-up");
    return c;
  }();
  static std::unique_ptr<source::BackupSource> src = [] {
    auto s = source::Open(Root(), config::UploadConfig{});
    if (!s.ok()) fuzz::Fail("backup source: " + s.status().message());
    return std::move(*s);
  }();

  // The manifest entry: what the file's own header and footer say.
  segment::SealedSegment s;
  s.first_offset = 100;
  s.last_offset = INT64_MAX - 1;
  s.records = 1;
  {
    segment::SegmentReader r;
    if (r.Open(mem->Set(data, size)).ok()) {
      s.first_offset = r.file_header().first_offset;
      if (r.footer_status().ok()) {
        s.last_offset = r.footer().last_offset;
        s.records = r.footer().record_count;
        s.min_timestamp = r.footer().min_timestamp;
        s.max_timestamp = r.footer().max_timestamp;
        s.checksum = r.footer_checksum();
        s.blocks = static_cast<uint32_t>(r.footer().blocks.size());
      }
    }
  }
  s.path = format::PartitionDir("orders", 3) + "/" + format::SegmentName(s.first_offset, true);
  s.bytes_stored = size;
  const std::string file = Root() + "/b/" + s.path;
  FILE* f = std::fopen(file.c_str(), "wb");
  if (f == nullptr || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0)
    fuzz::Fail("cannot write " + file);

  backup::PartitionManifest part;
  part.partition = 3;
  part.end_offset = s.last_offset < INT64_MAX ? s.last_offset + 1 : INT64_MAX;
  part.records = s.records;
  part.segments.push_back(s);
  const bool skip_damaged = size > 0 && (data[size - 1] & 1) != 0;
  {
    restore::BlockStream stream(ctx, src.get(), "b", "orders", &part, restore::RecordFilter{},
                                skip_damaged, 4);
    format::BlockHeader h;
    std::span<const uint8_t> payload;
    for (int blocks = 0; blocks < 100000; ++blocks) {
      auto more = stream.Next(&h, &payload);
      if (!more.ok() || !*more) break;
      if (payload.size() != h.raw_size) fuzz::Fail("payload size differs from the header's");
      fuzz::WalkPayload(payload, h);
    }
  }
  std::remove(file.c_str());
  return 0;
}
