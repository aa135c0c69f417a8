#!/usr/bin/env bash
# Before/after figures in one run: builds an earlier revision in a git
# worktree, then runs bench/foundation.sh against a local cluster of the old
# binaries and one of the new, alternating (old, new, old, new, ...), on the
# same machine and disk. Each cluster gets its own state folder and is
# destroyed afterwards.
#
#   ./bench/compare.sh [--rev REV] [--rounds N] [--tls] [-- foundation.sh options]
#   e.g. ./bench/compare.sh --rev ceab06d --rounds 2 -- --size-mib 1024 --files 10000
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REV=ceab06d  # the foundation as it landed
ROUNDS=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rev) REV=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --tls) DDBFS_COMPARE_TLS=1; shift ;;
    --) shift; break ;;
    *) echo "usage: $0 [--rev REV] [--rounds N] [-- foundation.sh options]" >&2; exit 2 ;;
  esac
done
OLD_SRC=${DDBFS_COMPARE_SRC:-${TMPDIR:-/var/tmp}/ddbfs-compare-$REV}
OLD_BUILD=${DDBFS_COMPARE_BUILD:-$OLD_SRC-build}
NEW_BUILD=${DDBFS_BUILD_DIR:-$ROOT/build}
export DDBFS_META_PORT=${DDBFS_META_PORT:-9700}
export DDBFS_CHUNK_PORTS=${DDBFS_CHUNK_PORTS:-"$((DDBFS_META_PORT + 1)) $((DDBFS_META_PORT + 2)) $((DDBFS_META_PORT + 3))"}
export DDBFS_PG_PORT=${DDBFS_PG_PORT:-5639}
export DDBFS_META=127.0.0.1:$DDBFS_META_PORT
# With --tls, each round also runs the new build with TLS on every connection.
WITH_TLS=${DDBFS_COMPARE_TLS:-0}

if [[ ! -d $OLD_SRC ]]; then git -C "$ROOT" worktree add --detach "$OLD_SRC" "$REV" > /dev/null; fi
echo "compare: building $REV in $OLD_BUILD"
cmake -S "$OLD_SRC" -B "$OLD_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$OLD_BUILD" -j"$(nproc)" --target ddbfs ddbfs-metaserver ddbfs-chunkserver \
  meta_create_bench > /dev/null
echo "compare: building the working tree in $NEW_BUILD"
cmake -S "$ROOT" -B "$NEW_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$NEW_BUILD" -j"$(nproc)" --target ddbfs ddbfs-metaserver ddbfs-chunkserver \
  meta_create_bench > /dev/null

# run LABEL SRC BUILD [tls]: one foundation.sh run on a fresh cluster of that
# build. A build with the trust boundary is measured as a client on another
# machine would use it: over TCP with an export key (made through the Unix
# socket), and with TLS when asked.
run() {
  local label=$1 src=$2 build=$3 tls=$4
  shift 4
  local state=${TMPDIR:-/var/tmp}/ddbfs-compare-state-$label
  echo; echo "===== $label ($src)"
  local env=(DDBFS_CLUSTER_DIR=$state DDBFS_BUILD_DIR=$build DDBFS_META_SOCKET=$state/run/meta.sock
             DDBFS_TLS=$tls DDBFS_MOUNT=off)
  env "${env[@]}" "$src/scripts/cluster" destroy > /dev/null
  env "${env[@]}" "$src/scripts/cluster" up > /dev/null
  local config=
  if [[ -x "$src/scripts/tls-certs" ]]; then
    config=$state/bench-client.conf
    (umask 077
     "$build/bin/ddbfs" --meta "unix:$state/run/meta.sock" key add bench --maproot 0:0 |
       grep '^key' > "$config"
     if [[ $tls == on ]]; then printf 'tls = on\ntls-ca = %s\n' "$state/secrets/tls/ca.pem" >> "$config"; fi)
  fi
  DDBFS_CONFIG=$config DDBFS_BUILD_DIR=$build "$ROOT/bench/foundation.sh" "$@" |
    sed -n '/^workload/,$p'
  env "${env[@]}" "$src/scripts/cluster" destroy > /dev/null
}
for ((i = 1; i <= ROUNDS; i++)); do
  run "before-$i" "$OLD_SRC" "$OLD_BUILD" off "$@"
  run "after-$i" "$ROOT" "$NEW_BUILD" off "$@"
  if [[ $WITH_TLS == 1 ]]; then run "after-tls-$i" "$ROOT" "$NEW_BUILD" on "$@"; fi
done
