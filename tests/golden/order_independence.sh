# Golden test: results never depend on how feeds were split, ordered,
# repeated or batched, nor on whether ingest spilled to disk (SPEC 3.2).
# A small simulated city is ingested three ways and every case traced.
. "$(dirname "$0")/common.bash"
CITY="$WORK/city"
expect_exit 0 "$CT" simulate --out "$CITY" --subscribers 1500 --days 3 --seed 11 --cases 4 --compress zst
ops=$(cd "$CITY" && ls -d */ | tr -d /)

ingest() { # ingest ARGS...: exit 0 or 3 (the simulator injects bad rows)
    "$CT" --quiet "$@" >/dev/null 2>"$WORK/ingest.err"
    local rc=$?
    [ $rc = 0 ] || [ $rc = 3 ] || { cat "$WORK/ingest.err" >&2; fail "ingest exit $rc: $*"; }
}

load() { # load DIR MODE
    local d=$1 mode=$2
    expect_exit 0 "$CT" --data "$d" init
    for op in $ops; do
        expect_exit 0 "$CT" --data "$d" cells import --operator "$op" "$CITY/$op/cells.csv"
    done
    for op in $ops; do
        case $mode in
        together) ingest --data "$d" ingest --operator "$op" "$CITY/$op"/events/* ;;
        reversed) # one file per command, newest first, every file twice
            for f in $(ls -r "$CITY/$op"/events/*); do
                ingest --data "$d" ingest --operator "$op" "$f"
                ingest --data "$d" ingest --operator "$op" "$f"
            done ;;
        spilled) CT_INGEST_MEM_MB=1 ingest --data "$d" ingest --operator "$op" "$CITY/$op"/events/* ;;
        esac
    done
    expect_exit 0 "$CT" --data "$d" cases import "$CITY/cases.csv"
}

for mode in together reversed spilled; do
    load "$WORK/$mode" $mode
    : >"$WORK/$mode.out"
    for c in $(cut -d, -f1 "$CITY/cases.csv" | tail -n +2); do
        "$CT" --data "$WORK/$mode" trace "$c" --format csv >>"$WORK/$mode.out" || fail "trace $c ($mode)"
        "$CT" --data "$WORK/$mode" trace "$c" --format csv --distance 100 --max-presence 600 \
            >>"$WORK/$mode.out" || fail "trace $c with options ($mode)"
    done
    expect_exit 0 "$CT" --data "$WORK/$mode" stats --format json
    sed 's/"store_bytes.*//' "$WORK/out" >>"$WORK/$mode.out"
done
[ "$(wc -l <"$WORK/together.out")" -gt 20 ] || fail "too few contacts to compare"
expect_same "$WORK/together.out" "$WORK/reversed.out"
expect_same "$WORK/together.out" "$WORK/spilled.out"
exit 0
