# Golden test: keys kept apart from the data (docs/KEYS.md).
# - passphrase and credentials providers: a copy of the data directory
#   without the passphrase or credential opens for no command, and says
#   which key source is missing; no number and no key is in clear in it;
# - a wrong passphrase exits 1 and changes nothing;
# - rotations of the vault, pseudonym and dlr keys keep every trace
#   byte-identical; a fault at any write, fsync or rename of a rotation,
#   or a kill at any moment, leaves the old keys or the new ones: `check`
#   is clean and the traces are the same; the conformance case stays exact;
# - rewrap moves the keys between providers; purge --all makes new keys
#   and a new salt.
# KILLS (default 10) sets how many kills land on a running rotation.
. "$(dirname "$0")/common.bash"
KILLS=${KILLS:-10}
FAULT_NS="1 2 3 4 5"
[ "$LIGHT" = 1 ] && FAULT_NS="1 3" # valgrind: two of each fault
CITY="$WORK/city"
D="$WORK/data"
PASS="$WORK/pass"
printf 'a long enough test passphrase\n' >"$PASS"
export CT_TEST_PASS="a long enough test passphrase"
expect_exit 0 "$CT" simulate --out "$CITY" --subscribers 1500 --days 3 --seed 7 --cases 3
ops=$(cd "$CITY" && ls -d */ | tr -d /)

# A passphrase in the variable named by keys.passphrase_env.
expect_exit 0 "$CT" --data "$D" init --key-provider passphrase --passphrase-env CT_TEST_PASS \
    --kdf interactive
[ -f "$D/keys/keyring.sealed" ] || fail "no sealed keyring"
[ ! -e "$D/keys/keyring" ] || fail "a clear keyring next to the sealed one"
expect_grep '^provider passphrase$' "$D/keys/keyring.sealed"
for op in $ops; do
    expect_exit 0 "$CT" --data "$D" cells import --operator "$op" "$CITY/$op/cells.csv"
    "$CT" --quiet --data "$D" ingest --operator "$op" "$CITY/$op"/events/* >/dev/null 2>&1
    [ $? = 3 ] || fail "ingest of $op should report rejected rows"
done
expect_exit 0 "$CT" --data "$D" cases import "$CITY/cases.csv"

traces() { # traces DIR > file: every case, plain and scored
    "$CT" --data "$1" trace --all --format csv || return 1
    "$CT" --data "$1" trace --all --format csv --score || return 1
}
traces "$D" >"$WORK/ref.out" || fail "traces of the new directory"
[ "$(wc -l <"$WORK/ref.out")" -gt 100 ] || fail "too few contacts to compare"

# Nothing in clear: numbers, keys.
city_numbers "$CITY" >"$WORK/numbers"
[ "$(wc -l <"$WORK/numbers")" -gt 1000 ] || fail "too few numbers extracted"
if grep -rlF -f "$WORK/numbers" "$D" >"$WORK/found"; then
    cat "$WORK/found" >&2
    fail "a phone number appears in clear in the data directory"
fi
grep -rl "celltrace keyring 1" "$D" >"$WORK/found" && fail "a keyring in clear: $(cat "$WORK/found")"
find "$D" -type f ! -perm 600 >"$WORK/loose"
[ -s "$WORK/loose" ] && { cat "$WORK/loose" >&2; fail "files readable by others"; }

# A copy of the directory, without the passphrase: no command opens it.
cp -a "$D" "$WORK/copy"
for cmd in "trace C0001" "stats" "cases list" "keys status" "export --region R1"; do
    # shellcheck disable=SC2086
    env -u CT_TEST_PASS "$CT" --data "$WORK/copy" $cmd </dev/null >"$WORK/out" 2>"$WORK/err"
    [ $? = 1 ] || fail "'$cmd' on a copy without the passphrase did not fail"
    expect_grep "sealed with a passphrase" "$WORK/err"
    expect_grep "CT_TEST_PASS" "$WORK/err"
done
env -u CT_TEST_PASS "$CT" --data "$WORK/copy" check </dev/null >"$WORK/out" 2>&1
[ $? = 1 ] || fail "check of a copy without the passphrase did not fail"
expect_grep "PROBLEM.*sealed with a passphrase" "$WORK/out"
# With it (here on a descriptor), the copy opens: the passphrase is the key.
env -u CT_TEST_PASS "$CT" --data "$WORK/copy" --passphrase-fd 3 stats 3<"$PASS" >/dev/null ||
    fail "the copy does not open with the passphrase on a descriptor"

# A wrong passphrase: exit 1, and nothing in the directory changes.
snapshot() { (cd "$1" && find . -type f ! -name lock -exec md5sum {} + | sort -k2); }
snapshot "$D" >"$WORK/before"
for cmd in "stats" "keys rotate --vault" "ingest --operator $(echo "$ops" | head -1) /dev/null" \
           "purge --all --yes"; do
    # shellcheck disable=SC2086
    CT_TEST_PASS="not the passphrase at all" "$CT" --data "$D" $cmd >"$WORK/out" 2>"$WORK/err"
    [ $? = 1 ] || fail "'$cmd' with a wrong passphrase did not exit 1"
    expect_grep "wrong passphrase" "$WORK/err"
done
snapshot "$D" >"$WORK/after"
expect_same "$WORK/before" "$WORK/after"

# Rotations keep every trace byte-identical.
gen() { # gen ROLE: the generation of a key of $D (fails the test if status fails)
    "$CT" --data "${D}" keys status --format json >"$WORK/gen.json" || fail "keys status"
    sed -n "s/.*\"$1\":{\"generation\":\([0-9]*\).*/\1/p" "$WORK/gen.json"
}
cp "$D/subscribers.dat" "$WORK/subs.before"
expect_exit 0 "$CT" --data "$D" keys rotate --vault --pseudonym --dlr --grace 3600
expect_grep "1[0-9]* subscribers" "$WORK/out"
cmp -s "$D/subscribers.dat" "$WORK/subs.before" && fail "subscribers.dat was not rewritten"
[ "$(gen vault)" = 2 ] && [ "$(gen pseudonym)" = 2 ] && [ "$(gen dlr)" = 2 ] ||
    fail "generations after one rotation: $(cat "$WORK/out")"
expect_exit 0 "$CT" --data "$D" keys status
expect_grep "1 older key accepted until" "$WORK/out"
traces "$D" >"$WORK/rot.out" || fail "traces after rotation"
expect_same "$WORK/ref.out" "$WORK/rot.out"
expect_exit 0 "$CT" --data "$D" check
expect_grep '"what":"keys rotate"' "$D/audit.log"

# A fault at each write, fsync and rename of a rotation: old keys or new.
for op in write fsync rename; do
    for n in $FAULT_NS; do
        CT_FAULT="$op:EIO:$n" "$CT" --data "$D" keys rotate --vault --pseudonym >"$WORK/out" 2>&1
        rc=$?
        [ $rc = 0 ] || [ $rc = 1 ] || fail "rotation with $op fault $n: exit $rc"
        expect_exit 0 "$CT" --data "$D" check
        grep -q PROBLEM "$WORK/out" && fail "check after $op fault $n: $(cat "$WORK/out")"
        traces "$D" >"$WORK/rot.out" || fail "traces after $op fault $n"
        expect_same "$WORK/ref.out" "$WORK/rot.out"
    done
done
# An interrupted rotation is ended by the next writer, not by readers. The
# loop above may end either way (under valgrind it runs fewer faults), so
# interrupt one here first.
pending=0
for n in 1 2 3 4 5; do
    CT_FAULT="rename:EIO:$n" "$CT" --data "$D" keys rotate --vault --pseudonym >/dev/null 2>&1
    expect_exit 0 "$CT" --data "$D" keys status --format json
    grep -q '"rotation_pending":true' "$WORK/out" && { pending=1; break; }
done
[ $pending = 1 ] || fail "no rename fault left a rotation pending"
expect_exit 0 "$CT" --data "$D" cases list
expect_exit 0 "$CT" --data "$D" keys status --format json
expect_grep '"rotation_pending":true' "$WORK/out"
expect_exit 0 "$CT" --data "$D" purge
expect_exit 0 "$CT" --data "$D" keys status --format json
expect_grep '"rotation_pending":false' "$WORK/out"
traces "$D" >"$WORK/rot.out" || fail "traces after the writer ended the rotation"
expect_same "$WORK/ref.out" "$WORK/rot.out"

# Kills at random moments of a rotation, on a bigger dictionary.
for i in $(seq 1 "$KILLS"); do
    "$CT" --data "$D" keys rotate --vault --pseudonym >/dev/null 2>&1 &
    pid=$!
    sleep "0.0$((RANDOM % 9))$((RANDOM % 10))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    expect_exit 0 "$CT" --data "$D" check
    traces "$D" >"$WORK/rot.out" || fail "traces after kill $i"
    expect_same "$WORK/ref.out" "$WORK/rot.out"
done

# purge --all on a sealed keyring: new keys and a new salt; the same
# passphrase opens it.
cp -a "$D" "$WORK/purged"
g0=$(D="$WORK/purged" gen pseudonym)
salt0=$(sed -n 's/^salt //p' "$WORK/purged/keys/keyring.sealed")
expect_exit 0 "$CT" --data "$WORK/purged" purge --all --yes
salt1=$(sed -n 's/^salt //p' "$WORK/purged/keys/keyring.sealed")
[ -n "$salt1" ] && [ "$salt0" != "$salt1" ] || fail "purge --all kept the salt"
expect_exit 0 "$CT" --data "$WORK/purged" check
g1=$(D="$WORK/purged" gen pseudonym)
[ "$g1" -gt "$g0" ] || fail "purge --all kept pseudonym key generation $g0 ($g1)"

# Rewrap: passphrase -> file in a folder of its own -> credentials.
expect_exit 0 "$CT" --data "$D" keys rewrap --provider file --key-dir "$WORK/keyfolder"
[ -f "$WORK/keyfolder/keyring" ] && [ ! -e "$D/keys/keyring.sealed" ] || fail "rewrap to file"
[ "$(stat -c %a "$WORK/keyfolder")" = 700 ] || fail "key folder not 0700"
env -u CT_TEST_PASS "$CT" --data "$D" keys status >"$WORK/out" 2>&1 || fail "file provider"
grep -q warning "$WORK/out" && fail "a key folder outside the data directory is warned about"
env -u CT_TEST_PASS "$CT" --data "$D" stats --format json >"$WORK/out" 2>&1 || fail "stats"
expect_grep '"keys":{"provider":"file","keys_inside_data":false}' "$WORK/out"
mv "$WORK/keyfolder" "$WORK/keyfolder.unmounted"
expect_exit 1 "$CT" --data "$D" stats
expect_grep "keyfolder/keyring does not exist.*mounted" "$WORK/err"
mv "$WORK/keyfolder.unmounted" "$WORK/keyfolder"
mkdir -m 700 "$WORK/cred"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/cred/celltrace.key"
CREDENTIALS_DIRECTORY="$WORK/cred" expect_exit 0 "$CT" --data "$D" keys rewrap --provider credentials
[ ! -e "$WORK/keyfolder/keyring" ] || fail "the clear keyring stayed after rewrap"
expect_exit 1 "$CT" --data "$D" trace C0001
expect_grep "CREDENTIALS_DIRECTORY is not set" "$WORK/err"
mkdir -m 700 "$WORK/othercred"
head -c 32 /dev/urandom >"$WORK/othercred/celltrace.key"
CREDENTIALS_DIRECTORY="$WORK/othercred" expect_exit 1 "$CT" --data "$D" trace C0001
expect_grep "does not open" "$WORK/err"
export CREDENTIALS_DIRECTORY="$WORK/cred"
traces "$D" >"$WORK/rot.out" || fail "traces under credentials"
expect_same "$WORK/ref.out" "$WORK/rot.out"
expect_exit 0 "$CT" --data "$D" check

# The conformance case, sealed under a passphrase: exact before and after
# every rotation and a rewrap.
C="$SRC/conformance/basic"
CD="$WORK/conf"
expect_exit 0 "$CT" --data "$CD" init --key-provider passphrase --passphrase-env CT_TEST_PASS \
    --kdf interactive
expect_exit 0 "$CT" --data "$CD" cells import --operator 250-01 "$C/cells_250-01.csv"
expect_exit 0 "$CT" --data "$CD" cells import --operator 250-02 "$C/cells_250-02.csv"
expect_exit 3 "$CT" --data "$CD" ingest --operator 250-01 "$C/events_250-01.csv"
expect_exit 0 "$CT" --data "$CD" ingest --operator 250-02 "$C/events_250-02.csv"
expect_exit 0 "$CT" --data "$CD" cases import "$C/cases.csv"
conformance_exact() {
    expect_exit 0 "$CT" --data "$CD" trace K1 --format csv
    expect_same "$C/expected_K1.csv" "$WORK/out"
    expect_exit 0 "$CT" --data "$CD" trace K1 --format csv --min-exposure 600 --max-presence 1800 --distance 500
    expect_same "$C/expected_K1_params.csv" "$WORK/out"
}
conformance_exact
expect_exit 0 "$CT" --data "$CD" keys rotate --vault --pseudonym --dlr
conformance_exact
expect_exit 0 "$CT" --data "$CD" keys rewrap --provider file --key-dir "$WORK/conf-keys"
conformance_exact

# The default cost is libsodium's SENSITIVE (1 GiB, 4 passes; not under
# valgrind, where it would take many minutes).
if [ "$LIGHT" != 1 ]; then
    expect_exit 0 "$CT" --data "$WORK/sensitive" --passphrase-fd 3 init --key-provider passphrase 3<"$PASS"
    expect_grep '^kdf argon2id13 4 1073741824$' "$WORK/sensitive/keys/keyring.sealed"
fi
# A passphrase is never taken from the command line, and must be long.
expect_exit 2 "$CT" --data "$WORK/x" init --key-provider passphrase --passphrase "secret"
expect_grep "never taken from the command line" "$WORK/err"
expect_exit 2 "$CT" --data "$WORK/x" --passphrase "secret" init --key-provider passphrase
expect_grep "never taken from the command line" "$WORK/err"
[ ! -e "$WORK/x" ] || fail "init went ahead"
printf 'short\n' >"$WORK/short"
expect_exit 1 "$CT" --data "$WORK/y" --passphrase-fd 3 init --key-provider passphrase 3<"$WORK/short"
expect_grep "at least 12" "$WORK/err"
# keys.provider moves keys: `config set` refuses it.
expect_exit 2 "$CT" --data "$D" config set keys.provider file
expect_grep "keys rewrap" "$WORK/err"
exit 0
