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

import psycopg
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
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
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
    lp = linkpool({"pool_mode": "session"}, databases=dbs)
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
