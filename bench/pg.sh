# pg.sh — PostgreSQL + PostGIS for the benchmarks (sourced by run.sh and
# places.sh, not run): a private cluster on a unix socket in a temporary
# folder (pg_start, pg_stop), its peak memory (pg_sampler_start/_stop), and
# the load of a simulated city's CSV files (pg_load). The caller sets
# PGBIN, HERE, KEEP and PGTMP= PG_AS=() SAMPLER_PID=, and stops the
# cluster in its exit trap with pg_stop.

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
shared_buffers = ${PG_SHARED_MB:-4096}MB
effective_cache_size = ${PG_CACHE_MB:-12288}MB
work_mem = ${PG_WORK_MB:-256}MB
maintenance_work_mem = ${PG_MAINT_MB:-2048}MB
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
    # the server (and every backend it forks) in the caller's memory cgroup
    # when run.sh made one (PG_CG, memcg.sh)
    (if [ -n "${PG_CG:-}" ]; then echo "$BASHPID" > "$PG_CG/cgroup.procs"; fi
     exec "${PG_AS[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/log" -w -t 120 start >/dev/null)
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

