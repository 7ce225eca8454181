# Golden test: `evaluate` against a hand-made truth (docs/RISK.md section 6),
# every number worked out by hand below from the fixture
# tests/fixtures/levels (case K1; contacts A > B > C by p_contact, all
# three with the same exposure, 10800 s).
#
# Truth (written below): A 120 minutes and C 30 minutes are true contacts;
# B is listed with 5 minutes, under the 15 minutes of min_exposure, so not
# true; D (45 minutes) is true but never shared a place with the case, so
# SPEC 4's net misses it; a row of a case that is not registered is
# ignored. So the truth holds 3 true contacts of K1: A, C, D.
#   net (A, B, C):           2 true of 3: precision 2/3, recall 2/3, F1 2/3
#   quarantine (A):          1 of 1: precision 1, recall 1/3, F1 1/2
#   test or above (A, B):    1 of 2: precision 1/2, recall 1/3, F1 2/5
#   AP by p_contact (A, B, C in that order): A brings recall 1/3 at
#     precision 1, B nothing, C recall 1/3 at precision 2/3:
#     1/3 + 2/9 = 5/9
#   AP by exposure_s (one tie of three): recall 2/3 at precision 2/3 = 4/9
#   Brier: ((pA - 1)^2 + pB^2 + (pC - 1)^2) / 3 with the printed p_contact
#   kinds: A and B point-point (A true), C cell-point (true)
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/levels.bash"
expect_exit 0 "$CT" --data "$D" config set risk.quarantine "$(mid "$pA" "$pB")"
expect_exit 0 "$CT" --data "$D" config set risk.test "$(mid "$pB" "$pC")"

cat >"$WORK/truth.csv" <<CSV
case_id,msisdn,minutes
K1,+7 999 000-01-02,120
K1,79990000103,5
K1,79990000104,30
K1,79990000999,45
K9,79990000555,60
CSV

# ---- the numbers, as JSON ------------------------------------------------------
expect_exit 0 "$CT" --data "$D" --reason "golden test" evaluate --truth "$WORK/truth.csv" \
    --format json --plot "$WORK/plot.svg"
J="$WORK/out"
expect_grep '"cases":1,"truth":3,"truth_in_net":2,' "$J"
# all = the first slice
all=$(tr '\n' ' ' <"$J" | sed 's/.*"slices":\[ *//' | sed 's/},* *{"kind":"cell-cell".*//')
echo "$all" >"$WORK/all"
expect_grep '"net":3,"net_true":2,' "$WORK/all"
expect_grep '"net_counts":{"contacts":3,"true":2,"truth":3,"precision":0.666667,"recall":0.666667,"f1":0.666667}' "$WORK/all"
expect_grep '"test":{"contacts":2,"true":1,"truth":3,"precision":0.5,"recall":0.333333,"f1":0.4}' "$WORK/all"
expect_grep '"quarantine":{"contacts":1,"true":1,"truth":3,"precision":1,"recall":0.333333,"f1":0.5}' "$WORK/all"
expect_grep '"average_precision_p_contact":0.555556,"average_precision_exposure":0.444444,' "$WORK/all"
brier=$(awk -v a="$pA" -v b="$pB" -v c="$pC" 'BEGIN { printf "%.6g", ((a-1)^2 + b^2 + (c-1)^2) / 3 }')
expect_grep "\"brier\":$brier," "$WORK/all"
# reliability: the three contacts are in the bins of their p_contact
bins=$(grep -o '"reliability":\[[^]]*\]' "$WORK/all" | head -1)
[ "$(echo "$bins" | grep -o '"contacts":[0-9]*' | awk -F: '{ s += $2 } END { print s }')" = 3 ] ||
    fail "reliability bins do not hold the three contacts: $bins"
# kinds: point-point holds A and B, cell-point holds C
expect_grep '{"kind":"point-point","net":2,"net_true":1,' "$J"
expect_grep '{"kind":"cell-point","net":1,"net_true":1,' "$J"
expect_grep '{"kind":"cell-cell","net":0,"net_true":0,' "$J"
# an empty slice has no precision, recall or F1: null, where the table says -
grep -o '{"kind":"cell-cell".*' "$J" | grep -q '"precision":null,"recall":null,"f1":null' ||
    fail "an empty slice's ratios are not null"

# ---- the plot is an SVG with both panels ------------------------------------------
head -c 4 "$WORK/plot.svg" | grep -q '<svg' || fail "the plot is not an SVG"
for text in 'Precision and recall' 'by p_contact' 'by exposure_s' 'Reliability' 'perfect calibration'; do
    expect_grep "$text" "$WORK/plot.svg"
done
[ "$(grep -c '<polyline' "$WORK/plot.svg")" = 2 ] || fail "expected two curves"

# ---- the table for people ------------------------------------------------------------
expect_exit 0 "$CT" --data "$D" evaluate --truth "$WORK/truth.csv"
expect_grep '^True contacts: 3; SPEC 4.s net found 2 of them.$' "$WORK/out"
expect_grep '^  level quarantine  *1  *1  *100.00%  *33.33%  *50.00%$' "$WORK/out"
expect_grep 'Average precision: by p_contact 0.5556, by exposure_s 0.4444 (1.3x)' "$WORK/out"

# ---- the read of numbers is audited -------------------------------------------------
expect_grep '"what":"trace --score","object":"K1"' "$D/audit.log"

# ---- a bad truth file fails with its line -----------------------------------------------
printf 'case_id,msisdn,minutes\nK1,12345,20\n' >"$WORK/bad.csv"
expect_exit 1 "$CT" --data "$D" evaluate --truth "$WORK/bad.csv"
expect_grep 'bad.csv:2: msisdn is not a phone number' "$WORK/err"
printf 'case_id,msisdn\nK1,79990000102\n' >"$WORK/bad2.csv"
expect_exit 1 "$CT" --data "$D" evaluate --truth "$WORK/bad2.csv"
expect_grep 'needs columns case_id, msisdn and minutes' "$WORK/err"
expect_exit 2 "$CT" --data "$D" evaluate
expect_exit 2 "$CT" --data "$D" evaluate --truth "$WORK/truth.csv" --format csv

# ---- risk features and risk fit on the same truth ------------------------------------------
expect_exit 0 "$CT" --data "$D" risk features --truth "$WORK/truth.csv"
cp "$WORK/out" "$WORK/features.csv"
head -1 "$WORK/features.csv" | grep -q '^case_id,true,' || fail "features header"
[ "$(tail -n +2 "$WORK/features.csv" | wc -l)" = 3 ] || fail "one feature row per contact of the net"
[ "$(tail -n +2 "$WORK/features.csv" | cut -d, -f2 | sort | tr -d '\n')" = 011 ] ||
    fail "two of the three contacts of the net are true"
grep -q 7999 "$WORK/features.csv" && fail "a phone number in the features file"
# the same file twice would count its rows twice: refused
expect_exit 2 "$CT" risk fit "$WORK/features.csv" "$WORK/features.csv"
expect_grep "named twice" "$WORK/err"
# a fit on 2 true contacts works, but says it is noise
expect_exit 0 "$CT" risk fit --out "$WORK/model.txt" --version tiny "$WORK/features.csv"
expect_grep "only 2 true contacts" "$WORK/err"
expect_grep '^version tiny$' "$WORK/model.txt"
expect_exit 0 "$CT" --data "$D" trace K1 --score --model "$WORK/model.txt" --format csv
exit 0
