// Helpers shared by the fuzz targets (tests/fuzz): an in-memory file for readers that take a
// path, and the small random toolkit the structure-aware mutators draw from.
#pragma once

#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <span>
#include <string>
#include <string_view>

#include "tidemark/format.h"
#include "tidemark/record.h"

namespace tidemark::fuzz {

// A memfd that holds one input at a time; readers open it by path (/proc/self/fd/N), so no
// disk is touched and nothing is left behind.
class MemFile {
 public:
  MemFile() {
    fd_ = ::memfd_create("tidemark-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  // Replaces the contents with data[0, size).
  const std::string& Set(const uint8_t* data, size_t size) {
    if (::ftruncate(fd_, 0) != 0) Die("ftruncate");
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) Die("pwrite");
      done += static_cast<size_t>(n);
    }
    return path_;
  }

 private:
  [[noreturn]] static void Die(const char* what) {
    std::perror(what);
    std::abort();
  }
  int fd_ = -1;
  std::string path_;
};

// Stops the fuzzer with a message: a property the target checks does not hold.
[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what.c_str());
  std::abort();
}

// A random source seeded by libFuzzer's seed (custom mutators must be deterministic in it).
class Rng {
 public:
  explicit Rng(unsigned seed) : g_(seed) {}
  uint64_t Next() { return g_(); }
  // Uniform in [0, n); n > 0.
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : g_() % n; }
  bool OneIn(uint64_t n) { return Below(n) == 0; }

  // Values that break size and offset arithmetic: zero, one, page multiples and their
  // neighbours, the signed and unsigned limits, and 2^64 - x for small x (wrap-around).
  uint64_t Interesting64(uint64_t near) {
    switch (Below(14)) {
      case 0:
        return 0;
      case 1:
        return 1;
      case 2:
        return 4096;
      case 3:
        return near;
      case 4:
        return near + 1 + Below(8);
      case 5:
        return near - 1 - Below(8);
      case 6:
        return near + 4096 * (1 + Below(4));
      case 7:
        return near - 4096 * (1 + Below(4));
      case 8:
        return UINT64_MAX - Below(8);
      case 9:
        return UINT64_MAX - 4095 - 4096 * Below(3);  // 2^64 - 4096 - ...
      case 10:
        return uint64_t{1} << Below(64);
      case 11:
        return uint64_t{INT64_MAX} - Below(4);
      case 12:
        return uint64_t{INT64_MAX} + 1 + Below(4);  // INT64_MIN and above
      default:
        return Next();
    }
  }
  uint32_t Interesting32(uint32_t near) {
    switch (Below(11)) {
      case 0:
        return 0;
      case 1:
        return 1;
      case 2:
        return 4096;
      case 3:
        return near;
      case 4:
        return near + 1 + static_cast<uint32_t>(Below(8));
      case 5:
        return near - 1 - static_cast<uint32_t>(Below(8));
      case 6:
        return near + 4096 * static_cast<uint32_t>(1 + Below(4));
      case 7:
        return UINT32_MAX - static_cast<uint32_t>(Below(8));
      case 8:
        return uint32_t{1} << Below(32);
      case 9:
        return uint32_t{INT32_MAX} + static_cast<uint32_t>(Below(3));
      default:
        return static_cast<uint32_t>(Next());
    }
  }

 private:
  std::mt19937_64 g_;
};

// Walks a decoded block payload as verify and restore do: every record, and the checks that
// tie them to their block header. Returns the records decoded; a decoder that reports success
// must have consumed the payload exactly.
inline uint32_t WalkPayload(std::span<const uint8_t> payload, const format::BlockHeader& h) {
  RecordDecoder dec(payload);
  RecordView v;
  uint32_t n = 0;
  uint64_t bytes = 0;
  while (dec.Next(&v)) {
    bytes += EncodedRecordSize(v);
    if (v.offset < h.first_offset || v.offset > h.last_offset) break;
    ++n;
  }
  if (dec.status().ok() && bytes > payload.size()) Fail("records decode past their payload");
  return n;
}

// Each "<16 hex> <json>" line of a catalog log or chunk with the XXH3 of its JSON text in front,
// so that mutations of the JSON reach the rules behind the checksums.
inline std::string FixLineChecksums(std::string_view log) {
  std::string out;
  size_t pos = 0;
  while (pos < log.size()) {
    size_t nl = log.find('\n', pos);
    if (nl == std::string_view::npos) nl = log.size();
    std::string line(log.substr(pos, nl - pos));
    if (line.size() > 17 && line[16] == ' ') {
      char hex[17];
      std::snprintf(
          hex, sizeof(hex), "%016llx",
          static_cast<unsigned long long>(XXH3_64bits(line.data() + 17, line.size() - 17)));
      line.replace(0, 16, hex);
    }
    out += line;
    if (nl < log.size()) out += '\n';
    pos = nl + 1;
  }
  return out;
}

}  // namespace tidemark::fuzz
