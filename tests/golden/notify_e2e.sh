# Golden test: the conformance case from cases to SMS through a real Kannel
# (bearerbox + smsbox + fakesmsc on loopback ports), with delivery reports,
# idempotent re-runs, the outbox, the regional export and the report.
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/kannel.bash"
kannel_available || { echo "SKIP: Kannel is not installed (scripts/setup.sh installs it)"; exit 77; }
C="$SRC/conformance/basic"
D="$WORK/data"
expect_exit 0 "$CT" --data "$D" init
expect_exit 0 "$CT" --data "$D" cells import --operator 250-01 "$C/cells_250-01.csv"
expect_exit 0 "$CT" --data "$D" cells import --operator 250-02 "$C/cells_250-02.csv"
expect_exit 3 "$CT" --data "$D" ingest --operator 250-01 "$C/events_250-01.csv"
expect_exit 0 "$CT" --data "$D" ingest --operator 250-02 "$C/events_250-02.csv"
expect_exit 0 "$CT" --data "$D" cases import "$C/cases.csv"

kannel_start
configure_celltrace "$D"
[ "$(stat -c %a "$D/celltrace.conf")" = 600 ] || fail "celltrace.conf is not 0600"
expect_exit 0 "$CT" --data "$D" config list
if grep -q "$KANNEL_PASS" "$WORK/out"; then fail "config list shows the password"; fi

expect_exit 0 "$CT" --data "$D" run
expect_grep "1 of 1 cases traced, 4 contacts, 4 notifications queued" "$WORK/out"
expect_exit 0 "$CT" --data "$D" notify --once --wait 20
expect_grep "4 sent, 0 retried later, 4 delivered, 0 failed, 0 expired, 0 reports rejected, 0 waiting" "$WORK/out"

# Exactly the expected numbers got exactly the expected texts (the texts are
# UCS-2: Russian; dates are Moscow dates; 79990000003 at 899 s is no contact).
T1="Минздрав: вы были в контакте с заболевшим COVID-19"
T2="Горячая линия 8-800-2000-112"
cat >"$WORK/expected" <<TXT
79990000002	$T1 24.03.2020. Оставайтесь дома до 07.04.2020. $T2
79990000004	$T1 24.03.2020. Оставайтесь дома до 07.04.2020. $T2
79990000005	$T1 23.03.2020. Оставайтесь дома до 06.04.2020. $T2
79990000006	$T1 26.03.2020. Оставайтесь дома до 09.04.2020. $T2
TXT
received | sort >"$WORK/got"
expect_same "$WORK/expected" "$WORK/got"

# Delivery reports marked every message delivered.
expect_exit 0 "$CT" --data "$D" outbox list --format csv
[ "$(grep -c ',delivered,' "$WORK/out")" = 4 ] || { cat "$WORK/out" >&2; fail "not all delivered"; }
expect_exit 0 "$CT" --data "$D" outbox list --format json
expect_grep '"state":"delivered"' "$WORK/out"

# A second run and notify send nothing.
expect_exit 0 "$CT" --data "$D" run
expect_grep "0 of 1 cases traced, 0 contacts, 0 notifications queued" "$WORK/out"
expect_exit 0 "$CT" --data "$D" notify --once --wait 2
expect_grep "^0 sent" "$WORK/out"
[ "$(received | wc -l)" = 4 ] || fail "the second notify sent something"

# The regional export, the report and the audit log.
expect_exit 0 "$CT" --data "$D" --reason "e2e" export --region RU-MOW --format csv
cat >"$WORK/export_expected" <<CSV
msisdn,case_id,region,exposure_s,first_contact,last_contact,quarantine_end,notification
79990000005,K1,RU-MOW,1500,2020-03-23T12:30:00Z,2020-03-23T12:55:00Z,2020-04-06T12:55:00Z,delivered
79990000002,K1,RU-MOW,3900,2020-03-24T08:05:00Z,2020-03-24T09:20:00Z,2020-04-07T09:20:00Z,delivered
79990000004,K1,RU-MOW,2400,2020-03-24T10:00:00Z,2020-03-24T10:40:00Z,2020-04-07T10:40:00Z,delivered
79990000006,K1,RU-MOW,2400,2020-03-24T08:00:00Z,2020-03-26T00:00:00Z,2020-04-09T00:00:00Z,delivered
CSV
cut -d, -f1-8 "$WORK/out" >"$WORK/export_got"
expect_same "$WORK/export_expected" "$WORK/export_got"
expect_exit 0 "$CT" --data "$D" export --region RU-SPE --format json
[ "$(cat "$WORK/out")" = "[]" ] || fail "another region's export is not empty"
expect_exit 0 "$CT" --data "$D" report --format csv
expect_grep ",RU-MOW,1,4,4,4,0,4,0,0,0,0,0,0$" "$WORK/out"   # ..., quarantine, test, none, invitations, appeals (3)
# and the counters the report keeps agree with a recount after the SMS and their reports
expect_exit 0 "$CT" --data "$D" check
expect_exit 0 "$CT" --data "$D" report --date 2000-01-01
[ "$(wc -l <"$WORK/out")" = 1 ] || fail "report for a day without contacts is not empty"
for what in '"what":"sms"' '"what":"export"' '"what":"report"' '"what":"run"'; do
    expect_grep "$what" "$D/audit.log"
done
[ "$(grep -c '"what":"sms"' "$D/audit.log")" = 4 ] || fail "not one audit line per SMS"

# An appeal through the API, end to end: the hotline files it, the regional
# headquarters upholds it, the person gets the "lifted" SMS through Kannel,
# and a run after a re-levelling tells them nothing again.
HOT=$("$CT" --data "$D" users add hotline --role hotline 2>/dev/null | tail -n 1)
MOW=$("$CT" --data "$D" users add moscow --role regional --region RU-MOW 2>/dev/null | tail -n 1)
serve_start "$D"
api() { curl -s -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer $1" -d "$3" "$URL$2"; }
[ "$(api "$HOT" /api/v1/appeals '{"msisdn":"+79990000002","reason":"I was not there"}')" = 201 ] ||
    { cat "$WORK/body" >&2; fail "the hotline could not file the appeal"; }
id=$(grep -o '"id":[0-9]*' "$WORK/body" | cut -d: -f2)
[ "$(api "$MOW" "/api/v1/appeals/$id/decision" '{"decision":"upheld","note":"camera shows otherwise"}')" = 200 ] ||
    { cat "$WORK/body" >&2; fail "the region could not decide the appeal"; }
expect_grep '"state":"upheld","overdue":false' "$WORK/body"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || fail "serve did not stop cleanly"
SERVER_PID=
expect_exit 0 "$CT" --data "$D" notify --once --wait 20
expect_grep "^1 sent, 0 retried later, 1 delivered" "$WORK/out"
received | grep -q "^79990000002	Минздрав: по вашей апелляции самоизоляция после контакта 24.03.2020 отменена. $T2$" ||
    { received >&2; fail "the lifted SMS was not received"; }
expect_exit 0 "$CT" --data "$D" config set risk.quarantine 0.0001
expect_exit 0 "$CT" --data "$D" config set risk.test 0.00005
expect_exit 0 "$CT" --data "$D" run
expect_grep "^1 of 1 cases traced" "$WORK/out"
expect_exit 0 "$CT" --data "$D" notify --once --wait 2
[ "$(received | grep -c '^79990000002	')" = 2 ] || { received >&2; fail "the upheld contact was notified again"; }
expect_exit 0 "$CT" --data "$D" audit verify

# English, GSM-7: a new data directory, same data.
D2="$WORK/data2"
expect_exit 0 "$CT" --data "$D2" init
expect_exit 0 "$CT" --data "$D2" cells import --operator 250-01 "$C/cells_250-01.csv"
expect_exit 0 "$CT" --data "$D2" cells import --operator 250-02 "$C/cells_250-02.csv"
expect_exit 3 "$CT" --data "$D2" ingest --operator 250-01 "$C/events_250-01.csv"
expect_exit 0 "$CT" --data "$D2" ingest --operator 250-02 "$C/events_250-02.csv"
expect_exit 0 "$CT" --data "$D2" cases import "$C/cases.csv"
configure_celltrace "$D2"
expect_exit 0 "$CT" --data "$D2" config set sms.language en
expect_exit 0 "$CT" --data "$D2" run
expect_exit 0 "$CT" --data "$D2" notify --once --wait 20
expect_grep "4 sent" "$WORK/out"
received | grep -a "Ministry of Health" | grep -q "^79990000006	.*last contact 2020-03-26. Stay at home until 2020-04-09. Hotline 8-800-2000-112" ||
    { received >&2; fail "English text not received as expected"; }
exit 0
