#!/usr/bin/env bash
# run.sh — celltrace against DuckDB and PostgreSQL/PostGIS on one simulated
# city (issue 5; bench/README.md says what is measured and how).
#
#   bench/run.sh --size 10k|100k|1m [--cases N] [--repeat R] [--mem-limit MB] [--keep] [--check-only]
#
#   --cases N      cases in the city, all traced (default 100: p50/p99 need >= 100)
#   --mem-limit MB the memory every engine gets (default 4096): each engine's
#                  caches are set from it, and each runs in a memory cgroup
#                  with that limit where one can be made (memcg.sh); 0: none
#   --repeat R     whole runs (load, traces, batch) per engine; medians (default 3)
#   --keep         keep bench/work/<size> (city, stores) and the PostgreSQL cluster
#   --check-only   equality only: load, trace, compare; no batch, no results files
#   BENCH_NO_MAKE=1  use the existing build/celltrace instead of running make
#
# Installs the peers (setup.sh), builds celltrace (make), simulates the city
# with `celltrace simulate` (14 days, default Moscow-like density), loads it
# into all three, traces every case in each, checks that the three give the
# same contacts row for row, and writes bench/results/<size>-<date>.md and
# bench/results/latest.json. Exit 1 when the answers differ.
#
# PostgreSQL runs as a private cluster: initdb in a temporary folder, a unix
# socket in that folder only (no TCP), stopped by the exit trap whatever
# happens. Nothing here talks to anything but local files and that socket.
set -euo pipefail

SIZE= CASES=100 REPEAT=3 KEEP=0 CHECK_ONLY=0 MEM_LIMIT=4096
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --size) SIZE=${2:-}; shift 2 ;;
        --cases) CASES=${2:-}; shift 2 ;;
        --repeat) REPEAT=${2:-}; shift 2 ;;
        --mem-limit) MEM_LIMIT=${2:-}; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --check-only) CHECK_ONLY=1; shift ;;
        -h|--help) usage ;;
        *) echo "run.sh: unknown argument $1" >&2; usage ;;
    esac
done
case "$SIZE" in
    10k) SUBS=10000 ;;
    100k) SUBS=100000 ;;
    1m) SUBS=1000000 ;;
    *) echo "run.sh: --size must be 10k, 100k or 1m" >&2; usage ;;
esac
[[ "$CASES" =~ ^[1-9][0-9]*$ && "$REPEAT" =~ ^[1-9][0-9]*$ && "$MEM_LIMIT" =~ ^[0-9]+$ ]] || usage
[ "$MEM_LIMIT" = 0 ] || [ "$MEM_LIMIT" -ge 256 ] || { echo "run.sh: --mem-limit is at least 256 (MB)" >&2; exit 2; }

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
WORK=$HERE/work/$SIZE
CT=$ROOT/build/celltrace
PGBIN=/usr/lib/postgresql/15/bin
DAYS=14 SEED=1
. "$HERE/common.sh"
. "$HERE/memcg.sh"

# ---- clean-up: whatever happens, the PostgreSQL cluster stops -------------
PGTMP= PG_AS=() SAMPLER_PID=
cleanup() {
    local rc=$?
    set +e
    # a failure says so, and what the memory limit killed (a kill by the
    # cgroup leaves no message of its own in this log)
    [ $rc = 0 ] || log "failed (exit $rc)$(grep -h 'terminated by signal' "${MEAS:-/nonexistent}"/rep*/rss.txt 2>/dev/null | sort | uniq -c | sed 's/^ */; /' | tr '\n' ' ')"
    [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null && wait "$SAMPLER_PID" 2>/dev/null
    pg_stop
    if [ "$KEEP" = 0 ] && [ -d "$WORK" ]; then
        rm -rf "$WORK/ct" "$WORK/duck.db" "$WORK/duck.db.wal" "$WORK/city"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- PostgreSQL: a private cluster on a unix socket (pg.sh) ----------------
. "$HERE/pg.sh"

pg_trace_script() { # outdir case... -> psql script on stdout
    # the query is prepared once per session (not timed), then each case
    # is one timed EXECUTE, as an application would run it
    local out=$1 c
    shift
    printf '\\pset format csv\n\\pset tuples_only on\n\\i %s\n\\timing on\n' "$HERE/sql/pg_trace.sql"
    for c in "$@"; do
        printf '\\o %s/%s.csv\nEXECUTE ct_trace(%s);\n' "$out" "$c" "'${c//\'/\'\'}'"
    done
}

# ---- set-up -------------------------------------------------------------------
log "set-up: peers (setup.sh), celltrace (make)"
bash "$HERE/setup.sh"
if [ "${BENCH_NO_MAKE:-0}" = 1 ]; then
    log "BENCH_NO_MAKE=1: using the existing $CT"
else
    make -C "$ROOT" >/dev/null
fi
mkdir -p "$WORK" "$HERE/results"
# a copy of the binary: a rebuild of the work tree during the run changes nothing
cp "$CT" "$WORK/celltrace"
CT=$WORK/celltrace
cc -O2 -o "$WORK/membw" "$HERE/membw.c"

# ---- one memory limit for all (memcg.sh; bench/README.md, "Memory") ----------
# Each engine's own settings come from the limit: celltrace's ingest buffer
# (CT_INGEST_MEM_MB) a quarter; DuckDB's memory_limit all of it (it spills
# to its temp folder beyond); PostgreSQL's shared_buffers and
# maintenance_work_mem a quarter, work_mem 1/32 (two sessions, several
# hash and sort nodes each), effective_cache_size a half. DuckDB's
# memory_limit is 60 %: it bounds only its buffer manager, and its CSV
# reader and other allocations go past it (DuckDB's guide to out-of-memory
# errors says 50-60 % where a process limit kills it; with all of it, the
# 100k load was killed by the cgroup at 4.2 GB on 2026-12-03).
if [ "$MEM_LIMIT" != 0 ]; then
    memcg_init
    export CT_INGEST_MEM_MB=$((MEM_LIMIT / 4)) BENCH_DUCK_MEMORY_MB=$((MEM_LIMIT * 60 / 100))
    export PG_SHARED_MB=$((MEM_LIMIT / 4)) PG_WORK_MB=$((MEM_LIMIT / 32))
    export PG_MAINT_MB=$((MEM_LIMIT / 4)) PG_CACHE_MB=$((MEM_LIMIT / 2))
    log "memory limit: $MEM_LIMIT MB per engine, cgroup: $MEMCG_KIND"
fi
# memcg_enter PATH: the calling (sub)shell and what it starts join the cgroup
memcg_enter() { [ -z "$1" ] || echo "$BASHPID" > "$1/cgroup.procs"; }

CITY=$WORK/city
ensure_city "$CITY" "$SUBS" "$DAYS" "$SEED" "$CASES"
OPS=()
for d in "$CITY"/*/; do [ -f "$d/cells.csv" ] && OPS+=("$(basename "$d")"); done
mapfile -t CASE_IDS < <(tail -n +2 "$CITY/cases.csv" | cut -d, -f1)
printf '%s\n' "${CASE_IDS[@]}" > "$WORK/cases.txt"
EVENT_FILES=$(du -cb "$CITY"/*/events/* | tail -1 | cut -f1)

MEAS=$WORK/measure
rm -rf "$MEAS"
IDENTICAL=true
for rep in $(seq 1 "$REPEAT"); do
    M=$MEAS/rep$rep
    mkdir -p "$M"/{ct,duck,pg,ct_batch,pg_batch}
    : > "$M/ingest.txt"; : > "$M/rss.txt"; : > "$M/memcg.txt"; : > "$M/bytes.txt"; : > "$M/batch.txt"; : > "$M/run.txt"

    # ---- celltrace --------------------------------------------------------------
    CG=
    [ "$MEM_LIMIT" = 0 ] || { memcg_new "celltrace" "$MEM_LIMIT"; CG=$MEMCG; }
    (
    memcg_enter "$CG"
    echo "rep $rep celltrace $(cut -d' ' -f1 /proc/loadavg)" >> "$MEAS/loadavg.txt"
    # what ran: the checkout's commit (+dirty), and the binary itself, which
    # BENCH_NO_MAKE=1 may have built from another one
    echo "run $rep: commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo +dirty), binary sha256 $(sha256sum "$CT" | cut -c1-12) built $(date -u -r "$CT" +%Y-%m-%dT%H:%M:%SZ)" >> "$MEAS/build.txt"
    export CELLTRACE_DATA=$WORK/ct
    rm -rf "$CELLTRACE_DATA"
    log "rep $rep: celltrace ingest"
    t0=$(now_us)
    "$CT" --quiet init
    for op in "${OPS[@]}"; do "$CT" --quiet cells import --operator "$op" "$CITY/$op/cells.csv" >/dev/null; done
    for op in "${OPS[@]}"; do
        rc=0
        /usr/bin/time -f 'celltrace ingest %M' -a -o "$M/rss.txt" \
            "$CT" --quiet ingest --compact now --operator "$op" "$CITY/$op/events/"*.csv > "$M/ct_ingest_$op.txt" 2>&1 || rc=$?
        [ $rc = 0 ] || [ $rc = 3 ] || { cat "$M/ct_ingest_$op.txt" >&2; exit 1; }
    done
    "$CT" --quiet cases import "$CITY/cases.csv" >/dev/null
    echo "celltrace $(secs_since "$t0")" >> "$M/ingest.txt"
    "$CT" stats --format json > "$M/ct_stats.json"
    echo "celltrace $(node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(s.total_bytes, s.events)' "$M/ct_stats.json")" >> "$M/bytes.txt"
    log "rep $rep: celltrace traces"
    for c in "${CASE_IDS[@]}"; do
        t0=$(now_us)
        "$CT" --quiet trace "$c" --format csv --work > "$M/ct/$c.csv" 2> "$M/ct/$c.work"
        echo "$c $(awk -v a="$t0" -v b="$(now_us)" 'BEGIN { printf "%.3f", (b - a) / 1e3 }')"
    done > "$M/ct_trace_ms.txt"
    # case, candidates, contacts, ns per candidate of each trace (trace --work)
    for c in "${CASE_IDS[@]}"; do
        echo "$c $(work_fields "$M/ct/$c.work")"
    done > "$M/ct_work.txt"
    if [ "$CHECK_ONLY" = 0 ]; then
        # every case in one process: --jobs 2 threads, printed in order
        t0=$(now_us)
        /usr/bin/time -f 'celltrace trace %M' -a -o "$M/rss.txt" \
            "$CT" --quiet trace "${CASE_IDS[@]}" --format csv --jobs 2 > "$M/ct_batch.csv"
        echo "celltrace $(secs_since "$t0") ${#CASE_IDS[@]}" >> "$M/batch.txt"
        # split per case for compare.mjs (not timed)
        awk -F, -v dir="$M/ct_batch" 'NR == 1 { h = $0; next }
            $1 != cur { if (f) close(f); cur = $1; f = dir "/" cur ".csv"; print h > f }
            { print > f }' "$M/ct_batch.csv"
        for c in "${CASE_IDS[@]}"; do # cases without contacts: just the header
            [ -f "$M/ct_batch/$c.csv" ] || head -1 "$M/ct_batch.csv" > "$M/ct_batch/$c.csv"
        done
        # the floor of each trace (trace --work --floor): the kernel alone on
        # the pairs the trace matched; case, kernel ms, trace ms (the trace
        # of the same process, in the library; with --floor the CLI traces
        # on one thread, as the kernel runs)
        for c in "${CASE_IDS[@]}"; do
            "$CT" --quiet trace "$c" --format csv --work --floor > /dev/null 2> "$M/ct_floor.err" ||
                { cat "$M/ct_floor.err" >&2; exit 1; }
            echo "$c $(sed -n 's/^floor: .* kernel \([0-9.]*\) ms .*/\1/p' "$M/ct_floor.err") $(sed -n 's/^work: .* \([0-9.]*\) ms, .*/\1/p' "$M/ct_floor.err")"
        done > "$M/ct_floor.txt"
        # issue 15's target is for what a health authority asks first:
        # `trace --level test` (scored, only the contacts at level test or
        # above, the other numbers not read); case and its time in the
        # library, one process per case as above
        for c in "${CASE_IDS[@]}"; do
            "$CT" --quiet trace "$c" --format csv --work --level test > /dev/null 2> "$M/ct_level.err" ||
                { cat "$M/ct_level.err" >&2; exit 1; }
            echo "$c $(sed -n 's/^work: .* \([0-9.]*\) ms, .*/\1/p' "$M/ct_level.err")"
        done > "$M/ct_level_test.txt"
        # what a health authority runs: every case scored, every contact
        # stored with its level and home region, the SMS queued, in one
        # transaction (celltrace only: the peers have no such step)
        t0=$(now_us)
        /usr/bin/time -f 'celltrace run %M' -a -o "$M/rss.txt" \
            "$CT" --quiet run > "$M/ct_run.txt"
        echo "celltrace $(secs_since "$t0") ${#CASE_IDS[@]}" >> "$M/run.txt"
    fi
    ) # a failure inside exits the run too (set -e)
    echo "celltrace $(memcg_peak_kb "$CG") $(memcg_oom_kills "$CG")" >> "$M/memcg.txt"
    memcg_free "$CG"

    # ---- DuckDB -------------------------------------------------------------------
    CG=
    [ "$MEM_LIMIT" = 0 ] || { memcg_new "duckdb" "$MEM_LIMIT"; CG=$MEMCG; }
    (
    memcg_enter "$CG"
    rm -f "$WORK/duck.db" "$WORK/duck.db.wal"
    echo "rep $rep duckdb $(cut -d' ' -f1 /proc/loadavg)" >> "$MEAS/loadavg.txt"
    log "rep $rep: duckdb load"
    t0=$(now_us)
    /usr/bin/time -f 'duckdb ingest %M' -a -o "$M/rss.txt" \
        node "$HERE/duck.mjs" load "$WORK/duck.db" "$CITY" > "$M/duck_load.json"
    echo "duckdb $(secs_since "$t0")" >> "$M/ingest.txt"
    echo "duckdb $(du -cb "$WORK"/duck.db* | tail -1 | cut -f1)" >> "$M/bytes.txt"
    log "rep $rep: duckdb traces"
    /usr/bin/time -f 'duckdb trace %M' -a -o "$M/rss.txt" \
        node "$HERE/duck.mjs" trace "$WORK/duck.db" "$M/duck" "${CASE_IDS[@]}" > "$M/duck_trace_ms.txt"
    if [ "$CHECK_ONLY" = 0 ]; then
        t0=$(now_us)
        /usr/bin/time -f 'duckdb trace %M' -a -o "$M/rss.txt" \
            node "$HERE/duck.mjs" batch "$WORK/duck.db" "$M/duck_batch.csv" > /dev/null
        echo "duckdb $(secs_since "$t0") ${#CASE_IDS[@]}" >> "$M/batch.txt"
    fi
    )
    echo "duckdb $(memcg_peak_kb "$CG") $(memcg_oom_kills "$CG")" >> "$M/memcg.txt"
    memcg_free "$CG"

    # ---- PostgreSQL + PostGIS -------------------------------------------------------
    log "rep $rep: postgres load"
    echo "rep $rep postgres $(cut -d' ' -f1 /proc/loadavg)" >> "$MEAS/loadavg.txt"
    PG_CG=
    [ "$MEM_LIMIT" = 0 ] || { memcg_new "postgres" "$MEM_LIMIT"; PG_CG=$MEMCG; }
    pg_start
    "${PSQL[@]}" -c "CREATE EXTENSION postgis; CREATE EXTENSION btree_gist;" -f "$HERE/sql/pg_functions.sql"
    pg_sampler_start "$M/pg_rss_ingest" "$M/.sampling"
    t0=$(now_us)
    pg_load "$CITY" "${OPS[@]}"
    echo "postgres $(secs_since "$t0")" >> "$M/ingest.txt"
    pg_sampler_stop "$M/.sampling"
    echo "postgres ingest $(cat "$M/pg_rss_ingest")" >> "$M/rss.txt"
    echo "postgres $("${PSQL[@]}" -Atc "SELECT pg_database_size('postgres')")" >> "$M/bytes.txt"
    "${PSQL[@]}" -Atc "SELECT rows_read, rows_good FROM load_counts" > "$M/pg_load_counts.txt"
    log "rep $rep: postgres traces"
    pg_sampler_start "$M/pg_rss_trace" "$M/.sampling"
    pg_trace_script "$M/pg" "${CASE_IDS[@]}" > "$M/pg_trace.psql"
    "${PSQL[@]}" -f "$M/pg_trace.psql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' |
        paste -d' ' "$WORK/cases.txt" - > "$M/pg_trace_ms.txt"
    if [ "$CHECK_ONLY" = 0 ]; then
        # two sessions, half of the cases each: both cores busy
        half=$(( (${#CASE_IDS[@]} + 1) / 2 ))
        pg_trace_script "$M/pg_batch" "${CASE_IDS[@]:0:$half}" > "$M/pg_batch1.psql"
        pg_trace_script "$M/pg_batch" "${CASE_IDS[@]:$half}" > "$M/pg_batch2.psql"
        t0=$(now_us)
        "${PSQL[@]}" -f "$M/pg_batch1.psql" > /dev/null & b1=$!
        "${PSQL[@]}" -f "$M/pg_batch2.psql" > /dev/null & b2=$!
        wait $b1; wait $b2
        echo "postgres $(secs_since "$t0") ${#CASE_IDS[@]}" >> "$M/batch.txt"
    fi
    pg_sampler_stop "$M/.sampling"
    echo "postgres trace $(cat "$M/pg_rss_trace")" >> "$M/rss.txt"
    echo "postgres $(memcg_peak_kb "$PG_CG") $(memcg_oom_kills "$PG_CG")" >> "$M/memcg.txt"
    pg_stop
    memcg_free "$PG_CG"

    # ---- the same answers? ------------------------------------------------------------
    rc=0
    node "$HERE/compare.mjs" "$WORK/cases.txt" "$M/ct" duckdb="$M/duck" postgres="$M/pg" \
        > "$M/compare.json" || rc=$?
    if [ "$CHECK_ONLY" = 0 ]; then
        node "$HERE/compare.mjs" "$WORK/cases.txt" "$M/ct_batch" duckdb_batch="$M/duck_batch.csv" \
            postgres_batch="$M/pg_batch" > "$M/compare_batch.json" || rc=$?
        cmp -s <(cat "$M"/ct/*.csv) <(cat "$M"/ct_batch/*.csv) || rc=1
    fi
    echo "celltrace rows_read $(cat "$M"/ct_ingest_*.txt | awk '/rows read/ { n += $2; s += $5; d += $7; r += $9 } END { print n, s, d, r }')" > "$M/counts.txt"
    echo "duckdb $(cat "$M/duck_load.json")" >> "$M/counts.txt"
    echo "postgres $(cat "$M/pg_load_counts.txt")" >> "$M/counts.txt"
    if [ $rc != 0 ]; then
        IDENTICAL=false
        log "rep $rep: ANSWERS DIFFER: $(cat "$M/compare.json") $(cat "$M/compare_batch.json" 2>/dev/null)"
    else
        log "rep $rep: identical: $(node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(r.cases+" cases, "+r.contacts+" contacts")' "$M/compare.json")"
    fi
done

if [ "$CHECK_ONLY" = 1 ]; then
    [ "$IDENTICAL" = true ] || exit 1
    exit 0
fi

log "memory bandwidth (memcpy of 1 GiB)"
MEMBW=$("$WORK/membw" 1024 5)
DATE=$(date -u +%Y-%m-%d)
node "$HERE/report.mjs" --size "$SIZE" --date "$DATE" --cores "$(nproc)" --identical "$IDENTICAL" \
    --membw "$MEMBW" --subscribers "$SUBS" --days "$DAYS" --event-bytes "$EVENT_FILES" \
    --measure "$MEAS" --md "$HERE/results/$SIZE-$DATE.md" --json "$HERE/results/latest.json" \
    --mem-limit "$MEM_LIMIT" --memcg "$MEMCG_KIND"
log "results: bench/results/$SIZE-$DATE.md, bench/results/latest.json"
[ "$IDENTICAL" = true ]
