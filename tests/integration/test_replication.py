"""Replication connections through linkpool (PgBouncer 1.23+ behaviour).

A client whose startup packet says replication=database (logical) or
replication=true|on|yes|1 (physical) gets a server connection of its own,
opened with the same request and the client's own startup parameters, never
handed to another client and closed when the client leaves. It counts
against pool_size, max_db_connections and max_user_connections. SHOW
CLIENTS / SERVERS say none / logical / physical in their replication column.

This module runs its own PostgreSQL cluster: wal_level = logical, and
pg_hba.conf lines for replication connections.
"""

import os
import re
import struct
import subprocess
import threading
import time

import psycopg
import psycopg.errors
import pytest

import rawpg
from conftest import PASSWORDS, LP_ONLY_PASSWORDS, own_cluster, wait_for

REPL_PASSWORD = "repl-secret-5"
USERLIST = list(PASSWORDS.items()) + list(LP_ONLY_PASSWORDS.items()) + [
    ("repl_user", REPL_PASSWORD)]


@pytest.fixture(scope="module")
def pg():
    """A cluster of this module's own, able to serve replication."""
    def setup(cluster):
        with open(os.path.join(cluster.data, "postgresql.conf"), "a") as f:
            f.write("wal_level = logical\nmax_wal_senders = 20\nmax_replication_slots = 10\n"
                    "wal_sender_timeout = 0\n")
        hba_path = os.path.join(cluster.data, "pg_hba.conf")
        with open(hba_path) as f:
            old = f.read()
        with open(hba_path, "w") as f:
            f.write("local replication all trust\n"
                    "host replication repl_user 127.0.0.1/32 scram-sha-256\n" + old)
        cluster.restart()
        cluster.sql(f"CREATE ROLE repl_user LOGIN REPLICATION PASSWORD '{REPL_PASSWORD}'")
        cluster.sql("GRANT ALL ON DATABASE testdb TO repl_user")
        cluster.sql("CREATE TABLE repl_t(a int)", db="testdb")
        cluster.sql("GRANT ALL ON repl_t TO PUBLIC", db="testdb")
    with own_cluster(setup) as cluster:
        yield cluster


@pytest.fixture
def rlp(linkpool):
    """linkpool(**kw) with repl_user in the userlist."""
    def start(**kw):
        kw.setdefault("userlist", USERLIST)
        return linkpool(**kw)
    return start


def rconnect(lp, mode="database", user="repl_user", db="testdb", **kw):
    """A psycopg replication connection through lp (mode: database, true, ...)."""
    password = REPL_PASSWORD if user == "repl_user" else PASSWORDS.get(user, "")
    conn = psycopg.connect(lp.dsn(user, db, password), replication=mode, autocommit=True,
                           prepare_threshold=None, **kw)
    lp._conns.append(conn)
    return conn


def simple(conn, sql):
    """Runs sql over the simple protocol (a walsender takes replication
    commands only so); returns the rows."""
    res = conn.pgconn.exec_(sql.encode())
    if res.status not in (1, 2):  # COMMAND_OK, TUPLES_OK
        raise psycopg.errors.lookup(res.error_field(ord("C")).decode())(
            res.error_message.decode())
    return [tuple(None if res.get_value(r, c) is None else res.get_value(r, c).decode()
                  for c in range(res.nfields)) for r in range(res.ntuples)]


def rows_by(lp, what, col="ptr"):
    return {r[col]: r for r in lp.admin_rows(f"SHOW {what}")}


def walsenders(pg):
    return pg.sql("SELECT pid, usename, application_name FROM pg_stat_activity "
                  "WHERE backend_type = 'walsender'")


def test_logical_identify_system_and_sql(rlp, pg):
    lp = rlp()
    conn = rconnect(lp, application_name="lp-logical", options="-c enable_seqscan=off")
    rows = simple(conn, "IDENTIFY_SYSTEM")
    assert len(rows) == 1 and rows[0][0].isdigit()      # systemid
    # a logical walsender runs SQL too, with the client's startup parameters
    assert simple(conn, "SHOW application_name") == [("lp-logical",)]
    assert simple(conn, "SHOW enable_seqscan") == [("off",)]
    assert [r[2] for r in walsenders(pg)] == ["lp-logical"]
    # a normal connection of the same pool is a different backend
    with lp.connect("scram_user") as n:
        assert n.execute("SELECT 1").fetchone() == (1,)
    simple(conn, "IDENTIFY_SYSTEM")


def test_physical_identify_system(rlp, pg):
    lp = rlp()
    conn = rconnect(lp, "true", application_name="lp-physical",
                    options="-c enable_seqscan=off")
    rows = simple(conn, "IDENTIFY_SYSTEM")
    assert len(rows) == 1 and rows[0][3] is None         # no database: physical
    assert simple(conn, "SHOW application_name") == [("lp-physical",)]
    assert simple(conn, "SHOW enable_seqscan") == [("off",)]
    with pytest.raises(psycopg.errors.FeatureNotSupported,
                       match="cannot execute SQL commands in WAL sender for physical replication"):
        simple(conn, "SELECT 1")
    simple(conn, "IDENTIFY_SYSTEM")
    for mode in ("on", "yes", "1"):
        c = rconnect(lp, mode)
        assert simple(c, "IDENTIFY_SYSTEM")[0][3] is None
        c.close()


def test_replication_false_is_a_normal_connection(rlp):
    lp = rlp()
    conn = rconnect(lp, "off", user="scram_user")
    assert conn.execute("SELECT 1").fetchone() == (1,)
    assert {r["replication"] for r in lp.admin_rows("SHOW CLIENTS")} == {"none"}


def test_invalid_replication_value(rlp):
    lp = rlp()
    with pytest.raises(psycopg.OperationalError,
                       match='invalid value for parameter "replication": "maybe"'):
        rconnect(lp, "maybe")


def test_show_clients_and_servers_replication_column(rlp):
    lp = rlp()
    logical = rconnect(lp, "database", application_name="l")
    physical = rconnect(lp, "true", application_name="p")
    normal = lp.connect("scram_user")
    normal.execute("SELECT 1")
    clients = lp.admin_rows("SHOW CLIENTS")
    by_app = {r["application_name"]: r for r in clients if r["database"] == "testdb"}
    assert by_app["l"]["replication"] == "logical"
    assert by_app["p"]["replication"] == "physical"
    assert [r["replication"] for r in clients if r["user"] == "scram_user"] == ["none"]
    servers = rows_by(lp, "SERVERS")
    for app, kind in (("l", "logical"), ("p", "physical")):
        c = by_app[app]
        assert c["state"] == "active" and c["link"]
        s = servers[c["link"]]
        assert s["replication"] == kind
        assert s["link"] == c["ptr"]
    assert sorted(s["replication"] for s in servers.values()) == ["logical", "none", "physical"]
    for conn in (logical, physical):
        simple(conn, "IDENTIFY_SYSTEM")


def test_server_closed_when_client_leaves(rlp, pg):
    lp = rlp(ini_overrides={"pool_mode": "transaction", "log_disconnections": "1"})
    conn = rconnect(lp)
    simple(conn, "IDENTIFY_SYSTEM")
    assert len(walsenders(pg)) == 1
    conn.close()
    wait_for(lambda: not walsenders(pg), what="walsender gone")
    wait_for(lambda: not lp.admin_rows("SHOW SERVERS"), what="server closed")
    assert "closing because: replication client left" in lp.log_text()


def test_never_given_to_another_client(rlp, pg):
    """Transaction pooling: the replication server stays its client's between
    commands, and normal clients get other servers."""
    lp = rlp(ini_overrides={"pool_mode": "transaction"}, databases={"testdb": pg.db_entry(
        "testdb", pool_size=3)})
    conn = rconnect(lp, user="repl_user")
    repl_pid = int(simple(conn, "SELECT pg_backend_pid()")[0][0])
    for _ in range(5):
        with lp.connect("repl_user", password=REPL_PASSWORD) as n:
            assert n.execute("SELECT pg_backend_pid()").fetchone()[0] != repl_pid
    assert int(simple(conn, "SELECT pg_backend_pid()")[0][0]) == repl_pid
    # a transaction in the walsender does not make the link a pooled one
    simple(conn, "BEGIN")
    simple(conn, "COMMIT")
    assert int(simple(conn, "SELECT pg_backend_pid()")[0][0]) == repl_pid


def test_statement_mode(rlp, pg):
    lp = rlp(ini_overrides={"pool_mode": "statement"})
    conn = rconnect(lp)
    simple(conn, "BEGIN")          # no "transaction blocks not allowed" for it
    simple(conn, "SELECT 1")
    simple(conn, "COMMIT")
    simple(conn, "IDENTIFY_SYSTEM")


def test_pool_size_is_respected(rlp, pg):
    lp = rlp(databases={"testdb": pg.db_entry("testdb", pool_size=1)})
    first = rconnect(lp)
    simple(first, "IDENTIFY_SYSTEM")
    done = {}

    def second():
        c = rconnect(lp)
        done["rows"] = simple(c, "IDENTIFY_SYSTEM")
        done["at"] = time.monotonic()
        c.close()

    t = threading.Thread(target=second)
    t.start()
    wait_for(lambda: any(r["state"] == "waiting" and r["replication"] == "logical"
                         for r in lp.admin_rows("SHOW CLIENTS")), what="second client waits")
    assert len(walsenders(pg)) == 1
    left = time.monotonic()
    first.close()
    t.join(10)
    assert done["rows"] and done["at"] >= left


def test_evicts_an_idle_server_of_the_pool(rlp, pg):
    lp = rlp(databases={"testdb": pg.db_entry("testdb", pool_size=1)},
             ini_overrides={"log_disconnections": "1"})
    with lp.connect("repl_user", password=REPL_PASSWORD) as n:
        n.execute("SELECT 1")
    assert [s["state"] for s in lp.admin_rows("SHOW SERVERS")] == ["idle"]
    conn = rconnect(lp)
    simple(conn, "IDENTIFY_SYSTEM")
    assert "closing because: evicted" in lp.log_text()
    assert [s["replication"] for s in lp.admin_rows("SHOW SERVERS")] == ["logical"]


def test_max_db_connections(rlp, pg):
    lp = rlp(databases={"testdb": pg.db_entry("testdb", max_db_connections=1)},
             ini_overrides={"query_wait_timeout": "1"})
    first = rconnect(lp)
    simple(first, "IDENTIFY_SYSTEM")
    # the second waits for room, and gives up with query_wait_timeout
    t0 = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="query_wait_timeout"):
        rconnect(lp)
    assert time.monotonic() - t0 >= 0.9
    assert len(walsenders(pg)) == 1


def test_unprivileged_user_is_told_login_failed(rlp, pg):
    lp = rlp()
    with pytest.raises(psycopg.OperationalError, match="login failed"):
        rconnect(lp, user="scram_user")
    # PostgreSQL's reason is in the log (its words changed in 16)
    assert re.search(r"server login failed: FATAL (must be superuser or replication role to "
                     r"start walsender|permission denied to start WAL sender)", lp.log_text())
    assert re.search(r"S-\d+: testdb/scram_user@\S+ closing because: login failed", lp.log_text())
    # the ordinary pool of the same user goes on at once (no login backoff)
    with lp.connect("scram_user") as n:
        assert n.execute("SELECT 1").fetchone() == (1,)


def test_admin_console_refuses_replication(rlp):
    lp = rlp()
    for mode in ("database", "true"):
        with pytest.raises(psycopg.OperationalError,
                           match="replication connections to the admin console are not supported"):
            rconnect(lp, mode, user="admin", db="pgbouncer")
    assert lp.admin("SHOW VERSION")


def test_hba_replication_keyword(rlp, pg, tmp_path):
    hba = tmp_path / "hba.conf"
    hba.write_text("host replication repl_user 127.0.0.1/32 scram-sha-256\n"
                   "host all all 127.0.0.1/32 scram-sha-256\n")
    lp = rlp(ini_overrides={"auth_type": "hba", "auth_hba_file": str(hba)})
    simple(rconnect(lp, "true"), "IDENTIFY_SYSTEM")      # the replication line
    simple(rconnect(lp, "database"), "IDENTIFY_SYSTEM")  # "all" matches logical
    # without a replication line a physical connection matches nothing ...
    hba.write_text("host all all 127.0.0.1/32 scram-sha-256\n"
                   "host testdb all 127.0.0.1/32 trust\n")
    lp.reload()
    time.sleep(0.5)
    with pytest.raises(psycopg.OperationalError,
                       match="no pg_hba.conf entry for replication connection"):
        rconnect(lp, "true")
    simple(rconnect(lp, "database"), "IDENTIFY_SYSTEM")
    # ... and a replication line never matches a normal connection
    hba.write_text("host replication all 127.0.0.1/32 trust\n")
    lp.reload()
    time.sleep(0.5)
    with pytest.raises(psycopg.OperationalError, match="no pg_hba.conf entry for host"):
        lp.connect("scram_user")
    simple(rconnect(lp, "true"), "IDENTIFY_SYSTEM")


def test_copy_both_stream_ends_in_step(rlp, pg):
    """START_REPLICATION streams in COPY BOTH; the client ends it with
    CopyDone, the server answers CopyDone, CommandComplete, ReadyForQuery, and
    the connection goes on. A stream is one long command: query_timeout does
    not end it."""
    lp = rlp(ini_overrides={"query_timeout": "1"})
    c = lp.raw()
    c.login("repl_user", "testdb", REPL_PASSWORD, replication="true")
    rows, _, _ = c.run("IDENTIFY_SYSTEM")
    xlogpos = rows[0][2]
    c.send(rawpg.query(f"START_REPLICATION PHYSICAL {xlogpos}"))
    mtype, _ = c.recv_msg()
    assert mtype == "W"
    time.sleep(2)                  # past query_timeout, linkpool's janitor ran
    # a standby status update, then the end of our half
    c.send(rawpg.msg("d", b"r" + struct.pack("!QQQqB", 0, 0, 0, 0, 0)))
    c.send(rawpg.msg("c"))
    seen = []
    while True:
        mtype, _ = c.recv_msg()
        seen.append(mtype)
        if mtype == "Z":
            break
    assert "c" in seen and "E" not in seen
    rows, _, _ = c.run("IDENTIFY_SYSTEM")
    assert rows[0][2]
    servers = lp.admin_rows("SHOW SERVERS")
    assert [s["replication"] for s in servers] == ["physical"]
    c.close()


def test_pg_recvlogical(rlp, pg):
    lp = rlp()
    base = ["pg_recvlogical", "-h", lp.host, "-p", str(lp.port), "-U", "repl_user",
            "-d", "testdb", "--slot=lp_slot"]
    env = dict(os.environ, PGPASSWORD=REPL_PASSWORD, PGSSLMODE="disable")
    subprocess.run(base + ["--create-slot", "--plugin=test_decoding"], env=env, check=True,
                   timeout=30)
    proc = subprocess.Popen(base + ["--start", "--no-loop", "-f", "-"], env=env,
                            stdout=subprocess.PIPE)
    try:
        wait_for(lambda: pg.sql("SELECT active FROM pg_replication_slots "
                                "WHERE slot_name = 'lp_slot'") == [(True,)], timeout=10,
                 what="slot in use")
        pg.sql("INSERT INTO repl_t VALUES (42)", db="testdb")
        assert proc.stdout.readline().startswith(b"BEGIN ")
        assert proc.stdout.readline() == b"table public.repl_t: INSERT: a[integer]:42\n"
        assert proc.stdout.readline().startswith(b"COMMIT ")
        kinds = {r["replication"] for r in lp.admin_rows("SHOW CLIENTS")
                 if r["database"] == "testdb"}
        assert kinds == {"logical"}
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    wait_for(lambda: pg.sql("SELECT active FROM pg_replication_slots "
                            "WHERE slot_name = 'lp_slot'") == [(False,)], timeout=10,
             what="slot released")
    subprocess.run(base + ["--drop-slot"], env=env, check=True, timeout=30)
    assert pg.sql("SELECT count(*) FROM pg_replication_slots") == [(0,)]


def test_pg_basebackup(rlp, pg, tmp_path):
    """pg_basebackup names no database: libpq sends "replication", which
    needs a [databases] entry of that name (or "*"), as with PgBouncer."""
    lp = rlp(databases={"replication": pg.db_entry("postgres")})
    env = dict(os.environ, PGPASSWORD=REPL_PASSWORD, PGSSLMODE="disable")
    target = tmp_path / "backup"
    subprocess.run(["pg_basebackup", "-h", lp.host, "-p", str(lp.port), "-U", "repl_user",
                    "-D", str(target), "--checkpoint=fast", "-X", "stream", "--no-sync"],
                   env=env, check=True, timeout=120, capture_output=True)
    assert (target / "PG_VERSION").read_text().strip() == "15"
    assert (target / "global" / "pg_control").exists()
    assert any((target / "pg_wal").iterdir())
    # both connections (the backup's and its WAL stream's) were its own, and are gone
    wait_for(lambda: not lp.admin_rows("SHOW SERVERS"), what="servers closed")
    # a conninfo naming a database of the ini works the same way
    target2 = tmp_path / "backup2"
    subprocess.run(["pg_basebackup", "-d", lp.dsn("repl_user", "testdb", REPL_PASSWORD),
                    "-D", str(target2), "--checkpoint=fast", "-X", "fetch", "--no-sync"],
                   env=env, check=True, timeout=120, capture_output=True)
    assert (target2 / "PG_VERSION").exists()
