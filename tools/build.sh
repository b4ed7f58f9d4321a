#!/usr/bin/env bash
# Builds tidemark. Usage: tools/build.sh [release|asan|tsan|fuzz]  (default: release)
#   release: optimised, warnings are errors        -> build/release
#   asan:    AddressSanitizer + UBSan, debug info  -> build/asan
#   tsan:    ThreadSanitizer, -O2 with debug info  -> build/tsan
#   fuzz:    the libFuzzer targets (tests/fuzz) only: clang, ASan + UBSan, -O2 with debug info,
#            coverage instrumentation (-fsanitize=fuzzer-no-link)  -> build/fuzz (tools/fuzz.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-release}"
targets=()  # all
case "$kind" in
  release) opts=(--buildtype=release) ;;
  asan) opts=(--buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false) ;;
  tsan) # librdkafka's C11 threads and locks as pthreads, which TSan sees (tools/tsan-c11threads.c)
        shim="$PWD/build/tsan/tsan-c11threads.o"; mkdir -p build/tsan
        [ "$shim" -nt tools/tsan-c11threads.c ] ||
          cc -std=c11 -O2 -g -fPIC -Wall -Wextra -Werror -c tools/tsan-c11threads.c -o "$shim"
        opts=(--buildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false "-Dcpp_link_args=$shim")
        # What tools/test.sh runs under TSan (not alloc_tests: it counts allocations with a
        # replaced operator new, which GCC 12 at -O2 flags: -Wmismatched-new-delete).
        targets=(src/tidemark tests/unit_tests tests/integration_tests tests/restore_tests
                 tests/cli_tests tests/service_tests tests/s3_tests) ;;
  fuzz) opts=(--buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false
              "-Dcpp_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=all")
        export CXX=clang++; targets=(fuzz) ;;
  *) echo "usage: $0 [release|asan|tsan|fuzz]" >&2; exit 2 ;;
esac
dir="build/$kind"
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" "${opts[@]}" -Dwerror=true >/dev/null
fi
ninja -C "$dir" -j2 "${targets[@]}" >&2
