#!/usr/bin/env bash
# Repair figures (issue 9, docs/repair.md): on a private cluster of its own
# (a fresh PostgreSQL, a metaserver and 4 chunk servers on loopback, goal 2),
# writes N GiB of real data (random bytes, files of 256 MiB), kills one chunk
# server with kill -9, and measures
#   - the time from the kill until `ddbfs status` shows no chunk under goal
#     (detection: --heartbeat-timeout-ms, then the copies),
#   - the repair throughput (bytes the repair copied / time copying),
#   - a client's read throughput (ddbfs cat of the data) while the repair runs,
#     next to the same read with the cluster idle before the kill.
# Not a test: it prints figures. Must run as root (PostgreSQL runs as postgres).
#
#   ./bench/repair_bench.sh [GIB] [--mib-per-s 128] [--copies 4] [--heartbeat-ms 2000]
#
# GIB defaults to 2. Needs 2 x GIB of free disk under ${TMPDIR:-/var/tmp} (goal 2).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${DDBFS_BUILD_DIR:-$ROOT/build}/bin
GIB=2
MIB_PER_S=128
COPIES=4
HEARTBEAT_MS=2000
while (($#)); do
  case $1 in
    --mib-per-s) MIB_PER_S=$2; shift 2 ;;
    --copies) COPIES=$2; shift 2 ;;
    --heartbeat-ms) HEARTBEAT_MS=$2; shift 2 ;;
    [0-9]*) GIB=$1; shift ;;
    *) echo "usage: $0 [GIB] [--mib-per-s N] [--copies N] [--heartbeat-ms N]" >&2; exit 2 ;;
  esac
done
NAME=repair_bench
source "$ROOT/bench/private_cluster.sh"
META_PORT=$(free_port)
SOCK=$WORK/meta.sock
"$BIN/ddbfs-metaserver" --listen "127.0.0.1:$META_PORT" --unix-socket "$SOCK" \
  --db "$DB" --cluster-key-file "$WORK/cluster.key" \
  --heartbeat-timeout-ms "$HEARTBEAT_MS" --repair-copies "$COPIES" --repair-mib-per-s "$MIB_PER_S" \
  > "$WORK/logs/metaserver.log" 2>&1 &
PIDS+=($!)
wait_port "$META_PORT" 60 || { tail "$WORK/logs/metaserver.log" >&2; exit 1; }
CS_PIDS=()
for i in 1 2 3 4; do
  port=$(free_port)
  "$BIN/ddbfs-chunkserver" --listen "127.0.0.1:$port" --meta "127.0.0.1:$META_PORT" \
    --data "$WORK/chunk$i" --label "host$i" --cluster-key-file "$WORK/cluster.key" \
    > "$WORK/logs/chunkserver$i.log" 2>&1 &
  PIDS+=($!)
  CS_PIDS+=($!)
  wait_port "$port" 30 || { tail "$WORK/logs/chunkserver$i.log" >&2; exit 1; }
done
DDBFS() { "$BIN/ddbfs" --meta "unix:$SOCK" -q "$@"; }
status_field() {  # status_field NAME: one number from `ddbfs status --json`
  DDBFS status --json | awk -v k="\"$1\":" '{ for (i = 1; i <= NF; i++) if ($i == k) { v = $(i + 1); gsub(/[^0-9]/, "", v); print v; exit } }'
}
deadline=$((SECONDS + 30))
until [[ $(DDBFS status --json | grep -c '"alive": true') -eq 4 ]]; do
  ((SECONDS < deadline)) || { echo "repair_bench: chunk servers did not register" >&2; exit 1; }
  sleep 0.2
done

# N GiB of random bytes in files of 256 MiB, one source file reused with a
# different first block each time (so no two files are equal).
FILES=$((GIB * 4))
head -c $((256 << 20)) /dev/urandom > "$WORK/src.bin"
t=$(now)
for ((f = 0; f < FILES; f++)); do
  printf '%016d' "$f" | dd of="$WORK/src.bin" conv=notrunc status=none
  DDBFS add "$WORK/src.bin" "/f$f"
done
write_s=$(since "$t")
echo "wrote $GIB GiB ($FILES files of 256 MiB, goal 2) in $(printf '%.1f' "$write_s") s"

# Client read with the cluster idle (baseline).
t=$(now)
for ((f = 0; f < FILES; f++)); do DDBFS cat "/f$f" > /dev/null; done
idle_read_s=$(since "$t")

# The victim: the chunk server holding the most chunks.
victim=0 most=-1
for i in 0 1 2 3; do
  n=$(find "$WORK/chunk$((i + 1))" -name '*.chunk' | wc -l)
  if ((n > most)); then most=$n victim=$i; fi
done
held_bytes=$(du -sb "$WORK/chunk$((victim + 1))" | cut -f1)
copied0=$(status_field bytes_copied)
echo "killing chunk server $((victim + 1)) (kill -9): $most chunks, $((held_bytes >> 20)) MiB on disk"
kill -9 "${CS_PIDS[$victim]}"
t_kill=$(now)

# Read while the repair runs (started once the server is declared dead and
# the first copy is in flight).
until [[ $(status_field copies_in_flight) -gt 0 ]] || [[ $(status_field chunks_under_goal) -eq 0 && $(echo "$(since "$t_kill") > 30" | bc) -eq 1 ]]; do
  sleep 0.1
done
detect_s=$(since "$t_kill")
t=$(now)
for ((f = 0; f < FILES; f++)); do DDBFS cat "/f$f" > /dev/null; done
busy_read_s=$(since "$t")
under_after_read=$(status_field chunks_under_goal)

deadline=$((SECONDS + 3600))
until [[ $(status_field chunks_under_goal) -eq 0 ]]; do
  ((SECONDS < deadline)) || { echo "repair_bench: goal not restored within an hour" >&2; exit 1; }
  sleep 0.2
done
restore_s=$(since "$t_kill")
copied=$(($(status_field bytes_copied) - copied0))
chunks=$(status_field chunks_copied)
missing=$(status_field chunks_missing)
[[ $missing -eq 0 ]] || { echo "repair_bench: $missing chunks missing" >&2; exit 1; }

mib() { echo "scale=1; $1 / 1048576" | bc -l; }
rate() { echo "scale=1; $1 / 1048576 / $2" | bc -l; }
data_bytes=$((GIB << 30))
echo
printf '%-52s %s\n' "data written (goal 2)" "$GIB GiB"
printf '%-52s %s\n' "held by the killed server" "$(mib "$held_bytes") MiB, $most chunks"
printf '%-52s %s\n' "repair limits" "--repair-mib-per-s $MIB_PER_S, --repair-copies $COPIES, --heartbeat-timeout-ms $HEARTBEAT_MS"
printf '%-52s %.1f s\n' "kill -9 -> first copy in flight (detection)" "$detect_s"
printf '%-52s %.1f s\n' "kill -9 -> no chunk under goal" "$restore_s"
printf '%-52s %s MiB in %s chunks\n' "copied by the repair" "$(mib "$copied")" "$chunks"
printf '%-52s %s MiB/s\n' "repair throughput (copied / (restore - detection))" \
  "$(rate "$copied" "$(echo "$restore_s - $detect_s" | bc -l)")"
printf '%-52s %s MiB/s\n' "client read, idle cluster" "$(rate "$data_bytes" "$idle_read_s")"
printf '%-52s %s MiB/s (%s chunks still under goal after it)\n' "client read while the repair runs" \
  "$(rate "$data_bytes" "$busy_read_s")" "$under_after_read"
