# Long fault loop (not part of `make check`): kills the dispatcher with
# SIGKILL at random moments ROUNDS times, restarting it each time, then
# checks that every number got its SMS and that no more SMS went out than
# messages plus one per kill (the one in flight).
#   bash tests/soak/notify_kill_loop.sh build/celltrace tests ../shared [ROUNDS] [CONTACTS]
. "$(dirname "$0")/../golden/common.bash"
. "$(dirname "$0")/../golden/kannel.bash"
ROUNDS=${4:-20}
N=${5:-200}
kannel_available || { echo "SKIP: Kannel is not installed"; exit 77; }
BG=""
CLEANUP_EXTRA='[ -n "$BG" ] && kill -9 $BG 2>/dev/null'
mkdir -p "$WORK/city"
printf 'cell_id,lat,lon,radius_m,region\nC1,55.75,37.62,100,RU-MOW\n' >"$WORK/city/cells.csv"
printf 'case_id,msisdn,onset\nK1,79990000001,2020-03-25T12:00:00Z\n' >"$WORK/city/cases.csv"
{ echo "msisdn,ts,cell_id"; echo "79990000001,2020-03-24T08:00:00Z,C1"
  for i in $(seq 1 "$N"); do printf '7998%07d,2020-03-24T08:00:00Z,C1\n' "$i"; done; } >"$WORK/city/events.csv"
D="$WORK/d"
"$CT" --data "$D" init >/dev/null 2>&1
"$CT" --data "$D" cells import --operator 250-01 "$WORK/city/cells.csv" >/dev/null 2>&1
"$CT" --data "$D" ingest --operator 250-01 "$WORK/city/events.csv" >/dev/null 2>&1
"$CT" --data "$D" cases import "$WORK/city/cases.csv" >/dev/null 2>&1
kannel_start
configure_celltrace "$D"
"$CT" --data "$D" config set sms.rate 100 >/dev/null
"$CT" --data "$D" run || fail "run"
kills=0
for r in $(seq 1 "$ROUNDS"); do
    "$CT" --data "$D" notify --once --wait 30 >/dev/null 2>&1 &
    BG=$!
    sleep "0.$((RANDOM % 9 + 1))"
    if kill -9 "$BG" 2>/dev/null; then kills=$((kills + 1)); fi
    wait "$BG" 2>/dev/null
    BG=""
done
"$CT" --data "$D" notify --once --wait 30 || fail "final notify"
sleep 2
distinct=$(received | cut -f1 | sort -u | wc -l)
total=$(received | wc -l)
states=$(sqlite3 "$D/catalog.db" "SELECT state, count(*) FROM nt_outbox GROUP BY state" | tr '\n' ' ')
echo "rounds $ROUNDS, kills $kills, messages $N, numbers reached $distinct, SMS $total ($((total - N)) duplicates), states: $states"
[ "$distinct" = "$N" ] || fail "only $distinct of $N numbers reached"
[ "$total" -le $((N + kills)) ] || fail "$total SMS for $N messages and $kills kills"
exit 0
