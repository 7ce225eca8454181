#!/usr/bin/env bash
# api_load.sh — the HTTP API under load (docs/API.md): wrk on loopback
# against the contacts and report endpoints of the benchmark's city.
#
#   bench/api_load.sh --size 10k|100k [--duration SECONDS] [--keep] [--reuse]
#                     [--traced N]
#
#   --duration S   each wrk run (default 20)
#   --keep         keep bench/work/<size>/api (the data directory, logs)
#   --reuse        start from the data directory a --keep run left (its
#                  `run` done), instead of loading and running again
#   --traced N     register and run only the city's first N cases (default
#                  all 100: the 100k city's full run takes hours on 2 cores)
#   BENCH_NO_MAKE=1  use the existing build/celltrace instead of running make
#
# Loads the city, runs `celltrace run` (every case traced, scored and
# stored), adds a federal and a regional user, starts `celltrace serve`
# (4 workers, no rate limit) and drives, for 1, 2 and 8 connections:
#   contacts  GET /api/v1/cases/<case>/contacts?level=test&per_page=100
#             (the case with the most contacts at test or above; audited)
#   report    GET /api/v1/report
# wrk is closed-loop, so each run measures latency at the rate the
# connections can sustain. Writes bench/results/api-<size>-<date>.md.
set -euo pipefail

SIZE= DURATION=20 KEEP=0 REUSE=0 CASES=100 TRACED=100
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --size) SIZE=${2:-}; shift 2 ;;
        --duration) DURATION=${2:-}; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --reuse) REUSE=1; KEEP=1; shift ;;
        --traced) TRACED=${2:-}; shift 2 ;;
        -h|--help) usage ;;
        *) echo "api_load.sh: unknown argument $1" >&2; usage ;;
    esac
done
case "$SIZE" in
    10k) SUBS=10000 ;;
    100k) SUBS=100000 ;;
    *) echo "api_load.sh: --size must be 10k or 100k" >&2; usage ;;
esac
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || usage
[[ "$TRACED" =~ ^[1-9][0-9]*$ ]] && [ "$TRACED" -le "$CASES" ] || usage

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
WORK=$HERE/work/$SIZE
A=$WORK/api
CT=$ROOT/build/celltrace
DAYS=14 SEED=1
. "$HERE/common.sh"
SERVER=
cleanup() {
    local rc=$?
    set +e
    [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER"
    [ "$KEEP" = 1 ] || rm -rf "$A"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if ! command -v wrk >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "api_load.sh: please install wrk as root" >&2; exit 1; }
    log "apt-get install wrk"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2
fi
[ "${BENCH_NO_MAKE:-0}" = 1 ] || make -C "$ROOT" -s >&2
CITY=$WORK/city
ensure_city "$CITY" "$SUBS" "$DAYS" "$SEED" "$CASES"
OPS=()
for d in "$CITY"/*/; do [ -f "$d/cells.csv" ] && OPS+=("$(basename "$d")"); done

export CELLTRACE_DATA=$A/data
if [ "$REUSE" = 1 ] && [ -f "$A/run.txt" ] && [ -f "$A/run_s.txt" ]; then
    run_s=$(cat "$A/run_s.txt")
    log "reusing $A: $(cat "$A/run.txt")"
else
rm -rf "$A" && mkdir -p "$A"
log "load: ${OPS[*]}"
"$CT" --quiet init
for op in "${OPS[@]}"; do "$CT" --quiet cells import --operator "$op" "$CITY/$op/cells.csv" >/dev/null; done
for op in "${OPS[@]}"; do
    rc=0
    "$CT" --quiet ingest --compact now --operator "$op" "$CITY/$op/events/"*.csv >/dev/null 2>&1 || rc=$?
    [ $rc = 0 ] || [ $rc = 3 ] || { log "ingest $op failed"; exit 1; }
done
head -n "$((TRACED + 1))" "$CITY/cases.csv" > "$A/cases.csv"
"$CT" --quiet cases import "$A/cases.csv" >/dev/null
t0=$(now_us)
"$CT" --quiet run > "$A/run.txt"
run_s=$(secs_since "$t0")
echo "$run_s" > "$A/run_s.txt"
fi
log "run: $(cat "$A/run.txt") ($run_s s)"
# the case with the most contacts at test or above, and its region
read -r CASE N_TEST REGION < <(sqlite3 -separator ' ' "$A/data/catalog.db" \
    "SELECT case_id, count(*), home_region FROM nt_contacts WHERE level IN ('test','quarantine')
     GROUP BY case_id ORDER BY 2 DESC LIMIT 1")
N_ALL=$(sqlite3 "$A/data/catalog.db" "SELECT count(*) FROM nt_contacts WHERE case_id = '$CASE'")
[ -n "$CASE" ] || { log "no case has contacts at test or above"; exit 1; }
FED=$("$CT" users add "load-fed-$(date +%s)" --role federal 2>/dev/null | tail -n 1)

serve_start "$A/serve.err" --threads 4 --rate 1000000 --burst 1000000
CONTACTS="$URL/api/v1/cases/$CASE/contacts?level=test&per_page=100"
REPORT="$URL/api/v1/report"
# the answers are what they should be before anything is timed
code=$(curl -s -o "$A/contacts.json" -w '%{http_code}' -H "Authorization: Bearer $FED" "$CONTACTS")
[ "$code" = 200 ] || { cat "$A/contacts.json" >&2; exit 1; }
grep -q "\"total\":$N_TEST," "$A/contacts.json" || { log "contacts: total is not $N_TEST"; exit 1; }
t0=$(now_us)
curl -s -o /dev/null -H "Authorization: Bearer $FED" "$URL/api/v1/cases/$CASE/contacts?per_page=500"
one_s=$(secs_since "$t0")

# wrk_run NAME URL CONNECTIONS: "req/s p50_ms p99_ms non2xx"
wrk_run() {
    local out=$A/wrk-$1-$3.txt
    wrk -t "$(( $3 < 2 ? 1 : 2 ))" -c "$3" -d "${DURATION}s" --latency \
        -H "Authorization: Bearer $FED" "$2" > "$out"
    awk '/Requests\/sec/ { rps = $2 }
         /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
         /Non-2xx/ { bad = $NF }
         function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
         END { printf "%s %.1f %.1f %d\n", rps, ms(p50), ms(p99), bad + 0 }' "$out"
}
RESULTS=()
for c in 1 2 8; do
    for name in contacts report; do
        url=$CONTACTS
        [ "$name" = report ] && url=$REPORT
        log "wrk: $name, $c connections, ${DURATION}s"
        RESULTS+=("$name $c $(wrk_run "$name" "$url" "$c")")
    done
done
kill -TERM "$SERVER" && wait "$SERVER"
SERVER=
"$CT" --quiet audit verify > "$A/verify.txt" || { cat "$A/verify.txt" >&2; exit 1; }
records=$(sed -n 's/^audit log whole: \([0-9]*\) records.*/\1/p' "$A/verify.txt")

mkdir -p "$HERE/results"
OUT=$HERE/results/api-$SIZE-$(date -u +%Y-%m-%d).md
{
    echo "# HTTP API under load: $SIZE city ($(date -u +%Y-%m-%d))"
    echo
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); commit $(git -C "$ROOT" rev-parse --short HEAD)."
    echo "\`bench/api_load.sh --size $SIZE --duration $DURATION\`: \`celltrace serve\` with 4 workers and"
    echo "wrk on the same machine (loopback), closed loop, ${DURATION} s per row."
    echo
    echo "- run: $(cat "$A/run.txt") in $run_s s"
    echo "- contacts: case $CASE ($REGION), $N_TEST contacts at test or above of $N_ALL in its net;"
    echo "  100 a page. One request for 500 of its contacts took $one_s s (curl, whole)."
    echo "- every contacts request is an audited read (two fsyncs); the audit chain"
    echo "  held $records records afterwards and verified whole."
    echo
    echo "| endpoint | connections | requests/s | p50 ms | p99 ms | non-2xx |"
    echo "|---|---:|---:|---:|---:|---:|"
    for r in "${RESULTS[@]}"; do
        set -- $r
        echo "| $1 | $2 | $3 | $4 | $5 | $6 |"
    done
    echo
    echo "Target (issue 12): p99 <= 50 ms at the rate the 2-core machine sustains."
} > "$OUT"
log "wrote $OUT"
cat "$OUT"
