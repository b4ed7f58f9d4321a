#!/usr/bin/env bash
# A throwaway S3 endpoint for tests: Ceph's RADOS Gateway from the Debian packages, with one
# monitor and one OSD on memstore (nothing touches a disk but DIR), bound to 127.0.0.1 only.
#
#   tools/rgw.sh start DIR   -> prints "endpoint=http://127.0.0.1:PORT access_key=... secret_key=..."
#   tools/rgw.sh stop DIR    -> stops every daemon started from DIR
#   tools/rgw.sh kill-gw DIR -> kill -9 of the gateway alone (the cluster keeps the data)
#   tools/rgw.sh start-gw DIR -> starts the gateway again, on the same port
#
# Ready in about 15 s. S3 requests need x-amz-content-sha256 (RGW checks it as part of SigV4).
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?directory}
conf="$dir/ceph.conf"

stop() {
  local pids=()
  for name in client.rgw.gw osd.0 mon.a; do
    pidf="$dir/run/$name.pid"
    [ -f "$pidf" ] && pids+=("$(cat "$pidf")")
  done
  [ "${#pids[@]}" -gt 0 ] || return 0
  kill "${pids[@]}" 2>/dev/null || true
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -f "$dir"/run/*.pid
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

port_of() { sed -n 's/^rgw frontends = beast endpoint=127.0.0.1:\([0-9]*\)$/\1/p' "$conf"; }

wait_gw() {  # PORT SECONDS
  for _ in $(seq 1 $(($2 * 10))); do
    curl -s -m 1 -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  return 1
}

case "$cmd" in
  stop) stop; exit 0 ;;
  kill-gw)
    pidf="$dir/run/client.rgw.gw.pid"
    [ -f "$pidf" ] && kill -9 "$(cat "$pidf")" 2>/dev/null || true
    rm -f "$pidf"
    exit 0 ;;
  start-gw)
    radosgw -c "$conf" -n client.rgw.gw >>"$dir/log/setup.log" 2>&1
    wait_gw "$(port_of)" 60 || { echo "rgw.sh: the gateway did not come back (logs in $dir/log)" >&2; exit 1; }
    exit 0 ;;
  start) ;;
  *) echo "usage: $0 start|stop|kill-gw|start-gw DIR" >&2; exit 2 ;;
esac

for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph; do
  command -v "$b" >/dev/null || { echo "rgw.sh: $b is missing (tools/install-deps.sh installs it)" >&2; exit 1; }
done
attempt() {
  rm -rf "$dir"
  mkdir -p "$dir/mon" "$dir/osd/ceph-0" "$dir/run" "$dir/log" "$dir/rgw" || return 1
  port=$(free_port)
  monport=$(free_port)
  fsid=$(python3 -c 'import uuid; print(uuid.uuid4())')
  cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$monport
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
ms bind msgr2 = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 2147483648
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
run dir = $dir/run
log file = $dir/log/\$name.log
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
mon data = $dir/mon/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
keyring = /dev/null
[client.rgw.gw]
rgw frontends = beast endpoint=127.0.0.1:$port
rgw data = $dir/rgw
ms mon client mode = crc
auth client required = none
CONF
  local log="$dir/log/setup.log"
  monmaptool --create --addv a "[v1:127.0.0.1:$monport]" --fsid "$fsid" "$dir/monmap" >/dev/null || return 1
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" 2>>"$log" || return 1
  ceph-mon -c "$conf" -i a 2>>"$log" || return 1
  timeout 30 ceph -c "$conf" osd create >/dev/null 2>>"$log" || return 1
  ceph-osd -c "$conf" -i 0 --mkfs >>"$log" 2>&1 || return 1
  ceph-osd -c "$conf" -i 0 >>"$log" 2>&1 || return 1
  radosgw -c "$conf" -n client.rgw.gw >>"$log" 2>&1 || return 1
  wait_gw "$port" 45
}

# A start fails now and then (the OSD's first boot racing the monitor): start over, up to 3 times.
ok=false
for try in 1 2 3; do
  if attempt; then ok=true; break; fi
  echo "rgw.sh: start attempt $try failed; the last lines of its logs:" >&2
  tail -n 5 "$dir"/log/*.log >&2 2>/dev/null || true
  stop
done
$ok || { echo "rgw.sh: the gateway did not start in 3 attempts (logs in $dir/log)" >&2; exit 1; }
key=TIDEMARK$(python3 -c 'import secrets; print(secrets.token_hex(6).upper())')
secret=$(python3 -c 'import secrets; print(secrets.token_hex(20))')
timeout 60 radosgw-admin -c "$conf" -n client.rgw.gw user create --uid=tidemark --display-name=tidemark \
  --access-key="$key" --secret="$secret" >/dev/null 2>>"$dir/log/setup.log"
echo "endpoint=http://127.0.0.1:$port access_key=$key secret_key=$secret"
