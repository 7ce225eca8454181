# levels.bash — for golden tests, sourced after common.bash: loads the
# fixture tests/fixtures/levels (case K1; contacts A, B, C that differ only
# in how precise their positions are) into $D, scores K1 into
# $WORK/scored.csv, and sets pA, pB, pC to the three p_contact. Fails when
# the model no longer ranks A > B > C, which every test built on the
# fixture relies on. mid X Y prints the value halfway between.
F="$SRC/fixtures/levels"
D="$WORK/data"
A=79990000102 B=79990000103 C=79990000104
expect_exit 0 "$CT" --data "$D" init
expect_exit 0 "$CT" --data "$D" cells import --operator 250-01 "$F/cells.csv"
expect_exit 0 "$CT" --data "$D" ingest --operator 250-01 "$F/events.csv"
expect_exit 0 "$CT" --data "$D" cases import "$F/cases.csv"
expect_exit 0 "$CT" --data "$D" trace K1 --score --format csv
cp "$WORK/out" "$WORK/scored.csv"
p_of() { awk -F, -v m="$1" '$2 == m { print $7 }' "$WORK/scored.csv"; }
pA=$(p_of $A) pB=$(p_of $B) pC=$(p_of $C)
[ -n "$pA" ] && [ -n "$pB" ] && [ -n "$pC" ] || { cat "$WORK/scored.csv" >&2; fail "A, B, C are not all contacts"; }
awk -v a="$pA" -v b="$pB" -v c="$pC" 'BEGIN { exit !(a > b && b > c) }' ||
    fail "the model no longer ranks A ($pA) > B ($pB) > C ($pC): see $F/README.md"
mid() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.10g\n", (x + y) / 2 }'; }
