#!/usr/bin/env bash
# Upload throughput: `tidemark upload` against `s3cmd put --recursive` of the same backup files,
# side by side in one run, to a local Ceph RADOS Gateway (tools/rgw.sh), as a ratio.
#
#   bench/upload_vs_s3cmd.sh [PARTITIONS] [RECORDS_PER_PARTITION] [VALUE_BYTES] [RUNS]
#
# Defaults: 32 partitions x 4000 records x 1000-byte random values (about 130 MB, compression
# off so the bytes on the wire are the bytes produced), 3 runs of each tool, alternated.
# Needs a release build (tools/build.sh) and s3cmd (tools/install-deps.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/.."
parts=${1:-32}
records=${2:-4000}
value=${3:-1000}
runs=${4:-3}
bin=build/release/src/tidemark
[ -x "$bin" ] || { echo "build first: bash tools/build.sh release" >&2; exit 2; }
command -v s3cmd >/dev/null || { echo "s3cmd is missing: bash tools/install-deps.sh" >&2; exit 2; }
work=$(mktemp -d /tmp/tidemark-upload-bench-XXXXXX)
mock_pid=""
cleanup() {
  [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
  bash tools/rgw.sh stop "$work/rgw" || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== gateway" >&2
gw=$(bash tools/rgw.sh start "$work/rgw")
endpoint=$(sed 's/.*endpoint=\([^ ]*\).*/\1/' <<<"$gw")
export AWS_ACCESS_KEY_ID=$(sed 's/.*access_key=\([^ ]*\).*/\1/' <<<"$gw")
export AWS_SECRET_ACCESS_KEY=$(sed 's/.*secret_key=\([^ ]*\).*/\1/' <<<"$gw")
hostport=${endpoint#http://}
cat >"$work/s3cfg" <<CFG
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = $hostport
host_bucket = $hostport
use_https = False
signature_v2 = False
CFG
s3() { s3cmd -c "$work/s3cfg" --no-progress "$@"; }
s3 mb s3://bench >/dev/null
echo warm >"$work/warm" && s3 put "$work/warm" s3://bench/warm >/dev/null  # creates the data pool
calc() { python3 -c "print($1)"; }

echo "== a backup to upload: $parts partitions x $records records x $value bytes" >&2
"$bin" mock --topics "bench:$parts" --records "$records" --value-bytes "$value" >"$work/mock.out" &
mock_pid=$!
for _ in $(seq 1 300); do grep -q bootstrap "$work/mock.out" 2>/dev/null && break; sleep 0.1; done
brokers=$(sed -n 's/^bootstrap.servers=//p' "$work/mock.out")
"$bin" backup --brokers "$brokers" --topics bench --path "$work/local" --id b \
  --compression none >"$work/backup.out"
kill "$mock_pid"; mock_pid=""
bytes=$(du -sb "$work/local/b/topics" | cut -f1)
files=$(find "$work/local/b/topics" -type f | wc -l)
echo "   $files segment files, $bytes bytes" >&2

cat >"$work/up.toml" <<TOML
[storage]
path = "$work/local"
[upload]
endpoint = "$endpoint"
bucket = "bench"
keep_local = "all"
TOML

t_tm=(); t_s3=()
for i in $(seq 1 "$runs"); do
  # tidemark: the prefix changes per run, and the manifest's upload marks are reset, so every run
  # uploads every segment.
  cp "$work/local/b/manifest.json" "$work/manifest.orig" 2>/dev/null || true
  sed -i "s|^prefix = .*||; s|^bucket = \"bench\"|bucket = \"bench\"\nprefix = \"tm-$i\"|" "$work/up.toml"
  s=$(date +%s.%N)
  "$bin" upload --config "$work/up.toml" >"$work/up.out"
  e=$(date +%s.%N)
  t_tm+=("$(calc "$e - $s")")
  cp "$work/manifest.orig" "$work/local/b/manifest.json"
  s=$(date +%s.%N)
  s3 put --recursive "$work/local/b/topics" "s3://bench/s3cmd-$i/" >/dev/null
  e=$(date +%s.%N)
  t_s3+=("$(calc "$e - $s")")
  printf "   run %d: tidemark %.2f s, s3cmd %.2f s\n" "$i" "${t_tm[-1]}" "${t_s3[-1]}" >&2
done
best() { printf "%s\n" "$@" | sort -g | head -1; }
btm=$(best "${t_tm[@]}"); bs3=$(best "${t_s3[@]}")
printf "upload of %d segment files, %.1f MB (best of %d):\n" "$files" "$(calc "$bytes/1e6")" "$runs"
printf "  tidemark upload        %6.2f s  %7.1f MB/s\n" "$btm" "$(calc "$bytes/1e6/$btm")"
printf "  s3cmd put --recursive  %6.2f s  %7.1f MB/s\n" "$bs3" "$(calc "$bytes/1e6/$bs3")"
printf "  ratio tidemark/s3cmd   %6.2fx\n" "$(calc "$bs3/$btm")"
