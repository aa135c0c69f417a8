#!/usr/bin/env bash
# Side-by-side comparison of chunk server and mount builds on one cluster.
#
#   bench/ab_binaries.sh [--rounds N] [--workload seq|rand|small] NAME=BINDIR NAME=BINDIR ...
#
# Starts one private cluster (scripts/cluster in a temporary folder, its own
# ports, no TLS, deleted chunks kept 30 s so that rounds do not fill the
# disk), then for every round and every variant in turn: restarts the three
# chunk servers and the mount from that variant's BINDIR (ddbfs-chunkserver
# and ddbfs-mount; the metaserver and PostgreSQL stay), waits until the
# three are registered, and runs the workload:
#
#   seq    1 GiB sequential write with dd (1 MiB blocks, conv=fsync) and
#          with fio (end_fsync=1), then fio's sequential read with the
#          page cache dropped
#   rand   4 KiB random reads with O_DIRECT for 8 s, 1 job and 4 jobs, on
#          a 1 GiB file written once (page cache dropped before each)
#   small  3,000 files of 4 KiB: create (+sync), read (page cache
#          dropped), unlink
#
# Prints every round and, per figure, the median of each variant and its
# ratio to the first one. Variants alternate within each round, so a
# machine that gets slower or faster affects them alike. Needs root, fio,
# bc and a build (DDBFS_BUILD_DIR, default build/) for the metaserver, the
# CLI and the scripts. The cluster is removed at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${DDBFS_BUILD_DIR:-$ROOT/build}
ROUNDS=3
WORKLOAD=seq
PORT_BASE=${AB_PORT_BASE:-9720}
VARIANTS=()
die() { echo "ab_binaries: $*" >&2; exit 1; }
while (($#)); do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --workload) WORKLOAD=$2; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *=*) VARIANTS+=("$1"); shift ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
((${#VARIANTS[@]} >= 2)) || die "give at least two variants NAME=BINDIR"
[[ $WORKLOAD =~ ^(seq|rand|small)$ ]] || die "--workload is seq, rand or small"
for v in "${VARIANTS[@]}"; do
  for b in ddbfs-chunkserver ddbfs-mount; do
    [[ -x ${v#*=}/$b ]] || die "${v#*=}/$b is missing"
  done
done
[[ $(id -u) -eq 0 ]] || die "run as root (it drops the page cache and mounts)"
command -v fio > /dev/null || die "fio is missing (scripts/install-deps installs it)"

WORK=$(mktemp -d /tmp/ddbfs-ab.XXXXXX)
chmod 755 "$WORK"  # PostgreSQL runs as postgres and must reach its folder inside
MNT=$WORK/mnt
export DDBFS_CLUSTER_DIR=$WORK/cluster DDBFS_BUILD_DIR=$BUILD DDBFS_META_PORT=$PORT_BASE \
  DDBFS_CHUNK_PORTS="$((PORT_BASE + 1)) $((PORT_BASE + 2)) $((PORT_BASE + 3))" \
  DDBFS_PG_PORT=$((PORT_BASE + 4)) DDBFS_META_SOCKET=$WORK/cluster/run/meta.sock \
  DDBFS_MOUNT=$MNT DDBFS_TLS=off DDBFS_METASERVER_ARGS="--chunk-retention-s 30"
SOCK=$DDBFS_META_SOCKET
CS_PIDS=()

# Unmounts this run's mount if it is mounted and stops the chunk servers it
# started, waiting until they are gone. A failure to unmount or to signal a
# live server is an error, said on stderr.
stop_variant() {
  local p
  if mountpoint -q "$MNT"; then
    fusermount3 -u "$MNT" || echo "ab_binaries: cannot unmount $MNT" >&2
  fi
  for p in "${CS_PIDS[@]}"; do
    if kill -0 "$p" 2> /dev/null; then
      kill -TERM "$p" || echo "ab_binaries: cannot stop chunk server $p" >&2
    fi
  done
  for p in "${CS_PIDS[@]}"; do while kill -0 "$p" 2> /dev/null; do sleep 0.1; done; done
  CS_PIDS=()
}

cleanup() {
  stop_variant
  "$ROOT/scripts/cluster" destroy > "$WORK/destroy.log" 2>&1 ||
    echo "ab_binaries: the cluster did not stop cleanly; see $WORK/destroy.log" >&2
  rm -rf "$WORK/mnt" "$WORK/cluster"
}
trap cleanup EXIT

echo "ab_binaries: starting a cluster in $WORK" >&2
"$ROOT/scripts/cluster" up > "$WORK/up.log" 2>&1 || { tail -5 "$WORK/up.log" >&2; die "cluster up failed"; }
fusermount3 -u "$MNT"
for i in 1 2 3; do kill -TERM "$(cat "$DDBFS_CLUSTER_DIR/chunkserver$i.pid")"; done

alive() {
  "$BUILD/bin/ddbfs" --meta "unix:$SOCK" status --json 2> /dev/null | grep -o '"alive": *true' | wc -l
}

# restart BINDIR: the chunk servers and the mount from BINDIR.
restart() {
  local bin=$1 i
  stop_variant
  for i in 1 2 3; do
    "$bin/ddbfs-chunkserver" --listen "127.0.0.1:$((PORT_BASE + i))" --meta "127.0.0.1:$PORT_BASE" \
      --data "$DDBFS_CLUSTER_DIR/chunk$i" --cluster-key-file "$DDBFS_CLUSTER_DIR/secrets/cluster.key" \
      >> "$WORK/chunkserver$i.log" 2>&1 < /dev/null &
    CS_PIDS+=($!)
  done
  for i in 1 2 3; do
    local k
    for k in $(seq 1 600); do
      (exec 3<> "/dev/tcp/127.0.0.1/$((PORT_BASE + i))") 2> /dev/null && break
      sleep 0.1
    done
  done
  # A restarted server registers within a heartbeat; the old registration
  # may still count as alive until then, so wait a little first.
  sleep 3
  local n=0
  for k in $(seq 1 100); do
    n=$(alive)
    ((n >= 3)) && break
    sleep 0.3
  done
  ((n >= 3)) || die "only $n chunk servers registered (see $WORK/chunkserver*.log)"
  "$bin/ddbfs-mount" --meta "unix:$SOCK" "$MNT" -o allow_other || die "cannot mount with $bin"
}

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
fio_field() {  # fio_field FIELD ARGS...: a field of fio's terse output; fails on an error
  local field=$1 out
  shift
  out=$(fio --output-format=terse "$@" 2>&1) || die "fio failed: $out"
  [[ $(echo "$out" | wc -l) -eq 1 ]] || die "fio: $out"
  echo "$out" | awk -F';' -v f="$field" '{ print $f }'
}

declare -A SAMPLES=()
FIGURES=()
record() {  # record NAME FIGURE VALUE
  [[ " ${FIGURES[*]} " == *" $2 "* ]] || FIGURES+=("$2")
  SAMPLES["$1|$2"]+="$3 "
}

run_workload() {
  local name=$1 line="" out
  case $WORKLOAD in
    seq)
      out=$(dd if=/dev/zero of="$MNT/seq" bs=1M count=1024 conv=fsync 2>&1) || die "dd failed: $out"
      rm "$MNT/seq"
      local dd_mbs; dd_mbs=$(echo "$out" | tail -1 | awk '{ print $(NF-1) }')
      local w; w=$(fio_field 48 --name=w --filename="$MNT/fio" --rw=write --bs=1M --size=1G --end_fsync=1)
      drop
      local r; r=$(fio_field 7 --name=r --filename="$MNT/fio" --rw=read --bs=1M --size=1G)
      rm -f "$MNT/fio"
      record "$name" "dd-write-MB/s" "$dd_mbs"
      record "$name" "fio-write-MiB/s" "$((w / 1024))"
      record "$name" "fio-read-MiB/s" "$((r / 1024))"
      line="dd write $dd_mbs MB/s, fio write $((w / 1024)) MiB/s, fio read $((r / 1024)) MiB/s" ;;
    rand)
      [[ -f $MNT/rfile ]] ||
        fio --name=p --filename="$MNT/rfile" --rw=write --bs=1M --size=1G --end_fsync=1 > /dev/null
      drop
      local one; one=$(fio_field 8 --name=r1 --filename="$MNT/rfile" --rw=randread --bs=4k --direct=1 \
        --size=1G --time_based --runtime=8)
      drop
      local four; four=$(fio_field 8 --name=r4 --filename="$MNT/rfile" --rw=randread --bs=4k --direct=1 \
        --size=1G --numjobs=4 --group_reporting --time_based --runtime=8)
      record "$name" "randread-1job-IOPS" "$one"
      record "$name" "randread-4jobs-IOPS" "$four"
      line="random 4 KiB reads: 1 job $one IOPS, 4 jobs $four IOPS" ;;
    small)
      local n=3000 c rd u
      mkdir -p "$MNT/s"
      c=$("$WORK/fs_ops" create "$MNT/s" $n); drop
      rd=$("$WORK/fs_ops" read "$MNT/s" $n)
      u=$("$WORK/fs_ops" unlink "$MNT/s" $n); rmdir "$MNT/s"
      c=$(echo "$n / $c" | bc); rd=$(echo "$n / $rd" | bc); u=$(echo "$n / $u" | bc)
      record "$name" "create/s" "$c"; record "$name" "read/s" "$rd"; record "$name" "unlink/s" "$u"
      line="create $c/s, read $rd/s, unlink $u/s" ;;
  esac
  echo "$line"
}

[[ $WORKLOAD != small ]] || gcc -O2 -o "$WORK/fs_ops" "$ROOT/bench/fs_ops.c" || die "cannot build fs_ops"
for r in $(seq 1 "$ROUNDS"); do
  for v in "${VARIANTS[@]}"; do
    name=${v%%=*}
    restart "${v#*=}"
    run_workload "$name" > "$WORK/line"  # not in $(...): the samples must stay in this shell
    printf 'round %d %-12s %s\n' "$r" "$name" "$(cat "$WORK/line")"
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo
first=${VARIANTS[0]%%=*}
printf '%-22s' "median of $ROUNDS"
for v in "${VARIANTS[@]}"; do printf ' %14s' "${v%%=*}"; done
for v in "${VARIANTS[@]:1}"; do printf ' %14s' "${v%%=*}/$first"; done
echo
for f in "${FIGURES[@]}"; do
  printf '%-22s' "$f"
  declare -A MED=()
  for v in "${VARIANTS[@]}"; do
    MED[${v%%=*}]=$(echo "${SAMPLES["${v%%=*}|$f"]}" | median)
    printf ' %14s' "${MED[${v%%=*}]}"
  done
  for v in "${VARIANTS[@]:1}"; do
    printf ' %14s' "$(awk -v a="${MED[${v%%=*}]}" -v b="${MED[$first]}" 'BEGIN { printf "%.2fx", a / b }')"
  done
  echo
done
