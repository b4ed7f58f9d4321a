#!/usr/bin/env bash
# Fails when a C++ source differs from what clang-format (with the checked-in .clang-format) makes
# of it. Fix with: clang-format -i $(git ls-files '*.cc' '*.h')
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cc' '*.h' 2>/dev/null || find src include tests bench -name '*.cc' -o -name '*.h')
bad=0
for f in $files; do
  if ! clang-format --style=file "$f" | cmp -s - "$f"; then
    echo "not formatted: $f" >&2
    bad=1
  fi
done
if [ "$bad" -ne 0 ]; then
  echo "run: clang-format -i \$(git ls-files '*.cc' '*.h')" >&2
  exit 1
fi
echo "format: ok" >&2
