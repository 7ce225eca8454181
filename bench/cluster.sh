#!/usr/bin/env bash
# cluster.sh — celltrace-mpi against celltrace on the same city (issue 17's
# scaling table; docs/CLUSTER.md): ingest and trace --all for each number
# of ranks, answers checked byte for byte against one machine.
#
#   bench/cluster.sh [--city DIR] [--ranks "1 2"] [--keep]
#
#   --city DIR     a simulated city (default bench/work/100k/city, else a
#                  10k city simulated here)
#   --ranks LIST   numbers of ranks (default "1 2"; the device machine:
#                  "1 2 4 8 16")
#   --keep         keep bench/work/cluster (the stores)
#   BENCH_NO_MAKE=1  use the existing build instead of running make
#
# Each engine: init, cells, one ingest per operator (all its files), cases,
# then `trace --all --format csv` and `trace --all --level test`. celltrace
# runs its traces on every CPU (--jobs), celltrace-mpi on one thread per
# rank. Per-rank peak memory comes from /usr/bin/time around each rank.
# Writes bench/results/cluster-<city>-<date>.md.
set -euo pipefail
CITY="" RANKS="1 2" KEEP=0
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --city) CITY=${2:-}; shift 2 ;;
        --ranks) RANKS=${2:-}; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage ;;
        *) echo "cluster.sh: unknown argument $1" >&2; usage ;;
    esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
WORK=$HERE/work/cluster
CT=$ROOT/build/celltrace
MPI=$ROOT/build/celltrace-mpi
[ "${BENCH_NO_MAKE:-0}" = 1 ] || make -C "$ROOT" >/dev/null
[ -x "$MPI" ] || { echo "cluster.sh: no $MPI (install openmpi-bin libopenmpi-dev, then make)" >&2; exit 1; }
cleanup() {
    local rc=$?
    [ "$KEEP" = 1 ] || rm -rf "$WORK"/single "$WORK"/mpi-*
    exit $rc
}
trap cleanup EXIT
mkdir -p "$WORK" "$HERE/results"
if [ -z "$CITY" ]; then
    CITY=$HERE/work/100k/city
    if [ ! -d "$CITY" ]; then
        CITY=$WORK/city10k
        [ -d "$CITY" ] || "$CT" simulate --out "$CITY" --subscribers 10000 --days 14 --seed 1 >/dev/null
    fi
fi
OPS=$(ls "$CITY" | grep -v '\.')
ROOT_FLAG=()
[ "$(id -u)" = 0 ] && ROOT_FLAG=(--allow-run-as-root)
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_odls_base_sigkill_timeout=0 # no wait after an exit status 3 (docs/CLUSTER.md)
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# run_engine LABEL CMD...: the whole job; figures to $WORK/LABEL.fig
run_engine() {
    local label=$1 op t0 t1 events
    shift
    local D="$WORK/$label"
    rm -rf "$D"
    "$@" --data "$D" init >/dev/null 2>&1
    for op in $OPS; do "$@" --data "$D" cells import --operator "$op" "$CITY/$op/cells.csv" >/dev/null 2>&1; done
    t0=$(now)
    for op in $OPS; do
        "$@" --quiet --data "$D" ingest --operator "$op" --retention-days never "$CITY/$op/events/"* \
            >/dev/null 2>"$WORK/$label.ingest.err" || [ $? = 3 ]
    done
    t1=$(now)
    local ingest_s; ingest_s=$(secs "$t0" "$t1")
    "$@" --data "$D" cases import "$CITY/cases.csv" >/dev/null 2>&1
    events=$("$@" --data "$D" stats 2>/dev/null | sed -n 's/^events *\([0-9]*\).*/\1/p')
    "$@" --data "$D" stats --format json >"$WORK/$label.stats.json" 2>/dev/null
    # celltrace-mpi's rank 0 writes the answer itself (--output): mpirun
    # would forward a large one through itself
    t0=$(now)
    if [ "$label" = single ]; then
        "$@" --data "$D" trace --all --format csv >"$WORK/$label.csv" 2>"$WORK/$label.trace.err"
    else
        "$@" --data "$D" --output "$WORK/$label.csv" trace --all --format csv 2>"$WORK/$label.trace.err"
    fi
    t1=$(now)
    local trace_s; trace_s=$(secs "$t0" "$t1")
    t0=$(now)
    "$@" --data "$D" trace --all --level test --format csv >"$WORK/$label.level.csv" 2>>"$WORK/$label.trace.err"
    t1=$(now)
    local level_s; level_s=$(secs "$t0" "$t1")
    local peak; peak=$(cat "$WORK/$label".*.err | awk '$1 == "peak_kb" && $2 > m { m = $2 } END { print m + 0 }')
    echo "$label $events $ingest_s $trace_s $level_s $peak" >"$WORK/$label.fig"
}

cases=$(($(wc -l <"$CITY/cases.csv") - 1))
run_engine single /usr/bin/time -f "peak_kb %M" "$CT"
for n in $RANKS; do
    # each rank under /usr/bin/time: its peak memory on stderr
    run_engine "mpi-$n" mpirun --oversubscribe --bind-to none "${ROOT_FLAG[@]}" -n "$n" \
        /usr/bin/time -f "peak_kb %M" "$MPI"
    cmp -s "$WORK/single.csv" "$WORK/mpi-$n.csv" || { echo "cluster.sh: $n ranks differ from one machine" >&2; exit 1; }
    cmp -s "$WORK/single.level.csv" "$WORK/mpi-$n.level.csv" || { echo "cluster.sh: $n ranks differ (--level)" >&2; exit 1; }
done
OUT=$HERE/results/cluster-$(basename "$(dirname "$CITY")")-$(date +%Y-%m-%d).md
{
    echo "# celltrace-mpi against celltrace, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "City: \`$CITY\`, $cases cases. Machine: $(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB."
    echo "Answers: \`trace --all\` and \`--level test\` byte-identical to celltrace for every N."
    echo
    echo "| engine | events | ingest s | events/s | trace --all s | cases/s | --level test s | peak MB per process | speed-up of trace vs N=1 |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    base=$(awk '{print $4}' "$WORK/mpi-$(echo "$RANKS" | awk '{print $1}').fig")
    for f in single $(for n in $RANKS; do echo "mpi-$n"; done); do
        read -r label events ingest trace level peak <"$WORK/$f.fig"
        name=$([ "$label" = single ] && echo "celltrace ($(nproc) threads)" || echo "celltrace-mpi, ${label#mpi-} ranks")
        awk -v n="$name" -v e="$events" -v i="$ingest" -v t="$trace" -v l="$level" -v p="$peak" -v c="$cases" -v b="$base" -v s="$label" \
            'BEGIN { printf "| %s | %d | %.1f | %.0f | %.1f | %.2f | %.1f | %s | %s |\n", n, e, i, e / i, t, c / t, l,
                     (p > 0 ? sprintf("%.0f", p / 1024) : "—"), (s == "single" ? "—" : sprintf("%.2f", b / t)) }'
    done
} >"$OUT"
cat "$OUT"
