#!/usr/bin/env bash
# meson install script: places the example configuration as <configdir>/tidemark.toml (under
# $DESTDIR) unless a file is already there, so re-running `meson install` to upgrade never
# overwrites an operator's configuration. Mode 0640: the file may hold credentials
# ([kafka.properties]); the service reads it through its group (chgrp tidemark, OPERATIONS.md).
# Usage (from meson.build): install-config.sh <example.toml> <configdir>
set -euo pipefail
src=$1
dir="${DESTDIR:-}$2"
dst="$dir/tidemark.toml"
say() { [ -n "${MESON_INSTALL_QUIET:-}" ] || echo "$@"; }
if [ -n "${MESON_INSTALL_DRY_RUN:-}" ]; then
  say "Would install $src to $dst unless it exists"
  exit 0
fi
if [ -e "$dst" ]; then
  say "Keeping $dst (the example is $src)"
  exit 0
fi
install -d -m 0755 "$dir"
install -m 0640 "$src" "$dst"
say "Installing $src to $dst"
