// verify, ls and describe: reading a backup back and saying what it holds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backup/manifest.h"
#include "source/backup_source.h"
#include "tidemark/status.h"

namespace tidemark::verify {

struct Damage {
  std::string file;          // relative to the backup directory
  int64_t block = -1;        // block index within the segment, -1 when not about one block
  uint64_t file_offset = 0;  // byte position in the file
  int64_t offset = -1;       // the Kafka offset the damage starts at (best known), -1 unknown
  std::string what;
};

struct Report {
  std::string backup_dir;
  uint64_t segments = 0;
  uint64_t blocks = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;
  std::vector<Damage> damage;
  // Segments that could not be read at all and are not damage: local copies removed after an
  // upload, with no object store configured to read them from. A report with any is not OK.
  std::vector<std::string> not_checked;
  std::vector<std::string> warnings;
  bool complete() const { return not_checked.empty(); }
  bool ok() const { return damage.empty() && complete(); }
};

// Reads every segment of backup `id` under `path`: every checksum, every block decompressed,
// every record decoded; record counts, offset order and continuity against the manifest (a
// recorded gap is fine, a hole is damage). Fails (rather than reporting) only when there is no
// readable manifest.
Result<Report> VerifyBackup(source::BackupSource& src, const std::string& id);
Result<Report> VerifyBackup(const std::string& path, const std::string& id);  // a local directory

std::string ReportToText(const Report& r);
std::string ReportToJson(const Report& r);

// `tidemark ls`: the backups under path.
Result<std::string> ListBackups(source::BackupSource& src, bool json);
Result<std::string> ListBackups(const std::string& path, bool json);
// `tidemark describe`: one backup's topics, partitions, segments and gaps; `topics` (globs):
// only the topics they match (empty: all).
Result<std::string> DescribeBackup(source::BackupSource& src, const std::string& id, bool json,
                                   const std::vector<std::string>& topics = {});
Result<std::string> DescribeBackup(const std::string& path, const std::string& id, bool json,
                                   const std::vector<std::string>& topics = {});

// Loads backup `id`'s index (its manifest or catalog: the topics `scope` wants); a missing id
// names the ones that exist (exit 2).
Result<backup::Manifest> LoadBackup(source::BackupSource& src, const std::string& id,
                                    const backup::ReadScope& scope = {});
Result<backup::Manifest> LoadBackup(const std::string& path, const std::string& id);

}  // namespace tidemark::verify
