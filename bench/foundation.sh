#!/usr/bin/env bash
# Foundation figures, measured against the running local cluster
# (./scripts/cluster up) and, side by side in the same run, against `cp` to a
# local folder on the same disk:
#   - ddbfs add / get of one 1 GiB file (MB/s)
#   - ddbfs add / get of 10,000 files of 4 KiB (files/s)
#   - metadata creates per second with 1 and with 16 concurrent clients
# The page cache is dropped before every read when we are root.
#
#   ./bench/foundation.sh [--size-mib 1024] [--files 10000]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${DDBFS_BUILD_DIR:-$ROOT/build}/bin
META=${DDBFS_META:-127.0.0.1:9400}
SIZE_MIB=1024
NFILES=10000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size-mib) SIZE_MIB=$2; shift 2 ;;
    --files) NFILES=$2; shift 2 ;;
    *) echo "usage: $0 [--size-mib N] [--files N]" >&2; exit 2 ;;
  esac
done

DDBFS() { "$BIN/ddbfs" --meta "$META" -q "$@"; }
DDBFS status > /dev/null || { echo "bench: no cluster at $META; run ./scripts/cluster up" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/ddbfs-bench.XXXXXX")
trap 'rm -rf "$WORK"; DDBFS rm -r "$REMOTE" > /dev/null 2>&1 || :' EXIT
REMOTE=/bench-$$

drop_caches() { if [[ $(id -u) -eq 0 ]]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi; }
now() { date +%s.%N; }
# secs START
since() { echo "$(now) - $1" | bc -l; }

echo "bench: making test data in $WORK"
mkdir -p "$WORK/src/small" "$WORK/local" "$WORK/back"
head -c "$((SIZE_MIB * 1048576))" /dev/urandom > "$WORK/src/big.bin"
for ((i = 0; i < NFILES; i++)); do head -c 4096 /dev/urandom > "$WORK/src/small/f$i"; done
DDBFS mkdir "$REMOTE"

declare -A R
t=$(now); drop_caches; t=$(now)
cp "$WORK/src/big.bin" "$WORK/local/big.bin"; sync; R[cp_big_w]=$(since "$t")
drop_caches; t=$(now)
cp "$WORK/local/big.bin" /dev/null; R[cp_big_r]=$(since "$t")
drop_caches; t=$(now)
DDBFS add "$WORK/src/big.bin" "$REMOTE/big.bin"; R[dd_big_w]=$(since "$t")
drop_caches; t=$(now)
DDBFS get "$REMOTE/big.bin" "$WORK/back/big.bin"; R[dd_big_r]=$(since "$t")
cmp "$WORK/src/big.bin" "$WORK/back/big.bin" || { echo "bench: 1 GiB file differs after get" >&2; exit 1; }

drop_caches; t=$(now)
cp -r "$WORK/src/small" "$WORK/local/small"; sync; R[cp_small_w]=$(since "$t")
drop_caches; t=$(now)
cat "$WORK"/local/small/* > /dev/null; R[cp_small_r]=$(since "$t")
drop_caches; t=$(now)
DDBFS add "$WORK/src/small" "$REMOTE/small"; R[dd_small_w]=$(since "$t")
drop_caches; t=$(now)
DDBFS get "$REMOTE/small" "$WORK/back/small"; R[dd_small_r]=$(since "$t")
diff -r "$WORK/src/small" "$WORK/back/small" > /dev/null || { echo "bench: small files differ" >&2; exit 1; }

mbps() { echo "scale=1; $SIZE_MIB * 1.048576 / $1" | bc -l; }
fps() { echo "scale=0; $NFILES / $1" | bc -l; }
ratio() { echo "scale=2; $2 / $1" | bc -l; }   # ddbfs speed / cp speed = cp time / ddbfs time

printf '\n%-34s %12s %12s %8s\n' "workload" "ddbfs" "cp (local)" "ratio"
printf '%-34s %9s MB/s %7s MB/s %8s\n' "write ${SIZE_MIB} MiB file (add vs cp+sync)" \
  "$(mbps "${R[dd_big_w]}")" "$(mbps "${R[cp_big_w]}")" "$(ratio "${R[dd_big_w]}" "${R[cp_big_w]}")"
printf '%-34s %9s MB/s %7s MB/s %8s\n' "read ${SIZE_MIB} MiB file (get vs cp)" \
  "$(mbps "${R[dd_big_r]}")" "$(mbps "${R[cp_big_r]}")" "$(ratio "${R[dd_big_r]}" "${R[cp_big_r]}")"
printf '%-34s %7s files/s %5s files/s %6s\n' "write $NFILES x 4 KiB (add vs cp -r)" \
  "$(fps "${R[dd_small_w]}")" "$(fps "${R[cp_small_w]}")" "$(ratio "${R[dd_small_w]}" "${R[cp_small_w]}")"
printf '%-34s %7s files/s %5s files/s %6s\n' "read $NFILES x 4 KiB (get vs cat)" \
  "$(fps "${R[dd_small_r]}")" "$(fps "${R[cp_small_r]}")" "$(ratio "${R[dd_small_r]}" "${R[cp_small_r]}")"

echo
echo "metadata creates (empty files), group commit:"
"$BIN/meta_create_bench" --meta "$META" --clients 1 --files 2000
"$BIN/meta_create_bench" --meta "$META" --clients 16 --files 500
