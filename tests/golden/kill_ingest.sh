# Golden test: SIGKILL at random moments of ingest (parsing, sealing,
# manifest commit, retention) never leaves the data directory between two
# states. After every kill `check` finds no damage; re-running the killed
# batches and comparing every case's trace with an uninterrupted run
# shows nothing was lost or counted twice.
# KILLS (default 25) sets how many kills must land on a running ingest;
# scripts/kill_loop.sh runs it with 1000.
. "$(dirname "$0")/common.bash"
KILLS=${KILLS:-25}
CITY="$WORK/city"
expect_exit 0 "$CT" simulate --out "$CITY" --subscribers 2000 --days 3 --seed 3 --cases 4
ops=$(cd "$CITY" && ls -d */ | tr -d /)

setup() { # setup DIR: init, catalogues, cases
    expect_exit 0 "$CT" --data "$1" init
    for op in $ops; do
        expect_exit 0 "$CT" --data "$1" cells import --operator "$op" "$CITY/$op/cells.csv"
    done
    expect_exit 0 "$CT" --data "$1" cases import "$CITY/cases.csv"
}

traces() { # traces DIR > file
    for c in $(cut -d, -f1 "$CITY/cases.csv" | tail -n +2); do
        "$CT" --data "$1" trace "$c" --format csv || return 1
        "$CT" --data "$1" trace "$c" --format csv --distance 300 --max-presence 900 || return 1
    done
}

# The uninterrupted run.
setup "$WORK/ref"
for op in $ops; do
    "$CT" --quiet --data "$WORK/ref" ingest --operator "$op" "$CITY/$op"/events/* >/dev/null 2>&1
    rc=$?
    [ $rc = 0 ] || [ $rc = 3 ] || fail "reference ingest of $op failed ($rc)"
done
traces "$WORK/ref" >"$WORK/ref.out" || fail "reference traces"

# The same batches, killed again and again. Each batch is a few files.
D="$WORK/killed"
setup "$D"
batches=()
for op in $ops; do
    files=("$CITY/$op"/events/*)
    for ((i = 0; i < ${#files[@]}; i += 4)); do
        batches+=("$op ${files[*]:i:4}")
    done
done
landed=0
tries=0
start=$(date +%s)
while [ $landed -lt "$KILLS" ]; do
    for b in "${batches[@]}"; do
        [ $landed -ge "$KILLS" ] && break
        set -- $b
        op=$1
        shift
        # a 1 MB buffer makes larger batches spill to staging/, which kills can leave
        CT_INGEST_MEM_MB=1 "$CT" --quiet --data "$D" ingest --operator "$op" "$@" >/dev/null 2>&1 &
        pid=$!
        sleep "0.$(printf "%03d" $((RANDOM % 45)))"
        if kill -9 $pid 2>/dev/null; then
            landed=$((landed + 1))
        fi
        wait $pid 2>/dev/null
        tries=$((tries + 1))
        "$CT" --data "$D" check >"$WORK/check.out" 2>&1 || {
            cat "$WORK/check.out" >&2
            fail "check found damage after kill $landed (batch: $op $*)"
        }
    done
    [ $tries -gt $((KILLS * 20)) ] && fail "kills do not land: only $landed of $tries"
    [ $(($(date +%s) - start)) -gt 1800 ] && fail "kill loop ran past 30 minutes"
done
# What a spilling ingest killed mid-way leaves: staging/<pid>/<day>.ev|.pt.
mkdir -p "$D/staging/99999"
printf 'spill' >"$D/staging/99999/18353.ev"
# Every batch once more, uninterrupted: the killed ones are completed, the
# completed ones are duplicates.
for b in "${batches[@]}"; do
    set -- $b
    op=$1
    shift
    "$CT" --quiet --data "$D" ingest --operator "$op" "$@" >/dev/null 2>&1
    rc=$?
    [ $rc = 0 ] || [ $rc = 3 ] || fail "ingest after the kills failed ($rc)"
done
traces "$D" >"$WORK/killed.out" || fail "traces after kills"
expect_same "$WORK/ref.out" "$WORK/killed.out"
expect_exit 0 "$CT" --data "$D" check
# the writers after the kills removed every spill a killed ingest left
[ -z "$(ls -A "$D/staging")" ] || { ls -R "$D/staging" >&2; fail "spills of killed ingests are left in staging/"; }
expect_exit 0 "$CT" --data "$WORK/ref" stats --format json
sed 's/,"store_bytes.*//' "$WORK/out" >"$WORK/ref.stats"
expect_exit 0 "$CT" --data "$D" stats --format json
sed 's/,"store_bytes.*//' "$WORK/out" >"$WORK/killed.stats"
expect_same "$WORK/ref.stats" "$WORK/killed.stats"
echo "kill test: $landed kills landed in $tries attempts; traces and counts identical" >&2
exit 0
