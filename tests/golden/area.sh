# Golden test: celltrace area (docs/AREA.md) on the conformance data set.
#   1. a cell and a disk give exactly the answers worked out by hand in
#      tests/fixtures/area/README.md (CSV), masked unless --reveal;
#   2. JSON has the same rows and fields, the table the same count;
#   3. every read is audited, --reveal and --force as such; no number is
#      written to the audit log;
#   4. bad queries fail with the right exit code and say why; an area over
#      50 km or 31 days needs --force;
#   5. hotspots of two cases on the same data, worked out by hand;
#   6. run --area queues invitations with their own text to those present
#      and not yet covered by a message, in either order with `run`.
. "$(dirname "$0")/common.bash"

BASIC=$SRC/conformance/basic
D=$WORK/data
FIX=$SRC/fixtures/area
expect_exit 0 "$CT" --data "$D" init
for op in 250-01 250-02; do
    expect_exit 0 "$CT" --data "$D" cells import --operator $op "$BASIC/cells_$op.csv"
done
expect_exit 3 "$CT" --data "$D" ingest --operator 250-01 "$BASIC/events_250-01.csv" # bad rows
expect_exit 0 "$CT" --data "$D" ingest --operator 250-02 "$BASIC/events_250-02.csv"

# ---- 1. exact answers -------------------------------------------------------------------
expect_exit 0 "$CT" --data "$D" area --cell 250-01:A1 --from 2020-03-24T08:00:00Z \
    --to 2020-03-24T09:00:00Z --min-stay 0 --reveal --format csv
expect_same "$FIX/expected_A1.csv" "$WORK/out"
expect_exit 0 "$CT" --data "$D" area --lat 55.75 --lon 37.62 --radius 10 --from 2020-03-24 \
    --to 2020-03-25 --min-stay 600 --format csv
expect_same "$FIX/expected_10m.csv" "$WORK/out"
# the default minimum stay is 900 s: 0003's 899 s drop out
expect_exit 0 "$CT" --data "$D" area --lat 55.75 --lon 37.62 --radius 10 --from 2020-03-24 \
    --to 2020-03-25 --format csv
head -4 "$FIX/expected_10m.csv" >"$WORK/want"
expect_same "$WORK/want" "$WORK/out"

# ---- 2. JSON and the table ----------------------------------------------------------------
expect_exit 0 "$CT" --data "$D" area --cell 250-01:A1 --from 2020-03-24T08:00:00Z \
    --to 2020-03-24T09:00:00Z --min-stay 0 --format json
python3 - "$WORK/out" "$FIX/expected_A1.csv" <<'PY' || fail "JSON differs from CSV"
import csv, json, sys
rows = json.load(open(sys.argv[1]))
want = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) == len(want), (len(rows), len(want))
for r, w in zip(rows, want):
    assert r["msisdn"] == w["msisdn"][:4] + "***" + w["msisdn"][-4:], r
    assert str(r["present_s"]) == w["present_s"] and r["first_seen"] == w["first_seen"], r
    assert r["last_seen"] == w["last_seen"], r
    assert abs(r["min_radius_m"] - float(w["min_radius_m"])) < 1e-9, r
    assert abs(r["expected_inside_s"] - float(w["expected_inside_s"])) < 1e-9, r
PY
expect_exit 0 "$CT" --data "$D" area --cell 250-01:A1 --from 2020-03-24T08:00:00Z \
    --to 2020-03-24T09:00:00Z --min-stay 0
expect_grep '^Cell 250-01:A1 (55.7500000, 37.6200000), radius 300 m, .*: 4 present for at least 0 s$' "$WORK/out"
grep -q '79990000006' "$WORK/out" && fail "the table revealed a number without --reveal"
expect_grep '^7999\*\*\*0006 ' "$WORK/out"
expect_exit 0 "$CT" --data "$D" area --help
expect_grep 'msisdn,present_s,first_seen,last_seen,min_radius_m,expected_inside_s' "$WORK/out"

# ---- 3. the audit log ---------------------------------------------------------------------
expect_exit 0 "$CT" --data "$D" --reason "Itaewon-style query" area --lat 55.75 --lon 37.62 \
    --radius 60000 --from 2020-03-01 --to 2020-04-15 --force --reveal --format csv
[ "$(tail -n +2 "$WORK/out" | wc -l)" -ge 6 ] || fail "a forced wide query lost rows"
log=$D/audit.log
[ "$(grep -c '"what":"area' "$log")" = 6 ] || { cat "$log" >&2; fail "not every area query audited"; }
[ "$(grep -c '"what":"area --reveal"' "$log")" = 1 ] || fail "--reveal not audited as such"
tail -1 "$log" | grep -q '"what":"area --force --reveal".*"why":"Itaewon-style query"' ||
    { tail -1 "$log" >&2; fail "--force not audited as such, with its reason"; }
grep '"what":"area' "$log" | grep -q '7999000' && fail "a number in the audit log"

# ---- 4. refused queries ---------------------------------------------------------------------
lines=$(wc -l <"$log")
W="--from 2020-03-24 --to 2020-03-25"
expect_exit 2 "$CT" --data "$D" area --lat 55.75 --lon 37.62 --radius 50001 $W
expect_grep 'needs --force' "$WORK/err"
expect_exit 2 "$CT" --data "$D" area --lat 55.75 --lon 37.62 --radius 10 --from 2020-03-01 --to 2020-04-02
expect_grep 'needs --force' "$WORK/err"
expect_exit 2 "$CT" --data "$D" area --lat 55.75 --lon 37.62 $W
expect_grep 'expected --lat, --lon and --radius' "$WORK/err"
expect_exit 2 "$CT" --data "$D" area --cell 250-01:A1 --radius 10 $W
expect_grep 'not both' "$WORK/err"
expect_exit 2 "$CT" --data "$D" area --cell A1 $W
expect_grep 'OP:CELL_ID' "$WORK/err"
expect_exit 2 "$CT" --data "$D" area --lat 95 --lon 37.62 --radius 10 $W
expect_exit 2 "$CT" --data "$D" area --lat x --lon 37.62 --radius 10 $W
expect_exit 2 "$CT" --data "$D" area --lat 55.75 --lon 37.62 --radius 0 $W
expect_exit 2 "$CT" --data "$D" area --lat 55.75 --lon 37.62 --radius 10 --from 2020-03-25 --to 2020-03-24
expect_exit 2 "$CT" --data "$D" area --lat 55.75 --lon 37.62 --radius 10 --from yesterday --to 2020-03-24
expect_exit 2 "$CT" --data "$D" area --lat 55.75 --lon 37.62 --radius 10 $W --min-stay -1
expect_exit 2 "$CT" --data "$D" area --lat 55.75 --lon 37.62 --radius 10 $W --format xml
expect_exit 1 "$CT" --data "$D" area --cell 250-01:ZZ $W
expect_grep "no cell 'ZZ'" "$WORK/err"
expect_exit 1 "$CT" --data "$D" area --cell 250-77:A1 $W
[ "$(wc -l <"$log")" = "$lines" ] || fail "a refused query was audited as a read"
# ---- 5. hotspots on the same data, worked out by hand -------------------------------------
expect_exit 0 "$CT" --data "$D" cases import "$BASIC/cases.csv"
expect_exit 0 "$CT" --data "$D" cases add --case-id K2 --msisdn 79990000002 --onset 2020-03-25
expect_exit 0 "$CT" --data "$D" hotspots --from 2020-03-20 --to 2020-04-10 --format csv
expect_same "$FIX/expected_hotspots.csv" "$WORK/out"
# ---- 6. run --area: invitations with their own text, no duplicates ------------------------
# after `run`: the contacts of K1 and K2 (section 5) are invited; in A1 that
# hour were 0001 and 0002 (the cases), 0006 (covered) and 0003
A1="--cell 250-01:A1 --from 2020-03-24T08:00:00Z --to 2020-03-24T09:00:00Z --min-stay 0"
expect_exit 0 "$CT" --data "$D" config set sms.language en
expect_exit 0 "$CT" --data "$D" run
expect_exit 0 "$CT" --data "$D" --reason "cafe cluster" run --area cafe1 $A1
expect_grep '^area cafe1: 4 present, 1 test invitations queued, 1 already covered by a message, 2 registered cases$' "$WORK/out"
expect_exit 0 "$CT" --data "$D" outbox list --format csv
grep ',area,' "$WORK/out" >"$WORK/area_rows"
[ "$(wc -l <"$WORK/area_rows")" = 1 ] || { cat "$WORK/out" >&2; fail "one area invitation expected"; }
expect_grep '^[0-9]*,a-[0-9]*-[0-9]*,79990000003,area,queued,0,area:cafe1,' "$WORK/area_rows"
expect_grep 'on 2020-03-24 you were at a place where COVID-19 spread' "$WORK/area_rows"
grep '"what":"run --area"' "$D/audit.log" | grep -q '"object":"cafe1","records":1,"why":"cafe cluster"' ||
    fail "run --area not audited"
expect_exit 0 "$CT" --data "$D" run --area cafe1 $A1 # again: nothing new
expect_grep ' 0 test invitations queued, 2 already covered' "$WORK/out"
# the other way round: invitations after the area cover the case's contacts
D2=$WORK/data2
expect_exit 0 "$CT" --data "$D2" init
for op in 250-01 250-02; do
    expect_exit 0 "$CT" --data "$D2" cells import --operator $op "$BASIC/cells_$op.csv"
done
expect_exit 3 "$CT" --data "$D2" ingest --operator 250-01 "$BASIC/events_250-01.csv"
expect_exit 0 "$CT" --data "$D2" ingest --operator 250-02 "$BASIC/events_250-02.csv"
expect_exit 0 "$CT" --data "$D2" cases import "$BASIC/cases.csv"
expect_exit 0 "$CT" --data "$D2" run --area cafe1 $A1
expect_grep ' 3 test invitations queued, 0 already covered' "$WORK/out"
expect_exit 0 "$CT" --data "$D2" run
expect_grep ', 2 test invitations queued;' "$WORK/out" # 0004 and 0005: 0002, 0006 are covered
# the quarantine step ignores area invitations: with thresholds that put
# every contact at level quarantine, the covered ones still get their order
expect_exit 0 "$CT" --data "$D2" config set risk.test 0.000001
expect_exit 0 "$CT" --data "$D2" config set risk.quarantine 0.000002
expect_exit 0 "$CT" --data "$D2" run
expect_grep '^1 of 1 cases traced, 4 contacts, 4 notifications queued' "$WORK/out"
# the SMS names the day of the last second there: a stay that ends at local
# midnight (21:00Z in Moscow) is dated that evening, not the next day
D3=$WORK/data3
expect_exit 0 "$CT" --data "$D3" init
expect_exit 0 "$CT" --data "$D3" cells import --operator 250-01 "$BASIC/cells_250-01.csv"
printf 'msisdn,ts,cell_id\n79990000012,2020-03-24T20:30:00Z,A1\n' >"$WORK/late.csv"
expect_exit 0 "$CT" --data "$D3" ingest --operator 250-01 "$WORK/late.csv"
expect_exit 0 "$CT" --data "$D3" config set sms.language en
expect_exit 0 "$CT" --data "$D3" run --area msk --cell 250-01:A1 --from 2020-03-24T15:00:00Z \
    --to 2020-03-24T21:00:00Z --min-stay 0
expect_exit 0 "$CT" --data "$D3" outbox list --format csv
expect_grep 'on 2020-03-24 you were at a place' "$WORK/out"
expect_exit 0 "$CT" --data "$D" run --area cafe1 --help
expect_grep 'run --area LABEL' "$WORK/out"
expect_exit 2 "$CT" --data "$D" run --area cafe1 $A1 --reveal
expect_exit 2 "$CT" --data "$D" run --area 'bad label' $A1
expect_exit 2 "$CT" --data "$D" run --area cafe1 --from 2020-03-24 --to 2020-03-25
echo "area: ok"
