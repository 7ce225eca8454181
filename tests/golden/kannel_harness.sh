# Golden test of the Kannel harness (kannel.bash) that the notify tests
# stand on; it failed CI once (golden.notify_faults: "smsbox did not start").
#   1. free_port remembers what it gave: ports given twice would make two
#      of Kannel's listeners fight for one port;
#   2. kannel_start waits for bearerbox's smsbox port, not only for its
#      SMSC port: bearerbox opens the two in threads of their own, in no
#      fixed order, and a real smsbox that finds the smsbox port closed
#      exits at once. A stand-in bearerbox opens its SMSC port at once and
#      its smsbox port 1.5 s later; the real smsbox must come up.
# Bounded: the stand-in stops by itself after 30 s; Kannel stops at exit.
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/kannel.bash"
kannel_available || { echo "SKIP: Kannel is not installed (scripts/setup.sh installs it)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }

# ---- 1. free_port ------------------------------------------------------------------
USED_PORTS=
for i in $(seq 1 20); do free_port "P$i" || fail "no free port"; done
given=$(for i in $(seq 1 20); do v="P$i"; echo "${!v}"; done)
[ "$(printf '%s\n' "$given" | sort -u | wc -l)" = 20 ] || fail "free_port gave a port twice: $given"
[ "$(printf '%s\n' $USED_PORTS | wc -l)" = 20 ] || fail "free_port forgot the ports it gave: '$USED_PORTS'"
echo "free_port: 20 distinct ports, all remembered"

# ---- 2. the smsbox port opens after the SMSC port ----------------------------------
mkdir -p "$WORK/bin"
cat >"$WORK/bin/stand-in-bearerbox.py" <<'PY'
# Opens the SMSC port from kannel.conf at once and the smsbox port 1.5 s
# later; holds every connection open; exits after 30 s.
import re, socket, sys, threading, time
conf = open(sys.argv[-1]).read()
def port(key, group):
    block = re.search(r"group = %s\n(.*?)(?:\n\n|\Z)" % group, conf, re.S).group(1)
    return int(re.search(r"^%s = (\d+)" % key, block, re.M).group(1))
held = []
def listen(p, delay):
    time.sleep(delay)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", p))
    s.listen(8)
    while True:
        c, _ = s.accept()
        held.append(c)
for p, delay in ((port("port", "smsc"), 0), (port("smsbox-port", "core"), 1.5)):
    threading.Thread(target=listen, args=(p, delay), daemon=True).start()
time.sleep(30)
PY
printf '#!/bin/sh\nexec python3 "%s" "$@"\n' "$WORK/bin/stand-in-bearerbox.py" >"$WORK/bin/bearerbox"
chmod +x "$WORK/bin/bearerbox"
PATH="$WORK/bin:$PATH" kannel_start
(exec 3<>"/dev/tcp/127.0.0.1/$SENDSMS_PORT") 2>/dev/null || fail "smsbox is not listening"
grep -q "Couldn't connect to the bearerbox" "$WORK/kannel/smsbox.out" &&
    fail "smsbox was started before bearerbox's smsbox port was open"
echo "kannel_start: smsbox started after the smsbox port opened, listening on its sendsms port"
exit 0
