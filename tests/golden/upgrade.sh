# Golden test: a store written in segment version 2 (before 2026-12-02;
# tests/fixtures/v2-store, made by that build) is read as it is, and
# `celltrace upgrade` rewrites it in version 3 (docs/FORMAT.md), atomically
# day by day, with the same answers throughout:
# - read as version 2 (through a version 3 copy made in memory), the
#   traces plain and scored are exactly the ones the old build printed;
# - an upgrade failed at each of its writes, fsyncs and renames, or killed
#   at a random moment, leaves every day old or new, `check` clean and the
#   answers the same; the next upgrade finishes the job;
# - an upgraded store is version 3 only, smaller, answers the same, and
#   keeps its data version: a `run` after the upgrade traces nothing.
. "$(dirname "$0")/common.bash"
FX="$SRC/fixtures/v2-store"

# fresh_copy DIR: the fixture as git holds it (no empty folders, no modes)
fresh_copy() {
    rm -rf "$1"
    cp -r "$FX/data" "$1"
    chmod -R go= "$1"
    chmod 600 "$1"/keys/* "$1"/catalog.db "$1"/subscribers.dat
    mkdir -p "$1/staging" "$1/store/merging"
}

answers() { # answers DIR NAME: plain and scored traces of every case
    "$CT" --quiet --data "$1" trace --all --format csv >"$WORK/$2.plain" 2>"$WORK/$2.err" ||
        fail "trace --all on $1 failed: $(cat "$WORK/$2.err")"
    "$CT" --quiet --data "$1" trace --all --score --format csv >"$WORK/$2.scored" 2>"$WORK/$2.err" ||
        fail "trace --all --score on $1 failed: $(cat "$WORK/$2.err")"
    expect_same "$FX/expected_trace.csv" "$WORK/$2.plain"
    expect_same "$FX/expected_scored.csv" "$WORK/$2.scored"
}

versions() { # versions DIR: the magic of every day file, counted
    for f in "$1"/store/*.seg; do head -c 8 "$f" | tr -d '\n'; echo; done | sort | uniq -c | tr -s ' '
}

clean_check() { # clean_check DIR WHAT
    expect_exit 0 "$CT" --data "$1" check
    grep -q "PROBLEM" "$WORK/out" && fail "check after $2: $(cat "$WORK/out")"
    return 0
}

D="$WORK/v2"
fresh_copy "$D"
[ "$(versions "$D")" = " 6 CTSEG02" ] || fail "the fixture is not six version 2 files: $(versions "$D")"
clean_check "$D" "nothing"
answers "$D" v2
bytes_before=$(cat "$D"/store/*.seg | wc -c)

# Failed at each write, fsync and rename of the upgrade.
failed=0
for op in write fsync rename; do
    for n in 1 2 3 5 8; do
        F="$WORK/fault"
        fresh_copy "$F"
        faulted_run $op $n "$CT" --data "$F" upgrade || failed=$((failed + 1))
        clean_check "$F" "upgrade under $op:$n"
        answers "$F" fault
        expect_exit 0 "$CT" --data "$F" upgrade
        [ "$(versions "$F")" = " 3 CTSEG03" ] || fail "upgrade after $op:$n left $(versions "$F")"
    done
done
[ $failed -ge 5 ] || fail "only $failed injected faults made upgrade fail"

# Killed at a random moment.
for i in 1 2 3 4 5 6; do
    K="$WORK/kill"
    fresh_copy "$K"
    killed_after "0.0$((i * 7))" "$CT" --data "$K" upgrade
    clean_check "$K" "a killed upgrade"
    answers "$K" kill
done

# The whole upgrade: the runs of two days merged, the third day's one file
# rewritten; the same answers, fewer bytes, and nothing new for `run`.
R="$WORK/run"
fresh_copy "$R"
expect_exit 0 "$CT" --data "$R" run
expect_grep "^3 of 3 cases traced" "$WORK/out"
expect_exit 0 "$CT" --data "$R" upgrade --format json
expect_grep '"days":3,"runs":6,"events":15042,"days_left":0,"days_old":0' "$WORK/out"
[ "$(versions "$R")" = " 3 CTSEG03" ] || fail "upgrade left $(versions "$R")"
clean_check "$R" "upgrade"
answers "$R" upgraded
bytes_after=$(cat "$R"/store/*.seg | wc -c)
[ "$bytes_after" -lt $((bytes_before * 3 / 4)) ] ||
    fail "version 3 is not smaller: $bytes_after bytes against $bytes_before"
expect_exit 0 "$CT" --data "$R" run
expect_grep "^0 of 3 cases traced" "$WORK/out"
expect_exit 0 "$CT" --data "$R" upgrade
expect_grep "^upgrade: 0 days rewritten" "$WORK/out"
echo "ok: v2 read as it was, upgraded under faults and kills, $bytes_before -> $bytes_after bytes"
