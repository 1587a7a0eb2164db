"""The `*` entry (auto-databases), issue 12 item 2.

A database name sent by a client that never authenticates must leave nothing
behind: no database in SHOW DATABASES or /metrics, no memory. An auto-database
made by an authenticated login goes once unused for autodb_idle_timeout, and
one PostgreSQL never let anyone into goes as soon as its last client left.
"""

import secrets
import time

import psycopg
import pytest

import rawpg
from conftest import wait_for

NAMES = 2000
BATCH = 100


def wildcard_lp(linkpool, pg, env=None, **ini):
    # room for a batch whose predecessors linkpool has not seen close yet
    # (a loaded machine): a refusal would not be the password request
    base = {"auth_type": "scram-sha-256", "max_client_conn": str(3 * BATCH + 50)}
    base.update(ini)
    # otherdb is a real PostgreSQL database that only '*' reaches
    return linkpool(base, databases={"otherdb": None,
                                     "*": f"host={pg.host} port={pg.port}"}, env=env)


def db_names(lp):
    return {row[0] for row in lp.admin("SHOW DATABASES")}


def metrics_text(lp):
    status, _, body = lp.http_get("/metrics")
    assert status == 200
    return body.decode()


def unauthenticated_logins(lp, names):
    """Each name: a startup packet, the server's password request, hang up --
    BATCH connections open at a time."""
    for i in range(0, len(names), BATCH):
        conns = []
        for name in names[i:i + BATCH]:
            c = rawpg.RawConn(lp.host, lp.port, timeout=10)
            c.send(rawpg.startup("scram_user", name))
            conns.append(c)
        for c in conns:
            mtype, _ = c.recv_msg()
            assert mtype == "R", "asked for a password, as for any database"
            c.close()


def test_unauthenticated_names_leave_nothing(linkpool, pg):
    # no ASan quarantine: freed memory must be reusable for RSS to mean anything
    lp = wildcard_lp(linkpool, pg, env={"ASAN_OPTIONS": "detect_leaks=1:quarantine_size_mb=0"})
    with lp.connect(db="otherdb") as conn:     # one real auto-database
        conn.execute("SELECT 1")
    before = db_names(lp)
    assert "otherdb" in before
    tag = secrets.token_hex(4)
    # a first round, so that what the allocator keeps for BATCH connections
    # is in the baseline; then as many new names again must not add memory
    unauthenticated_logins(lp, [f"madeup_{tag}_a{i}" for i in range(NAMES)])
    rss0 = lp.rss_kb()
    unauthenticated_logins(lp, [f"madeup_{tag}_b{i}" for i in range(NAMES)])

    assert db_names(lp) == before
    pools = {row[0] for row in lp.admin("SHOW POOLS")}
    assert not any(n.startswith("madeup_") for n in pools)
    page = metrics_text(lp)
    assert f"madeup_{tag}" not in page
    grown = lp.rss_kb() - rss0
    assert grown < 1024, f"RSS grew {grown} kB for {NAMES} names that never authenticated"


def test_console_names_never_become_auto_databases(linkpool, pg):
    lp = wildcard_lp(linkpool, pg)
    before = lp.admin("SHOW DATABASES")
    for name in ("pgbouncer", "linkpool"):
        with pytest.raises(psycopg.OperationalError, match="admin console"):
            psycopg.connect(lp.dsn("scram_user", name), autocommit=True)
        with pytest.raises(psycopg.Error, match="admin database"):
            lp.admin(f"PAUSE {name}")
    assert lp.admin("SHOW DATABASES") == before


def test_autodb_idle_timeout_removes_idle_auto_database(linkpool, pg):
    lp = wildcard_lp(linkpool, pg, autodb_idle_timeout="2")
    conn = lp.connect(db="otherdb")
    conn.execute("SELECT 1")
    assert "otherdb" in db_names(lp)
    # a client connected longer than the timeout keeps its database
    time.sleep(3)
    assert "otherdb" in db_names(lp)
    conn.close()
    wait_for(lambda: "otherdb" not in db_names(lp), timeout=10, interval=0.2,
             what="the unused auto-database removed")
    assert "otherdb" not in {row[0] for row in lp.admin("SHOW POOLS")}
    # its idle server went with it
    wait_for(lambda: not pg.backends(db="otherdb"), timeout=5, what="otherdb backends gone")
    lp.wait_log(r"auto-database otherdb freed")
    # and a new login makes it again
    with lp.connect(db="otherdb") as c2:
        assert c2.execute("SELECT current_database()").fetchone() == ("otherdb",)
    assert "otherdb" in db_names(lp)


def test_autodb_idle_timeout_zero_keeps_it(linkpool, pg):
    lp = wildcard_lp(linkpool, pg, autodb_idle_timeout="0")
    with lp.connect(db="otherdb") as conn:
        conn.execute("SELECT 1")
    time.sleep(1.5)
    assert "otherdb" in db_names(lp)


def test_auto_database_postgres_lacks_goes_at_once(linkpool, pg):
    """Authenticated, but PostgreSQL has no such database: the auto-database
    does not wait autodb_idle_timeout (an hour) to go."""
    lp = wildcard_lp(linkpool, pg)
    with pytest.raises(psycopg.OperationalError, match='database "nosuch_pg_db" does not exist'):
        psycopg.connect(lp.dsn("scram_user", "nosuch_pg_db"), autocommit=True)
    wait_for(lambda: "nosuch_pg_db" not in db_names(lp), timeout=5, interval=0.2,
             what="the auto-database PostgreSQL refused removed")


def test_admin_command_on_unknown_name_creates_nothing(linkpool, pg):
    lp = wildcard_lp(linkpool, pg)
    before = db_names(lp)
    with pytest.raises(psycopg.Error, match="no such database"):
        lp.admin("PAUSE madeup_admin_name")
    assert db_names(lp) == before


def test_database_removed_by_reload_is_freed_once_unused(linkpool, pg):
    """A sibling: a database a reload removed used to stay allocated forever."""
    lp = linkpool()
    conn = lp.connect(db="otherdb")
    conn.execute("SELECT 1")
    lp.write_ini(databases={"otherdb": None})
    lp.reload()
    lp.wait_log(r"database otherdb removed by reload")
    # its client keeps working until it leaves
    assert conn.execute("SELECT 2").fetchone() == (2,)
    time.sleep(0.6)
    assert "otherdb freed" not in lp.log_text()
    conn.close()
    lp.wait_log(r"database otherdb freed: removed by reload and unused")
    # a reload that brings it back makes a new one
    lp.write_ini(databases={"otherdb": pg.db_entry("otherdb")})
    lp.reload()
    wait_for(lambda: "otherdb" in db_names(lp), timeout=5, what="otherdb back")
    with lp.connect(db="otherdb") as c2:
        assert c2.execute("SELECT current_database()").fetchone() == ("otherdb",)


def test_reload_keeps_servers_of_entry_without_dbname(linkpool, pg):
    """A sibling: an entry without dbname= looked changed at every reload."""
    lp = linkpool(databases={"testdb": f"host={pg.host} port={pg.port}"})
    with lp.connect(db="testdb") as conn:
        conn.execute("SELECT 1")
    lp.reload()
    lp.wait_log(r"configuration reloaded")
    assert "database testdb changed" not in lp.log_text()


def test_autodb_idle_max_bounds_what_authenticated_clients_leave(linkpool, pg):
    """With dbname= fixed in '*', every name reaches a real database: what
    bounds the auto-databases then is autodb_idle_max (longest unused first)."""
    lp = linkpool({"auth_type": "scram-sha-256", "autodb_idle_max": "2"},
                  databases={"*": pg.db_entry("testdb")})
    names = [f"alias_{i}" for i in range(5)]
    for name in names:
        with lp.connect(db=name) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("testdb",)
        time.sleep(0.3)        # a janitor turn apart: an order among the unused
    wait_for(lambda: {n for n in db_names(lp) if n.startswith("alias_")} == set(names[-2:]),
             timeout=5, interval=0.2, what="only the two most recently used kept")
    lp.wait_log(r"auto-database alias_0 freed: more unused auto-databases than autodb_idle_max")
