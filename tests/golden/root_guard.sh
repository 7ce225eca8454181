# Golden test: root may not work in a data directory another user owns
# (the Debian package's /var/lib/celltrace is celltrace's). Every command
# that opens data refuses, exit 1, naming the owner and how to run as
# them, and makes no file there; --help still answers; simulate is not
# concerned; root in its own data directory works as before. Skipped (77)
# when not run as root.
. "$(dirname "$0")/common.bash"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root" >&2; exit 77; }
getent passwd nobody > /dev/null || { echo "SKIP: no user nobody" >&2; exit 77; }
F="$WORK/foreign"
mkdir -m 0700 "$F"
chown nobody "$F"
for cmd in init stats "config list" "cases list" check "trace K1"; do
    # shellcheck disable=SC2086
    expect_exit 1 "$CT" --data "$F" $cmd
    expect_grep "belongs to nobody, not root: run celltrace as nobody (runuser -u nobody -- celltrace" "$WORK/err"
    [ -z "$(ls -A "$F")" ] || fail "'$cmd' as root made files in another user's data directory: $(ls -A "$F")"
done
CELLTRACE_DATA="$F" expect_exit 1 "$CT" stats # the variable too
expect_grep "belongs to nobody" "$WORK/err"
expect_exit 0 "$CT" --data "$F" stats --help
expect_grep "Usage: celltrace" "$WORK/out"
expect_exit 0 "$CT" --data "$F" simulate --out "$WORK/city" --subscribers 50 --days 1 --seed 3 --cases 1
# root's own directory: as before
expect_exit 0 "$CT" --data "$WORK/mine" init
expect_exit 0 "$CT" --data "$WORK/mine" stats
echo "root_guard: ok"
