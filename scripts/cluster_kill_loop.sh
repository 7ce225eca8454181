#!/usr/bin/env bash
# The long kill test of the cluster mode (issue 17, docs/CLUSTER.md): kill
# one rank of a 3-rank `celltrace-mpi` job with SIGKILL at a random moment,
# $1 times for ingest and $1 times for run (default 30 each), and check
# after each that the cluster is at the old or the new state, never
# between: the next job's `trace --all` byte-identical to one machine's
# before or after the delivery; after a killed run and a new one, the
# shards' stored contacts and queued messages together equal one
# machine's. Needs `make` (with MPI). golden.cluster kills at fixed points.
set -euo pipefail
cd "$(dirname "$0")/.."
ITER=${1:-30}
CT=$PWD/build/celltrace
MPI=$PWD/build/celltrace-mpi
[ -x "$MPI" ] || { echo "cluster_kill_loop.sh: no $MPI (needs MPI: scripts/setup.sh, make)" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ct-cluster-kill.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT_FLAG=()
[ "$(id -u)" = 0 ] && ROOT_FLAG=(--allow-run-as-root)
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_odls_base_sigkill_timeout=0
export CT_COMPACT=now # no process outlives a command: folders are compared and reused
mpi() { mpirun --oversubscribe --bind-to none "${ROOT_FLAG[@]}" -n 3 "$MPI" "$@"; }
# A killed job's mpirun: once in a while Open MPI 4.1's mpirun misses a
# rank killed while the job starts and waits forever (docs/CLUSTER.md,
# "Faults"); a time limit ends it, and what is left of its ranks goes too.
hung=0
killed_job() { # killed_job SECONDS ARGS...: celltrace-mpi, killed at random; 0 if it ended well
    local at=$1 job rc=0 start=$SECONDS
    shift
    timeout -k 5 60 mpirun --oversubscribe --bind-to none "${ROOT_FLAG[@]}" -n 3 "$MPI" "$@" \
        >/dev/null 2>&1 &
    job=$!
    kill_at "$at"
    wait "$job" || rc=$?
    if [ $((SECONDS - start)) -ge 60 ]; then # the time limit ended it (a rank's own kill is 137 too)
        hung=$((hung + 1))
        pkill -9 -f "^$MPI --.*$WORK/try" 2>/dev/null || true
    fi
    return "$rc"
}

"$CT" simulate --out "$WORK/city" --subscribers 3000 --days 4 --seed 7 --cases 12 >/dev/null 2>&1
OPS=$(ls "$WORK/city" | grep -v '\.')
first=$(echo "$OPS" | head -1)
mapfile -t FILES < <(ls "$WORK/city/$first/events/"*)
half=$(((${#FILES[@]} + 1) / 2))
LATE=("${FILES[@]:half}")
REGIONS=$(awk -F, 'FNR == 1 { for (i = 1; i <= NF; i++) if ($i == "region") c = i; next }
                   c && $c != "" { print $c }' "$WORK"/city/*/cells.csv | sort -u)
stored() { # stored OUT DIR...: contacts and messages, without times and ids
    local out=$1 r d
    shift
    for r in $REGIONS; do
        for d in "$@"; do "$CT" --data "$d" export --region "$r" --format csv 2>/dev/null | tail -n +2; done
    done | cut -d, -f1-8,10- | sort >"$out.export"
    for d in "$@"; do "$CT" --data "$d" outbox list --format csv 2>/dev/null | tail -n +2; done |
        awk -F, '{ n = split($2, key, "-"); print $3 "," $4 "," $5 "," $6 "," $7 "," $8 "," key[1] "," key[n] }' |
        sort >"$out.outbox"
}
load() { # load CMD...: init, cells, every file but the first operator's late half, cases
    local D=$1 op
    shift
    "$@" --data "$D" init >/dev/null 2>&1
    for op in $OPS; do
        "$@" --data "$D" cells import --operator "$op" "$WORK/city/$op/cells.csv" >/dev/null 2>&1
        if [ "$op" = "$first" ]; then
            "$@" --quiet --data "$D" ingest --operator "$op" "${FILES[@]:0:half}" >/dev/null 2>&1 || true
        else
            "$@" --quiet --data "$D" ingest --operator "$op" "$WORK/city/$op/events/"* >/dev/null 2>&1 || true
        fi
    done
    "$@" --data "$D" cases import "$WORK/city/cases.csv" >/dev/null 2>&1
}
# One machine before and after the late delivery; its runs.
load "$WORK/one" "$CT"
"$CT" --data "$WORK/one" trace --all --format csv >"$WORK/before.csv" 2>/dev/null
"$CT" --quiet --data "$WORK/one" ingest --operator "$first" "${LATE[@]}" >/dev/null 2>&1 || true
"$CT" --data "$WORK/one" trace --all --format csv >"$WORK/after.csv" 2>/dev/null
"$CT" --data "$WORK/one" run >/dev/null 2>&1
stored "$WORK/ref" "$WORK/one"
cmp -s "$WORK/before.csv" "$WORK/after.csv" && { echo "the late delivery should change contacts" >&2; exit 1; }
# The cluster before the late delivery, copied for every try.
load "$WORK/base" mpi

# kill_at SECONDS: SIGKILL one random rank of the running job after SECONDS
kill_at() {
    sleep "$1"
    local pids
    mapfile -t pids < <(pgrep -f "^$MPI --.*$WORK/try" || true) # the ranks, not mpirun
    [ "${#pids[@]}" -gt 0 ] && kill -9 "${pids[RANDOM % ${#pids[@]}]}" 2>/dev/null
    return 0
}
# How long each job takes unharmed: kills land in [0, that).
now() { date +%s.%N; }
rm -rf "$WORK/try" && cp -a "$WORK/base" "$WORK/try"
t0=$(now)
mpi --quiet --data "$WORK/try" ingest --operator "$first" "${LATE[@]}" >/dev/null 2>&1 || true
t1=$(now)
mpi --data "$WORK/try" run >/dev/null 2>&1
t2=$(now)
INGEST_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
RUN_S=$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')
pick() { awk -v r=$RANDOM -v s="$1" 'BEGIN { printf "%.3f", r / 32767 * s }'; }
old=0 new=0 ingest_done=0 run_done=0
for i in $(seq "$ITER"); do
    rm -rf "$WORK/try"
    cp -a "$WORK/base" "$WORK/try"
    killed_job "$(pick "$INGEST_S")" --quiet --data "$WORK/try" ingest --operator "$first" \
        "${LATE[@]}" && ingest_done=$((ingest_done + 1))
    mpi --data "$WORK/try" trace --all --format csv >"$WORK/got.csv" 2>/dev/null
    if cmp -s "$WORK/got.csv" "$WORK/before.csv"; then
        old=$((old + 1))
    elif cmp -s "$WORK/got.csv" "$WORK/after.csv"; then
        new=$((new + 1))
    else
        echo "ingest try $i: the cluster is neither before nor after the delivery" >&2
        exit 1
    fi
    # finish it, then a run killed at random, then a run that completes
    mpi --quiet --data "$WORK/try" ingest --operator "$first" "${LATE[@]}" >/dev/null 2>&1 || true
    killed_job "$(pick "$RUN_S")" --data "$WORK/try" run && run_done=$((run_done + 1))
    mpi --data "$WORK/try" run >/dev/null 2>&1 || { echo "run try $i: the next run failed" >&2; exit 1; }
    stored "$WORK/got" "$WORK/try"/shard-*
    for f in export outbox; do
        cmp -s "$WORK/ref.$f" "$WORK/got.$f" || { echo "run try $i: the shards' $f differs from one machine's" >&2; exit 1; }
    done
done
echo "cluster kill loop (ingest ${INGEST_S}s, run ${RUN_S}s unharmed): $ITER ingests killed" \
     "($ingest_done had ended first; $old left the old state, $new the new one);" \
     "$ITER runs killed ($run_done had ended first); $hung killed jobs' mpirun hung and was" \
     "ended by its time limit; every state exact"
