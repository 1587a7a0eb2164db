"""The admin console answers as PgBouncer 1.25 does where tools and runbooks
depend on it (issue 15): SHOW PEERS / PEER_POOLS exist, connections are
numbered from one sequence and the console's own sessions are sockets, KILL
and KILL_CLIENT refuse with PgBouncer's SQLSTATE and words, SHOW USERS lists
[users] entries before anyone logs in, the console counts its logins and
commands in SHOW STATS / TOTALS and its sessions against the client limits.
"""

import time

import psycopg
import pytest
from psycopg.rows import dict_row

from conftest import wait_for


def admin(lp, user="admin"):
    return psycopg.connect(lp.dsn(user, "pgbouncer"), autocommit=True, row_factory=dict_row)


def error_of(conn, sql):
    with pytest.raises(psycopg.Error) as e:
        conn.execute(sql)
    return e.value.sqlstate, e.value.diag.message_primary


def test_show_peers_and_peer_pools_are_empty_tables(lp):
    with admin(lp, "stats") as adm:
        cur = adm.execute("SHOW PEERS")
        assert [d.name for d in cur.description] == ["peer_id", "host", "port", "pool_size"]
        assert cur.fetchall() == []
        cur = adm.execute("SHOW PEER_POOLS")
        assert [d.name for d in cur.description] == [
            "peer_id", "cl_active_cancel_req", "cl_waiting_cancel_req", "sv_active_cancel",
            "sv_login"]
        assert cur.fetchall() == []


def test_sockets_are_numbered_from_one_sequence(lp):
    """A session-pooled client and the server opened for it get consecutive
    ids, and SHOW SOCKETS lists the console's own session too."""
    with admin(lp) as adm:
        mine = adm.execute("SHOW SOCKETS").fetchall()
        assert [(r["type"], r["database"], r["state"]) for r in mine] == [
            ("C", "pgbouncer", "cl_active")]
        console_id = mine[0]["id"]
        c = lp.connect()
        c.execute("SELECT 1")
        rows = adm.execute("SHOW SOCKETS").fetchall()
        assert sorted(r["id"] for r in rows) == [console_id, console_id + 1, console_id + 2]
        client = next(r for r in rows if r["type"] == "C" and r["database"] == "testdb")
        server = next(r for r in rows if r["type"] == "S")
        assert (client["id"], server["id"]) == (console_id + 1, console_id + 2)
        assert client["link"] == server["ptr"] and server["link"] == client["ptr"]
        assert [r["id"] for r in adm.execute("SHOW SERVERS").fetchall()] == [server["id"]]


def test_kill_refusals_use_pgbouncer_sqlstate_and_words(lp):
    c = lp.connect()
    with admin(lp) as adm:
        assert error_of(adm, "KILL nosuchdb") == ("08P01", "no such database: nosuchdb")
        assert error_of(adm, "PAUSE nosuchdb") == ("08P01", "no such database: nosuchdb")
        assert error_of(adm, "KILL_CLIENT not_a_number") == ("08P01",
                                                            "invalid client pointer supplied")
        assert error_of(adm, "KILL_CLIENT 999999") == ("08P01", "client not found: 999999")
        # nothing was killed, the session goes on
        assert len(adm.execute("SHOW CLIENTS").fetchall()) == 2
    assert c.execute("SELECT 1").fetchone() == (1,)


def test_show_users_lists_users_section_before_any_login(linkpool):
    lp = linkpool(users_section={"sized": "pool_size=3 reserve_pool_size=1",
                                 "plain_entry": "max_user_connections=4"})
    with admin(lp) as adm:
        users = {r["name"]: r for r in adm.execute("SHOW USERS").fetchall()}
    assert (users["sized"]["pool_size"], users["sized"]["reserve_pool_size"]) == ("3", "1")
    # unset is an empty text, as PgBouncer sends it, not NULL
    assert (users["plain_entry"]["pool_size"], users["plain_entry"]["reserve_pool_size"]) == ("", "")
    assert users["plain_entry"]["max_user_connections"] == 4
    assert users["plain_entry"]["current_client_connections"] == 0


def test_console_counts_its_logins_and_commands(lp):
    with admin(lp) as adm:
        first = next(r for r in adm.execute("SHOW STATS").fetchall()
                     if r["database"] == "pgbouncer")
        adm.execute("SHOW VERSION")
        adm.execute("SHOW LISTS")
        second = next(r for r in adm.execute("SHOW STATS").fetchall()
                      if r["database"] == "pgbouncer")
    assert first["total_client_login_count"] >= 1
    # SHOW VERSION, SHOW LISTS and the SHOW STATS itself: each one
    # transaction and one query
    assert second["total_query_count"] - first["total_query_count"] == 3
    assert second["total_xact_count"] - first["total_xact_count"] == 3
    with admin(lp) as adm:
        third = next(r for r in adm.execute("SHOW STATS_TOTALS").fetchall()
                     if r["database"] == "pgbouncer")
    assert third["client_login_count"] == second["total_client_login_count"] + 1


def test_console_sessions_count_against_client_limits(linkpool):
    """max_db_client_connections covers the console (its row of SHOW
    DATABASES), max_user_client_connections counts a user's console sessions
    (SHOW USERS); a stats user over the limit is refused, an admin_users
    member never, so an operator can always get in."""
    lp = linkpool({"max_db_client_connections": "2", "max_user_client_connections": "2"})
    held = [admin(lp, "stats"), admin(lp, "stats")]
    with admin(lp) as adm:          # third session: admin_users is let in
        dbs = {r["name"]: r for r in adm.execute("SHOW DATABASES").fetchall()}
        assert dbs["pgbouncer"]["max_client_connections"] == 2
        assert dbs["pgbouncer"]["current_client_connections"] == 3
        users = {r["name"]: r for r in adm.execute("SHOW USERS").fetchall()}
        assert users["stats"]["current_client_connections"] == 2
        assert users["admin"]["current_client_connections"] == 1
    with pytest.raises(psycopg.OperationalError, match="max_db_client_connections"):
        admin(lp, "stats")
    held.pop().close()
    wait_for(lambda: lp.admin("SHOW DATABASES")[0][14] == 2, what="a console session gone")
    held.append(admin(lp, "stats"))     # room again
    for c in held:
        c.close()


def test_server_lifetime_zero_uses_each_server_once(linkpool):
    """server_lifetime = 0: a server is closed when its client releases it,
    as PgBouncer documents; before, 0 meant "never"."""
    lp = linkpool({"server_lifetime": "0", "pool_mode": "transaction"})
    c = lp.connect()
    pids = {c.execute("SELECT pg_backend_pid()").fetchone()[0] for _ in range(3)}
    assert len(pids) == 3
    time.sleep(0.3)
    assert lp.admin("SHOW SERVERS") == []
