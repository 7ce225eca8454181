# Golden test: a failed SQLite read is never taken for "no more rows".
# For each command below, CT_FAULT=sqlread:EIO:0:count says how many pages
# it reads from SQLite; then each read (up to 40 of them, evenly spread)
# is failed in turn. A read-only command must then exit non-zero with a
# message: no partial answer passes as whole. A writer must either fail
# with the data as it was, or (a read after its commit failed, e.g. the
# checkpoint at close) succeed with its whole change; purge --all, which
# cannot be atomic across SQLite and the store, finishes when run again.
# Before the step helper (sqlvfs.h), check called a catalogue it could not
# read "sound", and a partial cell catalogue or case list passed as whole.
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/levels.bash"
expect_exit 0 "$CT" --data "$D" run
sed 's/,300,/,280,/' "$F/cells.csv" >"$WORK/cells2.csv"
cmp -s "$F/cells.csv" "$WORK/cells2.csv" && fail "the edited catalogue is the same"

state() { # state DIR: what the commands below could change, as text; the
    # times a write takes from the clock (not the fixture's 2020) as NOW
    {
        "$CT" --data "$1" trace K1 --format csv --score || return 1
        "$CT" --data "$1" cases list --format csv || return 1
        "$CT" --data "$1" export --region RU-MOW --format csv || return 1
        "$CT" --data "$1" outbox list --format csv || return 1
        "$CT" --data "$1" stats --format json >"$WORK/stats.json" || return 1
        sed 's/"total_bytes":[0-9]*//' "$WORK/stats.json"
    } >"$WORK/state.raw" || return 1
    sed -E 's/(19[0-9]{2}|20(1[0-9]|2[1-9]|[3-9][0-9]))-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z/NOW/g' "$WORK/state.raw"
}
state "$D" >"$WORK/state0" 2>/dev/null || fail "state of the fixture"

sweep() { # sweep KIND ARGS...: KIND is read or write
    local kind=$1 calls n step rc after=0
    shift
    rm -rf "$WORK/c" && cp -a "$D" "$WORK/c"
    CT_FAULT=sqlread:EIO:0:count "$CT" --data "$WORK/c" "$@" >"$WORK/clean.out" 2>"$WORK/clean.err" ||
        [ $? = 3 ] || fail "$* fails without a fault: $(cat "$WORK/clean.err")"
    calls=$(sed -n 's/^ct-fault: sqlread calls //p' "$WORK/clean.err")
    [ -n "$calls" ] && [ "$calls" -gt 0 ] || fail "$*: no SQLite read counted"
    [ "$kind" = write ] && { state "$WORK/c" >"$WORK/state_done" 2>/dev/null || fail "$*: state"; }
    local most=40
    [ "$LIGHT" = 1 ] && most=4 # valgrind: four reads of each command
    step=$(( (calls + most - 1) / most ))
    for n in $(seq 1 "$step" "$calls"); do
        rm -rf "$WORK/c" && cp -a "$D" "$WORK/c"
        CT_FAULT=sqlread:EIO:$n "$CT" --data "$WORK/c" "$@" >"$WORK/out" 2>"$WORK/err"
        rc=$?
        if [ "$kind" = write ] && { [ $rc = 0 ] || [ $rc = 3 ]; }; then
            # a read after the commit (the checkpoint at close) may fail
            # harmlessly: then the whole change must be there
            state "$WORK/c" >"$WORK/state1" 2>/dev/null || fail "$* with read $n: state unreadable"
            expect_same "$WORK/state_done" "$WORK/state1"
            after=$((after + 1))
            continue
        fi
        if [ $rc = 0 ] || [ $rc = 3 ]; then
            cat "$WORK/out" "$WORK/err" >&2
            fail "$* succeeded although SQLite read $n of $calls failed"
        fi
        grep -q "disk I/O error\|SQLite\|catalogue\|PROBLEM  catalog.db" "$WORK/out" "$WORK/err" ||
            fail "$* with read $n failed: exit $rc without saying why: $(cat "$WORK/err")"
        if [ "$kind" = write ]; then
            state "$WORK/c" >"$WORK/state1" 2>/dev/null || fail "$* with read $n: state unreadable"
            expect_same "$WORK/state0" "$WORK/state1"
        fi
        expect_exit 0 "$CT" --data "$WORK/c" check
    done
    echo "$*: $calls SQLite reads, every $step-th failed: refused, or (after the commit, $after) whole" >&2
}

sweep read check
sweep read stats --format json
sweep read cases list --format csv
sweep read trace K1 --format csv
sweep read trace K1 --score --format csv
sweep read export --region RU-MOW --format csv
sweep read report
sweep read outbox list --format csv
sweep write cells import --operator 250-01 "$WORK/cells2.csv"
sweep write cases add --case-id K9 --msisdn 79990000109 --onset 2020-03-24T12:00:00Z
sweep write run
# new parameters: every case traced again on worker threads, its contacts
# replaced (levels up, a new order queued) inside the run's one transaction
sweep write run --distance 50

# purge --all: refused loudly at any failed read; run again, it finishes.
rm -rf "$WORK/c" && cp -a "$D" "$WORK/c"
CT_FAULT=sqlread:EIO:0:count "$CT" --data "$WORK/c" purge --all --yes >/dev/null 2>"$WORK/clean.err" ||
    fail "purge --all without a fault"
calls=$(sed -n 's/^ct-fault: sqlread calls //p' "$WORK/clean.err")
most=20
[ "$LIGHT" = 1 ] && most=3
for n in $(seq 1 $(( (calls + most - 1) / most )) "$calls"); do
    rm -rf "$WORK/c" && cp -a "$D" "$WORK/c"
    CT_FAULT=sqlread:EIO:$n "$CT" --data "$WORK/c" purge --all --yes >"$WORK/out" 2>"$WORK/err" &&
        fail "purge --all succeeded although SQLite read $n of $calls failed"
    expect_exit 0 "$CT" --data "$WORK/c" purge --all --yes
    expect_exit 0 "$CT" --data "$WORK/c" check
    expect_exit 0 "$CT" --data "$WORK/c" cases list --format csv
    [ "$(wc -l <"$WORK/out")" = 1 ] || fail "cases remain after purge --all (read $n failed first)"
    [ ! -s "$WORK/c/subscribers.dat" ] || fail "subscribers remain after purge --all"
done
exit 0
