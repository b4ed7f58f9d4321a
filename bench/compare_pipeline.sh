#!/usr/bin/env bash
# The pipeline target, side by side in one run: tidemark's pipeline (synthetic records -> shards
# -> compress -> O_DIRECT) against (a) the disk's O_DIRECT sequential write bandwidth, measured by
# fio with io_uring at the same block size and depth, and (b) the same compressor alone on all
# shards over the same records. Prints each figure and the ratios.
#
#   bash bench/compare_pipeline.sh [DIR] [GIGABYTES] [CODEC] [SHARDS]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-/var/tmp/tidemark-bench}"
gb="${2:-2}"
codec="${3:-zstd}"
shards="${4:-$(nproc)}"
bin=build/release/bench/pipeline_bench
[ -x "$bin" ] || bash tools/build.sh release
mkdir -p "$dir"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(df -T "$dir" | awk 'NR==2{print $2}') at $dir, kernel $(uname -r)"

fio_mbps=$(fio --name=odirect --directory="$dir" --rw=write --bs=1M --size="${gb}G" --direct=1 \
  --ioengine=io_uring --iodepth=8 --numjobs=1 --output-format=json 2>/dev/null |
  python3 -c 'import json,sys; print("%.1f" % (json.load(sys.stdin)["jobs"][0]["write"]["bw_bytes"]/1e6))')
rm -f "$dir"/odirect.*
comp=$("$bin" --dir "$dir" --mode compress --shards "$shards" --partitions $((shards * 2)) --gigabytes "$gb" --codec "$codec" --json)
pipe=$("$bin" --dir "$dir" --mode pipeline --shards "$shards" --partitions $((shards * 2)) --gigabytes "$gb" --codec "$codec" --json)
python3 - "$fio_mbps" "$comp" "$pipe" <<'PY'
import json, sys
fio = float(sys.argv[1]); comp = json.loads(sys.argv[2]); pipe = json.loads(sys.argv[3])
ratio = pipe["bytes_in"] / max(pipe["bytes_stored"], 1)
# The disk limit expressed in input bytes: the disk writes stored bytes, which are smaller.
disk_in = fio * ratio
lesser = min(disk_in, comp["mb_per_s"])
print(f"fio O_DIRECT write:        {fio:8.1f} MB/s on disk = {disk_in:8.1f} MB/s of input at ratio {ratio:.2f}x")
print(f"compressor alone ({comp['codec']}):  {comp['mb_per_s']:8.1f} MB/s of input on {comp['shards']} shards")
print(f"tidemark pipeline:         {pipe['mb_per_s']:8.1f} MB/s of input, {pipe['records_per_s']:.0f} records/s, "
      f"{pipe['cpu_s_per_gb']:.2f} CPU s/GB, peak RSS {pipe['peak_rss_mb']:.1f} MB, "
      f"block write p50 {pipe['block_latency_us_p50']} us p99 {pipe['block_latency_us_p99']} us")
print(f"  I/O: {pipe['io']}")
print(f"pipeline / lesser limit:   {pipe['mb_per_s'] / lesser:.2f} (target >= 0.80)")
PY
