"""SIGHUP reload, --check, and the shutdown signals (PgBouncer 1.23+ semantics):
SIGINT waits for transactions to finish, SIGTERM waits for clients to leave,
SIGQUIT exits at once."""

import os
import re
import signal
import socket
import subprocess
import threading
import time

import psycopg
import pytest

from conftest import LINKPOOL_BIN, wait_for


def _can_query(lp, db):
    with psycopg.connect(lp.dsn(db=db), autocommit=True, connect_timeout=3) as c:
        return c.execute("SELECT current_database()").fetchone()[0]


def test_reload_adds_database(linkpool, pg):
    lp = linkpool()
    with pytest.raises(psycopg.Error):
        _can_query(lp, "newdb")
    lp.write_ini(databases={"newdb": pg.db_entry("otherdb")})
    lp.reload()
    assert wait_for(lambda: _can_query(lp, "newdb"), timeout=5, what="newdb after reload") == "otherdb"
    assert _can_query(lp, "testdb") == "testdb"


def test_reload_many_databases_each_found_by_name(linkpool, pg):
    """600 [databases] entries (the registry's index by name grows several
    times), then a reload that removes a third of them and points others
    elsewhere, then one that brings a removed name back: every login lands
    where the file of the moment says."""
    lp = linkpool()
    target = {i: ("otherdb" if i % 2 else "testdb") for i in range(600)}
    lp.write_ini(databases={f"many{i}": pg.db_entry(target[i]) for i in range(600)})
    lp.reload()
    assert wait_for(lambda: _can_query(lp, "many599"), timeout=5, what="many599") == "otherdb"
    for i in (0, 1, 17, 256, 598):
        assert _can_query(lp, f"many{i}") == target[i]

    changes = {f"many{i}": None for i in range(0, 600, 3)}
    for i in range(1, 600, 3):
        target[i] = "testdb" if target[i] == "otherdb" else "otherdb"
        changes[f"many{i}"] = pg.db_entry(target[i])
    lp.write_ini(databases=changes)
    lp.reload()

    def gone(name):
        try:
            _can_query(lp, name)
        except psycopg.Error as e:
            return "no such database" in str(e)
        return False
    assert wait_for(lambda: gone("many597"), timeout=5, what="many597 removed")
    for i in (0, 3, 300):
        assert gone(f"many{i}")
    for i in (1, 2, 4, 298, 299, 598, 599):
        assert _can_query(lp, f"many{i}") == target[i], i

    lp.write_ini(databases={"many300": pg.db_entry("otherdb")})
    lp.reload()
    assert wait_for(lambda: _can_query(lp, "many300"), timeout=5, what="many300 back") == "otherdb"
    assert gone("many0")


def _max_backends_under(lp, pg, clients, seconds=1.0):
    """Runs `clients` concurrent pg_sleep queries; returns the most server connections seen."""
    barrier = threading.Barrier(clients)
    errors = []

    def run():
        try:
            with psycopg.connect(lp.dsn(), autocommit=True, prepare_threshold=None) as c:
                barrier.wait(5)
                c.execute(f"SELECT pg_sleep({seconds})")
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    max_seen = 0
    deadline = time.monotonic() + seconds * clients + 10
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        n = len(pg.backends(user="scram_user", db="testdb", state="active"))
        max_seen = max(max_seen, n)
        time.sleep(0.05)
    for t in threads:
        t.join(1)
    assert not errors, errors
    return max_seen


def test_reload_changes_default_pool_size(linkpool, pg):
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "1"})
    assert _max_backends_under(lp, pg, clients=3, seconds=0.7) == 1
    lp.write_ini({"default_pool_size": "3"})
    lp.reload()
    time.sleep(0.5)  # reload is asynchronous: give the loop a moment
    assert _max_backends_under(lp, pg, clients=3, seconds=1.0) == 3


def test_reload_broken_file_keeps_old_config(linkpool, pg):
    lp = linkpool()
    good = lp.ini_text()
    lines = good.splitlines()
    # add a database (must NOT appear) and, after it, an unknown key
    idx = lines.index("[databases]") + 1
    lines.insert(idx, f"brokendb = {pg.db_entry('otherdb')}")
    lines.append("no_such_setting_xyz = 1")
    bad_line = len(lines)
    lp.write_raw("\n".join(lines) + "\n")
    lp.reload()
    name = os.path.basename(lp.ini_path)
    lp.wait_log(rf"{re.escape(name)}:{bad_line}\b", timeout=5)
    assert lp.proc.poll() is None, "linkpool died on a broken reload"
    assert _can_query(lp, "testdb") == "testdb"
    with pytest.raises(psycopg.Error):
        _can_query(lp, "brokendb")
    # a good file afterwards is taken
    lp.write_raw(good)
    lp.write_ini(databases={"fixeddb": pg.db_entry("otherdb")})
    lp.reload()
    wait_for(lambda: _can_query(lp, "fixeddb"), timeout=5, what="fixeddb after good reload")


def test_check_good_and_bad(linkpool):
    lp = linkpool(start=False)
    out = subprocess.run([LINKPOOL_BIN, "--check", lp.ini_path], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    text = lp.ini_text().rstrip("\n").split("\n")
    text.append("listen_port = not-a-number")
    bad_line = len(text)
    lp.write_raw("\n".join(text) + "\n")
    out = subprocess.run([LINKPOOL_BIN, "--check", lp.ini_path], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"{lp.ini_path}:{bad_line}:" in out.stdout + out.stderr, out.stdout + out.stderr
    lp.check_exit_code = False  # never started


def test_check_unknown_key(linkpool):
    lp = linkpool(start=False)
    text = lp.ini_text().rstrip("\n").split("\n")
    text.append("bogus_option = 1")
    lp.write_raw("\n".join(text) + "\n")
    out = subprocess.run([LINKPOOL_BIN, "--check", lp.ini_path], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 1
    assert re.search(rf"{re.escape(lp.ini_path)}:{len(text)}:", out.stdout + out.stderr)


def _refused(lp):
    try:
        with psycopg.connect(lp.dsn(), autocommit=True, connect_timeout=2) as c:
            c.execute("SELECT 1")
        return False
    except psycopg.Error:
        return True


def test_sigint_waits_for_transaction(linkpool, pg):
    pg.sql("DROP TABLE IF EXISTS sigint_t; CREATE TABLE sigint_t (id int); "
           "GRANT ALL ON sigint_t TO PUBLIC", db="testdb")
    lp = linkpool({"pool_mode": "transaction"})
    conn = lp.connect(autocommit=False)
    conn.execute("INSERT INTO sigint_t VALUES (42)")
    lp.signal(signal.SIGINT)
    time.sleep(0.5)
    assert lp.proc.poll() is None, "SIGINT must wait for the open transaction"
    conn.commit()
    conn.close()
    rc = lp.wait_exit(10)
    assert rc is not None, "linkpool did not exit after the transaction finished"
    assert rc == 0
    assert pg.sql("SELECT id FROM sigint_t", db="testdb") == [(42,)]


def test_sigterm_waits_for_clients(linkpool):
    lp = linkpool({"pool_mode": "session"})
    conn = lp.connect()
    assert conn.execute("SELECT 1").fetchone() == (1,)
    lp.signal(signal.SIGTERM)
    time.sleep(0.5)
    assert lp.proc.poll() is None, "SIGTERM must wait for connected clients"
    # the existing client keeps working; new ones are turned away
    assert conn.execute("SELECT 2").fetchone() == (2,)
    assert _refused(lp)
    conn.close()
    rc = lp.wait_exit(10)
    assert rc is not None, "linkpool did not exit after the last client left"
    assert rc == 0


def test_sigquit_exits_immediately(linkpool):
    lp = linkpool({"pool_mode": "session"})
    conn = lp.connect(autocommit=False)
    conn.execute("SELECT 1")  # in a transaction
    start = time.monotonic()
    lp.signal(signal.SIGQUIT)
    rc = lp.wait_exit(3)
    assert rc is not None, "SIGQUIT should exit at once"
    assert time.monotonic() - start < 3
    with pytest.raises(OSError):
        socket.create_connection((lp.host, lp.port), timeout=1).close()
    lp.check_exit_code = False
