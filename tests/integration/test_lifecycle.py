"""Graceful shutdowns as PgBouncer 1.25 runs them, seen from clients and the
console: SHUTDOWN WAIT_FOR_SERVERS / SIGINT pauses the pooler and exits with
the last server connection, SHUTDOWN WAIT_FOR_CLIENTS / SIGTERM exits with
the last pooled client; both close the TCP listener at once and keep the
unix socket for the admin console only; a second SIGINT or SIGTERM exits at
once; RESUME and SIGUSR2 do not undo a shutdown."""

import os
import signal
import socket
import threading
import time

import psycopg
import pytest

from conftest import wait_for


def _unix_dsn(lp, user, db, password):
    return (f"host={lp.sockdir} port={lp.port} user={user} dbname={db} password={password} "
            f"connect_timeout=5")


def _admin_unix(lp, sql):
    with psycopg.connect(_unix_dsn(lp, "admin", "pgbouncer", "admin-secret"), autocommit=True,
                         prepare_threshold=None) as c:
        cur = c.execute(sql)
        return cur.fetchall() if cur.description else []


def _tcp_refused(lp):
    try:
        socket.create_connection((lp.host, lp.port), timeout=1).close()
        return False
    except OSError:
        return True


def _sock_path(lp):
    return os.path.join(lp.sockdir, f".s.PGSQL.{lp.port}")


def test_sigint_session_client_keeps_its_server(linkpool):
    lp = linkpool({"pool_mode": "session"})
    conn = lp.connect()
    assert conn.execute("SELECT 1").fetchone() == (1,)
    lp.signal(signal.SIGINT)
    lp.wait_log(r"got SIGINT, shutting down, waiting for all servers connections to be released")
    time.sleep(0.5)
    # The session holds its server: WAIT_FOR_SERVERS waits for it, and the
    # session goes on meanwhile.
    assert lp.proc.poll() is None
    assert conn.execute("SELECT 2").fetchone() == (2,)
    assert _tcp_refused(lp)
    # A second SIGINT does not wait any more.
    lp.signal(signal.SIGINT)
    assert lp.wait_exit(5) == 0
    assert "got SIGINT while shutting down, fast exit" in lp.log_text()
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 3")


def test_wait_for_servers_closes_queued_and_new_requests(linkpool):
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "1"})
    a = lp.connect(autocommit=False)
    a.execute("SELECT 1")                   # holds the only server, in a transaction
    queued_err = []

    def queued():
        try:
            with psycopg.connect(lp.dsn(), autocommit=True, prepare_threshold=None) as b:
                b.execute("SELECT 1")
        except psycopg.Error as e:
            queued_err.append(e)

    t = threading.Thread(target=queued, daemon=True)
    t.start()
    wait_for(lambda: any(r[3] > 0 for r in lp.admin("SHOW POOLS") if r[0] == "testdb"),
             what="a queued client")
    idle = lp.connect()                     # logged in, no server
    lp.admin("SHUTDOWN WAIT_FOR_SERVERS")
    # The queued client is closed by the command itself.
    t.join(5)
    assert not t.is_alive() and queued_err, "the queued client was not closed"
    assert "server shutting down" in str(queued_err[0])
    assert "closing because: server shutting down" in lp.log_text()
    # The open transaction goes on to its end; a new one is refused.
    assert a.execute("SELECT 2").fetchone() == (2,)
    with pytest.raises(psycopg.OperationalError, match="server shutting down"):
        idle.execute("SELECT 1")
    assert lp.proc.poll() is None
    a.commit()                              # the last server is released and closed
    assert lp.wait_exit(5) == 0
    assert "server connections dropped, exiting" in lp.log_text()


def test_wait_for_servers_running_statement_finishes(linkpool):
    lp = linkpool({"pool_mode": "statement"})
    conn = lp.connect()
    res = []
    t = threading.Thread(target=lambda: res.append(
        conn.execute("SELECT pg_sleep(1.5), 42").fetchone()[1]), daemon=True)
    t.start()
    time.sleep(0.4)
    lp.signal(signal.SIGINT)
    t.join(5)
    assert res == [42], "the running statement lost its answer"
    assert lp.wait_exit(5) == 0


def test_graceful_shutdown_console_stays_on_unix_socket(linkpool):
    lp = linkpool({"pool_mode": "session"})
    conn = lp.connect()
    conn.execute("SELECT 1")
    lp.admin("SHUTDOWN WAIT_FOR_CLIENTS")
    time.sleep(0.3)
    assert _tcp_refused(lp)
    assert os.path.exists(_sock_path(lp)), "the unix socket went at the start of the shutdown"
    # The console answers over the unix socket; nothing else is let in there.
    assert _admin_unix(lp, "SHOW VERSION")
    with pytest.raises(psycopg.OperationalError, match="pooler is shutting down"):
        psycopg.connect(_unix_dsn(lp, "scram_user", "testdb", "scram-secret-1")).close()
    assert lp.proc.poll() is None
    conn.close()
    assert lp.wait_exit(5) == 0
    assert "client connections dropped, exiting" in lp.log_text()
    assert not os.path.exists(_sock_path(lp))


def test_resume_and_sigusr2_do_not_undo_a_shutdown(linkpool):
    lp = linkpool({"pool_mode": "session"})
    conn = lp.connect()
    conn.execute("SELECT 1")
    with psycopg.connect(lp.dsn("admin", "pgbouncer"), autocommit=True,
                         prepare_threshold=None) as adm:
        adm.execute("SHUTDOWN WAIT_FOR_CLIENTS")
        # PgBouncer's answer, SQLSTATE 08P01 as for every console refusal.
        with pytest.raises(psycopg.errors.ProtocolViolation, match="pooler is shutting down"):
            adm.execute("RESUME")
    lp.signal(signal.SIGUSR2)
    lp.wait_log(r"got SIGUSR2 while shutting down, ignoring")
    assert _tcp_refused(lp)
    assert lp.proc.poll() is None
    conn.close()
    assert lp.wait_exit(5) == 0


def test_second_sigterm_exits_at_once(linkpool):
    lp = linkpool({"pool_mode": "session"})
    conn = lp.connect()
    conn.execute("SELECT 1")
    lp.signal(signal.SIGTERM)
    lp.wait_log(r"got SIGTERM, shutting down, waiting for all clients disconnect")
    assert conn.execute("SELECT 2").fetchone() == (2,)
    lp.signal(signal.SIGTERM)
    assert lp.wait_exit(5) == 0
    assert "got SIGTERM while shutting down, fast exit" in lp.log_text()
