"""Hostile clients in numbers (issue 19, item 4): memory stays under a bound
and a well-behaved client keeps being served.

The bound, in docs/config.md's terms. A client connection holds one client
object (under 1 KiB with its names) and, only while bytes wait in it, one
`pkt_buf` block; a login packet longer than `pkt_buf` (a startup packet, up
to PostgreSQL's 10,000 bytes) is assembled apart, 16 MiB for all logins
together. The data path never buffers more than one `pkt_buf` per
connection: a server whose client does not read is not read either, and a
message longer than the buffer streams through in buffer-sized pieces. So
over the process before the hostile clients came:

    N connections still logging in:     N x (pkt_buf + 1 KiB) + 16 MiB
    N logged-in clients, S servers:     (N + S) x (pkt_buf + 1 KiB)
    one message of any length:          a few pkt_buf

plus 1 MiB in every case for the allocator and the event loop's own tables
(an epoll result array, arena growth).

Under AddressSanitizer (CI's build) every allocation carries redzones and
its shadow, and freed memory waits in a quarantine before reuse: the test
allows ASAN_FACTOR times the per-connection figure and adds the quarantine
(ASAN_QUARANTINE_MB, set in linkpool's ASAN_OPTIONS here) to the constant.

Each case runs a Probe beside the hostile clients: a query every 50 ms on a
logged-in connection and a fresh login every second, each answer timed.
Figures go to the reliability record (record.py) when LP_RECORD is set.
"""

import os
import resource
import select
import socket
import struct
import threading
import time

import pytest

import rawpg
from conftest import LINKPOOL_BIN, PASSWORDS, wait_for
from record import record

USER = "trust_user"       # md5 to linkpool, trust to PostgreSQL: cheap logins
PW = PASSWORDS[USER]
PKT_BUF = 4096            # linkpool's default pkt_buf, used by every case here
CLIENT_OBJECT = 1024      # a client object with its names, rounded up
LOGIN_BUF_TOTAL = 16 * 1024 * 1024
ALLOCATOR_SLACK = 1024 * 1024
ASAN_QUARANTINE_MB = 16
ASAN_FACTOR = 3
PROBE_MAX_LATENCY_S = 8.0  # ASan on a busy machine; the probe shares the GIL with the test
PG_LARGEST_MESSAGE = (1 << 30) - 2  # PostgreSQL's PQ_LARGE_MESSAGE_LIMIT (MaxAllocSize - 1)


def _is_asan(path=LINKPOOL_BIN):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


ASAN = _is_asan()


def _env():
    """linkpool's environment: a bounded ASan quarantine (see the header)."""
    opts = os.environ.get("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    return {"ASAN_OPTIONS": f"{opts}:quarantine_size_mb={ASAN_QUARANTINE_MB}"}


def _bound_kb(per_conn_count, constant_bytes=0):
    """The documented bound over the base RSS, in KiB."""
    per = (PKT_BUF + CLIENT_OBJECT) * (ASAN_FACTOR if ASAN else 1)
    extra = ASAN_QUARANTINE_MB * 1024 * 1024 if ASAN else 0
    return (per_conn_count * per + constant_bytes + ALLOCATOR_SLACK + extra) // 1024


def _need_fds(n):
    """This process (and linkpool, which inherits the hard limit) may open n descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= n:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, max(n, hard)))
    except (ValueError, OSError) as e:
        pytest.skip(f"needs {n} descriptors; the limit is {soft}/{hard} and cannot be raised: {e}")


def _fd_count(lp):
    return len(os.listdir(f"/proc/{lp.pid}/fd"))


class Sampler(threading.Thread):
    """linkpool's RSS (KiB) and descriptor count every 100 ms."""

    def __init__(self, lp):
        super().__init__(daemon=True)
        self.lp = lp
        self.stop = threading.Event()
        self.rss_max = 0
        self.fds_max = 0

    def run(self):
        while not self.stop.is_set():
            try:
                self.rss_max = max(self.rss_max, self.lp.rss_kb())
                self.fds_max = max(self.fds_max, _fd_count(self.lp))
            except OSError:
                return
            self.stop.wait(0.1)

    def finish(self):
        self.stop.set()
        self.join(5)


class Probe(threading.Thread):
    """A well-behaved client: SELECT every 50 ms on one connection, a new
    login (and its first query) every second; every failure is kept."""

    def __init__(self, lp, db):
        super().__init__(daemon=True)
        self.lp, self.db = lp, db
        self.stop = threading.Event()
        self.query_s, self.login_s, self.errors = [], [], []
        self.started = time.monotonic()

    def _login(self):
        c = rawpg.RawConn(self.lp.host, self.lp.port, timeout=10)
        c.login(USER, self.db, PW)
        return c

    def run(self):
        try:
            conn = self._login()
        except Exception as e:  # noqa: BLE001 - reported by check()
            self.errors.append(f"first login: {e!r}")
            return
        last_login = time.monotonic()
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                assert conn.run("SELECT 1", timeout=10)[0] == [("1",)]
                self.query_s.append(time.monotonic() - t0)
            except Exception as e:  # noqa: BLE001
                self.errors.append(f"query: {e!r}")
                return
            if time.monotonic() - last_login >= 1.0:
                last_login = t0 = time.monotonic()
                try:
                    c = self._login()
                    assert c.run("SELECT 2", timeout=10)[0] == [("2",)]
                    c.close()
                    self.login_s.append(time.monotonic() - t0)
                except Exception as e:  # noqa: BLE001
                    self.errors.append(f"login: {e!r}")
            self.stop.wait(0.05)
        conn.close()

    def finish(self):
        """Stops the probe (after 2.5 s at least, so that it logged in
        again) and asserts it was served throughout; returns its figures."""
        while time.monotonic() - self.started < 2.5 and self.is_alive():
            time.sleep(0.1)
        self.stop.set()
        self.join(15)
        assert not self.errors, f"the well-behaved client was not served: {self.errors[:3]}"
        assert len(self.query_s) >= 10 and self.login_s, (len(self.query_s), len(self.login_s))
        q = sorted(self.query_s)
        worst = max(q[-1], max(self.login_s))
        assert worst < PROBE_MAX_LATENCY_S, f"the well-behaved client waited {worst:.2f}s"
        return {"probe_queries": len(q), "probe_logins": len(self.login_s),
                "probe_query_max_ms": round(q[-1] * 1000, 1),
                "probe_login_max_ms": round(max(self.login_s) * 1000, 1)}


def _base_rss(lp):
    """RSS once a few logins have warmed the process."""
    for _ in range(3):
        c = rawpg.RawConn(lp.host, lp.port, timeout=10)
        c.login(USER, "testdb", PW)
        c.run("SELECT 1")
        c.close()
    time.sleep(0.3)
    return lp.rss_kb()


def _check_bound(case, base, sampler, bound_kb, connections, outcome, probe):
    """Records the case (one row of docs/reliability.md's table) and asserts
    the RSS growth stayed under bound_kb."""
    growth = sampler.rss_max - base
    figures = dict(connections=connections, rss_base_kb=base, rss_growth_kb=growth,
                   rss_bound_kb=bound_kb, fds_peak=sampler.fds_max, asan=ASAN,
                   outcome=outcome, **probe)
    record("hostile", case, **figures)
    assert growth <= bound_kb, (f"{case}: RSS grew {growth} KiB over {base} KiB, bound {bound_kb} KiB",
                                figures)


# ------------------------------------------------ 10,000 unfinished startup packets

def _half_started(port, kind):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    if kind == 1:      # one byte of the length word
        s.send(b"\x00")
    elif kind == 2:    # a startup packet announcing PostgreSQL's 10,000 bytes, 100 of them sent
        s.send(struct.pack("!II", 10000, 196608) + b"user\x00" + b"u" * 91)
    elif kind == 3:    # SSLRequest, then nothing (its 'N' is never read)
        s.send(rawpg.ssl_request())
    return s           # kind 0: connected, silent


def _refused(socks):
    """The sockets among socks that got an ErrorResponse, each checked to be
    53300 (the long login packets in progress are at their 16 MiB)."""
    p = select.poll()
    by_fd = {s.fileno(): s for s in socks}
    for s in socks:
        p.register(s, select.POLLIN)
    out = []
    while True:
        ready = p.poll(2000)
        if not ready:
            return out
        for fd, _ in ready:
            s = by_fd[fd]
            p.unregister(fd)
            data = s.recv(4096)
            fields = rawpg.parse_error_fields(data[5:]) if data[:1] == b"E" else {}
            assert fields.get("C") == "53300", data
            out.append(s)


@pytest.mark.timeout(200)
def test_ten_thousand_unfinished_startup_packets(linkpool):
    """10,000 connections that never finish their startup packet: a quarter
    silent, a quarter with one byte, a quarter halfway into a 10,000-byte
    startup packet, a quarter after an SSLRequest. linkpool holds them
    (max_client_conn above them, tcp_defer_accept off so that the silent ones
    reach it too) but for the long packets past the 16 MiB of login_buf,
    which it refuses (53300); it keeps serving, stays under the bound, and
    client_login_timeout closes every one of them."""
    n = 10_000
    _need_fds(n + 1000)
    lp = linkpool({"max_client_conn": str(n + 100), "client_login_timeout": "30",
                   "tcp_defer_accept": "0", "listen_backlog": "4096"}, env=_env())
    base, base_fds = _base_rss(lp), _fd_count(lp)
    sampler, probe = Sampler(lp), Probe(lp, "testdb")
    sampler.start()
    probe.start()
    socks = []
    try:
        t0 = time.monotonic()
        for i in range(n):
            socks.append(_half_started(lp.port, i % 4))
        opened_s = time.monotonic() - t0
        refused = _refused(socks[2::4])
        assert n // 4 - len(refused) >= LOGIN_BUF_TOTAL // 10000, len(refused)
        held = n - len(refused)
        wait_for(lambda: _fd_count(lp) >= base_fds + held, timeout=30,
                 what=f"linkpool holding {held} clients")
        time.sleep(3)
        rss_held = lp.rss_kb()
        # client_login_timeout (30 s after each accept) closes them all
        wait_for(lambda: _fd_count(lp) <= base_fds + 5, timeout=60, interval=0.5,
                 what="client_login_timeout closing the unfinished logins")
        closed_after_s = round(time.monotonic() - t0, 1)
        figures = probe.finish()
    finally:
        sampler.finish()
        probe.stop.set()
        for s in socks:
            s.close()
    _check_bound("10,000 unfinished startup packets", base, sampler,
                 _bound_kb(n, LOGIN_BUF_TOTAL), n,
                 f"opened in {opened_s:.1f} s; {held:,} held ({rss_held:,} KiB RSS), "
                 f"{len(refused)} long packets past login_buf's 16 MiB refused with 53300; "
                 f"all closed by client_login_timeout (30 s) {closed_after_s} s after the first",
                 figures)


# ------------------------------------------------ 1,000 clients that never read

def _non_reader(lp, i):
    c = rawpg.RawConn(lp.host, lp.port, timeout=10)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.login(USER, "testdb", PW)
    if i % 2 == 0:     # a 20 MB result
        c.send(rawpg.query("SELECT repeat('x', 1000), g FROM generate_series(1, 20000) g"))
    else:              # as many pipelined queries as the socket takes at once
        c.sock.setblocking(False)
        try:
            c.sock.send(rawpg.query("SELECT 1") * 4000)
        except BlockingIOError:
            pass
        c.sock.setblocking(True)
    return c


def _pool_row(lp, db):
    rows = [r for r in lp.admin_rows("SHOW POOLS") if r["database"] == db and r["user"] == USER]
    return rows[0] if rows else {}


@pytest.mark.timeout(200)
def test_thousand_clients_that_never_read(linkpool, pg):
    """1,000 logged-in clients send queries (half a 20 MB result, half
    thousands of pipelined queries) and never read an answer. Their pool's
    20 servers are held by the first of them, the rest wait; nothing is
    buffered past one pkt_buf per connection. Another pool's client is served
    throughout; once the hostile clients go (RST), their pool serves again
    on fresh or clean servers."""
    n, servers = 1000, 20
    _need_fds(n + 500)
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": str(servers),
                   "max_client_conn": str(n + 100)}, env=_env())
    base = _base_rss(lp)
    sampler, probe = Sampler(lp), Probe(lp, "otherdb")
    sampler.start()
    probe.start()
    clients = []
    try:
        t0 = time.monotonic()
        for i in range(n):
            clients.append(_non_reader(lp, i))
        opened_s = time.monotonic() - t0
        row = wait_for(lambda: (lambda r: r if r.get("cl_active", 0) + r.get("cl_waiting", 0) >= n
                                else None)(_pool_row(lp, "testdb")), timeout=30,
                       what="SHOW POOLS counting the 1,000 clients")
        assert row["sv_active"] == servers, row
        time.sleep(3)
        row = _pool_row(lp, "testdb")
        held = {"cl_active": row["cl_active"], "cl_waiting": row["cl_waiting"],
                "sv_active": row["sv_active"]}
        # they leave without reading (RST): the pool serves a new client again
        t1 = time.monotonic()
        for c in clients:
            c.close(abort=True)
        clients = []
        c = rawpg.RawConn(lp.host, lp.port, timeout=30)
        c.login(USER, "testdb", PW)
        assert c.run("SELECT 'after'", timeout=30)[0] == [("after",)]
        assert c.run("SHOW application_name", timeout=10)[2] == "I"
        recovered_s = round(time.monotonic() - t1, 2)
        c.close()
        figures = probe.finish()
    finally:
        sampler.finish()
        probe.stop.set()
        for c in clients:
            c.close(abort=True)
    _check_bound("1,000 clients that never read", base, sampler, _bound_kb(n + servers), n,
                 f"logged in and sent in {opened_s:.1f} s; SHOW POOLS: {held['sv_active']} servers "
                 f"held, {held['cl_waiting']} clients waiting; their pool served a new client "
                 f"{recovered_s} s after they left (RST)", figures)


# ------------------------------------------------ a client announcing a 1 GB message

@pytest.mark.timeout(150)
def test_client_announcing_a_one_gigabyte_message(linkpool, pg):
    """A Query announcing 1 GiB - 2 bytes (the longest PostgreSQL reads) streams
    through to the server in pkt_buf-sized pieces: 128 MB of it pass while
    linkpool's RSS stays flat, and when the client vanishes mid-message the
    half-sent server is closed, never reused. With max_packet_size set, the
    same header is refused at once with 08P01; during login, a password
    message announcing 1 GB is refused too. Another client is served
    throughout."""
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "2"}, env=_env())
    base = _base_rss(lp)
    sampler, probe = Sampler(lp), Probe(lp, "otherdb")
    sampler.start()
    probe.start()
    try:
        c = rawpg.RawConn(lp.host, lp.port, timeout=30)
        c.login(USER, "testdb", PW)
        c.send(b"Q" + struct.pack("!I", PG_LARGEST_MESSAGE))
        chunk = b"x" * (1 << 20)
        t0 = time.monotonic()
        for _ in range(128):
            c.send(chunk)
        stream_s = time.monotonic() - t0
        c.close(abort=True)
        # the pool's servers are clean: the half-fed one was closed
        for _ in range(3):
            d = rawpg.RawConn(lp.host, lp.port, timeout=30)
            d.login(USER, "testdb", PW)
            assert d.run("SELECT 'clean'", timeout=30)[0] == [("clean",)]
            d.close()

        # max_packet_size: refused at the header
        lp.write_ini({"max_packet_size": "1048576"})
        lp.admin("RELOAD")
        assert lp.admin("SHOW CONFIG") and any(
            r[0] == "max_packet_size" and r[1] == "1048576" for r in lp.admin("SHOW CONFIG"))
        e = rawpg.RawConn(lp.host, lp.port, timeout=10)
        e.login(USER, "testdb", PW)
        e.send(b"Q" + struct.pack("!I", 1 << 30))
        res = e.error_or_close(timeout=10)
        assert isinstance(res, rawpg.PgError) and res.sqlstate == "08P01", res
        e.close()

        # during login: a password message announcing 1 GB
        f = rawpg.RawConn(lp.host, lp.port, timeout=10)
        f.send(rawpg.startup(USER, "testdb"))
        assert f.recv_msg()[0] == "R"
        f.send(b"p" + struct.pack("!I", 1 << 30) + b"x" * 1000)
        res = f.error_or_close(timeout=10)
        assert res == "closed" or isinstance(res, rawpg.PgError), res
        f.close()
        figures = probe.finish()
    finally:
        sampler.finish()
        probe.stop.set()
    _check_bound("a client announcing a 1 GB message", base, sampler, _bound_kb(8), 1,
                 f"128 MB of it streamed to PostgreSQL at {128 / stream_s:.0f} MB/s, the half-fed "
                 f"server closed when the client left; refused with 08P01 under max_packet_size; "
                 f"a 1 GB password message refused at login", figures)
