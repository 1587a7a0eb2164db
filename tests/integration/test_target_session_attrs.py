"""target_session_attrs: a database's host list holds a primary and a
standby; a pool asks for one role and gets it, and follows a failover
without a reload.

A primary listens on 127.0.0.1 and a streaming standby (pg_basebackup -R)
on 127.0.0.2, same port. Which server a session reached shows in
inet_server_addr() and pg_is_in_recovery().
"""

import os
import struct
import subprocess
import threading
import time

import psycopg
import pytest

import rawpg
from conftest import PG_BINDIR, PgCluster, _as_postgres, wait_for

PRIMARY, STANDBY = "127.0.0.1", "127.0.0.2"


class Pair:
    """A primary and its streaming standby on one port. sync: commits wait
    for the standby (so a failover loses no acknowledged commit)."""

    def __init__(self, sync=False):
        self.primary = PgCluster()
        self.primary.init()
        with open(os.path.join(self.primary.data, "pg_hba.conf"), "a") as f:
            f.write("local replication all trust\n"
                    "host all all 127.0.0.0/8 scram-sha-256\n")
        self.primary.sql("SELECT pg_reload_conf()")
        self.standby = PgCluster()
        self.standby.port = self.primary.port
        self.standby.host = STANDBY
        subprocess.run(_as_postgres([f"{PG_BINDIR}/pg_basebackup", "-h", self.primary.socket_dir,
                                     "-p", str(self.primary.port), "-U", "postgres",
                                     "-D", self.standby.data, "-R", "-X", "stream", "-c", "fast"]),
                       check=True, capture_output=True, text=True, timeout=120)
        with open(os.path.join(self.standby.data, "postgresql.conf"), "a") as f:
            f.write(f"\nlisten_addresses = '{STANDBY}'\n"
                    f"unix_socket_directories = '{self.standby.socket_dir}'\n")
        self.standby.start()
        wait_for(lambda: self.primary.sql(
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")[0][0] == 1,
            timeout=30, what="the standby streaming")
        if sync:
            self.primary.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")
            self.primary.sql("ALTER SYSTEM SET synchronous_commit = 'on'")
            self.primary.sql("SELECT pg_reload_conf()")

    def entry(self, hosts, **kw):
        parts = [f"host={hosts}", f"port={self.primary.port}", "dbname=testdb"]
        parts += [f"{k}={v}" for k, v in kw.items()]
        return " ".join(parts)

    def promote(self):
        self.standby._run([f"{PG_BINDIR}/pg_ctl", "-D", self.standby.data, "-w", "-t", "60",
                           "promote"])

    def destroy(self):
        self.standby.destroy()
        self.primary.destroy()


@pytest.fixture(scope="module")
def pair():
    p = Pair()
    yield p
    p.destroy()


def _where(lp, db, n=4):
    """(server address, in recovery) of n sessions held open at once."""
    conns = [lp.connect(db=db) for _ in range(n)]
    try:
        return [c.execute("SELECT host(inet_server_addr()), pg_is_in_recovery()").fetchone()
                for c in conns]
    finally:
        for c in conns:
            c.close()


def _pool(linkpool, pair, hosts, tsa, **ini):
    settings = {"pool_mode": "session", "server_login_retry": "30",
                "server_tls_sslmode": "disable"}
    settings.update(ini)
    return linkpool(settings, databases={"tsa": pair.entry(hosts, target_session_attrs=tsa)})


@pytest.mark.parametrize("tsa", ["read-write", "primary"])
def test_read_write_and_primary_land_on_the_primary(linkpool, pair, tsa):
    lp = _pool(linkpool, pair, f"{STANDBY},{PRIMARY}", tsa)
    assert _where(lp, "tsa") == [(PRIMARY, False)] * 4
    lp.wait_log(rf"S-\d+: tsa/\S+@127\.0\.0\.2:\d+ target_session_attrs={tsa}: the host is a "
                r"standby; trying the next host")
    # The client never heard of the skipped host.
    assert "wrong server role" in lp.log_text()


@pytest.mark.parametrize("tsa", ["standby", "read-only", "prefer-standby"])
def test_standby_read_only_and_prefer_standby_land_on_the_standby(linkpool, pair, tsa):
    lp = _pool(linkpool, pair, f"{PRIMARY},{STANDBY}", tsa)
    assert _where(lp, "tsa") == [(STANDBY, True)] * 4


def test_any_uses_both_hosts(linkpool, pair):
    lp = _pool(linkpool, pair, f"{PRIMARY},{STANDBY}", "any")
    assert sorted(_where(lp, "tsa")) == [(PRIMARY, False)] * 2 + [(STANDBY, True)] * 2


def test_prefer_standby_takes_the_primary_when_no_standby_is_up(linkpool, pair):
    """127.0.0.3 refuses: with no standby to be had, prefer-standby uses the
    primary (libpq's meaning), at once."""
    lp = _pool(linkpool, pair, f"{PRIMARY},127.0.0.3", "prefer-standby")
    start = time.monotonic()
    assert _where(lp, "tsa", 2) == [(PRIMARY, False)] * 2
    assert time.monotonic() - start < 5
    rows = {r["host"]: r for r in lp.admin_rows("SHOW HOSTS") if r["database"] == "tsa"}
    assert rows[PRIMARY]["role"] == "primary" and rows[PRIMARY]["state"] == "fallback"
    assert rows["127.0.0.3"]["state"] == "down"
    assert "could not connect" in rows["127.0.0.3"]["last_error"] or \
        "refused" in rows["127.0.0.3"]["last_error"], rows


def test_show_hosts(linkpool, pair):
    lp = _pool(linkpool, pair, f"{STANDBY},{PRIMARY}", "read-write")
    with lp.connect(db="tsa") as c:
        c.execute("SELECT 1")
        rows = {r["host"]: r for r in lp.admin_rows("SHOW HOSTS") if r["database"] == "tsa"}
    assert rows[PRIMARY]["role"] == "primary" and rows[PRIMARY]["state"] == "up"
    assert rows[PRIMARY]["servers"] == 1 and rows[PRIMARY]["target_session_attrs"] == "read-write"
    assert rows[STANDBY]["role"] == "standby" and rows[STANDBY]["state"] == "wrong role"
    assert rows[STANDBY]["servers"] == 0
    assert "the host is a standby" in rows[STANDBY]["last_error"]
    # The same on /metrics, for the NoUsableHost alert and the dashboard.
    page = lp.http_get("/metrics")[2]
    page = page.decode() if isinstance(page, bytes) else page
    assert 'linkpool_host_up{database="tsa",host="127.0.0.1"} 1' in page
    assert 'linkpool_host_up{database="tsa",host="127.0.0.2"} 0' in page
    assert 'linkpool_host_role{database="tsa",host="127.0.0.2",role="standby"} 1' in page
    assert 'linkpool_host_connect_failures_total{database="tsa",host="127.0.0.2"} 0' in page
    # A database without a host list is one row; nothing known before use.
    other = [r for r in lp.admin_rows("SHOW HOSTS") if r["database"] == "otherdb"]
    assert len(other) == 1 and other[0]["state"] == "untried" and other[0]["role"] == "unknown"


def test_no_host_in_the_role_keeps_clients_waiting_then_fails(linkpool, pair):
    """Only a standby for a read-write pool: the client waits (a failover may
    be under way) and hears query_wait_timeout's error, not a refusal."""
    lp = _pool(linkpool, pair, STANDBY, "read-write", server_login_retry="1",
               query_wait_timeout="3")
    start = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        with lp.connect(db="tsa") as c:
            c.execute("SELECT 1")
    assert 2 < time.monotonic() - start < 10
    lp.wait_log(r"target_session_attrs=read-write: the host is a standby")


def test_reload_changes_target_session_attrs(linkpool, pair):
    lp = _pool(linkpool, pair, f"{PRIMARY},{STANDBY}", "standby")
    assert _where(lp, "tsa", 1) == [(STANDBY, True)]
    lp.write_ini(databases={"tsa": pair.entry(f"{PRIMARY},{STANDBY}",
                                              target_session_attrs="primary")})
    lp.reload()
    wait_for(lambda: [r for r in lp.admin_rows("SHOW HOSTS") if r["database"] == "tsa"][0]
             ["target_session_attrs"] == "primary", what="the reload")
    assert _where(lp, "tsa", 2) == [(PRIMARY, False)] * 2


def test_replica_lag_moves_reads_to_the_primary(linkpool, pair):
    """max_replica_lag: replay paused on the standby while the primary
    writes -- within a few seconds prefer-standby reads go to the primary and
    the standby's idle servers are closed; once replay resumes, new server
    connections go to the standby again."""
    pair.primary.sql("CREATE TABLE IF NOT EXISTS lagtest (x int)", db="testdb")
    lp = _pool(linkpool, pair, f"{PRIMARY},{STANDBY}", "prefer-standby",
               server_login_retry="1")
    lp.write_ini(databases={"tsa": pair.entry(f"{PRIMARY},{STANDBY}",
                                              target_session_attrs="prefer-standby",
                                              max_replica_lag="2")})
    lp.reload()
    wait_for(lambda: [r for r in lp.admin_rows("SHOW DATABASES") if r["name"] == "tsa"],
             what="the reload")
    assert _where(lp, "tsa", 2) == [(STANDBY, True)] * 2
    pair.standby.sql("SELECT pg_wal_replay_pause()")
    try:
        def lagging():
            pair.primary.sql("INSERT INTO lagtest VALUES (1)", db="testdb")
            return any(r["state"] == "fallback" or r["last_error"] and "replay lag" in
                       r["last_error"] for r in lp.admin_rows("SHOW HOSTS")
                       if r["database"] == "tsa" and r["host"] == STANDBY)
        wait_for(lagging, timeout=15, interval=0.5, what="the standby found lagging")
        lp.wait_log(r"closing because: replica lag over max_replica_lag", timeout=10)
        assert _where(lp, "tsa", 2) == [(PRIMARY, False)] * 2
        row = [r for r in lp.admin_rows("SHOW HOSTS")
               if r["database"] == "tsa" and r["host"] == STANDBY][0]
        assert row["lag"] is not None and int(row["lag"]) > 2_000_000
    finally:
        pair.standby.sql("SELECT pg_wal_replay_resume()")
    # caught up: new server connections use the standby again
    wait_for(lambda: pair.standby.sql(
        "SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()")[0][0], timeout=10,
        what="the standby caught up")
    time.sleep(1.5)      # server_login_retry: the standby is tried again
    lp.admin("RECONNECT tsa")
    wait_for(lambda: _where(lp, "tsa", 1) == [(STANDBY, True)], timeout=10, interval=0.5,
             what="reads back on the standby")


def test_failover_without_reload(linkpool, pg):
    """Under a write load, the primary stops and the standby is promoted: the
    read-write pool serves from the new primary within 10 s of the promotion,
    with no reload, and every commit a client saw acknowledged is there."""
    pair = Pair(sync=True)
    acked, lock, stop = [], threading.Lock(), threading.Event()
    try:
        pair.primary.sql("CREATE TABLE ledger (id bigint PRIMARY KEY)", db="testdb")
        pair.primary.sql("GRANT ALL ON ledger TO PUBLIC", db="testdb")
        # server_login_retry at PgBouncer's default (15 s): with the standby
        # reachable, the pool looks again every second until it is promoted
        lp = linkpool({"pool_mode": "transaction",
                       "query_wait_timeout": "60", "default_pool_size": "4",
                       "server_tls_sslmode": "disable"},
                      databases={"rw": pair.entry(f"{PRIMARY},{STANDBY}",
                                                  target_session_attrs="read-write")})

        def writer(k):
            i, conn = 0, None
            while not stop.is_set():
                i += 1
                try:
                    if conn is None:
                        conn = lp.connect(db="rw")
                    conn.execute("INSERT INTO ledger VALUES (%s)", (k * 10_000_000 + i,))
                    with lock:
                        acked.append(k * 10_000_000 + i)
                except psycopg.Error:
                    if conn is not None:
                        conn.close()
                    conn = None
                    time.sleep(0.05)
            if conn is not None:
                conn.close()

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        wait_for(lambda: len(acked) > 50, timeout=10, what="writes through linkpool")
        pair.primary.stop("fast")
        time.sleep(1)
        before = len(acked)
        promoted = time.monotonic()
        pair.promote()
        wait_for(lambda: len(acked) > before + 20, timeout=10, what="writes on the new primary")
        took = time.monotonic() - promoted
        stop.set()
        for t in threads:
            t.join(30)
        assert took < 10
        stored = {r[0] for r in pair.standby.sql("SELECT id FROM ledger", db="testdb")}
        assert set(acked) <= stored
        assert "reload" not in lp.log_text().lower()
        rows = {r["host"]: r for r in lp.admin_rows("SHOW HOSTS") if r["database"] == "rw"}
        assert rows[STANDBY]["role"] == "primary" and rows[STANDBY]["state"] == "up"
    finally:
        stop.set()
        pair.destroy()


class Pg13(rawpg.FakeServer):
    """Plays a PostgreSQL 13 on host:port, which reports no in_hot_standby:
    trust login; the role query (pg_is_in_recovery) answered as a standby or
    a primary; any other Query with one row, the server's name."""

    def __init__(self, host, port, standby):
        self.name = "standby" if standby else "primary"
        self.standby, self.role_queries, self.logins = standby, 0, 0
        super().__init__(host, port, concurrent=True, timeout=10)

    def _startup(self, c):
        while True:
            (n,) = struct.unpack("!I", rawpg.recv_exact(c, 4))
            body = rawpg.recv_exact(c, n - 4)
            if struct.unpack("!I", body[:4])[0] != 80877103:    # not an SSLRequest
                return
            c.sendall(b"N")

    @staticmethod
    def _row(cols, vals):
        desc = struct.pack("!H", len(cols)) + b"".join(
            rawpg.cstr(col) + struct.pack("!IhIhih", 0, 0, 25, -1, -1, 0) for col in cols)
        row = struct.pack("!H", len(vals)) + b"".join(
            struct.pack("!I", len(v)) + v.encode() for v in vals)
        return rawpg.msg("T", desc) + rawpg.msg("D", row)

    def handle(self, c):
        self._startup(c)
        self.logins += 1
        out = rawpg.msg("R", struct.pack("!I", 0))
        for k, v in (("server_version", "13.11"), ("server_encoding", "UTF8"),
                     ("client_encoding", "UTF8"), ("DateStyle", "ISO, MDY"),
                     ("TimeZone", "UTC"), ("integer_datetimes", "on"),
                     ("standard_conforming_strings", "on")):
            out += rawpg.msg("S", rawpg.cstr(k) + rawpg.cstr(v))
        c.sendall(out + rawpg.msg("K", struct.pack("!II", 4242, 1)) + rawpg.msg("Z", b"I"))
        while True:
            t = rawpg.recv_exact(c, 1)
            (n,) = struct.unpack("!I", rawpg.recv_exact(c, 4))
            body = rawpg.recv_exact(c, n - 4)
            if t == b"X":
                return
            if t != b"Q":
                continue
            if b"pg_is_in_recovery" in body:
                self.role_queries += 1
                out = self._row(["pg_is_in_recovery", "current_setting"],
                                ["t" if self.standby else "f", "off"])
            else:
                out = self._row(["name"], [self.name])
            c.sendall(out + rawpg.msg("C", rawpg.cstr("SELECT 1")) + rawpg.msg("Z", b"I"))

@pytest.mark.parametrize("tsa, expect", [("standby", "standby"), ("read-write", "primary")])
def test_server_before_14_is_asked_its_role(linkpool, tsa, expect):
    """A server that does not report in_hot_standby is asked once, at login,
    as libpq asks it; the client never sees the question."""
    port = rawpg.free_port()
    servers = [Pg13(PRIMARY, port, standby=False), Pg13(STANDBY, port, standby=True)]
    try:
        lp = linkpool({"pool_mode": "session", "server_tls_sslmode": "disable",
                       "server_login_retry": "30", "server_reset_query": "DISCARD ALL"},
                      databases={"old": f"host={PRIMARY},{STANDBY} port={port} dbname=x "
                                        f"user=old_user target_session_attrs={tsa}"})
        c = lp.raw_login(db="old")
        for _ in range(4):
            assert c.run("SELECT name")[0] == [(expect,)]
        assert "in_hot_standby" not in c.params
        c.close()
        # asked at most once per server login (a background connection may
        # still be logging in), never per query
        for srv in servers:
            assert srv.role_queries <= srv.logins, (srv.name, srv.role_queries, srv.logins)
        served = servers[1] if expect == "standby" else servers[0]
        assert served.role_queries >= 1
        rows = {r["host"]: r for r in lp.admin_rows("SHOW HOSTS") if r["database"] == "old"}
        host = STANDBY if expect == "standby" else PRIMARY
        assert rows[host]["role"] == expect
    finally:
        for s in servers:
            s.close()
