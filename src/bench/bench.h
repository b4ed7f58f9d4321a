// `tidemark bench`: throughput baselines, each printed with its configuration, MB/s, records/s,
// CPU seconds per GB, peak RSS and p50/p99 block latency, and (with compare) side by side with
// what a user would use instead, as ratios measured in the same run on the same data.
//
//   pipeline  synthetic records -> shards -> encode -> compress -> io_uring O_DIRECT, no broker;
//             compare: fio's O_DIRECT sequential write and the compressor alone on all shards
//   backup    `tidemark backup` of an embedded mock cluster (in its own process, filled with the
//             generator's records first), or of --topic on --brokers as it is;
//             compare: kcat -C | zstd -1 > file, kcat -C > /dev/null
//   restore   `tidemark restore` of that backup into a fresh mock cluster; compare: kcat -P
//   run       `tidemark run` (the service) backing up while this process produces as fast as
//             it can for --seconds: whether it keeps up (producer time / time until every
//             record is consumed), and its durability-point latency p50/p99 from /metrics;
//             with --trickle-rate, what grows over the service's life instead (trickle.cc):
//             every partition of --topics topics gets a few records a second for --seconds,
//             and it reports disk bytes per input byte, files, manifest size, PUTs per hour,
//             service CPU at the start and at the end, and checkpoint and durability-point
//             latency
//   grow      what grows with a backup's age (bench/grow.h): a synthetic continuous backup of
//             --sizes segments, `tidemark ls` and `describe` of it, and one checkpoint's cost
//
// Every measured run is a child process, so its CPU time and peak RSS are its own (wait4).
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "bench/datagen.h"
#include "io/io_backend.h"
#include "tidemark/format.h"
#include "tidemark/status.h"

namespace tidemark::bench {

struct BenchOptions {
  std::string mode = "pipeline";  // pipeline | backup | restore | run | grow
  std::string dir = "/var/tmp/tidemark-bench";
  std::string self;        // this binary, to run `tidemark backup/restore/mock` as children
  int shards = 0;          // 0: one per core
  int partitions = 0;      // 0: pipeline 2 per shard; backup/restore 16
  double gigabytes = 1.0;  // pipeline: input bytes in total
  int records_per_partition = 4000;  // backup/restore (the mock keeps ~5 MB per partition)
  size_t value_bytes = 1024;
  uint64_t keys = 100000;  // key cardinality
  DataKind data = DataKind::kJson;
  format::Codec codec = format::Codec::kZstd;
  int level = 1;
  size_t block_bytes = 1 << 20;
  uint64_t segment_max_bytes = 128ull << 20;
  uint32_t io_depth = 8;
  io::DirectIoMode direct_io = io::DirectIoMode::kAuto;
  bool compare = false;
  // backup --compare: rounds of the sides alternated (A B C A B C ...); ratios are the median
  // of the per-round ratios, with their min and max, and the table shows each side's median run.
  int runs = 3;
  std::string sweep;  // "", shards, value-bytes, gigabytes: one run per value
  std::vector<double> sweep_values;
  bool json = false;
  double seconds = 10;  // run: how long the producer writes
  double rate_mb = 0;   // run: the producer's pace, MB/s of key+value+headers (0: flat out)
  // run, trickle mode (> 0): records per second to every partition, spread over `topics` topics
  double trickle_rate = 0;
  int64_t segment_max_interval_ms = 0;  // run: the service's roll interval (0: its default)
  std::string upload_endpoint;          // run: upload to this S3 endpoint (keys from AWS_*)
  std::string upload_bucket = "tidemark-bench";
  // run --trickle-rate: the service starts on a backup that already holds this many sealed
  // segments (bench grow's generator, in topics it does not consume), to measure its cost at an
  // age it would take months to reach.
  uint64_t history_segments = 0;
  const std::atomic<bool>* stop = nullptr;  // run --trickle-rate: set (Ctrl-C) to end early
  // backup against a cluster of your own instead of the embedded one: its topic, as it is
  std::string brokers;
  std::string topic;
  // grow (partitions 0: 200): without sizes, generates `segments` and stops; with, measures at
  // each size (increasing), `checkpoints` checkpoints of `checkpoint_segments` new segments each.
  int topics = 10;
  uint64_t segments = 1000000;
  std::vector<uint64_t> sizes;
  bool files = false;  // real segment files (small sizes only: every record is written)
  int checkpoints = 20;
  int checkpoint_segments = 200;
  uint64_t seed = 1;
};

// Runs the benchmark (and its comparisons or sweep) and prints the results on stdout.
Status RunBench(const BenchOptions& o);

}  // namespace tidemark::bench
