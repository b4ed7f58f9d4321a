#!/usr/bin/env bash
# One partition larger than the prefetch queue: `tidemark backup` with the prefetch budget
# ([backup] prefetch_bytes) against the same backup with the fixed bound it replaced (8 MiB and
# 100,000 records, set through [kafka.properties]), with 256 MiB but the 100,000-record cap left,
# and against kcat on the same data, the sides alternated round by round; prints every round and
# the median ratio with its min and max.
#
#   bench/one_partition.sh [RECORDS] [VALUE_BYTES] [ROUNDS] [CODEC] [PREFETCH_BYTES]
#
# Defaults: 120,000 JSON-like records with 256-byte values produced with lz4 (the embedded mock
# cluster keeps about 5 MB of a partition as produced, so what fits is bounded by how well the
# records compress: the script reports what the mock kept, and every side reads exactly that),
# 5 rounds, zstd level 1, the default budget. TIDEMARK_BEFORE=<another tidemark binary> adds that
# build as a side (with its own defaults). Needs a release build (tools/build.sh) and kcat, zstd
# and GNU time (tools/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-120000}
value=${2:-256}
rounds=${3:-5}
codec=${4:-zstd}
prefetch=${5:-}
bin=${TIDEMARK:-build/release/src/tidemark}
[ -x "$bin" ] || { echo "build first: bash tools/build.sh release" >&2; exit 2; }
for tool in kcat zstd /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: bash tools/install-deps.sh" >&2; exit 2; }
done
work=$(mktemp -d /var/tmp/tidemark-one-partition-XXXXXX)
mock_pid=""
cleanup() {
  [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" mock --topics bench:1 >"$work/mock.out" 2>"$work/mock.err" &
mock_pid=$!
for _ in $(seq 1 300); do grep -q bootstrap "$work/mock.out" 2>/dev/null && break; sleep 0.1; done
brokers=$(sed -n 's/^bootstrap.servers=//p' "$work/mock.out")
[ -n "$brokers" ] || { echo "the mock cluster did not start: $(cat "$work/mock.err")" >&2; exit 1; }

# JSON-like values (field names and enumerations repeat, numbers vary), keys of 100,000 customers.
awk -v n="$records" -v size="$value" 'BEGIN {
  srand(1); split("created paid shipped delivered refunded", st, " ");
  split("eu-west-1 us-east-1 ap-south-1 sa-east-1", rg, " ");
  for (i = 0; i < n; i++) {
    v = "{";
    while (length(v) < size)
      v = v sprintf("\"order_id\":%d,\"status\":\"%s\",\"region\":\"%s\",\"amount_cents\":%d,\"sku\":\"SKU-%05d\",",
                    int(rand() * 1e8), st[1 + int(rand() * 5)], rg[1 + int(rand() * 4)],
                    int(rand() * 1e6), int(rand() * 20000));
    printf "customer-%d\t%s}\n", int(rand() * 100000), substr(v, 1, size - 1);
  }
}' >"$work/records.txt"
kcat -P -b "$brokers" -t bench -p 0 -K $'\t' -z lz4 -X linger.ms=20 -X batch.size=1000000 \
  -l "$work/records.txt"
# What the mock kept: every side reads exactly this.
read -r kept bytes < <(kcat -C -b "$brokers" -t bench -o beginning -e -q -f '%K %S\n' |
  awk '{n++; b += ($1 < 0 ? 0 : $1) + ($2 < 0 ? 0 : $2)} END {print n, b}')
echo "one partition: the mock kept $kept of $records records, $bytes bytes of keys and values" >&2

common="[kafka]
bootstrap_servers = \"$brokers\"
[backup]
id = \"b\"
topics = [\"bench\"]
compression = \"$codec\"
${prefetch:+prefetch_bytes = $prefetch}
[storage]
path = \"$work/store\""
printf '%s\n' "$common" >"$work/budget.toml"
# The bound the budget replaced (8 MiB and librdkafka's 100,000 records), and the issue's
# experiment (256 MiB, the record cap left at 100,000).
printf '%s\n%s\n' "$common" '[kafka.properties]
"queued.max.messages.kbytes" = "8192"
"queued.min.messages" = "100000"' >"$work/fixed.toml"
printf '%s\n%s\n' "$common" '[kafka.properties]
"queued.max.messages.kbytes" = "262144"
"queued.min.messages" = "100000"' >"$work/kb256.toml"

# Runs one side: wall seconds, CPU seconds and peak RSS (MB) on one line.
side() {
  rm -rf "$work/store"
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" bash -c "$1" >"$work/side.out" 2>&1 ||
    { echo "failed: $1" >&2; tail -5 "$work/side.out" >&2; exit 1; }
  awk '{printf "%.3f %.2f %.1f\n", $1, $2 + $3, $4 / 1024}' "$work/time"
}
# kcat stops after the records the mock kept (-c), as tidemark stops at the end offsets it read
# at start: with -e it would wait for an empty fetch at the end, which the broker holds back for
# fetch.wait.max.ms (500 ms).
kc="kcat -C -b $brokers -t bench -o beginning -c $kept -q"
declare -A cmd=(
  [budget]="$bin backup --config $work/budget.toml"
  [fixed]="$bin backup --config $work/fixed.toml"
  [kb256]="$bin backup --config $work/kb256.toml"
  [kcat_zstd]="$kc -f '%k%s\\n' | zstd -1 -q > $work/kcat.zst"
  [kcat_null]="$kc > /dev/null"
)
order=(budget fixed kb256 kcat_zstd kcat_null)
# TIDEMARK_BEFORE=<an older tidemark binary>: that build too, with its own defaults.
if [ -n "${TIDEMARK_BEFORE:-}" ]; then
  cmd[before]="$TIDEMARK_BEFORE backup --config $work/budget.toml"
  order=(budget before fixed kb256 kcat_zstd kcat_null)
fi
declare -A t
for r in $(seq 1 "$rounds"); do
  line="round $r:"
  for s in "${order[@]}"; do
    read -r sec cpu rss < <(side "${cmd[$s]}")
    t[$s,$r]=$sec
    line+=" $s ${sec}s (cpu ${cpu}s, rss ${rss}MB)"
  done
  echo "$line" >&2
done
# median, min and max of the per-round ratios a/b
ratio() {
  for r in $(seq 1 "$rounds"); do echo "${t[$1,$r]} ${t[$2,$r]}"; done |
    awk '{print $1 / $2}' | sort -g |
    awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
                           printf "median %.2f (min %.2f, max %.2f, %d rounds)", m, v[1], v[NR], NR}'
}
echo "one partition, $kept records, $bytes bytes, $codec, prefetch_bytes ${prefetch:-default}:"
echo "  speed-up of the budget over the fixed 8 MiB bound:   $(ratio fixed budget)"
echo "  speed-up over 256 MiB with 100,000 records:          $(ratio kb256 budget)"
if [ -n "${TIDEMARK_BEFORE:-}" ]; then
  echo "  speed-up over the build before (its defaults):      $(ratio before budget)"
fi
echo "  backup vs kcat -C | zstd -1 (speed-up):              $(ratio kcat_zstd budget)"
echo "  backup vs kcat -C > /dev/null (speed-up):            $(ratio kcat_null budget)"
