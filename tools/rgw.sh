#!/usr/bin/env bash
# A throwaway S3 endpoint for tests: Ceph's RADOS Gateway from the Debian packages, with one
# monitor and one OSD on memstore (nothing touches a disk but DIR), bound to 127.0.0.1 only.
#
#   tools/rgw.sh start DIR   -> prints "endpoint=http://127.0.0.1:PORT access_key=... secret_key=..."
#   tools/rgw.sh stop DIR    -> stops every daemon started from DIR
#   tools/rgw.sh kill-gw DIR -> kill -9 of the gateway alone (the cluster keeps the data)
#   tools/rgw.sh start-gw DIR -> starts the gateway again, on the same port
#   tools/rgw.sh user DIR UID -> another user: prints "access_key=... secret_key=..."
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

# A monitor command, tried again when it fails: a client's first command can go out before its
# first monitor map arrives, with a zero fsid, and the monitor refuses it ('wrong fsid', EPERM).
mon_cmd() {
  for _ in 1 2 3 4 5; do
    timeout 30 ceph -c "$conf" "$@" >>"$dir/log/setup.log" 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

make_user() {  # UID KEY SECRET, tried again like mon_cmd
  for _ in 1 2 3 4 5; do
    timeout 60 radosgw-admin -c "$conf" -n client.rgw.gw user create --uid="$1" --display-name="$1" \
      --access-key="$2" --secret="$3" >/dev/null 2>>"$dir/log/setup.log" && return 0
    sleep 0.5
  done
  return 1
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
  user)
    uid=${3:?uid}
    key=TIDEMARK$(python3 -c 'import secrets; print(secrets.token_hex(6).upper())')
    secret=$(python3 -c 'import secrets; print(secrets.token_hex(20))')
    make_user "$uid" "$key" "$secret" || { echo "rgw.sh: radosgw-admin user create failed (logs in $dir/log)" >&2; exit 1; }
    echo "access_key=$key secret_key=$secret"
    exit 0 ;;
  start) ;;
  *) echo "usage: $0 start|stop|kill-gw|start-gw|user DIR" >&2; exit 2 ;;
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
# The OSD's own start-up CRUSH updates race its first monitor map (the command goes out with a
# zero fsid: 'wrong fsid'); the OSD is placed in the CRUSH map by the script instead.
osd crush update on start = false
osd class update on start = false
# A gateway killed with -9 leaves its watches on the control objects; bucket creation then waits
# for them (it notifies every watcher) until they time out. Short, so a restart is usable at once.
osd client watch timeout = 5
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
  local osd_uuid
  osd_uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
  mon_cmd osd create "$osd_uuid" 0 || return 1  # with its uuid: a retry creates nothing twice
  mon_cmd osd crush add osd.0 1.0 host=localhost root=default || return 1
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$log" 2>&1 || return 1
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
make_user tidemark "$key" "$secret" || { echo "rgw.sh: radosgw-admin user create failed (logs in $dir/log)" >&2; stop; exit 1; }
echo "endpoint=http://127.0.0.1:$port access_key=$key secret_key=$secret"
