// Reads a backup back through its manifest and the segment reader (tidemark's own reader, with
// every check), for tests that compare it with what a Kafka consumer of the source sees.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "backup/manifest.h"
#include "segment/segment_reader.h"
#include "test_util.h"

namespace tidemark::testing {

using PartitionRecords = std::map<std::pair<std::string, int32_t>, std::vector<OwnedRecord>>;

// Every record of a backup, read back through the manifest and the segment reader.
inline PartitionRecords ReadBackup(const std::string& dir) {
  PartitionRecords out;
  auto m = backup::ReadManifest(dir);
  EXPECT_TRUE(m.ok()) << m.status().message();
  if (!m.ok()) return out;
  for (const auto& [topic, t] : m->topics) {
    for (const auto& p : t.partitions) {
      auto& recs = out[{topic, p.partition}];
      for (const auto& s : p.segments) {
        segment::SegmentReader reader;
        EXPECT_TRUE(reader.Open(dir + "/" + s.path).ok());
        for (const auto& e : reader.footer().blocks) {
          format::BlockHeader h;
          std::span<const uint8_t> payload;
          EXPECT_TRUE(reader.ReadBlockAt(e.file_offset, &h, &payload).ok());
          RecordDecoder dec(payload);
          RecordView v;
          while (dec.Next(&v)) recs.push_back(OwnedRecord::From(v));
        }
      }
    }
  }
  return out;
}

}  // namespace tidemark::testing
