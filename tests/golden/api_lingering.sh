# Golden test: clients that hold connections cannot lock others out. A
# client that sends a request shorter than its Content-Length and shuts
# down its side is kept by libmicrohttpd until the 30-s idle timeout; 600
# of them from one address took every one of the server's 512 connections,
# and a /healthz from another address waited 29.5 s (found by the api
# fuzzer, fuzz/README.md). With at most --per-ip connections from one
# address (default 128) the others are answered at once. The clients come
# from 127.0.0.2, the probe from 127.0.0.1 (both loopback).
. "$(dirname "$0")/common.bash"
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed" >&2; exit 77; }
D="$WORK/data"
expect_exit 0 "$CT" --data "$D" init
expect_exit 2 "$CT" --data "$D" serve --per-ip 0
expect_exit 2 "$CT" --data "$D" serve --per-ip 513
serve_start "$D"
port=${URL##*:}
python3 - "$port" 600 >"$WORK/probe.txt" 2>&1 <<'PY' || { cat "$WORK/probe.txt" >&2; fail "a client holding connections locked others out"; }
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
held = []
for _ in range(n):  # short bodies, then the client's side shut down
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(b"POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  b"Content-Length: 86\r\n\r\n" + b"x" * 40)
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # refused beyond the per-address limit: what we want
    held.append(s)
time.sleep(0.5)
worst = 0.0
for _ in range(10):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(60)
    t0 = time.time()
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        answer += b
    worst = max(worst, time.time() - t0)
    s.close()
    if not answer.startswith(b"HTTP/1.1 200"):
        print("bad answer:", answer[:60])
        sys.exit(1)
print("%d held from 127.0.0.2; slowest /healthz from 127.0.0.1: %.2f s" % (n, worst))
sys.exit(0 if worst < 5 else 1)
PY
cat "$WORK/probe.txt" >&2
exit 0
