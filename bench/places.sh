#!/usr/bin/env bash
# places.sh — area queries and hotspots (docs/AREA.md) against DuckDB and
# PostgreSQL/PostGIS on the benchmark's simulated city (bench/README.md).
#
#   bench/places.sh --size 10k|100k [--queries N] [--no-postgres] [--keep]
#
#   --queries N    area queries, each a cafe's centre, 200 m, 17:00-23:00 of a
#                  day of the 14, --min-stay 900 (default 100)
#   --no-postgres  DuckDB only beside celltrace (PostgreSQL's load of 100k takes
#                  about 11 minutes on 2 cores)
#   --keep         keep bench/work/<size>/places (stores, answers, timings)
#   BENCH_NO_MAKE=1  use the existing build/celltrace instead of running make
#
# Loads the city into celltrace, DuckDB and PostgreSQL, asks every engine the
# same area queries (celltrace: one `area` process per query; the peers: one
# open connection, each query timed), checks the answers are identical
# (places_compare.mjs), and times `celltrace hotspots` over the 14 days with
# every case (5 runs, median; the peers have no hotspots query: the pair
# sweep with P(within D) is not a join). Writes bench/results/places-<size>-<date>.md.
set -euo pipefail

SIZE= QUERIES=100 PG=1 KEEP=0 CASES=100
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --size) SIZE=${2:-}; shift 2 ;;
        --queries) QUERIES=${2:-}; shift 2 ;;
        --no-postgres) PG=0; shift ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage ;;
        *) echo "places.sh: unknown argument $1" >&2; usage ;;
    esac
done
case "$SIZE" in
    10k) SUBS=10000 ;;
    100k) SUBS=100000 ;;
    *) echo "places.sh: --size must be 10k or 100k" >&2; usage ;;
esac
[[ "$QUERIES" =~ ^[1-9][0-9]*$ ]] || usage

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
WORK=$HERE/work/$SIZE
P=$WORK/places
CT=$ROOT/build/celltrace
PGBIN=/usr/lib/postgresql/15/bin
DAYS=14 SEED=1
. "$HERE/common.sh"
PGTMP= PG_AS=() SAMPLER_PID=
. "$HERE/pg.sh"
cleanup() {
    local rc=$?
    set +e
    pg_stop
    [ "$KEEP" = 1 ] || rm -rf "$P"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

log "set-up: peers (setup.sh), celltrace (make)"
bash "$HERE/setup.sh"
[ "${BENCH_NO_MAKE:-0}" = 1 ] || make -C "$ROOT" >/dev/null
rm -rf "$P"
mkdir -p "$P"/{ct,duck,pg} "$HERE/results"
cp "$CT" "$P/celltrace"
CT=$P/celltrace
CITY=$WORK/city
ensure_city "$CITY" "$SUBS" "$DAYS" "$SEED" "$CASES"
OPS=()
for d in "$CITY"/*/; do [ -f "$d/cells.csv" ] && OPS+=("$(basename "$d")"); done
START=$(sed -n 's/.*"start": "\([0-9-]*\)".*/\1/p' "$CITY/manifest.json")
T_START=$(date -u -d "$START" +%s)

# ---- the queries: cafes, 200 m, 17:00-23:00 of a day -----------------------------
awk -F, -v n="$QUERIES" -v t0="$T_START" -v days="$DAYS" '
    BEGIN { srand(1); k = 0 }
    NR > 1 && $2 == "cafe" { lat[k] = $3; lon[k] = $4; k++ }
    END {
        for (i = 0; i < n; i++) {
            c = int(rand() * k); d = 1 + int(rand() * (days - 2))
            from = t0 + d * 86400 + 17 * 3600
            printf "q%03d %s %s 200 %d %d 900\n", i, lat[c], lon[c], from, from + 6 * 3600
        }
    }' "$CITY/venues.csv" > "$P/queries.txt"
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# ---- celltrace ---------------------------------------------------------------------
export CELLTRACE_DATA=$P/ct-data
log "celltrace: load"
"$CT" --quiet init
for op in "${OPS[@]}"; do "$CT" --quiet cells import --operator "$op" "$CITY/$op/cells.csv" >/dev/null; done
for op in "${OPS[@]}"; do
    rc=0
    "$CT" --quiet ingest --compact now --operator "$op" "$CITY/$op/events/"*.csv >/dev/null 2>&1 || rc=$?
    [ $rc = 0 ] || [ $rc = 3 ] || { log "celltrace ingest $op failed"; exit 1; }
done
"$CT" --quiet cases import "$CITY/cases.csv" >/dev/null
log "celltrace: $QUERIES area queries"
while read -r id lat lon r t0 t1 stay; do
    s=$(now_us)
    "$CT" --reason "benchmark" area --lat "$lat" --lon "$lon" --radius "$r" --from "$(iso "$t0")" \
        --to "$(iso "$t1")" --min-stay "$stay" --reveal --format csv --work > "$P/ct/$id.csv" 2> "$P/ct/$id.work"
    lib=$(sed -n 's/^work: area: .*, \([0-9.]*\) ms$/\1/p' "$P/ct/$id.work")
    echo "$id $(awk -v a="$s" -v b="$(now_us)" 'BEGIN { printf "%.3f", (b - a) / 1e3 }') $lib"
done < "$P/queries.txt" > "$P/ct_ms.txt"
log "celltrace: hotspots over $DAYS days, 5 runs each: the first 20 with the others present; all, without"
T_END=$((T_START + DAYS * 86400))
for i in 1 2 3 4 5; do
    s=$(now_us)
    "$CT" --reason "benchmark" hotspots --from "$START" --to "$(iso $T_END)" --format csv > "$P/hotspots.csv"
    awk -v a="$s" -v b="$(now_us)" 'BEGIN { printf "%.3f\n", (b - a) / 1e3 }'
done > "$P/hotspots_ms.txt"
for i in 1 2 3 4 5; do
    s=$(now_us)
    "$CT" --reason "benchmark" hotspots --from "$START" --to "$(iso $T_END)" --limit 0 --no-others \
        --format csv > "$P/hotspots_all.csv"
    awk -v a="$s" -v b="$(now_us)" 'BEGIN { printf "%.3f\n", (b - a) / 1e3 }'
done > "$P/hotspots_all_ms.txt"

# ---- DuckDB --------------------------------------------------------------------------
log "duckdb: load"
node "$HERE/duck.mjs" load "$P/duck.db" "$CITY" > /dev/null
log "duckdb: $QUERIES area queries"
node "$HERE/duck.mjs" area "$P/duck.db" "$P/duck" "$P/queries.txt" > "$P/duck_ms.txt"
log "duckdb: hotspots, 3 runs"
node "$HERE/duck.mjs" hotspots "$P/duck.db" "$P/duck_hotspots.csv" "$T_START" "$T_END" 3 > "$P/duck_hotspots_ms.txt"

# ---- PostgreSQL + PostGIS ---------------------------------------------------------------
peers=(duckdb="$P/duck")
if [ "$PG" = 1 ]; then
    log "postgres: load"
    pg_start
    "${PSQL[@]}" -c "CREATE EXTENSION postgis; CREATE EXTENSION btree_gist;" -f "$HERE/sql/pg_functions.sql"
    pg_load "$CITY" "${OPS[@]}"
    log "postgres: $QUERIES area queries"
    {
        printf '\\timing on\n\\pset format csv\n\\pset tuples_only on\n'
        while read -r id lat lon r t0 t1 stay; do
            printf '\\o %s/pg/%s.csv\n\\set lat %s\n\\set lon %s\n\\set r %s\n\\set t0 %s\n\\set t1 %s\n\\set minstay %s\n\\i %s\n' \
                "$P" "$id" "$lat" "$lon" "$r" "$t0" "$t1" "$stay" "$HERE/sql/pg_area.sql"
        done < "$P/queries.txt"
    } > "$P/pg_area.psql"
    "${PSQL[@]}" -f "$P/pg_area.psql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' |
        paste -d' ' <(cut -d' ' -f1 "$P/queries.txt") - > "$P/pg_ms.txt"
    pg_stop
    peers+=(postgres="$P/pg")
fi

# ---- the same answers? the figures ---------------------------------------------------------
rc=0
node "$HERE/places_compare.mjs" "$P/queries.txt" "$P/ct" "${peers[@]}" > "$P/compare.json" || rc=$?
node "$HERE/hotspots_compare.mjs" "$P/hotspots_all.csv" duckdb="$P/duck_hotspots.csv" \
    > "$P/compare_hotspots.json" || rc=$?
DATE=$(date -u +%Y-%m-%d)
OUT=$HERE/results/places-$SIZE-$DATE.md
node - "$P" "$SIZE" "$DATE" "$(nproc)" "$(git -C "$ROOT" rev-parse --short HEAD)" "$OUT" <<'JS'
const fs = require('fs');
const [dir, size, date, cores, commit, out] = process.argv.slice(2);
const col = (f, k) => fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => Number(l.split(' ')[k])) : [];
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] : null; };
const cmp = JSON.parse(fs.readFileSync(dir + '/compare.json', 'utf8'));
const ct = col(dir + '/ct_ms.txt', 1), lib = col(dir + '/ct_ms.txt', 2), duck = col(dir + '/duck_ms.txt', 1), pg = col(dir + '/pg_ms.txt', 1);
const hs = col(dir + '/hotspots_ms.txt', 0), hrows = fs.readFileSync(dir + '/hotspots.csv', 'utf8').split('\n').filter(Boolean).length - 1;
const hsAll = col(dir + '/hotspots_all_ms.txt', 0), duckHs = col(dir + '/duck_hotspots_ms.txt', 0);
const hcmp = JSON.parse(fs.readFileSync(dir + '/compare_hotspots.json', 'utf8'));
const f = (x) => x === null ? '-' : x.toFixed(1);
const ratio = (a, b) => a === null || b === null ? '-' : (b / a).toFixed(1) + 'x';
const line = (name, xs, base) => `| ${name} | ${f(pct(xs, 0.5))} | ${f(pct(xs, 0.99))} | ${base ? ratio(pct(base, 0.5), pct(xs, 0.5)) : ''} |`;
const md = [`# Places, ${size}, ${date}`, '',
  `Commit ${commit}, ${cores} cores. ${cmp.queries} area queries (a cafe's centre, 200 m, 17:00-23:00, --min-stay 900),`,
  `${cmp.rows} rows in all; answers ${cmp.identical ? 'identical' : 'DIFFERENT'} in every engine` +
  ` (expected_inside_s within ${cmp.max_inside_diff.toFixed(3)} s).`, '',
  '| engine | p50 (ms) | p99 (ms) | p50 / celltrace in-library |', '|---|---:|---:|---:|',
  line('celltrace, in the library', lib), line('celltrace, whole process', ct, lib),
  line('DuckDB, open connection', duck, lib)]
  .concat(pg.length ? [line('PostgreSQL + PostGIS, open session', pg, lib)] : [])
  .concat(['', `Hotspots over the 14 days with every case (whole processes; DuckDB in an open connection, rows only):`, '',
    '| run | median (ms) | runs |', '|---|---:|---:|',
    `| celltrace, the first ${hrows} rows with the others present | ${f(pct(hs, 0.5))} | ${hs.length} |`,
    `| celltrace, all ${hcmp.rows} rows, no others counted | ${f(pct(hsAll, 0.5))} | ${hsAll.length} |`,
    `| DuckDB, all rows (place, hour, cases; no score) | ${f(pct(duckHs, 0.5))} | ${duckHs.length} |`, '',
    `The ${hcmp.rows} rows (place, hour, cases) are ${hcmp.identical ? 'identical' : 'DIFFERENT'} in celltrace and DuckDB.`,
    'The score needs the exact probability of being within D, so it is celltrace\'s alone; PostgreSQL has no hotspots query yet.', '']);
fs.writeFileSync(out, md.join('\n'));
console.log(md.join('\n'));
JS
log "results: $OUT"
exit $rc
