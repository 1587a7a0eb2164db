"""max_client_conn, query_wait_timeout, client_login_timeout."""

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
