#!/usr/bin/env bash
# Builds the Debian package build/deb/tidemark_<version>_<arch>.deb from this tree with Debian's
# own tooling (debhelper's meson build system, dh_installsystemd, dh_installsysusers), then runs
# lintian on it, failing on any error. The packaging lives in tools/debian/ (the top level has no
# debian/): the tree is copied to build/deb/tidemark-<version>/, tools/debian/ becomes its debian/
# and a changelog is written for the version in meson.build, so the two cannot disagree.
# Install the tools first: bash tools/install-deps.sh (debhelper, lintian).
#
# One compile job unless DEB_BUILD_OPTIONS says otherwise (parallel=N); DEB_BUILD_OPTIONS=nocheck
# skips the package's checks (tools/debian/rules: the unit and the install set).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

# meson.build's project version, as meson reads it (no build directory needed).
version=$(meson introspect --projectinfo meson.build | sed -n 's/.*"version": *"\([^"]*\)".*/\1/p')
[[ "$version" =~ ^[0-9][0-9A-Za-z.+~]*$ ]] || {
  echo "package-deb: no usable version in meson.build's project(): '$version'" >&2
  exit 1
}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
out=build/deb
work=$out/tidemark-$version
rm -rf "$out"/tidemark-*/ "$out/tidemark_${version}_$arch.deb"
mkdir -p "$work"

# The tree as it is: tracked files and new ones git does not ignore (build/ is ignored), with
# uncommitted changes; outside a git checkout, everything but build/.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$work"
  rev=$(git describe --always --dirty)
  epoch=$(git log -1 --format=%ct)
else
  tar --exclude=./build -cf - . | tar -xf - -C "$work"
  rev="a tree outside git"
  epoch=$(date +%s)
fi
cp -r tools/debian "$work/debian"

# The changelog dpkg needs: one entry for meson.build's version, dated by the last commit so the
# same commit builds the same package (SOURCE_DATE_EPOCH comes from this date).
maintainer=$(sed -n 's/^Maintainer: //p' tools/debian/control)
cat >"$work/debian/changelog" <<EOF
tidemark ($version) unstable; urgency=medium

  * Built from the tidemark tree at $rev.

 -- $maintainer  $(LC_ALL=C date -u -R -d "@$epoch")
EOF

export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=1}"
echo "package-deb: tidemark $version ($rev) for $arch, DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS" >&2
(cd "$work" && dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1 || {
  tail -n 40 "$out/build.log" >&2
  echo "package-deb: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
  exit 1
}
# dpkg-buildpackage leaves its results beside the tree, in build/deb/: the package, its debug
# symbols (tidemark-dbgsym_*.deb), .buildinfo and .changes. The tree itself is scratch.
deb=$out/tidemark_${version}_$arch.deb
[ -f "$deb" ] || {
  echo "package-deb: dpkg-buildpackage made no $deb" >&2
  exit 1
}
rm -rf "$work"

if command -v lintian >/dev/null; then
  lintian --fail-on error --info "$deb" >&2 || {
    echo "package-deb: lintian reports errors on $deb" >&2
    exit 1
  }
else
  echo "package-deb: lintian is missing (bash tools/install-deps.sh); not checked" >&2
fi
echo "$top/$deb"
