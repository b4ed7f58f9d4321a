#!/usr/bin/env bash
# `meson install --destdir` places exactly the files the Debian package ships (tools/debian: the
# package is this install, nothing added): the binary, the man page, the alert rules and the
# dashboard, the systemd unit with its paths filled in, the sysusers and tmpfiles files, and the
# example configuration (mode 0640), which a second install keeps once an operator edited it.
# Usage (from tests/meson.build): install_test.sh <meson> <build dir> <bindir> <mandir> <datadir>
#   <unit dir> <sysusers dir> <tmpfiles dir> <config dir>   (absolute, as installed)
set -euo pipefail
meson=$1 build=$2 bindir=$3 mandir=$4 datadir=$5 unitdir=$6 sysusersdir=$7 tmpfilesdir=$8
configdir=$9
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
fail() {
  echo "install: $*"
  exit 1
}
install_once() {
  "$meson" install -C "$build" --no-rebuild --destdir "$root" >"$tmp/log" 2>&1 ||
    fail "meson install failed: $(cat "$tmp/log")"
}
install_once

expected=(
  "$bindir/tidemark"
  "$mandir/man1/tidemark.1"
  "$datadir/tidemark/tidemark.rules.yml"
  "$datadir/tidemark/tidemark.dashboard.json"
  "$unitdir/tidemark.service"
  "$sysusersdir/tidemark.conf"
  "$tmpfilesdir/tidemark.conf"
  "$configdir/tidemark.toml"
)
printf '%s\n' "${expected[@]}" | sort >"$tmp/expected"
(cd "$root" && find . ! -type d | sed 's|^\.||' | sort) >"$tmp/installed"
if ! diff -u "$tmp/expected" "$tmp/installed" >"$tmp/diff"; then
  fail "the installed files are not the package's set (- missing, + not expected; the package" \
    "ships whatever meson installs, so a new file belongs here and in OPERATIONS.md's install" \
    "section):"$'\n'"$(tail -n +3 "$tmp/diff")"
fi

[ -x "$root$bindir/tidemark" ] || fail "$bindir/tidemark is not executable"
mode=$(stat -c %a "$root$configdir/tidemark.toml")
[ "$mode" = 640 ] ||
  fail "$configdir/tidemark.toml has mode $mode, not 640 (it may hold credentials)"

unit=$root$unitdir/tidemark.service
grep -qx "ExecStart=$bindir/tidemark run --config $configdir/tidemark.toml" "$unit" ||
  fail "the unit's ExecStart does not run $bindir/tidemark with $configdir/tidemark.toml:" \
    "$(grep '^ExecStart' "$unit")"
grep -qx "EnvironmentFile=-$configdir/tidemark.env" "$unit" ||
  fail "the unit's EnvironmentFile is not $configdir/tidemark.env"
grep -q '^u tidemark ' "$root$sysusersdir/tidemark.conf" ||
  fail "the sysusers file makes no tidemark user"
grep -q '^d /var/lib/tidemark 0750 tidemark tidemark' "$root$tmpfilesdir/tidemark.conf" ||
  fail "the tmpfiles file does not make /var/lib/tidemark for the tidemark user"

# An operator's configuration survives a second `meson install` (an upgrade by hand).
echo '# edited' >>"$root$configdir/tidemark.toml"
install_once
tail -n 1 "$root$configdir/tidemark.toml" | grep -qx '# edited' ||
  fail "a second meson install overwrote the edited $configdir/tidemark.toml"
echo "install set OK: ${#expected[@]} files"
