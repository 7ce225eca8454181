# Golden test: every curl example of docs/API.md's "Endpoints" section runs,
# in the order written, against a server on the conformance case, and
# succeeds (curl -f: no HTTP error) with an answer. The documentation and
# the server cannot drift apart without this failing.
. "$(dirname "$0")/common.bash"
command -v curl >/dev/null || { echo "SKIP: curl is not installed" >&2; exit 77; }
C="$SRC/conformance/basic"
D="$WORK/data"
expect_exit 0 "$CT" --data "$D" init
expect_exit 0 "$CT" --data "$D" cells import --operator 250-01 "$C/cells_250-01.csv"
expect_exit 0 "$CT" --data "$D" cells import --operator 250-02 "$C/cells_250-02.csv"
expect_exit 3 "$CT" --data "$D" ingest --operator 250-01 "$C/events_250-01.csv"
expect_exit 0 "$CT" --data "$D" ingest --operator 250-02 "$C/events_250-02.csv"
expect_exit 0 "$CT" --data "$D" cases import "$C/cases.csv"
expect_exit 0 "$CT" --data "$D" run
token() { "$CT" --data "$D" users add "$1" --role "$2" ${3:+--region "$3"} 2>/dev/null | tail -n 1; }
export FEDERAL REGIONAL HOTLINE AUDITOR NUMBER=79990000002 URL
FEDERAL=$(token fed federal)
REGIONAL=$(token moscow regional RU-MOW)
HOTLINE=$(token hotline hotline)
AUDITOR=$(token auditor auditor)

serve_start "$D"

# The examples: the ```sh blocks between "## Endpoints" and the next "## ",
# continuation lines joined.
awk '/^## Endpoints$/ { on = 1; next } /^## / { on = 0 }
     on && /^```sh$/ { inblock = 1; next } inblock && /^```$/ { inblock = 0; next }
     on && inblock { if (sub(/\\$/, "")) { line = line $0; next } print line $0; line = "" }' \
    "$SRC/../docs/API.md" > "$WORK/examples"
n=$(wc -l < "$WORK/examples")
[ "$n" -ge 17 ] || fail "only $n examples found in docs/API.md"
i=0
while IFS= read -r example; do
    i=$((i + 1))
    bash -c "$example" > "$WORK/answer" 2> "$WORK/answer.err" ||
        { cat "$WORK/answer.err" >&2; fail "example $i failed: $example"; }
    [ -s "$WORK/answer" ] || fail "example $i answered nothing: $example"
done < "$WORK/examples"
echo "api_docs: $i examples of docs/API.md ran"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || fail "serve did not stop cleanly"
expect_exit 0 "$CT" --data "$D" audit verify
