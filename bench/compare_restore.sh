#!/usr/bin/env bash
# The restore target, side by side in one run: `tidemark restore` of a backup against `kcat -P`
# of the same records (keys, values, the same header) into the same kind of broker. Each
# measurement gets a fresh target (librdkafka's mock cluster, in its own process), so neither
# pays for the other's data. Prints each time and the ratio.
#
#   bash bench/compare_restore.sh [PARTITIONS] [RECORDS_PER_PARTITION] [VALUE_BYTES] [RUNS] [BROKERS]
#
# The mock cluster keeps about 5 MB per partition, so the source holds at most that much per
# partition: size the data with more partitions, not more records.
set -euo pipefail
cd "$(dirname "$0")/.."
parts="${1:-16}"
records="${2:-4000}"
value="${3:-1024}"
runs="${4:-3}"
target_brokers="${5:-1}"
bin=build/release/src/tidemark
[ -x "$bin" ] || bash tools/build.sh release
command -v kcat > /dev/null || { echo "kcat is missing: bash tools/install-deps.sh" >&2; exit 2; }
work=$(mktemp -d /var/tmp/tidemark-restore-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Starts `tidemark mock` with the given arguments; sets $brokers.
start_mock() {
  local out="$work/mock.$RANDOM"
  "$bin" mock "$@" > "$out" 2> /dev/null &
  pids+=($!)
  mock_pid=$!
  for _ in $(seq 1 600); do
    grep -q bootstrap.servers "$out" 2> /dev/null && break
    sleep 0.1
  done
  brokers=$(sed -n 's/^bootstrap.servers=//p' "$out")
  [ -n "$brokers" ] || { echo "mock cluster did not start" >&2; exit 1; }
}
now() { date +%s.%N; }

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r)"
echo "data: $parts partitions x $records records x $value-byte values; target: $target_brokers broker(s)"
start_mock --topics "src:$parts" --records "$records" --value-bytes "$value"
src=$brokers
"$bin" backup --brokers "$src" --topics src --path "$work/store" --id bench > /dev/null
# The same records for kcat: key TAB value per line (the generated values have no tabs or
# newlines), with the header every generated record carries.
kcat -C -b "$src" -t src -o beginning -e -q -f '%k\t%s\n' > "$work/records.txt"
kill "$mock_pid"
lines=$(wc -l < "$work/records.txt")
bytes=$(stat -c %s "$work/records.txt")
echo "records: $lines, $(python3 -c "print(round($bytes/1e6,1))") MB as kcat input"

for run in $(seq 1 "$runs"); do
  start_mock --topics "dst:$parts" --records 0 --brokers "$target_brokers"
  t0=$(now)
  /usr/bin/time -f "%U %S %M" -o "$work/restore.time" \
    "$bin" restore --path "$work/store" --id bench --brokers "$brokers" --topic-map src=dst \
    --progress off > "$work/restore.out"
  t1=$(now)
  kill "$mock_pid"
  grep -q "produced now $lines records" "$work/restore.out" ||
    { echo "restore did not produce every record:" >&2; cat "$work/restore.out" >&2; exit 1; }
  start_mock --topics "dst:$parts" --records 0 --brokers "$target_brokers"
  t2=$(now)
  /usr/bin/time -f "%U %S %M" -o "$work/kcat.time" \
    kcat -P -b "$brokers" -t dst -K '\t' -H source=mock -l "$work/records.txt"
  t3=$(now)
  kill "$mock_pid"
  python3 - "$t0" "$t1" "$t2" "$t3" "$bytes" "$lines" "$(cat "$work/restore.time")" \
    "$(cat "$work/kcat.time")" <<'PY'
import sys
t0, t1, t2, t3, b, n = map(float, sys.argv[1:7])
ru, rs, rm = map(float, sys.argv[7].split())
ku, ks, km = map(float, sys.argv[8].split())
r, k = t1 - t0, t3 - t2
gb = b / 1e9
print(f"run: tidemark restore {r:5.2f} s {b/1e6/r:6.1f} MB/s {n/r:7.0f} rec/s "
      f"{(ru+rs)/gb:5.2f} CPU s/GB RSS {rm/1024:5.1f} MB | kcat -P {k:5.2f} s {b/1e6/k:6.1f} MB/s "
      f"{(ku+ks)/gb:5.2f} CPU s/GB RSS {km/1024:5.1f} MB | ratio {k/r:.2f}x (target >= 2)")
PY
done
