"""Defects of the pooling core found by an audit (issue 12): a login that
crashed the process, a console that queued answers without bound, and a late
cancel that hit the next client's query."""

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

import rawpg
from conftest import free_port, wait_for


# ------------------------------------------------- 1: no re-entry from a close

@pytest.mark.parametrize("sslmode", [None, "disable", "prefer"])
def test_refused_server_with_login_retry_zero_does_not_crash(linkpool, sslmode):
    """server_login_retry = 0 and a server that refuses: every login gets an
    error and the process lives on (a close used to connect again from inside
    itself until the stack overflowed)."""
    ini = {"server_login_retry": "0"}
    if sslmode:
        ini["server_tls_sslmode"] = sslmode
    dead = free_port()  # nothing listens there
    lp = linkpool(ini, databases={"deaddb": f"host=127.0.0.1 port={dead} dbname=testdb"})
    for _ in range(3):
        with pytest.raises(psycopg.OperationalError) as e:
            psycopg.connect(lp.dsn(db="deaddb"), connect_timeout=5)
        assert "connect" in str(e.value)
        assert lp.proc.poll() is None, lp.output_text()[-3000:]
    # several waiting at once, as a burst after an outage would
    with ThreadPoolExecutor(8) as ex:
        futs = [ex.submit(psycopg.connect, lp.dsn(db="deaddb"), connect_timeout=5) for _ in range(8)]
        for f in futs:
            with pytest.raises(psycopg.OperationalError):
                f.result()
    assert lp.proc.poll() is None, lp.output_text()[-3000:]
    with lp.connect() as conn:  # the healthy database is still served
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_refused_unix_socket_with_login_retry_zero(linkpool, tmp_path):
    """The same through a unix socket, whose connect() fails at once."""
    lp = linkpool({"server_login_retry": "0"},
                  databases={"deaddb": f"host={tmp_path} port=5 dbname=testdb"})
    for _ in range(3):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(lp.dsn(db="deaddb"), connect_timeout=5)
    assert lp.proc.poll() is None, lp.output_text()[-3000:]
    with lp.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


# ------------------------------------------- 5: console output is bounded

def test_console_stops_reading_while_its_answers_are_unread(linkpool):
    """A stats user pipelining SHOW CONFIG without reading: linkpool keeps
    at most about one answer queued instead of every answer."""
    # ASan keeps freed memory in a quarantine (256 MB), which RSS would show.
    lp = linkpool(env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:quarantine_size_mb=4"})
    c = lp.raw_login("stats", "pgbouncer")
    one = rawpg.query("SHOW CONFIG;")
    # How big one answer is.
    rows, _, _ = c.run("SHOW CONFIG;")
    assert len(rows) > 50
    before = lp.rss_kb()
    c.sock.setblocking(False)
    sent = 0
    deadline = time.monotonic() + 10
    batch = one * 1000
    # Send until linkpool stops taking bytes (or 200,000 commands).
    while sent < 200000 and time.monotonic() < deadline:
        try:
            n = c.sock.send(batch)
        except BlockingIOError:
            time.sleep(0.05)
            try:
                n = c.sock.send(batch)
            except BlockingIOError:
                break
        sent += n // len(one)
    time.sleep(2.0)
    grown = lp.rss_kb() - before
    # Unbounded, each answer (several KB) stays queued: hundreds of MB.
    assert grown < 20 * 1024, f"RSS grew {grown} kB with {sent} unread commands"
    # The session still works: drain the answers, then ask once more.
    c.sock.setblocking(True)
    c.sock.settimeout(10)
    c.close()
    with psycopg.connect(lp.dsn("stats", "pgbouncer"), autocommit=True) as conn:
        assert len(conn.execute("SHOW CONFIG").fetchall()) > 50
    wait_for(lambda: lp.rss_kb() - before < 20 * 1024, timeout=5,
             what="memory back after the console client left")


def test_console_answers_all_pipelined_commands_in_order(linkpool):
    """Backpressure must not lose or reorder answers."""
    lp = linkpool()
    c = lp.raw_login("admin", "pgbouncer")
    c.send(b"".join(rawpg.query("SHOW VERSION;") for _ in range(200)))
    n = 0
    while n < 200:
        t, _ = c.recv_msg(timeout=10)
        if t == "Z":
            n += 1
    assert n == 200


# --------------------------------------- 9: a late cancel hits nobody else

def test_cancel_race_does_not_hit_the_next_client(linkpool):
    """Many cancels for one client's query while another client waits for the
    same (only) server: the first query is cancelled, the waiting one is not
    (a cancel still in flight when the server was handed over used to land on
    the next client's query)."""
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "1"})
    conn1, conn2 = lp.connect(), lp.connect()
    conn1.execute("SELECT 1")
    conn2.execute("SELECT 1")
    with ThreadPoolExecutor(60) as ex:
        q1 = ex.submit(conn1.execute, "SELECT pg_sleep(4)")
        time.sleep(0.5)
        q2 = ex.submit(conn2.execute, "SELECT pg_sleep(1)")
        time.sleep(0.5)
        cancels = [ex.submit(conn1.cancel) for _ in range(50)]
        for f in cancels:
            f.result(timeout=20)
        with pytest.raises(psycopg.errors.QueryCanceled):
            q1.result(timeout=20)
        q2.result(timeout=20)  # raises QueryCanceled if a late cancel hit it
    assert conn1.execute("SELECT 1").fetchone() == (1,)


def test_cancel_after_the_query_ended_is_not_forwarded(linkpool, pg):
    """Session mode: a cancel for a client that runs nothing reaches no
    backend (its next query is not cancelled by a stale request)."""
    lp = linkpool({"pool_mode": "session"})
    conn = lp.connect()
    conn.execute("SELECT 1")
    for _ in range(5):
        conn.cancel()
    time.sleep(0.3)
    assert conn.execute("SELECT pg_sleep(0.3), 1").fetchone()[1] == 1
    _, _, body = lp.http_get("/metrics")
    text = body.decode()
    assert 'linkpool_cancel_requests_total{result="not_forwarded"} 5' in text
    assert 'linkpool_cancel_requests_total{result="forwarded"} 0' in text


def test_cancel_requester_hears_back_after_delivery(linkpool):
    """The asker's connection closes once PostgreSQL has the cancel; the query
    it named is cancelled right after."""
    lp = linkpool({"pool_mode": "transaction"})
    conn = lp.connect()
    errors = []

    def run():
        try:
            conn.execute("SELECT pg_sleep(10)")
        except psycopg.Error as e:
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.5)
    start = time.monotonic()
    conn.cancel()
    t.join(5)
    assert not t.is_alive()
    assert errors and isinstance(errors[0], psycopg.errors.QueryCanceled)
    assert time.monotonic() - start < 3
    with socket.create_connection((lp.host, lp.port), timeout=5):
        pass
