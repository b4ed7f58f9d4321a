// Restore progress on stderr: a line rewritten in place on a terminal (records, MB/s, share of
// the backup read, ETA), plain lines every 10 s otherwise.
#pragma once

#include <cstdint>

#include "restore/restore.h"
#include "restore/sender.h"

namespace tidemark::restore {

class ProgressPrinter {
 public:
  // total_read_bytes: the segment bytes the restore will read, for the ETA.
  ProgressPrinter(Progress mode, uint64_t total_read_bytes);
  // Prints a progress line when one is due (or `final`).
  void Tick(const Shared& sh, bool final);

 private:
  Progress mode_;
  uint64_t total_;
  int64_t start_ns_;
  int64_t last_ns_;
};

}  // namespace tidemark::restore
