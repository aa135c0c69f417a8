#!/usr/bin/env bash
# End-to-end test of the README's commands: `scripts/cluster up`, `ddbfs add`,
# `ls`, `info`, `status`, `cluster down`, `up` again, `ddbfs get` (byte
# identical, modes and mtimes kept), `cluster destroy`. Uses its own state
# folder and ports so it never touches a developer's cluster.
set -euo pipefail
SRC=$1
BUILD=$2
export DDBFS_BUILD_DIR=$BUILD
export DDBFS_CLUSTER_DIR=$(mktemp -d /tmp/ddbfs-script-test.XXXXXX)
chmod 755 "$DDBFS_CLUSTER_DIR"
base=$((20000 + RANDOM % 20000))
export DDBFS_META_PORT=$base DDBFS_CHUNK_PORTS="$((base + 1)) $((base + 2)) $((base + 3))"
export DDBFS_PG_PORT=$((base + 4))
unset DDBFS_DB
WORK=$(mktemp -d /tmp/ddbfs-script-work.XXXXXX)
cleanup() {
  "$SRC/scripts/cluster" destroy > /dev/null 2>&1 || echo "cleanup: destroy failed" >&2
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
DDBFS() { "$BUILD/bin/ddbfs" --meta "127.0.0.1:$DDBFS_META_PORT" "$@"; }

"$SRC/scripts/cluster" up

mkdir -p "$WORK/photos/2021" "$WORK/photos/empty"
head -c 3000000 /dev/urandom > "$WORK/photos/a.jpg"
head -c 100 /dev/urandom > "$WORK/photos/2021/b.jpg"
: > "$WORK/photos/zero"
chmod 600 "$WORK/photos/2021/b.jpg"
touch -d '2020-05-06 07:08:09' "$WORK/photos/a.jpg"

DDBFS add -q "$WORK/photos" /photos
DDBFS ls -l /photos | grep -q 'a.jpg' || fail "ls -l /photos does not list a.jpg"
DDBFS info /photos/a.jpg | grep -qi 'version' || fail "info shows no replica versions"
DDBFS status | grep -qi 'alive' || fail "status shows no alive server"

# Local security: the private PostgreSQL wants the password of the 0600
# secrets file (no more trust), and replicas are unreadable to other users.
ST=$DDBFS_CLUSTER_DIR
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

"$SRC/scripts/cluster" down
if DDBFS status > /dev/null 2>&1; then fail "metaserver still answers after down"; fi
"$SRC/scripts/cluster" up

DDBFS get -q /photos "$WORK/back"
diff -r "$WORK/photos" "$WORK/back" || fail "downloaded tree differs"
[[ $(stat -c %a "$WORK/back/2021/b.jpg") == 600 ]] || fail "mode of b.jpg not kept"
[[ $(stat -c %Y "$WORK/back/a.jpg") == $(stat -c %Y "$WORK/photos/a.jpg") ]] || fail "mtime of a.jpg not kept"
