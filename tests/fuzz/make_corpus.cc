// Writes the fuzz targets' seed corpus (tests/fuzz/corpus/<target>/) from what tidemark itself
// writes: segments sealed (and one left open) by segment::SegmentWriter over the in-memory
// backend, blocks and record payloads taken from them, a manifest from backup::ManifestToJson,
// configurations that config::ParseConfig accepts, S3 answers and times. Deterministic: the same
// code writes the same bytes.
//
// Usage: make_corpus OUT_DIR SOURCE_ROOT   (tools/fuzz.sh --seed regenerates the committed one)
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backup/catalog.h"
#include "backup/manifest.h"
#include "backup/store_catalog.h"
#include "common/time.h"
#include "config/config.h"
#include "io/mem_backend.h"
#include "segment/journal_format.h"
#include "segment/segment_reader.h"
#include "segment/segment_writer.h"

using namespace tidemark;
namespace fs = std::filesystem;

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "make_corpus: %s\n", what.c_str());
  std::exit(1);
}

void Check(const Status& st, const std::string& what) {
  if (!st.ok()) Die(what + ": " + st.message());
}

void Write(const fs::path& path, const void* data, size_t size) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) Die("cannot write " + path.string());
}
void Write(const fs::path& path, const std::string& s) { Write(path, s.data(), s.size()); }
void Write(const fs::path& path, const std::vector<uint8_t>& v) { Write(path, v.data(), v.size()); }

// An owned record: null and empty keys and values, headers (duplicate names, null values).
struct Record {
  int64_t offset = 0, timestamp = 0;
  bool null_key = false, null_value = false;
  std::string key, value;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<HeaderView> views;

  RecordView View() {
    views.clear();
    for (size_t i = 0; i < headers.size(); ++i) {
      views.push_back(
          {headers[i].first, i % 3 == 2 ? Bytes::Null() : Bytes::Of(headers[i].second)});
    }
    RecordView r;
    r.offset = offset;
    r.timestamp = timestamp;
    r.timestamp_type = offset % 5 == 0 ? format::TimestampType::kLogAppendTime
                                       : format::TimestampType::kCreateTime;
    r.key = null_key ? Bytes::Null() : Bytes::Of(key);
    r.value = null_value ? Bytes::Null() : Bytes::Of(value);
    r.headers = views;
    return r;
  }
};

Record MakeRecord(std::mt19937_64& rng, int64_t offset, size_t headers) {
  Record r;
  r.offset = offset;
  r.timestamp = 1763647380000 + static_cast<int64_t>(rng() % 100000);
  r.null_key = rng() % 4 == 0;
  if (!r.null_key && rng() % 3 != 0) r.key = "user-" + std::to_string(rng() % 1000);
  r.null_value = rng() % 7 == 0;
  if (!r.null_value) {
    r.value = "{\"id\":" + std::to_string(offset) +
              ",\"amount\":" + std::to_string(rng() % 100000) + ",\"note\":\"" +
              std::string(rng() % 120, 'x') + "\"}";
  }
  for (size_t i = 0; i < headers; ++i)
    r.headers.emplace_back(i % 2 ? "trace" : "source", "v" + std::to_string(rng() % 50));
  return r;
}

struct Written {
  std::vector<uint8_t> file;
  segment::SealedSegment sealed;
};

// One segment of `records` records (offsets with holes) in blocks of about block_bytes raw,
// sealed unless `open`. `headers`: headers per record (past 64 reaches the decoder's overflow).
Written MakeSegment(format::Codec codec, int records, size_t block_bytes, bool open, uint64_t seed,
                    int64_t first, size_t headers = 0) {
  io::MemBackend mem(/*direct=*/true);
  segment::WritePool pool(&mem, 4, segment::SegmentWriter::BatchBufferBytes(block_bytes));
  segment::BlockCodec bc(codec, 1);
  segment::BlockBuilder builder(block_bytes);
  segment::SegmentWriter writer({"/b", "corpus", "orders", 3}, &pool, &bc);
  std::mt19937_64 rng(seed);
  auto flush = [&]() {
    if (builder.empty()) return;
    if (!writer.is_open()) Check(writer.Open(builder.stats().first_offset, 1763647380000), "open");
    Check(writer.AppendBlock(builder), "append");
    builder.Reset();
  };
  int64_t off = first;
  for (int i = 0; i < records; ++i) {
    Record r = MakeRecord(rng, off, headers ? headers : rng() % 4);
    off += 1 + static_cast<int64_t>(rng() % 2);
    if (!builder.TryAppend(r.View())) {
      flush();
      if (!builder.TryAppend(r.View())) Die("record does not fit an empty block");
    }
  }
  flush();
  Written w;
  const std::string dir = "/b/" + format::PartitionDir("orders", 3) + "/";
  if (open) {
    Check(writer.Flush(), "flush");
    Check(pool.Drain(), "drain");
    w.file = mem.Contents(dir + format::SegmentName(first, false));
    // The blocks and one page of the zeros preallocation leaves (not all 8 MiB of them).
    w.file.resize(std::min<size_t>(w.file.size(), writer.size() + format::kPageSize));
  } else {
    Check(writer.Seal(&w.sealed), "seal");
    w.file = mem.Contents(dir + format::SegmentName(first, true));
  }
  Check(pool.Drain(), "drain");
  return w;
}

// The block header at the start of `block`.
format::BlockHeader HeaderOf(const std::vector<uint8_t>& block) {
  format::BlockHeader h;
  Check(format::DecodeBlockHeader(block.data(), &h), "block header");
  return h;
}

// `n` records encoded back to back, from offset `first` stepping by `step`.
std::vector<uint8_t> PayloadOf(int64_t first, int n, int64_t step) {
  std::mt19937_64 rng(static_cast<uint64_t>(first) + 77);
  std::vector<uint8_t> out;
  for (int i = 0; i < n; ++i) {
    Record r = MakeRecord(rng, first + i * step, static_cast<size_t>(i % 3));
    const RecordView v = r.View();
    const size_t at = out.size();
    out.resize(at + EncodedRecordSize(v));
    EncodeRecord(v, out.data() + at);
  }
  return out;
}

// The first block of a segment file, and its decoded payload.
void FirstBlock(const std::vector<uint8_t>& file, std::vector<uint8_t>* block,
                std::vector<uint8_t>* payload) {
  const uint8_t* p = file.data() + format::kFileHeaderSize;
  format::BlockHeader h;
  Check(format::DecodeBlockHeader(p, &h), "block header");
  block->assign(p, p + h.block_size);
  segment::BlockDecoder dec;
  std::span<const uint8_t> raw;
  Check(dec.Decode(block->data(), block->size(), &h, &raw), "decode");
  payload->assign(raw.begin(), raw.end());
}

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) Die("cannot read " + p.string());
  return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) Die("usage: make_corpus OUT_DIR SOURCE_ROOT");
  const fs::path out = argv[1], src = argv[2];

  // Segments: each codec, several blocks each; one left open by a crash; one whose records carry
  // 70 headers each (past the decoder's 64 inline slots).
  const Written zstd = MakeSegment(format::Codec::kZstd, 120, 4000, false, 1, 100);
  const Written lz4 = MakeSegment(format::Codec::kLz4, 40, 3000, false, 2, 0);
  const Written none = MakeSegment(format::Codec::kNone, 80, 5000, false, 3, 5000);
  const Written open = MakeSegment(format::Codec::kZstd, 40, 3000, true, 4, 900);
  const Written many = MakeSegment(format::Codec::kNone, 3, 8000, false, 5, 42, 70);
  Write(out / "segment" / "sealed-zstd.tmseg", zstd.file);
  Write(out / "segment" / "sealed-lz4.tmseg", lz4.file);
  Write(out / "segment" / "sealed-none.tmseg", none.file);
  Write(out / "segment" / "open-zstd.tmseg.open", open.file);
  Write(out / "segment" / "sealed-70-headers.tmseg", many.file);

  const std::pair<const char*, const Written*> blocks[] = {
      {"zstd", &zstd}, {"lz4", &lz4}, {"none", &none}, {"70-headers", &many}};
  for (const auto& [name, w] : blocks) {
    std::vector<uint8_t> block, payload;
    FirstBlock(w->file, &block, &payload);
    Write(out / "block" / (std::string(name) + ".block"), block);
    Write(out / "record" / (std::string(name) + ".records"), payload);
  }

  // Journal files: one frame of two sections (records of a block's payload, every other offset
  // of another partition), then a file of three frames, the last with a gap it vouches for.
  {
    std::vector<uint8_t> block, payload;
    FirstBlock(zstd.file, &block, &payload);
    const std::vector<uint8_t> few = PayloadOf(0, 3, 2);
    segment::FrameBuilder fb;
    auto frame = [&](std::vector<uint8_t>* file) {
      const uint64_t n = fb.Finish();
      file->insert(file->end(), fb.data(), fb.data() + n);
    };
    std::vector<uint8_t> one, three;
    fb.Begin(1, 0, 1763647380000);
    const format::BlockHeader h = HeaderOf(block);
    fb.AddSection("orders", 3, h.first_offset, h.last_offset, h.record_count, payload);
    fb.AddSection("orders..v2", 0, 0, 4, 3, few);
    frame(&one);
    for (uint64_t seq = 7; seq < 10; ++seq) {
      fb.Begin(seq, 2, 1763647381000 + static_cast<int64_t>(seq));
      const std::vector<uint8_t> recs = PayloadOf(static_cast<int64_t>(seq) * 10, 3, 1);
      fb.AddSection("clicks", 1, static_cast<int64_t>(seq) * 10 - (seq == 9 ? 5 : 0),
                    static_cast<int64_t>(seq) * 10 + 2, 3, recs);
      frame(&three);
    }
    Write(out / "journal" / "two-sections.tmjournal", one);
    Write(out / "journal" / "three-frames.tmjournal", three);
  }

  // A continuous backup's manifest naming the sealed segments, with gaps, a topic whose
  // configs could not be read, uploads and consumer groups.
  backup::Manifest m;
  m.id = "corpus";
  m.kind = "continuous";
  m.cluster_id = "lkc-corpus";
  m.brokers = "10.0.0.1:9092";
  m.started_ms = 1763647380000;
  m.finished_ms = 1763647500000;
  m.compression = "zstd";
  m.level = 1;
  backup::PartitionManifest& p = backup::FindOrAddPartition(&m, "orders", 3);
  p.end_offset = 6000;
  for (const Written* w : {&lz4, &zstd, &none}) {
    segment::SealedSegment s = w->sealed;
    s.path = format::PartitionDir("orders", 3) + "/" + format::SegmentName(s.first_offset, true);
    p.segments.push_back(s);
    p.records += s.records;
    p.bytes_raw += s.bytes_raw;
    p.bytes_stored += s.bytes_stored;
  }
  p.segments[1].uploaded_ms = 1763647512000;
  p.segments[1].local = false;
  backup::AddGap(&p, lz4.sealed.last_offset + 1, 100, backup::kGapNotDelivered);
  backup::AddGap(&p, zstd.sealed.last_offset + 1, 5000, backup::kGapNotDelivered);
  backup::AddGap(&p, none.sealed.last_offset + 1, 6000, backup::kGapNotDelivered);
  m.topics["orders"].partition_count = 4;
  m.topics["orders"].configs = std::map<std::string, std::string>{{"cleanup.policy", "compact"}};
  backup::FindOrAddPartition(&m, "orders..v2", 0).end_offset = 0;
  m.topics["orders..v2"].partition_count = 1;
  m.topics["orders..v2"].configs_note = "the broker denied DescribeConfigs";
  m.groups["billing"]["orders"][3] = 1200;
  m.groups_note = "listed by the broker";
  const std::string manifest = backup::ManifestToJson(m);
  if (!backup::ManifestFromJson(manifest, "corpus").ok()) Die("the corpus manifest is refused");
  Write(out / "manifest" / "continuous.json", manifest);
  backup::Manifest empty;
  empty.id = "empty";
  empty.started_ms = empty.finished_ms = 1763647380000;
  empty.compression = "lz4";
  Write(out / "manifest" / "empty-snapshot.json", backup::ManifestToJson(empty));

  // The same backup as a catalog: root.json, changes.log (one checkpoint after the fold) and
  // the topic log, as catalog_target.cc splits its input.
  {
    const fs::path dir =
        fs::temp_directory_path() / ("tidemark-corpus-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    backup::Manifest c = m;
    c.groups.clear();
    c.topics.erase("orders..v2");  // one topic log: the one the target writes
    c.groups_note = "a continuous backup does not capture consumer groups";
    backup::PartitionManifest& q = c.topics["orders"].partitions[0];
    segment::SealedSegment last = q.segments.back();
    q.segments.pop_back();
    q.records -= last.records;
    q.bytes_raw -= last.bytes_raw;
    q.bytes_stored -= last.bytes_stored;
    auto w = backup::CatalogWriter::Create(dir.string(), c);
    if (!w.ok()) Die("catalog: " + w.status().message());
    q.segments.push_back(last);
    q.records += last.records;
    q.bytes_raw += last.bytes_raw;
    q.bytes_stored += last.bytes_stored;
    c.finished_ms += 1000;
    if (!(*w)->Checkpoint(c, {{"orders", 3}}, {q.segments[0].path}).ok()) Die("catalog checkpoint");
    auto read = [](const fs::path& p) {
      std::ifstream in(p, std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
    const std::string text =
        read(dir / "catalog" / "root.json") + "\n@@\n" + read(dir / "catalog" / "changes.log") +
        "\n@@\n" + read(dir / "catalog" / "topics" / "orders" / "00000000000000000001.log");
    Write(out / "catalog" / "checkpointed.catalog", text);
    fs::remove_all(dir);
  }

  // The same backup as a store's catalog: root.json and one base chunk, as
  // store_catalog_target.cc splits its input (ending with a newline: checksums recomputed).
  {
    backup::Manifest c = m;
    c.groups.clear();
    c.groups_note = "a continuous backup does not capture consumer groups";
    int64_t seq = 1;
    const std::string base = backup::StoreBaseChunk(c, &seq);
    const std::string root = backup::StoreRootJson(c, {{backup::StoreChunkName(1), base.size()}});
    Write(out / "store_catalog" / "base.store", root + "\n@@\n" + base);
  }

  // Configurations: the example the service ships, and two that use every section.
  const std::string configs[][2] = {
      {"systemd-example.toml", ReadText(src / "systemd" / "tidemark.toml")},
      {"snapshot.toml",
       "[kafka]\nbootstrap_servers = \"localhost:9092\"\ntimeout_ms = 5000\n"
       "[kafka.properties]\n\"security.protocol\" = \"SASL_SSL\"\n"
       "\"sasl.password\" = \"secret\"\n"
       "[backup]\nid = \"nightly\"\ntopics = [\"orders\", \"payments.*\"]\n"
       "exclude = [\"__*\", \"tmp-*\"]\ngroups = [\"billing\"]\ncompression = \"lz4\"\n"
       "level = 3\nblock_bytes = 262144\nio_depth = 4\nshard_memory_bytes = 67108864\n"
       "[storage]\npath = \"/srv/backups\"\ndirect_io = \"off\"\n"
       "[restore]\nrate_limit_bytes = 1048576\nthreads = 2\n"
       "[restore.properties]\n\"acks\" = \"all\"\n"},
      {"upload.toml",
       "[kafka]\nbootstrap_servers = \"k1:9092,k2:9092\"\n"
       "[backup]\nid = \"site-a\"\ntopics = [\"*\"]\ngroup = \"tidemark-a\"\n"
       "[upload]\nendpoint = \"https://s3.example.net\"\nbucket = \"kafka-backups\"\n"
       "prefix = \"site-a\"\nregion = \"eu-west-1\"\naddressing = \"virtual\"\n"
       "keep_local = \"24h\"\nworkers = 2\npart_size_bytes = 8388608\n"
       "[metrics]\nlisten = \"127.0.0.1:9464\"\nlag_alert_records = 5000\n"},
  };
  for (const auto& [name, text] : configs) {
    auto c = config::ParseConfig(text, name);
    if (!c.ok()) Die(std::string(name) + " is refused: " + c.status().message());
    Write(out / "config" / name, text);
  }

  // S3 answers: the even first byte asks the target to parse the rest as an answer, an odd
  // one to round-trip the listed keys.
  const std::string xml[][2] = {
      {"list-page.xml",
       "\x02<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "
       "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>kafka-backups</Name>"
       "<Prefix>site-a/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>"
       "<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><Contents>"
       "<Key>site-a/corpus/manifest.json</Key><LastModified>2026-11-20T14:05:00.000Z"
       "</LastModified><ETag>&quot;0f343b0931126a20f133d67c2b018a3b&quot;</ETag><Size>2418"
       "</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>site-a/corpus/"
       "topics/a&amp;b/0/00000000000000000000.tmseg</Key><Size>40960</Size></Contents>"
       "<CommonPrefixes><Prefix>site-a/corpus/</Prefix></CommonPrefixes>"
       "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
       "</NextContinuationToken></ListBucketResult>"},
      {"error.xml",
       "\x08<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch"
       "</Code><Message>The request signature we calculated does not match the signature you "
       "provided.</Message><RequestId>tx00000a</RequestId><HostId>rgw</HostId></Error>"},
      {"initiate.xml",
       "\x04<?xml version=\"1.0\" encoding=\"UTF-8\"?><InitiateMultipartUploadResult><Bucket>"
       "kafka-backups</Bucket><Key>site-a/x.tmseg</Key><UploadId>2~iCw_lDY8VoFSZbSk"
       "</UploadId></InitiateMultipartUploadResult>"},
      {"complete.xml",
       "\x06<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUploadResult><Location>"
       "http://s3/kafka-backups/x</Location><Bucket>kafka-backups</Bucket><Key>x</Key><ETag>"
       "&quot;3858f62230ac3c915f300c664312c11f-2&quot;</ETag></CompleteMultipartUploadResult>"},
      {"keys.txt",
       "\x01site-a/corpus/manifest.json\nsite-a/a&b/<0>/\"quoted\" 'key'\n&amp;&lt;/Key&gt;\n\n"},
  };
  for (const auto& [name, text] : xml) Write(out / "s3_xml" / name, text);

  const char* times[] = {"2026-11-20T14:03:00Z", "2026-11-20T14:03:00.250+01:00", "1763647380000",
                         "2024-02-29 23:59:60.5-05:30", "2026-02-31T00:00:00Z"};
  for (size_t i = 0; i < std::size(times); ++i) {
    Write(out / "time" / ("t" + std::to_string(i)), std::string(times[i]));
  }
  std::printf("make_corpus: wrote %s\n", out.c_str());
  return 0;
}
