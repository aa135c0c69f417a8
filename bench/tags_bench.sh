#!/usr/bin/env bash
# Tags and queries at scale (issue 8): against the running cluster of
# `./scripts/cluster up`, loads --docs documents with about 10 tags each
# (build/bin/tag_load; skipped with --no-load when /tagbench is there), then
# times each operation --runs times, end to end (a new process each time,
# as a user would run it), and prints the median and the 99th percentile.
#
#   ./bench/tags_bench.sh [--docs 1000000] [--runs 100] [--no-load]
#
# The queries are chosen from tag_load's distribution to return up to
# 1,000 documents: t100 is on ~0.5 % of the documents, t300 on ~0.16 %,
# t15000 on a handful; important on 10 %, work on 50 %.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${DDBFS_BUILD_DIR:-build}
DOCS=1000000
RUNS=100
LOAD=1
while (($#)); do
  case $1 in
    --docs) DOCS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --no-load) LOAD=0; shift ;;
    *) echo "tags_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
META=${DDBFS_META:-unix:/run/ddbfs/meta.sock}
DDBFS="$BUILD/bin/ddbfs --meta $META"
MNT=${DDBFS_MOUNT:-$PWD/mnt}
PSQL=(runuser -u postgres -- psql -X -q -A -t -h "$PWD/.cluster/pg/run" -p "${DDBFS_PG_PORT:-5439}" -d ddbfs)

if ((LOAD)); then
  echo "loading $DOCS documents (build/bin/tag_load)"
  "$BUILD/bin/tag_load" --meta "$META" --docs "$DOCS" --clients 16 --no-sizes
fi

# time_it NAME COMMAND...: RUNS runs of COMMAND (output discarded), then
# "NAME  median  p99  (lines of the last output)".
time_it() {
  local name=$1
  shift
  local times=() out lines
  for ((r = 0; r < RUNS; r++)); do
    local t0 t1
    t0=$(date +%s%N)
    out=$("$@" 2>&1) || { echo "$name: failed: $out" >&2; return 1; }
    t1=$(date +%s%N)
    times+=($(((t1 - t0) / 1000)))
  done
  lines=$(printf '%s' "$out" | awk 'END { print NR }')
  printf '%s\n' "${times[@]}" | sort -n | awk -v name="$name" -v n="$RUNS" -v lines="$lines" '
    { t[NR] = $1 }
    END {
      med = t[int((n + 1) / 2)]; p99 = t[int(n * 0.99 + 0.999)]
      printf "%-44s median %8.1f ms   p99 %8.1f ms   (%s lines)\n", name, med / 1000, p99 / 1000, lines
    }'
}

echo "end to end, $RUNS runs each:"
time_it "query: important and t100"        $DDBFS query important and t100
time_it "query: t300 and not work"         $DDBFS query t300 and not work
time_it "query: year>=2023 and t200"       $DDBFS query 'year>=2023' and t200
time_it "query: t15000 (rare)"             $DDBFS query t15000
time_it "query: work (first 1000 of 500k)" $DDBFS query work --limit 1000
time_it "tags: every tag with counts"      $DDBFS tags
time_it "tags --within 'important and t100'" $DDBFS tags --within 'important and t100' 
if mountpoint -q "$MNT"; then
  time_it "ls .tags/important/t100/"       ls "$MNT/.tags/important/t100/"
fi
time_it "SQL: document_tags of t15000"     "${PSQL[@]}" -c \
  "SELECT path FROM ddbfs.document_tags WHERE tag = 't15000'"

# Bulk tagging: 100,000 documents (100 folders of 1,000), once.
if ((DOCS >= 100000)); then
  dirs=()
  for ((d = 0; d < 100; d++)); do dirs+=("/tagbench/d$d"); done
  t0=$(date +%s%N)
  $DDBFS tag -t bulk100k -r "${dirs[@]}"
  t1=$(date +%s%N)
  awk -v ns=$((t1 - t0)) 'BEGIN { printf "%-44s %8.1f s\n", "tag -r of 100,000 documents", ns / 1e9 }' 
  $DDBFS untag -t bulk100k -r "${dirs[@]}"
fi
