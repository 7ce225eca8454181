#!/usr/bin/env bash
# ab.sh — this build against another one (an earlier commit's), on the
# same simulated cities, in one run: what a change did to celltrace's own
# figures, with the answers checked identical.
#
#   bench/ab.sh --old BINARY [--sizes "10k 100k"] [--cases N] [--reps R] [--out FILE]
#
#   --old BINARY   the build to compare with (e.g. one made from an earlier
#                  commit: git worktree add /tmp/old COMMIT && cmake ...)
#   --sizes LIST   city sizes, each 10k, 100k or 1m (default "10k 100k")
#   --cases N      cases per city (default 20); every one traced
#   --reps R       traces of each case by each build (default 2)
#   --out FILE     default bench/results/ab-<date>.md
#   BENCH_NO_MAKE=1  use the existing build/celltrace instead of running make
#
# For each size, each build ingests the city into its own store (one
# `ingest --compact now` per operator), timed; then bytes per event
# (`stats`); then every case traced by each build in turn, R times, one
# process each: whole-process and in-library milliseconds (`trace
# --work`), and in-library milliseconds of the same with --score (what
# `run` and `--level` trace); then every case in one `trace --all --score --jobs NPROC`
# process by each; then one `run` by each on a copy of its store (every
# case scored, its contacts stored with their home regions, the SMS
# queued, in one transaction). Both builds' --all --score answers must be
# byte-identical, their candidates, overlaps and contacts per case equal,
# and their runs must store the same contacts, messages and report
# counters (sqlite3; times and the day of the run left out).
# Reported: medians, and new / old. The cities are kept in
# bench/work/ab/<size>/city; the stores are removed at the end.
set -euo pipefail
SIZES="10k 100k" CASES=20 REPS=2 OLD= OUT=
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --old) OLD=${2:-}; shift 2 ;;
        --sizes) SIZES=${2:-}; shift 2 ;;
        --cases) CASES=${2:-}; shift 2 ;;
        --reps) REPS=${2:-}; shift 2 ;;
        --out) OUT=${2:-}; shift 2 ;;
        -h|--help) usage ;;
        *) echo "ab.sh: unknown argument $1" >&2; usage ;;
    esac
done
[ -x "$OLD" ] || { echo "ab.sh: --old BINARY is needed (an executable celltrace)" >&2; usage; }
[[ "$CASES" =~ ^[1-9][0-9]*$ && "$REPS" =~ ^[1-9][0-9]*$ ]] || usage
for s in $SIZES; do case "$s" in 10k|100k|1m) ;; *) usage ;; esac; done
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
WORK=$HERE/work/ab
CT=$ROOT/build/celltrace
OUT=${OUT:-$HERE/results/ab-$(date -u +%F).md}
. "$HERE/common.sh"
cleanup() {
    local rc=$?
    rm -rf "$WORK"/*/old "$WORK"/*/new "$WORK"/*/old.run "$WORK"/*/new.run "$WORK"/*/*.tables
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
[ "${BENCH_NO_MAKE:-0}" = 1 ] || make -C "$ROOT" >/dev/null
mkdir -p "$WORK" "$(dirname "$OUT")"
cp "$CT" "$WORK/new.bin"
cp "$OLD" "$WORK/old.bin"
NPROC=$(nproc)

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }

ingest() { # ingest BUILD CITY DIR: prints seconds
    local bin=$WORK/$1.bin city=$2 dir=$3 t0 rc
    rm -rf "$dir"
    t0=$(now_us)
    "$bin" --quiet --data "$dir" init
    for d in "$city"/*/; do
        [ -f "$d/cells.csv" ] || continue
        "$bin" --quiet --data "$dir" cells import --operator "$(basename "$d")" "$d/cells.csv" >/dev/null
        rc=0
        "$bin" --quiet --data "$dir" ingest --compact now --operator "$(basename "$d")" "$d/events/"*.csv \
            >/dev/null 2>&1 || rc=$?
        [ $rc = 0 ] || [ $rc = 3 ] || { echo "ab.sh: ingest by $1 failed" >&2; exit 1; }
    done
    "$bin" --quiet --data "$dir" cases import "$city/cases.csv" >/dev/null
    secs_since "$t0"
}

run_tables() { # run_tables DIR: what a run stored, without its times
    sqlite3 "$1/catalog.db" \
        "SELECT case_id, subscriber, exposure_s, first_contact, last_contact, min_radius_m,
                home_region, quarantine_end, p_contact, expected_near_s, level
           FROM nt_contacts ORDER BY case_id, subscriber;
         SELECT key, subscriber, kind, case_id, region, last_contact, quarantine_end, text, ucs2
           FROM nt_outbox ORDER BY key;
         SELECT region, cases, contacts, notified, delivered, failed, quarantine, test, none,
                invitations FROM nt_day ORDER BY region, day;"
}

{
    echo "# This build against another, $(date -u +%F)"
    echo
    echo "\`bench/ab.sh --sizes \"$SIZES\" --cases $CASES --reps $REPS\` on $NPROC cores."
    echo "new: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?') ($CT); old: $OLD."
    echo "Medians; each case traced $REPS times by each build, one process each, in turn; one \`run\` by each."
    echo "Both builds' \`trace --all --score\` answers were byte-identical, every case's candidates, overlaps and contacts equal, and their runs stored the same contacts, messages and report counters."
    echo
    echo "| size | figure | old | new | new / old |"
    echo "|---|---|---:|---:|---:|"
} > "$OUT.tmp"

for size in $SIZES; do
    case $size in 10k) subs=10000 ;; 100k) subs=100000 ;; 1m) subs=1000000 ;; esac
    W=$WORK/$size
    mkdir -p "$W"
    ensure_city "$W/city" "$subs" 14 1 "$CASES"
    declare -A ingest_s bpe p50_whole p50_lib nspc p50_scored
    for b in old new; do
        log "$size: ingest by $b"
        ingest_s[$b]=$(ingest $b "$W/city" "$W/$b")
        bpe[$b]=$("$WORK/$b.bin" --data "$W/$b" stats --format json |
                  node -e 'const s=JSON.parse(require("fs").readFileSync(0));console.log((s.store_bytes/s.events).toFixed(2))')
    done
    mapfile -t ids < <(tail -n +2 "$W/city/cases.csv" | cut -d, -f1)
    log "$size: ${#ids[@]} cases, $REPS times each by each build"
    : > "$W/old.t"; : > "$W/new.t"; : > "$W/old.s"; : > "$W/new.s"
    for c in "${ids[@]}"; do
        for r in $(seq "$REPS"); do
            for b in old new; do
                t0=$(now_us)
                "$WORK/$b.bin" --quiet --data "$W/$b" trace "$c" --format csv --work >/dev/null 2>"$W/$b.work"
                echo "$c $(secs_since "$t0") $(work_fields "$W/$b.work") $(sed -n 's/^work: [^:]*: [0-9]* case intervals, [0-9]* candidates, \([0-9]*\) overlaps.*/\1/p' "$W/$b.work")" >> "$W/$b.t"
                "$WORK/$b.bin" --quiet --data "$W/$b" trace "$c" --score --format csv --work >/dev/null 2>"$W/$b.work"
                echo "$c $(work_fields "$W/$b.work")" >> "$W/$b.s"
            done
        done
    done
    # the same work, case by case: candidates, contacts, overlaps
    cut -d' ' -f1,3,4,7 "$W/old.t" | sort -u > "$W/old.same"
    cut -d' ' -f1,3,4,7 "$W/new.t" | sort -u > "$W/new.same"
    cmp -s "$W/old.same" "$W/new.same" ||
        { diff "$W/old.same" "$W/new.same" >&2; echo "ab.sh: $size: the builds found different work" >&2; exit 1; }
    declare -A batch
    for b in old new; do
        log "$size: trace --all --score --jobs $NPROC by $b"
        t0=$(now_us)
        "$WORK/$b.bin" --quiet --data "$W/$b" trace --all --score --jobs "$NPROC" --format csv > "$W/$b.all"
        batch[$b]=$(awk -v n="${#ids[@]}" -v s="$(secs_since "$t0")" 'BEGIN { printf "%.2f", n / s }')
    done
    cmp -s "$W/old.all" "$W/new.all" || { echo "ab.sh: $size: the answers differ" >&2; exit 1; }
    declare -A run_s
    for b in old new; do
        log "$size: run by $b"
        rm -rf "$W/$b.run"
        cp -a "$W/$b" "$W/$b.run"
        t0=$(now_us)
        "$WORK/$b.bin" --quiet --data "$W/$b.run" run >/dev/null ||
            { echo "ab.sh: $size: run by $b failed" >&2; exit 1; }
        run_s[$b]=$(secs_since "$t0")
        run_tables "$W/$b.run" > "$W/$b.tables" ||
            { echo "ab.sh: $size: reading the tables of $b's run failed" >&2; exit 1; }
        rm -rf "$W/$b.run"
    done
    [ -s "$W/new.tables" ] && cmp -s "$W/old.tables" "$W/new.tables" ||
        { echo "ab.sh: $size: the runs stored different contacts, messages or counters" >&2; exit 1; }
    rm -f "$W/old.tables" "$W/new.tables" # subscriber ids and message texts
    row() { # row FIGURE OLD NEW
        echo "| $size | $1 | $2 | $3 | $(ratio "$3" "$2") |" >> "$OUT.tmp"
    }
    row "ingest, CSV to queryable (s)" "${ingest_s[old]}" "${ingest_s[new]}"
    row "bytes on disk per event" "${bpe[old]}" "${bpe[new]}"
    for b in old new; do
        p50_whole[$b]=$(awk '{ print $2 * 1000 }' "$W/$b.t" | median)
        p50_lib[$b]=$(awk '{ print $6 }' "$W/$b.t" | median)
        nspc[$b]=$(awk '{ print $5 }' "$W/$b.t" | median)
        p50_scored[$b]=$(awk '{ print $5 }' "$W/$b.s" | median)
    done
    row "trace p50, whole process (ms)" "${p50_whole[old]}" "${p50_whole[new]}"
    row "trace p50, in the library (ms)" "${p50_lib[old]}" "${p50_lib[new]}"
    row "ns per candidate (median)" "${nspc[old]}" "${nspc[new]}"
    row "scored trace p50, in the library (ms)" "${p50_scored[old]}" "${p50_scored[new]}"
    row "trace --all --score --jobs $NPROC (cases/s)" "${batch[old]}" "${batch[new]}"
    row "run of all cases: scored, stored, SMS queued (s)" "${run_s[old]}" "${run_s[new]}"
    log "$size: done"
done
mv "$OUT.tmp" "$OUT"
cat "$OUT"
