// Crash recovery of a segment left unsealed (a `.tmseg.open` file): its blocks are kept up to the
// last complete, checksummed one, the footer is written after them, and the segment is sealed
// like any other (fdatasync, rename to `.tmseg`, fsync of the directory). What was after the last
// good block (a torn block, the zeros a preallocation leaves) is cut off and reported.
//
// Idempotent: a crash during recovery leaves a `.tmseg.open` whose blocks are intact (the footer
// region is not a block, so a scan stops there), and recovering it again gives the same segment.
//
// This runs at start-up, before any writer exists, with plain blocking I/O.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "segment/segment_writer.h"
#include "tidemark/status.h"

namespace tidemark::segment {

struct Recovered {
  std::optional<SealedSegment> sealed;  // none when no block survived (the file is removed)
  uint64_t dropped_bytes = 0;           // bytes after the last good block that were cut off
  std::string stopped_because;          // why the scan stopped there ("" at a clean end)
};

// Asked, once the good blocks of a segment are known (at least one), for more blocks to append
// after them before the footer: `last_offset` is the last offset the good blocks hold; the
// answer is whole encoded blocks back to back (BlockCodec output), offsets after last_offset, or
// nothing. The journal's recovery uses it (segment/journal_replay.h).
using TailBlocks = std::function<Status(int64_t last_offset, std::vector<uint8_t>* blocks)>;

// `open_path` is relative to `backup_dir` ("topics/<topic>/<partition>/<offset>.tmseg.open").
// Fails (and leaves the file as it is) when the file header itself is damaged.
Result<Recovered> RecoverOpenSegment(const std::string& backup_dir, const std::string& open_path,
                                     const TailBlocks& tail = {});

}  // namespace tidemark::segment
