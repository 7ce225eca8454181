# common.bash — helpers for golden command-line tests (sourced, not run).
# Each test gets: $CT (the binary), $SRC (tests/), $SHARED (shared/), and a
# fresh scratch folder $WORK removed at exit unless the test failed.
set -u
CT=$1
SRC=$2
SHARED=$3
# CT_TEST_LIGHT=1 (scripts/valgrind.sh): sweeps and loops run a sample of
# their cases, each test says how; what is run is checked as strictly.
LIGHT=${CT_TEST_LIGHT:-0}
# No process outlives a command of a test: an ingest merges its days'
# runs before it returns (deliveries.sh tests the background mode itself).
export CT_COMPACT=now
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ct-golden.XXXXXX")
FAILED=0
SERVER_PID=
# serve_stop_at_exit: a server serve_start left running goes with the test.
serve_stop_at_exit() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
    return 0
}
trap 'serve_stop_at_exit; if [ "$FAILED" = 0 ]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi' EXIT

fail() {
    echo "FAIL: $*" >&2
    FAILED=1
    exit 1
}

# expect_exit CODE CMD... : runs CMD, checks its exit status
expect_exit() {
    local want=$1
    shift
    "$@" >"$WORK/out" 2>"$WORK/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        echo "--- stdout" >&2; cat "$WORK/out" >&2
        echo "--- stderr" >&2; cat "$WORK/err" >&2
        fail "exit $got, expected $want: $*"
    fi
}

# expect_same EXPECTED ACTUAL : byte-for-byte comparison
expect_same() {
    cmp -s "$1" "$2" || { diff -u "$1" "$2" >&2; fail "$2 differs from $1"; }
}

# faulted_run OP N CMD...: runs CMD with its N-th OP (write, fsync, rename...)
# failing (CT_FAULT=OP:EIO:N, src/lib/base/fsio.c), output in $WORK/out and
# $WORK/err. Exit 1 must come with a message; any exit but 0 and 1 fails
# the test. Returns 1 when CMD failed, 0 when it succeeded anyway.
faulted_run() {
    local op=$1 n=$2 rc=0
    shift 2
    CT_FAULT=$op:EIO:$n "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    case $rc in
    0) return 0 ;;
    1) grep -q "celltrace:" "$WORK/err" || fail "$* failed without a message under $op:$n"
       return 1 ;;
    *) fail "$* under $op:$n exited $rc" ;;
    esac
}

# killed_after SECONDS CMD...: starts CMD (output dropped) and kills it
# with SIGKILL after SECONDS, whether it has finished or not.
killed_after() {
    local secs=$1 pid
    shift
    "$@" >/dev/null 2>&1 &
    pid=$!
    sleep "$secs"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    return 0
}

# expect_grep PATTERN FILE
expect_grep() {
    grep -q -- "$1" "$2" || { cat "$2" >&2; fail "'$1' not found in $2"; }
}

# city_numbers CITY: every number of a simulated city's feeds, normalised
# (digits only), one per line, sorted: for scans that no number is stored
# in clear.
city_numbers() {
    local f
    for f in "$1"/*/events/*; do
        awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "msisdn") c = i; next }
                 { v = $c; gsub(/[^0-9]/, "", v); if (length(v) >= 7) print v }' "$f"
    done | sort -u
}

# serve_start DATA [OPTIONS...]: `celltrace serve` of DATA on a free
# loopback port, stderr in $WORK/serve.err; sets SERVER_PID and URL. Fails
# the test when the server exits or does not listen within 10 s.
serve_start() {
    local data=$1 port=
    shift
    # emptied here, not by the redirection below: that runs in the child,
    # and until it does the loop could read a stopped server's port
    : >"$WORK/serve.err"
    "$CT" --data "$data" serve --listen 127.0.0.1:0 "$@" 2>>"$WORK/serve.err" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        port=$(sed -n 's/^celltrace: listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$WORK/serve.err")
        [ -n "$port" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.err" >&2; fail "serve exited"; }
        sleep 0.1
    done
    [ -n "$port" ] || fail "serve did not start"
    URL=http://127.0.0.1:$port
}

# city_answers DIR OUT: every case of $CITY/cases.csv traced, plain and
# scored, then stats without the store's size, into OUT: what two ways of
# loading one simulated city must answer alike.
city_answers() {
    local d=$1 out=$2 c
    : >"$out"
    for c in $(cut -d, -f1 "$CITY/cases.csv" | tail -n +2); do
        "$CT" --data "$d" trace "$c" --format csv >>"$out" || fail "trace $c in $d"
        "$CT" --data "$d" trace "$c" --score --format csv >>"$out" || fail "trace --score $c in $d"
    done
    expect_exit 0 "$CT" --data "$d" stats --format json
    sed 's/"store_bytes.*//' "$WORK/out" >>"$out"
}
