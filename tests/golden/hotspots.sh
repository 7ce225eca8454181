# Golden test: celltrace hotspots (docs/AREA.md section 3).
#   1. a simulated city where 4 of 6 cases work in one office: one of the
#      top three places and hours holds that office (its disk contains the
#      office's centre, from the simulator's venues.csv);
#   2. CSV, JSON and the table agree; rows are ranked by score, every row
#      has at least --min-cases cases, and --min-cases 3 keeps only those;
#   3. the query is audited; no number is printed or logged;
#   4. bad options fail with exit 2.
. "$(dirname "$0")/common.bash"

CITY=$WORK/city
D=$WORK/data
expect_exit 0 "$CT" simulate --out "$CITY" --subscribers 3000 --days 7 --cases 6 \
    --office-cluster 4 --seed 7
expect_exit 0 "$CT" --data "$D" init
for op in 250-01 250-02 250-99; do
    expect_exit 0 "$CT" --data "$D" cells import --operator $op "$CITY/$op/cells.csv"
    "$CT" --data "$D" ingest --operator $op "$CITY"/$op/events/* >"$WORK/out" 2>"$WORK/err"
    rc=$?
    [ $rc = 0 ] || [ $rc = 3 ] || { cat "$WORK/err" >&2; fail "ingest $op: exit $rc"; }
done
expect_exit 0 "$CT" --data "$D" cases import "$CITY/cases.csv"
office=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["parameters"]["office_cluster_venue"])' "$CITY/manifest.json")
[ -n "$office" ] && [ "$office" != None ] || fail "the simulator chose no office for the cluster"

# ---- 1. the office among the top three -------------------------------------------------
W="--from 2020-03-30 --to 2020-04-06"
expect_exit 0 "$CT" --data "$D" hotspots $W --format csv --limit 0
cp "$WORK/out" "$WORK/all.csv"
python3 - "$WORK/all.csv" "$CITY/venues.csv" "$office" <<'PY' || fail "the office is not among the top three"
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
v = [r for r in csv.DictReader(open(sys.argv[2])) if r["venue_id"] == sys.argv[3]][0]
def dist(a, b, c, d):
    p1, p2 = math.radians(a), math.radians(c)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(d - b) / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(h))
top = rows[:3]
# a place that holds the office, and no wider than a central cell (a big
# suburban cell would hold it too, and say little)
hit = [r for r in top if dist(float(r["lat"]), float(r["lon"]), float(v["lat"]), float(v["lon"])) <= float(r["radius_m"])
       and float(r["radius_m"]) <= 250]
for r in top:
    print(r["place"], r["hour"], r["cases"], r["score"], file=sys.stderr)
assert hit, "no top-3 place contains office %s at %s,%s" % (sys.argv[3], v["lat"], v["lon"])
PY

# ---- 2. formats, order, --min-cases --------------------------------------------------------
head -1 "$WORK/all.csv" | grep -qx 'place,lat,lon,radius_m,hour,cases,case_ids,others_present,score' ||
    fail "CSV header"
python3 - "$WORK/all.csv" <<'PY' || fail "rows not ranked, or too few cases in a row"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) > 3, len(rows)
s = [float(r["score"]) for r in rows]
assert all(a >= b for a, b in zip(s, s[1:])), "not ranked by score"
for r in rows:
    ids = r["case_ids"].split(";")
    assert len(ids) == int(r["cases"]) >= 2 and ids == sorted(set(ids)), r
    assert r["hour"].endswith(":00:00Z"), r
    assert r["place"].startswith("grid:") or ":" in r["place"], r
PY
expect_exit 0 "$CT" --data "$D" hotspots $W --format json --limit 0
python3 - "$WORK/out" "$WORK/all.csv" <<'PY' || fail "JSON differs from CSV"
import csv, json, sys
js = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(js) == len(rows)
for j, r in zip(js, rows):
    assert j["place"] == r["place"] and j["hour"] == r["hour"], (j, r)
    assert ";".join(j["cases"]) == r["case_ids"] and j["others_present"] == int(r["others_present"])
    assert j["kind"] == ("grid" if r["place"].startswith("grid:") else "cell")
PY
expect_exit 0 "$CT" --data "$D" hotspots $W --format csv --limit 0 --min-cases 3
awk -F, 'NR > 1 && $6 < 3 { bad = 1 } END { exit bad }' "$WORK/out" || fail "--min-cases 3 kept a pair"
[ "$(wc -l <"$WORK/out")" -lt "$(wc -l <"$WORK/all.csv")" ] || fail "--min-cases 3 removed nothing"
# --no-others: the same rows, others_present empty (null in JSON)
expect_exit 0 "$CT" --data "$D" hotspots $W --format csv --limit 0 --no-others
cut -d, -f1-7,9 "$WORK/all.csv" >"$WORK/want"
cut -d, -f1-7,9 "$WORK/out" >"$WORK/got"
expect_same "$WORK/want" "$WORK/got"
awk -F, 'NR > 1 && $8 != "" { bad = 1 } END { exit bad }' "$WORK/out" || fail "--no-others printed others"
expect_exit 0 "$CT" --data "$D" hotspots $W --format json --limit 3 --no-others
expect_grep '"others_present":null' "$WORK/out"
expect_exit 0 "$CT" --data "$D" hotspots $W --limit 2
expect_grep '(the first 2)' "$WORK/out"
[ "$(grep -c ' C0' "$WORK/out")" = 2 ] || fail "--limit 2 printed another number of rows"

# ---- 3. audit, no numbers ------------------------------------------------------------------
grep -q '7[0-9]\{10\}' "$WORK/all.csv" && fail "a phone number in the output"
[ "$(grep -c '"what":"hotspots"' "$D/audit.log")" = 6 ] || fail "not every query audited"

# ---- 4. usage errors -----------------------------------------------------------------------
expect_exit 2 "$CT" --data "$D" hotspots --from 2020-03-30
expect_exit 2 "$CT" --data "$D" hotspots $W --min-cases 1
expect_exit 2 "$CT" --data "$D" hotspots $W --resolution 0
expect_exit 2 "$CT" --data "$D" hotspots --from 2020-04-06 --to 2020-03-30
expect_exit 2 "$CT" --data "$D" hotspots $W --format xml
expect_exit 0 "$CT" --data "$D" hotspots --help
expect_grep 'place,lat,lon,radius_m,hour,cases,case_ids,others_present,score' "$WORK/out"
echo "hotspots: ok"
