# Golden test: I/O faults (EIO, ENOSPC) injected at the n-th write, fsync
# or rename of an ingest, once or from then on (CT_FAULT, see fsio.h).
# The command fails with a clear message, the data directory stays
# consistent (`check` clean; a trace gives the state before or after the
# command, never a mix), and a later run without the fault succeeds.
. "$(dirname "$0")/common.bash"
C="$SRC/conformance/basic"
BASE="$WORK/base"
expect_exit 0 "$CT" --data "$BASE" init
expect_exit 0 "$CT" --data "$BASE" cells import --operator 250-01 "$C/cells_250-01.csv"
expect_exit 0 "$CT" --data "$BASE" cells import --operator 250-02 "$C/cells_250-02.csv"
expect_exit 3 "$CT" --data "$BASE" ingest --operator 250-01 "$C/events_250-01.csv"
expect_exit 0 "$CT" --data "$BASE" cases import "$C/cases.csv"
expect_exit 0 "$CT" --data "$BASE" trace K1 --format csv
cp "$WORK/out" "$WORK/before.csv"
# A new subscriber and two days touched: the ingest appends to the vault,
# writes segments and replaces the manifest.
printf 'msisdn,ts,cell_id\n79995550001,2020-03-24T08:06:00Z,B1\n' >"$WORK/extra.csv"
cp -a "$BASE" "$WORK/clean"
expect_exit 0 "$CT" --data "$WORK/clean" ingest --operator 250-02 "$C/events_250-02.csv" "$WORK/extra.csv"
expect_exit 0 "$CT" --data "$WORK/clean" trace K1 --format csv
cp "$WORK/out" "$WORK/after.csv"
cmp -s "$WORK/after.csv" "$WORK/before.csv" && fail "the ingest should change K1's contacts"

# Light (valgrind): EIO only, the 1st, 3rd and 6th call, once and forever.
NS="1 2 3 4 5 6 7" ERRNOS="EIO ENOSPC" MIN_FAILED=40 MIN_SQL=10
[ "$LIGHT" = 1 ] && NS="1 3 6" ERRNOS="EIO" MIN_FAILED=6 MIN_SQL=2
failed=0
for op in write fsync rename; do
    for errno_name in $ERRNOS; do
        for n in $NS; do
            for mode in once forever; do
                D="$WORK/d"
                rm -rf "$D"
                cp -a "$BASE" "$D"
                spec="$op:$errno_name:$n"
                [ $mode = forever ] && spec="$spec:forever"
                CT_FAULT=$spec "$CT" --data "$D" ingest --operator 250-02 "$C/events_250-02.csv" "$WORK/extra.csv" \
                    >"$WORK/out" 2>"$WORK/err"
                rc=$?
                if [ $rc = 1 ]; then
                    failed=$((failed + 1))
                    grep -q "Input/output error\|No space left on device" "$WORK/err" ||
                        { cat "$WORK/err" >&2; fail "$spec: no clear message"; }
                elif [ $rc != 0 ]; then
                    cat "$WORK/err" >&2
                    fail "$spec: exit $rc"
                fi
                "$CT" --data "$D" check >"$WORK/check" 2>&1 || { cat "$WORK/check" >&2; fail "$spec: damage"; }
                "$CT" --data "$D" trace K1 --format csv >"$WORK/t.csv" || fail "$spec: trace"
                if [ $rc = 0 ]; then
                    expect_same "$WORK/after.csv" "$WORK/t.csv"
                else
                    cmp -s "$WORK/t.csv" "$WORK/before.csv" || cmp -s "$WORK/t.csv" "$WORK/after.csv" ||
                        fail "$spec: trace is neither the state before nor after"
                fi
                expect_exit 0 "$CT" --data "$D" ingest --operator 250-02 "$C/events_250-02.csv" "$WORK/extra.csv"
                expect_exit 0 "$CT" --data "$D" trace K1 --format csv
                expect_same "$WORK/after.csv" "$WORK/out"
                expect_exit 0 "$CT" --data "$D" check
            done
        done
    done
done
[ $failed -ge $MIN_FAILED ] || fail "only $failed injected faults made the ingest fail"

# SQLite's files go through the same fault layer (sqlvfs.c): a failed
# cases import or cells import leaves the registry as it was.
printf 'case_id,msisdn,onset\nK2,79995550002,2020-03-24\n' >"$WORK/k2.csv"
printf 'cell_id,lat,lon,radius_m\nZ9,55.9,37.9,100\n' >"$WORK/z9.csv"
sql_failed=0
for op in write fsync; do
    for errno_name in $ERRNOS; do
        for n in $NS; do
            [ "$n" -le 6 ] || continue
            D="$WORK/d"
            rm -rf "$D"
            cp -a "$BASE" "$D"
            CT_FAULT=$op:$errno_name:$n "$CT" --data "$D" cases import "$WORK/k2.csv" >"$WORK/out" 2>"$WORK/err"
            rc=$?
            [ $rc = 0 ] || [ $rc = 1 ] || fail "cases import $op:$errno_name:$n: exit $rc"
            [ $rc = 1 ] && sql_failed=$((sql_failed + 1))
            CT_FAULT=$op:$errno_name:$n "$CT" --data "$D" cells import --operator 250-09 "$WORK/z9.csv" >"$WORK/out" 2>"$WORK/err"
            rc2=$?
            [ $rc2 = 0 ] || [ $rc2 = 1 ] || fail "cells import $op:$errno_name:$n: exit $rc2"
            [ $rc2 = 1 ] && sql_failed=$((sql_failed + 1))
            "$CT" --data "$D" check >"$WORK/check" 2>&1 || { cat "$WORK/check" >&2; fail "$op:$errno_name:$n: damage"; }
            "$CT" --data "$D" cases list --format csv >"$WORK/cases" || fail "cases list"
            if [ $rc = 0 ]; then grep -q '^K2,' "$WORK/cases" || fail "K2 missing after success"; fi
            if [ $rc = 1 ]; then grep -q '^K2,' "$WORK/cases" && fail "K2 half-registered after failure"; fi
            expect_exit 0 "$CT" --data "$D" cases import "$WORK/k2.csv"
            expect_exit 0 "$CT" --data "$D" cells import --operator 250-09 "$WORK/z9.csv"
            expect_exit 0 "$CT" --data "$D" cases list --format csv
            expect_grep '^K2,79995550002,' "$WORK/out"
            expect_exit 0 "$CT" --data "$D" check
        done
    done
done
[ $sql_failed -ge $MIN_SQL ] || fail "only $sql_failed injected SQLite faults made an import fail"
echo "io faults: $failed ingest and $sql_failed SQLite failures, all consistent and recoverable" >&2
exit 0
