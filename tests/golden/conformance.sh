# Golden test: shared/conformance/basic exactly as its README shows.
. "$(dirname "$0")/common.bash"
C="$SRC/conformance/basic"
[ -d "$C" ] || fail "no conformance data at $C"
D="$WORK/data"
expect_exit 0 "$CT" --data "$D" init
expect_exit 0 "$CT" --data "$D" cells import --operator 250-01 "$C/cells_250-01.csv"
expect_exit 0 "$CT" --data "$D" cells import --operator 250-02 "$C/cells_250-02.csv"
expect_exit 3 "$CT" --data "$D" ingest --operator 250-01 "$C/events_250-01.csv"
expect_grep "19 rows read, 13 stored, 2 duplicates, 4 rejected" "$WORK/out"
expect_exit 0 "$CT" --data "$D" ingest --operator 250-02 "$C/events_250-02.csv"
expect_exit 0 "$CT" --data "$D" cases import "$C/cases.csv"
expect_exit 0 "$CT" --data "$D" trace K1 --format csv
expect_same "$C/expected_K1.csv" "$WORK/out"
expect_exit 0 "$CT" --data "$D" trace K1 --format csv --min-exposure 600 --max-presence 1800 --distance 500
expect_same "$C/expected_K1_params.csv" "$WORK/out"

# --work reports the work on stderr and leaves the answer alone.
expect_exit 0 "$CT" --data "$D" trace K1 --format csv --work
expect_same "$C/expected_K1.csv" "$WORK/out"
expect_grep "^work: K1: 5 case intervals, [0-9]* candidates, [0-9]* overlaps, 4 contacts" "$WORK/err"

# The reject report: four rows, with file, line, column and reason, numbers masked.
report=$(ls "$D"/rejects/*.csv)
[ "$(wc -l <"$report")" = 5 ] || fail "reject report should have a header and 4 rows"
expect_grep "events_250-01.csv,17,msisdn," "$report"
expect_grep "events_250-01.csv,18,ts,invalid time" "$report"
expect_grep "events_250-01.csv,19,cell_id," "$report"
expect_grep "events_250-01.csv,20,lat," "$report"
if grep -q 79990000007 "$report"; then fail "reject report holds a number in clear"; fi

# Ingesting the same files again changes nothing.
expect_exit 3 "$CT" --data "$D" ingest --operator 250-01 "$C/events_250-01.csv"
expect_grep "19 rows read, 0 stored, 15 duplicates, 4 rejected" "$WORK/out"
expect_exit 0 "$CT" --data "$D" trace K1 --format csv
expect_same "$C/expected_K1.csv" "$WORK/out"

# The other order of ingest, from a compressed copy and stdin, gives the same answer.
D2="$WORK/data2"
gzip -c "$C/events_250-01.csv" >"$WORK/e1.csv.gz"
zstd -q -c "$C/events_250-02.csv" >"$WORK/e2.csv.zst"
expect_exit 0 "$CT" --data "$D2" init
expect_exit 0 "$CT" --data "$D2" cells import --operator 250-02 "$C/cells_250-02.csv"
expect_exit 0 "$CT" --data "$D2" cells import --operator 250-01 "$C/cells_250-01.csv"
expect_exit 0 "$CT" --data "$D2" ingest --operator 250-02 "$WORK/e2.csv.zst"
expect_exit 0 "$CT" --data "$D2" cases import "$C/cases.csv"
gunzip -c "$WORK/e1.csv.gz" | "$CT" --quiet --data "$D2" ingest --operator 250-01 - >"$WORK/out" 2>&1
[ $? = 3 ] || fail "ingest from stdin should exit 3"
expect_exit 0 "$CT" --data "$D2" trace K1 --format csv
expect_same "$C/expected_K1.csv" "$WORK/out"
exit 0
