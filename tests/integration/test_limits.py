"""max_client_conn (and the descriptor limit it needs), query_wait_timeout, client_login_timeout."""

import resource
import struct
import time

import psycopg
import pytest

import rawpg
from conftest import PASSWORDS


def test_max_client_conn(linkpool):
    lp = linkpool({"max_client_conn": "3"})
    held = [lp.connect() for _ in range(3)]
    for c in held:
        assert c.execute("SELECT 1").fetchone() == (1,)
    r = lp.raw()
    try:
        r.login("scram_user", "testdb", PASSWORDS["scram_user"])
        pytest.fail("4th client was let in with max_client_conn=3")
    except rawpg.PgError as e:
        assert e.sqlstate == "53300", e
    except rawpg.Closed:
        pytest.fail("4th client was closed without an ErrorResponse")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(lp.dsn())
    held[0].close()

    def fourth_ok():
        with psycopg.connect(lp.dsn(), autocommit=True) as c:
            return c.execute("SELECT 1").fetchone() == (1,)

    from conftest import wait_for
    wait_for(fourth_ok, timeout=5, what="a free client slot after one client left")


def test_query_wait_timeout(linkpool):
    lp = linkpool({"pool_mode": "session", "default_pool_size": "1", "query_wait_timeout": "1"})
    blocker = lp.connect()
    assert blocker.execute("SELECT 1").fetchone() == (1,)
    start = time.monotonic()
    with pytest.raises(psycopg.Error) as ei:
        # login may or may not need the server; either the connect or the query waits
        with psycopg.connect(lp.dsn(), autocommit=True, connect_timeout=10) as waiter:
            waiter.execute("SELECT 1")
    elapsed = time.monotonic() - start
    assert "query_wait_timeout" in str(ei.value)
    assert 0.8 <= elapsed < 5, f"waited {elapsed:.2f}s with query_wait_timeout=1"
    assert blocker.execute("SELECT 2").fetchone() == (2,)


def test_client_login_timeout(linkpool):
    lp = linkpool({"client_login_timeout": "1"})
    c = lp.raw()
    full = rawpg.startup("scram_user", "testdb")
    c.send(full[:6])  # length word and half the protocol version, then stall
    start = time.monotonic()
    assert c.wait_closed(timeout=4), "half-sent startup was not closed"
    assert time.monotonic() - start < 3.5
    # a stalled login after the startup packet (never answering the password request)
    c2 = lp.raw()
    c2.send(full)
    start = time.monotonic()
    assert c2.wait_closed(timeout=4), "client stuck in authentication was not closed"
    assert time.monotonic() - start < 3.5
    with lp.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_startup_length_word_only(linkpool):
    """Only the length word (no body) also counts as a login in progress."""
    lp = linkpool({"client_login_timeout": "1"})
    c = lp.raw()
    c.send(struct.pack("!I", 40))
    assert c.wait_closed(timeout=4)


# ------------------------------------------- PgBouncer 1.24 client limits

def _refused(lp, user, db, limit):
    r = lp.raw()
    try:
        with pytest.raises(rawpg.PgError) as ei:
            r.login(user, db, PASSWORDS[user])
    finally:
        r.close()
    assert ei.value.sqlstate == "08P01"
    assert ei.value.message == f"client connections exceeded ({limit})"
    # refused before the password exchange, as PgBouncer does
    assert r.auth_requests == []


def _admin_rows(lp, what):
    with psycopg.connect(lp.dsn("admin", "pgbouncer"), autocommit=True) as adm:
        cur = adm.execute(f"SHOW {what}")
        names = [d.name for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def test_max_db_client_connections(linkpool, pg):
    lp = linkpool({"max_db_client_connections": "2"},
                  databases={"otherdb": pg.db_entry("testdb", max_db_client_connections=1)})
    held = [lp.connect("scram_user", "testdb"), lp.connect("md5_user", "testdb")]
    _refused(lp, "scram_user", "testdb", "max_db_client_connections")
    # the per-database value overrides the global one
    other = lp.connect("scram_user", "otherdb")
    _refused(lp, "md5_user", "otherdb", "max_db_client_connections")
    dbs = {r["name"]: r for r in _admin_rows(lp, "DATABASES")}
    assert dbs["testdb"]["max_client_connections"] == 2
    assert dbs["testdb"]["current_client_connections"] == 2
    assert dbs["otherdb"]["max_client_connections"] == 1
    # the console is not counted, and a freed slot is usable again
    held.pop().close()
    from conftest import wait_for
    wait_for(lambda: _admin_rows(lp, "DATABASES") and
             {r["name"]: r for r in _admin_rows(lp, "DATABASES")}["testdb"]["current_client_connections"] == 1,
             timeout=5, what="the closed client uncounted")
    with lp.connect("md5_user", "testdb") as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    for c in held + [other]:
        c.close()


def test_max_user_client_connections(linkpool, pg):
    lp = linkpool({"max_user_client_connections": "2"},
                  databases={"otherdb": pg.db_entry("testdb")},
                  users_section={"scram_user": "max_user_client_connections=1 reserve_pool_size=3"})
    a = lp.connect("scram_user", "testdb")
    # the limit counts the user across databases
    _refused(lp, "scram_user", "otherdb", "max_user_client_connections")
    b = [lp.connect("md5_user", "testdb"), lp.connect("md5_user", "otherdb")]
    _refused(lp, "md5_user", "testdb", "max_user_client_connections")
    users = {r["name"]: r for r in _admin_rows(lp, "USERS")}
    assert users["scram_user"]["max_user_client_connections"] == 1
    assert users["scram_user"]["current_client_connections"] == 1
    assert users["scram_user"]["reserve_pool_size"] == "3"
    assert users["md5_user"]["max_user_client_connections"] == 2
    assert users["md5_user"]["current_client_connections"] == 2
    assert users["md5_user"]["reserve_pool_size"] == ""     # unset: empty text, as PgBouncer
    cfg = {r["key"]: r for r in _admin_rows(lp, "CONFIG")}
    assert cfg["max_user_client_connections"]["value"] == "2"
    assert cfg["max_db_client_connections"]["default"] == "0"
    for c in [a] + b:
        c.close()


def test_user_reserve_pool_size(linkpool):
    """[users] reserve_pool_size gives that user's pools a reserve although
    the global reserve_pool_size is 0."""
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "1", "reserve_pool_size": "0",
                   "reserve_pool_timeout": "0.2"},
                  users_section={"scram_user": "reserve_pool_size=1"})
    import threading
    conns = [lp.connect("scram_user", "testdb") for _ in range(2)]
    t0 = time.monotonic()
    threads = [threading.Thread(target=c.execute, args=("SELECT pg_sleep(1)",)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    # one after the other would take 2 s; with the reserve both run at once
    assert time.monotonic() - t0 < 1.8
    for c in conns:
        c.close()


def _soft_nofile(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError("no Max open files line")


def test_fd_limit_raised_for_max_client_conn(linkpool):
    """A max_client_conn above the soft descriptor limit raises the soft
    limit (up to the hard one) instead of failing at the limit-th client."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4000:
        pytest.skip(f"hard descriptor limit {hard} too low for this test")
    lp = linkpool({"max_client_conn": "3000"}, start=False)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        lp.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    got = _soft_nofile(lp.proc.pid)
    assert 3000 < got <= 3000 + 64 + 100, got     # max_client_conn + pools + a margin
    lp.wait_log("file descriptor limit raised from 1024")
    with lp.connect() as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
