# Sourced by the benchmarks that run a private cluster of their own
# (repair_bench.sh, scrub_bench.sh, failover_bench.sh): checks, a work folder
# removed at exit with everything started in it, helpers, and a private
# PostgreSQL 15 with a database ddbfs and a cluster key.
#
#   NAME=repair_bench; source "$ROOT/bench/private_cluster.sh"
#
# Needs ROOT, BIN and NAME set. Defines WORK, PIDS (append what you start:
# killed at exit with $STOP_SIGNAL, default TERM), PG_PORT, DB and
# $WORK/cluster.key, and the functions free_port, wait_port PORT SECONDS,
# now and since T.

PG_BIN=/usr/lib/postgresql/15/bin
STOP_SIGNAL=${STOP_SIGNAL:-TERM}
[[ $(id -u) -eq 0 ]] || { echo "$NAME: run as root (PostgreSQL runs as postgres)" >&2; exit 2; }
for b in ddbfs ddbfs-metaserver ddbfs-chunkserver; do
  [[ -x $BIN/$b ]] || { echo "$NAME: $BIN/$b not built" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/ddbfs-$NAME.XXXXXX")
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "-$STOP_SIGNAL" "$pid" 2> /dev/null || :; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || :; done
  if [[ -d $WORK/pg/data ]]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m immediate -w stop > /dev/null 2>&1 || :
  fi
  [[ -n ${KEEP_WORK:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT

# A free loopback port (bound by nobody right now).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {  # wait_port PORT SECONDS
  local deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
    sleep 0.05
  done
  return 1
}
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l; }

echo "$NAME: private cluster in $WORK"
mkdir -p "$WORK/pg" "$WORK/logs"
chown postgres: "$WORK/pg"
PG_PORT=$(free_port)
runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust -E UTF8 \
  --locale=C.UTF-8 -N > "$WORK/logs/initdb.log" 2>&1
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$WORK/pg -c fsync=on" \
  start > /dev/null
runuser -u postgres -- "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres ddbfs
DB="postgresql://postgres@127.0.0.1:$PG_PORT/ddbfs"
(umask 077; head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n' > "$WORK/cluster.key")
