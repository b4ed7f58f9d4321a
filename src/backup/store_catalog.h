// The store's catalog: a continuous backup's index in object storage (docs/FORMAT.md "The store's
// catalog", docs/ARCHITECTURE.md "The store's catalog").
//
//   <id>/catalog/root.json                the backup's identity, topics and partition summaries,
//                                         and the chunks to replay, in order
//   <id>/catalog/chunks/<20 digits>.log   immutable objects of catalog lines (catalog_lines.h)
//
// Objects cannot be appended to, so the uploader writes what changed as a new chunk and then a
// root naming it; chunks are merged (k into one) and rebuilt whole (a base) now and then, so a
// reader fetches a few objects and the store never holds a whole-history rewrite per segment.
// A reader never meets a name without its object: a chunk is uploaded before the root naming it,
// and a chunk or segment is deleted only after a root no longer needing it landed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "backup/manifest.h"
#include "tidemark/status.h"

namespace tidemark::backup {

inline constexpr const char* kStoreChunksDir = "chunks";

struct StoreChunk {
  std::string name;  // relative to <id>/catalog/: "chunks/<20 digits>.log"
  uint64_t bytes = 0;
};

// The chunk name for a serial number.
std::string StoreChunkName(uint64_t serial);
// Whether `name` is a chunk name (what a listing may delete).
bool IsStoreChunkName(const std::string& name);

// The root naming `chunks`: identity and topics of `summary` (whose partitions' ranges and totals
// are what the chunks add up to; their segments and gaps are not read).
std::string StoreRootJson(const Manifest& summary, const std::vector<StoreChunk>& chunks);

// A chunk holding `view` whole (every partition from its first segment; topics and their partition
// counts are the root's), its lines numbered from *seq on.
std::string StoreBaseChunk(const Manifest& view, int64_t* seq);

// Reads a store catalog from its root's text: with scope.summaries_only, the root alone; else
// the chunks, fetched by `fetch` (a name relative to catalog/), replayed in order, keeping the
// topics `scope` wants. `origin` names the root in errors. Validates what it built.
using FetchChunk = std::function<Result<std::string>(const std::string& name)>;
Result<Manifest> ReadStoreCatalog(const std::string& root_text, const std::string& origin,
                                  const ReadScope& scope, const FetchChunk& fetch);

}  // namespace tidemark::backup
