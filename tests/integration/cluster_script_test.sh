#!/usr/bin/env bash
# End-to-end test of the README's commands: `scripts/cluster up`, `ddbfs add`,
# `ls`, `info`, `status`, `cluster down`, `up` again, `ddbfs get` (byte
# identical, modes and mtimes kept), `cluster destroy`. Uses its own state
# folder and ports so it never touches a developer's cluster.
# Also the database roles (sql/roles.sql, docs/database_roles.md): the
# metaserver connects as `ddbfs` (no superuser, no CREATEROLE, no COPY TO
# PROGRAM), analysts read the views of docs/sql.md (and nothing else) through
# `ddbfs_reader`, and a database left by the previous version of the script
# (all owned by postgres) is converted at `up`.
set -euo pipefail
SRC=$1
BUILD=$2
export DDBFS_BUILD_DIR=$BUILD
export DDBFS_CLUSTER_DIR=$(mktemp -d /tmp/ddbfs-script-test.XXXXXX)
chmod 755 "$DDBFS_CLUSTER_DIR"
# Five ports in a row below the ephemeral range (32768+) that no socket of
# this machine uses (any state, in /proc/net/tcp*): another test, or a
# connection's local port, may hold a random one.
port_in_use() { grep -q ":$(printf '%04X' "$1") " /proc/net/tcp /proc/net/tcp6 2>/dev/null; }
for _ in $(seq 50); do
  base=$((20000 + RANDOM % 12000))
  free=1
  for p in $(seq "$base" $((base + 4))); do port_in_use "$p" && free=0; done
  ((free)) && break
done
export DDBFS_META_PORT=$base DDBFS_CHUNK_PORTS="$((base + 1)) $((base + 2)) $((base + 3))"
export DDBFS_PG_PORT=$((base + 4))
unset DDBFS_DB
WORK=$(mktemp -d /tmp/ddbfs-script-work.XXXXXX)
chmod 755 "$WORK"
# `up` mounts here (not at the checkout's ./mnt), `down` unmounts.
export DDBFS_MOUNT=$WORK/mnt
cleanup() {
  "$SRC/scripts/cluster" destroy > /dev/null 2>&1 || echo "cleanup: destroy failed" >&2
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# The metaserver's Unix socket (local users are known by their uid there); a
# private one, so that the test does not touch /run/ddbfs of a real cluster.
export DDBFS_META_SOCKET=$DDBFS_CLUSTER_DIR/run/meta.sock
DDBFS() { "$BUILD/bin/ddbfs" --meta "unix:$DDBFS_META_SOCKET" "$@"; }
ST=$DDBFS_CLUSTER_DIR
# psql as the superuser postgres (its password is in the cluster's pgpass).
SUPER() { PGPASSFILE=$ST/secrets/pgpass psql -X -w -h 127.0.0.1 -p "$DDBFS_PG_PORT" -U postgres \
            -v ON_ERROR_STOP=1 -qtA "$@" ddbfs; }
# psql as the metaserver's role ddbfs, with the password `cluster up` generated.
AS_DDBFS() { PGPASSFILE=$ST/secrets/pgpass psql -X -w -h 127.0.0.1 -p "$DDBFS_PG_PORT" -U ddbfs \
               -v ON_ERROR_STOP=1 -qtA "$@" ddbfs; }
# psql as an analyst: a login role in ddbfs_reader that check_roles makes,
# with its password in a pgpass file of its own.
ANALYST_PGPASS=$WORK/analyst.pgpass
ANALYST() { PGPASSFILE=$ANALYST_PGPASS psql -X -w -h 127.0.0.1 -p "$DDBFS_PG_PORT" \
              -U ddbfs_test_analyst -v ON_ERROR_STOP=1 -qtA "$@" ddbfs; }

# The database roles, checked after each `up`.
check_roles() {
  local when=$1 users
  # Every session of the metaserver (all client sessions on the database but
  # this one) is role ddbfs, and there is at least one.
  users=$(SUPER -c "SELECT string_agg(DISTINCT usename::text, ',') FROM pg_stat_activity
                     WHERE datname = 'ddbfs' AND backend_type = 'client backend'
                       AND pid <> pg_backend_pid()")
  [[ $users == ddbfs ]] || fail "$when: the metaserver connects as '$users', not as ddbfs"
  [[ $(SUPER -c "SELECT count(*) FROM pg_stat_activity
                  WHERE application_name = 'ddbfs-metaserver' AND usename = 'ddbfs'") -ge 1 ]] ||
    fail "$when: no session of application ddbfs-metaserver as ddbfs"
  [[ $(SUPER -c "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,
                        pg_has_role('ddbfs', 'pg_execute_server_program', 'MEMBER'),
                        pg_has_role('ddbfs', 'pg_read_server_files', 'MEMBER'),
                        pg_has_role('ddbfs', 'pg_write_server_files', 'MEMBER')
                   FROM pg_roles WHERE rolname = 'ddbfs'") == 'f|f|f|f|f|f|f|f' ]] ||
    fail "$when: role ddbfs is superuser, CREATEROLE, CREATEDB, REPLICATION, BYPASSRLS or has server file/program access"
  # It owns the database, the schema and everything in it.
  [[ $(SUPER -c "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'ddbfs'") == ddbfs ]] ||
    fail "$when: database ddbfs is not owned by role ddbfs"
  [[ $(SUPER -c "SELECT string_agg(DISTINCT pg_get_userbyid(nspowner), ',') FROM pg_namespace
                  WHERE nspname IN ('ddbfs', 'ddbfs_secret')") == ddbfs ]] ||
    fail "$when: schema ddbfs or ddbfs_secret is not owned by role ddbfs"
  local foreign
  foreign=$(SUPER -c "SELECT string_agg(c.oid::regclass::text, ',') FROM pg_class c
                       JOIN pg_namespace s ON s.oid = c.relnamespace
                       WHERE s.nspname IN ('ddbfs', 'ddbfs_secret') AND c.relowner <> 'ddbfs'::regrole")
  [[ -z $foreign ]] || fail "$when: objects of the metaserver's schemas not owned by role ddbfs: $foreign"
  # Connecting as ddbfs works (password from pgpass), running a program on the
  # server does not.
  [[ $(AS_DDBFS -c 'SELECT current_user') == ddbfs ]] || fail "$when: cannot connect as ddbfs"
  local out
  if out=$(AS_DDBFS -c "COPY (SELECT 1) TO PROGRAM 'true'" 2>&1); then
    fail "$when: role ddbfs may run COPY ... TO PROGRAM"
  fi
  grep -qi 'permission denied\|superuser\|pg_execute_server_program' <<< "$out" ||
    fail "$when: COPY TO PROGRAM as ddbfs failed for another reason: $out"
  if AS_DDBFS -c "CREATE ROLE ddbfs_probe" > /dev/null 2>&1; then
    SUPER -c "DROP ROLE IF EXISTS ddbfs_probe" > /dev/null
    fail "$when: role ddbfs may create roles"
  fi
  # The analysts' role: NOLOGIN, may connect; a login role in it (the line
  # of docs/sql.md) reads the five views of docs/sql.md and nothing else: no
  # table, not even one the metaserver creates later (no default
  # privileges), never the export keys; it writes and creates nothing.
  [[ $(SUPER -c "SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = 'ddbfs_reader'") == 'f|f' ]] ||
    fail "$when: ddbfs_reader missing, or may log in, or is superuser"
  [[ $(SUPER -c "SELECT has_database_privilege('ddbfs_reader', 'ddbfs', 'CONNECT')") == t ]] ||
    fail "$when: ddbfs_reader may not connect to the database ddbfs"
  local apw
  apw=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
  (umask 077 && echo "127.0.0.1:$DDBFS_PG_PORT:ddbfs:ddbfs_test_analyst:$apw" > "$ANALYST_PGPASS")
  # The password on psql's stdin, not on a command line.
  printf "SET log_statement = 'none'; SET client_min_messages = warning;
DROP ROLE IF EXISTS ddbfs_test_analyst;
CREATE ROLE ddbfs_test_analyst LOGIN PASSWORD '%s' IN ROLE ddbfs_reader;\n" "$apw" | SUPER > /dev/null
  [[ $(ANALYST -c "SELECT current_user") == ddbfs_test_analyst ]] ||
    fail "$when: a login role in ddbfs_reader cannot connect"
  # No JIT in the database: it cost 11 ms on a 1 ms view query (docs/sql.md, "Cost").
  [[ $(ANALYST -c "SHOW jit") == off ]] || fail "$when: jit is not off in the database ddbfs"
  local view out
  for view in documents document_tags tag_stats chunk_health server_usage; do
    out=$(ANALYST -c "SELECT count(*) FROM ddbfs.$view" 2>&1) ||
      fail "$when: ddbfs_reader cannot read ddbfs.$view: $out"
  done
  # What they show: the files added above, their tags, their chunks, the
  # three chunk servers.
  [[ $(ANALYST -c "SELECT size || ' ' || array_to_string(tags, ',') FROM ddbfs.documents
                   WHERE path = '/photos/a.jpg'") == '3000000 photo,year=2020' ]] ||
    fail "$when: ddbfs.documents: $(ANALYST -c "SELECT * FROM ddbfs.documents" 2>&1)"
  [[ $(ANALYST -c "SELECT path FROM ddbfs.document_tags WHERE tag = 'year' AND value = '2020'") == \
     /photos/a.jpg ]] || fail "$when: ddbfs.document_tags: $(ANALYST -c "TABLE ddbfs.document_tags" 2>&1)"
  [[ $(ANALYST -c "SELECT documents || ' ' || bytes FROM ddbfs.tag_stats WHERE tag = 'photo'") == \
     '1 3000000' ]] || fail "$when: ddbfs.tag_stats: $(ANALYST -c "TABLE ddbfs.tag_stats" 2>&1)"
  [[ $(ANALYST -c "SELECT count(*) FILTER (WHERE live_replicas >= goal) || ' of ' || count(*)
                   FROM ddbfs.chunk_health WHERE path = '/photos/a.jpg'") == '1 of 1' ]] ||
    fail "$when: ddbfs.chunk_health: $(ANALYST -c "TABLE ddbfs.chunk_health" 2>&1)"
  [[ $(ANALYST -c "SELECT count(*) FROM ddbfs.server_usage WHERE alive") == 3 ]] ||
    fail "$when: ddbfs.server_usage: $(ANALYST -c "TABLE ddbfs.server_usage" 2>&1)"
  local sql
  for sql in "SELECT 1 FROM ddbfs.inodes LIMIT 0" "SELECT 1 FROM ddbfs.doc_tags LIMIT 0" \
             "SELECT 1 FROM ddbfs.dentries LIMIT 0" "SELECT 1 FROM ddbfs.schema_migrations LIMIT 0" \
             "SELECT nextval('ddbfs.inode_ids')" \
             "INSERT INTO ddbfs.tags (name, created_ns) VALUES ('reader', 0)" \
             "UPDATE ddbfs.inodes SET mode = 511 WHERE false" "DELETE FROM ddbfs.doc_tags WHERE false" \
             "DELETE FROM ddbfs.documents WHERE false" "UPDATE ddbfs.server_usage SET label = 'x'" \
             "INSERT INTO ddbfs.document_tags VALUES (1, '/', 'x', NULL)" \
             "TRUNCATE ddbfs.request_log" \
             "CREATE TABLE ddbfs.reader_table (x int)" "CREATE VIEW ddbfs.reader_view AS SELECT 1" \
             "CREATE TEMP TABLE reader_temp (x int)" "CREATE TABLE public.reader_table (x int)"; do
    if ANALYST -c "$sql" > /dev/null 2>&1; then
      fail "$when: a member of ddbfs_reader may run: $sql"
    fi
  done
  # A table the metaserver's role creates later stays closed to the reader.
  out=$(SUPER -c "BEGIN" -c "SET ROLE ddbfs" -c "CREATE TABLE ddbfs.reader_probe (x int)" \
              -c "SET ROLE ddbfs_reader" -c "SELECT x FROM ddbfs.reader_probe" -c "ROLLBACK" 2>&1) &&
    fail "$when: ddbfs_reader can read a table created later by ddbfs"
  grep -q 'permission denied' <<< "$out" ||
    fail "$when: reading a new table as ddbfs_reader failed for another reason: $out"
  local keys
  for keys in ddbfs_secret.export_keys ddbfs.export_keys; do
    [[ $(SUPER -c "SELECT to_regclass('$keys') IS NOT NULL") == t ]] || continue
    if ANALYST -c "SELECT 1 FROM $keys LIMIT 0" > /dev/null 2>&1 ||
       SUPER -c "SET ROLE ddbfs_reader" -c "SELECT 1 FROM $keys LIMIT 0" > /dev/null 2>&1; then
      fail "$when: ddbfs_reader may read $keys"
    fi
  done
  SUPER -c "DROP ROLE ddbfs_test_analyst" > /dev/null
  rm -f "$ANALYST_PGPASS"
  # Secrets are in no command line and no log.
  local cmdline
  cmdline=$(tr '\0' ' ' < "/proc/$(cat "$ST/metaserver.pid")/cmdline")
  [[ $cmdline == *"postgresql://ddbfs@/ddbfs?host=$ST/pg/run&port=$DDBFS_PG_PORT&"* ]] ||
    fail "$when: metaserver --db does not name user ddbfs on the socket without a password: $cmdline"
  local pw
  while IFS=: read -r _ _ _ _ pw; do
    [[ -n $pw ]] || continue
    [[ $cmdline != *"$pw"* ]] || fail "$when: a password is on the metaserver's command line"
    if grep -rqF -- "$pw" "$ST/logs"; then fail "$when: a password is in a log under $ST/logs"; fi
  done < "$ST/secrets/pgpass"
}

"$SRC/scripts/cluster" up

mkdir -p "$WORK/photos/2021" "$WORK/photos/empty"
head -c 3000000 /dev/urandom > "$WORK/photos/a.jpg"
head -c 100 /dev/urandom > "$WORK/photos/2021/b.jpg"
: > "$WORK/photos/zero"
chmod 600 "$WORK/photos/2021/b.jpg"
touch -d '2020-05-06 07:08:09' "$WORK/photos/a.jpg"

DDBFS add -q "$WORK/photos" /photos
DDBFS tag /photos/a.jpg photo year=2020
DDBFS ls -l /photos | grep -q 'a.jpg' || fail "ls -l /photos does not list a.jpg"

# The mount `up` made: what the CLI added is there, and what is written
# there is in the cluster.
mountpoint -q "$DDBFS_MOUNT" || fail "cluster up did not mount at $DDBFS_MOUNT"
cmp "$WORK/photos/a.jpg" "$DDBFS_MOUNT/photos/a.jpg" || fail "a.jpg reads differently through the mount"
cp -a "$WORK/photos/2021" "$DDBFS_MOUNT/copied"
DDBFS ls /copied | grep -q 'b.jpg' || fail "a folder copied into the mount is not in the cluster"
out=$("$SRC/scripts/cluster" status)
[[ $out == *"mount: $DDBFS_MOUNT (pid "[0-9]* ]] || fail "status does not show the mount: $out"
DDBFS info /photos/a.jpg | grep -qi 'version' || fail "info shows no replica versions"
DDBFS status | grep -qi 'alive' || fail "status shows no alive server"

# Local security: the private PostgreSQL wants the password of the 0600
# secrets file (no more trust), and replicas are unreadable to other users.
[[ $(stat -c %a "$ST/secrets/pgpass") == 600 ]] || fail "secrets/pgpass is not mode 0600"
if PGPASSFILE=/dev/null psql -w -h 127.0.0.1 -p "$DDBFS_PG_PORT" -U postgres -c 'SELECT 1' \
    ddbfs > /dev/null 2>&1; then
  fail "PostgreSQL lets anyone in over loopback without the password"
fi
PGPASSFILE=$ST/secrets/pgpass psql -w -h 127.0.0.1 -p "$DDBFS_PG_PORT" -U postgres -qtAc \
  'SELECT 1' ddbfs | grep -q 1 || fail "the password in secrets/pgpass does not work"
for d in "$ST"/chunk1 "$ST"/chunk2 "$ST"/chunk3; do
  [[ $(stat -c %a "$d") == 700 ]] || fail "data folder $d is not mode 0700"
done
chunk=$(find "$ST/chunk1" "$ST/chunk2" "$ST/chunk3" -name '*.chunk' | head -1)
[[ -n $chunk && $(stat -c %a "$chunk") == 600 ]] || fail "chunk file $chunk is not mode 0600"

check_roles "first up"

# The trust boundary (docs/security.md): the cluster key is private, TCP
# without a key is refused, and a local user is known by its uid.
[[ $(stat -c %a "$ST/secrets/cluster.key") == 600 ]] || fail "secrets/cluster.key is not mode 0600"
out=$("$BUILD/bin/ddbfs" --meta "127.0.0.1:$DDBFS_META_PORT" status 2>&1) && rc=0 || rc=$?
[[ $rc == 15 && $out == *"wants a key"* ]] ||
  fail "status over TCP without a key: exit $rc, '$out' (want exit 15, wants a key)"
if grep -q "$(cat "$ST/secrets/cluster.key")" "$ST"/logs/*.log; then fail "the cluster key is in a log"; fi
chmod 755 "$ST"  # let nobody reach the socket folder (secrets/ stays 0700)
NOBODY() { runuser -u nobody -- "$BUILD/bin/ddbfs" --meta "unix:$DDBFS_META_SOCKET" "$@"; }
# nobody gets into the private PostgreSQL neither over loopback nor on its socket.
for target in "-h 127.0.0.1" "-h $ST/pg/run"; do
  # shellcheck disable=SC2086
  if runuser -u nobody -- env PGPASSFILE=/dev/null psql -w $target -p "$DDBFS_PG_PORT" -U postgres \
      -c 'SELECT 1' ddbfs > /dev/null 2>&1; then
    fail "nobody got into the private PostgreSQL ($target)"
  fi
done
NOBODY whoami | grep -q 'uid 65534' || fail "nobody is not taken for uid 65534: $(NOBODY whoami 2>&1)"
out=$(NOBODY rm /photos/a.jpg 2>&1) && rc=0 || rc=$?
[[ $rc == 10 && $out == *"permission denied"* ]] || fail "nobody's rm of root's file: exit $rc, '$out'"
DDBFS ls /photos | grep -q 'a.jpg' || fail "nobody removed root's file"
# Through root's mount (allow_other), the kernel checks nobody's rights.
if runuser -u nobody -- rm -f "$DDBFS_MOUNT/photos/a.jpg" 2>/dev/null; then
  fail "nobody removed root's file through the mount"
fi
runuser -u nobody -- cat "$DDBFS_MOUNT/photos/a.jpg" > /dev/null ||
  fail "nobody cannot read root's 0644 file through the mount"
out=$(NOBODY cat /photos/2021/b.jpg 2>&1) && rc=0 || rc=$?
[[ $rc == 10 ]] || fail "nobody read root's 0600 file: exit $rc, '$out'"
DDBFS cat /photos/2021/b.jpg | cmp -s - "$WORK/photos/2021/b.jpg" || fail "root cannot read its 0600 file"
out=$(NOBODY key add sneaky 2>&1) && rc=0 || rc=$?
[[ $rc == 10 ]] || fail "nobody made an export key: exit $rc, '$out'"
# A shared folder (sticky, like /tmp): nobody adds a read-only tree into it,
# and it arrives with its exact modes.
DDBFS mkdir /shared
DDBFS chmod 1777 /shared
mkdir -p "$WORK/ro/locked"
echo "read only" > "$WORK/ro/locked/note.txt"
chmod 444 "$WORK/ro/locked/note.txt"
chmod 555 "$WORK/ro/locked"
chmod 755 "$WORK" "$WORK/ro"
NOBODY add -q "$WORK/ro" /shared/ro || fail "nobody cannot add a read-only tree to /shared"
DDBFS ls -l /shared/ro/locked | grep -q '^-r--r--r-- .*note.txt' ||
  fail "note.txt lost its mode 0444: $(DDBFS ls -l /shared/ro/locked)"
DDBFS ls -l /shared/ro | grep -q '^dr-xr-xr-x .*locked' ||
  fail "locked lost its mode 0555: $(DDBFS ls -l /shared/ro)"
out=$(NOBODY chown 0 /shared/ro 2>&1) && rc=0 || rc=$?
[[ $rc == 10 ]] || fail "nobody gave a file to root: exit $rc, '$out'"
out=$(NOBODY rm -r /photos 2>&1) && rc=0 || rc=$?
[[ $rc != 0 ]] || fail "nobody removed root's /photos"

# Back to the layout of the previous version of the script: no roles, the
# database, schema and tables owned by postgres, only postgres in pgpass. The
# next `up` must hand it all to ddbfs and keep the data.
kill -TERM "$(cat "$ST/metaserver.pid")"
for _ in $(seq 100); do kill -0 "$(cat "$ST/metaserver.pid")" 2>/dev/null || break; sleep 0.1; done
SUPER -c "REASSIGN OWNED BY ddbfs TO postgres" -c "DROP OWNED BY ddbfs" -c "DROP OWNED BY ddbfs_reader" \
      -c "DROP ROLE ddbfs" -c "DROP ROLE ddbfs_reader" \
      -c "GRANT CONNECT, TEMPORARY ON DATABASE ddbfs TO PUBLIC" > /dev/null
[[ $(SUPER -c "SELECT count(*) FROM pg_class WHERE relnamespace = 'ddbfs'::regnamespace
                 AND relowner = 'postgres'::regrole AND relkind = 'r'") -ge 5 ]] ||
  fail "could not make the old layout (tables owned by postgres)"
grep -v ':ddbfs:' "$ST/secrets/pgpass" > "$ST/secrets/pgpass.old"
cat "$ST/secrets/pgpass.old" > "$ST/secrets/pgpass"
rm "$ST/secrets/pgpass.old"

"$SRC/scripts/cluster" down
if DDBFS status > /dev/null 2>&1; then fail "metaserver still answers after down"; fi
if grep -qs " $DDBFS_MOUNT fuse" /proc/mounts; then fail "cluster down left $DDBFS_MOUNT mounted"; fi
if pgrep -f -- "ddbfs-mount .*$DDBFS_MOUNT" > /dev/null; then
  fail "ddbfs-mount still runs after cluster down"
fi
"$SRC/scripts/cluster" up
cmp "$WORK/photos/2021/b.jpg" "$DDBFS_MOUNT/copied/b.jpg" ||
  fail "the file copied through the mount is not there after down and up"
check_roles "up after converting the previous version's database"
[[ $(stat -c %a "$ST/secrets/pgpass") == 600 ]] || fail "secrets/pgpass is not mode 0600 after up"

DDBFS get -q /photos "$WORK/back"
diff -r "$WORK/photos" "$WORK/back" || fail "downloaded tree differs"
[[ $(stat -c %a "$WORK/back/2021/b.jpg") == 600 ]] || fail "mode of b.jpg not kept"
[[ $(stat -c %Y "$WORK/back/a.jpg") == $(stat -c %Y "$WORK/photos/a.jpg") ]] || fail "mtime of a.jpg not kept"
