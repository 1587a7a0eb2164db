"""Clients and servers dying at bad moments."""

import threading
import time

import psycopg
import pytest

from conftest import wait_for


@pytest.mark.parametrize("mode", ["session", "transaction"])
def test_client_killed_mid_transaction(linkpool, pg, mode):
    table = f"killed_{mode}"
    pg.sql(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int); "
           f"GRANT ALL ON {table} TO PUBLIC", db="testdb")
    lp = linkpool({"pool_mode": mode})
    c = lp.raw_login()
    rows, _, status = c.run(f"BEGIN; INSERT INTO {table} VALUES (1)")
    assert status == "T"
    assert len(pg.backends(user="scram_user", db="testdb", state="idle in transaction")) == 1
    c.close(abort=True)

    def no_open_tx():
        return not pg.backends(user="scram_user", db="testdb", state="idle in transaction")

    wait_for(no_open_tx, timeout=2.0, what="server transaction to be rolled back")
    assert pg.sql(f"SELECT count(*) FROM {table}", db="testdb")[0][0] == 0
    with lp.connect() as conn:
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
        # whatever server connection is handed out is not inside a transaction
        assert conn.execute("SELECT now() = statement_timestamp()").fetchone() == (True,)


@pytest.mark.parametrize("mode", ["session", "transaction"])
def test_backend_terminated_mid_query(linkpool, pg, mode):
    lp = linkpool({"pool_mode": mode})
    victim = lp.connect()
    victim.execute("SELECT 1")
    result = {}

    def run():
        try:
            victim.execute("SELECT pg_sleep(20) /* victim */")
            result["ok"] = True
        except psycopg.Error as e:
            result["error"] = e

    t = threading.Thread(target=run, daemon=True)
    start = time.monotonic()
    t.start()
    pids = wait_for(lambda: [r[0] for r in pg.backends(user="scram_user", db="testdb")
                             if "victim" in (r[4] or "") and r[3] == "active"],
                    timeout=5, what="the victim query to be running")
    pg.sql("SELECT pg_terminate_backend(%s)", (pids[0],))
    t.join(10)
    assert not t.is_alive(), "client still waiting after its backend was terminated"
    assert "error" in result, "client should have got an error"
    assert time.monotonic() - start < 10
    with lp.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_postgres_restart_under_load(linkpool, pg):
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "4",
                   "server_login_retry": "1"})
    stop = threading.Event()
    counts = {"ok": 0, "err": 0}
    lock = threading.Lock()

    def worker():
        conn = None
        while not stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(lp.dsn(), autocommit=True, prepare_threshold=None,
                                           connect_timeout=3)
                conn.execute("SELECT count(*) FROM generate_series(1, 1000)")
                with lock:
                    counts["ok"] += 1
            except psycopg.Error:
                with lock:
                    counts["err"] += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: counts["ok"] > 20, timeout=10, what="load to get going")
        pg.restart("fast")
        restarted = time.monotonic()
        with lock:
            ok_at_restart = counts["ok"]

        def recovered():
            with psycopg.connect(lp.dsn(), autocommit=True, prepare_threshold=None,
                                 connect_timeout=3) as c:
                return c.execute("SELECT 1").fetchone() == (1,)

        wait_for(recovered, timeout=10, interval=0.2, what="queries to succeed after restart")
        assert time.monotonic() - restarted < 10
        wait_for(lambda: counts["ok"] > ok_at_restart + 20, timeout=10,
                 what="the loaded clients to recover")
    finally:
        stop.set()
        deadline = time.monotonic() + 10
        for t in threads:  # daemon threads: a hung one is abandoned, not waited for
            t.join(max(0.0, deadline - time.monotonic()))


def test_pooler_query_without_answer_closes_server(linkpool, pg):
    """A reset query that never answers does not hold the server forever:
    after server_connect_timeout the server is closed and the pool recovers."""
    lp = linkpool({"pool_mode": "session", "default_pool_size": "1",
                   "server_reset_query": "SELECT pg_sleep(60)", "server_connect_timeout": "1"})
    with lp.connect() as c:
        c.execute("SELECT 1")
    lp.wait_log("no answer to a pooler query", timeout=10)
    wait_for(lambda: not [b for b in pg.backends(user="scram_user", db="testdb")
                          if "pg_sleep" in (b[4] or "") and b[3] == "active"],
             timeout=10, what="stuck reset query gone")
    try:
        with lp.connect() as c:
            assert c.execute("SELECT 2").fetchone() == (2,)
    finally:
        # this client's own reset query would sleep on into later tests
        lp.stop()
        pg.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
               "WHERE query = 'SELECT pg_sleep(60)' AND pid <> pg_backend_pid()")
