#!/usr/bin/env bash
# The tests: installs what tidemark needs, then builds and runs every test suite twice, once with
# AddressSanitizer + UndefinedBehaviorSanitizer and once optimised; warnings are errors.
# Also checks formatting of the C++ sources against .clang-format.
# Then runs every libFuzzer target (tests/fuzz) for 25 s on its committed seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bash tools/check-format.sh
for kind in asan release; do
  echo "=== tests: $kind build ===" >&2
  bash tools/build.sh "$kind"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C "build/$kind" --print-errorlogs --num-processes 2
done
# ThreadSanitizer over what runs threads: shards (unit, integration, restore, cli), the service
# and its HTTP server (service), the uploader and the service's tier (s3). About 5 min of tests.
# Not alloc (it counts allocations through a replaced operator new). Not the killed-restore
# test: it needs its kills to land mid-restore, and a TSan binary's start takes most of the
# window it aims at.
echo "=== tests: tsan build ===" >&2
bash tools/build.sh tsan
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tools/tsan.supp" \
  GTEST_FILTER=-RestoreCliTest.KilledRestoreRerunLandsEveryRecordExactlyOnce \
  meson test -C build/tsan --no-rebuild --print-errorlogs --num-processes 2 \
  --timeout-multiplier 3 unit integration restore cli service s3
echo "=== tests: fuzz build ===" >&2
bash tools/fuzz.sh 25
