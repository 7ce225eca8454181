# Golden test: a command loads only what it needs. libcurl and
# libmicrohttpd (and the TLS, Kerberos and LDAP libraries behind them) are
# opened by `notify` and `serve` when they start (src/lib/base/netlibs.c),
# not by every ingest and trace; the two that do still work (golden.api,
# golden.notify_e2e) and say which library is missing if it is.
. "$(dirname "$0")/common.bash"
command -v ldd > /dev/null || { echo "SKIP: no ldd" >&2; exit 77; }
ldd "$CT" > "$WORK/needed" || fail "ldd $CT failed"
for lib in libcurl libmicrohttpd libgnutls libssl libkrb5 libldap; do
    if grep -q "$lib" "$WORK/needed"; then
        fail "$CT loads $lib at start: $(grep "$lib" "$WORK/needed")"
    fi
done
# what it does load is the store's own: SQLite, libsodium, compression, JSON
grep -q libsqlite3 "$WORK/needed" || fail "ldd shows no libsqlite3: $(cat "$WORK/needed")"
grep -q libsodium "$WORK/needed" || fail "ldd shows no libsodium: $(cat "$WORK/needed")"
# and a command that does not speak HTTP never opens them
if command -v strace > /dev/null; then
    D="$WORK/data"
    expect_exit 0 "$CT" --data "$D" init
    # LeakSanitizer cannot run under ptrace: an ASan build checks leaks elsewhere
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        strace -f -e trace=openat -o "$WORK/opens" "$CT" --data "$D" stats > "$WORK/out" 2>&1 ||
        fail "stats under strace failed: $(tail -3 "$WORK/out")"
    if grep -E 'lib(curl|microhttpd)' "$WORK/opens" > /dev/null; then
        fail "stats opened libcurl or libmicrohttpd"
    fi
    grep -q libsqlite3 "$WORK/opens" || fail "strace saw no library opened: $(head "$WORK/opens")"
fi
echo "ok"
