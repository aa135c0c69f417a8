#!/usr/bin/env bash
# Cost of effective goals in the repair's scan (docs/repair.md, "Goals"): on
# a private PostgreSQL migrated by the metaserver, N files of one chunk with
# two replicas each (the chunk map filled by SQL, no chunk server), then the
# repair's under-goal listing (the statement of metaserver/store/
# repair_store.cc, kUnderGoal) timed with EXPLAIN ANALYZE: with the file's
# own goal only (the query before goals per tag), with the effective goal and
# no rule, and with a rule on a tag carried by 10 % of the files.
# Not a test: it prints figures. Must run as root (PostgreSQL runs as postgres).
#
#   ./bench/goal_scan.sh [FILES]      # default 1000000
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${DDBFS_BUILD_DIR:-$ROOT/build}/bin
PG_BIN=/usr/lib/postgresql/15/bin
N=${1:-1000000}
[[ $(id -u) -eq 0 ]] || { echo "goal_scan: run as root (PostgreSQL runs as postgres)" >&2; exit 2; }
[[ -x $BIN/ddbfs-metaserver ]] || { echo "goal_scan: $BIN/ddbfs-metaserver not built" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/ddbfs-goal-scan.XXXXXX")
chmod 755 "$WORK"
META_PID=
cleanup() {
  [[ -n $META_PID ]] && { kill -TERM "$META_PID" 2>/dev/null || :; wait "$META_PID" 2>/dev/null || :; }
  if [[ -d $WORK/pg/data ]]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m immediate -w stop > /dev/null 2>&1 || :
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

mkdir -p "$WORK/pg" "$WORK/logs"
chown postgres: "$WORK/pg"
PG_PORT=$(free_port)
runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust -E UTF8 \
  --locale=C.UTF-8 -N > "$WORK/logs/initdb.log" 2>&1
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$WORK/pg -c fsync=off" \
  start > /dev/null
runuser -u postgres -- "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres ddbfs
DB="postgresql://postgres@127.0.0.1:$PG_PORT/ddbfs"
PSQL() { psql -X -q -v ON_ERROR_STOP=1 "$DB" "$@"; }

# The metaserver applies the migrations at start; then it is not needed.
(umask 077; head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n' > "$WORK/cluster.key")
META_PORT=$(free_port)
"$BIN/ddbfs-metaserver" --listen "127.0.0.1:$META_PORT" --unix-socket "$WORK/meta.sock" \
  --db "$DB" --cluster-key-file "$WORK/cluster.key" > "$WORK/logs/metaserver.log" 2>&1 &
META_PID=$!
deadline=$((SECONDS + 60))
until PSQL -tAc "SELECT 1 FROM ddbfs.schema_migrations WHERE version = 14" 2>/dev/null | grep -q 1; do
  ((SECONDS < deadline)) || { tail "$WORK/logs/metaserver.log" >&2; exit 1; }
  sleep 0.2
done
kill -TERM "$META_PID"; wait "$META_PID" 2>/dev/null || :; META_PID=

echo "goal_scan: $N files of one chunk, two replicas each (filling the chunk map)"
PSQL <<SQL
INSERT INTO ddbfs.servers (id, uuid, host, port, label) VALUES
  (1, 'a', '127.0.0.1', 1, 'h1'), (2, 'b', '127.0.0.1', 2, 'h2'), (3, 'c', '127.0.0.1', 3, 'h3');
INSERT INTO ddbfs.inodes (id, type, mode, uid, gid, atime_ns, mtime_ns, ctime_ns, nlink, goal)
  SELECT 1 + g, 1, 420, 0, 0, 0, 0, 0, 1, 2 FROM generate_series(1, $N) g;
INSERT INTO ddbfs.dentries (parent, name, inode) SELECT 1, 'f' || g, 1 + g FROM generate_series(1, $N) g;
INSERT INTO ddbfs.chunks (id, inode, idx, version, length) SELECT g, 1 + g, 0, 1, 4096
  FROM generate_series(1, $N) g;
INSERT INTO ddbfs.replicas (chunk_id, server_id, version)
  SELECT g, 1 + g % 3, 1 FROM generate_series(1, $N) g
  UNION ALL SELECT g, 1 + (g + 1) % 3, 1 FROM generate_series(1, $N) g;
INSERT INTO ddbfs.tags (id, name, created_ns) VALUES (1, 'archive', 0);
INSERT INTO ddbfs.doc_tags (inode, tag_id, has_value) SELECT 1 + g, 1, false
  FROM generate_series(1, $N, 10) g;
VACUUM ANALYZE;
SQL

# kUnderGoal with the goal expression $1 and the join $2 ({} for none).
under_goal() {
  cat <<SQL
EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON)
SELECT c.id, c.inode, c.idx, c.version, c.length, $1,
       array_to_string(array_agg(r.server_id) FILTER (WHERE r.version = c.version AND r.server_id = ANY('{1,2,3}'::integer[])), ','),
       array_to_string(array_agg(r.server_id) FILTER (WHERE r.server_id IS NOT NULL)
         || ARRAY(SELECT g.server_id FROM ddbfs.gc_queue g WHERE g.chunk_id = c.id), ',')
  FROM ddbfs.chunks c JOIN ddbfs.inodes i ON i.id = c.inode $2
  LEFT JOIN ddbfs.replicas r ON r.chunk_id = c.id
 WHERE c.lease_id IS NULL AND c.version > 0 AND NOT (c.id = ANY('{}'::bigint[]))
 GROUP BY c.id, i.goal${3:-}
HAVING count(r.server_id) FILTER (WHERE r.version = c.version AND r.server_id = ANY('{1,2,3}'::integer[])) >= 1
   AND count(r.server_id) FILTER (WHERE r.version = c.version AND r.server_id = ANY('{1,2,3}'::integer[])) < $1
 ORDER BY count(r.server_id) FILTER (WHERE r.version = c.version AND r.server_id = ANY('{1,2,3}'::integer[])), c.id
 LIMIT 256;
SQL
}
time_of() {  # best of three, ms
  local best=
  for _ in 1 2 3; do
    local t
    t=$(PSQL -tA -c "$1" | sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p')
    if [[ -z $best ]] || (( $(echo "$t < $best" | bc -l) )); then best=$t; fi
  done
  echo "$best"
}
OWN=$(under_goal "i.goal" "")
EFFECTIVE=$(under_goal "GREATEST(i.goal, tg.goal)" "LEFT JOIN ddbfs.tag_goals tg ON tg.inode = c.inode" ", tg.goal")
# kOverGoal (the trim's listing), effective goal, nothing drained.
OVER=$(cat <<SQL
EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON)
SELECT c.id, c.version, GREATEST(i.goal, tg.goal),
       array_to_string(array_agg(r.server_id) FILTER (WHERE r.version = c.version AND r.server_id = ANY('{1,2,3}'::integer[])), ','),
       array_to_string(array_agg(r.server_id) FILTER (WHERE r.server_id = ANY('{}'::integer[])), ',')
  FROM ddbfs.chunks c JOIN ddbfs.inodes i ON i.id = c.inode
  LEFT JOIN ddbfs.tag_goals tg ON tg.inode = c.inode
  JOIN ddbfs.replicas r ON r.chunk_id = c.id
 WHERE c.lease_id IS NULL AND c.version > 0
 GROUP BY c.id, i.goal, tg.goal
HAVING count(r.server_id) FILTER (WHERE r.version = c.version AND r.server_id = ANY('{1,2,3}'::integer[])) > GREATEST(i.goal, tg.goal)
    OR (count(r.server_id) FILTER (WHERE r.version = c.version AND r.server_id = ANY('{1,2,3}'::integer[])) >= GREATEST(i.goal, tg.goal)
        AND bool_or(r.server_id = ANY('{}'::integer[])))
 ORDER BY c.id LIMIT 256;
SQL
)
echo "own goal only (before):              $(time_of "$OWN") ms"
echo "effective goal, no rule:             $(time_of "$EFFECTIVE") ms"
echo "over-goal listing (the trim), no rule: $(time_of "$OVER") ms"
PSQL -c "INSERT INTO ddbfs.goal_rules (tag_id, goal, created_ns) VALUES (1, 3, 0)"
echo "effective goal, rule on 10 % (under goal: $((N / 10)) chunks, 256 listed): $(time_of "$EFFECTIVE") ms"
