# Golden test: the audit log is a keyed hash chain (docs/AUDIT.md).
# `audit verify` passes on an untouched log and, for each kind of tampering
# (a changed byte, a deleted line, two swapped lines, a cut through the
# middle, records removed from the end, a line inserted, a rotated file
# removed), exits 1 and names the first record that does not fit; `check`
# reports it too. Rotation keeps the chain across files, a log from before
# the chain is accepted as unchained lines at its start, the audit key
# follows the keys to keys.dir, and an audited read fails without its key.
. "$(dirname "$0")/common.bash"
D="$WORK/data"
LOG="$D/audit.log"
expect_exit 0 "$CT" --data "$D" init
[ "$(stat -c %a "$D/keys/audit.key")" = 600 ] || fail "the audit key is not 0600"
[ "$(stat -c %s "$D/keys/audit.key")" = 32 ] || fail "the audit key is not 32 bytes"
expect_exit 0 "$CT" --data "$D" cases add --case-id K1 --msisdn +79990000001 --onset 2020-03-10

# An empty log verifies.
expect_exit 0 "$CT" --data "$D" audit verify
expect_grep "audit log whole: 0 records" "$WORK/out"

# Eight audited reads: eight chained records, seq 1..8.
for i in 1 2 3 4 5 6 7 8; do
    expect_exit 0 "$CT" --data "$D" --reason "read $i" cases list
done
[ "$(wc -l < "$LOG")" = 8 ] || fail "not one record per read"
for i in 1 2 3 4 5 6 7 8; do
    sed -n "${i}p" "$LOG" | grep -q "\"why\":\"read $i\",\"seq\":$i,\"chain\":\"[0-9a-f]\{64\}\"}$" ||
        fail "record $i is not chained as documented"
done
expect_exit 0 "$CT" --data "$D" audit verify
expect_grep "audit log whole: 8 records in 1 file, last record 8" "$WORK/out"
expect_exit 0 "$CT" --data "$D" audit verify --format json
expect_grep '"ok":true,"records":8,"unchained":0,"files":1,"last_seq":8' "$WORK/out"
expect_exit 0 "$CT" --data "$D" check # itself audited: record 9
cp "$LOG" "$WORK/good.log"
cp "$D/keys/audit.head" "$WORK/good.head"

# damaged FILE_EDIT DESCRIPTION PATTERN: after the edit, verify exits 1 and
# its output matches PATTERN; then the good log comes back.
damaged() {
    expect_exit 1 "$CT" --data "$D" audit verify
    expect_grep "$2" "$WORK/out"
    expect_exit 1 "$CT" --data "$D" check
    expect_grep "PROBLEM  audit log" "$WORK/out"
    cp "$WORK/good.log" "$LOG"
    cp "$WORK/good.head" "$D/keys/audit.head"
    expect_exit 0 "$CT" --data "$D" audit verify
    echo "detected: $1"
}

# 1. one byte of record 3 changed (its reason)
sed -i '3s/"read 3"/"read X"/' "$LOG"
damaged "a changed byte" "audit.log line 3 (record 3): record 3 does not match its chain value"
# ... also in the json form, with the record named
sed -i '5s/"records":1/"records":0/' "$LOG"
expect_exit 1 "$CT" --data "$D" audit verify --format json
expect_grep '"ok":false,"records":4,.*"problem":{"file":"audit.log","line":5,"seq":5' "$WORK/out"
cp "$WORK/good.log" "$LOG"

# 2. record 4 deleted
sed -i '4d' "$LOG"
damaged "a deleted line" "audit.log line 4 (record 5): record 5 comes where 4 should: records 4 to 4 were deleted"

# 3. records 6 and 7 swapped
awk 'NR == 6 { six = $0; next } NR == 7 { print; print six; next } { print }' "$WORK/good.log" > "$LOG"
damaged "two swapped lines" "audit.log line 6 (record 7): record 7 comes where 6 should"

# 4. a cut through the middle: from inside record 2 to inside record 5
head -c "$(( $(head -n 1 "$LOG" | wc -c) + 40 ))" "$WORK/good.log" > "$LOG"
tail -n +5 "$WORK/good.log" | tail -c +60 >> "$LOG"
damaged "a cut through the middle" "audit.log line 2 (record 5)"

# 5. the last two records removed: nothing after them disagrees, the head does
head -n 6 "$WORK/good.log" > "$LOG"
damaged "records removed from the end" "records 7 to 9 were removed from the end"

# 6. a forged line inserted (a copy of record 2 with another reason)
sed -n 2p "$WORK/good.log" | sed 's/"read 2"/"forged"/' > "$WORK/forged"
sed -i "5r $WORK/forged" "$LOG"
damaged "an inserted line" "audit.log line 6 (record 2): record 2 comes where 6 should"
# ... and an unchained line inserted in the middle
sed -i '5a {"time":"2020-03-10T00:00:00Z","who":"x","uid":0,"what":"cases list","object":"","records":1,"why":"x"}' "$LOG"
damaged "an unchained line" "audit.log line 6: a record without a chain value after the chain began"

# A record cut short by a crash (no line end) is dropped by the next
# writer; verify then sees a whole chain, not tampering.
printf '{"time":"2026-01-01T00:00:00Z","who":"x","uid":0,"what":"cases li' >> "$LOG"
expect_exit 1 "$CT" --data "$D" audit verify
expect_grep "the last line is cut short" "$WORK/out"
expect_exit 0 "$CT" --data "$D" --reason "after a crash" cases list
expect_exit 0 "$CT" --data "$D" audit verify
grep -q '"what":"cases li$\|"what":"cases li"' "$LOG" && fail "the torn record is still there"
cp "$LOG" "$WORK/good.log"
cp "$D/keys/audit.head" "$WORK/good.head"

# Rotation: past audit.rotate_kb the log is renamed audit-<last seq>.log
# and the chain goes on in the new file.
expect_exit 0 "$CT" --data "$D" config set audit.rotate_kb 1
for i in $(seq 10 21); do
    expect_exit 0 "$CT" --data "$D" --reason "read $i" cases list
done
ls "$D"/audit-*.log > "$WORK/rotated"
[ "$(wc -l < "$WORK/rotated")" -ge 2 ] || fail "audit.log was not rotated"
expect_exit 0 "$CT" --data "$D" audit verify
expect_grep "audit log whole: 22 records in [0-9]* files, last record 22" "$WORK/out"
first=$(head -n 1 "$WORK/rotated")
[ "$(basename "$first")" = audit-000000000010.log ] || fail "the first rotated file is $first"
mv "$(sed -n 2p "$WORK/rotated")" "$WORK/"
expect_exit 1 "$CT" --data "$D" audit verify
expect_grep "were deleted" "$WORK/out"
mv "$WORK"/audit-0*.log "$D/"
expect_exit 0 "$CT" --data "$D" audit verify

# A log from before the chain: its lines are accepted at the start only.
D2="$WORK/old"
expect_exit 0 "$CT" --data "$D2" init
rm "$D2/keys/audit.key"
printf '%s\n' '{"time":"2020-03-10T00:00:00Z","who":"x","uid":0,"what":"trace","object":"K1","records":3,"why":"old"}' \
    '{"time":"2020-03-10T00:01:00Z","who":"x","uid":0,"what":"trace","object":"K1","records":3,"why":"old"}' > "$D2/audit.log"
expect_exit 0 "$CT" --data "$D2" cases add --case-id K9 --msisdn +79990000009 --onset 2020-03-10
expect_exit 0 "$CT" --data "$D2" cases list
expect_grep "79990000009" "$WORK/out"
[ -f "$D2/keys/audit.key" ] || fail "the first audited read did not make the audit key"
expect_exit 0 "$CT" --data "$D2" audit verify
expect_grep "audit log whole: 1 records" "$WORK/out"
expect_grep "2 earlier lines were written before the chain existed" "$WORK/out"

# Without its key a chained log cannot go on: the audited read fails, and
# the key is not silently replaced.
mv "$D2/keys/audit.key" "$WORK/audit.key"
expect_exit 1 "$CT" --data "$D2" cases list
expect_grep "the audit key .* is missing, and the audit log is chained under it" "$WORK/err"
grep -q 79990000009 "$WORK/out" && fail "a number printed without an audit record"
expect_exit 1 "$CT" --data "$D2" audit verify
mv "$WORK/audit.key" "$D2/keys/audit.key"
expect_exit 0 "$CT" --data "$D2" audit verify

# The audit key and head go along when the keys move to keys.dir.
expect_exit 0 "$CT" --data "$D" keys rewrap --provider file --key-dir "$WORK/keys-elsewhere"
[ -f "$WORK/keys-elsewhere/audit.key" ] || fail "the audit key did not move"
[ ! -e "$D/keys/audit.key" ] || fail "the audit key stayed behind"
expect_exit 0 "$CT" --data "$D" --reason "after the move" cases list
expect_exit 0 "$CT" --data "$D" audit verify
expect_grep "last record 24" "$WORK/out" # 23: the rewrap itself

expect_exit 0 "$CT" audit --help
expect_grep "Usage" "$WORK/out"
expect_exit 2 "$CT" --data "$D" audit
expect_exit 2 "$CT" --data "$D" audit verify --format csv
echo "audit: ok"
