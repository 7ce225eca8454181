# Long fault loop (not part of `make check`): ingest, run and notify
# together, each killed with SIGKILL at random moments, ITERATIONS times,
# against a real Kannel on loopback. Each iteration starts one of them at
# random (the next feed batch, a run, a dispatch), kills it after 0-0.3 s
# (or lets it finish, if it is quicker), and requires `check` to find
# nothing wrong. At the end every batch is ingested again (duplicates are
# free), run and notify finish, and:
#   - no contact is lost: every case's scored trace and every stored
#     contact with its level (export) equal an uninterrupted run's;
#   - no SMS is lost: every number the uninterrupted run told has its
#     message (an order where it gave an order), every message is sent
#     (delivered, or its report lost with a killed listener), and every
#     number queued got its SMS;
#   - none is sent twice beyond Kannel's at-least-once: SMS received are at
#     most messages plus one per kill that landed on a dispatch.
# Intermediate runs on part of the data may queue more messages than the
# uninterrupted run (an order is never withdrawn): they must be sent too.
#   bash tests/soak/kill_all.sh build/celltrace tests ../shared [ITERATIONS]
. "$(dirname "$0")/../golden/common.bash"
. "$(dirname "$0")/../golden/kannel.bash"
ITER=${4:-1000}
kannel_available || { echo "SKIP: Kannel is not installed"; exit 77; }
BG=""
CLEANUP_EXTRA='[ -n "$BG" ] && kill -9 $BG 2>/dev/null'
CITY="$WORK/city"
"$CT" simulate --out "$CITY" --subscribers 1500 --days 3 --seed 21 --cases 4 >/dev/null 2>&1 ||
    fail "simulate"
ops=$(cd "$CITY" && ls -d */ | tr -d /)
batches=()
for op in $ops; do
    for f in "$CITY/$op"/events/*; do batches+=("$op $f"); done
done
regions=$(for op in $ops; do tail -n +2 "$CITY/$op/cells.csv" | awk -F, '{ print $NF }'; done | sort -u)

setup() { # setup DIR
    "$CT" --data "$1" init >/dev/null 2>&1 || fail "init"
    for op in $ops; do
        "$CT" --data "$1" cells import --operator "$op" "$CITY/$op/cells.csv" >/dev/null 2>&1 ||
            fail "cells"
    done
    "$CT" --data "$1" cases import "$CITY/cases.csv" >/dev/null 2>&1 || fail "cases"
    thresholds "$1"
}
thresholds() { # thresholds DIR: the same levels in both, enough SMS to kill
    "$CT" --data "$1" config set risk.quarantine 0.3 >/dev/null || fail "config"
    "$CT" --data "$1" config set risk.test 0.001 >/dev/null || fail "config"
}
ingest() { # ingest DIR OP FILE: 0 or 3 (the simulator injects bad rows)
    "$CT" --quiet --data "$1" ingest --operator "$2" "$3" >/dev/null 2>&1
    local rc=$?
    [ $rc = 0 ] || [ $rc = 3 ]
}
contacts() { # contacts DIR: every case's scored trace and every stored contact, as text
    "$CT" --data "$1" trace --all --score --format csv || return 1
    for r in $regions; do
        "$CT" --data "$1" export --region "$r" --format csv >"$WORK/x.csv" || return 1
        cut -d, -f1-7,10-12 "$WORK/x.csv" | sort
    done
}
messages() { # messages DIR: the outbox without ids and states
    "$CT" --data "$1" outbox list --format csv >"$WORK/ob.csv" || return 1
    tail -n +2 "$WORK/ob.csv" | awk -F, '{ print $3 "," $4 "," $7 }' | sort -u
}

# The uninterrupted run.
REF="$WORK/ref"
setup "$REF"
for b in "${batches[@]}"; do set -- $b; ingest "$REF" "$1" "$2" || fail "reference ingest"; done
"$CT" --data "$REF" run >/dev/null || fail "reference run"
contacts "$REF" >"$WORK/ref.contacts" || fail "reference contacts"
messages "$REF" >"$WORK/ref.messages" || fail "reference messages"

# The killed one, with SMS through Kannel.
D="$WORK/killed"
setup "$D"
kannel_start
configure_celltrace "$D"
thresholds "$D" # configure_celltrace sets its own
"$CT" --data "$D" config set sms.rate 200 >/dev/null
next=0 kills=0 notify_kills=0 tries=0
for i in $(seq 1 "$ITER"); do
    tries=$((tries + 1))
    case $((RANDOM % 3)) in
    0) if [ $next -lt ${#batches[@]} ]; then
           set -- ${batches[$next]}
           next=$((next + 1))
           what=ingest
           "$CT" --quiet --data "$D" ingest --operator "$1" "$2" >/dev/null 2>&1 &
       else
           what=run
           "$CT" --quiet --data "$D" run >/dev/null 2>&1 &
       fi ;;
    1) what=run
       "$CT" --quiet --data "$D" run >/dev/null 2>&1 & ;;
    *) what=notify
       "$CT" --quiet --data "$D" notify --once --wait 5 >/dev/null 2>&1 & ;;
    esac
    BG=$!
    sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
    if kill -9 "$BG" 2>/dev/null; then
        kills=$((kills + 1))
        [ $what = notify ] && notify_kills=$((notify_kills + 1))
    fi
    wait "$BG" 2>/dev/null
    BG=""
    "$CT" --data "$D" check >"$WORK/check.out" 2>&1 ||
        { cat "$WORK/check.out" >&2; fail "check after iteration $i ($what)"; }
done
# Finish: every batch again, a run, dispatches until nothing waits.
for b in "${batches[@]}"; do set -- $b; ingest "$D" "$1" "$2" || fail "final ingest"; done
"$CT" --data "$D" run >/dev/null || fail "final run"
for k in 1 2 3 4 5; do
    "$CT" --data "$D" notify --once --wait 30 >"$WORK/n.out" 2>&1 || fail "final notify: $(cat "$WORK/n.out")"
done
sleep 2
contacts "$D" >"$WORK/killed.contacts" || fail "contacts after the kills"
expect_same "$WORK/ref.contacts" "$WORK/killed.contacts"
messages "$D" >"$WORK/killed.messages" || fail "messages after the kills"
# A message may name another case than the uninterrupted run's (a run on
# part of the data met the number through another case first): what must
# not be lost is each number's message, an order where the uninterrupted
# run gave an order, an order or an invitation where it gave an invitation.
awk -F, 'NR == FNR { got[$1 "," $2] = 1; next }
         $2 == "new" && !got[$1 ",new"] { print }
         $2 == "test" && !got[$1 ",new"] && !got[$1 ",test"] { print }' \
    "$WORK/killed.messages" "$WORK/ref.messages" >"$WORK/lost"
[ ! -s "$WORK/lost" ] || { head "$WORK/lost" >&2; fail "$(wc -l <"$WORK/lost") messages lost"; }
other_case=$(comm -23 "$WORK/ref.messages" "$WORK/killed.messages" | wc -l)
queued=$(wc -l <"$WORK/killed.messages")
states=$(sqlite3 "$D/catalog.db" "SELECT state, count(*) FROM nt_outbox GROUP BY state" | tr '\n' ' ')
# 'sent' without a report is allowed: a report Kannel posted while no
# listener ran (notify killed) is not posted again; the SMS itself must
# have arrived (numbers reached, below).
undelivered=$(sqlite3 "$D/catalog.db" "SELECT count(*) FROM nt_outbox WHERE state NOT IN ('delivered', 'sent')")
numbers=$(cut -d, -f1 "$WORK/killed.messages" | sort -u | wc -l)
distinct=$(received | cut -f1 | sort -u | wc -l)
total=$(received | wc -l)
msgs=$(sqlite3 "$D/catalog.db" "SELECT count(*) FROM nt_outbox")
echo "iterations $ITER, kills $kills ($notify_kills of notify), batches ${#batches[@]}," \
     "messages $msgs (reference $(wc -l <"$WORK/ref.messages"), $other_case of them for another case)," \
     "numbers reached $distinct of $numbers," \
     "SMS $total, states: $states" >&2
[ "$undelivered" = 0 ] || fail "$undelivered messages neither sent nor delivered"
[ "$distinct" = "$numbers" ] || fail "only $distinct of $numbers numbers reached"
[ "$total" -le $((msgs + notify_kills)) ] || fail "$total SMS for $msgs messages and $notify_kills kills of notify"
exit 0
