# Golden test: a simulated city passes ingest with exactly the rejected
# rows the simulator meant to inject (issue 3, "the files pass ingest with
# exactly the rejected rows the simulator meant to inject").
#
# `celltrace simulate` (gzip feeds, dirty rows at 0.5 %) writes
# manifest.json with, per operator, the distinct events, the duplicate
# copies and the bad rows by kind. For every operator, `ingest` of all its
# files must exit 3 and print stored = events, duplicates = duplicates,
# rejected = the sum of bad_rows (and rows read = rows); its reject report
# must hold exactly that many rows, each kind's reason as often as the
# manifest says that kind was injected. With --dirty-rate 0 every ingest
# exits 0, rejects nothing and writes no reject report. The manifest is
# read with grep/sed/awk only, so the test needs no python or jq.
. "$(dirname "$0")/common.bash"

KINDS="bad_msisdn bad_time unknown_cell coordinates_out_of_range missing_field"

# reason_re KIND: the reject report's "column,reason" for rows of that kind
reason_re() {
    case $1 in
    bad_msisdn) echo ',msisdn,"invalid phone number' ;;
    bad_time) echo ',ts,invalid time,' ;;
    unknown_cell) echo ',cell_id,unknown cell_id for this operator,' ;;
    coordinates_out_of_range) echo ',(lat,lat|lon,lon) must be a number from ' ;;
    missing_field) echo ',(msisdn,missing msisdn|ts,missing ts|(lat|lon),"missing cell_id, or lat and lon"),' ;;
    *) fail "unknown kind $1" ;;
    esac
}

# mf MANIFEST OP KEY: the integer KEY in operator OP's object of the
# manifest (KEY may be a bad_rows kind: they sit on one line in that object)
mf() {
    local v
    v=$(awk -v op="$2" -v key="$3" '
        $0 ~ "\"id\" *: *\"" op "\"" { inop = 1; next }
        /"id" *:/ || /"totals" *:/ { inop = 0 }
        inop && match($0, "\"" key "\" *: *[0-9]+") {
            s = substr($0, RSTART, RLENGTH); sub(/.*: */, "", s); print s; exit
        }' "$1")
    [ -n "$v" ] || fail "no $3 for operator $2 in $1"
    echo "$v"
}

# field SUMMARY WHAT: the number before WHAT in an ingest summary line
field() {
    echo "$1" | sed -n "s/.* \([0-9][0-9]*\) $2.*/\1/p"
}

# city NAME DIRTY_RATE: simulates, ingests every operator, checks the counts
city() {
    local name=$1 dirty=$2
    local C="$WORK/$name" D="$WORK/$name-data" M="$WORK/$name/manifest.json"
    expect_exit 0 "$CT" simulate --out "$C" --subscribers 500 --days 3 --seed 31 --cases 3 \
        --compress gz --dirty-rate "$dirty"
    [ -f "$M" ] || fail "no manifest.json in $C"
    expect_exit 0 "$CT" --data "$D" init
    ops=$(sed -n 's/.*"id" *: *"\([^"]*\)".*/\1/p' "$M")
    [ "$(echo "$ops" | wc -w)" = 3 ] || fail "expected 3 operators in $M, got: $ops"
    local total_bad=0 k
    for k in $KINDS; do eval "inj_$k=0"; done
    for op in $ops; do
        local f nf=0
        for f in "$C/$op"/events/*; do
            case $f in *.csv.gz) nf=$((nf + 1)) ;; *) fail "$op has a feed not in .csv.gz: $f" ;; esac
        done
        [ "$nf" = "$(mf "$M" "$op" files)" ] || fail "$op: $nf feeds, the manifest says $(mf "$M" "$op" files)"
        expect_exit 0 "$CT" --data "$D" cells import --operator "$op" "$C/$op/cells.csv"
        expect_grep "$(mf "$M" "$op" cells) stored, 0 duplicates, 0 rejected" "$WORK/out"

        local events dups rows bad=0 n
        events=$(mf "$M" "$op" events)
        dups=$(mf "$M" "$op" duplicates)
        rows=$(mf "$M" "$op" rows)
        for k in $KINDS; do
            n=$(mf "$M" "$op" "$k")
            bad=$((bad + n))
            eval "inj_$k=\$((inj_$k + n))"
        done
        total_bad=$((total_bad + bad))
        if [ "$bad" -gt 0 ]; then want=3; else want=0; fi
        expect_exit "$want" "$CT" --data "$D" ingest --operator "$op" "$C/$op"/events/*
        local line
        line=$(grep "rows read" "$WORK/out") || fail "$op: no ingest summary in: $(cat "$WORK/out")"
        if ! { [ "$(field "$line" "rows read")" = "$rows" ] &&
            [ "$(field "$line" stored)" = "$events" ] &&
            [ "$(field "$line" duplicates)" = "$dups" ] &&
            [ "$(field "$line" rejected)" = "$bad" ]; }; then
            fail "$name $op: '$line', but the manifest says rows $rows, events $events, duplicates $dups, bad rows $bad"
        fi

        if [ "$bad" = 0 ]; then
            if grep -q "rejected rows are listed" "$WORK/err"; then
                fail "$name $op: a reject report without rejected rows: $(cat "$WORK/err")"
            fi
            continue
        fi
        local report
        report=$(sed -n 's/.*rejected rows are listed in //p' "$WORK/err")
        [ -f "$report" ] || fail "$name $op: no reject report ($(cat "$WORK/err"))"
        [ "$(head -1 "$report")" = "file,line,column,reason,msisdn" ] || fail "$report: bad header"
        [ "$(tail -n +2 "$report" | wc -l)" = "$bad" ] ||
            fail "$report: $(tail -n +2 "$report" | wc -l) rows, expected $bad"
        [ "$(tail -n +2 "$report" | grep -vc "^$C/$op/events/${op}_[0-9]*_[0-9a-z]*\.csv\.gz,[0-9][0-9]*,")" = 0 ] ||
            fail "$report: rows that do not name a feed of $op and a line"
        for k in $KINDS; do
            n=$(mf "$M" "$op" "$k")
            got=$(grep -cE -- "$(reason_re "$k")" "$report")
            [ "$got" = "$n" ] || fail "$report: $got rows with the reason of $k, the manifest says $n"
        done
    done
    expect_exit 0 "$CT" --data "$D" cases import "$C/cases.csv"
    expect_grep "3 stored, 0 duplicates, 0 rejected" "$WORK/out"

    if [ "$dirty" = 0 ]; then
        [ "$total_bad" = 0 ] || fail "--dirty-rate 0 still injected $total_bad bad rows"
        [ -z "$(ls -A "$D/rejects" 2>/dev/null)" ] || fail "reject reports with --dirty-rate 0: $(ls "$D/rejects")"
    else
        # every kind is exercised somewhere, else the test proves little
        for k in $KINDS; do
            eval "n=\$inj_$k"
            [ "$n" -gt 0 ] || fail "$name: no $k rows injected; raise --dirty-rate"
        done
        local reports=("$D"/rejects/*.csv)
        [ "${#reports[@]}" = 3 ] || fail "expected one reject report per operator: ${reports[*]}"
    fi
}

city dirty 0.005
city clean 0
exit 0
