# Golden test: every command has --help, usage errors exit 2, failures exit
# 1 with a message, and the data directory is private.
. "$(dirname "$0")/common.bash"
D="$WORK/data"
for cmd in init cells ingest cases trace area hotspots geography stats check audit purge compact upgrade keys simulate demo run notify serve users appeals oversight config outbox export report evaluate risk; do
    expect_exit 0 "$CT" "$cmd" --help
    expect_grep "Usage\|SYNOPSIS" "$WORK/out"
done
expect_exit 0 "$CT" --help
expect_exit 0 "$CT" --version
expect_exit 2 "$CT"
expect_exit 2 "$CT" no-such-command
expect_exit 2 "$CT" --data "$D" trace
expect_exit 2 "$CT" --data "$D" trace K1 --format xml
expect_exit 2 "$CT" --data "$D" trace K1 --distance -3
expect_exit 2 "$CT" --data "$D" ingest events.csv
expect_exit 2 "$CT" --data "$D" cells import cells.csv
expect_exit 2 "$CT" --data "$D" cases frobnicate

# Commands on a missing data directory fail clearly.
expect_exit 1 "$CT" --data "$D" stats
expect_grep "not a celltrace data directory" "$WORK/err"

# init: private modes, and a second init refuses.
expect_exit 0 "$CT" --data "$D" init
[ "$(stat -c %a "$D")" = 700 ] || fail "data directory is not 0700"
[ "$(stat -c %a "$D/keys")" = 700 ] || fail "key folder is not 0700"
for f in "$D"/keys/keyring "$D"/catalog.db; do
    [ "$(stat -c %a "$f")" = 600 ] || fail "$f is not 0600"
done
expect_exit 1 "$CT" --data "$D" init
expect_grep "already" "$WORK/err"
# $CELLTRACE_DATA is honoured.
CELLTRACE_DATA="$D" expect_exit 0 "$CT" stats --format json
expect_grep '"subscribers":0' "$WORK/out"
# the default keeps the keys inside: stats says so, as check and keys status do
expect_grep '"keys":{"provider":"file","keys_inside_data":true}' "$WORK/out"
expect_exit 0 "$CT" --data "$D" stats
expect_grep "^warning: the keys are kept in clear inside the data directory" "$WORK/out"

# An unknown case, an unknown operator, a missing file: exit 1, one clear line.
expect_exit 1 "$CT" --data "$D" trace NOPE
expect_grep "no case" "$WORK/err"
expect_exit 1 "$CT" --data "$D" ingest --operator 250-01 /nonexistent.csv
expect_grep "operator 250-01 has no cell catalogue" "$WORK/err"
printf 'cell_id,lat,lon,radius_m\nA,55.75,37.62,300\n' >"$WORK/cells.csv"
expect_exit 0 "$CT" --data "$D" cells import --operator 250-01 "$WORK/cells.csv"
expect_exit 1 "$CT" --data "$D" ingest --operator 250-01 /nonexistent.csv
expect_grep "/nonexistent.csv" "$WORK/err"
# A header without the needed columns rejects the file, and nothing lands.
printf 'phone,time\n79990000001,2020-03-24T08:00:00Z\n' >"$WORK/bad.csv"
printf 'msisdn,ts,cell_id\n79990000001,2020-03-24T08:00:00Z,A\n' >"$WORK/good.csv"
expect_exit 1 "$CT" --data "$D" ingest --operator 250-01 "$WORK/good.csv" "$WORK/bad.csv"
expect_grep "the header has no column msisdn" "$WORK/err"
expect_exit 0 "$CT" --data "$D" stats --format json
expect_grep '"events":0' "$WORK/out"
expect_exit 0 "$CT" --data "$D" ingest --operator 250-01 "$WORK/good.csv"
expect_grep "1 rows read, 1 stored, 0 duplicates, 0 rejected" "$WORK/out"
# cases add: a usage error for a bad value, a conflict for a changed case.
expect_exit 2 "$CT" --data "$D" cases add --case-id K9 --msisdn 12 --onset 2020-03-24
expect_exit 0 "$CT" --data "$D" cases add --case-id K9 --msisdn "+7 999 000-00-01" --onset 2020-03-24
expect_exit 0 "$CT" --data "$D" cases add --case-id K9 --msisdn 79990000001 --onset 2020-03-24T00:00:00Z
expect_exit 1 "$CT" --data "$D" cases add --case-id K9 --msisdn 79990000001 --onset 2020-03-25
expect_exit 0 "$CT" --data "$D" --reason "test" cases list --format csv
expect_grep "^K9,79990000001,2020-03-24T00:00:00Z,," "$WORK/out"
expect_grep '"what":"cases list"' "$D/audit.log"
expect_grep '"why":"test"' "$D/audit.log"
# Usage errors say what is wrong once, and name the option and what it takes.
expect_exit 2 "$CT" --data "$D" trace K1 --min-exposure
expect_grep "requires an argument" "$WORK/err"
grep -q "unknown option" "$WORK/err" && fail "a missing value was also called an unknown option"
expect_exit 2 "$CT" --data "$D" trace K1 --distance -5
expect_grep "^celltrace: --distance takes metres, 0 or more, not '-5'$" "$WORK/err"
expect_exit 2 "$CT" explain
expect_grep '^Try `celltrace --help`.$' "$WORK/err"
# The import commands share their options and check --format.
expect_exit 2 "$CT" --data "$D" ingest --operator 250-01 --format xml /dev/null
expect_grep "format must be text or json" "$WORK/err"
expect_exit 2 "$CT" --data "$D" cells import --operator 250-01 --format xml /dev/null
exit 0
