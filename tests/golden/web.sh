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
# K3: registered in RU-SPE, its contacts live in RU-MOW (A's phone, K1's place);
# a case id that is markup, which the page must show as text
HOSTILE='<img src=x onerror=alert(1)>'
expect_exit 0 "$CT" --data "$D" cases add --case-id K3 --msisdn +79990000102 --onset 2020-03-25T12:00:00Z --region RU-SPE
expect_exit 0 "$CT" --data "$D" cases add --case-id "$HOSTILE" --msisdn +79990000101 --onset 2020-03-25T12:00:00Z --region RU-MOW
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
policy=$(sed -n 's/^[Cc]ontent-[Ss]ecurity-[Pp]olicy: \(.*\)\r$/\1/p' "$WORK/headers")
[ "$policy" = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'" ] ||
    fail "the page's content security policy is not the documented one: $policy"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/assets/nothing.js")" = 404 ] || fail "a missing asset is not 404"
# only the embedded files: the data directory's own files are no asset
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/assets/catalog.db")" = 404 ] || fail "catalog.db as an asset"
[ "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$URL/assets/..%2Fcatalog.db")" = 404 ] || fail "a path outside the assets"

export CT_URL=$URL CT_DATA=$D CT_CHROMIUM=$CHROMIUM CT_A=$A CT_C=$C CT_HOSTILE=$HOSTILE
export CT_SCREENSHOTS=${CT_SCREENSHOTS:-$(dirname "$CT")/web-screenshots}
mkdir -p "$CT_SCREENSHOTS"
CT_WEB="$ROOT/web" node --test --test-concurrency=1 "$SRC/browser/web.test.mjs" \
    > "$WORK/node.out" 2>&1 || { cat "$WORK/node.out" >&2; fail "browser tests failed"; }
cat "$WORK/node.out"
grep -q '^# fail 0$' "$WORK/node.out" || fail "browser tests did not all pass"
grep -q '^# pass [1-9]' "$WORK/node.out" || fail "no browser test ran"
# what the page read is in the audit log, with the users' names
# (the page sends "web" as the reason, or "web: " and what the user typed; the
# test's own API calls send none, so "api")
for what in '"who":"api:moscow","uid":[0-9]*,"what":"api contacts","object":"K1","records":3,"why":"web' \
            '"who":"api:moscow","uid":[0-9]*,"what":"api evidence --reveal","object":"K1","records":1,"why":"web' \
            '"who":"api:moscow","uid":[0-9]*,"what":"case places","object":"K1","records":[0-9]*,"why":"web"' \
            '"who":"api:fed","uid":[0-9]*,"what":"case places","object":"K1","records":[0-9]*,"why":"web: контроль карты"' \
            '"who":"api:moscow","uid":[0-9]*,"what":"appeal rejected"'; do
    grep -Eq "$what" "$D/audit.log" || fail "not audited: $what"
done
expect_exit 0 "$CT" --data "$D" audit verify
# another region's case is in moscow's list (its contacts live there) but its
# movements are not: no "case places" of K3 for moscow
grep -q '"who":"api:moscow","uid":[0-9]*,"what":"case places","object":"K3"' "$D/audit.log" &&
    fail "moscow read the places of RU-SPE's case K3"
exit 0
