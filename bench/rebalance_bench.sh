#!/usr/bin/env bash
# Rebalancing figures (issue 9, docs/repair.md "Rebalancing"): on a private
# cluster of its own (a fresh PostgreSQL, a metaserver and 3 chunk servers on
# loopback, each with --capacity-gib CAP, goal 2), writes N GiB of real data
# (random bytes, files of 256 MiB), reads it all once (the idle baseline),
# starts a 4th, empty chunk server and measures
#   - the time from its start until `ddbfs status` shows the usage gap within
#     the margin with no move in flight and nothing over goal,
#   - the rebalancing throughput (bytes moved / that time),
#   - a client's read throughput (ddbfs cat of the data) while the moves run,
#     next to the idle one (the moves share --repair-mib-per-s).
# Not a test: it prints figures. Must run as root (PostgreSQL runs as postgres).
#
#   ./bench/rebalance_bench.sh [GIB] [--cap-gib 4] [--mib-per-s 128] [--copies 4] [--margin 5]
#
# GIB defaults to 2. Needs 2 x GIB of free disk under ${TMPDIR:-/var/tmp} (goal 2).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${DDBFS_BUILD_DIR:-$ROOT/build}/bin
GIB=2
CAP_GIB=4
MIB_PER_S=128
COPIES=4
MARGIN=5
while (($#)); do
  case $1 in
    --cap-gib) CAP_GIB=$2; shift 2 ;;
    --mib-per-s) MIB_PER_S=$2; shift 2 ;;
    --copies) COPIES=$2; shift 2 ;;
    --margin) MARGIN=$2; shift 2 ;;
    [0-9]*) GIB=$1; shift ;;
    *) echo "usage: $0 [GIB] [--cap-gib N] [--mib-per-s N] [--copies N] [--margin P]" >&2; exit 2 ;;
  esac
done
NAME=rebalance_bench
source "$ROOT/bench/private_cluster.sh"
META_PORT=$(free_port)
SOCK=$WORK/meta.sock
"$BIN/ddbfs-metaserver" --listen "127.0.0.1:$META_PORT" --unix-socket "$SOCK" \
  --db "$DB" --cluster-key-file "$WORK/cluster.key" --heartbeat-timeout-ms 2000 \
  --repair-copies "$COPIES" --repair-mib-per-s "$MIB_PER_S" --rebalance-margin-pct "$MARGIN" \
  > "$WORK/logs/metaserver.log" 2>&1 &
PIDS+=($!)
wait_port "$META_PORT" 60 || { tail "$WORK/logs/metaserver.log" >&2; exit 1; }
start_chunkserver() {  # start_chunkserver I
  local port
  port=$(free_port)
  "$BIN/ddbfs-chunkserver" --listen "127.0.0.1:$port" --meta "127.0.0.1:$META_PORT" \
    --data "$WORK/chunk$1" --label "host$1" --cluster-key-file "$WORK/cluster.key" \
    --capacity-gib "$CAP_GIB" > "$WORK/logs/chunkserver$1.log" 2>&1 &
  PIDS+=($!)
  wait_port "$port" 30 || { tail "$WORK/logs/chunkserver$1.log" >&2; exit 1; }
}
for i in 1 2 3; do start_chunkserver "$i"; done
DDBFS() { "$BIN/ddbfs" --meta "unix:$SOCK" -q "$@"; }
JSON() { DDBFS status --json; }
field() {  # field JSON NAME: the first value of "NAME": in the JSON text
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); k=sys.argv[2]
for part in ("rebalance", "totals", "repair"):
    if k in d.get(part, {}): print(d[part][k]); break' "$1" "$2"
}
wait_alive() {  # wait_alive N
  local deadline=$((SECONDS + 30))
  until [[ $(JSON | grep -c '"alive": true') -eq $1 ]]; do
    ((SECONDS < deadline)) || { echo "$NAME: chunk servers did not register" >&2; exit 1; }
    sleep 0.2
  done
}
wait_alive 3

FILES=$((GIB * 4))
head -c $((256 << 20)) /dev/urandom > "$WORK/src.bin"
t=$(now)
for ((f = 0; f < FILES; f++)); do
  printf '%016d' "$f" | dd of="$WORK/src.bin" conv=notrunc status=none
  DDBFS add "$WORK/src.bin" "/f$f"
done
rm -f "$WORK/src.bin"
echo "wrote $GIB GiB ($FILES files of 256 MiB, goal 2) in $(printf '%.1f' "$(since "$t")") s"
# Wait for the servers' reports to settle, then the gap before.
sleep 3
gap0=$(field "$(JSON)" gap_pct)

t=$(now)
for ((f = 0; f < FILES; f++)); do DDBFS cat "/f$f" > /dev/null; done
idle_read_s=$(since "$t")

start_chunkserver 4
t_add=$(now)
wait_alive 4
until [[ $(field "$(JSON)" moves_in_flight) -gt 0 ]]; do
  (($(echo "$(since "$t_add") < 60" | bc))) || { echo "$NAME: no move within 60 s" >&2; exit 1; }
  sleep 0.1
done
first_s=$(since "$t_add")
t=$(now)
for ((f = 0; f < FILES; f++)); do DDBFS cat "/f$f" > /dev/null; done
busy_read_s=$(since "$t")
moving_after_read=$(field "$(JSON)" moves_in_flight)

deadline=$((SECONDS + 3600))
while :; do
  j=$(JSON)
  if [[ $(field "$j" moves_in_flight) -eq 0 && $(field "$j" chunks_over_goal) -eq 0 ]] &&
    (($(echo "$(field "$j" gap_pct) <= $MARGIN" | bc))); then
    break
  fi
  ((SECONDS < deadline)) || { echo "$NAME: not even within an hour" >&2; exit 1; }
  sleep 0.2
done
even_s=$(since "$t_add")
j=$(JSON)
moved=$(field "$j" bytes_moved)
chunks=$(field "$j" chunks_moved)
gap=$(field "$j" gap_pct)
missing=$(field "$j" chunks_missing)
under=$(field "$j" chunks_under_goal)
[[ $missing -eq 0 && $under -eq 0 ]] || { echo "$NAME: $missing missing, $under under goal" >&2; exit 1; }
DDBFS fsck > /dev/null || { echo "$NAME: fsck failed" >&2; exit 1; }

mib() { echo "scale=1; $1 / 1048576" | bc -l; }
rate() { echo "scale=1; $1 / 1048576 / $2" | bc -l; }
data_bytes=$((GIB << 30))
echo
printf '%-52s %s\n' "data written (goal 2)" "$GIB GiB on 3 servers of --capacity-gib $CAP_GIB"
printf '%-52s %s\n' "limits" "--repair-mib-per-s $MIB_PER_S, --repair-copies $COPIES, --rebalance-margin-pct $MARGIN"
printf '%-52s %s -> %s points\n' "usage gap before the 4th server -> at the end" "$gap0" "$gap"
printf '%-52s %.1f s\n' "4th server started -> first move in flight" "$first_s"
printf '%-52s %.1f s\n' "4th server started -> even within the margin" "$even_s"
printf '%-52s %s MiB in %s chunks\n' "moved by the rebalancing" "$(mib "$moved")" "$chunks"
printf '%-52s %s MiB/s\n' "rebalancing throughput (moved / time to even)" "$(rate "$moved" "$even_s")"
printf '%-52s %s MiB/s\n' "client read, idle cluster" "$(rate "$data_bytes" "$idle_read_s")"
printf '%-52s %s MiB/s (%s moves still in flight after it)\n' "client read while the moves run" \
  "$(rate "$data_bytes" "$busy_read_s")" "$moving_after_read"
for i in 1 2 3 4; do
  printf '%-52s %s MiB\n' "replicas on server $i (du)" "$(($(du -sb "$WORK/chunk$i" | cut -f1) >> 20))"
done
