// Segment-aware mutation: a whole segment file decoded into its header page, blocks, footer and
// trailer, one part changed, and the file encoded again with every XXH3 recomputed (see mutate.h
// and docs/FORMAT.md, "Segment file").
#include <algorithm>
#include <cstring>

#include "mutate.h"

namespace tidemark::fuzz {

using format::Get16;
using format::Get32;
using format::Get64;
using format::kFileHeaderSize;
using format::kPageSize;
using format::kTrailerSize;
using format::Put16;
using format::Put32;
using format::Put64;

namespace {

constexpr size_t kFooterHeader = format::kFooterHeaderSize;
constexpr size_t kEntry = format::kFooterEntrySize;

// Where the trailer says the footer body is, when that range lies inside the file.
bool FooterRange(const std::vector<uint8_t>& f, uint64_t* off, uint64_t* size) {
  if (f.size() < kFileHeaderSize + kTrailerSize) return false;
  const uint8_t* t = f.data() + f.size() - kTrailerSize;
  if (Get32(t) != format::kTrailerMagic) return false;
  *off = Get64(t + 8);
  *size = Get64(t + 16);
  const uint64_t limit = f.size() - kTrailerSize;
  return *off >= kFileHeaderSize && *off <= limit && *size >= kFooterHeader + 8 &&
         *size <= limit - *off;
}

struct SegmentModel {
  std::vector<uint8_t> page;  // the file header page
  std::vector<BlockModel> blocks;
  bool sealed = false;
  format::Footer footer;      // as written (sealed), entries included
  std::vector<uint8_t> tail;  // unsealed: what follows the last block (zeros, a torn block)
};

// Decodes leniently: blocks by a scan from the first one up to the footer (or the first thing
// that is not a block); the footer as written when the trailer points at one.
SegmentModel Parse(const std::vector<uint8_t>& f) {
  SegmentModel m;
  m.page.assign(f.begin(), f.begin() + static_cast<ptrdiff_t>(std::min(f.size(), kFileHeaderSize)));
  m.page.resize(kFileHeaderSize, 0);
  uint64_t foff = 0, fsize = 0;
  m.sealed = FooterRange(f, &foff, &fsize) && Get32(f.data() + foff) == format::kFooterMagic;
  const uint64_t end = m.sealed ? foff : f.size();
  uint64_t off = kFileHeaderSize;
  while (off < end && m.blocks.size() < 4096) {
    BlockModel b;
    if (!ParseBlock(f.data() + off, end - off, &b)) break;
    const uint32_t bs = b.h.block_size;
    const uint64_t next = off + bs;
    m.blocks.push_back(std::move(b));
    if (bs < kPageSize || !format::IsAligned(bs) || next > end) {
      off = end;
      break;
    }
    off = next;
  }
  if (!m.sealed) {
    if (off < f.size()) m.tail.assign(f.begin() + static_cast<ptrdiff_t>(off), f.end());
    return m;
  }
  const uint8_t* p = f.data() + foff;
  format::Footer& ft = m.footer;
  ft.first_offset = static_cast<int64_t>(Get64(p + 16));
  ft.last_offset = static_cast<int64_t>(Get64(p + 24));
  ft.record_count = Get64(p + 32);
  ft.min_timestamp = static_cast<int64_t>(Get64(p + 40));
  ft.max_timestamp = static_cast<int64_t>(Get64(p + 48));
  ft.raw_bytes = Get64(p + 56);
  const uint64_t count = std::min<uint64_t>(Get32(p + 8), (fsize - kFooterHeader - 8) / kEntry);
  for (uint64_t i = 0; i < count; ++i) {
    const uint8_t* e = p + kFooterHeader + i * kEntry;
    ft.blocks.push_back({Get64(e), Get32(e + 8), Get32(e + 12), static_cast<int64_t>(Get64(e + 16)),
                         static_cast<int64_t>(Get64(e + 24)), static_cast<int64_t>(Get64(e + 32)),
                         static_cast<int64_t>(Get64(e + 40)), Get64(e + 48)});
  }
  return m;
}

// Encodes the model; with sync_index the footer is rebuilt from the blocks as the writer would,
// otherwise the footer's own (possibly mutated) fields are kept. Every checksum is recomputed.
std::vector<uint8_t> Encode(const SegmentModel& m, bool sync_index) {
  std::vector<uint8_t> f = m.page;
  Put64(f.data() + kFileHeaderSize - 8, format::Xxh3(f.data(), kFileHeaderSize - 8));
  format::Footer ft;
  ft.first_offset = static_cast<int64_t>(Get64(m.page.data() + 16));
  for (const BlockModel& b : m.blocks) {
    const uint64_t at = f.size();
    AppendBlock(b, &f);
    format::BlockHeader h = b.h;
    h.payload_xxh3 = format::Xxh3(b.stored.data(), b.stored.size());
    format::AddBlockToFooter(&ft, at, h);
  }
  if (!m.sealed) {
    f.insert(f.end(), m.tail.begin(), m.tail.end());
    return f;
  }
  if (!sync_index) ft = m.footer;
  f.resize(format::AlignUp(f.size()), 0);
  const uint64_t footer_offset = f.size();
  f.resize(f.size() + format::FooterRegionSize(ft.blocks.size()));
  format::EncodeFooterRegion(ft, footer_offset, f.data() + footer_offset);
  return f;
}

// A field of the header page: lengths that overrun the page, partition, first offset.
void MutatePage(std::vector<uint8_t>* page, Rng& rng) {
  uint8_t* p = page->data();
  switch (rng.Below(5)) {
    case 0:
      Put16(p + 6, static_cast<uint16_t>(rng.Interesting32(Get16(p + 6))));
      break;
    case 1:
      Put16(p + 32, static_cast<uint16_t>(rng.Interesting32(Get16(p + 32))));
      break;
    case 2:
      Put32(p + 8, rng.Interesting32(Get32(p + 8)));
      break;
    case 3:
      Put64(p + 16, rng.Interesting64(Get64(p + 16)));
      break;
    default:
      Put16(p + 4, static_cast<uint16_t>(rng.Below(3)));  // version
      break;
  }
}

// A field of the footer: its totals or one index entry.
void MutateFooter(format::Footer* ft, Rng& rng, uint64_t file_size) {
  if (!ft->blocks.empty() && !rng.OneIn(3)) {
    format::FooterEntry& e = ft->blocks[rng.Below(ft->blocks.size())];
    switch (rng.Below(6)) {
      case 0:  // unaligned, before the blocks, inside the footer, past the end, wrapping
        e.file_offset = rng.Interesting64(rng.OneIn(2) ? e.file_offset : file_size);
        break;
      case 1:
        e.block_size = rng.Interesting32(e.block_size);
        break;
      case 2:
        e.record_count = rng.Interesting32(e.record_count);
        break;
      case 3:
        e.first_offset =
            static_cast<int64_t>(rng.Interesting64(static_cast<uint64_t>(e.first_offset)));
        break;
      case 4:
        e.last_offset =
            static_cast<int64_t>(rng.Interesting64(static_cast<uint64_t>(e.last_offset)));
        break;
      default:  // entries out of order
        std::swap(e, ft->blocks[rng.Below(ft->blocks.size())]);
        break;
    }
    return;
  }
  switch (rng.Below(5)) {
    case 0:
      ft->record_count = rng.Interesting64(ft->record_count);
      break;
    case 1:
      ft->first_offset =
          static_cast<int64_t>(rng.Interesting64(static_cast<uint64_t>(ft->first_offset)));
      break;
    case 2:
      ft->last_offset =
          static_cast<int64_t>(rng.Interesting64(static_cast<uint64_t>(ft->last_offset)));
      break;
    case 3:
      ft->raw_bytes = rng.Interesting64(ft->raw_bytes);
      break;
    default:  // an entry dropped or repeated: the count still agrees with the body's size
      if (!ft->blocks.empty() && rng.OneIn(2))
        ft->blocks.pop_back();
      else if (!ft->blocks.empty())
        ft->blocks.push_back(ft->blocks[rng.Below(ft->blocks.size())]);
      break;
  }
}

// The trailer forged: footer offset and size set to values that break the reader's arithmetic
// (e.g. offset 4096 and size 2^64 - 4096), its XXH3 recomputed.
void ForgeTrailer(std::vector<uint8_t>* f, Rng& rng) {
  if (f->size() < kFileHeaderSize + kTrailerSize) return;
  uint8_t* t = f->data() + f->size() - kTrailerSize;
  Put32(t, format::kTrailerMagic);
  const uint64_t size = f->size();
  uint64_t off = Get64(t + 8), len = Get64(t + 16);
  switch (rng.Below(4)) {
    case 0:
      off = rng.Interesting64(rng.OneIn(2) ? off : size);
      break;
    case 1:
      len = rng.Interesting64(rng.OneIn(2) ? len : size);
      break;
    case 2:  // a size that wraps the sum to a small number
      off = rng.OneIn(2) ? kFileHeaderSize : rng.Interesting64(off);
      len = 0 - off + rng.Below(2 * kPageSize);
      break;
    default:
      off = rng.Interesting64(off);
      len = rng.Interesting64(len);
      break;
  }
  Put64(t + 8, off);
  Put64(t + 16, len);
  Put64(t + 24, format::Xxh3(t, 24));
}

// The footer's block count changed (it then disagrees with the body's size), checksum fixed.
void MutateFooterCount(std::vector<uint8_t>* f, Rng& rng) {
  uint64_t off = 0, size = 0;
  if (!FooterRange(*f, &off, &size)) return;
  uint8_t* p = f->data() + off;
  Put32(p + 8, rng.Interesting32(Get32(p + 8)));
  Put64(p + size - 8, format::Xxh3(p, size - 8));
}

}  // namespace

void FixSegmentChecksums(std::vector<uint8_t>* file) {
  std::vector<uint8_t>& f = *file;
  if (f.size() < kFileHeaderSize) return;
  Put64(f.data() + kFileHeaderSize - 8, format::Xxh3(f.data(), kFileHeaderSize - 8));
  uint64_t foff = 0, fsize = 0;
  const bool footer =
      FooterRange(f, &foff, &fsize) && Get32(f.data() + foff) == format::kFooterMagic;
  const uint64_t end = footer ? foff : f.size();
  for (uint64_t off = kFileHeaderSize, n = 0;
       off < end && end - off >= format::kBlockHeaderSize && n < 4096; ++n) {
    if (Get32(f.data() + off) != format::kBlockMagic) break;
    FixBlockChecksums(f.data() + off, end - off);
    const uint32_t bs = Get32(f.data() + off + 20);
    off += std::max<uint64_t>(format::AlignUp(bs), kPageSize);
  }
  if (footer) {
    uint8_t* p = f.data() + foff;
    const uint64_t count = std::min<uint64_t>(Get32(p + 8), (fsize - kFooterHeader - 8) / kEntry);
    for (uint64_t i = 0; i < count; ++i) {
      uint8_t* e = p + kFooterHeader + i * kEntry;
      const uint64_t at = Get64(e);
      if (at >= kFileHeaderSize && at < end && end - at >= format::kBlockHeaderSize &&
          Get32(f.data() + at) == format::kBlockMagic) {
        FixBlockChecksums(f.data() + at, end - at);
        Put64(e + 48, Get64(f.data() + at + 56));
      }
    }
    Put64(p + fsize - 8, format::Xxh3(p, fsize - 8));
  }
  if (f.size() >= kFileHeaderSize + kTrailerSize) {
    uint8_t* t = f.data() + f.size() - kTrailerSize;
    if (Get32(t) == format::kTrailerMagic) Put64(t + 24, format::Xxh3(t, 24));
  }
}

void MutateSegment(std::vector<uint8_t>* file, Rng& rng, size_t max_size) {
  const std::vector<uint8_t> before = *file;
  const uint64_t rounds = 1 + (rng.OneIn(3) ? rng.Below(3) : 0);
  for (uint64_t round = 0; round < rounds; ++round) {
    std::vector<uint8_t>& f = *file;
    if (f.size() < kFileHeaderSize || rng.OneIn(6)) {  // blind, then the checksums repaired
      BlindMutate(file, max_size);
      if (!rng.OneIn(8)) FixSegmentChecksums(file);
      continue;
    }
    SegmentModel m = Parse(f);
    bool sync = !rng.OneIn(4);
    switch (rng.Below(m.blocks.empty() ? 4 : 10)) {
      case 0:
        ForgeTrailer(file, rng);
        continue;
      case 1:
        MutatePage(&m.page, rng);
        break;
      case 2:  // sealed <-> unsealed; or the file cut short (a torn write)
        if (rng.OneIn(2)) {
          m.sealed = !m.sealed;
          m.tail.clear();
        } else {
          f.resize(rng.OneIn(2) ? format::AlignUp(rng.Below(f.size())) : rng.Below(f.size()));
          continue;
        }
        break;
      case 3:
        if (!m.sealed) {
          MutateFooterCount(file, rng);
          continue;
        }
        MutateFooter(&m.footer, rng, f.size());
        sync = false;
        break;
      case 4:
      case 5:
      case 6:
        MutateBlock(&m.blocks[rng.Below(m.blocks.size())], rng, max_size);
        break;
      case 7:  // a block removed, repeated, or two swapped
        if (rng.OneIn(3) && m.blocks.size() > 1) {
          m.blocks.erase(m.blocks.begin() + static_cast<ptrdiff_t>(rng.Below(m.blocks.size())));
        } else if (rng.OneIn(2)) {
          m.blocks.push_back(m.blocks[rng.Below(m.blocks.size())]);
        } else {
          std::swap(m.blocks[rng.Below(m.blocks.size())], m.blocks[rng.Below(m.blocks.size())]);
        }
        break;
      case 8: {  // a byte flipped anywhere, the checksums then repaired (padding is not covered)
        const size_t at = rng.Below(f.size());
        f[at] ^= static_cast<uint8_t>(1u << rng.Below(8));
        FixSegmentChecksums(file);
        continue;
      }
      default:
        MutateFooterCount(file, rng);
        continue;
    }
    *file = Encode(m, sync);
  }
  if (file->size() > max_size) {  // too large for libFuzzer: a plain mutation of the input
    *file = before;
    BlindMutate(file, max_size);
  }
}

}  // namespace tidemark::fuzz
