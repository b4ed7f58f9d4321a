// The catalog's files (backup/catalog.h), shared by its reader (catalog.cc) and its writer
// (catalog_writer.cc): whole-file reads, synced writes, topic-log names, and a piecewise reader
// of a log's lines. Internal to the catalog.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "backup/catalog_lines.h"
#include "tidemark/status.h"

namespace tidemark::backup::catalog_files {

inline constexpr const char* kTopicsDir = "topics";

// The first `limit` bytes of a file (all of it for limit == UINT64_MAX); NotFound when missing.
Result<std::string> ReadFile(const std::string& path, uint64_t limit = UINT64_MAX);
// Writes `data` at `offset`, then (unless !sync) fdatasyncs the file.
Status WriteAt(int fd, const std::string& data, uint64_t offset, const std::string& what,
               bool sync = true);
// topics/<topic>/<number, 20 digits>.log, and whether `rel` is one of `topic`.
std::string LogRel(const std::string& topic, uint64_t number);
bool IsLogRel(const std::string& rel, const std::string& topic);
// The files and the directories in `dir` (nothing when it cannot be listed).
void ListFiles(const std::filesystem::path& dir, std::vector<std::filesystem::path>* files,
               std::vector<std::filesystem::path>* dirs);
// Calls `each` with the lines of path's bytes [from, bytes) and their positions in the file, read
// a piece at a time so that a long log never sits in memory whole, until `each` returns false;
// Corrupt when a line inside them does not read back. `each` may throw (the file is closed).
Status ForEachLine(const std::string& path, uint64_t from, uint64_t bytes,
                   const std::function<bool(uint64_t pos, const CatalogLine&)>& each);

}  // namespace tidemark::backup::catalog_files
