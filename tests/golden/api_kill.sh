# Golden test: `celltrace serve` killed (SIGKILL) at random moments while it
# decides an appeal and answers reads. After every kill nothing is half
# applied: the appeal is still pending and the invitation it concerns still
# queued, or the appeal is upheld and that invitation withdrawn; `check` is
# clean and the audit chain whole. (CT_TEST_LIGHT: 5 kills instead of 30.)
. "$(dirname "$0")/common.bash"
command -v curl >/dev/null || { echo "SKIP: curl is not installed" >&2; exit 77; }
. "$(dirname "$0")/levels.bash" # $D: case K1 (RU-MOW) with contacts A > B > C
expect_exit 0 "$CT" --data "$D" config set risk.quarantine "$(mid "$pA" "$pB")"
expect_exit 0 "$CT" --data "$D" config set risk.test "$(mid "$pB" "$pC")"
expect_exit 0 "$CT" --data "$D" run
FED=$("$CT" --data "$D" users add fed --role federal 2>/dev/null | tail -n 1)
q() { sqlite3 "$D/catalog.db" "$1"; }
KILLS=30
[ "$LIGHT" = 1 ] && KILLS=5

upheld=0 pending=0
for i in $(seq "$KILLS"); do
    # B's invitation queued again, and an appeal on it pending
    q "UPDATE nt_outbox SET state = 'queued', done_at = 0, last_error = '' WHERE kind = 'test'"
    id=$(q "SELECT id FROM nt_appeals WHERE state = 'pending'")
    if [ -z "$id" ]; then
        expect_exit 0 "$CT" --data "$D" appeals file --msisdn "$B" --reason "kill $i"
        id=$(q "SELECT max(id) FROM nt_appeals")
    fi
    serve_start "$D"
    for path in /api/v1/cases/K1/contacts /api/v1/report /api/v1/appeals; do
        curl -s -o /dev/null -m 5 -H "Authorization: Bearer $FED" "$URL$path" &
    done
    curl -s -o /dev/null -m 5 -H "Authorization: Bearer $FED" -d '{"decision":"upheld"}' \
        "$URL/api/v1/appeals/$id/decision" &
    sleep "0.0$(( RANDOM % 40 ))"
    kill -9 "$SERVER_PID"
    wait 2>/dev/null
    SERVER_PID=
    state=$(q "SELECT state FROM nt_appeals WHERE id = $id")
    msg=$(q "SELECT state || '|' || last_error FROM nt_outbox WHERE kind = 'test'")
    case "$state|$msg" in
        "pending|queued|") pending=$((pending + 1)) ;;
        "upheld|expired|withdrawn: appeal upheld") upheld=$((upheld + 1)) ;;
        *) fail "kill $i left appeal $id $state with the invitation $msg" ;;
    esac
    expect_exit 0 "$CT" --data "$D" check
    expect_exit 0 "$CT" --data "$D" audit verify
done
echo "api_kill: $KILLS kills: $upheld appeals upheld whole, $pending still pending, none half applied"
[ $((upheld + pending)) = "$KILLS" ] || fail "not every kill was checked"
