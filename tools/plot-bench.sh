#!/usr/bin/env bash
# Plots of `tidemark bench --sweep ... --json` results as PNG (gnuplot), for docs/BENCHMARKS.md:
#
#   build/release/src/tidemark bench pipeline --sweep shards=1,2 --json > shards.json
#   build/release/src/tidemark bench pipeline --sweep value-bytes=100,1024,10240 --json > value.json
#   bash tools/plot-bench.sh shards.json docs/img/throughput-vs-shards.png
#   bash tools/plot-bench.sh value.json docs/img/throughput-vs-value-bytes.png
set -euo pipefail
in="$1"
out="$2"
command -v gnuplot > /dev/null || { echo "gnuplot is missing: bash tools/install-deps.sh" >&2; exit 2; }
data=$(mktemp)
trap 'rm -f "$data"' EXIT
# Columns: the swept value, MB/s, records/s (thousands).
python3 - "$in" > "$data" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
print(f"# {doc['sweep']}")
for r in doc["rows"]:
    print(r["value"], round(r["mb_per_s"], 1), round(r["records_per_s"] / 1000, 1))
PY
sweep=$(python3 -c "import json,sys; print(json.load(open('$in'))['sweep'])")
title=$(python3 -c "import json,sys; d=json.load(open('$in')); print(d['mode'] + ' mode, sweep over ' + d['sweep'])")
mkdir -p "$(dirname "$out")"
logscale=""
[ "$sweep" = "value-bytes" ] && logscale="set logscale x 10"
gnuplot <<GP
set terminal png size 800,480
set output "$out"
set title "tidemark bench: $title"
set xlabel "$sweep"
set ylabel "MB/s of input"
set y2label "thousand records/s"
set y2tics
set ytics nomirror
set grid
set key left top
$logscale
plot "$data" using 1:2 with linespoints lw 2 title "MB/s", \
     "$data" using 1:3 axes x1y2 with linespoints lw 2 dt 2 title "records/s (k)"
GP
echo "wrote $out"
