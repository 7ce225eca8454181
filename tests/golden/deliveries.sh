# Golden test: deliveries one file at a time (issue 15, part 4). A
# delivery for a day already stored is written as a new run of that day
# (docs/FORMAT.md) and merged later (`compact`, or in the background).
# Whatever the runs, every trace, stats and check must equal one ingest of
# all files; compaction must leave one file per day with the same answers,
# and a compaction that fails or is killed at any step must leave the
# store as it was or merged, never a mix.
. "$(dirname "$0")/common.bash"
CITY="$WORK/city"
expect_exit 0 "$CT" simulate --out "$CITY" --subscribers 1200 --days 3 --seed 23 --cases 4
ops=$(cd "$CITY" && ls -d */ | tr -d /)

ingest() { # ingest ARGS...: exit 0 or 3 (the simulator injects bad rows)
    "$CT" --quiet "$@" >/dev/null 2>"$WORK/ingest.err"
    local rc=$?
    [ $rc = 0 ] || [ $rc = 3 ] || { cat "$WORK/ingest.err" >&2; fail "ingest exit $rc: $*"; }
}

load() { # load DIR MODE: the city, delivered as MODE says
    local d=$1 mode=$2
    expect_exit 0 "$CT" --data "$d" init
    for op in $ops; do
        expect_exit 0 "$CT" --data "$d" cells import --operator "$op" "$CITY/$op/cells.csv"
    done
    for op in $ops; do
        case $mode in
        together) ingest --data "$d" ingest --compact now --operator "$op" "$CITY/$op"/events/* ;;
        runs) for f in "$CITY/$op"/events/*; do
                  ingest --data "$d" ingest --compact off --operator "$op" "$f"
              done ;;
        background) for f in "$CITY/$op"/events/*; do
                  ingest --data "$d" ingest --compact background --operator "$op" "$f"
              done ;;
        esac
    done
    expect_exit 0 "$CT" --data "$d" cases import "$CITY/cases.csv"
}

answers() { city_answers "$@"; }

runs_of() { # runs_of DIR: days listed more than once in the manifest
    awk '$1 == "day" {print $2}' "$1/store/MANIFEST" | sort | uniq -d | wc -l
}

load "$WORK/together" together
answers "$WORK/together" "$WORK/together.out"
[ "$(wc -l <"$WORK/together.out")" -gt 40 ] || fail "too few contacts to compare"
[ "$(runs_of "$WORK/together")" = 0 ] || fail "ingest --compact now left days of several runs"

# Runs left in place: a day of several runs reads as one.
load "$WORK/runs" runs
[ "$(runs_of "$WORK/runs")" -gt 0 ] || fail "one delivery at a time should leave runs"
head -1 "$WORK/runs/store/MANIFEST" | grep -qx "celltrace-manifest 2" || fail "runs need manifest version 2"
answers "$WORK/runs" "$WORK/runs.out"
expect_same "$WORK/together.out" "$WORK/runs.out"
expect_exit 0 "$CT" --data "$WORK/runs" check
grep -q "PROBLEM" "$WORK/out" && fail "check finds problems with runs: $(cat "$WORK/out")"

# A delivery again: every row is a duplicate of a stored run, nothing is written.
f=$(ls "$CITY/$(echo $ops | cut -d' ' -f1)"/events/* | head -2 | tail -1)
before=$(cat "$WORK/runs/store/MANIFEST")
"$CT" --data "$WORK/runs" ingest --compact off --format json --operator "$(echo $ops | cut -d' ' -f1)" "$f" \
    >"$WORK/again.json" 2>/dev/null
grep -q '"stored":0' "$WORK/again.json" || fail "a repeated delivery stored events: $(cat "$WORK/again.json")"
[ "$before" = "$(cat "$WORK/runs/store/MANIFEST")" ] || fail "a repeated delivery changed the manifest"

# Compaction that fails at each write, fsync and rename: the store is as
# it was (runs) or merged, and answers the same either way.
cp -a "$WORK/runs" "$WORK/runs.base"
failed=0
for op in write fsync rename; do
    for n in 1 2 3 5 8; do
        D="$WORK/fault"
        rm -rf "$D"
        cp -a "$WORK/runs.base" "$D"
        faulted_run $op $n "$CT" --data "$D" compact || failed=$((failed + 1))
        answers "$D" "$WORK/fault.out"
        expect_same "$WORK/together.out" "$WORK/fault.out"
        expect_exit 0 "$CT" --data "$D" check
        grep -q "PROBLEM" "$WORK/out" && fail "check after compact under $op:$n: $(cat "$WORK/out")"
    done
done
[ $failed -ge 5 ] || fail "only $failed injected faults made compact fail"

# Killed while merging (SIGKILL at a random moment): the same.
for i in 1 2 3 4 5 6; do
    D="$WORK/kill"
    rm -rf "$D"
    cp -a "$WORK/runs.base" "$D"
    killed_after "0.0$((i * 15))" "$CT" --data "$D" compact
    answers "$D" "$WORK/kill.out"
    expect_same "$WORK/together.out" "$WORK/kill.out"
done

# A background compaction that fails leaves its error where check sees
# it; a compaction that succeeds removes it. The fault is set for the
# ingest and inherited by its compaction: a repeated delivery stores
# nothing and renames nothing, the compaction's first rename fails.
D="$WORK/failing"
cp -a "$WORK/runs.base" "$D"
first=$(echo $ops | cut -d' ' -f1)
CT_FAULT=rename:EIO:1:forever ingest --data "$D" ingest --compact background --operator "$first" \
    "$(ls "$CITY/$first"/events/* | head -1)"
for i in $(seq 100); do [ -s "$D/compact.failed" ] && break; sleep 0.1; done
[ -s "$D/compact.failed" ] || fail "a failed background compaction left no error"
expect_exit 0 "$CT" --data "$D" check
grep -q "compact.failed: the last background compaction failed" "$WORK/out" ||
    fail "check does not report the failed compaction: $(cat "$WORK/out")"
[ "$(runs_of "$D")" -gt 0 ] || fail "the failed compaction changed the days"
answers "$D" "$WORK/failing.out"
expect_same "$WORK/together.out" "$WORK/failing.out"
expect_exit 0 "$CT" --data "$D" compact
[ -e "$D/compact.failed" ] && fail "a compaction that succeeded left the old error"
[ "$(runs_of "$D")" = 0 ] || fail "compact left a day of several runs"

# Compacted: one file per day, the same answers, also for readers that
# were reading while the runs were swapped for the merged files.
"$CT" --data "$WORK/together" trace --all --score --format csv >"$WORK/all.ref" || fail "trace --all"
(
    for i in $(seq 12); do
        "$CT" --data "$WORK/runs" trace --all --score --format csv >"$WORK/all.$i" 2>"$WORK/all.$i.err" ||
            { echo "reader $i failed: $(cat "$WORK/all.$i.err")"; exit 1; }
        cmp -s "$WORK/all.ref" "$WORK/all.$i" || { echo "reader $i differs"; exit 1; }
    done
) >"$WORK/readers.out" &
readers=$!
sleep 0.2
expect_exit 0 "$CT" --data "$WORK/runs" compact --format json
grep -q '"days_left":0' "$WORK/out" || fail "compact left days of several runs: $(cat "$WORK/out")"
[ "$(runs_of "$WORK/runs")" = 0 ] || fail "compact left a day of several runs"
[ -z "$(ls "$WORK/runs/store/merging")" ] || fail "compact left files in store/merging"
wait $readers || fail "a reader during compaction: $(cat "$WORK/readers.out")"
answers "$WORK/runs" "$WORK/compact.out"
expect_same "$WORK/together.out" "$WORK/compact.out"

# The default outside tests: merged in a detached process; `compact`
# waits for it.
load "$WORK/bg" background
expect_exit 0 "$CT" --data "$WORK/bg" compact
[ "$(runs_of "$WORK/bg")" = 0 ] || fail "background compaction left a day of several runs"
answers "$WORK/bg" "$WORK/bg.out"
expect_same "$WORK/together.out" "$WORK/bg.out"
exit 0
