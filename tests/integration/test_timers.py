"""Server health and timers over time (issue 16): what a client sees while
PostgreSQL restarts or refuses logins for a moment, while its pool is at a
limit, and what the timers do (query_timeout on a queued query,
query_wait_timeout per user and per database, query_wait_notify,
login_notify_message, idle_transaction_timeout around a long query,
pool_idle_timeout, min_pool_size of a forced user, the empty check query).
"""

import socket
import struct
import threading
import time

import psycopg
import pytest

import rawpg
from conftest import PASSWORDS, wait_for


class Gate:
    """A loopback stand-in for PostgreSQL's port: each connection is either
    refused with an ErrorResponse (the first `refuse` ones, with `sqlstate`)
    or forwarded to the real server, both ways, on its own threads. With
    listen=False nothing listens until open() (a connection is refused by the
    kernel, as for a server that is down)."""

    def __init__(self, target_port, refuse=0, sqlstate="57P03",
                 message="the database system is starting up", listen=True):
        self.target = target_port
        self.refuse = refuse
        self.sqlstate = sqlstate
        self.message = message
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = rawpg.bind_low_port(self.sock)
        self.accepted = 0
        self.sent = bytearray()     # what the pooler sent PostgreSQL
        self.cut_on = None          # bytes from the pooler that end their connection (once)
        self.stop = False
        self.threads = []
        if listen:
            self.open()
        else:
            self.sock.close()

    def open(self):
        if self.sock.fileno() < 0:
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)

    def _accept(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            if self.refuse > 0:
                self.refuse -= 1
                self._refuse(c)
                continue
            try:
                up = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                c.close()
                continue
            for a, b, rec in ((c, up, self.sent), (up, c, None)):
                t = threading.Thread(target=self._pump, args=(a, b, rec), daemon=True)
                t.start()
                self.threads.append(t)

    def _refuse(self, c):
        with c:
            c.settimeout(5)
            try:
                (n,) = struct.unpack("!I", rawpg.recv_exact(c, 4))
                rawpg.recv_exact(c, n - 4)
                body = (b"SFATAL\x00VFATAL\x00C" + self.sqlstate.encode() + b"\x00M" +
                        self.message.encode() + b"\x00\x00")
                c.sendall(rawpg.msg("E", body))
            except OSError:
                pass

    def _pump(self, a, b, record):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                if record is not None:
                    if self.cut_on and self.cut_on in data:
                        self.cut_on = None      # the backend "dies" at this request
                        break
                    record += data
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.sock.close()


@pytest.fixture
def gate(pg):
    made = []

    def factory(**kw):
        g = Gate(pg.port, **kw)
        made.append(g)
        return g

    yield factory
    for g in made:
        g.close()


def entry(pg, port, **kw):
    parts = [f"host=127.0.0.1 port={port} dbname=testdb"] + [f"{k}={v}" for k, v in kw.items()]
    return " ".join(parts)


# ------------------------------------------------------------ server logins

def test_client_waits_for_a_server_that_was_down(linkpool, pg, gate):
    """Connection refused: the client waits and the pool tries again after
    server_login_retry (it used to be refused at once)."""
    g = gate(listen=False)
    lp = linkpool({"server_login_retry": "1", "server_tls_sslmode": "disable"},
                  databases={"gated": entry(pg, g.port)})
    threading.Timer(0.5, g.open).start()
    start = time.monotonic()
    with psycopg.connect(lp.dsn(db="gated"), autocommit=True) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    assert 0.8 < time.monotonic() - start < 8
    assert "closing because: connect failed" in lp.log_text()


def test_client_waits_through_57p03(linkpool, pg, gate):
    """"the database system is starting up" (57P03) during a server login is
    a moment of a restart: the waiting clients stay for the retry."""
    g = gate(refuse=1)
    lp = linkpool({"server_login_retry": "1", "server_tls_sslmode": "disable"},
                  databases={"gated": entry(pg, g.port)})
    with psycopg.connect(lp.dsn(db="gated"), autocommit=True) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    assert g.accepted >= 2
    assert "the database system is starting up" in lp.log_text()


def test_login_refusal_still_reaches_waiting_clients(linkpool, pg, gate):
    """A refusal that is no moment (a bad password: 28P01) is told to the
    client at once, as before."""
    g = gate(refuse=5, sqlstate="28P01", message="password authentication failed")
    lp = linkpool({"server_login_retry": "5", "server_tls_sslmode": "disable"},
                  databases={"gated": entry(pg, g.port)})
    start = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(lp.dsn(db="gated"), autocommit=True)
    assert time.monotonic() - start < 3


def test_connect_timeout_then_query_timeout_for_the_queued_client(linkpool, pg):
    """A server that never answers the login: closed after
    server_connect_timeout ("connect timeout"), the queued client ends at
    query_timeout, not with the connect error."""
    silent = socket.socket()
    port = rawpg.bind_low_port(silent)
    silent.listen(8)   # accepts (the kernel does), never answers
    try:
        lp = linkpool({"server_connect_timeout": "1", "query_timeout": "2",
                       "server_login_retry": "0", "server_tls_sslmode": "disable"},
                      databases={"silent": entry(pg, port)})
        start = time.monotonic()
        with pytest.raises(psycopg.OperationalError, match="query_timeout"):
            psycopg.connect(lp.dsn(db="silent"), autocommit=True)
        assert 1.8 < time.monotonic() - start < 6
        assert "closing because: connect timeout" in lp.log_text()
    finally:
        silent.close()


# ------------------------------------------------------------ limits

def test_max_db_connections_waits_and_evicts_another_pools_idle_server(linkpool, pg):
    """At max_db_connections a client of another user waits (it was refused
    with "no server connection available") and gets a server once an idle one
    of the other pool is closed for it ("evicted")."""
    lp = linkpool({"pool_mode": "transaction"},
                  databases={"limited": pg.db_entry("testdb", max_db_connections=1)})
    a = lp.connect(user="scram_user", db="limited")
    assert a.execute("SELECT 1").fetchone() == (1,)     # its server is idle now
    b = lp.connect(user="md5_user", db="limited")
    assert b.execute("SELECT current_user").fetchone() == ("md5_user",)
    assert "closing because: evicted" in lp.log_text()
    assert len(pg.backends(db="testdb")) <= 1


def test_reserve_pool_logs_each_connection(linkpool, pg):
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "1",
                   "reserve_pool_size": "1", "reserve_pool_timeout": "0.5"})
    holder = lp.connect()
    holder.execute("BEGIN")
    holder.execute("SELECT 1")
    waiter = lp.connect()
    assert waiter.execute("SELECT 2").fetchone() == (2,)
    assert lp.log_text().count("taking connection from reserve_pool") == 1
    holder.execute("COMMIT")


# ------------------------------------------------------------ timers

def test_query_timeout_counts_a_queued_query(linkpool):
    lp = linkpool({"pool_mode": "session", "default_pool_size": "1", "query_timeout": "1",
                   "query_wait_timeout": "100"})
    blocker = lp.connect()
    blocker.execute("SELECT 1")
    start = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="query_timeout"):
        with psycopg.connect(lp.dsn(), autocommit=True) as c:
            c.execute("SELECT 1")
    assert 0.8 < time.monotonic() - start < 5


def test_running_query_timeout_is_logged_as_query_timeout(linkpool):
    lp = linkpool({"query_timeout": "1"})
    c = lp.connect()
    with pytest.raises(psycopg.OperationalError, match="query timeout"):
        c.execute("SELECT pg_sleep(5)")
    assert "closing because: query timeout" in lp.log_text()


@pytest.mark.parametrize("where", ["user", "database"])
def test_query_wait_timeout_per_user_and_database(linkpool, pg, where):
    users = {"scram_user": "query_wait_timeout=1"} if where == "user" else {}
    dbkw = {"query_wait_timeout": "1"} if where == "database" else {}
    lp = linkpool({"pool_mode": "session", "query_wait_timeout": "200"},
                  databases={"one": pg.db_entry("testdb", pool_size=1, **dbkw)},
                  users_section=users)
    blocker = lp.connect(db="one")
    blocker.execute("SELECT 1")
    start = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="query_wait_timeout"):
        with psycopg.connect(lp.dsn(db="one"), autocommit=True) as c:
            c.execute("SELECT 1")
    assert 0.8 < time.monotonic() - start < 5


def test_query_wait_notify(linkpool):
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "1",
                   "query_wait_notify": "1"})
    holder = lp.connect()
    t = threading.Thread(target=lambda: holder.execute("SELECT pg_sleep(2.5)"))
    t.start()
    time.sleep(0.3)
    notices = []
    c = lp.connect()
    c.add_notice_handler(lambda d: notices.append(d.message_primary))
    assert c.execute("SELECT 1").fetchone() == (1,)
    t.join()
    assert notices == ["No server connection available in postgres backend, client being queued"]
    # a wait shorter than query_wait_notify says nothing
    assert c.execute("SELECT 2").fetchone() == (2,)
    assert len(notices) == 1


def test_login_notify_message(linkpool):
    lp = linkpool({"login_notify_message": "welcome to the pool"})
    r = lp.raw_login()
    assert [n["M"] for n in r.notices] == ["welcome to the pool"]
    assert r.notices[0]["S"] == "NOTICE"


def test_idle_transaction_timeout_spares_a_long_query(linkpool):
    lp = linkpool({"pool_mode": "transaction", "idle_transaction_timeout": "1"})
    c = lp.connect()
    c.execute("BEGIN")
    c.execute("SELECT pg_sleep(1.5)")
    time.sleep(0.6)
    assert c.execute("SELECT 1").fetchone() == (1,)
    c.execute("COMMIT")
    # truly idle in the transaction: closed
    c.execute("BEGIN")
    time.sleep(2)
    with pytest.raises(psycopg.OperationalError):
        c.execute("SELECT 1")


def test_pool_idle_timeout(linkpool, pg):
    lp = linkpool({"pool_idle_timeout": "1", "server_idle_timeout": "1"})
    with psycopg.connect(lp.dsn(), autocommit=True) as c:
        c.execute("SELECT 1")
    assert any(r[0] == "testdb" for r in lp.admin("SHOW POOLS"))
    lp.wait_log(r"cleaning up idle pool testdb/scram_user", timeout=6)
    assert not any(r[0] == "testdb" for r in lp.admin("SHOW POOLS"))
    with psycopg.connect(lp.dsn(), autocommit=True) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_forced_user_min_pool_size_filled_after_reload(linkpool, pg):
    lp = linkpool()
    lp.write_ini(databases={"forced": pg.db_entry("otherdb", user="trust_user", min_pool_size=2)})
    lp.reload()
    wait_for(lambda: len(pg.backends(user="trust_user", db="otherdb")) == 2, timeout=5,
             what="min_pool_size servers of the forced user without any client")


def test_empty_server_check_query(linkpool, pg, gate):
    """The default server_check_query (<empty>, PgBouncer 1.25's) is an empty
    Query before a server is reused: the cheapest round trip."""
    g = gate()
    lp = linkpool({"pool_mode": "transaction", "server_check_delay": "0",
                   "server_tls_sslmode": "disable"},
                  databases={"gated": entry(pg, g.port, pool_size=1)})
    c = lp.connect(db="gated")
    pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
    empty_query = rawpg.query("")
    # a server fresh from its login is not checked (as in PgBouncer)
    assert bytes(g.sent).count(empty_query) == 0
    assert c.execute("SELECT pg_backend_pid()").fetchone()[0] == pid
    assert bytes(g.sent).count(empty_query) == 1
    assert b"select 1" not in bytes(g.sent).lower()


def test_server_dying_under_the_check_query_is_not_the_clients_error(linkpool, pg, gate):
    """The backend goes away while the check query runs (a restart racing the
    reuse): the client is queued again and served by a new server, instead of
    getting "server connection closed"."""
    g = gate()
    lp = linkpool({"pool_mode": "transaction", "server_check_delay": "0",
                   "server_tls_sslmode": "disable"},
                  databases={"gated": entry(pg, g.port, pool_size=1)})
    c = lp.connect(db="gated")
    pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
    g.cut_on = rawpg.query("")
    assert c.execute("SELECT pg_backend_pid()").fetchone()[0] != pid
    assert g.cut_on is None
    assert "server connection closed" not in lp.log_text()


def test_server_that_died_while_idle_is_not_handed_out(linkpool, pg, gate):
    g = gate()
    lp = linkpool({"pool_mode": "transaction", "server_tls_sslmode": "disable"},
                  databases={"gated": entry(pg, g.port, pool_size=1)})
    c = lp.connect(db="gated")
    pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
    pg.sql(f"SELECT pg_terminate_backend({pid})")
    time.sleep(0.3)
    assert c.execute("SELECT pg_backend_pid()").fetchone()[0] != pid


# ------------------------------------------------------------ limits at login

def test_max_client_conn_answers_the_ssl_request_first(linkpool):
    """A client past max_client_conn that starts with an SSLRequest (libpq's
    sslmode=prefer) gets its answer, then the refusal at its StartupMessage:
    an ErrorResponse in answer to the SSLRequest is one libpq does not show."""
    lp = linkpool({"max_client_conn": "2"})
    held = [lp.connect() for _ in range(2)]
    r = lp.raw()
    r.send(rawpg.ssl_request())
    assert r.recv_bytes(1) == b"N"
    r.send(rawpg.startup("scram_user", "testdb"))
    err = r.error_or_close()
    assert isinstance(err, rawpg.PgError), err
    assert err.sqlstate == "53300" and "max_client_conn" in err.message
    with pytest.raises(psycopg.OperationalError, match="max_client_conn"):
        psycopg.connect(lp.dsn(sslmode="prefer"))
    held[0].close()
    wait_for(lambda: psycopg.connect(lp.dsn(), autocommit=True).close() is None, timeout=5,
             what="a free slot once a client left")


def test_users_section_entry_is_a_listed_user(linkpool):
    """A [users] entry shows in SHOW USERS even when the auth_file lacks the
    name (its limits and counts are visible before its first login)."""
    lp = linkpool(users_section={"only_in_users": "max_user_client_connections=2"})
    names = [r[0] for r in lp.admin("SHOW USERS")]
    assert "only_in_users" in names


def test_small_pkt_buf_still_logs_in(linkpool):
    """pkt_buf below 512 is accepted (PgBouncer grows a buffer for larger
    login messages); linkpool uses 512 and says so."""
    lp = linkpool({"pkt_buf": "75"})
    with psycopg.connect(lp.dsn(), autocommit=True) as c:
        assert c.execute("SELECT repeat('x', 3000)").fetchone()[0] == "x" * 3000
    assert "pkt_buf 75 is below linkpool's floor" in lp.output_text()
