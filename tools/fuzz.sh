#!/usr/bin/env bash
# Fuzzes tidemark's readers and parsers with libFuzzer (tests/fuzz, issue 13).
#
# Usage: tools/fuzz.sh [SECONDS] [TARGET...]        each target for SECONDS (default 60)
#        tools/fuzz.sh --runs N [TARGET...]         each target to N executions (e.g. 1000000)
#        tools/fuzz.sh --seed                       rewrites the committed seed corpus
# (tests/fuzz/corpus/<name>: what make_corpus writes, plus regress-* files, inputs that crashed
# earlier code, kept so that every run replays them first)
# TARGET: segment, segment_structured, block, block_structured, record, record_structured,
# recovery, restore (both always structure-aware), journal, manifest, catalog, store_catalog,
# config, s3_xml, time
# (default: all, one after another).
#
# Builds build/fuzz (tools/build.sh fuzz), then runs each target on a scratch copy of its
# committed seed corpus (tests/fuzz/corpus/<name>, never grown by a run), one process at a time,
# with -rss_limit_mb=2048 (allocations past it are findings too). Prints each target's
# executions; exits 1 when any target found a crash, leak, timeout, out-of-memory or sanitizer
# report. Inputs that failed are kept in build/fuzz/findings/<target>/ and the logs in
# build/fuzz/logs/ (replay one with build/fuzz/tests/fuzz/fuzz_<target> FILE).
set -euo pipefail
cd "$(dirname "$0")/.."

all=(segment segment_structured block block_structured record record_structured recovery restore
     journal manifest catalog store_catalog config s3_xml time)
seconds=60
runs=""
case "${1:-}" in
  --seed)
    bash tools/build.sh fuzz
    build/fuzz/tests/fuzz/make_corpus tests/fuzz/corpus .  # keeps the regress-* inputs
    exit 0 ;;
  --runs)
    [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "usage: $0 --runs N [TARGET...]" >&2; exit 2; }
    runs="$2"; shift 2 ;;
  -h|--help)
    sed -n '2,18p' "$0"; exit 0 ;;
  "") ;;
  *)
    if [[ "$1" =~ ^[0-9]+$ ]]; then seconds="$1"; shift; fi ;;
esac
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz: unknown target '$t' (known: ${all[*]})" >&2; exit 2; }
done

bash tools/build.sh fuzz

out=build/fuzz
mkdir -p "$out/logs"
# Scratch files of the targets that need a directory (recovery, restore), on tmpfs if there is one.
scratch=$(mktemp -d /dev/shm/tidemark-fuzz.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in "${targets[@]}"; do
  name="${t%_structured}"
  case "$name" in recovery|restore) name=segment ;; esac  # whole segment files
  work="$out/corpus-run/$t"
  findings="$out/findings/$t"
  log="$out/logs/$t.log"
  rm -rf "$work"
  mkdir -p "$work" "$findings"
  cp tests/fuzz/corpus/"$name"/* "$work"/
  limit=(-max_total_time="$seconds")
  [ -z "$runs" ] || limit=(-runs="$runs")
  rc=0
  TIDEMARK_FUZZ_TMP="$scratch" ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
    UBSAN_OPTIONS=print_stacktrace=1 \
    "$out/tests/fuzz/fuzz_$t" "$work" "${limit[@]}" -rss_limit_mb=2048 -timeout=25 \
    -print_final_stats=1 -artifact_prefix="$findings/" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    printf 'fuzz %-20s %10s execs in %5s s (%s/s): no finding\n' "$t" "${execs:-?}" "${secs:-?}" \
      "${rate:-?}" >&2
  else
    failed+=("$t")
    printf 'fuzz %-20s FINDING after %s execs (exit %d); input(s) in %s, log %s:\n' "$t" \
      "${execs:-?}" "$rc" "$findings" "$log" >&2
    # The report, then the first frames in tidemark's code (not libFuzzer's or the runtime's).
    { grep -E '^==[0-9]+== ?ERROR|runtime error|fuzz property violated|^SUMMARY' "$log" | head -4
      grep -E '^ +#[0-9]+ .* in .*(tidemark|LLVMFuzzer)' "$log" | sed 's/ (BuildId.*//' | head -8
    } >&2 || tail -20 "$log" >&2
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} target(s), no finding" >&2
