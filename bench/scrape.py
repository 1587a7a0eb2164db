"""Scrape-time benchmark of linkpool's /metrics with many connected clients.

Starts a throwaway PostgreSQL 15 cluster and linkpool (the test harness's
classes from tests/integration/conftest.py), logs CLIENTS idle clients in
(transaction pooling, so they hold no server), and times SCRAPES sequential
GET /metrics over loopback, before and after the clients connect. Prints the
wall time per scrape (median, p95, max) as the scraper sees it, and
linkpool's own build time (linkpool_scrape_duration_seconds).

Run through bench/scrape.sh (it sets the environment)."""

import os
import resource
import socket
import statistics
import struct
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import conftest  # noqa: E402

CLIENTS = int(os.environ.get("CLIENTS", "10000"))
SCRAPES = int(os.environ.get("SCRAPES", "50"))


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 1024
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
        except (ValueError, OSError):
            sys.exit(f"need {want} file descriptors (ulimit -n); have {soft}/{hard}")


def startup_packet(user, db):
    body = struct.pack("!I", 196608)
    for k, v in (("user", user), ("database", db)):
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def login_many(host, port, n, batch=500):
    """Opens n logged-in client sockets (trust auth); returns them."""
    socks = []
    pkt = startup_packet("scram_user", "testdb")
    while len(socks) < n:
        group = []
        for _ in range(min(batch, n - len(socks))):
            s = socket.create_connection((host, port), timeout=30)
            s.sendall(pkt)
            group.append(s)
        for s in group:
            buf = b""
            while True:  # read messages until ReadyForQuery
                while len(buf) < 5:
                    chunk = s.recv(65536)
                    if not chunk:
                        sys.exit("linkpool closed a client during login")
                    buf += chunk
                t, ln = buf[0:1], struct.unpack("!I", buf[1:5])[0]
                while len(buf) < 1 + ln:
                    buf += s.recv(65536)
                if t == b"E":
                    sys.exit(f"login refused: {buf[5:1 + ln]!r}")
                buf = buf[1 + ln:]
                if t == b"Z":
                    break
        socks += group
    return socks


def scrape(port):
    """One GET /metrics; returns (seconds, body)."""
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n")
    out = []
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        out.append(chunk)
    s.close()
    dt = time.perf_counter() - t0
    data = b"".join(out)
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    head, body = data.split(b"\r\n\r\n", 1)
    return dt, dechunk(body) if b"Transfer-Encoding: chunked" in head else body


def dechunk(body):
    """The payload of a chunked body (the page is streamed in pieces)."""
    out, pos = [], 0
    while True:
        eol = body.index(b"\r\n", pos)
        size = int(body[pos:eol], 16)
        if size == 0:
            return b"".join(out)
        out.append(body[eol + 2:eol + 2 + size])
        pos = eol + 4 + size


def cpu_seconds(pid):
    """User + system CPU time the process has used (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(port, label, pid):
    times, body = [], b""
    cpu0 = cpu_seconds(pid)
    for _ in range(SCRAPES):
        dt, body = scrape(port)
        times.append(dt)
    cpu = (cpu_seconds(pid) - cpu0) / SCRAPES
    times.sort()
    build = next(float(line.split()[1]) for line in body.decode().splitlines()
                 if line.startswith("linkpool_scrape_duration_seconds "))
    used = next(int(line.split()[1]) for line in body.decode().splitlines()
                if line.startswith("pgbouncer_used_clients "))
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(f"{label}: {used} clients connected, {len(body)} bytes, {SCRAPES} scrapes: "
          f"median {statistics.median(times) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms, "
          f"max {times[-1] * 1000:.2f} ms (wall, loopback); build {build * 1000:.3f} ms; "
          f"linkpool CPU {cpu * 1000:.2f} ms per scrape")
    return statistics.median(times)


def main():
    raise_fd_limit(CLIENTS)  # each process (this one, linkpool) holds one end
    pg = conftest.PgCluster()
    lp = None
    socks = []
    try:
        pg.init()
        work = tempfile.mkdtemp(prefix="lp-bench-")
        sockdir = tempfile.mkdtemp(prefix="lp-sock-")
        lp = conftest.Linkpool(pg, work, sockdir)
        lp.write_ini({"auth_type": "trust", "pool_mode": "transaction", "default_pool_size": "4",
                      "max_client_conn": str(CLIENTS + 100), "log_connections": "0",
                      "log_disconnections": "0"})
        lp.start()
        measure(lp.metrics_port, "baseline", lp.pid)
        t0 = time.monotonic()
        socks = login_many(lp.host, lp.port, CLIENTS)
        print(f"logged in {len(socks)} clients in {time.monotonic() - t0:.1f} s")
        median = measure(lp.metrics_port, "loaded", lp.pid)
        goal = 0.050
        print(f"RESULT: median scrape {median * 1000:.2f} ms with {CLIENTS} clients "
              f"({'meets' if median < goal else 'MISSES'} the {goal * 1000:.0f} ms goal)")
        return 0 if median < goal else 1
    finally:
        for s in socks:
            s.close()
        if lp:
            lp.stop()
        pg.destroy()


if __name__ == "__main__":
    sys.exit(main())
