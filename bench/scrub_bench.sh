#!/usr/bin/env bash
# Scrubbing figures (issue 9, docs/repair.md "Scrubbing"): on a private
# cluster of its own (a fresh PostgreSQL, a metaserver and 2 chunk servers on
# loopback, goal 2), writes N GiB of random bytes (files of 256 MiB), then
# measures one full scrub pass of chunk server 1 at --scrub-mib-per-s M
# (0: no limit): the rate the pass achieved (from its log line) and the CPU
# the chunk server used meanwhile (utime + stime from /proc).
# Not a test: it prints figures. Must run as root (PostgreSQL runs as postgres).
#
#   ./bench/scrub_bench.sh [GIB] [--mib-per-s 16]
#
# GIB defaults to 1. Needs 2 x GIB of free disk under ${TMPDIR:-/var/tmp}.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${DDBFS_BUILD_DIR:-$ROOT/build}/bin
GIB=1
MIB_PER_S=16
while (($#)); do
  case $1 in
    --mib-per-s) MIB_PER_S=$2; shift 2 ;;
    [0-9]*) GIB=$1; shift ;;
    *) echo "usage: $0 [GIB] [--mib-per-s N]" >&2; exit 2 ;;
  esac
done
NAME=scrub_bench
source "$ROOT/bench/private_cluster.sh"
META_PORT=$(free_port)
SOCK=$WORK/meta.sock
"$BIN/ddbfs-metaserver" --listen "127.0.0.1:$META_PORT" --unix-socket "$SOCK" \
  --db "$DB" --cluster-key-file "$WORK/cluster.key" \
  > "$WORK/logs/metaserver.log" 2>&1 &
PIDS+=($!)
wait_port "$META_PORT" 60 || { tail "$WORK/logs/metaserver.log" >&2; exit 1; }
CS_PIDS=()
for i in 1 2; do
  port=$(free_port)
  "$BIN/ddbfs-chunkserver" --listen "127.0.0.1:$port" --meta "127.0.0.1:$META_PORT" \
    --data "$WORK/chunk$i" --label "host$i" --cluster-key-file "$WORK/cluster.key" \
    --scrub-interval-s 1 --scrub-mib-per-s "$MIB_PER_S" \
    > "$WORK/logs/chunkserver$i.log" 2>&1 &
  PIDS+=($!)
  CS_PIDS+=($!)
  wait_port "$port" 30 || { tail "$WORK/logs/chunkserver$i.log" >&2; exit 1; }
done
DDBFS() { "$BIN/ddbfs" --meta "unix:$SOCK" -q "$@"; }
deadline=$((SECONDS + 30))
until [[ $(DDBFS status --json | grep -c '"alive": true') -eq 2 ]]; do
  ((SECONDS < deadline)) || { echo "scrub_bench: chunk servers did not register" >&2; exit 1; }
  sleep 0.2
done

FILES=$((GIB * 4))
head -c $((256 << 20)) /dev/urandom > "$WORK/src.bin"
for ((f = 0; f < FILES; f++)); do
  printf '%016d' "$f" | dd of="$WORK/src.bin" conv=notrunc status=none
  DDBFS add "$WORK/src.bin" "/f$f"
done
rm -f "$WORK/src.bin"
echo "wrote $GIB GiB ($FILES files of 256 MiB, goal 2)"

LOG=$WORK/logs/chunkserver1.log
passes() { grep -c 'scrub: pass done' "$LOG" || [[ $? -eq 1 ]]; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/${CS_PIDS[0]}/stat"; }
want_mib=$((GIB * 1024 * 9 / 10))
# Wait for the pass that runs now (it may have started before the data was
# all there) to end, then measure the next one whole.
start=$(passes)
deadline=$((SECONDS + 7200))
until (($(passes) > start)); do
  ((SECONDS < deadline)) || { echo "scrub_bench: no pass ended" >&2; exit 1; }
  sleep 0.2
done
sleep 0.5
start=$(passes)
ticks0=$(cpu_ticks)
until (($(passes) > start)); do
  ((SECONDS < deadline)) || { echo "scrub_bench: no pass ended" >&2; exit 1; }
  sleep 0.2
done
ticks1=$(cpu_ticks)
line=$(grep 'scrub: pass done' "$LOG" | tail -1)
mib=$(echo "$line" | sed -E 's/.* replicas, ([0-9.e+]+) MiB in ([0-9.e+]+) s \(([0-9.e+]+) MiB\/s\).*/\1/')
secs=$(echo "$line" | sed -E 's/.* replicas, ([0-9.e+]+) MiB in ([0-9.e+]+) s \(([0-9.e+]+) MiB\/s\).*/\2/')
rate=$(echo "$line" | sed -E 's/.* replicas, ([0-9.e+]+) MiB in ([0-9.e+]+) s \(([0-9.e+]+) MiB\/s\).*/\3/')
hz=$(getconf CLK_TCK)
cpu_s=$(echo "scale=2; ($ticks1 - $ticks0) / $hz" | bc -l)
echo
echo "log: $line"
printf '%-44s %s\n' "limit" "--scrub-mib-per-s $MIB_PER_S"
printf '%-44s %s MiB in %s s\n' "one full pass of chunk server 1" "$mib" "$secs"
printf '%-44s %s MiB/s\n' "scrub rate achieved" "$rate"
printf '%-44s %s s (%s%% of one core)\n' "chunk server CPU during the pass" "$cpu_s" \
  "$(echo "scale=1; 100 * $cpu_s / $secs" | bc -l)"
(( $(echo "$mib >= $want_mib" | bc -l) )) || echo "scrub_bench: the pass read less than the data ($mib MiB)" >&2
