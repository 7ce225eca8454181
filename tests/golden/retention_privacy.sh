# Golden test: privacy at rest, `check`, retention and `purge --all`.
# - no phone number of a simulated city appears in clear in any file of
#   the data directory; the keyring 0600, folders 0700;
# - `check` gives a clean bill, and names the damage it is shown;
# - retention deletes old days for good (files gone, nothing traced);
# - `purge --all` leaves no personal datum and new keys.
. "$(dirname "$0")/common.bash"
CITY="$WORK/city"
D="$WORK/data"
expect_exit 0 "$CT" simulate --out "$CITY" --subscribers 1200 --days 3 --seed 5 --cases 3
expect_exit 0 "$CT" --data "$D" init
for op in $(cd "$CITY" && ls -d */ | tr -d /); do
    expect_exit 0 "$CT" --data "$D" cells import --operator "$op" "$CITY/$op/cells.csv"
    "$CT" --quiet --data "$D" ingest --operator "$op" "$CITY/$op"/events/* >/dev/null 2>&1
    [ $? = 3 ] || fail "ingest of $op should report rejected rows"
done
expect_exit 0 "$CT" --data "$D" cases import "$CITY/cases.csv"
expect_exit 0 "$CT" --data "$D" --reason test trace C0001 --format csv
[ "$(wc -l <"$WORK/out")" -gt 1 ] || fail "C0001 should have contacts"

# Every number of the feeds, normalised (digits only), from the msisdn column.
city_numbers "$CITY" >"$WORK/numbers"
[ "$(wc -l <"$WORK/numbers")" -gt 1000 ] || fail "too few numbers extracted"
if grep -rlF -f "$WORK/numbers" "$D" >"$WORK/found"; then
    cat "$WORK/found" >&2
    fail "a phone number appears in clear in the data directory"
fi
[ "$(stat -c %a "$D")" = 700 ] || fail "data directory not 0700"
find "$D" -type f ! -perm 600 >"$WORK/loose"
[ -s "$WORK/loose" ] && { cat "$WORK/loose" >&2; fail "files readable by others"; }
find "$D" -type d ! -perm 700 >"$WORK/loose"
[ -s "$WORK/loose" ] && { cat "$WORK/loose" >&2; fail "folders open to others"; }

# check: clean, then each kind of damage is named.
expect_exit 0 "$CT" --data "$D" check
seg=$(ls "$D"/store/*.seg | head -1)
cp "$seg" "$WORK/seg.bak"
printf '\x55' | dd of="$seg" bs=1 seek=3000 conv=notrunc 2>/dev/null
expect_exit 1 "$CT" --data "$D" check
expect_grep "$(basename "$seg")" "$WORK/out"
cp "$WORK/seg.bak" "$seg"
chmod 644 "$D/keys/keyring"
expect_exit 1 "$CT" --data "$D" check
expect_grep "keyring: has mode 644" "$WORK/out"
chmod 600 "$D/keys/keyring"
printf 'torn' >>"$D/subscribers.dat"      # an interrupted append: a note, not damage
expect_exit 0 "$CT" --data "$D" check
expect_grep "NOTE.*interrupted append" "$WORK/out"
cp "$D/subscribers.dat" "$WORK/subs.bak"   # a damaged record in the middle is damage
printf '\x55' | dd of="$D/subscribers.dat" bs=1 seek=100 conv=notrunc 2>/dev/null
expect_exit 1 "$CT" --data "$D" check
expect_grep "PROBLEM.*record 1 fails its checksum" "$WORK/out"
cp "$WORK/subs.bak" "$D/subscribers.dat"
# --retention-days means what ct_purge's days mean: 1 to 3660, or never
# (0 once meant "keep everything" on the command line and "21" in the API)
expect_exit 2 "$CT" --data "$D" ingest --operator X --retention-days 0 /dev/null
expect_grep "1 to 3660, or never" "$WORK/err"
expect_exit 2 "$CT" --data "$D" purge --retention-days 0
op1=$(cd "$CITY" && ls -d */ | head -1 | tr -d /)
"$CT" --quiet --data "$D" ingest --operator "$op1" --retention-days never "$CITY/$op1"/events/* \
    >/dev/null 2>&1
[ $? = 3 ] || fail "ingest --retention-days never (again, with its rejected rows) should exit 3"
expect_exit 0 "$CT" --data "$D" purge --retention-days 30
expect_exit 0 "$CT" --data "$D" check

# Retention: an event 25 days after the city's last day makes its days old.
expect_exit 0 "$CT" --data "$D" stats --format json
days_before=$(sed 's/.*"days":\([0-9]*\).*/\1/' "$WORK/out")
last=$(ls "$CITY"/250-01/events | sed -n 's/.*_\([0-9]\{8\}\)_.*/\1/p' | sort | tail -1)
late=$(date -u -d "${last:0:4}-${last:4:2}-${last:6:2} + 25 days" +%Y-%m-%dT12:00:00Z)
cell=$(awk -F, 'NR == 2 { print $1 }' "$CITY/250-01/cells.csv")
head -1 "$CITY/250-01/cells.csv" | grep -q '^cell_id' || fail "cells.csv should start with cell_id"
printf 'msisdn,ts,cell_id\n79001234567,%s,%s\n' "$late" "$cell" >"$WORK/late.csv"
expect_exit 0 "$CT" --data "$D" ingest --operator 250-01 "$WORK/late.csv"
expect_grep "retention deleted" "$WORK/err"
expect_exit 0 "$CT" --data "$D" stats --format json
expect_grep '"days":1,' "$WORK/out"
[ "$days_before" -gt 1 ] || fail "expected several days before retention"
[ "$(ls "$D"/store/*.seg | wc -l)" = 1 ] || fail "old segment files are still on disk"
expect_exit 0 "$CT" --data "$D" trace C0001 --format csv
[ "$(wc -l <"$WORK/out")" = 1 ] || fail "purged data can still be traced"
expect_grep '"what":"purge retention"' "$D/audit.log"

# purge --all: needs --yes; then nothing personal remains, and new keys.
cp "$D/keys/keyring" "$WORK/old.keyring"
expect_exit 2 "$CT" --data "$D" purge --all
expect_exit 0 "$CT" --data "$D" purge --all --yes
for role in pseudonym vault dlr; do # every key is new
    old=$(awk -v r=$role '$1 == r {print $4}' "$WORK/old.keyring")
    new=$(awk -v r=$role '$1 == r {print $4}' "$D/keys/keyring")
    [ -n "$old" ] && [ -n "$new" ] && [ "$old" != "$new" ] || fail "the $role key was not replaced"
done
[ -z "$(ls "$D"/store/*.seg 2>/dev/null)" ] || fail "segments remain after purge --all"
[ ! -s "$D/subscribers.dat" ] || fail "subscribers remain after purge --all"
[ -z "$(ls "$D"/rejects/ 2>/dev/null)" ] || fail "reject reports remain after purge --all"
expect_exit 0 "$CT" --data "$D" cases list --format csv
[ "$(wc -l <"$WORK/out")" = 1 ] || fail "cases remain after purge --all"
expect_exit 1 "$CT" --data "$D" trace C0001
expect_exit 0 "$CT" --data "$D" check
expect_exit 0 "$CT" --data "$D" stats --format json
expect_grep '"subscribers":0,"events":0' "$WORK/out"
expect_grep '"what":"purge all"' "$D/audit.log"
exit 0
