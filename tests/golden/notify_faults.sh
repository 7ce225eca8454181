# Golden test: faults on the way to people, with a real Kannel on loopback.
#   1. the gateway is down when notify starts, then comes up: nothing lost;
#   2. the dispatcher is killed with SIGKILL mid-batch and restarted: every
#      number gets its SMS, at most the one in flight twice;
#   3. bad and forged delivery reports are rejected and logged, and change
#      no message.
# Bounded: every wait has a limit; Kannel and notify stop at exit.
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/kannel.bash"
kannel_available || { echo "SKIP: Kannel is not installed (scripts/setup.sh installs it)"; exit 77; }
N=${CT_FAULT_CONTACTS:-30}
BG=""
CLEANUP_EXTRA='[ -n "$BG" ] && kill -9 $BG 2>/dev/null'

# A case and N phones next to it for an hour: N contacts.
make_city() {
    local dir=$1 i
    mkdir -p "$dir"
    printf 'cell_id,lat,lon,radius_m,region\nC1,55.75,37.62,100,RU-MOW\n' >"$dir/cells.csv"
    printf 'case_id,msisdn,onset\nK1,79990000001,2020-03-25T12:00:00Z\n' >"$dir/cases.csv"
    {
        echo "msisdn,ts,cell_id"
        echo "79990000001,2020-03-24T08:00:00Z,C1"
        for i in $(seq 1 "$N"); do printf '7998%07d,2020-03-24T08:00:00Z,C1\n' "$i"; done
    } >"$dir/events.csv"
}

new_data() {
    local D=$1
    expect_exit 0 "$CT" --data "$D" init
    expect_exit 0 "$CT" --data "$D" cells import --operator 250-01 "$WORK/city/cells.csv"
    expect_exit 0 "$CT" --data "$D" ingest --operator 250-01 "$WORK/city/events.csv"
    expect_exit 0 "$CT" --data "$D" cases import "$WORK/city/cases.csv"
    configure_celltrace "$D"
    expect_exit 0 "$CT" --data "$D" run
    expect_grep "$N notifications queued" "$WORK/out"
}

# wait_pid PID SECONDS: waits for a background job, kills it past the limit.
wait_pid() {
    local i
    for i in $(seq 1 $(($2 * 10))); do
        kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }
        sleep 0.1
    done
    kill -9 "$1" 2>/dev/null
    fail "process $1 still running after $2 s"
}

states() { sqlite3 "$1/catalog.db" "SELECT state, count(*) FROM nt_outbox GROUP BY state ORDER BY state" | tr '\n' ' '; }

make_city "$WORK/city"
kannel_prepare

# ---- 1. gateway down, then up ------------------------------------------------------
D1="$WORK/d1"
new_data "$D1"
"$CT" --data "$D1" notify --once --wait 40 >"$WORK/n1.out" 2>"$WORK/n1.err" &
BG=$!
# notify meets a refused connection and backs off: wait for its first
# gateway error (a fixed sleep was too short under valgrind, whose start-up
# alone can outlast it, and then nothing was ever refused)
for _ in $(seq 1 300); do
    grep -q "Couldn't connect\|Connection refused\|connect" "$WORK/n1.err" && break
    kill -0 "$BG" 2>/dev/null || break
    sleep 0.1
done
grep -q "Couldn't connect\|Connection refused\|connect" "$WORK/n1.err" ||
    fail "notify logged no gateway error while the gateway was down"
kill -0 "$BG" 2>/dev/null || fail "notify ended while the gateway was down"
kannel_start
wait_pid "$BG" 45 || fail "notify failed: $(cat "$WORK/n1.err")"
BG=""
grep -q "^$N sent, [1-9][0-9]* retried later, $N delivered" "$WORK/n1.out" ||
    { cat "$WORK/n1.out" "$WORK/n1.err" >&2; fail "down-then-up did not send and deliver all"; }
grep -q "Couldn't connect\|Connection refused\|connect" "$WORK/n1.err" || fail "no gateway error logged"
[ "$(received | cut -f1 | sort -u | wc -l)" = "$N" ] || fail "not every number received its SMS"
[ "$(received | wc -l)" = "$N" ] || fail "some number received its SMS twice"
[ "$(states "$D1")" = "delivered|$N " ] || fail "states after down-then-up: $(states "$D1")"
echo "gateway down then up: $N sent after retries, $N delivered"

# ---- 2. SIGKILL mid-batch ----------------------------------------------------------
D2="$WORK/d2"
new_data "$D2"
expect_exit 0 "$CT" --data "$D2" config set sms.rate 10
before=$(received | wc -l)
"$CT" --data "$D2" notify --once --wait 30 >"$WORK/n2.out" 2>&1 &
BG=$!
sleep 1.2
kill -9 "$BG"
wait "$BG" 2>/dev/null
BG=""
mid=$(states "$D2")
echo "killed mid-batch: $mid"
case "$mid" in *queued*) ;; *) fail "the kill came too late to test anything: $mid" ;; esac
expect_exit 0 "$CT" --data "$D2" config set sms.rate 1000
expect_exit 0 "$CT" --data "$D2" notify --once --wait 20
sleep 1
got=$(received | tail -n +$((before + 1)))
distinct=$(printf '%s\n' "$got" | cut -f1 | sort -u | wc -l)
total=$(printf '%s\n' "$got" | wc -l)
[ "$distinct" = "$N" ] || fail "after SIGKILL and restart only $distinct of $N numbers got their SMS"
[ "$total" -le $((N + 1)) ] || fail "after SIGKILL $total SMS for $N messages (more than the one in flight)"
after=$(states "$D2")
case "$after" in *queued*|*expired*|*failed*) fail "messages left behind after restart: $after" ;; esac
echo "SIGKILL mid-batch: $distinct numbers, $total SMS ($((total - N)) re-sent), states $after"

# ---- 3. bad and forged delivery reports ---------------------------------------------
# Kannel keeps retrying the delivery reports of part 2 that met no listener
# (the killed dispatcher's); they go to the port they were addressed to and
# D1's listener would count them as forged. Part 3 listens on a port of its
# own, so it counts only the reports sent here.
free_port DLR_PORT || fail "no free port"
"$CT" --data "$D1" config set sms.dlr_listen "127.0.0.1:$DLR_PORT" >/dev/null || fail "config"
"$CT" --data "$D1" outbox list --format csv >"$WORK/ob.before" || fail "outbox list"
"$CT" --data "$D1" notify --daemon --max-time 6 >"$WORK/n3.out" 2>"$WORK/n3.err" &
BG=$!
wait_port "$DLR_PORT" 5 || fail "the listener did not start"
url="http://127.0.0.1:$DLR_PORT"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
real=$(grep -ao "dlr?id=1&t=[0-9a-f]*" "$WORK/kannel/smsbox.log" | head -1)
[ -n "$real" ] || fail "no dlr-url for message 1 in the smsbox log"
[ "$(code "$url/dlr")" = 400 ] || fail "a report without parameters was not 400"
[ "$(code "$url/dlr?id=abc&t=x&s=1")" = 400 ] || fail "a malformed report was not 400"
[ "$(code "$url/dlr?id=1&t=00000000000000000000000000000000&s=1")" = 403 ] || fail "a forged token was not 403"
[ "$(code "$url/dlr?id=2&${real#dlr?id=1&}&s=2")" = 403 ] || fail "message 1's token for message 2 was not 403"
[ "$(code "$url/$real&s=2")" = 409 ] || fail "a 'failed' report for a delivered message was not 409"
[ "$(code "$url/$real&s=99")" = 400 ] || fail "an unknown status was not 400"
[ "$(code -X POST "$url/$real&s=1")" = 400 ] || fail "a POST was not 400"
[ "$(code "$url/other?id=1")" = 400 ] || fail "another path was not 400"
[ "$(code "$url/$real&s=8")" = 200 ] || fail "a genuine late intermediate report was not accepted"
wait_pid "$BG" 15
BG=""
grep -q "8 reports rejected" "$WORK/n3.out" || { cat "$WORK/n3.out" >&2; fail "rejections not counted"; }
[ "$(grep -c 'rejected delivery report' "$WORK/n3.err")" = 8 ] || fail "rejections not logged on stderr"
[ "$(sqlite3 "$D1/catalog.db" "SELECT count(*) FROM nt_dlr_log WHERE verdict<>'accepted'")" -ge 8 ] ||
    fail "rejections not logged in nt_dlr_log"
"$CT" --data "$D1" outbox list --format csv >"$WORK/ob.after" || fail "outbox list"
expect_same "$WORK/ob.before" "$WORK/ob.after"
echo "bad and forged reports: 8 rejected, logged, no message changed"
exit 0
