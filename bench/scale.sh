#!/usr/bin/env bash
# scale.sh — how celltrace's figures grow with the city (issue 5's scaling
# table): celltrace alone, on cities of several sizes simulated with the
# same settings as run.sh (14 days, seed 1, default density).
#
#   bench/scale.sh [--sizes "10k 100k 1m"] [--cases N] [--keep]
#
#   --sizes LIST   city sizes, each 10k, 100k or 1m (default "10k 100k")
#   --cases N      cases per city, every one traced (default 20)
#   --keep         keep bench/work/scale/<size> (city and store)
#   BENCH_NO_MAKE=1  use the existing build/celltrace instead of running make
#
# For each size: ingest (CSV to queryable) and its peak memory, bytes per
# event, one process per case (whole-process time, p50 and max), the
# candidates and ns per candidate of `trace --work`, contacts per case,
# peak memory of a trace, and every case in one `trace --jobs NPROC`
# process; a trace's memory at its end, split into pages mapped from the
# store and its own (`trace --work`). Writes bench/results/scaling-<date>.md
# with each figure's growth from one size to the next, and, with 1m among
# the sizes, ingest_peak_mb_1m in bench/results/latest.json. The peers are
# in run.sh's results.
set -euo pipefail

SIZES="10k 100k" CASES=20 KEEP=0
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes) SIZES=${2:-}; shift 2 ;;
        --cases) CASES=${2:-}; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage ;;
        *) echo "scale.sh: unknown argument $1" >&2; usage ;;
    esac
done
[[ "$CASES" =~ ^[1-9][0-9]*$ ]] || usage
for s in $SIZES; do case "$s" in 10k|100k|1m) ;; *) usage ;; esac; done

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
WORK=$HERE/work/scale
CT=$ROOT/build/celltrace
. "$HERE/common.sh"
cleanup() {
    local rc=$?
    [ "$KEEP" = 1 ] || rm -rf "$WORK"/*/city "$WORK"/*/ct
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

[ "${BENCH_NO_MAKE:-0}" = 1 ] || make -C "$ROOT" >/dev/null
mkdir -p "$WORK" "$HERE/results"
cp "$CT" "$WORK/celltrace"
CT=$WORK/celltrace
NPROC=$(nproc)

for size in $SIZES; do
    case "$size" in 10k) subs=10000 ;; 100k) subs=100000 ;; 1m) subs=1000000 ;; esac
    W=$WORK/$size
    mkdir -p "$W"
    city=$W/city
    if ! { [ -f "$city/manifest.json" ] && grep -q "\"subscribers\": $subs," "$city/manifest.json" &&
           grep -q "\"cases\": $CASES," "$city/manifest.json"; }; then
        rm -rf "$city"
        log "$size: simulate --subscribers $subs --days 14 --cases $CASES"
        "$CT" simulate --out "$city" --subscribers "$subs" --days 14 --seed 1 --cases "$CASES" >&2
    fi
    export CELLTRACE_DATA=$W/ct
    rm -rf "$CELLTRACE_DATA" "$W/m"
    mkdir -p "$W/m/out"
    log "$size: ingest"
    t0=$(now_us)
    "$CT" --quiet init
    for d in "$city"/*/; do
        [ -f "$d/cells.csv" ] || continue
        op=$(basename "$d")
        "$CT" --quiet cells import --operator "$op" "$d/cells.csv" >/dev/null
        rc=0
        /usr/bin/time -f '%M' -a -o "$W/m/ingest_rss" \
            "$CT" --quiet ingest --compact now --operator "$op" "$d/events/"*.csv >/dev/null 2>&1 || rc=$?
        [ $rc = 0 ] || [ $rc = 3 ] || { echo "scale.sh: ingest of $op failed" >&2; exit 1; }
    done
    "$CT" --quiet cases import "$city/cases.csv" >/dev/null
    secs_since "$t0" > "$W/m/ingest_s"
    "$CT" stats --format json > "$W/m/stats.json"
    mapfile -t ids < <(tail -n +2 "$city/cases.csv" | cut -d, -f1)
    log "$size: ${#ids[@]} single traces"
    for c in "${ids[@]}"; do
        t0=$(now_us)
        /usr/bin/time -f '%M' -a -o "$W/m/trace_rss" \
            "$CT" --quiet trace "$c" --format csv --work > "$W/m/out/$c.csv" 2> "$W/m/out/$c.work"
        echo "$(secs_since "$t0") $(work_fields "$W/m/out/$c.work")"
        sed -n 's/^work: memory: peak [0-9.]* MB; at the end of the trace \([0-9.]*\) MB mapped from files, \([0-9.]*\) MB own$/\1 \2/p' \
            "$W/m/out/$c.work" >> "$W/m/trace_mem"
    done > "$W/m/traces"
    log "$size: batch, --jobs $NPROC"
    t0=$(now_us)
    "$CT" --quiet trace "${ids[@]}" --format csv --jobs "$NPROC" > "$W/m/batch.csv"
    secs_since "$t0" > "$W/m/batch_s"
    cmp -s "$W/m/batch.csv" <(head -1 "$W/m/batch.csv"; for c in "${ids[@]}"; do tail -n +2 "$W/m/out/$c.csv"; done) ||
        { echo "scale.sh: the batch differs from the single traces" >&2; exit 1; }
done

node "$HERE/scale_report.mjs" --work "$WORK" --sizes "$SIZES" --cases "$CASES" --cores "$NPROC" \
    --date "$(date -u +%Y-%m-%d)" --out "$HERE/results/scaling-$(date -u +%Y-%m-%d).md" \
    --json "$HERE/results/latest.json"
