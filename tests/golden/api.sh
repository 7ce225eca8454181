# Golden test: the HTTP API (docs/API.md) on a running `celltrace serve`.
#   1. the authorization matrix of docs/API.md, read from the document:
#      every role x object x endpoint x method gets the status it says;
#   2. tokens: expired, revoked, malformed, unknown, another scheme: 401;
#   3. mass assignment and bad bodies refused; body and nesting limits;
#   4. regions: a regional user sees only their region's contacts;
#      numbers masked unless reveal=true; every read audited with the user;
#   5. 96 requests at once all answered, one audit chain from 4 threads;
#   6. metrics count it all;
#   7. SIGTERM stops the server cleanly; the rate limit answers 429 with
#      Retry-After;
#   8. HTTPS with --tls-cert/--tls-key; the audit chain is whole.
. "$(dirname "$0")/common.bash"
command -v curl >/dev/null || { echo "SKIP: curl is not installed" >&2; exit 77; }
. "$(dirname "$0")/levels.bash" # $D: case K1 (RU-MOW) with contacts A, B, C
# thresholds between the model's scores: A quarantine, B test, C none
expect_exit 0 "$CT" --data "$D" config set risk.quarantine "$(mid "$pA" "$pB")"
expect_exit 0 "$CT" --data "$D" config set risk.test "$(mid "$pB" "$pC")"
expect_exit 0 "$CT" --data "$D" run
expect_exit 0 "$CT" --data "$D" cases add --case-id K2 --msisdn +79990000201 --onset 2020-03-10 --region RU-SPE

# small audit files, so the audit listing crosses rotated ones
expect_exit 0 "$CT" --data "$D" config set audit.rotate_kb 2
audit_all() { cat $(ls "$D"/audit-*.log 2>/dev/null) "$D/audit.log"; }
token() { # token NAME ROLE [REGION]
    expect_exit 0 "$CT" --data "$D" users add "$1" --role "$2" ${3:+--region "$3"}
    tail -n 1 "$WORK/out"
}
FED=$(token fed federal)
OWN=$(token moscow regional RU-MOW)
OTHER=$(token petersburg regional RU-SPE)
HOT=$(token hotline1 hotline)
AUD=$(token auditor1 auditor)
case "$FED" in ctk_???????????????????????????????????????????) ;; *) fail "token shape: $FED" ;; esac
# only hashes at rest
grep -c "$FED" "$D/catalog.db" >/dev/null 2>&1 && fail "a token is stored in clear"
expect_exit 0 "$CT" --data "$D" users list --format json
expect_grep '"name":"moscow","role":"regional","region":"RU-MOW"' "$WORK/out"
# bad users
expect_exit 2 "$CT" --data "$D" users add x --role regional
expect_exit 2 "$CT" --data "$D" users add x --role regional --region Moscow
expect_exit 2 "$CT" --data "$D" users add x --role auditor --region RU-MOW
expect_exit 2 "$CT" --data "$D" users add 'a b' --role auditor
expect_exit 2 "$CT" --data "$D" users add x --role root
expect_exit 1 "$CT" --data "$D" users add fed --role federal
expect_grep "exists already" "$WORK/err"

serve_start "$D" --rate 1000 --burst 1000

# status METHOD PATH TOKEN [BODY]: prints the HTTP status; the body is in $WORK/body.
status() {
    local args=(-s -o "$WORK/body" -w '%{http_code}' -X "$1")
    [ -n "$3" ] && args+=(-H "Authorization: Bearer $3")
    [ -n "${4:-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
    curl "${args[@]}" "$URL$2"
}

# pending_appeal: the id of a pending appeal on contact C, filed when there is none.
pending_appeal() {
    "$CT" --data "$D" appeals list --state pending --format json 2>/dev/null |
        grep -o '"id":[0-9]*,"case_id":"K1","msisdn":"'"$C"'"' | head -1 | grep -o '[0-9]*' | head -1 |
        grep . || "$CT" --data "$D" appeals file --msisdn "$C" --case K1 --reason "matrix" |
        sed 's/^appeal \([0-9]*\) .*/\1/'
}

# ---- 1. the matrix --------------------------------------------------------------------
sed -n '/^<!-- matrix -->$/,/^<!-- end matrix -->$/p' "$SRC/../docs/API.md" |
    grep '^| [A-Z]' | grep -v '^| method' > "$WORK/matrix"
[ "$(wc -l < "$WORK/matrix")" -ge 15 ] || fail "the matrix of docs/API.md was not found"
cells=0 posts=0
while IFS='|' read -r _ method path fed own other hot aud none _; do
    method=$(echo $method) path=$(echo $path)
    path=${path//\/A\//\/$A\/}
    case "$path" in */A) path=${path%/A}/$A ;; esac
    i=0
    for who in FED OWN OTHER HOT AUD NONE; do
        i=$((i + 1))
        want=$(echo "$fed|$own|$other|$hot|$aud|$none" | cut -d'|' -f$i | tr -d ' ')
        tok=""
        [ "$who" != NONE ] && tok=${!who}
        body="" cell_path=$path
        if [ "$method" = POST ] && [ "$path" = /api/v1/cases ]; then
            posts=$((posts + 1))
            body="{\"case_id\":\"P$posts\",\"msisdn\":\"+7999100$(printf %04d $posts)\",\"onset\":\"2020-03-12\",\"region\":\"RU-MOW\"}"
        elif [ "$method" = POST ] && [ "$path" = /api/v1/appeals ]; then
            target=$C
            [ "$who" = FED ] && target=$A
            [ "$who" = HOT ] && target=$B
            body="{\"msisdn\":\"$target\",\"reason\":\"not me\"}"
        elif [ "$method" = POST ] && [ "$path" = /api/v1/runs ]; then
            body='{}'
        elif [ "$method" = POST ]; then
            body='{"decision":"rejected","note":"the evidence holds"}'
        fi
        case "$path" in *'{appeal}'*) cell_path=${path//\{appeal\}/$(pending_appeal)} ;; esac
        got=$(status "$method" "$cell_path" "$tok" "$body")
        [ "$got" = "$want" ] || { cat "$WORK/body" >&2; fail "$method $path as $who: $got, the matrix says $want"; }
        cells=$((cells + 1))
    done
done < "$WORK/matrix"
echo "matrix: $cells cells as documented"

# the run the matrix started ends, with run's summary; it was audited as the user
for _ in $(seq 100); do
    status GET /api/v1/runs/1 "$FED" >/dev/null
    grep -q '"state":"running"' "$WORK/body" || break
    sleep 0.1
done
expect_grep '"id":1,"state":"done","started_by":"api:fed"' "$WORK/body"
expect_grep '"summary":{"cases_total":3,"cases_traced":2,' "$WORK/body" # K2 and P1 are new
audit_all | grep -q '"who":"api:fed".*"what":"run"' || fail "the API's run is not audited as its user"
[ "$(status POST /api/v1/runs "$FED" '{"cases":["K1"]}')" = 400 ] || fail "a run took a field"

# ---- 2. tokens ----------------------------------------------------------------------------
OLD=$(token old federal)
sqlite3 "$D/catalog.db" "UPDATE api_users SET expires = 1 WHERE name = 'old'"
[ "$(status GET /api/v1/cases "$OLD")" = 401 ] || fail "an expired token works"
expect_grep '"error":"a valid bearer token is required"' "$WORK/body" # not why: that tells too much
GONE=$(token gone federal)
[ "$(status GET /api/v1/cases "$GONE")" = 200 ] || fail "a new token does not work"
expect_exit 0 "$CT" --data "$D" users revoke gone
[ "$(status GET /api/v1/cases "$GONE")" = 401 ] || fail "a revoked token works"
expect_exit 1 "$CT" --data "$D" users revoke gone
last=${FED: -1} other=A
[ "$last" = A ] && other=B # a changed last character, whatever it was
for bad in "x" "ctk_short" "${FED%?}$other" "${FED}A" "ctk_$(echo "${FED#ctk_}" | tr a-zA-Z A-Za-z)" "$GONE"; do
    [ "$(status GET /api/v1/cases "$bad")" = 401 ] || fail "token '$bad' works"
    [ "$(cat "$WORK/body")" = '{"status":401,"error":"a valid bearer token is required"}' ] ||
        fail "401 says more than that for '$bad': $(cat "$WORK/body")"
done
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Basic $FED" "$URL/api/v1/cases")" = 401 ] ||
    fail "a Basic credential works"
curl -s -D "$WORK/headers" -o /dev/null "$URL/api/v1/cases"
grep -qi '^WWW-Authenticate: Bearer' "$WORK/headers" || fail "401 without WWW-Authenticate"

# ---- 3. bodies --------------------------------------------------------------------------------
[ "$(status POST /api/v1/cases "$FED" '{"case_id":"M1","msisdn":"+79991000001","onset":"2020-03-12","level":"quarantine"}')" = 400 ] ||
    fail "mass assignment accepted"
expect_grep 'field \\"level\\" cannot be set' "$WORK/body"
[ "$(status POST /api/v1/cases "$FED" '{"case_id":"M1","msisdn":"+79991000001","onset":"2020-03-12","region":"Moscow"}')" = 400 ] ||
    fail "a bad region accepted"
[ "$(status POST /api/v1/cases "$FED" '[1,2]')" = 400 ] || fail "an array accepted"
[ "$(status POST /api/v1/cases "$FED" '{"case_id":"M1",')" = 400 ] || fail "broken JSON accepted"
[ "$(status POST /api/v1/cases "$FED" '{"case_id":1,"msisdn":"+79991000001","onset":"2020-03-12"}')" = 400 ] ||
    fail "a number for a string accepted"
deep=$(printf '{"a":%.0s' $(seq 20))1$(printf '}%.0s' $(seq 20))
[ "$(status POST /api/v1/cases "$FED" "$deep")" = 400 ] || fail "deep nesting accepted"
expect_grep "nested deeper than 16" "$WORK/body"
big=$(head -c 70000 /dev/zero | tr '\0' 'x')
[ "$(status POST /api/v1/cases "$FED" "{\"case_id\":\"$big\"}")" = 413 ] || fail "a body past the limit accepted"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $FED" -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' 'y')" "$URL/api/v1/cases")" = 431 ] ||
    fail "a header past the limit accepted"
# another writer (an ingest) holds the data directory: 503 at once, no wait
flock "$D/lock" sleep 3 &
locker=$!
sleep 0.3
t0=$(date +%s%N)
[ "$(status POST /api/v1/cases "$FED" '{"case_id":"W1","msisdn":"+79991000777","onset":"2020-03-12"}')" = 503 ] ||
    fail "a registration during another writer's work did not answer 503"
[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 2000 ] || fail "the 503 waited for the writer"
wait "$locker"
[ "$(status POST /api/v1/cases "$FED" '{"case_id":"P1","msisdn":"+79990000999","onset":"2020-03-12"}')" = 409 ] ||
    fail "a case id registered with other values accepted"
expect_exit 0 "$CT" --data "$D" cases list --format csv
expect_grep "^P1,79991000001," "$WORK/out"

# ---- 4. regions, masking, audit ---------------------------------------------------------------
[ "$(status GET /api/v1/cases/K1/contacts "$OWN")" = 200 ] || fail "contacts"
expect_grep '"total":3' "$WORK/body"
expect_grep '"msisdn":"7999\*\*\*0102"' "$WORK/body"
grep -q "$A" "$WORK/body" && fail "a number revealed without reveal=true"
[ "$(status GET "/api/v1/cases/K1/contacts?level=quarantine&reveal=true" "$OWN")" = 200 ] || fail "contacts revealed"
levels=$(grep -o '"level":"[a-z]*"' "$WORK/body" | sort -u)
[ "$levels" = '"level":"quarantine"' ] || fail "level=quarantine returned $levels"
[ "$(status GET "/api/v1/cases/K1/contacts?per_page=2&page=2" "$FED")" = 200 ] || fail "page 2"
[ "$(grep -o '"msisdn"' "$WORK/body" | wc -l)" = 1 ] || fail "page 2 of 3 by 2 has not one contact"
for q in "page=0" "per_page=1001" "level=high" "reveal=yes"; do
    [ "$(status GET "/api/v1/cases/K1/contacts?$q" "$FED")" = 400 ] || fail "?$q accepted"
done
[ "$(status GET "/api/v1/cases/K1/contacts/$A/evidence?reveal=true" "$OWN")" = 200 ] || fail "evidence"
expect_grep "\"msisdn\":\"$A\"" "$WORK/body"
expect_grep '"messages":\[{"kind":"new","state":"queued","created":"[0-9T:Z-]*","sent_at":null,"done_at":null}\]' "$WORK/body"
# the hotline files an appeal and learns nothing of the case or evidence
b_appeal=$(sqlite3 "$D/catalog.db" "SELECT id FROM nt_appeals WHERE state = 'pending' AND filed_by = 'api:hotline1'")
expect_exit 0 "$CT" --data "$D" appeals decide "$b_appeal" --reject
[ "$(status POST /api/v1/appeals "$HOT" "{\"msisdn\":\"$B\",\"reason\":\"not me\"}")" = 201 ] || fail "hotline appeal"
grep -q '"case_id"\|"evidence"\|"region"\|K1' "$WORK/body" && fail "the hotline's appeal answer shows the case: $(cat "$WORK/body")"
expect_grep '^{"id":[0-9]*,"state":"pending","filed_at":"[^"]*","deadline":"[^"]*"}$' "$WORK/body"
# the hotline's view of one caller: their messages, nothing of the case
[ "$(status GET "/api/v1/status/+$A" "$HOT")" = 200 ] || fail "status"
expect_grep '"msisdn":"7999\*\*\*0102","messages":\[{"kind":"new","state":"queued"' "$WORK/body"
grep -q '"case_id"\|K1\|p_contact' "$WORK/body" && fail "the hotline learns about the case"
audit_all | grep -q '"who":"api:hotline1".*"what":"api status"' || fail "status not audited"
# the regional export: the user's region, masked unless revealed, audited
[ "$(status GET "/api/v1/export?level=test" "$OWN")" = 200 ] || fail "export"
expect_grep '"region":"RU-MOW","contacts":\[{"msisdn":"7999\*\*\*010[23]","case_id":"K1"' "$WORK/body"
[ "$(grep -o '"msisdn"' "$WORK/body" | wc -l)" = 2 ] || fail "export level=test is not A and B"
[ "$(status GET "/api/v1/export?region=RU-MOW&reveal=true&since=2020-01-01" "$FED")" = 200 ] || fail "export as federal"
expect_grep "\"msisdn\":\"$A\"" "$WORK/body"
audit_all | grep -q '"who":"api:moscow".*"what":"export","object":"RU-MOW","records":2,' || fail "export not audited"
[ "$(status GET "/api/v1/export?region=RU-MOW&since=yesterday" "$FED")" = 400 ] || fail "a bad since accepted"
# the case's own number: for its region and federal only
[ "$(status GET "/api/v1/cases?reveal=true" "$OTHER")" = 200 ] || fail "cases as other"
expect_grep '"case_id":"K2","msisdn":"79990000201"' "$WORK/body"
grep -q '"case_id":"K1"' "$WORK/body" && fail "another region's case listed"
# report rows of the user's region only
[ "$(status GET /api/v1/report "$OTHER")" = 200 ] || fail "report"
grep -q 'RU-MOW' "$WORK/body" && fail "another region's report rows"
[ "$(status GET /api/v1/report "$OWN")" = 200 ] || fail "report"
expect_grep '"region":"RU-MOW"' "$WORK/body"
[ "$(status GET "/api/v1/report?day=yesterday" "$OWN")" = 400 ] || fail "a bad day accepted"
# audited with the user, the object and the count, and no number in the log
audit_all | grep -q '"who":"api:moscow","uid":[0-9]*,"what":"api contacts","object":"K1","records":3,' ||
    fail "contacts read not audited"
audit_all | grep -q '"who":"api:moscow","uid":[0-9]*,"what":"api evidence --reveal","object":"K1","records":1,' ||
    fail "evidence read not audited"
audit_all | grep -q '"who":"api:fed","uid":[0-9]*,"what":"api cases add","object":"P1"' ||
    fail "case registration not audited"
curl -s -o /dev/null -H "Authorization: Bearer $OWN" -H "X-Reason: call about appeal 7" "$URL/api/v1/cases/K1"
audit_all | grep -q '"who":"api:moscow".*"what":"api case","object":"K1","records":1,"why":"call about appeal 7"' ||
    fail "X-Reason not audited"
# a reason that is not UTF-8, and a long Cyrillic one cut by the record's
# size: both records still parse, so the auditor's views list them
long=$(printf 'причина%.0s' $(seq 60))
curl -s -o /dev/null -H "Authorization: Bearer $OWN" -H $'X-Reason: bad \xff\xfe bytes' "$URL/api/v1/cases/K1"
curl -s -o /dev/null -H "Authorization: Bearer $OWN" -H "X-Reason: $long" "$URL/api/v1/cases/K1"
last=$(tail -n 1 "$D/audit.log" | sed 's/.*"seq":\([0-9]*\),.*/\1/')
[ "$(status GET "/api/v1/audit?since=$((last - 2))" "$AUD")" = 200 ] || fail "audit list"
expect_grep '"why":"bad ?? bytes"' "$WORK/body"
expect_grep '"why":"причинапричина' "$WORK/body"
[ "$(grep -o '"seq":[0-9]' "$WORK/body" | wc -l)" = 2 ] || fail "a record with an odd reason is missing from the listing"
audit_all | grep -q "$A\|79990000201" && fail "a number in the audit log"
[ "$(status GET "/api/v1/audit?since=1&limit=2" "$AUD")" = 200 ] || fail "audit list"
expect_grep '"records":\[{"time"' "$WORK/body"
[ "$(grep -o '"seq"' "$WORK/body" | wc -l)" = 2 ] || fail "limit=2 did not give 2 records"
expect_grep '"seq":2,' "$WORK/body"
ls "$D"/audit-*.log > /dev/null 2>&1 || fail "the audit log did not rotate"
mid=$(( $(tail -n 1 "$D/audit.log" | sed 's/.*"seq":\([0-9]*\),.*/\1/') - 30 ))
[ "$(status GET "/api/v1/audit?since=$mid&limit=3" "$AUD")" = 200 ] || fail "audit list across files"
[ "$(grep -o '"seq":[0-9]*' "$WORK/body" | tr '\n' ' ')" = "\"seq\":$((mid + 1)) \"seq\":$((mid + 2)) \"seq\":$((mid + 3)) " ] ||
    fail "the listing after $mid is not the next three records: $(grep -o '"seq":[0-9]*' "$WORK/body" | tr '\n' ' ')"
[ "$(status GET /api/v1/audit/verify "$AUD")" = 200 ] || fail "audit verify"
expect_grep '"ok":true' "$WORK/body"

# ---- 5. many at once (the worker pool and the shared handle; ThreadSanitizer runs this) ----
pids=()
for i in $(seq 24); do
    for path in "/api/v1/cases/K1/contacts?reveal=true" "/api/v1/cases" "/api/v1/report" \
                "/api/v1/cases/K1/contacts/$A/evidence"; do
        curl -s -m 60 -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $OWN" "$URL$path" \
            >> "$WORK/parallel" &
        pids+=($!)
    done
done
wait "${pids[@]}" # not the server's
[ "$(sort -u "$WORK/parallel")" = 200 ] || { sort "$WORK/parallel" | uniq -c >&2; fail "parallel requests failed"; }
[ "$(wc -l < "$WORK/parallel")" = 96 ] || fail "not 96 answers"
expect_exit 0 "$CT" --data "$D" audit verify # 72 audited reads from 4 threads, one chain

# ---- 6. metrics ----------------------------------------------------------------------------------
curl -s "$URL/metrics" > "$WORK/metrics"
expect_grep '^celltrace_http_requests_total{route="/api/v1/cases/{}/contacts",code="200"} [0-9]' "$WORK/metrics"
expect_grep '^celltrace_http_requests_total{route="/api/v1/cases",code="401"} [0-9]' "$WORK/metrics"
expect_grep '^celltrace_http_request_seconds_bucket{route="/api/v1/cases",le="+Inf"} [0-9]' "$WORK/metrics"
expect_grep '^celltrace_outbox_queued 2$' "$WORK/metrics"
pending=$(sqlite3 "$D/catalog.db" "SELECT count(*) FROM nt_appeals WHERE state = 'pending'")
[ "$pending" -ge 1 ] || fail "no pending appeal to count"
expect_grep "^celltrace_appeals_pending $pending\$" "$WORK/metrics"
expect_grep '^celltrace_appeals_overdue 0$' "$WORK/metrics"

# ---- 7. SIGTERM, then the rate limit on a second server --------------------------------------------
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || fail "serve did not exit 0 on SIGTERM"
expect_grep "celltrace: stopped" "$WORK/serve.err"
serve_start "$D" --rate 0.5 --burst 2
[ "$(status GET /api/v1/cases "$FED")" = 200 ] || fail "first request"
[ "$(status GET /api/v1/cases "$FED")" = 200 ] || fail "second request"
curl -s -D "$WORK/headers" -o /dev/null -H "Authorization: Bearer $FED" "$URL/api/v1/cases"
head -1 "$WORK/headers" | grep -q ' 429' || fail "no 429 past the burst"
grep -qi '^Retry-After: [0-9]' "$WORK/headers" || fail "429 without Retry-After"
[ "$(status GET /api/v1/cases "$OWN")" = 200 ] || fail "one user's limit stopped another"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || fail "serve did not exit 0 on SIGTERM"
# ---- 8. HTTPS: the same API behind --tls-cert and --tls-key ---------------------------------
command -v openssl >/dev/null || { echo "SKIP: openssl is not installed (scripts/setup.sh installs it)" >&2; exit 77; }
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 || fail "openssl"
serve_start "$D" --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
URL=${URL/http:/https:}
[ "$(curl -s --cacert "$WORK/cert.pem" -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer $OWN" "$URL/api/v1/cases/K1")" = 200 ] ||
    fail "HTTPS with the certificate"
expect_grep '"case_id":"K1"' "$WORK/body"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http${URL#https}/healthz")" != 200 ] || fail "plain HTTP on the HTTPS port"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || fail "serve did not exit 0 on SIGTERM"
expect_exit 2 "$CT" --data "$D" serve --tls-cert "$WORK/cert.pem"
expect_exit 1 "$CT" --data "$D" serve --listen 127.0.0.1:0 --tls-cert "$WORK/nothing.pem" --tls-key "$WORK/key.pem"

expect_exit 0 "$CT" --data "$D" audit verify
expect_exit 0 "$CT" --data "$D" check
expect_exit 0 "$CT" serve --help
expect_exit 0 "$CT" users --help
expect_exit 2 "$CT" --data "$D" serve --listen nowhere
expect_exit 2 "$CT" --data "$D" serve --tls-cert x
expect_exit 2 "$CT" --data "$D" serve --listen 10.1.2.3.4:80
echo "api: ok"
