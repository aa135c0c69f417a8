#!/usr/bin/env bash
# Metaserver failover time (issue 9, docs/ha.md): on a private cluster of its
# own (a fresh PostgreSQL, two metaservers against it, 3 chunk servers on
# loopback), each round kills the active metaserver with kill -9 and measures
# the time from the kill until the first successful client operation through
# the other one (`ddbfs --meta A,B mkdir /roundN`, retried until it exits 0),
# then starts the killed one again (it becomes the standby). Prints every
# round and the median. Not a test: it prints figures. Must run as root
# (PostgreSQL runs as postgres).
#
#   ./bench/failover_bench.sh [ROUNDS]       (default 5)
#
# With FILES=N (default 0) the namespace holds N empty files first, to see
# whether the takeover grows with the metadata. With TWO_HOSTS=1 the second
# metaserver runs under another host name (its own UTS namespace), as a
# standby on another machine would: a successor then waits out the 1.5 s a
# lost active one may still answer, which it skips for a dead process of its
# own host (docs/ha.md, "Taking over").
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${DDBFS_BUILD_DIR:-$ROOT/build}/bin
ROUNDS=${1:-5}
FILES=${FILES:-0}
TWO_HOSTS=${TWO_HOSTS:-0}
[[ $ROUNDS =~ ^[0-9]+$ ]] && ((ROUNDS > 0)) || { echo "usage: $0 [ROUNDS]" >&2; exit 2; }
NAME=failover_bench
STOP_SIGNAL=KILL
source "$ROOT/bench/private_cluster.sh"
META_PORTS=("$(free_port)" "$(free_port)")
META_PIDS=(0 0)
start_meta() {  # start_meta I
  local wrap=()
  if [[ $TWO_HOSTS == 1 && $1 == 1 ]]; then
    wrap=(unshare --uts sh -c 'hostname ddbfs-bench-other-host && exec "$0" "$@"')
  fi
  # Started from a subshell, so that it is not a job of this shell (whose
  # "Killed" notices would clutter the output).
  (
    "${wrap[@]}" "$BIN/ddbfs-metaserver" --listen "127.0.0.1:${META_PORTS[$1]}" \
      --unix-socket "$WORK/meta$1.sock" --db "$DB" --cluster-key-file "$WORK/cluster.key" \
      --heartbeat-timeout-ms 3000 >> "$WORK/logs/metaserver$1.log" 2>&1 &
    echo $! > "$WORK/meta$1.pid"
  )
  META_PIDS[$1]=$(cat "$WORK/meta$1.pid")
  PIDS+=("${META_PIDS[$1]}")
}
start_meta 0
wait_port "${META_PORTS[0]}" 60 || { tail "$WORK/logs/metaserver0.log" >&2; exit 1; }
start_meta 1
for i in 1 2 3; do
  port=$(free_port)
  "$BIN/ddbfs-chunkserver" --listen "127.0.0.1:$port" \
    --meta "127.0.0.1:${META_PORTS[0]},127.0.0.1:${META_PORTS[1]}" \
    --data "$WORK/chunk$i" --label "host$i" --cluster-key-file "$WORK/cluster.key" \
    > "$WORK/logs/chunkserver$i.log" 2>&1 &
  PIDS+=($!)
  wait_port "$port" 30 || { tail "$WORK/logs/chunkserver$i.log" >&2; exit 1; }
done
BOTH="unix:$WORK/meta0.sock,unix:$WORK/meta1.sock"
DDBFS() { "$BIN/ddbfs" --meta "$BOTH" -q "$@"; }
deadline=$((SECONDS + 30))
until [[ $(DDBFS status --json | grep -c '"alive": true') -eq 3 ]]; do
  ((SECONDS < deadline)) || { echo "failover_bench: chunk servers did not register" >&2; exit 1; }
  sleep 0.2
done
if ((FILES > 0)); then
  mkdir -p "$WORK/empty"
  for ((f = 0; f < FILES; f++)); do : > "$WORK/empty/f$f"; done
  DDBFS add "$WORK/empty" /files
  echo "namespace: $FILES files"
fi

active=0
times=()
for ((round = 1; round <= ROUNDS; round++)); do
  standby=$((1 - active))
  # The standby is waiting for the lock (it logged so).
  deadline=$((SECONDS + 60))
  until grep -q "standby: " "$WORK/logs/metaserver$standby.log"; do
    ((SECONDS < deadline)) || { echo "failover_bench: no standby" >&2; exit 1; }
    sleep 0.05
  done
  kill -9 "${META_PIDS[$active]}"
  t=$(now)
  until DDBFS mkdir "/round$round" 2> /dev/null; do sleep 0.02; done
  s=$(since "$t")
  times+=("$s")
  printf 'round %d: metaserver %d killed, first operation through metaserver %d after %.2f s\n' \
    "$round" "$active" "$standby" "$s"
  while kill -0 "${META_PIDS[$active]}" 2> /dev/null; do sleep 0.01; done
  : > "$WORK/logs/metaserver$active.log"
  start_meta "$active"
  active=$standby
done
median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
printf 'failover (kill -9 of the active -> first client operation through the standby, %s): median %.2f s over %d rounds\n' \
  "$([[ $TWO_HOSTS == 1 ]] && echo "two host names" || echo "one host")" "$median" "$ROUNDS"
