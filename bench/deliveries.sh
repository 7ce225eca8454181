#!/usr/bin/env bash
# deliveries.sh — the demo city's feeds delivered one file at a time
# against one ingest of all files (issue 15, part 4), with answers checked.
#
#   bench/deliveries.sh [--reps N] [--old BINARY] [--out FILE]
#
# The demo city (20 000 people, 14 days, seed 1, 3 operators: 210 files
# of six hours or a day's late rows). Each repetition times, on fresh data
# directories and in turn:
#   one        init, cells, one `ingest --compact off` per operator (all
#              its files), then `compact`: the whole store, one file a day;
#   each       the 210 files, one `ingest` each in name order per operator
#              (the default: each delivery's day merged in the background),
#              then `compact`, which waits for the last merge;
#   each-off   the same with `ingest --compact off` (runs kept; a delivery
#              to a day of 4 runs merges with its newest ones), then
#              `compact`;
#   spool      the 210 files in each operator's drop folder, taken by one
#              `ingest --spool DIR --once` per operator: each file still
#              its own delivery and commit, in name order, but one process
#              (and one opening of the store) per operator; then `compact`;
#   empty      210 ingests of a file with only the header: what 210
#              processes cost by themselves (start, libraries, opening the
#              store, the reject report), the floor under `each`;
#   old-one, old-each   the same two with --old BINARY (a build from
#              before runs, which rewrote a delivery's whole day).
# Every store must give byte-identical `trace --all --score` and the same
# event count. Reported: seconds per mode (median over the repetitions)
# and the ratio of each to `one`; the issue's target is <= 1.5. each / one
# goes to bench/results/latest.json as deliveries_ratio, spool / one as
# deliveries_ratio_spool.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/common.sh"
CT=${CT:-$ROOT/build/celltrace}
REPS=3 OLD= OUT=$ROOT/bench/results/deliveries-$(date -u +%F).md
while [ $# -gt 0 ]; do
    case $1 in
    --reps) REPS=$2; shift 2 ;;
    --old) OLD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "deliveries.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
WORK=${BENCH_WORK:-$ROOT/bench/work}/deliveries
mkdir -p "$WORK"
CITY=$WORK/city
ensure_city "$CITY" 20000 14 1 10
OPS=$(cd "$CITY" && ls -d */ | tr -d / | tr '\n' ' ')
export OMPI_MCA_odls_base_sigkill_timeout=0

ingest() { # ingest BINARY ARGS...: exit 0 or 3 (the simulator's bad rows)
    local b=$1 rc=0
    shift
    "$b" --quiet "$@" >/dev/null 2>"$WORK/ingest.err" || rc=$?
    [ $rc = 0 ] || [ $rc = 3 ] || { cat "$WORK/ingest.err" >&2; exit 1; }
}

setup() { # setup BINARY DIR
    rm -rf "$2"
    "$1" --quiet --data "$2" init >/dev/null
    for op in $OPS; do "$1" --quiet --data "$2" cells import --operator "$op" "$CITY/$op/cells.csv" >/dev/null; done
}

load() { # load MODE DIR: prints seconds (setup excluded)
    local mode=$1 d=$2 b=$CT t0
    case $mode in old-*) b=$OLD ;; esac
    setup "$b" "$d"
    if [ "$mode" = spool ]; then # the drop folders, filled before the clock starts
        for op in $OPS; do
            rm -rf "$d.spool/$op"
            mkdir -p "$d.spool/$op"
            ln "$CITY/$op/events/"* "$d.spool/$op/" 2>/dev/null || cp "$CITY/$op/events/"* "$d.spool/$op/"
        done
    fi
    t0=$(now_us)
    for op in $OPS; do
        case $mode in
        one) ingest "$b" --data "$d" ingest --compact off --operator "$op" "$CITY/$op/events/"* ;;
        old-one) ingest "$b" --data "$d" ingest --operator "$op" "$CITY/$op/events/"* ;;
        each) for f in "$CITY/$op/events/"*; do ingest "$b" --data "$d" ingest --operator "$op" "$f"; done ;;
        each-off) for f in "$CITY/$op/events/"*; do
                      ingest "$b" --data "$d" ingest --compact off --operator "$op" "$f"
                  done ;;
        old-each) for f in "$CITY/$op/events/"*; do ingest "$b" --data "$d" ingest --operator "$op" "$f"; done ;;
        spool) ingest "$b" --data "$d" ingest --operator "$op" --spool "$d.spool/$op" --once --settle 0
               [ -z "$(ls "$d.spool/$op")" ] || { echo "deliveries.sh: $op's spool not emptied" >&2; exit 1; } ;;
        empty) for f in "$CITY/$op/events/"*; do
                   ingest "$b" --data "$d" ingest --compact off --operator "$op" "$WORK/header.csv"
               done ;;
        esac
    done
    case $mode in old-*|empty) ;; *) "$b" --quiet --data "$d" compact >/dev/null ;; esac
    secs_since "$t0"
}

answers() { # answers DIR OUT
    "$CT" --quiet --data "$1" cases import "$CITY/cases.csv" >/dev/null
    "$CT" --quiet --data "$1" trace --all --score --format csv >"$2"
    "$CT" --data "$1" stats --format json | sed 's/.*"events":\([0-9]*\).*/\1/' >>"$2"
}

MODES="one each each-off spool empty"
echo "msisdn,ts,cell_id" >"$WORK/header.csv"
[ -n "$OLD" ] && MODES="$MODES old-one old-each"
: >"$WORK/times.txt"
for rep in $(seq "$REPS"); do
    for mode in $MODES; do
        s=$(load "$mode" "$WORK/d-$mode")
        log "rep $rep: $mode $s s"
        echo "$mode $s" >>"$WORK/times.txt"
        if [ "$rep" = 1 ] && [ "$mode" != empty ]; then
            answers "$WORK/d-$mode" "$WORK/answer-$mode.csv"
            cmp -s "$WORK/answer-one.csv" "$WORK/answer-$mode.csv" ||
                { echo "deliveries.sh: $mode answers differ from one" >&2; exit 1; }
        fi
    done
done
contacts=$(($(wc -l <"$WORK/answer-one.csv") - 2))
median() { grep "^$1 " "$WORK/times.txt" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
one=$(median one)
{
    echo "# Deliveries one at a time, $(date -u +%F)"
    echo
    built="commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD || echo +dirty)"
    [ "$CT" -ef "$ROOT/build/celltrace" ] || built="the binary $CT (not this checkout's build)"
    echo "\`bench/deliveries.sh --reps $REPS${OLD:+ --old ...}\` on $(nproc) cores, $built."
    echo "The demo city: 20 000 people, 14 days, seed 1, $(ls "$CITY"/*/events/* | wc -l) files. Median of $REPS; ratio to \`one\`."
    echo "Every store gave byte-identical \`trace --all --score\` ($contacts scored contacts) and the same event count."
    echo
    echo "| mode | seconds | ratio | every repetition |"
    echo "|---|---:|---:|---|"
    for mode in $MODES; do
        m=$(median "$mode")
        echo "| $mode | $m | $(awk -v a="$m" -v b="$one" 'BEGIN { printf "%.2f", a / b }') | $(grep "^$mode " "$WORK/times.txt" | awk '{print $2}' | tr '\n' ' ')|"
    done
} >"$OUT"
cat "$OUT"
# latest.json: each / one, beside run.sh's figures (report.mjs keeps it)
ratio=$(awk -v a="$(median each)" -v b="$one" 'BEGIN { printf "%.3f", a / b }')
spool_ratio=$(awk -v a="$(median spool)" -v b="$one" 'BEGIN { printf "%.3f", a / b }')
LATEST=$ROOT/bench/results/latest.json
[ -f "$LATEST" ] && node -e '
const fs = require("fs"), f = process.argv[1];
const j = JSON.parse(fs.readFileSync(f, "utf8"));
j.deliveries_ratio = { celltrace: Number(process.argv[2]), duckdb: null, postgres: null };
j.deliveries_ratio_spool = { celltrace: Number(process.argv[3]), duckdb: null, postgres: null };
fs.writeFileSync(f, JSON.stringify(j, null, 2) + "\n");' "$LATEST" "$ratio" "$spool_ratio"
