"""Online restart (-R, PgBouncer's takeover) and SUSPEND, as clients see
them: a new linkpool process takes the listeners and every client and
server connection over from the running one -- sessions keep their backend,
an open transaction stays open, a query running during the restart is
answered, cancel keys and SCRAM pass-through keep working -- and the old
process exits 0. SUSPEND parks each connection at a message boundary and
closes what is still busy after suspend_timeout. A new process that gives up
before SHUTDOWN leaves the old one running, resumed."""

import os
import select
import signal
import socket
import struct
import threading
import time

import psycopg
import pytest

import rawpg
from conftest import LINKPOOL_BIN, PASSWORDS, scram_verifier, wait_for


def reboot(lp, timeout=30):
    """Starts `linkpool -R` on lp's config; returns once the old process
    exited (its exit code is checked) and the new one answers."""
    old = lp.proc
    lp.start(args=("-R",), wait=False)
    try:
        rc = old.wait(timeout)
    except Exception:  # noqa: BLE001
        old.kill()
        raise
    assert rc == 0, f"the old process exited with {rc}\n{lp.output_text()[-4000:]}"
    wait_for(lambda: lp.admin("SHOW VERSION"), timeout=10, what="the new process to answer")
    assert lp.proc.poll() is None
    return old.pid


def backend(conn):
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def test_reboot_keeps_session_and_its_backend(linkpool):
    lp = linkpool({"pool_mode": "session"})
    conn = lp.connect()
    pid = backend(conn)
    conn.execute("SET work_mem = '7MB'")            # lives on that backend only
    conn.execute("CREATE TEMP TABLE t_reboot (x int)")
    old_pid = reboot(lp)
    assert lp.proc.pid != old_pid
    assert "online restart: took over" in lp.log_text()
    row = conn.execute("SELECT pg_backend_pid(), current_setting('work_mem')").fetchone()
    assert row == (pid, "7MB")
    conn.execute("INSERT INTO t_reboot VALUES (1)")
    # New clients are served through the listeners handed over, TCP and unix.
    with psycopg.connect(lp.dsn(), autocommit=True) as c2:
        assert c2.execute("SELECT 1").fetchone() == (1,)
    assert os.path.exists(os.path.join(lp.sockdir, f".s.PGSQL.{lp.port}"))
    clients = [r for r in lp.admin("SHOW CLIENTS") if r[2] == "testdb"]
    assert len(clients) == 1


def test_reboot_answers_the_query_running_meanwhile(linkpool):
    lp = linkpool({"pool_mode": "transaction"})
    conn = lp.connect()
    res = []
    t = threading.Thread(target=lambda: res.append(
        conn.execute("SELECT pg_sleep(1.5), 42").fetchone()[1]), daemon=True)
    t.start()
    time.sleep(0.4)
    reboot(lp)
    t.join(10)
    assert res == [42], "the query running during the restart lost its answer"
    assert conn.execute("SELECT 2").fetchone() == (2,)


def test_reboot_keeps_an_open_transaction(linkpool, pg):
    pg.sql("DROP TABLE IF EXISTS reboot_tx; CREATE TABLE reboot_tx (id int); "
           "GRANT ALL ON reboot_tx TO PUBLIC", db="testdb")
    lp = linkpool({"pool_mode": "transaction"})
    conn = lp.connect(autocommit=False)
    conn.execute("INSERT INTO reboot_tx VALUES (1)")
    reboot(lp)
    conn.execute("INSERT INTO reboot_tx VALUES (2)")
    # Still uncommitted: nobody else sees the rows yet.
    assert pg.sql("SELECT count(*) FROM reboot_tx", db="testdb") == [(0,)]
    conn.commit()
    assert pg.sql("SELECT id FROM reboot_tx ORDER BY id", db="testdb") == [(1,), (2,)]


def test_reboot_keeps_cancel_keys(linkpool):
    lp = linkpool({"pool_mode": "session"})
    conn = lp.connect()
    conn.execute("SELECT 1")
    reboot(lp)
    errors = []

    def sleeper():
        try:
            conn.execute("SELECT pg_sleep(10)")
        except psycopg.Error as e:
            errors.append(e)

    t = threading.Thread(target=sleeper, daemon=True)
    t.start()
    time.sleep(0.5)
    conn.cancel()                   # the key the old process gave the client
    t.join(5)
    assert not t.is_alive(), "the cancel request did not reach the query"
    assert errors and isinstance(errors[0], psycopg.errors.QueryCanceled)


def test_reboot_keeps_scram_pass_through(linkpool, pg):
    """userlist.txt holds a SCRAM verifier, not the password: server logins
    use the keys of the client's own SCRAM login. After the restart a new
    server connection needs those keys from the old process."""
    verifier = pg.get_verifier("scram_user")
    lp = linkpool({"pool_mode": "transaction", "auth_type": "scram-sha-256"},
                  userlist=[("scram_user", verifier), ("admin", "admin-secret")])
    conn = lp.connect()
    assert conn.execute("SELECT current_user").fetchone() == ("scram_user",)
    reboot(lp)
    lp.admin("RECONNECT")           # the next query needs a new server login
    wait_for(lambda: not [r for r in lp.admin("SHOW SERVERS") if r[2] == "testdb"],
             what="the old server connection to close")
    assert conn.execute("SELECT current_user").fetchone() == ("scram_user",)


def test_reboot_without_a_running_process_starts_normally(linkpool):
    lp = linkpool(start=False)
    lp.start(args=("-R",))
    lp.wait_log(r"online restart: no running process on .*, starting normally")
    assert lp.admin("SHOW VERSION")


# ---------------------------------------------------------------- the console side

class Takeover:
    """The new process's side, played by the test: login over the unix
    socket as "pgbouncer" (peer credentials), SUSPEND, SHOW FDS with the
    descriptors (SCM_RIGHTS)."""

    def __init__(self, lp):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(os.path.join(lp.sockdir, f".s.PGSQL.{lp.port}"))
        self.buf = b""
        self.fds = []

    def _fill(self, timeout=15):
        if not select.select([self.sock], [], [], timeout)[0]:
            raise TimeoutError("no answer")
        data, fds, _, _ = socket.recv_fds(self.sock, 65536, 64)
        if not data:
            raise EOFError
        self.buf += data
        self.fds += fds

    def msg(self):
        while len(self.buf) < 5 or len(self.buf) < 1 + struct.unpack("!I", self.buf[1:5])[0]:
            self._fill()
        ln = struct.unpack("!I", self.buf[1:5])[0]
        t, body, self.buf = chr(self.buf[0]), self.buf[5:1 + ln], self.buf[1 + ln:]
        return t, body

    def until_ready(self):
        out = []
        while True:
            t, body = self.msg()
            out.append((t, body))
            if t == "Z":
                return out

    def login(self):
        self.sock.sendall(rawpg.startup("pgbouncer", "pgbouncer"))
        msgs = self.until_ready()
        assert ("R", struct.pack("!I", 0)) in msgs, msgs

    def query(self, sql):
        self.sock.sendall(rawpg.query(sql))
        return self.until_ready()

    def close(self):
        for fd in self.fds:
            os.close(fd)
        self.sock.close()


def rows_of(msgs):
    rows = []
    for t, body in msgs:
        if t != "D":
            continue
        (n,) = struct.unpack("!H", body[:2])
        pos, row = 2, []
        for _ in range(n):
            (ln,) = struct.unpack("!i", body[pos:pos + 4])
            pos += 4
            row.append(None if ln < 0 else body[pos:pos + ln].decode())
            pos += max(ln, 0)
        rows.append(row)
    return rows


def test_takeover_that_gives_up_leaves_the_old_process_running(linkpool):
    lp = linkpool({"pool_mode": "session"})
    conn = lp.connect()
    conn.execute("SELECT 1")
    # Opened first: a suspended pooler accepts no connection.
    adm = psycopg.connect(lp.dsn("admin", "pgbouncer"), autocommit=True)
    tk = Takeover(lp)
    try:
        tk.login()
        assert any(t == "C" and body.startswith(b"SUSPEND") for t, body in tk.query("SUSPEND"))
        rows = rows_of(tk.query("SHOW FDS"))
        # One descriptor per row; the process's own user gets the secrets.
        assert len(tk.fds) == len(rows)
        tasks = sorted(r[1] for r in rows)
        assert tasks.count("pooler") == 2 and "client" in tasks and "server" in tasks
        client = next(r for r in rows if r[1] == "client")
        assert client[6] is not None and client[15].startswith("\\x")
        lp.wait_log("sockets handed over to the new process")
        # Nobody else may resume meanwhile: the sockets are not theirs.
        with pytest.raises(psycopg.errors.ProtocolViolation, match="online restart in progress"):
            adm.execute("RESUME")
    finally:
        tk.close()                  # gone before SHUTDOWN
        adm.close()
    lp.wait_log(r"the new process left before SHUTDOWN; resuming")
    assert conn.execute("SELECT 2").fetchone() == (2,)
    with psycopg.connect(lp.dsn(), autocommit=True) as c2:
        assert c2.execute("SELECT 3").fetchone() == (3,)


def test_show_fds_shows_no_secrets_to_other_admins(linkpool):
    lp = linkpool({"pool_mode": "session"})
    conn = lp.connect()
    conn.execute("SELECT 1")
    with psycopg.connect(lp.dsn("admin", "pgbouncer"), autocommit=True) as adm:
        adm.execute("SUSPEND")
        cur = adm.execute("SHOW FDS")
        assert len(cur.description) == 15
        for row in cur.fetchall():
            assert row[6] is None and row[12] is None and row[13] is None
        adm.execute("RESUME")
    assert conn.execute("SELECT 2").fetchone() == (2,)


# ---------------------------------------------------------------- SUSPEND

def test_suspend_waits_for_a_message_to_finish(linkpool):
    lp = linkpool({"pool_mode": "transaction", "suspend_timeout": "10"})
    c = lp.raw_login("scram_user", "testdb", PASSWORDS["scram_user"])
    q = rawpg.query("SELECT 'whole'")
    c.send(q[:7])                       # half a Query
    done = []
    with psycopg.connect(lp.dsn("admin", "pgbouncer"), autocommit=True) as adm:
        t = threading.Thread(target=lambda: done.append(adm.execute("SUSPEND")), daemon=True)
        t.start()
        time.sleep(0.5)
        assert not done, "SUSPEND returned while a message was half-way through"
        c.send(q[7:])                   # the rest: read, passed on, answered
        rows, _, _ = c.read_result(timeout=5)
        assert rows == [("whole",)]
        t.join(5)
        assert done, "SUSPEND did not finish once the client was at rest"
        adm.execute("RESUME")
    assert c.run("SELECT 'after'")[0] == [("after",)]


def test_suspend_timeout_closes_what_stays_busy(linkpool):
    lp = linkpool({"pool_mode": "transaction", "suspend_timeout": "1"})
    busy = lp.raw_login("scram_user", "testdb", PASSWORDS["scram_user"])
    idle = lp.connect()
    idle.execute("SELECT 1")
    busy.send(rawpg.query("SELECT 1")[:7])      # and never the rest
    with psycopg.connect(lp.dsn("admin", "pgbouncer"), autocommit=True) as adm:
        start = time.monotonic()
        adm.execute("SUSPEND")
        took = time.monotonic() - start
        assert 0.8 < took < 5, f"SUSPEND took {took:.1f}s with suspend_timeout = 1"
        adm.execute("RESUME")
    assert busy.wait_closed(3)
    assert "closing because: suspend_timeout" in lp.log_text()
    assert idle.execute("SELECT 2").fetchone() == (2,)


def test_reboot_with_prepared_statements(linkpool):
    """Statements the old process prepared stay on the servers handed over:
    the new process names its own past them (no 42P05 from PostgreSQL).
    Clients' own statements do not cross the restart: one used again after
    it is prepared anew by the client (psycopg does so on 26000)."""
    lp = linkpool({"pool_mode": "transaction", "max_prepared_statements": "10",
                   "default_pool_size": "1"})
    a = lp.connect(prepare_threshold=0)
    assert a.execute("SELECT %s::int + 1", (1,)).fetchone() == (2,)   # PGBOUNCER_1 on the server
    reboot(lp)
    b = lp.connect(prepare_threshold=0)
    for i in range(3):
        assert b.execute("SELECT %s::int + 2", (i,)).fetchone() == (i + 2,)
        assert b.execute("SELECT %s::int * 3", (i,)).fetchone() == (i * 3,)
    names = b.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
    assert names >= 3
