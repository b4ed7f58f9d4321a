#!/usr/bin/env bash
# Installs every Debian 12 package tidemark needs to build, test, demo and benchmark.
# Idempotent: packages already present are skipped by apt.
set -euo pipefail

PACKAGES=(
  # build
  build-essential pkg-config meson ninja-build clang-format
  # libraries
  liburing-dev librdkafka-dev libzstd-dev liblz4-dev libxxhash-dev libmimalloc-dev
  libtomlplusplus-dev nlohmann-json3-dev libcli11-dev
  # calendar-checked time parsing (header-only date/date.h)
  libhowardhinnant-date-dev
  # the service: sd_notify (systemd), the metrics endpoint (HTTP), systemd-analyze verify
  libsystemd-dev libcpp-httplib-dev systemd
  # object storage: libcurl (SigV4 signing), OpenSSL (MD5/SHA-256 of bodies), and Ceph's RADOS
  # Gateway for the s3 test suite (tools/rgw.sh)
  libcurl4-openssl-dev libssl-dev ceph-mon ceph-osd radosgw ceph-common curl
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev kcat zstd fio python3 time
  # the upload baseline (bench/upload_vs_s3cmd.sh)
  s3cmd
  # a skewed clock for one process (the s3 suite: RequestTimeTooSkewed)
  faketime
  # plots of benchmark sweeps (tools/plot-bench.sh)
  gnuplot-nox
  # sanitizers for gcc
  libasan8 libubsan1
  # promtool checks the shipped alert rules (tools/monitoring)
  prometheus
  # groff renders the man page (docs/tidemark.1) for its lint test
  groff-base
  # the Debian package (tools/package-deb.sh): debhelper's meson, systemd and sysusers helpers,
  # and lintian to check what it builds
  debhelper lintian
  # fuzzing (tools/fuzz.sh): clang with libFuzzer and its sanitizer runtimes
  clang libfuzzer-14-dev libclang-rt-14-dev
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present" >&2
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done" >&2
