# Golden test: appeals (docs/API.md), from the command line.
#   1. an appeal is filed against the contact the latest message was
#      about, once: a second one while it is pending, or one for a number
#      without a contact, is refused;
#   2. upheld after the invitation went out: an SMS says it is lifted, and
#      a run after a re-levelling that would order that contact into
#      quarantine orders nothing (without the appeal it would: see
#      run_levels.sh step 3);
#   3. upheld before the order went out: the queued order is withdrawn
#      and no "lifted" SMS is sent; a later contact of the same person is
#      a new exposure and gets a first order, not an extension;
#   4. rejected: nothing else changes; decided twice: refused;
#   5. past its deadline an appeal is overdue; every change is audited.
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/levels.bash" # $D: case K1 (RU-MOW) with contacts A > B > C
expect_exit 0 "$CT" --data "$D" config set risk.quarantine "$(mid "$pA" "$pB")"
expect_exit 0 "$CT" --data "$D" config set risk.test "$(mid "$pB" "$pC")"
expect_exit 0 "$CT" --data "$D" config set sms.language en
expect_exit 0 "$CT" --data "$D" run
expect_grep "1 notifications queued, 0 extensions queued, 1 test invitations queued" "$WORK/out"
outbox() { # outbox: "msisdn,kind,state" per message
    expect_exit 0 "$CT" --data "$D" outbox list --format csv
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
             { print $col["msisdn"] "," $col["kind"] "," $col["state"] }' "$WORK/out"
}
q() { sqlite3 "$D/catalog.db" "$1"; }

# ---- 1. filing ----------------------------------------------------------------------------
expect_exit 0 "$CT" --data "$D" appeals file --msisdn "+$B" --reason "I was at home"
expect_grep "^appeal 1 filed against case K1 (region RU-MOW), due " "$WORK/out"
expect_exit 1 "$CT" --data "$D" appeals file --msisdn "$B" --reason "again"
expect_grep "appeal 1 on this contact is pending already" "$WORK/err"
expect_exit 1 "$CT" --data "$D" appeals file --msisdn 79990009999 --reason "who?"
expect_grep "has no contact to appeal" "$WORK/err"
expect_exit 1 "$CT" --data "$D" appeals file --msisdn "$C" --reason "no message was sent to C"
expect_exit 2 "$CT" --data "$D" appeals file --msisdn "$B"
expect_exit 2 "$CT" --data "$D" appeals decide 1
expect_exit 2 "$CT" --data "$D" appeals decide 1 --uphold --reject
expect_exit 2 "$CT" --data "$D" appeals list --state open
expect_exit 0 "$CT" --data "$D" appeals list --format json
expect_grep "\"id\":1,\"case_id\":\"K1\",\"msisdn\":\"$B\",\"region\":\"RU-MOW\",\"state\":\"pending\",\"overdue\":false" "$WORK/out"
expect_grep '"level":"test",' "$WORK/out"

# ---- 2. upheld after the invitation went out -----------------------------------------------
q "UPDATE nt_outbox SET state = 'delivered', sent_at = strftime('%s', 'now'), done_at = strftime('%s', 'now') WHERE kind = 'test'"
expect_exit 0 "$CT" --data "$D" --reason "appeal desk" appeals decide 1 --uphold --note "she was at home"
expect_grep "^appeal 1 upheld$" "$WORK/out"
outbox > "$WORK/got"
expect_grep "^$B,lifted,queued$" "$WORK/got"
[ "$(q "SELECT text FROM nt_outbox WHERE kind = 'lifted'")" != "" ] || fail "no text"
q "SELECT text FROM nt_outbox WHERE kind = 'lifted'" | grep -q "your appeal is upheld" || fail "lifted text"
expect_exit 1 "$CT" --data "$D" appeals decide 1 --reject
expect_grep "appeal 1 was upheld already" "$WORK/err"
# A re-levelling puts B at quarantine: without the appeal B would get an order.
expect_exit 0 "$CT" --data "$D" config set risk.quarantine "$(mid "$pB" "$pC")"
expect_exit 0 "$CT" --data "$D" run
expect_grep "levels: 2 quarantine, 0 test, 1 none" "$WORK/out"
outbox > "$WORK/got"
grep -q "^$B,new," "$WORK/got" && { cat "$WORK/got" >&2; fail "the upheld contact was ordered into quarantine"; }

# ---- 3. upheld before the order went out --------------------------------------------------
expect_exit 0 "$CT" --data "$D" appeals file --msisdn "$A" --reason "wrong person"
expect_grep "^appeal 2 filed" "$WORK/out"
expect_exit 0 "$CT" --data "$D" appeals decide 2 --uphold
outbox > "$WORK/got"
expect_grep "^$A,new,expired$" "$WORK/got"
grep -q "^$A,lifted" "$WORK/got" && fail "a lifted SMS for an order that never went out"
[ "$(q "SELECT last_error FROM nt_outbox WHERE kind = 'new'")" = "withdrawn: appeal upheld" ] ||
    fail "the withdrawn order does not say why"

# A later contact is a new exposure: A gets a first order again, not an
# "extension" of the order the appeal lifted (nor nothing, when it falls
# within the lifted order's days).
{
    echo "msisdn,ts,cell_id,lat,lon,accuracy_m"
    for t in 08:00 08:15 08:30 08:45 09:00; do
        echo "79990000101,2020-03-26T$t:00Z,,55.7500,37.6200,5"
        echo "$A,2020-03-26T$t:00Z,,55.7500,37.6200,5"
    done
} > "$WORK/later.csv"
expect_exit 0 "$CT" --data "$D" ingest --operator 250-01 "$WORK/later.csv"
expect_exit 0 "$CT" --data "$D" run
outbox > "$WORK/got"
expect_grep "^$A,new,queued$" "$WORK/got"
grep -q "^$A,extension" "$WORK/got" && fail "a lifted order was extended"
[ "$(q "SELECT count(*) FROM nt_outbox WHERE kind = 'new' AND subscriber = (SELECT subscriber FROM nt_appeals WHERE id = 2)")" = 2 ] ||
    fail "A has not one withdrawn and one new order"

# ---- 4. rejected ----------------------------------------------------------------------------
expect_exit 0 "$CT" --data "$D" appeals file --msisdn "$C" --case K1 --reason "never there"
expect_exit 0 "$CT" --data "$D" appeals decide 3 --reject --note "three hours at one table"
expect_grep "^appeal 3 rejected$" "$WORK/out"
before=$(outbox | md5sum)
expect_exit 0 "$CT" --data "$D" run
[ "$(outbox | md5sum)" = "$before" ] || fail "a rejected appeal changed the outbox"

# ---- 5. deadlines and the audit ------------------------------------------------------------
expect_exit 0 "$CT" --data "$D" appeals file --msisdn "$C" --case K1 --reason "again, later"
q "UPDATE nt_appeals SET deadline = filed_at - 1 WHERE id = 4"
expect_exit 0 "$CT" --data "$D" appeals list --state pending --format json
expect_grep '"id":4,.*"state":"pending","overdue":true' "$WORK/out"
expect_exit 0 "$CT" --data "$D" appeals list
expect_grep "^4  *K1 .* pending  *[0-9T:Z-]*  *yes  *again, later$" "$WORK/out"
# the report flags it: appeals filed today 4, pending 1, overdue 1; named on stderr
expect_exit 0 "$CT" --data "$D" report --format csv
expect_grep "^[0-9-]*,RU-MOW,1,3,[0-9,]*,4,1,1$" "$WORK/out"
expect_grep "1 appeal past the deadline" "$WORK/err"
# and its counters agree with a recount of the contacts and messages
expect_exit 0 "$CT" --data "$D" check
expect_exit 0 "$CT" --data "$D" appeals list --region RU-SPE --format json
[ "$(cat "$WORK/out")" = "[]" ] || fail "another region's appeals listed"
for what in "appeal file" "appeal upheld" "appeal rejected" "appeals list"; do
    expect_grep "\"what\":\"$what\"" "$D/audit.log"
done
grep -q '"what":"appeal upheld","object":"1","records":1,"why":"appeal desk"' "$D/audit.log" ||
    fail "the decision is not audited with the decider's --reason"
# the appellant's and the decider's own words stay out of the log auditors read
grep -q "I was at home\|she was at home" "$D/audit.log" && fail "free text of an appeal in the audit log"
expect_exit 0 "$CT" --data "$D" audit verify
# ---- 6. oversight: this week's numbers, no personal data -----------------------------------
expect_exit 0 "$CT" --data "$D" oversight --format json
expect_grep '"region":"RU-MOW","cases":0,"contacts":3,"quarantine":2,"test":0,"none":1,"sms_sent":1,"sms_delivered":1,"appeals_filed":4,"appeals_decided":3,"appeals_decided_in_time":3,"appeals_upheld":2,"upheld_share":0.6667,"appeals_overdue":1}' "$WORK/out"
expect_grep '"reads":\[{"who":"[^"]*","reads":[0-9]*,"records":[0-9]*}' "$WORK/out"
expect_grep '"retention":{"purges":0,"events_deleted":0}' "$WORK/out"
grep -q "$A\|$B\|$C" "$WORK/out" && fail "a number in the oversight numbers"
expect_exit 0 "$CT" --data "$D" oversight
expect_grep "^RU-MOW  *0  *3  *2  *0  *1  *1  *1  *4  *3  *3  *2  *67%  *1$" "$WORK/out"
# the case's onset week (2020-03-24 is in 2020-W13), and weeks that do not exist
expect_exit 0 "$CT" --data "$D" oversight --week 2020-W13 --format json
expect_grep '"week":"2020-W13","from":"2020-03-22T21:00:00Z","to":"2020-03-29T21:00:00Z"' "$WORK/out"
expect_grep '"region":"RU-MOW","cases":1,"contacts":0' "$WORK/out"
expect_exit 0 "$CT" --data "$D" oversight --week 2020-W53
for bad in 2021-W53 2020-W00 2020W13 2020-13 2020-W1; do
    expect_exit 2 "$CT" --data "$D" oversight --week "$bad"
done
expect_exit 0 "$CT" --data "$D" config set appeals.deadline_hours 24
expect_exit 2 "$CT" --data "$D" config set appeals.deadline_hours 0
expect_exit 0 "$CT" appeals --help
echo "appeals: ok"
