# Golden test: a trace running while ingest replaces the same days' segments
# always gives the full, correct answer (readers take no lock; a segment
# replaced under a reader is found again through the new manifest).
. "$(dirname "$0")/common.bash"
C="$SRC/conformance/basic"
D="$WORK/data"
expect_exit 0 "$CT" --data "$D" init
expect_exit 0 "$CT" --data "$D" cells import --operator 250-01 "$C/cells_250-01.csv"
expect_exit 0 "$CT" --data "$D" cells import --operator 250-02 "$C/cells_250-02.csv"
expect_exit 3 "$CT" --data "$D" ingest --operator 250-01 "$C/events_250-01.csv"
expect_exit 0 "$CT" --data "$D" ingest --operator 250-02 "$C/events_250-02.csv"
expect_exit 0 "$CT" --data "$D" cases import "$C/cases.csv"
(
    for i in $(seq 1 120); do
        printf 'msisdn,ts,lat,lon\n7888000%04d,2020-03-2%dT09:00:00Z,10.0,10.0\n' "$i" $((3 + i % 3)) >"$WORK/p$i.csv"
        "$CT" --quiet --data "$D" ingest --operator 250-02 "$WORK/p$i.csv" >/dev/null 2>&1 || exit 1
    done
) &
writer=$!
n=0
while kill -0 $writer 2>/dev/null && [ $n -lt 400 ]; do
    "$CT" --data "$D" trace K1 --format csv >"$WORK/t.csv" 2>"$WORK/t.err" || { cat "$WORK/t.err" >&2; fail "trace failed during ingest (round $n)"; }
    expect_same "$C/expected_K1.csv" "$WORK/t.csv"
    n=$((n + 1))
done
wait $writer || fail "the writer failed"
[ $n -gt 5 ] || fail "too few traces overlapped the writer ($n)"
echo "$n traces during the writer" >&2
exit 0
