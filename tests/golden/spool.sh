# Golden test: `ingest --spool DIR`, an operator's drop folder (issue 15,
# part 4). Each file is one delivery, committed on its own in name order,
# then removed; answers equal one ingest of all files.
#   1. --once over a city's files: same traces and stats as one ingest,
#      one summary line per file, the folder emptied; files being written
#      (.NAME, NAME.part, NAME.tmp) and folders are left alone; a file
#      that cannot be read goes to failed/ with its reason, and the rest
#      is still stored; retention removes what was set aside, after the
#      retention period;
#   2. a file delivered again (as after a crash between its commit and
#      its removal) stores nothing: every row is a duplicate; a claimed
#      file a crash left is taken first, and a new file of the same name
#      is a delivery of its own;
#   3. a running spool: a file renamed in is taken; a file written in
#      place waits until it has settled; the writer lock is free while the
#      spool waits; SIGTERM ends it, also while it waits for another writer;
#   4. SIGKILL at random moments, then started again: check stays clean and
#      the answers equal one ingest;
#   5. usage: no FILE with --spool, no --rejects, --once needs --spool, an
#      operator without cells or a missing folder fails before any file.
# Bounded: every wait has a limit; the spool is killed at exit.
. "$(dirname "$0")/common.bash"
CITY="$WORK/city"
expect_exit 0 "$CT" simulate --out "$CITY" --subscribers 1200 --days 3 --seed 23 --cases 4
ops=$(cd "$CITY" && ls -d */ | tr -d /)
first_op=$(echo $ops | cut -d' ' -f1)
BG=""
trap 'serve_stop_at_exit; [ -n "$BG" ] && kill -9 $BG 2>/dev/null; if [ "$FAILED" = 0 ]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi' EXIT

new_data() { # new_data DIR: init and every operator's cells
    expect_exit 0 "$CT" --data "$1" init
    for op in $ops; do
        expect_exit 0 "$CT" --data "$1" cells import --operator "$op" "$CITY/$op/cells.csv"
    done
}

answers() { # answers DIR OUT: the city's cases registered, then city_answers
    expect_exit 0 "$CT" --data "$1" cases import "$CITY/cases.csv"
    city_answers "$@"
}

# ---- 1. --once over the city ------------------------------------------------------
new_data "$WORK/together"
for op in $ops; do # exit 3: the simulator injects bad rows
    "$CT" --quiet --data "$WORK/together" ingest --compact now --operator "$op" "$CITY/$op"/events/* \
        >/dev/null 2>"$WORK/ingest.err"
    rc=$?
    [ $rc = 0 ] || [ $rc = 3 ] || { cat "$WORK/ingest.err" >&2; fail "ingest exit $rc"; }
done
answers "$WORK/together" "$WORK/together.out"
[ "$(wc -l <"$WORK/together.out")" -gt 40 ] || fail "too few contacts to compare"

new_data "$WORK/spooled"
files=0
for op in $ops; do
    mkdir -p "$WORK/spool/$op"
    cp "$CITY/$op"/events/* "$WORK/spool/$op/"
    files=$((files + $(ls "$CITY/$op"/events | wc -l)))
done
# what a spool leaves alone, and one file that cannot be read
S1="$WORK/spool/$first_op"
cp "$CITY/$first_op/cells.csv" "$S1/.hidden.csv"
cp "$CITY/$first_op/cells.csv" "$S1/next.csv.part"
cp "$CITY/$first_op/cells.csv" "$S1/next.csv.tmp"
mkdir "$S1/archive"
printf 'not gzip at all' >"$S1/broken.csv.gz"
for op in $ops; do
    "$CT" --quiet --data "$WORK/spooled" ingest --compact off --operator "$op" \
        --spool "$WORK/spool/$op" --once --settle 0 --format json >>"$WORK/spool.json" 2>>"$WORK/spool.err"
    rc=$?
    if [ "$op" = "$first_op" ]; then
        [ $rc = 1 ] || fail "a spool with a file set aside exited $rc, not 1"
    else
        [ $rc = 0 ] || [ $rc = 3 ] || { cat "$WORK/spool.err" >&2; fail "spool of $op exited $rc"; }
    fi
done
[ "$(grep -c '"file":' "$WORK/spool.json")" = "$files" ] ||
    fail "$(grep -c '"file":' "$WORK/spool.json") delivery lines for $files files"
[ "$(grep -c '"deliveries":' "$WORK/spool.json")" = "$(echo $ops | wc -w)" ] || fail "no closing line per spool"
for op in $ops; do
    left=$(ls -A "$WORK/spool/$op" | grep -v '^failed$\|^archive$\|^\.hidden\.csv$\|^next\.csv\.part$\|^next\.csv\.tmp$\|^\.taking$' || true)
    [ -z "$left" ] || fail "$op's spool still holds $left"
    [ -z "$(ls -A "$WORK/spool/$op/.taking")" ] || fail "$op's claim folder still holds files"
done
for f in .hidden.csv next.csv.part next.csv.tmp archive; do
    [ -e "$S1/$f" ] || fail "the spool took $f"
done
[ -f "$S1/failed/broken.csv.gz" ] || fail "the broken file was not set aside"
[ -s "$S1/failed/broken.csv.gz.error" ] || fail "no reason was written beside the broken file"
grep -q "broken.csv.gz" "$WORK/spool.err" || fail "the broken file's failure was not reported"
# one commit a file: the days hold several runs (--compact off)
[ "$(awk '$1 == "day" {print $2}' "$WORK/spooled/store/MANIFEST" | sort | uniq -d | wc -l)" -gt 0 ] ||
    fail "the spool's files were not delivered one at a time"
answers "$WORK/spooled" "$WORK/spooled.out"
expect_same "$WORK/together.out" "$WORK/spooled.out"
expect_exit 0 "$CT" --data "$WORK/spooled" check
grep -q "PROBLEM" "$WORK/out" && fail "check finds problems after the spool: $(cat "$WORK/out")"
echo "spool --once: $files deliveries, answers equal one ingest, broken file set aside"

# Retention reaches failed/: a file set aside (numbers in clear) goes with
# its note once set aside longer ago than --retention-days (default 21),
# by its note's time; `never` keeps it, and a fresh one stays.
touch -d '30 days ago' "$S1/failed/broken.csv.gz.error"
expect_exit 0 "$CT" --data "$WORK/spooled" ingest --operator "$first_op" --spool "$S1" --once \
    --settle 0 --retention-days never
[ -f "$S1/failed/broken.csv.gz" ] || fail "retention never removed a file set aside"
printf 'not gzip either' >"$S1/broken2.csv.gz"
expect_exit 1 "$CT" --data "$WORK/spooled" ingest --operator "$first_op" --spool "$S1" --once --settle 0
[ ! -e "$S1/failed/broken.csv.gz" ] || fail "a file set aside 30 days ago outlived retention"
[ ! -e "$S1/failed/broken.csv.gz.error" ] || fail "retention left the note of a file it removed"
grep -q "failed/broken.csv.gz: removed, set aside more than 21 days ago" "$WORK/err" ||
    fail "retention did not say what it removed: $(cat "$WORK/err")"
[ -f "$S1/failed/broken2.csv.gz" ] && [ -f "$S1/failed/broken2.csv.gz.error" ] ||
    fail "retention removed a file set aside just now"
touch -d '10 days ago' "$S1/failed/broken2.csv.gz.error"
expect_exit 0 "$CT" --data "$WORK/spooled" ingest --operator "$first_op" --spool "$S1" --once \
    --settle 0 --retention-days 12
[ -f "$S1/failed/broken2.csv.gz" ] || fail "--retention-days 12 removed a file set aside 10 days ago"
expect_exit 0 "$CT" --data "$WORK/spooled" ingest --operator "$first_op" --spool "$S1" --once \
    --settle 0 --retention-days 9
[ ! -e "$S1/failed/broken2.csv.gz" ] || fail "--retention-days 9 kept a file set aside 10 days ago"
# a delivery named like a note is set aside under a name of its own: the
# note of a later X must not overwrite X.error, nor retention date it by
# its own (the operator's) time
printf 'first broken' >"$S1/x.csv.error"
touch -d '40 days ago' "$S1/x.csv.error"
expect_exit 1 "$CT" --data "$WORK/spooled" ingest --operator "$first_op" --spool "$S1" --once --settle 0
printf 'second broken' >"$S1/x.csv"
expect_exit 1 "$CT" --data "$WORK/spooled" ingest --operator "$first_op" --spool "$S1" --once --settle 0
grep -q "second broken" "$S1/failed/x.csv" || fail "x.csv was not set aside as itself"
grep -l "first broken" "$S1"/failed/* >/dev/null 2>&1 || fail "a note overwrote the delivery x.csv.error"
[ "$(ls "$S1/failed" | wc -l)" = 4 ] || fail "not two files and two notes in failed/: $(ls "$S1/failed")"
# a failed/ that is not the spool's own (the operator made it, or renamed
# the spool's away) is not used (as root: one chowned to nobody)
if [ "$(id -u)" = 0 ]; then
    chown nobody "$S1/failed"
    printf 'third broken' >"$S1/y.csv.gz"
    expect_exit 1 "$CT" --data "$WORK/spooled" ingest --operator "$first_op" --spool "$S1" --once --settle 0
    grep -q "failed is not this user's folder" "$WORK/err" || fail "a failed/ of another user was used"
    [ -e "$S1/.taking/y.csv.gz" ] || fail "the file was not left claimed when failed/ was refused"
    chown root "$S1/failed"
    expect_exit 1 "$CT" --data "$WORK/spooled" ingest --operator "$first_op" --spool "$S1" --once --settle 0
    [ -f "$S1/failed/y.csv.gz" ] || fail "the claimed file was not set aside once failed/ was the spool's"
else
    echo "not root: the owner check of failed/ is not tested here"
fi
echo "retention: files set aside go with their notes after the period; never keeps them"

# ---- 2. a file delivered again ------------------------------------------------------
again=$(ls "$CITY/$first_op"/events | head -2 | tail -1)
cp "$CITY/$first_op/events/$again" "$S1/$again"
rm -rf "$S1/failed"
"$CT" --quiet --data "$WORK/spooled" ingest --compact off --operator "$first_op" --spool "$S1" \
    --once --settle 0 --format json >"$WORK/again.json" 2>/dev/null
grep -q "\"file\":\"$again\".*\"stored\":0" "$WORK/again.json" ||
    fail "a file delivered again stored events: $(cat "$WORK/again.json")"
grep -q '"duplicates":[1-9]' "$WORK/again.json" || fail "a file delivered again counted no duplicates"
[ ! -e "$S1/$again" ] || fail "a file delivered again was not removed"
echo "delivered again: nothing stored, every row a duplicate"

# A file is claimed (moved into DIR/.taking/) before it is read: a claimed
# file a crash left is taken first, under its own name, and a new file of
# the same name sent meanwhile is a delivery of its own, not removed unread.
new_data "$WORK/claims"
C="$WORK/claim-spool"
mkdir -p "$C/.taking"
chmod 700 "$C/.taking"
fa=$(ls "$CITY/$first_op"/events | head -1)
fb=$(ls "$CITY/$first_op"/events | head -3 | tail -1)
cp "$CITY/$first_op/events/$fa" "$C/.taking/$fa"
cp "$CITY/$first_op/events/$fb" "$C/$fa"
"$CT" --quiet --data "$WORK/claims" ingest --compact off --operator "$first_op" --spool "$C" \
    --once --settle 0 --format json >"$WORK/claims.json" 2>"$WORK/claims.err"
rc=$?
[ $rc = 0 ] || [ $rc = 3 ] || { cat "$WORK/claims.err" >&2; fail "the claims' spool exited $rc"; }
[ "$(grep -c "\"file\":\"$fa\"" "$WORK/claims.json")" = 2 ] ||
    fail "the claimed file and the new one of the same name are not two deliveries: $(cat "$WORK/claims.json")"
[ -z "$(ls -A "$C" | grep -v '^\.taking$')" ] || fail "the claims' spool still holds $(ls -A "$C")"
[ -z "$(ls -A "$C/.taking")" ] || fail "the claim folder still holds $(ls -A "$C/.taking")"
# the leftover first: the first delivery read fa's rows, the second fb's
rows_a=$(($(wc -l <"$CITY/$first_op/events/$fa") - 1))
rows_b=$(($(wc -l <"$CITY/$first_op/events/$fb") - 1))
[ "$rows_a" != "$rows_b" ] || fail "the two files of the claims test have as many rows"
grep -o '"rows_read":[0-9]*' "$WORK/claims.json" | head -2 | cut -d: -f2 | tr '\n' ' ' >"$WORK/claims.rows"
[ "$(cat "$WORK/claims.rows")" = "$rows_a $rows_b " ] ||
    fail "not the claimed file first: rows read $(cat "$WORK/claims.rows"), expected $rows_a $rows_b"
stored=$(grep -o '"stored":[0-9]*' "$WORK/claims.json" | awk -F: '{ s += $2 } END { print s }')
expect_exit 0 "$CT" --data "$WORK/claims" stats --format json
grep -q "\"events\":$stored[,}]" "$WORK/out" || fail "stored $stored, but stats says: $(cat "$WORK/out")"
# the reject report keeps the delivery's name
if grep -q '"rejected":[1-9]' "$WORK/claims.json"; then
    grep -o '"rejects":"[^"]*"' "$WORK/claims.json" | grep -v -- "-${fa%.csv}[-.]" &&
        fail "a reject report is not named after its delivery"
fi
# a claim folder made by another, or open to others, is refused
chmod 755 "$C/.taking"
expect_exit 1 "$CT" --data "$WORK/claims" ingest --operator "$first_op" --spool "$C" --once --settle 0
grep -q "not this user's own folder" "$WORK/err" || fail "a claim folder open to others was used"
chmod 700 "$C/.taking"
echo "claims: a crash's claimed file taken first; a new file of the same name taken too"

# A store that fails (every fsync EIO) stops the spool: the file is not set
# aside as unreadable, it waits claimed and is taken when the store is well.
cp "$CITY/$first_op/events/$fb" "$C/late-$fb"
CT_FAULT=fsync:EIO:1:forever "$CT" --quiet --data "$WORK/claims" ingest --compact off \
    --operator "$first_op" --spool "$C" --once --settle 0 >"$WORK/fault.out" 2>"$WORK/fault.err"
rc=$?
[ $rc = 1 ] || { cat "$WORK/fault.err" >&2; fail "a spool whose store fails exited $rc, not 1"; }
[ ! -e "$C/failed/late-$fb" ] || fail "a good file was set aside because the store failed"
[ -e "$C/.taking/late-$fb" ] || fail "the file does not wait claimed after the store failed"
grep -q "nothing of late-$fb was stored; it waits in" "$WORK/fault.err" ||
    { cat "$WORK/fault.err" >&2; fail "the store's failure was not the commit's"; }
"$CT" --quiet --data "$WORK/claims" ingest --compact off --operator "$first_op" --spool "$C" \
    --once --settle 0 --format json >"$WORK/healed.json" 2>/dev/null
grep -q "\"file\":\"late-$fb\"" "$WORK/healed.json" || fail "the file was not taken once the store was well"
[ ! -e "$C/.taking/late-$fb" ] && [ ! -e "$C/late-$fb" ] || fail "the file stayed after it was taken"
expect_exit 0 "$CT" --data "$WORK/claims" check
grep -q "PROBLEM" "$WORK/out" && fail "check after the failed store: $(cat "$WORK/out")"
echo "a failing store stops the spool; the file waits, and is taken afterwards"

# A delivery the disk cannot read (every read EIO, through the test shim
# support/eio_read.c on names eio-*): it waits claimed with a note, and the
# spool stops (a read error can pass: the service restarts it); when the
# disk can read it again, it is stored; when the disk still cannot 10
# minutes after the first error (the note's age), it is set aside with the
# reason and the spool goes on, rather than stop at every start and hold
# back every later delivery. A note is the file's, not its name's.
if [ -n "${CT_EIO_SHIM:-}" ]; then
    new_data "$WORK/eio"
    E="$WORK/eio-spool"
    mkdir -p "$E"
    first=$(ls "$CITY/$first_op"/events | head -1)
    second=$(ls "$CITY/$first_op"/events | head -2 | tail -1)
    eio_spool() { # eio_spool [shim]: --once, with the read-fault shim unless told none
        LD_PRELOAD="${1-$CT_EIO_SHIM}" "$CT" --data "$WORK/eio" ingest --operator "$first_op" \
            --spool "$E" --once --settle 0 >"$WORK/out" 2>"$WORK/err"
    }
    notes() { find "$E/.taking" -name '.unreadable.*' | wc -l; }
    cp "$CITY/$first_op/events/$first" "$E/eio-first.csv"
    cp "$CITY/$first_op/events/$second" "$E/later.csv"
    for attempt in 1 2; do # the first error, then a restart soon after
        eio_spool
        rc=$?
        [ $rc = 1 ] || fail "a spool that met an unreadable file exited $rc, not 1 ($attempt): $(cat "$WORK/err")"
        [ -f "$E/.taking/eio-first.csv" ] && [ ! -e "$E/failed/eio-first.csv" ] && [ "$(notes)" = 1 ] ||
            fail "a fresh read error did not leave the file claimed with one note ($attempt)"
        grep -q "10 minutes after the first error" "$WORK/err" || fail "the read error did not say what comes next"
        [ -f "$E/later.csv" ] || fail "the spool went on after a fresh read error"
    done
    # the disk reads it again: stored, the note gone, the next file taken
    mv "$E/.taking/eio-first.csv" "$E/.taking/back-first.csv" # same file: the shim goes by name
    eio_spool ""
    rc=$?
    [ $rc = 0 ] || [ $rc = 3 ] || fail "the file the disk read again was not stored: $(cat "$WORK/err")"
    [ -z "$(ls -A "$E/.taking")" ] && [ ! -e "$E/later.csv" ] ||
        fail "stored, but a note or a file is left: $(ls -A "$E/.taking" "$E")"
    # still unreadable 10 minutes after the first error: set aside, the spool goes on
    cp "$CITY/$first_op/events/$first" "$E/eio-second.csv"
    eio_spool
    [ "$(notes)" = 1 ] || fail "no note for a second unreadable file"
    touch -d '-11 minutes' "$E"/.taking/.unreadable.*
    cp "$CITY/$first_op/events/$second" "$E/later2.csv"
    eio_spool
    rc=$?
    [ $rc = 1 ] || fail "a spool that set aside an unreadable file exited $rc, not 1: $(cat "$WORK/err")"
    [ -f "$E/failed/eio-second.csv" ] || fail "a file unreadable for 11 minutes was not set aside: $(cat "$WORK/err")"
    grep -q "the disk cannot read it: Input/output error" "$E/failed/eio-second.csv.error" ||
        fail "no reason beside the unreadable file"
    [ -z "$(ls -A "$E/.taking")" ] && [ ! -e "$E/later2.csv" ] ||
        fail "the delivery after the unreadable one was not taken, or a note was left: $(ls -A "$E/.taking")"
    grep -q "later2.csv" "$WORK/out" || fail "no summary line for the delivery after the unreadable one"
    # a note outlives its file (removed by hand): a new file of that name,
    # even on the inode number given again, gets its own first error
    cp "$CITY/$first_op/events/$first" "$E/eio-third.csv"
    eio_spool
    rm "$E/.taking/eio-third.csv"
    touch -d '-11 minutes' "$E"/.taking/.unreadable.*
    cp "$CITY/$first_op/events/$first" "$E/eio-third.csv"
    eio_spool
    [ -f "$E/.taking/eio-third.csv" ] && [ ! -e "$E/failed/eio-third.csv" ] ||
        fail "a new file of a name whose note was left was set aside at its first read error"
    echo "a file the disk cannot read waits; read again, it is stored; unreadable for 10 minutes, set aside"
else
    echo "no read-fault shim in this build (sanitizers): the unreadable delivery is not tested here"
fi
# The store failing while a file is read (a spill to staging/ that cannot
# be made: staging is a file) is an I/O error too, but never the file's:
# it stops the spool at every start, the file claimed and never set aside.
new_data "$WORK/spill"
P="$WORK/spill-spool"
mkdir -p "$P"
cat "$CITY/$first_op"/events/* >"$P/all.csv" # about 50 000 rows: past 1 MB of buffer
rm -rf "$WORK/spill/staging"
touch "$WORK/spill/staging"
for attempt in 1 2; do
    CT_INGEST_MEM_MB=1 "$CT" --data "$WORK/spill" ingest --operator "$first_op" --spool "$P" --once \
        --settle 0 >"$WORK/out" 2>"$WORK/err"
    rc=$?
    [ $rc = 1 ] || fail "a spool whose store failed during a read exited $rc (attempt $attempt)"
    grep -q "Not a directory" "$WORK/err" || fail "the spill did not fail as meant: $(cat "$WORK/err")"
    [ -f "$P/.taking/all.csv" ] && [ ! -e "$P/failed" ] && [ ! -e "$P/.taking/.unreadable.all.csv" ] ||
        fail "a file the store failed on was set aside or noted as unreadable (attempt $attempt)"
done
rm "$WORK/spill/staging"
mkdir -m 700 "$WORK/spill/staging"
CT_INGEST_MEM_MB=1 "$CT" --data "$WORK/spill" ingest --operator "$first_op" --spool "$P" --once \
    --settle 0 >"$WORK/out" 2>"$WORK/err"
rc=$?
[ $rc = 0 ] || [ $rc = 3 ] || fail "the spool did not take the file once the store was well: $(cat "$WORK/err")"
[ -z "$(ls -A "$P/.taking")" ] || fail "the file stayed claimed once the store was well"
echo "a store that fails during a read stops the spool; the file is never set aside"

# ---- 3. a running spool -------------------------------------------------------------
new_data "$WORK/live"
L="$WORK/live-spool"
mkdir -p "$L"
"$CT" --quiet --data "$WORK/live" ingest --compact off --operator "$first_op" --spool "$L" --settle 2 \
    >"$WORK/live.out" 2>"$WORK/live.err" &
BG=$!
gone() { # gone NAME SECONDS: until NAME is neither in the spool nor claimed
    local i
    for i in $(seq 1 $(($2 * 10))); do
        [ -e "$L/$1" ] || [ -e "$L/.taking/$1" ] || return 0
        sleep 0.1
    done
    return 1
}
f1=$(ls "$CITY/$first_op"/events | head -1)
cp "$CITY/$first_op/events/$f1" "$L/$f1.part"
sleep 2.5 # older than --settle, but named .part: still left alone
[ -e "$L/$f1.part" ] || fail "the spool took a .part file"
touch -d '-10 seconds' "$L/$f1.part"
mv "$L/$f1.part" "$L/$f1"
gone "$f1" 20 || fail "the running spool did not take a renamed file"
grep -q "^ingest: $f1: " "$WORK/live.out" || fail "no summary line for $f1"
f2=$(ls "$CITY/$first_op"/events | head -2 | tail -1)
cp "$CITY/$first_op/events/$f2" "$L/.$f2" # written in place, must settle first:
touch -d '+1 hour' "$L/.$f2"                 # changed "just now", whatever the load
mv "$L/.$f2" "$L/$f2"
sleep 1.2
[ -e "$L/$f2" ] || fail "a file changed just now was taken before it settled"
touch -d '-10 seconds' "$L/$f2"
gone "$f2" 20 || fail "the running spool did not take a settled file"
# one spool a folder
expect_exit 1 "$CT" --data "$WORK/live" ingest --operator "$first_op" --spool "$L" --once --settle 0
grep -q "another spool" "$WORK/err" || fail "a second spool on the folder did not say why it stopped"
# the writer lock is free while the spool waits for files (the lock goes
# just after the file: wait for it, bounded)
for _ in $(seq 1 100); do flock -n "$WORK/live/lock" true && break; sleep 0.1; done
timeout 20 "$CT" --data "$WORK/live" cases import "$CITY/cases.csv" >"$WORK/cases.out" 2>"$WORK/cases.err" ||
    fail "cases import beside an idle spool: $(cat "$WORK/cases.err")"
grep -q "waiting for another writer" "$WORK/cases.err" && fail "an idle spool held the writer lock"
# SIGTERM ends the spool also while it waits for another writer (a run may
# hold the lock for minutes); the file it claimed is taken first next time
exec 9>>"$WORK/live/lock" # this shell holds the lock: no process to outlive the test
flock 9
f3=$(ls "$CITY/$first_op"/events | head -3 | tail -1)
cp "$CITY/$first_op/events/$f3" "$L/$f3"
touch -d '-10 seconds' "$L/$f3"
for _ in $(seq 1 100); do [ -e "$L/.taking/$f3" ] && break; sleep 0.1; done
[ -e "$L/.taking/$f3" ] || fail "the spool did not claim $f3"
sleep 0.5
kill -TERM "$BG"
for _ in $(seq 1 50); do kill -0 "$BG" 2>/dev/null || break; sleep 0.1; done
kill -0 "$BG" 2>/dev/null && fail "the spool did not stop on SIGTERM while it waited for the writer lock"
exec 9>&- # the lock goes with the last descriptor of its open file
wait "$BG"
rc=$?
BG=""
[ $rc = 0 ] || fail "the spool exited $rc after SIGTERM (a stopped service exits 0)"
[ -e "$L/.taking/$f3" ] || fail "the file claimed before the stop is gone"
"$CT" --data "$WORK/live" ingest --operator "$first_op" --spool "$L" --once --settle 0 >"$WORK/out" 2>"$WORK/err"
rc=$?
[ $rc = 0 ] || [ $rc = 3 ] || fail "the spool started again exited $rc: $(cat "$WORK/err")"
[ -z "$(ls -A "$L/.taking")" ] || fail "the file claimed before the stop was not taken next time"
expect_exit 0 "$CT" --data "$WORK/live" stats --format json
grep -q '"events":[1-9]' "$WORK/out" || fail "the running spool stored nothing"
echo "running spool: renamed and settled files taken, lock free while idle, SIGTERM ends it"

# ---- 4. killed at random moments -----------------------------------------------------
# SIGKILL while files are taken, then started again, until the folders are
# empty: check finds no problem after any kill, and the answers equal one
# ingest (a file killed after its commit comes again as duplicates).
# The kills must land inside the work, however fast the machine: each is
# drawn below two thirds of what one operator's folder takes uninterrupted,
# measured first on a copy (a fixed 0-150 ms once missed every spool of a
# round on a quick machine, and the folders were then empty).
new_data "$WORK/timed"
mkdir -p "$WORK/tspool"
cp "$CITY/$first_op"/events/* "$WORK/tspool/"
t0=$(date +%s%N)
"$CT" --quiet --data "$WORK/timed" ingest --compact off --operator "$first_op" --spool "$WORK/tspool" \
    --once --settle 0 >/dev/null 2>&1
window_ms=$((($(date +%s%N) - t0) * 2 / 3000000))
[ "$window_ms" -ge 5 ] || window_ms=5
new_data "$WORK/killed"
for op in $ops; do
    mkdir -p "$WORK/kspool/$op"
    cp "$CITY/$op"/events/* "$WORK/kspool/$op/"
done
kills=0
for round in $(seq 1 40); do
    left=$(find "$WORK/kspool" -type f | wc -l)
    [ "$left" = 0 ] && break
    for op in $ops; do
        "$CT" --quiet --data "$WORK/killed" ingest --compact off --operator "$op" \
            --spool "$WORK/kspool/$op" --once --settle 0 >/dev/null 2>>"$WORK/killed.err" &
        BG=$!
        if [ "$round" -lt 30 ]; then
            sleep "$(awk -v ms=$((RANDOM % window_ms)) 'BEGIN { printf "%.3f", ms / 1000 }')"
            kill -9 "$BG" 2>/dev/null && kills=$((kills + 1))
        fi
        wait "$BG" 2>/dev/null
        BG=""
    done
    expect_exit 0 "$CT" --data "$WORK/killed" check
    grep -q "PROBLEM" "$WORK/out" && fail "check after a kill (round $round): $(cat "$WORK/out")"
done
[ "$(find "$WORK/kspool" -type f | wc -l)" = 0 ] || fail "files left after the kill rounds"
[ "$kills" -gt 0 ] || fail "no spool was killed"
expect_exit 0 "$CT" --data "$WORK/killed" compact
answers "$WORK/killed" "$WORK/killed.out"
expect_same "$WORK/together.out" "$WORK/killed.out"
echo "killed $kills times (within ${window_ms} ms): check clean after each, answers equal one ingest"

# ---- 5. usage and failures before any file ------------------------------------------
mkdir -p "$WORK/u"
cp "$CITY/$first_op/events/$f1" "$WORK/u/"
expect_exit 2 "$CT" --data "$WORK/live" ingest --operator "$first_op" --spool "$WORK/u" "$WORK/u/$f1"
expect_exit 2 "$CT" --data "$WORK/live" ingest --operator "$first_op" --spool "$WORK/u" --rejects "$WORK/r.csv"
expect_exit 2 "$CT" --data "$WORK/live" ingest --operator "$first_op" --once "$WORK/u/$f1"
expect_exit 2 "$CT" --data "$WORK/live" ingest --operator "$first_op" --spool "$WORK/u" --settle -1
expect_exit 1 "$CT" --data "$WORK/live" ingest --operator 999-99 --spool "$WORK/u" --once
grep -q "no cell catalogue" "$WORK/err" || fail "an unknown operator's spool did not say why"
expect_exit 1 "$CT" --data "$WORK/live" ingest --operator "$first_op" --spool "$WORK/nowhere" --once
[ -e "$WORK/u/$f1" ] || fail "a spool that failed to start took a file"
echo "usage and early failures: nothing taken"
exit 0
