# Golden test: `trace` of several cases, or --all, in parallel threads,
# prints exactly what the single traces print one after another (one CSV
# header, one JSON array), whatever --jobs is; every CASE_ID is checked
# before anything is printed; each case is one audit line.
. "$(dirname "$0")/common.bash"
C="$SRC/conformance/basic"
D="$WORK/data"
HEADER="case_id,msisdn,exposure_s,first_contact,last_contact,min_radius_m"

# A small simulated city: 12 cases with thousands of contacts between them.
expect_exit 0 "$CT" simulate --out "$WORK/city" --subscribers 3000 --days 4 --seed 5 --cases 12
expect_exit 0 "$CT" --data "$D" init
for op in $(ls "$WORK/city" | grep -v '\.'); do
    expect_exit 0 "$CT" --data "$D" cells import --operator "$op" "$WORK/city/$op/cells.csv"
    "$CT" --quiet --data "$D" ingest --operator "$op" "$WORK/city/$op/events/"* >/dev/null 2>&1
    rc=$?
    [ $rc = 0 ] || [ $rc = 3 ] || fail "ingest of $op: exit $rc"
done
expect_exit 0 "$CT" --data "$D" cases import "$WORK/city/cases.csv"
expect_exit 0 "$CT" --data "$D" cases list --format csv
ids=$(tail -n +2 "$WORK/out" | cut -d, -f1)
[ "$(echo "$ids" | wc -l)" = 12 ] || fail "expected 12 cases"

# The single traces, concatenated: what every batch must print.
echo "$HEADER" >"$WORK/want.csv"
for id in $ids; do
    expect_exit 0 "$CT" --data "$D" trace "$id" --format csv
    tail -n +2 "$WORK/out" >>"$WORK/want.csv"
done
[ "$(wc -l <"$WORK/want.csv")" -gt 1000 ] || fail "the city should give many contacts"

for jobs in 1 2 5; do
    expect_exit 0 "$CT" --data "$D" trace --all --format csv --jobs "$jobs"
    expect_same "$WORK/want.csv" "$WORK/out"
done
# Given ids, in the order given (here reversed), with --work on stderr.
rev_ids=$(echo "$ids" | tac)
echo "$HEADER" >"$WORK/want_rev.csv"
for id in $rev_ids; do grep "^$id," "$WORK/want.csv" >>"$WORK/want_rev.csv"; done
# shellcheck disable=SC2086
expect_exit 0 "$CT" --data "$D" trace $rev_ids --format csv --jobs 3 --work
expect_same "$WORK/want_rev.csv" "$WORK/out"
[ "$(grep -c '^work: .*: [0-9]* case intervals' "$WORK/err")" = 12 ] || fail "one work line per case"
expect_grep "^work: 12 cases, [0-9]* candidates, .* cases per second, 3 jobs" "$WORK/err"

# JSON: one array holding every case's objects, as many as CSV rows.
expect_exit 0 "$CT" --data "$D" trace --all --format json --jobs 2
head -c 1 "$WORK/out" | grep -q '\[' || fail "JSON should start with ["
[ "$(tail -c 2 "$WORK/out")" = "]" ] || fail "JSON should end with ]"
[ "$(grep -o '{"case_id":' "$WORK/out" | wc -l)" = "$(($(wc -l <"$WORK/want.csv") - 1))" ] ||
    fail "JSON objects differ in number from CSV rows"
if grep -q '\]\[' "$WORK/out"; then fail "JSON holds more than one array"; fi
# The table: one section per case.
expect_exit 0 "$CT" --data "$D" trace --all --jobs 2
[ "$(grep -c '^Case ' "$WORK/out")" = 12 ] || fail "one table section per case"

# Each traced case is one audit line.
before=$(grep -c '"what":"trace"' "$D/audit.log")
expect_exit 0 "$CT" --data "$D" trace --all --format csv --jobs 2
after=$(grep -c '"what":"trace"' "$D/audit.log")
[ $((after - before)) = 12 ] || fail "expected 12 audit lines for 12 cases, got $((after - before))"

# Checking the given ids reads no number: no "cases list" in the audit log.
lists=$(grep -c '"what":"cases list"' "$D/audit.log")
# shellcheck disable=SC2086
expect_exit 0 "$CT" --data "$D" trace $rev_ids --format csv --jobs 2
[ "$(grep -c '"what":"cases list"' "$D/audit.log")" = "$lists" ] || fail "tracing given ids listed the cases"

# An unknown case among several: exit 1 before any output.
first=$(echo "$ids" | head -1)
expect_exit 1 "$CT" --data "$D" trace "$first" NO-SUCH-CASE --format csv
[ ! -s "$WORK/out" ] || fail "nothing should be printed when a case is unknown"
expect_grep "no case with case_id NO-SUCH-CASE" "$WORK/err"
# Scored (issue 7): the same rows on 2 threads as one case at a time; under
# ThreadSanitizer this runs the scorer and the time zone lock on threads.
expect_exit 0 "$CT" --data "$D" trace --all --score --format csv --jobs 2
cp "$WORK/out" "$WORK/scored_batch.csv"
expect_exit 0 "$CT" --data "$D" trace --all --score --format csv --jobs 1
expect_same "$WORK/scored_batch.csv" "$WORK/out"
head -1 "$WORK/out" | grep -q ',p_contact,expected_near_s,level$' || fail "scored batch header"
# Usage errors.
expect_exit 2 "$CT" --data "$D" trace --all "$first"
expect_exit 2 "$CT" --data "$D" trace --all --jobs 0
expect_exit 2 "$CT" --data "$D" trace
# --all on a store with no cases prints just the header.
D2="$WORK/empty"
expect_exit 0 "$CT" --data "$D2" init
expect_exit 0 "$CT" --data "$D2" trace --all --format csv
echo "$HEADER" >"$WORK/header.csv"
expect_same "$WORK/header.csv" "$WORK/out"
expect_exit 0 "$CT" --data "$D2" trace --all --format json
[ "$(cat "$WORK/out")" = "[]" ] || fail "no cases in JSON should be []"
# The conformance case traced among others gives its exact expected rows.
expect_exit 0 "$CT" --data "$WORK/conf" init
expect_exit 0 "$CT" --data "$WORK/conf" cells import --operator 250-01 "$C/cells_250-01.csv"
expect_exit 0 "$CT" --data "$WORK/conf" cells import --operator 250-02 "$C/cells_250-02.csv"
expect_exit 3 "$CT" --data "$WORK/conf" ingest --operator 250-01 "$C/events_250-01.csv"
expect_exit 0 "$CT" --data "$WORK/conf" ingest --operator 250-02 "$C/events_250-02.csv"
expect_exit 0 "$CT" --data "$WORK/conf" cases import "$C/cases.csv"
expect_exit 0 "$CT" --data "$WORK/conf" cases add --case-id K0 --msisdn 79990000003 --onset 2020-03-24T00:00:00Z
expect_exit 0 "$CT" --data "$WORK/conf" trace K0 K1 K0 --format csv --jobs 2
grep -v '^K0,' "$WORK/out" >"$WORK/k1_only.csv"
expect_same "$C/expected_K1.csv" "$WORK/k1_only.csv"

# One case on several threads (--jobs with a single case): the same rows,
# plain, scored, at a level, and in JSON, and the same work counted.
for id in $(echo "$ids" | head -4); do
    for args in "--format csv" "--format csv --score" "--format csv --level test" "--format json --score"; do
        # shellcheck disable=SC2086
        expect_exit 0 "$CT" --data "$D" trace "$id" $args --jobs 1 --work
        cp "$WORK/out" "$WORK/one_thread.out"
        sed -E 's/, [0-9.]+ ms, .*//' "$WORK/err" | grep "^work: $id:" >"$WORK/one_thread.work"
        # shellcheck disable=SC2086
        expect_exit 0 "$CT" --data "$D" trace "$id" $args --jobs 3 --work
        expect_same "$WORK/one_thread.out" "$WORK/out"
        sed -E 's/, [0-9.]+ ms, .*//' "$WORK/err" | grep "^work: $id:" >"$WORK/three.work"
        expect_same "$WORK/one_thread.work" "$WORK/three.work"
    done
done
grep -q "^$(echo "$ids" | head -1)," "$WORK/want.csv" || fail "the first case should have contacts"

# --floor: the kernel on the trace's own pairs finds the same contacts and
# overlaps as the trace (`work:` line), and is audited as a trace.
first=$(echo "$ids" | head -1)
before=$(grep -c '"what":"trace --floor"' "$D/audit.log")
expect_exit 0 "$CT" --data "$D" trace "$first" --work --floor --format csv
expect_same <(grep "^$first," "$WORK/want.csv" | sed "1i $HEADER") "$WORK/out"
work=$(grep "^work: $first: " "$WORK/err") || fail "no work line"
floor=$(grep "^floor: $first: " "$WORK/err") || fail "no floor line"
w_overlaps=$(echo "$work" | sed -E 's/.* ([0-9]+) overlaps, ([0-9]+) contacts.*/\1 \2/')
f_overlaps=$(echo "$floor" | sed -E 's/.* ([0-9]+) overlaps, ([0-9]+) contacts.*/\1 \2/')
[ "$w_overlaps" = "$f_overlaps" ] || fail "floor ($f_overlaps) and trace ($w_overlaps) differ in overlaps, contacts"
echo "$floor" | grep -Eq 'kernel [0-9.]+ ms \([0-9.]+ ns per pair\); the trace took [0-9.]+ times the kernel$' ||
    fail "floor line: $floor"
[ $(($(grep -c '"what":"trace --floor"' "$D/audit.log") - before)) = 1 ] || fail "--floor not audited"
expect_exit 2 "$CT" --data "$D" trace "$first" --floor
expect_exit 2 "$CT" --data "$D" trace "$first" --work --floor --score
expect_exit 2 "$CT" --data "$D" trace --all --work --floor

# `run` traces its cases on every CPU and stores each as it comes: the same
# contacts and levels as the scored batch (every level kept), in one
# transaction; under ThreadSanitizer its workers, and the home regions and
# storing on the main thread, run side by side.
rows=$(($(wc -l <"$WORK/scored_batch.csv") - 1))
levels=$(tail -n +2 "$WORK/scored_batch.csv" | awk -F, '{ n[$NF]++ } END {
    printf "levels: %d quarantine, %d test, %d none", n["quarantine"], n["test"], n["none"] }')
expect_exit 0 "$CT" --data "$D" run
expect_grep "^12 of 12 cases traced, $rows contacts, .*; $levels\$" "$WORK/out"
expect_exit 0 "$CT" --data "$D" run
expect_grep "^0 of 12 cases traced, 0 contacts" "$WORK/out"
exit 0
