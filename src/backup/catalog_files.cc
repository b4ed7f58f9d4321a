#include "backup/catalog_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>

namespace tidemark::backup::catalog_files {

namespace fs = std::filesystem;

// The first `limit` bytes of a file (all of it for limit == UINT64_MAX); NotFound when missing.
Result<std::string> ReadFile(const std::string& path, uint64_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no file at " + path);
    return Status::Errno(errno, "open " + path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::Errno(err, "stat " + path);
  }
  const uint64_t size = std::min<uint64_t>(static_cast<uint64_t>(st.st_size), limit);
  std::string data(size, '\0');
  size_t off = 0;
  while (off < size) {
    const ssize_t n = ::pread(fd, data.data() + off, size - off, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      return Status::Errno(err, "read " + path);
    }
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  return data;
}

// Writes `data` at `offset`, then (unless !sync) fdatasyncs the file.
Status WriteAt(int fd, const std::string& data, uint64_t offset, const std::string& what,
               bool sync) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n =
        ::pwrite(fd, data.data() + off, data.size() - off, static_cast<off_t>(offset + off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Errno(n < 0 ? errno : EIO, "write " + what);
    off += static_cast<size_t>(n);
  }
  if (sync && ::fdatasync(fd) != 0) return Status::Errno(errno, "fdatasync " + what);
  return Status::Ok();
}

// topics/<topic>/<generation, 20 digits>.log
std::string LogRel(const std::string& topic, uint64_t generation) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020" PRIu64 ".log", generation);
  return std::string(kTopicsDir) + "/" + topic + "/" + buf;
}

bool IsLogRel(const std::string& rel, const std::string& topic) {
  const std::string prefix = std::string(kTopicsDir) + "/" + topic + "/";
  if (rel.size() != prefix.size() + 24 || rel.compare(0, prefix.size(), prefix) != 0) return false;
  for (size_t i = prefix.size(); i < prefix.size() + 20; ++i)
    if (rel[i] < '0' || rel[i] > '9') return false;
  return rel.compare(prefix.size() + 20, 4, ".log") == 0;
}

void ListFiles(const fs::path& dir, std::vector<fs::path>* files, std::vector<fs::path>* dirs) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::error_code e;
    if (it->is_directory(e))
      dirs->push_back(it->path());
    else
      files->push_back(it->path());
  }
}

// Calls `each` with the lines of path's bytes [from, bytes) and their positions in the file, read
// a piece at a time so that a long log never sits in memory whole, until `each` returns false;
// Corrupt when a line inside them does not read back.
Status ForEachLine(const std::string& path, uint64_t from, uint64_t bytes,
                   const std::function<bool(uint64_t pos, const CatalogLine&)>& each) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Errno(errno, "open " + path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};                       // `each` may throw
  constexpr size_t kPiece = 1 << 20;  // parsed lines take about ten times their text
  std::string buf;
  uint64_t pos = from;  // of buf's first byte in the file
  uint64_t lines = 0;   // read back so far
  Status st;
  while (pos + buf.size() < bytes) {
    const size_t want = static_cast<size_t>(
        std::min<uint64_t>(std::max(kPiece, buf.size()), bytes - pos - buf.size()));
    const size_t had = buf.size();
    buf.resize(had + want);
    const ssize_t n = ::pread(fd, buf.data() + had, want, static_cast<off_t>(pos + had));
    if (n < 0 && errno == EINTR) {
      buf.resize(had);
      continue;
    }
    if (n <= 0) {
      st = n < 0 ? Status::Errno(errno, "read " + path)
                 : Status::Corrupt(path + ": holds " + std::to_string(pos + had) +
                                   " bytes, but root.json vouches for " + std::to_string(bytes));
      break;
    }
    buf.resize(had + static_cast<size_t>(n));
    size_t valid = 0;
    const std::vector<CatalogLine> got = ScanLines(buf, &valid);
    for (const auto& l : got)
      if (!each(pos + l.begin, l)) return Status::Ok();
    lines += got.size();
    const bool at_end = pos + buf.size() == bytes;
    if (at_end && valid != buf.size()) {
      st = Status::Corrupt(path + ": line " + std::to_string(lines + 1) +
                           " is damaged (checksum or JSON), inside what root.json vouches for");
      break;
    }
    // A line cut by the piece's end is read whole with the next piece.
    buf.erase(0, valid);
    pos += valid;
  }
  return st;
}

}  // namespace tidemark::backup::catalog_files
