#!/usr/bin/env bash
# DDBFS next to three other file systems, on one workload, in one command.
# Everything runs on this machine, over loopback, on the same disk:
#
#   DDBFS           a private cluster (scripts/cluster: PostgreSQL, metaserver,
#                   three chunk servers, goal 2) through ddbfs-mount
#   MooseFS         a private cluster (bench/moosefs.sh: master, three chunk
#                   servers, goal 2, trash time 0) through mfsmount
#   passthrough_ll  libfuse's example file system, compiled here, over a local
#                   folder: what going through FUSE costs by itself
#   local           a plain folder
#
# The workload, in this order, on each system in turn:
#   - sequential write of one file (default 1 GiB) in 1 MiB blocks, ending with
#     fsync (fio end_fsync=1); sequential read of it, page cache dropped
#   - 4 KiB random reads with O_DIRECT over that file for --runtime seconds,
#     1 job, then 4 jobs (fio)
#   - 10,000 files of 4 KiB in one folder: create (open/write/close each, then
#     sync), stat each, read each (and compare the bytes), `ls -l`, delete each
#   - 100 folders with 100 subfolders each: mkdir all (then sync), rmdir all
#   - `tar x` of a tarball of /usr/include (then sync), `rm -rf` of it
# The steps that write end with sync, so that every system's data is on disk
# (for DDBFS that is the chunk servers' files; its close commits the data but
# syncs it only at an fsync, like the others); deletes do not (a sync after them
# would time the disk's discards on the local file systems).
# The page cache is dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before
# every step. The file and folder loops are bench/fs_ops.c (plain syscalls).
# Every result is checked: the big file against fio's checksums, the small
# files byte by byte, the untarred tree by its number of entries and bytes.
# passthrough_ll holds a descriptor per cached inode: with a tree of more
# entries than its descriptor limit, it gets no tar x / rm -rf figures.
#
# Rounds alternate between the systems (each round starts with the next one);
# the table shows the median of the rounds and DDBFS's ratio to each other
# system, >1 meaning DDBFS is faster.
#
#   ./bench/fs_compare.sh [--rounds N] [--size-mib N] [--runtime S] [--files N]
#                         [--dirs N] [--tar-src DIR] [--systems LIST]
#                         [--port-base N] [--step-timeout S] [--quick]
#
#   --rounds N        rounds (default 3)
#   --size-mib N      size of the sequential file (default 1024)
#   --runtime S       seconds of each random-read run (default 15)
#   --files N         small files (default 10000)
#   --dirs N          N folders of N subfolders each (default 100)
#   --tar-src DIR     the tree to tar up and extract (default /usr/include)
#   --systems LIST    comma-separated subset of ddbfs,moosefs,passthrough,local
#   --port-base N     DDBFS uses N..N+4 (metaserver, chunk servers, PostgreSQL),
#                     MooseFS N+10..N+15 (default 9640)
#   --step-timeout S  a step that takes longer is stopped and its system
#                     counted as hung (default 1800)
#   --quick           a smoke run: 1 round, 64 MiB, 3 s, 1,000 files, 20 x 20
#                     folders, /usr/include/linux (options after it still apply)
#
# Needs root (dropping the page cache, FUSE, the MooseFS daemons). Installs
# its packages with `scripts/install-deps --bench`. DDBFS is built in
# $DDBFS_BUILD_DIR (default /work/build-bench). All state lives in a folder
# under $TMPDIR (default /var/tmp), removed at the end with every mount and
# process, also when the run fails or is interrupted. Exits 1 when a step
# failed on any system (the table is printed all the same).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${DDBFS_BUILD_DIR:-/work/build-bench}

ROUNDS=3
SIZE_MIB=1024
RUNTIME=15
NFILES=10000
NDIRS=100
TAR_SRC=/usr/include
SYSTEMS=ddbfs,moosefs,passthrough,local
PORT_BASE=9640
STEP_TIMEOUT=1800

say() { printf 'fs_compare: %s\n' "$*"; }
die() { printf 'fs_compare: %s\n' "$*" >&2; exit 1; }
usage() { echo "usage: $0 [--rounds N] [--size-mib N] [--runtime S] [--files N] [--dirs N] [--tar-src DIR] [--systems LIST] [--port-base N] [--step-timeout S] [--quick] (--help)" >&2; exit 2; }

for arg in "$@"; do
  if [[ $arg == --quick ]]; then
    ROUNDS=1 SIZE_MIB=64 RUNTIME=3 NFILES=1000 NDIRS=20 TAR_SRC=/usr/include/linux STEP_TIMEOUT=600
  fi
done
number() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 wants a positive number, not '$2'"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) shift ;;
    --rounds) number "$1" "${2:-}"; ROUNDS=$2; shift 2 ;;
    --size-mib) number "$1" "${2:-}"; SIZE_MIB=$2; shift 2 ;;
    --runtime) number "$1" "${2:-}"; RUNTIME=$2; shift 2 ;;
    --files) number "$1" "${2:-}"; NFILES=$2; shift 2 ;;
    --dirs) number "$1" "${2:-}"; NDIRS=$2; shift 2 ;;
    --tar-src) [[ -d ${2:-} ]] || die "--tar-src wants a folder"; TAR_SRC=$(cd "$2" && pwd); shift 2 ;;
    --systems) SYSTEMS=${2:-}; shift 2 ;;
    --port-base) number "$1" "${2:-}"; PORT_BASE=$2; shift 2 ;;
    --step-timeout) number "$1" "${2:-}"; STEP_TIMEOUT=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
  esac
done

# The systems, in the order of the table.
ALL_SYSTEMS=(ddbfs moosefs passthrough local)
declare -A NAME=([ddbfs]=DDBFS [moosefs]=MooseFS [passthrough]=passthrough_ll [local]=local)
declare -A WANTED=()
IFS=, read -r -a _wanted <<< "$SYSTEMS"
for s in "${_wanted[@]}"; do
  [[ -n ${NAME[$s]:-} ]] || die "unknown system '$s' in --systems (ddbfs, moosefs, passthrough, local)"
  WANTED[$s]=1
done
SYS=()
for s in "${ALL_SYSTEMS[@]}"; do [[ -z ${WANTED[$s]:-} ]] || SYS+=("$s"); done

[[ $(id -u) -eq 0 ]] || die "must run as root: it drops the page cache and starts FUSE mounts and MooseFS daemons"
[[ -w /proc/sys/vm/drop_caches ]] || die "cannot write /proc/sys/vm/drop_caches (a container without it?)"

# ---------------------------------------------------------------- clean-up
WORK=
LIMIT_PID=
PT_PID=
DDBFS_STARTED=0
MFS_STARTED=0
DDBFS_ENV=()

ddbfs_cluster() { env "${DDBFS_ENV[@]}" "$ROOT/scripts/cluster" "$@"; }

stop_passthrough() {
  local mnt=$WORK/pt-mnt
  if grep -qs " $mnt fuse" /proc/mounts; then
    if ! fusermount3 -u "$mnt" 2> /dev/null; then
      say "passthrough_ll mount is busy; detaching it lazily"
      umount -l "$mnt"
    fi
  fi
  local deadline=$((SECONDS + 10))
  while kill -0 "$PT_PID" 2> /dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$PT_PID" 2> /dev/null; then
    say "passthrough_ll (pid $PT_PID) still runs after the unmount; killing it"
    kill -KILL "$PT_PID"
  fi
  PT_PID=
}

# The script's own output, for the clean-up: a signal may arrive while a
# step's output is redirected to a file. (The daemons started below do not
# inherit these two descriptors.)
exec 3>&1 4>&2
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  exec 1>&3 2>&4
  if [[ -n $LIMIT_PID ]] && kill -0 "$LIMIT_PID" 2> /dev/null; then
    kill -TERM "$LIMIT_PID"
    wait "$LIMIT_PID"
  fi
  [[ -z $WORK ]] && exit "$rc"
  say "cleaning up"
  [[ -z $PT_PID ]] || stop_passthrough
  if [[ $MFS_STARTED == 1 ]]; then
    "$ROOT/bench/moosefs.sh" down "$WORK/moosefs" > "$WORK/moosefs-down.log" 2>&1 ||
      { cat "$WORK/moosefs-down.log" >&2; say "MooseFS did not stop cleanly (see above)"; rc=1; }
  fi
  if [[ $DDBFS_STARTED == 1 ]]; then
    ddbfs_cluster destroy > "$WORK/ddbfs-destroy.log" 2>&1 ||
      { cat "$WORK/ddbfs-destroy.log" >&2; say "the DDBFS cluster did not stop cleanly (see above)"; rc=1; }
  fi
  if grep -qs " $WORK/" /proc/mounts; then
    say "something is still mounted under $WORK; left it in place:"
    grep " $WORK/" /proc/mounts >&2
    rc=1
  else
    rm -rf --one-file-system "$WORK"
  fi
  exit "$rc"
}
on_signal() { say "interrupted" >&3; exit 130; }
trap cleanup EXIT
trap on_signal INT TERM

# limit CMD...: CMD with the step time limit (exit 124 when it was stopped).
# In the background with `wait`, so that a Ctrl-C is handled at once.
limit() {
  LAST_CMD="$*"
  timeout -k 10 "$STEP_TIMEOUT" "$@" &
  LIMIT_PID=$!
  local rc=0
  wait "$LIMIT_PID" || rc=$?
  LIMIT_PID=
  return "$rc"
}

drop_caches() { limit sync && echo 3 > /proc/sys/vm/drop_caches; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

# ---------------------------------------------------------------- set-up
RUN_START=$SECONDS
"$ROOT/scripts/install-deps" -q --bench
for tool in fio gcc pkg-config tar timeout fusermount3; do
  command -v "$tool" > /dev/null || die "$tool is missing after scripts/install-deps --bench"
done
ports_free() {  # ports_free FIRST LAST
  local p
  for ((p = $1; p <= $2; p++)); do
    port_free "$p" || die "port $p is in use; choose other ports with --port-base"
  done
}
[[ -z ${WANTED[ddbfs]:-} ]] || ports_free "$PORT_BASE" $((PORT_BASE + 4))
[[ -z ${WANTED[moosefs]:-} ]] || ports_free $((PORT_BASE + 10)) $((PORT_BASE + 15))

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/fs-compare.XXXXXX")
# The MooseFS daemons (user mfs) and PostgreSQL (user postgres) enter it.
chmod 755 "$WORK"
case $(stat -f -c %T "$WORK") in
  tmpfs | ramfs) die "$WORK is in memory; set TMPDIR to a folder on a disk" ;;
esac
say "work folder $WORK ($(df --output=source "$WORK" | tail -1))"
mkdir -p "$WORK/bin"

gcc -O2 -Wall -Wextra -Werror -o "$WORK/bin/fs_ops" "$ROOT/bench/fs_ops.c" ||
  die "cannot compile bench/fs_ops.c"
FS_OPS=$WORK/bin/fs_ops

if [[ -n ${WANTED[passthrough]:-} ]]; then
  # The example and the header it includes, either of them maybe gzipped.
  examples=/usr/share/doc/libfuse3-dev/examples
  for f in passthrough_ll.c passthrough_helpers.h; do
    if [[ -f $examples/$f ]]; then
      cp "$examples/$f" "$WORK/bin/$f"
    elif [[ -f $examples/$f.gz ]]; then
      gzip -dc "$examples/$f.gz" > "$WORK/bin/$f"
    else
      die "$examples/$f is missing (package libfuse3-dev)"
    fi
  done
  read -r -a fuse_flags <<< "$(pkg-config fuse3 --cflags --libs)"
  gcc -O2 -o "$WORK/bin/passthrough_ll" "$WORK/bin/passthrough_ll.c" "${fuse_flags[@]}" \
    2> "$WORK/passthrough_ll-build.log" ||
    { cat "$WORK/passthrough_ll-build.log" >&2; die "cannot compile libfuse's passthrough_ll.c"; }
fi

say "making the tarball of $TAR_SRC"
TARBALL=$WORK/tree.tar
tar -cf "$TARBALL" -C "$(dirname "$TAR_SRC")" "$(basename "$TAR_SRC")" ||
  die "cannot tar $TAR_SRC"
TAR_ENTRIES=$(tar -tf "$TARBALL" | wc -l)
TAR_BYTES=$(tar -tvf "$TARBALL" | awk '$1 ~ /^-/ { s += $3 } END { print s + 0 }')
TAR_MB=$(awk -v b="$(stat -c %s "$TARBALL")" 'BEGIN { printf "%.0f", b / 1e6 }')

declare -A MOUNT=()
if [[ -n ${WANTED[ddbfs]:-} ]]; then
  DDBFS_ENV=(DDBFS_CLUSTER_DIR="$WORK/ddbfs" DDBFS_BUILD_DIR="$BUILD"
             DDBFS_META_PORT="$PORT_BASE"
             DDBFS_CHUNK_PORTS="$((PORT_BASE + 1)) $((PORT_BASE + 2)) $((PORT_BASE + 3))"
             DDBFS_PG_PORT="$((PORT_BASE + 4))" DDBFS_META_SOCKET="$WORK/ddbfs/run/meta.sock"
             DDBFS_MOUNT="$WORK/ddbfs-mnt" DDBFS_TLS=off)
  say "starting DDBFS (building in $BUILD first; the first build takes a few minutes)"
  DDBFS_STARTED=1
  ddbfs_cluster up > "$WORK/ddbfs-up.log" 2>&1 3>&- 4>&- ||
    { tail -15 "$WORK/ddbfs-up.log" >&2; die "the DDBFS cluster did not come up (see above)"; }
  MOUNT[ddbfs]=$WORK/ddbfs-mnt
fi
if [[ -n ${WANTED[moosefs]:-} ]]; then
  say "starting MooseFS"
  MFS_STARTED=1
  "$ROOT/bench/moosefs.sh" up "$WORK/moosefs" $((PORT_BASE + 10)) > "$WORK/moosefs-up.log" 2>&1 3>&- 4>&- ||
    { cat "$WORK/moosefs-up.log" >&2; die "MooseFS did not come up (see above)"; }
  MOUNT[moosefs]=$WORK/moosefs/mnt
fi
if [[ -n ${WANTED[passthrough]:-} ]]; then
  say "mounting passthrough_ll"
  mkdir -p "$WORK/pt-src" "$WORK/pt-mnt"
  # Foreground under setsid: its pid is known, a Ctrl-C does not reach it.
  # It keeps a descriptor open for every inode the kernel has in its cache,
  # so it may open as many as it can.
  (ulimit -n "$(ulimit -Hn)"
   exec setsid "$WORK/bin/passthrough_ll" -f -o "source=$WORK/pt-src" "$WORK/pt-mnt") \
    < /dev/null > "$WORK/passthrough_ll.log" 2>&1 3>&- 4>&- &
  PT_PID=$!
  deadline=$((SECONDS + 20))
  until grep -qs " $WORK/pt-mnt fuse" /proc/mounts; do
    kill -0 "$PT_PID" 2> /dev/null || { cat "$WORK/passthrough_ll.log" >&2; die "passthrough_ll exited"; }
    ((SECONDS < deadline)) || die "passthrough_ll did not mount within 20 s"
    sleep 0.1
  done
  MOUNT[passthrough]=$WORK/pt-mnt
fi
if [[ -n ${WANTED[local]:-} ]]; then
  mkdir -p "$WORK/local"
  MOUNT[local]=$WORK/local
fi

# ---------------------------------------------------------------- the steps
# Each step_* works in $GDIR (the folder of its group on the system under
# test) and sets FIG, its figure; on failure it returns non-zero with the
# reason on stderr.
FIG=
GDIR=
LAST_CMD=
OUT=$WORK/step.out

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
per_second() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / s }'; }

FIO_COMMON=(--ioengine=psync --fallocate=none --output-format=terse --terse-version=3)

# fio_figure FIELD SCALE: a field of the terse output in $OUT times SCALE.
# Terse version 3: $5 error, $7 read KiB/s, $8 read IOPS, $48 write KiB/s.
fio_figure() {
  FIG=$(awk -F';' -v f="$1" -v s="$2" '
          $1 == "3" { if ($5 != 0) { print "fio reported error " $5 > "/dev/stderr"; bad = 1; exit }
                      printf "%.1f\n", $f * s; n++ }
          END { if (bad || n != 1) exit 1 }' "$OUT") ||
    { echo "no fio result in its output" >&2; return 1; }
}

# The write job; fio writes a checksum into every block, for step_check_big.
big_write_job() {
  BIG_JOB=(--name=seq --filename="$GDIR/big" --size="${SIZE_MIB}M" --bs=1M --rw=write --verify=crc32c
           --verify_state_save=0)
}

step_seq_write() {
  big_write_job
  limit fio "${FIO_COMMON[@]}" "${BIG_JOB[@]}" --do_verify=0 --end_fsync=1 --output="$OUT" || return
  fio_figure 48 0.001024
}

step_seq_read() {
  limit fio "${FIO_COMMON[@]}" --name=seqread --filename="$GDIR/big" --size="${SIZE_MIB}M" \
    --bs=1M --rw=read --output="$OUT" || return
  fio_figure 7 0.001024
}

rand_read() {
  limit fio "${FIO_COMMON[@]}" --name=randread --filename="$GDIR/big" --size="${SIZE_MIB}M" \
    --bs=4k --rw=randread --direct=1 --time_based --runtime="$RUNTIME" --numjobs="$1" \
    --group_reporting --output="$OUT" || return
  fio_figure 8 1
}
step_rand1() { rand_read 1; }
step_rand4() { rand_read 4; }

# Not timed: fio reads the whole file back and checks every block's checksum.
step_check_big() {
  big_write_job
  limit fio "${FIO_COMMON[@]}" "${BIG_JOB[@]}" --verify_only=1 --output="$OUT" || return
  FIG=
}

fs_ops_step() {  # fs_ops_step COUNT OP ARGS...: FIG = COUNT / seconds
  local count=$1
  shift
  limit "$FS_OPS" "$@" > "$OUT" || return
  FIG=$(per_second "$count" "$(cat "$OUT")")
}
step_create() { fs_ops_step "$NFILES" create "$GDIR" "$NFILES"; }
step_stat() { fs_ops_step "$NFILES" stat "$GDIR" "$NFILES"; }
step_read() { fs_ops_step "$NFILES" read "$GDIR" "$NFILES"; }
step_delete() { fs_ops_step "$NFILES" unlink "$GDIR" "$NFILES"; }
step_ls() {
  local t0
  t0=$(now)
  LC_ALL=C limit ls -l "$GDIR" > "$OUT" || return
  FIG=$(elapsed "$t0" "$(now)")
  local lines
  lines=$(grep -c '^-' "$OUT") || lines=0
  [[ $lines == "$NFILES" ]] || { echo "ls -l listed $lines files, not $NFILES" >&2; return 1; }
}

NTREE=$((NDIRS + NDIRS * NDIRS))
step_mkdir() { fs_ops_step "$NTREE" mkdir "$GDIR" "$NDIRS" "$NDIRS"; }
step_rmdir() { fs_ops_step "$NTREE" rmdir "$GDIR" "$NDIRS" "$NDIRS"; }

step_untar() {
  local t0
  t0=$(now)
  limit tar -xf "$TARBALL" -C "$GDIR" || return
  limit sync || return
  FIG=$(elapsed "$t0" "$(now)")
}
# Not timed: as many entries and as many bytes as in the tarball.
step_check_untar() {
  local entries bytes
  entries=$(cd "$GDIR" && limit find . -mindepth 1 | wc -l) || return
  bytes=$(limit find "$GDIR" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }') || return
  [[ $entries == "$TAR_ENTRIES" ]] ||
    { echo "tar x made $entries entries, the tarball has $TAR_ENTRIES" >&2; return 1; }
  [[ $bytes == "$TAR_BYTES" ]] ||
    { echo "tar x made $bytes bytes of files, the tarball has $TAR_BYTES" >&2; return 1; }
  FIG=
}
step_rmrf() {
  local t0 tree
  tree=$GDIR/$(basename "$TAR_SRC")
  t0=$(now)
  limit rm -rf "$tree" || return
  FIG=$(elapsed "$t0" "$(now)")
  [[ ! -e $tree ]] || { echo "$tree is still there after rm -rf" >&2; return 1; }
}

# The figures: key, kind (rate: more is better; time: less is better), unit, label.
METRICS=(seq_write seq_read rand1 rand4 create stat read ls delete mkdir rmdir untar rmrf)
declare -A KIND=([ls]=time [untar]=time [rmrf]=time)
declare -A UNIT=([seq_write]=MB/s [seq_read]=MB/s [rand1]=IOPS [rand4]=IOPS [create]=files/s
                 [stat]=files/s [read]=files/s [ls]=s [delete]=files/s [mkdir]=dirs/s
                 [rmdir]=dirs/s [untar]=s [rmrf]=s)
size_label=$(awk -v m="$SIZE_MIB" 'BEGIN { if (m % 1024 == 0) printf "%d GiB", m / 1024; else printf "%d MiB", m }')
declare -A LABEL=(
  [seq_write]="seq write $size_label, 1 MiB, fsync"
  [seq_read]="seq read $size_label, 1 MiB, cold"
  [rand1]="4 KiB random read, O_DIRECT, 1 job"
  [rand4]="4 KiB random read, O_DIRECT, 4 jobs"
  [create]="create $NFILES x 4 KiB (+sync)"
  [stat]="stat $NFILES files"
  [read]="read $NFILES files"
  [ls]="ls -l of $NFILES files"
  [delete]="delete $NFILES files"
  [mkdir]="mkdir ${NDIRS}x${NDIRS} folders (+sync)"
  [rmdir]="rmdir ${NDIRS}x${NDIRS} folders"
  [untar]="tar x $(basename "$TAR_SRC") (+sync)"
  [rmrf]="rm -rf of it"
)
# Groups of steps on one folder; a failed step skips the rest of its group.
STEP_GROUPS=("big:seq_write seq_read rand1 rand4 check_big" "small:create stat read ls delete"
        "tree:mkdir rmdir" "untar:untar check_untar rmrf")

declare -A VALUES=()  # "system metric" -> the figures of the rounds, space-separated
declare -A HUNG=()
FAILURES=()

# run_step SYSTEM ROUND STEP: one step, the page cache dropped first.
run_step() {
  local sys=$1 round=$2 step=$3 rc=0
  FIG=
  : > "$WORK/step.err"
  drop_caches 2> "$WORK/step.err" || rc=$?
  if ((rc == 0)); then "step_$step" 2> "$WORK/step.err" || rc=$?; fi
  if ((rc == 0)); then
    if [[ -n $FIG ]]; then
      VALUES["$sys $step"]+=" $FIG"
      printf '  round %d  %-15s %-40s %12s %s\n' "$round" "${NAME[$sys]}" "${LABEL[$step]}" "$FIG" "${UNIT[$step]}"
    fi
    return 0
  fi
  local why
  if ((rc == 124 || rc == 137)); then
    why="no answer within $STEP_TIMEOUT s, stopped (hang?); the rest of the run skips ${NAME[$sys]}"
    HUNG[$sys]=1
  else
    why="exit $rc: $(awk 'NF && n++ < 3' "$WORK/step.err" | tr '\n' ' ')"
  fi
  FAILURES+=("${NAME[$sys]}, round $round, step $step: \`$LAST_CMD\`: $why")
  say "FAILED: ${FAILURES[-1]}"
  return 1
}

# passthrough_ll holds an O_PATH descriptor for every inode the kernel caches,
# and the kernel keeps every inode of the extracted tree: with more entries
# than its descriptor limit, `tar x` fails with EMFILE. (The limit can be
# raised only up to the hard limit without CAP_SYS_RESOURCE.)
PT_MAX_INODES=$(($(ulimit -Hn) - 200))
NOTES=()
if [[ -n ${WANTED[passthrough]:-} ]] && ((TAR_ENTRIES > PT_MAX_INODES)); then
  NOTES+=("passthrough_ll: no tar x / rm -rf figures: the tree has $TAR_ENTRIES entries, and passthrough_ll keeps a descriptor open per cached inode, at most $(ulimit -Hn) here (hard RLIMIT_NOFILE)")
fi

# run_system SYSTEM ROUND: every group of steps, each in its own folder,
# which is removed afterwards (not timed).
run_system() {
  local sys=$1 round=$2 group name steps step
  for group in "${STEP_GROUPS[@]}"; do
    [[ -z ${HUNG[$sys]:-} ]] || return 0
    name=${group%%:*}
    read -r -a steps <<< "${group#*:}"
    if [[ $sys == passthrough && $name == untar ]] && ((TAR_ENTRIES > PT_MAX_INODES)); then
      continue
    fi
    GDIR=${MOUNT[$sys]}/fsc-r$round-$name
    if ! mkdir "$GDIR" 2> "$WORK/step.err"; then
      FAILURES+=("${NAME[$sys]}, round $round: mkdir $GDIR: $(head -1 "$WORK/step.err")")
      say "FAILED: ${FAILURES[-1]}"
      continue
    fi
    for step in "${steps[@]}"; do
      run_step "$sys" "$round" "$step" || break
    done
    [[ -z ${HUNG[$sys]:-} ]] || return 0
    if ! limit rm -rf "$GDIR" 2> "$WORK/step.err"; then
      FAILURES+=("${NAME[$sys]}, round $round: cleaning up: rm -rf $GDIR: $(head -1 "$WORK/step.err")")
      say "FAILED: ${FAILURES[-1]}"
    fi
  done
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "set-up took $((SECONDS - RUN_START)) s; $ROUNDS round(s) on: $(for s in "${SYS[@]}"; do printf '%s ' "${NAME[$s]}"; done)"
for ((round = 1; round <= ROUNDS; round++)); do
  say "round $round of $ROUNDS"
  n=${#SYS[@]}
  for ((k = 0; k < n; k++)); do
    sys=${SYS[$(((round - 1 + k) % n))]}
    [[ -z ${HUNG[$sys]:-} ]] || continue
    run_system "$sys" "$round"
  done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- the table
median() {  # median of the words of $1 (empty when none)
  tr ' ' '\n' <<< "$1" | awk 'NF' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
fmt() {  # a figure for the table
  [[ -n $1 ]] || { echo -; return; }
  awk -v v="$1" -v kind="$2" 'BEGIN { if (kind == "time") printf "%.2f", v; else if (v >= 100) printf "%.0f", v; else printf "%.1f", v }'
}
fmt_list() {  # the figures of the rounds, comma-separated
  local v out=
  for v in $1; do out+=${out:+,}$(fmt "$v" "$2"); done
  echo "${out:--}"
}
ratio() {  # DDBFS against OTHER, >1 when DDBFS is faster
  [[ -n $1 && -n $2 ]] || { echo -; return; }
  awk -v d="$1" -v o="$2" -v kind="$3" 'BEGIN { if (d <= 0 || o <= 0) { print "-"; exit }
                                              printf "%.2f", (kind == "time") ? o / d : d / o }'
}

declare -A MED=()
for m in "${METRICS[@]}"; do
  for s in "${SYS[@]}"; do MED["$s $m"]=$(median "${VALUES["$s $m"]:-}"); done
done

others=()
for s in moosefs passthrough local; do [[ -z ${WANTED[$s]:-} ]] || others+=("$s"); done
echo
echo "DDBFS ($(git -C "$ROOT" rev-parse --short HEAD)$([[ -z $(git -C "$ROOT" status --porcelain --untracked-files=no) ]] || echo ', with uncommitted changes')) against MooseFS $(dpkg-query -W -f='${Version}' moosefs-master), libfuse $(pkg-config --modversion fuse3) passthrough_ll and a local folder"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) cores, disk $(df --output=source "$WORK" | tail -1), load average $LOAD_START at the start, $LOAD_END at the end"
echo "median of $ROUNDS round(s); tarball: $TAR_SRC, $TAR_ENTRIES entries, $TAR_MB MB; ratios: DDBFS's speed over the other's (>1: DDBFS faster)"
echo
{
  printf '%-40s' workload
  for s in "${SYS[@]}"; do printf ' %15s' "${NAME[$s]}"; done
  printf ' %-8s' unit
  if [[ -n ${WANTED[ddbfs]:-} ]]; then
    for s in "${others[@]}"; do printf ' %20s' "DDBFS/${NAME[$s]}"; done
  fi
  echo
  for m in "${METRICS[@]}"; do
    kind=${KIND[$m]:-rate}
    printf '%-40s' "${LABEL[$m]}"
    for s in "${SYS[@]}"; do printf ' %15s' "$(fmt "${MED["$s $m"]}" "$kind")"; done
    printf ' %-8s' "${UNIT[$m]}"
    if [[ -n ${WANTED[ddbfs]:-} ]]; then
      for s in "${others[@]}"; do printf ' %20s' "$(ratio "${MED["ddbfs $m"]}" "${MED["$s $m"]}" "$kind")"; done
    fi
    echo
  done
}

echo
echo "every round (in the order run):"
for m in "${METRICS[@]}"; do
  printf '  %-40s' "${LABEL[$m]}"
  for s in "${SYS[@]}"; do
    printf '  %s %s' "${NAME[$s]}" "$(fmt_list "${VALUES["$s $m"]:-}" "${KIND[$m]:-rate}")"
  done
  echo
done

if [[ -n ${WANTED[ddbfs]:-} ]]; then
  misses=()
  for m in "${METRICS[@]}"; do
    kind=${KIND[$m]:-rate}
    if [[ -n ${WANTED[moosefs]:-} ]]; then
      r=$(ratio "${MED["ddbfs $m"]}" "${MED["moosefs $m"]}" "$kind")
      if [[ $r == - ]] || awk -v r="$r" 'BEGIN { exit !(r < 1.5) }'; then
        misses+=("${LABEL[$m]}: $r x MooseFS (target 1.5)")
      fi
    fi
    if [[ -n ${WANTED[passthrough]:-} && ($m == seq_write || $m == seq_read) ]]; then
      r=$(ratio "${MED["ddbfs $m"]}" "${MED["passthrough $m"]}" "$kind")
      if [[ $r == - ]] || awk -v r="$r" 'BEGIN { exit !(r < 0.8) }'; then
        misses+=("${LABEL[$m]}: $r x passthrough_ll (target 0.80)")
      fi
    fi
  done
  echo
  if ((${#misses[@]} == 0)); then
    echo "DDBFS meets every target (1.5x MooseFS everywhere, 0.8x passthrough_ll on sequential I/O)"
  else
    echo "DDBFS misses these targets (1.5x MooseFS everywhere, 0.8x passthrough_ll on sequential I/O):"
    printf '  %s\n' "${misses[@]}"
  fi
fi

if ((${#NOTES[@]} > 0)); then
  echo
  printf 'note: %s\n' "${NOTES[@]}"
fi
echo
say "the run took $(((SECONDS - RUN_START) / 60)) min $(((SECONDS - RUN_START) % 60)) s"
if ((${#FAILURES[@]} > 0)); then
  echo "failures:" >&2
  printf '  %s\n' "${FAILURES[@]}" >&2
  exit 1
fi
