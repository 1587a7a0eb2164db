"""Cancel requests are forwarded to the right PostgreSQL backend."""

import threading
import time

import psycopg
import pytest


@pytest.mark.parametrize("mode", ["session", "transaction"])
def test_cancel_long_query(linkpool, mode):
    lp = linkpool({"pool_mode": mode})
    conn = lp.connect()
    # a bystander on the same pool must not be cancelled
    other = lp.connect()
    other.execute("SELECT 1")
    timer = threading.Timer(0.5, conn.cancel)
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(30)")
    finally:
        timer.cancel()
    elapsed = time.monotonic() - start
    assert elapsed < 2.0, f"cancel took {elapsed:.2f}s"
    # PostgreSQL's postmaster signals the backend twice (its pid, then its
    # process group); on a loaded machine the second signal can land while
    # the next query is being read and cancel it -- the same with a direct
    # connection. An idle backend ignores it, so let it land first.
    time.sleep(0.3)
    # both connections remain usable
    assert conn.execute("SELECT 1").fetchone() == (1,)
    assert other.execute("SELECT 2").fetchone() == (2,)


def test_cancel_with_bogus_key_is_harmless(linkpool):
    import rawpg
    lp = linkpool()
    conn = lp.connect()
    c = lp.raw()
    c.send(rawpg.cancel_request(12345, 67890))
    assert c.wait_closed(5)
    assert conn.execute("SELECT 1").fetchone() == (1,)
