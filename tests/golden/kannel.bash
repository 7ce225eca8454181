# kannel.bash — a private Kannel for tests (sourced after common.bash).
#
# kannel_start starts bearerbox, kannel-extras' fakesmsc (the SMS centre:
# it prints every message it receives) and smsbox, all on 127.0.0.1 with
# free ports, config and logs in $WORK/kannel; never the system's Kannel
# or /etc/kannel. Everything started here is stopped at exit (trap), and
# every wait is bounded. After kannel_start:
#   $KANNEL_SENDSMS   the sendsms URL        $KANNEL_USER / $KANNEL_PASS
#   $FAKESMSC_LOG     what the SMS centre received
#   $DLR_PORT         a free port for celltrace's delivery-report listener
FAKESMSC=${FAKESMSC:-/usr/lib/kannel/test/fakesmsc}
KANNEL_PIDS=()

kannel_available() {
    command -v bearerbox >/dev/null 2>&1 || [ -x /usr/sbin/bearerbox ] || return 1
    [ -x "$FAKESMSC" ]
}

# free_port VAR: sets VAR to a port on 127.0.0.1 that nothing listens on
# (random, probed), below the kernel's ephemeral range: a port from that
# range can be taken, between the probe and Kannel's bind, as the local end
# of any outgoing connection (apt's downloads in the package test, running
# beside, made bearerbox fail with "Address already in use"). It sets VAR
# rather than printing, so that the ports it gave are remembered (a
# $(free_port) ran in a subshell and forgot them: two calls could give one).
free_port() {
    local p i lo=32768 hi
    read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    [ "$lo" -gt 12000 ] || lo=32768
    for i in $(seq 1 50); do
        p=$((10000 + RANDOM % (lo - 10000)))
        case " ${USED_PORTS:-} " in *" $p "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            USED_PORTS="${USED_PORTS:-} $p"
            printf -v "$1" '%s' "$p"
            return 0
        fi
    done
    return 1
}

# wait_port PORT SECONDS [PID]: until something listens on 127.0.0.1:PORT;
# with PID, gives up as soon as that process (the one that should listen)
# has exited.
wait_port() {
    local i
    for i in $(seq 1 $(($2 * 10))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        [ -z "${3:-}" ] || kill -0 "$3" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

kannel_stop_all() {
    local p
    for p in "${KANNEL_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${KANNEL_PIDS[@]}"; do
        for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    KANNEL_PIDS=()
}

kannel_cleanup() {
    serve_stop_at_exit
    kannel_stop_all
    [ -n "${CLEANUP_EXTRA:-}" ] && eval "$CLEANUP_EXTRA"
    if [ "$FAILED" = 0 ]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap kannel_cleanup EXIT

kannel_write_config() {
    local K=$WORK/kannel
    mkdir -p "$K/store"
    KANNEL_USER=ct
    KANNEL_PASS=secret-$RANDOM
    cat >"$K/kannel.conf" <<CONF
group = core
admin-port = $ADMIN_PORT
admin-interface = 127.0.0.1
admin-password = adm-$RANDOM
admin-allow-ip = 127.0.0.1
smsbox-port = $BOX_PORT
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = $K/bearerbox.log
log-level = 1
dlr-storage = internal
store-type = file
store-location = $K/store/kannel.store

group = smsc
smsc = fake
smsc-id = FAKE
port = $SMSC_PORT
connect-allow-ip = 127.0.0.1
our-host = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $BOX_PORT
sendsms-port = $SENDSMS_PORT
sendsms-interface = 127.0.0.1
log-file = $K/smsbox.log
log-level = 0
http-request-retry = 5
http-queue-delay = 1

group = sendsms-user
username = $KANNEL_USER
password = $KANNEL_PASS
max-messages = 10
concatenation = true
CONF
}

# kannel_prepare: ports and config (kannel_start does it when not done).
kannel_prepare() {
    free_port ADMIN_PORT && free_port BOX_PORT && free_port SMSC_PORT &&
        free_port SENDSMS_PORT && free_port DLR_PORT || fail "no free ports"
    kannel_write_config
    KANNEL_SENDSMS="http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms"
}

# kannel_failed WHAT FILE: fails the test with the end of a box's output,
# so that a CI log says why (the kept work folder is gone with the machine).
kannel_failed() {
    echo "--- last lines of $2:" >&2
    tail -n 15 "$2" >&2 2>/dev/null
    fail "$1 did not start (see $2)"
}

# kannel_start: the three processes; fails the test when they do not come up.
# bearerbox opens its SMSC port and its smsbox port in two threads of their
# own, in no fixed order, and smsbox gives up at once (PANIC "Couldn't
# connect to the bearerbox") when the smsbox port is not open yet: wait for
# both. An smsbox that still exits before it listens is started again.
kannel_start() {
    local K=$WORK/kannel try pid
    [ -n "${SENDSMS_PORT:-}" ] || kannel_prepare
    FAKESMSC_LOG=$K/fakesmsc.log
    bearerbox -v 4 "$K/kannel.conf" >"$K/bearerbox.out" 2>&1 &
    KANNEL_PIDS+=($!)
    wait_port "$SMSC_PORT" 10 && wait_port "$BOX_PORT" 10 ||
        kannel_failed bearerbox "$K/bearerbox.out"
    "$FAKESMSC" -H 127.0.0.1 -r "$SMSC_PORT" -m 0 "1 2 text x" >>"$FAKESMSC_LOG" 2>&1 &
    KANNEL_PIDS+=($!)
    for try in 1 2 3; do
        smsbox -v 4 "$K/kannel.conf" >>"$K/smsbox.out" 2>&1 &
        pid=$!
        KANNEL_PIDS+=($pid)
        wait_port "$SENDSMS_PORT" 10 "$pid" && break
        kill -0 "$pid" 2>/dev/null && kannel_failed smsbox "$K/smsbox.out"
        echo "smsbox exited before it listened (try $try of 3)" >&2
        [ "$try" = 3 ] && kannel_failed smsbox "$K/smsbox.out"
        sleep 0.5
    done
    KANNEL_SENDSMS="http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms"
}

# configure_celltrace DATA: points a data directory at this Kannel.
configure_celltrace() {
    local D=$1
    "$CT" --data "$D" config set sms.gateway_url "$KANNEL_SENDSMS" >/dev/null || fail "config"
    "$CT" --data "$D" config set sms.username "$KANNEL_USER" >/dev/null || fail "config"
    "$CT" --data "$D" config set sms.password "$KANNEL_PASS" >/dev/null || fail "config"
    "$CT" --data "$D" config set sms.dlr_listen "127.0.0.1:$DLR_PORT" >/dev/null || fail "config"
    "$CT" --data "$D" config set sms.quiet_hours off >/dev/null || fail "config"
    "$CT" --data "$D" config set sms.rate 1000 >/dev/null || fail "config"
    "$CT" --data "$D" config set sms.retry_base_s 1 >/dev/null || fail "config"
    "$CT" --data "$D" config set sms.retry_max_s 2 >/dev/null || fail "config"
    "$CT" --data "$D" config set sms.timeout_s 5 >/dev/null || fail "config"
    # Every contact of the net at level quarantine, whatever it scores: these
    # tests are about the way to people, not the risk model (levels and their
    # messages: run_levels.sh).
    "$CT" --data "$D" config set risk.test 1e-300 >/dev/null || fail "config"
    "$CT" --data "$D" config set risk.quarantine 1e-300 >/dev/null || fail "config"
}

# received: "number<TAB>text" per message the SMS centre got; concatenated
# parts are joined, UCS-2 decoded to UTF-8.
received() {
    grep -a 'Got message' "$FAKESMSC_LOG" | perl -CS -ne '
        use Encode;
        sub unesc { my $s = shift; $s =~ s/\+/ /g; $s =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge; $s }
        next unless /Got message \d+: <(.*)>$/;
        my @f = split / /, $1;
        my ($to, $type) = @f[1, 2];
        if ($type eq "udh") {
            my $udh = unesc($f[3]);
            my ($ref, $total, $seq) = map { ord } split //, substr($udh, 3, 3);
            my $body = unesc($f[5]);
            $body = decode("UCS-2BE", $body) if $f[4] eq "data";
            $part{"$to/$ref"}[$seq] = $body;
            if ($seq == $total) {
                print "$to\t", join("", @{$part{"$to/$ref"}}[1 .. $total]), "\n";
                delete $part{"$to/$ref"};
            }
        } elsif ($type eq "ucs-2") {
            print "$to\t", decode("UCS-2BE", unesc($f[3])), "\n";
        } else {
            print "$to\t", join(" ", @f[3 .. $#f]), "\n";
        }'
}
