#!/usr/bin/env bash
# The systemd unit (as meson configured it from systemd/tidemark.service.in) passes
# `systemd-analyze verify` with nothing to say (an unknown key is only a warning there, so any
# output fails this test), with ExecStart's binary swapped for the built one; the example
# configuration passes `tidemark run --check`, and a broken one does not.
# Usage (from tests/meson.build): systemd_unit_test.sh <built tidemark> <source root> <unit>
set -euo pipefail
bin=$1
src=$2
unit=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -qE '^ExecStart=/[^ ]*/tidemark run ' "$unit" || {
  echo "the unit's ExecStart does not run an installed tidemark: $(grep '^ExecStart' "$unit")"
  exit 1
}
sed -E "s|^ExecStart=[^ ]+|ExecStart=$bin|" "$unit" >"$tmp/tidemark.service"
out=$(systemd-analyze verify "$tmp/tidemark.service" 2>&1) || {
  echo "systemd-analyze verify failed: $out"
  exit 1
}
if [ -n "$out" ]; then
  echo "systemd-analyze verify has warnings: $out"
  exit 1
fi
"$bin" run --config "$src/systemd/tidemark.toml" --check
sed 's/^compression = "zstd"/compression = "brotli"/' "$src/systemd/tidemark.toml" >"$tmp/bad.toml"
if "$bin" run --config "$tmp/bad.toml" --check >"$tmp/out" 2>&1; then
  echo "a bad configuration passed --check"
  exit 1
fi
grep -q "backup.compression" "$tmp/out" || {
  echo "the --check error does not name the key: $(cat "$tmp/out")"
  exit 1
}
echo "unit and example configuration OK"
