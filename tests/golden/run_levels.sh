# Golden test: `run` with levels (docs/NOTIFY.md), no gateway needed.
#   1. thresholds between the scores of three contacts put one at each
#      level: an order for quarantine, an invitation for test, nothing for
#      none; all three are stored and exported with their level;
#   2. a second run traces and queues nothing;
#   3. a lower quarantine threshold re-levels at the next run and moves
#      the test contact up: it gets its order;
#   4. higher thresholds move contacts down: nothing is queued and nothing
#      withdrawn; thresholds that cross fail the run and change nothing;
#   5. a second case after the quarantine: a new order and a new
#      invitation (English), the re-levelled first case queues nothing.
. "$(dirname "$0")/common.bash"
# The model's own scores decide the thresholds: halfway between A and B
# for quarantine, between B and C for test. (Never equal to a score, so
# the test does not depend on how "at or above" meets a rounded value.)
. "$(dirname "$0")/levels.bash"
Q1=$(mid "$pA" "$pB") T1=$(mid "$pB" "$pC")
expect_exit 0 "$CT" --data "$D" config set risk.quarantine "$Q1"
expect_exit 0 "$CT" --data "$D" config set risk.test "$T1"
expect_exit 0 "$CT" --data "$D" config get risk.test
[ "$(cat "$WORK/out")" = "$T1" ] || fail "config get risk.test: $(cat "$WORK/out")"

# export_levels: "msisdn,case_id,notification,level" per exported row.
export_levels() {
    expect_exit 0 "$CT" --data "$D" --reason levels export --region RU-MOW --format csv "$@"
    head -1 "$WORK/out" | grep -q ',updated_at,p_contact,expected_near_s,level$' ||
        { cat "$WORK/out" >&2; fail "export header"; }
    awk -F, 'NR > 1 { print $1 "," $2 "," $8 "," $12 }' "$WORK/out" | sort
}
# outbox_rows: "msisdn,kind,key prefix" per message, in queueing order.
outbox_rows() {
    expect_exit 0 "$CT" --data "$D" outbox list --format csv
    awk -F, 'NR > 1 { print $3 "," $4 "," substr($2, 1, 2) }' "$WORK/out"
}

# ---- 1. one contact at each level ------------------------------------------------
expect_exit 0 "$CT" --data "$D" run
expect_grep "^1 of 1 cases traced, 3 contacts, 1 notifications queued, 0 extensions queued, 1 test invitations queued; levels: 1 quarantine, 1 test, 1 none$" "$WORK/out"
export_levels >"$WORK/got"
printf '%s\n' "$A,K1,queued,quarantine" "$B,K1,queued,test" "$C,K1,none,none" >"$WORK/want"
expect_same "$WORK/want" "$WORK/got"
# p_contact as scored (4 significant digits), and the JSON form.
expect_exit 0 "$CT" --data "$D" export --region RU-MOW --format csv
expect_grep "^$B,K1,RU-MOW,.*,$pB,[0-9.]*,test$" "$WORK/out"
expect_exit 0 "$CT" --data "$D" export --region RU-MOW --format json
expect_grep "\"msisdn\":\"$C\",.*\"p_contact\":$pC,\"expected_near_s\":[0-9.]*,\"level\":\"none\"}" "$WORK/out"
# --level keeps that level and above.
export_levels --level test >"$WORK/got"
printf '%s\n' "$A,K1,queued,quarantine" "$B,K1,queued,test" >"$WORK/want"
expect_same "$WORK/want" "$WORK/got"
export_levels --level quarantine >"$WORK/got"
echo "$A,K1,queued,quarantine" >"$WORK/want"
expect_same "$WORK/want" "$WORK/got"
expect_exit 2 "$CT" --data "$D" export --region RU-MOW --level none
expect_exit 2 "$CT" --data "$D" export --region RU-MOW --level high
# SMS only for quarantine and test, each with its own text; none for C.
outbox_rows >"$WORK/got"
printf '%s\n' "$A,new,q-" "$B,test,t-" >"$WORK/want"
expect_same "$WORK/want" "$WORK/got"
expect_exit 0 "$CT" --data "$D" outbox list --format csv
expect_grep "^1,q-[0-9]*-[0-9]*,$A,new,queued,.*,Минздрав: вы были в контакте с заболевшим COVID-19 24.03.2020. Оставайтесь дома до 07.04.2020. Горячая линия 8-800-2000-112$" "$WORK/out"
expect_grep "^2,t-[0-9]*-[0-9]*,$B,test,queued,.*,Минздрав: вы могли быть рядом с заболевшим COVID-19 24.03.2020. Сдайте тест: горячая линия 8-800-2000-112. До результата будьте дома$" "$WORK/out"
if grep -q "$C" "$WORK/out"; then fail "a contact at level none got a message"; fi
# The report counts the levels (then appeals: none yet)
expect_exit 0 "$CT" --data "$D" report --format csv
expect_grep "^day,region,cases,contacts,notified,delivered,failed,quarantine,test,none,invitations,appeals,appeals_pending,appeals_overdue$" "$WORK/out"
expect_grep ",RU-MOW,1,3,0,0,0,1,1,1,1,0,0,0$" "$WORK/out"

# ---- 2. again: nothing ----------------------------------------------------------------
expect_exit 0 "$CT" --data "$D" run
expect_grep "^0 of 1 cases traced, 0 contacts, 0 notifications queued, 0 extensions queued, 0 test invitations queued" "$WORK/out"
outbox_rows >"$WORK/got"
printf '%s\n' "$A,new,q-" "$B,test,t-" >"$WORK/want"
expect_same "$WORK/want" "$WORK/got"

# ---- 3. a lower quarantine threshold: B moves up and gets its order ---------------------
expect_exit 0 "$CT" --data "$D" config set risk.quarantine "$T1"
expect_exit 0 "$CT" --data "$D" run
expect_grep "^1 of 1 cases traced, 3 contacts, 1 notifications queued, 0 extensions queued, 0 test invitations queued; levels: 2 quarantine, 0 test, 1 none$" "$WORK/out"
export_levels >"$WORK/got"
printf '%s\n' "$A,K1,queued,quarantine" "$B,K1,queued,quarantine" "$C,K1,none,none" >"$WORK/want"
expect_same "$WORK/want" "$WORK/got"
outbox_rows >"$WORK/got"
printf '%s\n' "$A,new,q-" "$B,test,t-" "$B,new,q-" >"$WORK/want"
expect_same "$WORK/want" "$WORK/got"
expect_exit 0 "$CT" --data "$D" outbox list --format csv
expect_grep "^3,q-[0-9]*-[0-9]*,$B,new,queued,.*Оставайтесь дома до 07.04.2020" "$WORK/out"

# ---- 4. levels go down: nothing queued, nothing withdrawn --------------------------------
# A test threshold above the quarantine one is refused by config set, and
# (edited in by hand) at the run.
expect_exit 2 "$CT" --data "$D" config set risk.test 1
expect_grep "must not be above risk.quarantine" "$WORK/err"
cp "$D/celltrace.conf" "$WORK/conf.bak"
echo "risk.test = 1" >>"$D/celltrace.conf"
expect_exit 1 "$CT" --data "$D" run
expect_grep "test threshold .* is above the quarantine threshold" "$WORK/err"
cp "$WORK/conf.bak" "$D/celltrace.conf"
export_levels >"$WORK/got"
printf '%s\n' "$A,K1,queued,quarantine" "$B,K1,queued,quarantine" "$C,K1,none,none" >"$WORK/want"
expect_same "$WORK/want" "$WORK/got"
expect_exit 0 "$CT" --data "$D" config set risk.quarantine 1
expect_exit 0 "$CT" --data "$D" config set risk.test 1
expect_exit 0 "$CT" --data "$D" run
expect_grep "^1 of 1 cases traced, 3 contacts, 0 notifications queued, 0 extensions queued, 0 test invitations queued" "$WORK/out"
export_levels >"$WORK/all"
grep -v "^$A," "$WORK/all" >"$WORK/got"   # A stays at quarantine only if its p is 1
printf '%s\n' "$B,K1,queued,none" "$C,K1,none,none" >"$WORK/want"
expect_same "$WORK/want" "$WORK/got"
outbox_rows >"$WORK/got"
printf '%s\n' "$A,new,q-" "$B,test,t-" "$B,new,q-" >"$WORK/want"
expect_same "$WORK/want" "$WORK/got"
expect_exit 0 "$CT" --data "$D" outbox list --state queued --format csv
[ "$(tail -n +2 "$WORK/out" | wc -l)" = 3 ] || fail "a message was withdrawn"

# ---- 5. a second case 16 days later, in English --------------------------------------------
expect_exit 0 "$CT" --data "$D" config set risk.test "$T1"
expect_exit 0 "$CT" --data "$D" config set risk.quarantine "$Q1"
expect_exit 0 "$CT" --data "$D" config set sms.language en
expect_exit 0 "$CT" --data "$D" cases add --case-id K2 --msisdn 79990000201 --onset 2020-04-10T12:00:00Z --region RU-MOW
expect_exit 0 "$CT" --data "$D" run
# K1 is re-levelled (its contacts are covered by their messages), K2 is new.
expect_grep "^2 of 2 cases traced, 6 contacts, 1 notifications queued, 0 extensions queued, 1 test invitations queued; levels: 2 quarantine, 2 test, 2 none$" "$WORK/out"
export_levels >"$WORK/got"
printf '%s\n' "$A,K1,queued,quarantine" "$A,K2,queued,quarantine" "$B,K1,queued,test" \
    "$B,K2,queued,test" "$C,K1,none,none" "$C,K2,none,none" >"$WORK/want"
expect_same "$WORK/want" "$WORK/got"
outbox_rows >"$WORK/got"
printf '%s\n' "$A,new,q-" "$B,test,t-" "$B,new,q-" "$A,new,q-" "$B,test,t-" >"$WORK/want"
expect_same "$WORK/want" "$WORK/got"
expect_exit 0 "$CT" --data "$D" outbox list --format csv
expect_grep "^4,q-[0-9]*-[0-9]*,$A,new,queued,0,K2,RU-MOW,.*,\"Ministry of Health: you were in contact with a COVID-19 case, last contact 2020-04-09. Stay at home until 2020-04-23. Hotline 8-800-2000-112\"$" "$WORK/out"
expect_grep "^5,t-[0-9]*-[0-9]*,$B,test,queued,0,K2,RU-MOW,.*,Ministry of Health: you may have been near a COVID-19 case on 2020-04-09. Get tested: call the hotline 8-800-2000-112. Stay at home until the result.$" "$WORK/out"
expect_exit 0 "$CT" --data "$D" run
expect_grep "^0 of 2 cases traced, 0 contacts, 0 notifications queued, 0 extensions queued, 0 test invitations queued" "$WORK/out"
exit 0
