#!/usr/bin/env bash
# run.sh — celltrace against DuckDB and PostgreSQL/PostGIS on one simulated
# city (issue 5; bench/README.md says what is measured and how).
#
#   bench/run.sh --size 10k|100k|1m [--cases N] [--repeat R] [--keep] [--check-only]
#
#   --cases N      cases in the city, all traced (default 100: p50/p99 need >= 100)
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

SIZE= CASES=100 REPEAT=3 KEEP=0 CHECK_ONLY=0
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --size) SIZE=${2:-}; shift 2 ;;
        --cases) CASES=${2:-}; shift 2 ;;
        --repeat) REPEAT=${2:-}; shift 2 ;;
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
[[ "$CASES" =~ ^[1-9][0-9]*$ && "$REPEAT" =~ ^[1-9][0-9]*$ ]] || usage

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
WORK=$HERE/work/$SIZE
CT=$ROOT/build/celltrace
PGBIN=/usr/lib/postgresql/15/bin
DAYS=14 SEED=1
. "$HERE/common.sh"

# ---- clean-up: whatever happens, the PostgreSQL cluster stops -------------
PGTMP= PG_AS=() SAMPLER_PID=
cleanup() {
    local rc=$?
    set +e
    [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null && wait "$SAMPLER_PID" 2>/dev/null
    pg_stop
    if [ "$KEEP" = 0 ] && [ -d "$WORK" ]; then
        rm -rf "$WORK/ct" "$WORK/duck.db" "$WORK/duck.db.wal" "$WORK/city"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- PostgreSQL: a private cluster on a unix socket --------------------------
pg_start() {
    PGTMP=$(mktemp -d "${TMPDIR:-/tmp}/celltrace-bench-pg.XXXXXX")
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$PGTMP"
        PG_AS=(runuser -u postgres --)
    fi
    "${PG_AS[@]}" "$PGBIN/initdb" -D "$PGTMP/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
    # Tuned as a careful analyst would for a one-user analytical load on this
    # machine (see bench/README.md); listen_addresses='' means no TCP at all.
    cat >> "$PGTMP/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$PGTMP'
shared_buffers = 4GB
effective_cache_size = 12GB
work_mem = 256MB
maintenance_work_mem = 2GB
max_parallel_workers_per_gather = 2
max_parallel_maintenance_workers = 2
wal_level = minimal
max_wal_senders = 0
max_wal_size = 20GB
checkpoint_timeout = 30min
synchronous_commit = off
random_page_cost = 1.1
jit = off
EOF
    "${PG_AS[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/log" -w -t 120 start >/dev/null
    PSQL=(psql -X -q -h "$PGTMP" -U postgres -d postgres -v ON_ERROR_STOP=1)
}
pg_stop() {
    if [ -n "$PGTMP" ] && [ -f "$PGTMP/data/postmaster.pid" ]; then
        "${PG_AS[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            "${PG_AS[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate -w stop >/dev/null 2>&1
    fi
    if [ -n "$PGTMP" ] && [ "$KEEP" = 0 ]; then rm -rf "$PGTMP"; fi
    [ -n "$PGTMP" ] && [ "$KEEP" = 1 ] && log "PostgreSQL cluster kept (stopped) in $PGTMP"
    PGTMP=
}
# Peak memory of the whole cluster: every 0.25 s, the sum over the postmaster
# and its children of their proportional set size (Pss: shared buffers are
# split among the processes that map them, not counted once per process).
pg_sampler_start() {
    local out=$1 flag=$2
    : > "$flag"
    (
        max=0 pm=$(head -1 "$PGTMP/data/postmaster.pid")
        while [ -f "$flag" ]; do
            sum=0
            for p in $pm $(ps -o pid= --ppid "$pm" 2>/dev/null); do
                while read -r k v _; do
                    [ "$k" = Pss: ] && sum=$((sum + v)) && break
                done 2>/dev/null < "/proc/$p/smaps_rollup" || true
            done
            [ "$sum" -gt "$max" ] && max=$sum && echo "$max" > "$out"
            sleep 0.25
        done
    ) &
    SAMPLER_PID=$!
}
pg_sampler_stop() { rm -f "$1"; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=; }

sql_ident() { printf '"%s"' "${1//\"/\"\"}"; }
csv_header() { head -1 "$1" | tr -d '\r' | sed 's/^\xEF\xBB\xBF//'; }

# CSV -> queryable: raw text tables (columns named by each file's header,
# one COPY per operator and header, the three operators in parallel), then
# pg_load.sql. Server set-up (initdb, start, extensions) is not counted.
pg_load() {
    local city=$1 ops=("${@:2}") views_ev=() views_cells=() i=0 g pids=()
    for op in "${ops[@]}"; do
        local h cols
        h=$(csv_header "$city/$op/cells.csv")
        cols=$(IFS=,; for c in $h; do printf '%s text,' "$(sql_ident "$c")"; done)
        "${PSQL[@]}" -c "CREATE UNLOGGED TABLE raw_cells_$i (${cols%,})"
        tail -q -n +2 "$city/$op/cells.csv" | "${PSQL[@]}" -c "COPY raw_cells_$i FROM STDIN (FORMAT csv)"
        views_cells+=("SELECT '$op'::text AS op, $(pick_cols "$h" cell_id lat lon radius_m) FROM raw_cells_$i")
        # event files grouped by header
        declare -A groups=()
        local f
        for f in "$city/$op/events/"*.csv; do
            h=$(csv_header "$f")
            groups[$h]+="$f"$'\n'
        done
        g=0
        for h in "${!groups[@]}"; do
            cols=$(IFS=,; for c in $h; do printf '%s text,' "$(sql_ident "$c")"; done)
            "${PSQL[@]}" -c "CREATE UNLOGGED TABLE raw_ev_${i}_$g (${cols%,})"
            printf '%s' "${groups[$h]}" | tr '\n' '\0' | xargs -0 tail -q -n +2 |
                "${PSQL[@]}" -c "COPY raw_ev_${i}_$g FROM STDIN (FORMAT csv)" &
            pids+=($!)
            views_ev+=("SELECT '$op'::text AS op, $(pick_cols "$h" msisdn ts cell_id lat lon accuracy_m) FROM raw_ev_${i}_$g")
            g=$((g + 1))
        done
        unset groups
        i=$((i + 1))
    done
    local h
    h=$(csv_header "$city/cases.csv")
    cols=$(IFS=,; for c in $h; do printf '%s text,' "$(sql_ident "$c")"; done)
    "${PSQL[@]}" -c "CREATE UNLOGGED TABLE raw_cases_t (${cols%,})"
    tail -q -n +2 "$city/cases.csv" | "${PSQL[@]}" -c "COPY raw_cases_t FROM STDIN (FORMAT csv)"
    for p in "${pids[@]}"; do wait "$p"; done
    "${PSQL[@]}" -c "CREATE VIEW raw_cells AS $(join_union "${views_cells[@]}");
                     CREATE VIEW raw_ev AS $(join_union "${views_ev[@]}");
                     CREATE VIEW raw_cases AS SELECT $(pick_cols "$h" case_id msisdn onset isolated) FROM raw_cases_t;"
    "${PSQL[@]}" -f "$HERE/sql/pg_load.sql"
    # the raw tables were a staging area: gone, as an analyst would drop them
    "${PSQL[@]}" -c "DROP VIEW raw_cells, raw_ev, raw_cases;" \
        -c "$(for t in $("${PSQL[@]}" -Atc "SELECT tablename FROM pg_tables WHERE tablename LIKE 'raw\_%'"); do echo "DROP TABLE $t;"; done)" \
        -c "VACUUM (ANALYZE) pres_cell, pres_pt, cells, cases;" -c "CHECKPOINT;"
}
pick_cols() { # header wanted... -> "col AS name" list (NULL where absent)
    local h=$1 w out=()
    shift
    for w in "$@"; do
        if [[ ",$h," == *",$w,"* ]]; then out+=("$(sql_ident "$w")"); else out+=("NULL::text AS $w"); fi
    done
    (IFS=,; echo "${out[*]}")
}
join_union() { local first=1 s; for s in "$@"; do [ $first = 1 ] || printf ' UNION ALL '; printf '%s' "$s"; first=0; done; }

pg_trace_script() { # outdir case... -> psql script on stdout
    local out=$1 c
    shift
    printf '\\timing on\n\\pset format csv\n\\pset tuples_only on\n'
    for c in "$@"; do
        printf '\\o %s/%s.csv\n\\set cid %s\n\\i %s\n' "$out" "$c" "$c" "$HERE/sql/pg_trace.sql"
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

CITY=$WORK/city
if [ -f "$CITY/manifest.json" ] && grep -q "\"subscribers\": $SUBS," "$CITY/manifest.json" &&
   grep -q "\"cases\": $CASES," "$CITY/manifest.json"; then
    log "city: reusing $CITY"
else
    rm -rf "$CITY"
    log "city: celltrace simulate --subscribers $SUBS --days $DAYS --cases $CASES"
    "$CT" simulate --out "$CITY" --subscribers "$SUBS" --days "$DAYS" --seed "$SEED" --cases "$CASES" >&2
fi
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
    : > "$M/ingest.txt"; : > "$M/rss.txt"; : > "$M/bytes.txt"; : > "$M/batch.txt"

    # ---- celltrace --------------------------------------------------------------
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
            "$CT" --quiet ingest --operator "$op" "$CITY/$op/events/"*.csv > "$M/ct_ingest_$op.txt" 2>&1 || rc=$?
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
    fi

    # ---- DuckDB -------------------------------------------------------------------
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

    # ---- PostgreSQL + PostGIS -------------------------------------------------------
    log "rep $rep: postgres load"
    echo "rep $rep postgres $(cut -d' ' -f1 /proc/loadavg)" >> "$MEAS/loadavg.txt"
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
    pg_stop

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
    --measure "$MEAS" --md "$HERE/results/$SIZE-$DATE.md" --json "$HERE/results/latest.json"
log "results: bench/results/$SIZE-$DATE.md, bench/results/latest.json"
[ "$IDENTICAL" = true ]
