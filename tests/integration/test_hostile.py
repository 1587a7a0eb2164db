"""Hostile input from clients and servers: the pooling core's guarantees.

Bad input from anyone gets a clear error (an ErrorResponse with a SQLSTATE, or
a close where the protocol leaves no room for an answer) and nothing else
breaks: other clients keep being served, no server connection is reused
dirty, no data is lost. Every socket here has a timeout; nothing can hang.
"""

import os
import random
import re
import socket
import struct
import subprocess
import threading
import time

import pytest

import rawpg
from conftest import PASSWORDS, wait_for

PW = PASSWORDS["scram_user"]


def _login(lp, db="testdb", timeout=5.0, rcvbuf=None):
    c = rawpg.RawConn(lp.host, lp.port, timeout=timeout)
    if rcvbuf:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    c.login("scram_user", db, PW)
    return c


def _sqlstate_error(res):
    """res (from RawConn.error_or_close) is an ErrorResponse with a SQLSTATE."""
    return isinstance(res, rawpg.PgError) and re.fullmatch(r"[0-9A-Z]{5}", res.sqlstate or "")


def _no_open_transactions(pg, db="testdb"):
    return not [r for r in pg.backends(db=db) if r[3] and r[3].startswith("idle in transaction")]


# ------------------------------------------------ targeted regressions (client side)

def test_copydata_cut_short_does_not_poison_the_pool(linkpool, pg):
    """A CopyData outside COPY owes no answer; a client that sends half of one
    and leaves must not leave the half message on a pooled server (the next
    client's query would be read as the rest of it and hang)."""
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "1"})
    a = _login(lp)
    a.send(rawpg.query("SELECT 1") + b"d" + struct.pack("!I", 100004) + b"x" * 1000)
    assert a.read_result()[0] == [("1",)]
    time.sleep(0.2)
    a.close(abort=True)
    b = _login(lp)
    assert b.run("SELECT 42", timeout=5)[0] == [("42",)]
    # a whole CopyData outside COPY is harmless and ignored by PostgreSQL
    b.send(rawpg.msg("d", b"stray") + rawpg.query("SELECT 43"))
    assert b.read_result(timeout=5)[0] == [("43",)]


def test_query_sent_while_release_is_pending(linkpool):
    """Transaction mode: the ReadyForQuery that frees the server is parsed while
    its bytes still wait for a slow client; a query the client sends in that
    window must go to whichever server it gets next, not into the one being
    released (its answer would be lost and the client would hang).

    A unix socket keeps the kernel's buffering toward the client small, and a
    large pkt_buf lets linkpool read the whole tail of the answer (with its
    ReadyForQuery) while the client still has part of it to read."""
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "1", "pkt_buf": "1048576"})
    path = os.path.join(lp.sockdir, f".s.PGSQL.{lp.port}")
    total = 3_000_000
    for remaining in (1_000_000, 600_000, 400_000, 200_000, 100_000):
        c = rawpg.RawConn(timeout=5, unix_path=path)
        c.login("scram_user", "testdb", PW)
        c.send(rawpg.query(f"SELECT repeat('x', {total})"))
        got = 0
        while got < total - remaining:
            chunk = c.sock.recv(min(65536, total - remaining - got))
            assert chunk, "linkpool closed the connection"
            got += len(chunk)
            c.buf += chunk
        c.send(rawpg.query("SELECT 2"))
        time.sleep(0.2)
        rows, _, status = c.read_result(timeout=5)
        assert len(rows) == 1 and len(rows[0][0]) == total and status == "I"
        assert c.read_result(timeout=5)[0] == [("2",)], f"remaining={remaining}"
        c.close()


# ------------------------------------------------ (b) a hostile PostgreSQL server

def _row_description(name="x"):
    return rawpg.msg("T", struct.pack("!H", 1) + rawpg.cstr(name) +
                     struct.pack("!IhIhih", 0, 0, 25, -1, -1, 0))


def _data_row(value):
    return rawpg.msg("D", struct.pack("!Hi", 1, len(value)) + value)


def _answer(value=b"1"):
    return (_row_description() + _data_row(value) + rawpg.msg("C", rawpg.cstr("SELECT 1")) +
            rawpg.msg("Z", b"I"))


# What the fake server sends instead of an answer to a query that mentions
# 'hostile'; the scenario is the database name linkpool logs in with.
HOSTILE_ANSWERS = {
    "len_below_4": b"T" + struct.pack("!I", 2),
    "len_negative": b"D" + struct.pack("!i", -16),
    "unknown_type": rawpg.msg("Y", b"hello"),
    "login_only_type": rawpg.msg("R", struct.pack("!I", 0)),
    "rfq_bad_status": rawpg.msg("Z", b"X"),
    "rfq_long": rawpg.msg("Z", b"II"),
    "fixed_size_with_body": rawpg.msg("1", b"\x00" * 4),
    "huge_param_status": rawpg.msg("S", rawpg.cstr("TimeZone") + rawpg.cstr("x" * 100000)),
    "rfq_unasked": _answer() + rawpg.msg("Z", b"I"),
    # answered whole, then cut inside a DataRow: no room for an error
    "close_mid_datarow": _row_description() + b"D" + struct.pack("!IHi", 1004, 1, 994) + b"y" * 50,
}
# the bytes a client sees before the cut, and nothing after them
MID_DATAROW_PREFIX = HOSTILE_ANSWERS["close_mid_datarow"]


class FakePg:
    """A PostgreSQL look-alike: trust login, answers 'SELECT 1' to every query,
    and the hostile answer of its scenario to a query mentioning 'hostile'.
    Records how each connection ended."""

    PARAMS = {"server_version": "15.0", "server_encoding": "UTF8", "client_encoding": "UTF8",
              "DateStyle": "ISO, MDY", "IntervalStyle": "postgres", "TimeZone": "UTC",
              "integer_datetimes": "on", "standard_conforming_strings": "on",
              "application_name": ""}

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = rawpg.bind_low_port(self.lsock)
        self.lsock.listen(64)
        self.lsock.settimeout(0.2)
        self.stop_evt = threading.Event()
        self.lock = threading.Lock()
        self.ended = []            # (scenario, how) per finished connection
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stop_evt.is_set():
            try:
                s, _ = self.lsock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    @staticmethod
    def _recv_exact(s, n):
        out = b""
        while len(out) < n:
            chunk = s.recv(n - len(out))
            if not chunk:
                raise EOFError
            out += chunk
        return out

    def _serve(self, s):
        s.settimeout(10)
        scenario, how = "?", "error"
        try:
            (ln,) = struct.unpack("!I", self._recv_exact(s, 4))
            body = self._recv_exact(s, ln - 4)
            parts = body[4:].split(b"\x00")
            params = dict(zip(parts[0::2], parts[1::2]))
            scenario = params.get(b"database", b"?").decode()
            out = rawpg.msg("R", struct.pack("!I", 0))
            for k, v in self.PARAMS.items():
                out += rawpg.msg("S", rawpg.cstr(k) + rawpg.cstr(v))
            out += rawpg.msg("K", struct.pack("!II", 4242, 1234)) + rawpg.msg("Z", b"I")
            s.sendall(out)
            while True:
                t = self._recv_exact(s, 1)
                (ln,) = struct.unpack("!I", self._recv_exact(s, 4))
                body = self._recv_exact(s, ln - 4)
                if t == b"X":
                    how = "terminate"
                    return
                if t != b"Q":
                    continue
                if b"hostile" not in body:
                    s.sendall(_answer())
                    continue
                s.sendall(HOSTILE_ANSWERS[scenario])
                if scenario == "close_mid_datarow":
                    how = "we closed"
                    return
        except (EOFError, ConnectionResetError):
            how = "eof"
        except OSError as e:
            how = f"error {e!r}"
        finally:
            with self.lock:
                self.ended.append((scenario, how))
            s.close()

    def ended_count(self, scenario):
        with self.lock:
            return sum(1 for sc, _ in self.ended if sc == scenario)

    def close(self):
        self.stop_evt.set()
        self.thread.join(2)
        self.lsock.close()


@pytest.fixture
def fake_pg():
    f = FakePg()
    yield f
    f.close()


def test_hostile_server_answers(linkpool, fake_pg):
    """Each hostile answer: the client gets 08006/08P01 (or, cut inside a
    DataRow, exactly the bytes before the cut and a close), linkpool closes
    that server connection, and the same pool and the real one keep working."""
    dbs = {f"fake_{name}": f"host=127.0.0.1 port={fake_pg.port} dbname={name}"
           for name in HOSTILE_ANSWERS}
    lp = linkpool({"pool_mode": "session", "server_tls_sslmode": "disable"}, databases=dbs)
    bystander = lp.connect()
    for name in sorted(HOSTILE_ANSWERS):
        c = _login(lp, db=f"fake_{name}")
        assert c.run("SELECT 1")[0] == [("1",)], name
        c.send(rawpg.query("SELECT 'hostile'"))
        if name == "close_mid_datarow":
            assert c.wait_closed(5), name
            assert c.buf == MID_DATAROW_PREFIX, f"{name}: client got bytes after the cut"
        else:
            res = c.error_or_close(5)   # (rfq_unasked: the answer may come first)
            assert _sqlstate_error(res) and res.sqlstate in ("08006", "08P01"), f"{name}: {res}"
            assert c.wait_closed(5), name
            # linkpool closed the server connection it could no longer trust
            wait_for(lambda: fake_pg.ended_count(name) >= 1, 5, what=f"{name}: server closed")
        # the pool reconnects, the real database never noticed
        again = _login(lp, db=f"fake_{name}")
        assert again.run("SELECT 1")[0] == [("1",)], name
        again.close()
        assert bystander.execute("SELECT 7").fetchone() == (7,)
    assert lp.proc.poll() is None


# ------------------------------------------------ (a) chaos: hostile clients beside a valid workload

INVALID_TYPES = bytes(t for t in range(256) if bytes([t]) not in b"QPBEDCHSFdcfX")


def _must_error(c, what):
    """The client must get an ErrorResponse with a SQLSTATE (then a close)."""
    res = c.error_or_close(5)
    if not _sqlstate_error(res):
        return f"{what}: expected an ErrorResponse with a SQLSTATE, got {res!r}"
    return None


def _extended(sql):
    return (rawpg.msg("P", rawpg.cstr("") + rawpg.cstr(sql) + struct.pack("!H", 0)) +
            rawpg.msg("B", rawpg.cstr("") + rawpg.cstr("") + struct.pack("!HHH", 0, 0, 0)) +
            rawpg.msg("E", rawpg.cstr("") + struct.pack("!I", 0)))


def _hostile_round(lp, rnd):
    """One hostile client; returns (scenario, problem or None)."""
    pre_login = {
        "bad_startup_length": lambda: struct.pack("!i", rnd.choice([-1, 0, 3, 100000])) + b"\x00" * 8,
        "garbage_startup": lambda: b"GET / HTTP/1.1\r\n\r\n" + os.urandom(rnd.randint(0, 64)),
    }
    name = rnd.choice(sorted(pre_login) + ["truncated_startup"] + sorted(POST_LOGIN))
    if name in pre_login:
        c = rawpg.RawConn(lp.host, lp.port, timeout=5)
        try:
            c.send(pre_login[name]())
            return name, _must_error(c, name)
        finally:
            c.close()
    if name == "truncated_startup":
        c = rawpg.RawConn(lp.host, lp.port, timeout=5)
        c.send(rawpg.startup("scram_user", "testdb")[:rnd.randint(1, 20)])
        c.close(abort=True)    # nobody left to answer
        return name, None
    c = _login(lp)
    try:
        return name, POST_LOGIN[name](c, rnd)
    finally:
        c.close(abort=True)


def _s_bad_type(c, rnd):
    c.send(bytes([rnd.choice(INVALID_TYPES)]) + struct.pack("!I", 8) + b"abcd")
    return _must_error(c, "bad_type")


def _s_len_below_4(c, rnd):
    c.send(b"Q" + struct.pack("!I", rnd.randint(0, 3)) + b"SELECT 1\x00")
    return _must_error(c, "len_below_4")


def _s_len_negative(c, rnd):
    c.send(rnd.choice([b"P", b"Q", b"d"]) + struct.pack("!i", -rnd.randint(1, 1 << 30)))
    return _must_error(c, "len_negative")


def _s_len_over_max(c, rnd):
    c.send(b"Q" + struct.pack("!I", 2_000_000 + rnd.randint(0, 1000)) + b"SELECT")
    return _must_error(c, "len_over_max")


def _s_fixed_size_with_body(c, rnd):
    c.send(rnd.choice([b"S", b"H", b"c"]) + struct.pack("!I", 8) + b"\x00" * 4)
    return _must_error(c, "fixed_size_with_body")


def _s_small_too_long(c, rnd):
    # Whole: a Describe or Close may name one of the client's statements,
    # renamed short before it reaches a server, so only the end of the
    # message says whether it is too long for PostgreSQL.
    kind = rnd.choice([b"D", b"C", b"E"])
    body = b"S" + b"x" * 19994 + b"\x00" if kind != b"E" else b"S"
    c.send(kind + struct.pack("!I", 20000) + body)
    return _must_error(c, "small_too_long")


def _s_garbage_after_login(c, rnd):
    c.send(bytes([rnd.choice(INVALID_TYPES)]) + os.urandom(rnd.randint(4, 80)))
    return _must_error(c, "garbage_after_login")


def _s_cut_mid_message(c, rnd):
    c.send(b"Q" + struct.pack("!I", 1000) + b"SELECT 1")
    time.sleep(rnd.random() * 0.05)
    return None


def _s_terminate_mid_batch(c, rnd):
    c.send(_extended("SELECT 1") + rawpg.terminate())
    return None if c.wait_closed(5) else "terminate_mid_batch: not closed"


def _s_syncless_parse(c, rnd):
    c.send(rawpg.msg("P", rawpg.cstr("") + rawpg.cstr("SELECT 1") + struct.pack("!H", 0)))
    time.sleep(rnd.random() * 0.05)
    return None


def _s_copydata_outside_copy(c, rnd):
    c.send(rawpg.msg("d", b"stray") + rawpg.msg("c") + rawpg.query("SELECT 5"))
    rows = c.read_result()[0]
    return None if rows == [("5",)] else f"copydata_outside_copy: {rows}"


def _s_copydata_cut(c, rnd):
    c.send(b"d" + struct.pack("!I", 100004) + b"x" * rnd.randint(0, 3000))
    return None


def _s_open_tx_killed(c, rnd):
    status = c.run(f"BEGIN; INSERT INTO chaos_rows VALUES (-1, {rnd.randint(1, 1 << 30)})")[2]
    return None if status == "T" else f"open_tx_killed: status {status}"


def _s_open_tx_killed_extended(c, rnd):
    c.run("BEGIN")
    c.send(_extended(f"INSERT INTO chaos_rows VALUES (-1, {rnd.randint(1, 1 << 30)})"))
    time.sleep(rnd.random() * 0.05)
    return None


def _s_copy_in_killed(c, rnd):
    c.send(rawpg.query("COPY chaos_rows FROM STDIN"))
    t, _ = c.recv_msg()
    if t != "G":
        return f"copy_in_killed: expected CopyInResponse, got {t!r}"
    c.send(rawpg.msg("d", b"-2\t7\n"))
    return None


def _s_copy_fail(c, rnd):
    c.send(rawpg.query("COPY chaos_rows FROM STDIN"))
    t, _ = c.recv_msg()
    c.send(rawpg.msg("d", b"-2\t8\n") + rawpg.msg("f", rawpg.cstr("client gave up")))
    try:
        c.read_result()
        return "copy_fail: no error"
    except rawpg.PgError as e:
        if not e.sqlstate:
            return "copy_fail: error without SQLSTATE"
    rows = c.run("SELECT 6")[0]
    return None if rows == [("6",)] else f"copy_fail: {rows}"


def _s_copy_out_killed(c, rnd):
    c.send(rawpg.query("COPY (SELECT generate_series(1, 50000)) TO STDOUT"))
    for _ in range(rnd.randint(1, 50)):
        c.recv_msg()
    return None


def _s_pipelined(c, rnd):
    c.send(rawpg.query("SELECT 1") + rawpg.query("SELECT 2") + _extended("SELECT 3") + rawpg.sync())
    got = [c.read_result()[0] for _ in range(3)]
    return None if got == [[("1",)], [("2",)], [("3",)]] else f"pipelined: {got}"


def _s_function_call(c, rnd):
    c.send(rawpg.msg("F", struct.pack("!IHHH", 0, 0, 0, 0)))
    try:
        c.read_result()
        return "function_call: no error for function 0"
    except rawpg.PgError as e:
        if not e.sqlstate:
            return "function_call: error without SQLSTATE"
    return None if c.run("SELECT 4")[0] == [("4",)] else "function_call: session broken"


def _s_set_tracked_then_leave(c, rnd):
    c.run("SET TimeZone = 'Asia/Tokyo'")
    c.run("SET application_name = 'hostile'")
    return None


POST_LOGIN = {name[3:]: fn for name, fn in globals().items() if name.startswith("_s_")}


def _valid_worker(lp, wid, deadline, committed, failures):
    try:
        conn = lp.connect()
        seq = 0
        while time.monotonic() < deadline:
            seq += 1
            with conn.transaction():
                conn.execute("INSERT INTO chaos_rows VALUES (%s, %s)", (wid, seq))
                tz = conn.execute("SELECT current_setting('TimeZone')").fetchone()[0]
            if tz != "UTC":
                failures.append(f"worker {wid}: saw TimeZone {tz}")
            committed.append((wid, seq))
    except Exception as e:  # noqa: BLE001 - every failure is reported
        failures.append(f"worker {wid}: {e!r}")


@pytest.mark.timeout(80)
def test_chaos_hostile_clients_beside_valid_workload(linkpool, pg, tmp_path):
    pg.sql("DROP TABLE IF EXISTS chaos_rows", db="testdb")
    pg.sql("CREATE TABLE chaos_rows (worker int, seq int)", db="testdb")
    pg.sql("GRANT ALL ON chaos_rows TO PUBLIC", db="testdb")
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "4",
                   "max_packet_size": "1000000", "max_client_conn": "300"})
    seconds = 15
    deadline = time.monotonic() + seconds
    script = tmp_path / "bench.sql"
    script.write_text("BEGIN;\nSELECT count(*) FROM pg_class;\nSELECT 1;\nEND;\n")
    env = dict(os.environ, PGPASSWORD=PW, PGSSLMODE="disable", PGCONNECT_TIMEOUT="10")
    bench = subprocess.Popen(["pgbench", "-n", "-h", lp.host, "-p", str(lp.port), "-U", "scram_user",
                              "-M", "extended", "-c", "3", "-T", str(seconds - 1), "-f", str(script),
                              "testdb"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                             text=True)
    committed, failures, outcomes = [], [], []

    def hostile(seed):
        rnd = random.Random(seed)
        while time.monotonic() < deadline:
            try:
                outcomes.append(_hostile_round(lp, rnd))
            except Exception as e:  # noqa: BLE001 - an exception is an unanswered client
                outcomes.append(("exception", f"{e!r}"))

    threads = [threading.Thread(target=_valid_worker, args=(lp, w, deadline, committed, failures))
               for w in range(1, 6)]
    threads += [threading.Thread(target=hostile, args=(1000 + i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(deadline - time.monotonic() + 20)
    try:
        out, _ = bench.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        bench.kill()
        out, _ = bench.communicate()

    assert not [t for t in threads if t.is_alive()], "a client thread hung"
    assert lp.proc.poll() is None, "linkpool died"
    assert not failures, failures[:10]
    assert bench.returncode == 0, out
    m = re.search(r"number of failed transactions: (\d+)", out)
    assert m is None or int(m.group(1)) == 0, out
    problems = [o for o in outcomes if o[1]]
    assert not problems, problems[:10]
    seen = {name for name, _ in outcomes}
    assert len(seen) >= len(POST_LOGIN), f"scenarios not exercised: {set(POST_LOGIN) - seen}"

    # no server left inside a transaction, no half-done work visible
    wait_for(lambda: _no_open_transactions(pg), 10, what="no idle-in-transaction backend")
    rows = pg.sql("SELECT worker, seq FROM chaos_rows", db="testdb")
    assert sorted(r for r in rows if r[0] > 0) == sorted(committed)
    assert not [r for r in rows if r[0] < 0], "rows of killed or failed clients are visible"
    assert pg.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'testdb' AND "
                  "usename = 'scram_user'")[0][0] <= 4

    # every pooled server hands a fresh client a clean session
    conns = [lp.connect() for _ in range(4)]
    pids = set()
    for conn in conns:
        conn.execute("BEGIN")
        pid, tz, app, xid, cursors = conn.execute(
            "SELECT pg_backend_pid(), current_setting('TimeZone'), "
            "current_setting('application_name'), pg_current_xact_id_if_assigned(), "
            "(SELECT count(*) FROM pg_cursors)").fetchone()
        assert (tz, app, xid, cursors) == ("UTC", "", None, 0)
        pids.add(pid)
    for conn in conns:
        conn.execute("COMMIT")
    assert len(pids) == 4


# ------------------------------------------------ (c) data integrity under killed clients

@pytest.mark.timeout(60)
def test_pipelined_batches_survive_killed_clients(linkpool, pg):
    """Transaction mode, 20 clients inserting sequenced rows in pipelined
    extended-protocol transactions while other clients die mid-transaction:
    every committed row is there exactly once, nothing of the dead is."""
    pg.sql("DROP TABLE IF EXISTS integ_rows", db="testdb")
    pg.sql("CREATE TABLE integ_rows (client int, seq int)", db="testdb")
    pg.sql("GRANT ALL ON integ_rows TO PUBLIC", db="testdb")
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "5", "max_client_conn": "300"})
    deadline = time.monotonic() + 8
    committed = {cid: [] for cid in range(1, 21)}
    failures = []

    def writer(cid):
        try:
            conn = lp.connect()
            seq = 0
            while time.monotonic() < deadline:
                batch = list(range(seq + 1, seq + 6))
                with conn.pipeline():
                    with conn.transaction():
                        for s in batch:
                            conn.execute("INSERT INTO integ_rows VALUES (%s, %s)", (cid, s))
                committed[cid].extend(batch)
                seq = batch[-1]
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failures.append(f"writer {cid}: {e!r}")

    def killer(kid):
        rnd = random.Random(kid)
        n = 0
        while time.monotonic() < deadline:
            n += 1
            try:
                c = _login(lp)
                victim = 1000 + kid
                kind = n % 3
                if kind == 0:      # simple protocol, transaction open
                    c.run(f"BEGIN; INSERT INTO integ_rows VALUES ({victim}, {n})")
                elif kind == 1:    # extended batch synced, no COMMIT
                    c.send(rawpg.query("BEGIN") + _extended(f"INSERT INTO integ_rows VALUES ({victim}, {n})")
                           + rawpg.sync())
                    c.read_result()
                    c.read_result()
                else:              # extended batch cut before its Sync
                    c.run("BEGIN")
                    c.send(_extended(f"INSERT INTO integ_rows VALUES ({victim}, {n})"))
                time.sleep(rnd.random() * 0.05)
                c.close(abort=True)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                failures.append(f"killer {kid}: {e!r}")

    threads = [threading.Thread(target=writer, args=(cid,)) for cid in committed]
    threads += [threading.Thread(target=killer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(deadline - time.monotonic() + 20)
    assert not [t for t in threads if t.is_alive()], "a client thread hung"
    assert not failures, failures[:10]
    assert lp.proc.poll() is None

    wait_for(lambda: _no_open_transactions(pg), 10, what="no idle-in-transaction backend")
    rows = pg.sql("SELECT client, seq FROM integ_rows", db="testdb")
    assert not [r for r in rows if r[0] >= 1000], "uncommitted rows of killed clients are visible"
    for cid, seqs in committed.items():
        got = sorted(s for c, s in rows if c == cid)
        assert got == seqs, f"client {cid}: {len(got)} rows stored, {len(seqs)} committed"
    assert sum(len(s) for s in committed.values()) > 100
