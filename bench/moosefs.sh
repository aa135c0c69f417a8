#!/usr/bin/env bash
# A throw-away MooseFS cluster to compare DDBFS with (bench/fs_compare.sh):
# one master, three chunk servers and one mfsmount client, every socket on
# 127.0.0.1, every file (configs, metadata, chunks, pid files) in one folder.
# Goal 2 (every chunk on two chunk servers, like DDBFS's default) and trash
# time 0 (a deleted file frees its chunks at once) on the whole mount.
#
#   bench/moosefs.sh up DIR [PORT_BASE]   make DIR (absent or empty), start the
#                                         cluster, mount it at DIR/mnt
#   bench/moosefs.sh down DIR             unmount, stop the daemons of DIR and
#                                         delete DIR
#
# Ports: the master listens on PORT_BASE (metaloggers), PORT_BASE+1 (chunk
# servers) and PORT_BASE+2 (clients); chunk server I (1..3) on PORT_BASE+2+I.
# Default PORT_BASE: 9620. Needs root and the packages of
# `scripts/install-deps --bench`.
set -euo pipefail

N_CHUNKSERVERS=3
GOAL=2
HOST=127.0.0.1
MARKER=.fs-compare-moosefs  # down deletes only a folder that up made

say() { printf 'moosefs: %s\n' "$*"; }
die() { printf 'moosefs: %s\n' "$*" >&2; exit 1; }
usage() { echo "usage: $0 up DIR [PORT_BASE] | down DIR" >&2; exit 2; }

# The loopback problem. mfschunkserver refuses a master address in 127/8
# ("localhost can't be used"), and the master drops a chunk server that
# registers from a 127/8 address, because it would hand that address to
# clients on other machines. Both checks look at the address only:
#  - the chunk servers are told that the master is at 0.0.0.0 and bind their
#    own end to 127.0.0.1; Linux sends a connect() to 0.0.0.0 to the local
#    host over lo (it takes the bound source address as the destination);
#  - the master rewrites the chunk servers' 127.0.0.1 to 0.0.0.0 (REMAP_*),
#    so clients and chunk servers connect to 0.0.0.0:PORT, again over lo.
# Every listening socket is bound to 127.0.0.1, so nothing is reachable from
# another machine; `up` checks at the end that every TCP connection of the
# cluster is between two 127.0.0.1 ends.
MASTER_ADDR_FOR_CHUNKSERVERS=0.0.0.0

setup_paths() {
  DIR=$1
  ETC=$DIR/etc
  LOGS=$DIR/logs
  MNT=$DIR/mnt
}

run_user() {
  if id mfs > /dev/null 2>&1; then echo mfs; else echo root; fi
}

write_configs() {
  local user=$1 base=$2 i
  cat > "$ETC/mfsmaster.cfg" << EOF
WORKING_USER = $user
WORKING_GROUP = $user
SYSLOG_IDENT = mfsmaster-fs-compare
DATA_PATH = $DIR/master
EXPORTS_FILENAME = $ETC/mfsexports.cfg
TOPOLOGY_FILENAME = $ETC/mfstopology.cfg
MATOML_LISTEN_HOST = $HOST
MATOML_LISTEN_PORT = $base
MATOCS_LISTEN_HOST = $HOST
MATOCS_LISTEN_PORT = $((base + 1))
MATOCL_LISTEN_HOST = $HOST
MATOCL_LISTEN_PORT = $((base + 2))
REMAP_BITS = 32
REMAP_SOURCE_IP_CLASS = $HOST
REMAP_DESTINATION_IP_CLASS = 0.0.0.0
EOF
  # Only this host's clients; root stays root (as on the DDBFS mount).
  printf '%s / rw,alldirs,admin,maproot=0:0\n%s . rw\n' "$HOST" "$HOST" > "$ETC/mfsexports.cfg"
  : > "$ETC/mfstopology.cfg"
  for ((i = 1; i <= N_CHUNKSERVERS; i++)); do
    cat > "$ETC/mfschunkserver$i.cfg" << EOF
WORKING_USER = $user
WORKING_GROUP = $user
SYSLOG_IDENT = mfschunkserver-fs-compare$i
DATA_PATH = $DIR/cs$i/state
HDD_CONF_FILENAME = $ETC/mfshdd$i.cfg
MASTER_HOST = $MASTER_ADDR_FOR_CHUNKSERVERS
MASTER_PORT = $((base + 1))
BIND_HOST = $HOST
CSSERV_LISTEN_HOST = $HOST
CSSERV_LISTEN_PORT = $((base + 2 + i))
EOF
    echo "$DIR/cs$i/chunks" > "$ETC/mfshdd$i.cfg"
  done
}

port_free() { ! (exec 3<>"/dev/tcp/$HOST/$1") 2> /dev/null; }

# The number of chunk servers the master lists with some total space.
chunkservers_ready() {
  mfscli -H "$HOST" -P "$1" -n -s '|' -SCS 2> /dev/null |
    awk -F'|' '$1 == "chunk servers:" && $2 == "0.0.0.0" {
                 for (k = 3; k <= NF; k++) if ($k ~ /^[0-9]+$/ && $k + 0 > 1073741824) { n++; break } }
               END { print n + 0 }'
}

mounted() { grep -qs " $1 fuse" /proc/mounts; }

# The fewest valid copies any chunk of FILE has.
min_copies() {
  mfsfileinfo "$1" 2> /dev/null |
    awk '/^[[:space:]]*chunk [0-9]+:/ { if (seen) m = (m == "" || c < m) ? c : m; seen = 1; c = 0 }
         /status:VALID/ { c++ }
         END { if (seen) m = (m == "" || c < m) ? c : m; print m + 0 }'
}

# Every TCP connection of the cluster's processes, as "local peer" lines,
# that has an end outside 127.0.0.1.
non_loopback_connections() {
  local pids=("$@") pid
  for pid in "${pids[@]}"; do
    ss -Htnp state established 2> /dev/null | grep "pid=$pid," |
      awk '$3 !~ /^127\.0\.0\.1:/ || $4 !~ /^127\.0\.0\.1:/ { print $3, $4 }'
  done
}

lock_pid() { tr -dc '0-9' 2> /dev/null < "$1"; }

cmd_up() {
  local base=${2:-9620} i
  setup_paths "$1"
  [[ $(id -u) -eq 0 ]] || die "must run as root (the daemons switch to user mfs, mfsmount needs /dev/fuse)"
  for b in mfsmaster mfschunkserver mfsmount mfscli mfssetgoal mfssettrashtime mfsfileinfo; do
    command -v "$b" > /dev/null || die "$b is missing; run scripts/install-deps --bench"
  done
  [[ $base =~ ^[0-9]+$ ]] || die "PORT_BASE must be a number, not '$base'"
  for ((i = 0; i < N_CHUNKSERVERS + 3; i++)); do
    port_free $((base + i)) || die "port $((base + i)) is in use; give another PORT_BASE"
  done
  if [[ -e $DIR ]] && [[ -n "$(ls -A "$DIR")" ]]; then die "$DIR exists and is not empty"; fi
  mkdir -p "$DIR"
  touch "$DIR/$MARKER"
  case $(stat -f -c %T "$DIR") in
    tmpfs | ramfs) die "$DIR is in memory ($(stat -f -c %T "$DIR")); chunk servers belong on a disk" ;;
  esac
  local user
  user=$(run_user)
  runuser -u "$user" -- test -x "$DIR" ||
    die "user $user cannot enter $DIR; every folder above it must be searchable (chmod o+x)"

  mkdir -p "$ETC" "$LOGS" "$DIR/master" "$MNT"
  chown "$user:" "$DIR/master"
  for ((i = 1; i <= N_CHUNKSERVERS; i++)); do
    mkdir -p "$DIR/cs$i/state" "$DIR/cs$i/chunks"
    chown "$user:" "$DIR/cs$i/state" "$DIR/cs$i/chunks"
  done
  write_configs "$user" "$base"
  install -o "$user" -g "$user" -m 640 /var/lib/mfs/metadata.mfs.empty "$DIR/master/metadata.mfs"

  mfsmaster -c "$ETC/mfsmaster.cfg" start >> "$LOGS/mfsmaster.log" 2>&1 ||
    { tail -5 "$LOGS/mfsmaster.log" >&2; die "mfsmaster did not start; see $LOGS/mfsmaster.log"; }
  for ((i = 1; i <= N_CHUNKSERVERS; i++)); do
    mfschunkserver -c "$ETC/mfschunkserver$i.cfg" start >> "$LOGS/mfschunkserver$i.log" 2>&1 ||
      { tail -5 "$LOGS/mfschunkserver$i.log" >&2; die "chunk server $i did not start; see $LOGS"; }
  done
  local deadline=$((SECONDS + 60)) ready=0
  while ((SECONDS < deadline)); do
    ready=$(chunkservers_ready $((base + 2)))
    ((ready >= N_CHUNKSERVERS)) && break
    sleep 1
  done
  ((ready >= N_CHUNKSERVERS)) ||
    die "only $ready of $N_CHUNKSERVERS chunk servers registered with space after 60 s; see $LOGS"

  # In the foreground under setsid: its pid is ours to wait for at `down`,
  # and a Ctrl-C of the caller does not reach it.
  setsid mfsmount "$MNT" -f -o "mfsmaster=$HOST,mfsport=$((base + 2))" \
    < /dev/null >> "$LOGS/mfsmount.log" 2>&1 &
  echo $! > "$DIR/mfsmount.pid"
  deadline=$((SECONDS + 30))
  until mounted "$MNT" && stat "$MNT" > /dev/null 2>&1; do
    kill -0 "$(cat "$DIR/mfsmount.pid")" 2> /dev/null ||
      { tail -5 "$LOGS/mfsmount.log" >&2; die "mfsmount exited; see $LOGS/mfsmount.log"; }
    ((SECONDS < deadline)) || die "mfsmount did not mount $MNT within 30 s"
    sleep 0.2
  done
  mfssetgoal -r "$GOAL" "$MNT" > /dev/null
  mfssettrashtime -r 0 "$MNT" > /dev/null

  # A file of two chunks must get GOAL valid copies of each.
  local probe=$MNT/.probe copies=0
  head -c $((65 << 20)) /dev/urandom > "$probe"
  sync
  deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    copies=$(min_copies "$probe")
    ((copies >= GOAL)) && break
    sleep 0.5
  done
  rm -f "$probe"
  ((copies >= GOAL)) || die "a new file got $copies valid copies per chunk, not $GOAL"

  local pids=("$(cat "$DIR/mfsmount.pid")" "$(lock_pid "$DIR/master/.mfsmaster.lock")")
  for ((i = 1; i <= N_CHUNKSERVERS; i++)); do pids+=("$(lock_pid "$DIR/cs$i/state/.mfschunkserver.lock")"); done
  local outside
  outside=$(non_loopback_connections "${pids[@]}")
  [[ -z $outside ]] || die "connections outside 127.0.0.1: $outside"
  say "up: $N_CHUNKSERVERS chunk servers, goal $GOAL, trash time 0, mounted at $MNT (pids ${pids[*]})"
}

cmd_down() {
  setup_paths "$1"
  [[ -d $DIR ]] || { say "nothing at $DIR"; return 0; }
  [[ -f $DIR/$MARKER ]] || die "$DIR was not made by '$0 up'; not touching it"
  local rc=0 pid='' i
  [[ -s $DIR/mfsmount.pid ]] && pid=$(cat "$DIR/mfsmount.pid")
  if mounted "$MNT"; then
    if ! umount "$MNT" 2> /dev/null; then
      say "$MNT is busy; detaching it lazily"
      umount -l "$MNT"
    fi
  fi
  if [[ -n $pid ]] && [[ "$(cat "/proc/$pid/comm" 2> /dev/null)" == mfsmount ]]; then
    local deadline=$((SECONDS + 15))
    while kill -0 "$pid" 2> /dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2> /dev/null; then
      say "mfsmount (pid $pid) still runs after the unmount; stopping it"
      kill -TERM "$pid"
      sleep 2
      if kill -0 "$pid" 2> /dev/null; then kill -KILL "$pid"; fi
    fi
  fi
  for ((i = 1; i <= N_CHUNKSERVERS; i++)); do
    local cfg=$ETC/mfschunkserver$i.cfg
    if [[ -f $cfg ]] && mfschunkserver -c "$cfg" test > /dev/null 2>&1; then
      mfschunkserver -c "$cfg" stop >> "$LOGS/mfschunkserver$i.log" 2>&1 ||
        { say "chunk server $i did not stop; see $LOGS/mfschunkserver$i.log"; rc=1; }
    fi
  done
  if [[ -f $ETC/mfsmaster.cfg ]] && mfsmaster -c "$ETC/mfsmaster.cfg" test > /dev/null 2>&1; then
    mfsmaster -c "$ETC/mfsmaster.cfg" stop >> "$LOGS/mfsmaster.log" 2>&1 ||
      { say "mfsmaster did not stop; see $LOGS/mfsmaster.log"; rc=1; }
  fi
  if ((rc != 0)); then die "some daemons of $DIR still run; left $DIR in place"; fi
  if mounted "$MNT"; then die "$MNT is still mounted; left $DIR in place"; fi
  rm -rf --one-file-system "$DIR"
  say "down: stopped and deleted $DIR"
}

[[ $# -ge 2 ]] || usage
case "$1" in
  up) [[ $# -le 3 ]] || usage; cmd_up "$2" "${3:-}" ;;
  down) [[ $# -eq 2 ]] || usage; cmd_down "$2" ;;
  *) usage ;;
esac
