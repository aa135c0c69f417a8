#!/usr/bin/env bash
# The floor that PostgreSQL puts under a namespace change (issue 7,
# bench/README.md "The floor of a durable commit per operation"): one client,
# one transaction after the other, as a program that makes folders one by one
# through the mount drives the metaserver. On a private PostgreSQL 15 (fsync
# on, the metaserver's own schema, made by starting a metaserver once), pgbench
# runs for SECONDS each, in ROUNDS rounds that alternate between:
#
#   insert  one row, autocommit: one round trip and a durable commit
#   mkdir1  a whole mkdir as the metaserver writes it (inode, entry, parent's
#           nlink and times, request log row) in ONE statement, autocommit
#   mkdir4  the same as the metaserver sends it today: BEGIN, the inode +
#           entry + parent statement, the request log row, COMMIT
#
# and prints the latency and rate of each round. Not a test: it prints figures.
# Must run as root (PostgreSQL runs as postgres).
#
#   ./bench/pg_floor.sh [ROUNDS] [SECONDS]      # defaults 3 and 5
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${DDBFS_BUILD_DIR:-$ROOT/build}/bin
ROUNDS=${1:-3}
SECONDS_EACH=${2:-5}
NAME=pg_floor
source "$ROOT/bench/private_cluster.sh"

# The schema: a metaserver applies the migrations at its start.
META_PORT=$(free_port)
"$BIN/ddbfs-metaserver" --listen "127.0.0.1:$META_PORT" --unix-socket "$WORK/meta.sock" \
  --db "$DB" --cluster-key-file "$WORK/cluster.key" > "$WORK/logs/metaserver.log" 2>&1 &
META_PID=$!
PIDS+=("$META_PID")
wait_port "$META_PORT" 60 || { tail -5 "$WORK/logs/metaserver.log" >&2; exit 1; }
kill -TERM "$META_PID"
wait "$META_PID" 2> /dev/null || :

# The statements: those of metaserver/store/inode_store.cc (ino_create_entry)
# and request_log.cc, with fixed values; :n makes every name unique.
cat > "$WORK/insert.sql" << 'EOF'
\set n random(1, 2000000000)
INSERT INTO ddbfs.request_log (client_id, seq, rpc, response)
  VALUES ('00000000-0000-0000-0000-000000000001', :n, 'Bench', '\x00') ON CONFLICT DO NOTHING;
EOF
cat > "$WORK/mkdir1.sql" << 'EOF'
\set n random(1, 2000000000)
WITH ino AS (
  INSERT INTO ddbfs.inodes (id, type, mode, uid, gid, size, atime_ns, mtime_ns, ctime_ns, nlink, goal, rdev)
  VALUES (nextval('ddbfs.inode_ids'), 2, 493, 0, 0, 0, 1, 1, 1, 2, 2, 0) RETURNING id),
 ent AS (INSERT INTO ddbfs.dentries (parent, name, inode) SELECT 1, 'a' || :n || '-' || id, id FROM ino),
 par AS (UPDATE ddbfs.inodes SET mtime_ns = 2, ctime_ns = 2, nlink = nlink + 1 WHERE id = 1 RETURNING id),
 log AS (INSERT INTO ddbfs.request_log (client_id, seq, rpc, response)
         VALUES ('00000000-0000-0000-0000-000000000002', :n, 'Mkdir', '\x00') ON CONFLICT DO NOTHING)
SELECT ino.id FROM ino, par;
EOF
cat > "$WORK/mkdir4.sql" << 'EOF'
\set n random(1, 2000000000)
BEGIN;
WITH ino AS (
  INSERT INTO ddbfs.inodes (id, type, mode, uid, gid, size, atime_ns, mtime_ns, ctime_ns, nlink, goal, rdev)
  VALUES (nextval('ddbfs.inode_ids'), 2, 493, 0, 0, 0, 1, 1, 1, 2, 2, 0) RETURNING id),
 ent AS (INSERT INTO ddbfs.dentries (parent, name, inode) SELECT 1, 'b' || :n || '-' || id, id FROM ino),
 par AS (UPDATE ddbfs.inodes SET mtime_ns = 2, ctime_ns = 2, nlink = nlink + 1 WHERE id = 1 RETURNING id)
SELECT ino.id FROM ino, par;
INSERT INTO ddbfs.request_log (client_id, seq, rpc, response)
  VALUES ('00000000-0000-0000-0000-000000000003', :n, 'Mkdir', '\x00') ON CONFLICT DO NOTHING;
COMMIT;
EOF
chmod 644 "$WORK"/*.sql

printf '%-8s %-6s %12s %12s\n' script round latency_ms per_s
for ((r = 1; r <= ROUNDS; r++)); do
  for s in insert mkdir1 mkdir4; do
    out=$(runuser -u postgres -- "$PG_BIN/pgbench" -h "$WORK/pg" -p "$PG_PORT" -U postgres -n -c 1 \
      -T "$SECONDS_EACH" -M prepared -f "$WORK/$s.sql" ddbfs 2>&1) ||
      { echo "$out" >&2; exit 1; }
    lat=$(sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p' <<< "$out")
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<< "$out")
    printf '%-8s %-6s %12s %12.0f\n' "$s" "$r" "$lat" "$tps"
  done
done
