# Golden test: the regional headquarters' page (docs/WEB.md), in a real
# browser: Debian's chromium, headless, driven by playwright-core from
# web/node_modules (tests/browser/web.test.mjs). Data: the levels fixture
# (case K1 in RU-MOW with contacts A, B, C; K2 registered in RU-SPE), run,
# one appeal pending on C. Screenshots of every view go to
# build/web-screenshots (not committed).
# Skips (77) when chromium, node or the npm packages are missing, or when
# the binary was built without the page: scripts/setup.sh installs them.
. "$(dirname "$0")/common.bash"
ROOT=$(cd "$SRC/.." && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "SKIP: $CHROMIUM is not installed (scripts/setup.sh)" >&2; exit 77; }
command -v node >/dev/null || { echo "SKIP: node is not installed (scripts/setup.sh)" >&2; exit 77; }
[ -d "$ROOT/web/node_modules/playwright-core" ] ||
    { echo "SKIP: web/node_modules is missing: npm ci in web/ (scripts/setup.sh)" >&2; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl is not installed" >&2; exit 77; }
. "$(dirname "$0")/levels.bash"
expect_exit 0 "$CT" --data "$D" config set risk.quarantine "$(mid "$pA" "$pB")"
expect_exit 0 "$CT" --data "$D" config set risk.test "$(mid "$pB" "$pC")"
expect_exit 0 "$CT" --data "$D" run
expect_exit 0 "$CT" --data "$D" cases add --case-id K2 --msisdn +79990000201 --onset 2020-03-10 --region RU-SPE
expect_exit 0 "$CT" --data "$D" appeals file --msisdn "$C" --case K1 --reason "I was at home"
# the map's shapes: a district, a metro line and a station; a bad file changes nothing
printf '{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Circle"}}]}' \
    > "$WORK/bad.geojson"
expect_exit 1 "$CT" --data "$D" geography import "$WORK/bad.geojson"
expect_grep "feature 1 has no geometry" "$WORK/err"
expect_exit 1 "$CT" --data "$D" geography import "$SRC/fixtures/levels/cells.csv"
expect_grep "not JSON" "$WORK/err"
expect_exit 2 "$CT" --data "$D" geography
expect_exit 0 "$CT" --data "$D" geography import "$SRC/fixtures/web/geography.geojson"
expect_grep "^3 features imported" "$WORK/out"
token() { # token NAME ROLE [REGION]
    expect_exit 0 "$CT" --data "$D" users add "$1" --role "$2" ${3:+--region "$3"}
    tail -n 1 "$WORK/out"
}
export CT_FED=$(token fed federal) CT_MOSCOW=$(token moscow regional RU-MOW)
export CT_PETERSBURG=$(token petersburg regional RU-SPE)
serve_start "$D"
code=$(curl -s -o "$WORK/index.html" -w '%{http_code}' "$URL/")
[ "$code" = 503 ] && { echo "SKIP: this binary was built without web/dist (scripts/setup.sh)" >&2; exit 77; }
[ "$code" = 200 ] || fail "GET / answered $code"
grep -q '/assets/app.js' "$WORK/index.html" || fail "the page does not load its script"
curl -s -D "$WORK/headers" -o /dev/null "$URL/assets/app.js"
grep -qi '^content-type: text/javascript' "$WORK/headers" || fail "app.js is not served as JavaScript"
grep -qi "^content-security-policy: default-src 'none'" "$WORK/headers" || fail "no content security policy"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/assets/nothing.js")" = 404 ] || fail "a missing asset is not 404"
[ "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$URL/assets/../catalog.db")" = 404 ] || fail "a path outside the assets"

export CT_URL=$URL CT_DATA=$D CT_CHROMIUM=$CHROMIUM CT_A=$A CT_C=$C
export CT_SCREENSHOTS=${CT_SCREENSHOTS:-$(dirname "$CT")/web-screenshots}
mkdir -p "$CT_SCREENSHOTS"
CT_WEB="$ROOT/web" node --test --test-concurrency=1 "$SRC/browser/web.test.mjs" \
    > "$WORK/node.out" 2>&1 || { cat "$WORK/node.out" >&2; fail "browser tests failed"; }
cat "$WORK/node.out"
grep -q '^# fail 0$' "$WORK/node.out" || fail "browser tests did not all pass"
grep -q '^# pass [1-9]' "$WORK/node.out" || fail "no browser test ran"
# what the page read is in the audit log, with the users' names
for what in '"who":"api:moscow","uid":[0-9]*,"what":"api contacts"' '"what":"api evidence --reveal"' \
            '"what":"case places"' '"what":"appeal rejected"'; do
    grep -Eq "$what" "$D/audit.log" || fail "not audited: $what"
done
expect_exit 0 "$CT" --data "$D" audit verify
