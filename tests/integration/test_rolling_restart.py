"""Rolling restarts lose nothing: three linkpool processes share one port
(so_reuseport, peered); each in turn gets SIGTERM and is started again
while clients write in transaction pooling. With shutdown_drain_clients
the process stops accepting, /readyz answers 503 at once, running
transactions finish, and each client is closed between transactions, so it
reconnects to a sibling: no acknowledged commit is lost and no client sees
an error other than its connection closing."""

import signal
import threading
import time

import psycopg
import pytest

from conftest import wait_for


def _group(linkpool, mode="transaction"):
    procs = [linkpool({"peer_id": str(i + 1), "so_reuseport": "1", "pool_mode": mode,
                       "default_pool_size": "20", "shutdown_drain_clients": "1"}, start=False)
             for i in range(3)]
    port = procs[0].port
    for i, p in enumerate(procs):
        p.port = port
        p.write_ini({"listen_port": str(port)},
                    peers={str(j + 1): f"host={q.sockdir} port={port}"
                           for j, q in enumerate(procs) if j != i})
    for p in procs:
        p.start()
    return procs


class Writer(threading.Thread):
    """Inserts two rows per transaction, forever; on a closed connection it
    reconnects and retries the same rows (idempotent: ON CONFLICT)."""

    def __init__(self, dsn, wid, stop):
        super().__init__(daemon=True)
        self.dsn, self.wid, self.stop = dsn, wid, stop
        self.acked, self.reconnects, self.errors = [], 0, []

    def run(self):
        conn, k = None, 0
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = psycopg.connect(self.dsn, autocommit=True, prepare_threshold=None,
                                           connect_timeout=5)
                a = self.wid * 10_000_000 + 2 * k
                with conn.transaction():
                    conn.execute("INSERT INTO rr VALUES (%s, %s) ON CONFLICT DO NOTHING",
                                 (a, self.wid))
                    conn.execute("INSERT INTO rr VALUES (%s, %s) ON CONFLICT DO NOTHING",
                                 (a + 1, self.wid))
                self.acked += [a, a + 1]
                k += 1
            except psycopg.OperationalError:
                # the reconnect: closed by the draining process (57P01),
                # reset in a closing listener's queue, refused meanwhile
                self.reconnects += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.02)
            except Exception as e:      # noqa: BLE001 - anything else fails the test
                self.errors.append(repr(e))
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()


@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_rolling_restart_under_write_load(linkpool, pg, mode):
    pg.sql("DROP TABLE IF EXISTS rr; CREATE TABLE rr (id bigint PRIMARY KEY, worker int); "
           "GRANT ALL ON rr TO PUBLIC", db="testdb")
    procs = _group(linkpool, mode)
    stop = threading.Event()
    writers = [Writer(procs[0].dsn("md5_user"), w, stop) for w in range(12)]
    for w in writers:
        w.start()
    try:
        time.sleep(1.0)
        for p in procs:
            before = sum(len(w.acked) for w in writers)
            p.signal(signal.SIGTERM)
            # /readyz turns 503 at once, while clients are still being served
            # -- unless the drain was quicker than the first look (then the
            # process has exited, and nothing answers at all)
            def not_ready(p=p):
                try:
                    return p.http_get("/readyz", timeout=1)[0] == 503
                except OSError:
                    return p.proc.poll() is not None
            wait_for(not_ready, 2, what="readyz 503")
            rc = p.wait_exit(30)
            assert rc == 0, f"exit {rc}\n{p.output_text()[-3000:]}"
            assert "terminating connection due to administrator command" in p.log_text() \
                or "client connections dropped" in p.log_text()
            p.start()
            time.sleep(1.0)
            assert sum(len(w.acked) for w in writers) > before, "the load stalled"
    finally:
        stop.set()
        for w in writers:
            w.join(15)
    errors = [e for w in writers for e in w.errors]
    assert not errors, errors
    acked = {i for w in writers for i in w.acked}
    assert len(acked) > 100
    have = {r[0] for r in pg.sql("SELECT id FROM rr", db="testdb")}
    lost = acked - have
    assert not lost, f"{len(lost)} acknowledged rows lost"
    assert sum(w.reconnects for w in writers) > 0, "no client was moved: nothing tested"


def test_default_keeps_clients_until_they_leave(linkpool):
    """Without shutdown_drain_clients, SIGTERM is PgBouncer's: the idle
    client keeps its connection and the process waits for it."""
    lp = linkpool({"pool_mode": "transaction"})
    conn = lp.connect(user="md5_user")
    conn.execute("SELECT 1")
    lp.signal(signal.SIGTERM)
    time.sleep(0.8)
    assert lp.proc.poll() is None
    assert lp.http_get("/readyz")[0] == 503
    assert conn.execute("SELECT 2").fetchone() == (2,)
    conn.close()
    assert lp.wait_exit(10) == 0


def test_drain_waits_for_the_open_transaction(linkpool, pg):
    """A transaction open at SIGTERM runs to its COMMIT, which is
    acknowledged; only then is the client closed (57P01)."""
    pg.sql("DROP TABLE IF EXISTS rr2; CREATE TABLE rr2 (id int); GRANT ALL ON rr2 TO PUBLIC",
           db="testdb")
    lp = linkpool({"pool_mode": "transaction", "shutdown_drain_clients": "1"})
    idle = lp.connect(user="md5_user")
    idle.execute("SELECT 1")
    conn = lp.connect(user="md5_user", autocommit=False)
    conn.execute("INSERT INTO rr2 VALUES (1)")
    lp.signal(signal.SIGTERM)
    time.sleep(0.8)                         # the idle client is gone by now
    with pytest.raises(psycopg.OperationalError, match="administrator command"):
        idle.execute("SELECT 1")
    conn.execute("INSERT INTO rr2 VALUES (2)")
    conn.commit()
    with pytest.raises(psycopg.OperationalError):
        for _ in range(20):
            conn.execute("SELECT 1")
            conn.commit()
            time.sleep(0.1)
    assert lp.wait_exit(10) == 0
    assert sorted(r[0] for r in pg.sql("SELECT id FROM rr2", db="testdb")) == [1, 2]
