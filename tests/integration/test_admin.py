"""The admin console: SHOW columns/types against PgBouncer 1.25, row contents
against known activity, the role matrix, the commands (PAUSE/RESUME around a
PostgreSQL restart under pgbench), and the seed README's runbook commands."""

import os
import re
import signal
import subprocess
import threading
import time

import psycopg
import pytest

import rawpg
from conftest import LP_ONLY_PASSWORDS, PASSWORDS, wait_for

TEXT, INT4, INT8, NUMERIC, BYTEA = 25, 23, 20, 1700, 17

_SOCKET_COLS = [
    ("type", TEXT), ("user", TEXT), ("database", TEXT), ("replication", TEXT), ("state", TEXT),
    ("addr", TEXT), ("port", INT4), ("local_addr", TEXT), ("local_port", INT4),
    ("connect_time", TEXT), ("request_time", TEXT), ("wait", INT4), ("wait_us", INT4),
    ("close_needed", INT4), ("ptr", TEXT), ("link", TEXT), ("remote_pid", INT4), ("tls", TEXT),
    ("application_name", TEXT), ("prepared_statements", INT4), ("id", INT4),
]
_SOCKET_DEBUG = [(n, INT4) for n in ("recv_pos", "pkt_pos", "pkt_remain", "send_pos",
                                     "send_remain", "pkt_avail", "send_avail")]
_STAT_NAMES = ["server_assignment_count", "xact_count", "query_count", "received", "sent",
               "xact_time", "query_time", "wait_time", "client_parse_count",
               "server_parse_count", "bind_count", "client_login_count"]

# Transcribed from PgBouncer 1.25 (doc/usage.md; types from src/admin.c and
# src/stats.c: 's' text, 'i' int4, 'q' int8, 'N' numeric, 'T' text, 'b' bytea),
# plus total_client_login_count from PgBouncer #1457 (shared/reference/pgbouncer-compat.md).
EXPECTED = {
    "VERSION": [("version", TEXT)],
    "CONFIG": [("key", TEXT), ("value", TEXT), ("default", TEXT), ("changeable", TEXT)],
    "DATABASES": [
        ("name", TEXT), ("host", TEXT), ("port", INT4), ("database", TEXT), ("force_user", TEXT),
        ("pool_size", INT4), ("min_pool_size", INT4), ("reserve_pool_size", INT4),
        ("server_lifetime", INT4), ("pool_mode", TEXT), ("load_balance_hosts", TEXT),
        ("max_connections", INT4), ("current_connections", INT4),
        ("max_client_connections", INT4), ("current_client_connections", INT4),
        ("paused", INT4), ("disabled", INT4)],
    "POOLS": [
        ("database", TEXT), ("user", TEXT), ("cl_active", INT4), ("cl_waiting", INT4),
        ("cl_active_cancel_req", INT4), ("cl_waiting_cancel_req", INT4), ("sv_active", INT4),
        ("sv_active_cancel", INT4), ("sv_being_canceled", INT4), ("sv_idle", INT4),
        ("sv_used", INT4), ("sv_tested", INT4), ("sv_login", INT4), ("maxwait", INT4),
        ("maxwait_us", INT4), ("pool_mode", TEXT), ("load_balance_hosts", TEXT)],
    "CLIENTS": _SOCKET_COLS,
    "SERVERS": _SOCKET_COLS,
    "SOCKETS": _SOCKET_COLS + _SOCKET_DEBUG,
    "ACTIVE_SOCKETS": _SOCKET_COLS + _SOCKET_DEBUG,
    "USERS": [
        ("name", TEXT), ("pool_size", TEXT), ("reserve_pool_size", TEXT), ("pool_mode", TEXT),
        ("max_user_connections", INT4), ("current_connections", INT4),
        ("max_user_client_connections", INT4), ("current_client_connections", INT4)],
    "STATS": [("database", TEXT)]
    + [("total_" + n, NUMERIC) for n in _STAT_NAMES]
    + [("avg_" + {"received": "recv"}.get(n, n), NUMERIC) for n in _STAT_NAMES],
    "STATS_TOTALS": [("database", TEXT)] + [
        ({"received": "bytes_received", "sent": "bytes_sent"}.get(n, n), NUMERIC)
        for n in _STAT_NAMES],
    "STATS_AVERAGES": [("database", TEXT)] + [
        ({"received": "bytes_received", "sent": "bytes_sent", "client_parse_count":
          "avg_client_parse_count", "server_parse_count": "avg_server_parse_count",
          "bind_count": "avg_bind_count"}.get(n, n), NUMERIC) for n in _STAT_NAMES],
    "TOTALS": [("name", TEXT), ("value", NUMERIC)],
    "LISTS": [("list", TEXT), ("items", INT4)],
    "MEM": [("name", TEXT), ("size", INT4), ("used", INT4), ("free", INT4), ("memtotal", INT4)],
    "FDS": [("fd", INT4), ("task", TEXT), ("user", TEXT), ("database", TEXT), ("addr", TEXT),
            ("port", INT4), ("cancel", INT8), ("link", INT4), ("client_encoding", TEXT),
            ("std_strings", TEXT), ("datestyle", TEXT), ("timezone", TEXT), ("password", TEXT),
            ("scram_client_key", BYTEA), ("scram_server_key", BYTEA)],
    "DNS_HOSTS": [("hostname", TEXT), ("ttl", INT8), ("addrs", TEXT)],
    "DNS_ZONES": [("zonename", TEXT), ("serial", INT8), ("count", INT4)],
    "STATE": [("key", TEXT), ("value", TEXT)],
}
LISTS_ROWS = ["databases", "users", "peers", "pools", "peer_pools", "free_clients",
              "used_clients", "login_clients", "free_servers", "used_servers", "dns_names",
              "dns_zones", "dns_queries", "dns_pending"]

SHOW_ALL = list(EXPECTED) + ["HELP"]
# Commands with an argument that does no harm when they succeed.
HARMLESS_CMDS = ["RECONNECT otherdb", "DISABLE otherdb", "ENABLE otherdb", "WAIT_CLOSE otherdb",
                 "RELOAD", "SET default_pool_size = 10", "KILL_CLIENT 999999"]
ADMIN_ONLY_CMDS = HARMLESS_CMDS + ["PAUSE", "RESUME", "SUSPEND", "KILL", "SHUTDOWN",
                                   "SHUTDOWN WAIT_FOR_CLIENTS", "KILL otherdb"]


def admin_conn(lp, user="admin", **kw):
    return psycopg.connect(lp.dsn(user, "pgbouncer", **kw), autocommit=True)


def as_dicts(cur):
    names = [d.name for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def show(conn, what):
    return as_dicts(conn.execute(f"SHOW {what}"))


def sqlstate_of(conn, sql):
    try:
        conn.execute(sql)
    except psycopg.Error as e:
        return e.sqlstate
    return None


# ---------------------------------------------------------------- SHOW shape

def test_show_columns_match_pgbouncer(lp):
    lp.connect().execute("SELECT 1")  # a pool, a server and stats to list
    with admin_conn(lp) as conn:
        for what, cols in EXPECTED.items():
            cur = conn.execute(f"SHOW {what}")
            got = [(d.name, d.type_code) for d in cur.description]
            assert got == cols, f"SHOW {what}"
            cur.fetchall()
        lists = [r["list"] for r in show(conn, "LISTS")]
        assert lists == LISTS_ROWS
        # lower case, trailing semicolon, extra blanks
        assert conn.execute("  show   version ;  ").fetchone()[0].startswith("linkpool ")
        # HELP is a notice plus an empty result
        notices = []
        conn.add_notice_handler(lambda d: notices.append(d.message_detail))
        conn.execute("SHOW HELP")
        assert notices and "SHOW HELP|CONFIG" in notices[0]


def test_show_config_and_set(lp):
    with admin_conn(lp) as conn:
        cfg = {r["key"]: r for r in show(conn, "CONFIG")}
        assert cfg["default_pool_size"]["value"] == "10"
        assert cfg["default_pool_size"]["changeable"] == "yes"
        assert cfg["listen_port"]["changeable"] == "no"
        conn.execute("SET default_pool_size = 7")
        conn.execute("set server_reset_query to 'DISCARD ALL'")
        cfg = {r["key"]: r["value"] for r in show(conn, "CONFIG")}
        assert cfg["default_pool_size"] == "7"
        assert sqlstate_of(conn, "SET listen_port = 1") == "22023"   # not reloadable
        assert sqlstate_of(conn, "SET no_such_option = 1") == "22023"
        assert sqlstate_of(conn, "SET default_pool_size = -3") == "22023"
        assert sqlstate_of(conn, "SET default_pool_size = 'abc'") == "22023"
        conn.execute("SET verbose = 1")  # log settings are re-applied live
        conn.execute("SET extra_float_digits = 3")  # what drivers send: accepted, ignored
        assert conn.execute("SHOW VERSION").fetchone()  # still usable


def test_pools_with_waiting_clients(linkpool):
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "2"})
    conns = [lp.connect() for _ in range(5)]
    threads = [threading.Thread(target=c.execute, args=("SELECT pg_sleep(2)",)) for c in conns]
    for t in threads:
        t.start()
    try:
        with admin_conn(lp) as adm:
            def counts():
                row = [r for r in show(adm, "POOLS") if r["database"] == "testdb"]
                return row and row[0]["cl_waiting"] == 3 and row[0]
            row = wait_for(counts, 5, what="3 waiting clients")
            assert (row["cl_active"], row["cl_waiting"], row["sv_active"]) == (2, 3, 2)
            assert row["pool_mode"] == "transaction"
            time.sleep(0.3)
            row = [r for r in show(adm, "POOLS") if r["database"] == "testdb"][0]
            assert row["maxwait"] * 1_000_000 + row["maxwait_us"] >= 300_000
            states = [r["state"] for r in show(adm, "CLIENTS") if r["database"] == "testdb"]
            assert sorted(states) == ["active", "active", "waiting", "waiting", "waiting"]
            servers = [r for r in show(adm, "SERVERS") if r["database"] == "testdb"]
            assert len(servers) == 2 and all(s["link"].startswith("C-") for s in servers)
            assert all(s["remote_pid"] > 0 for s in servers)
    finally:
        for t in threads:
            t.join(10)
    with admin_conn(lp) as adm:
        totals = {r["database"]: r for r in show(adm, "STATS_TOTALS")}["testdb"]
        assert totals["wait_time"] >= 3 * 1_500_000  # three clients waited ~2 s each
        assert totals["query_time"] >= 5 * 2_000_000


def test_stats_totals_after_known_activity(lp):
    conns = [lp.connect() for _ in range(3)]
    for i in range(100):
        conns[i % 3].execute("SELECT 1")
    with admin_conn(lp) as adm:
        rows = {r["database"]: r for r in show(adm, "STATS_TOTALS")}
        st = rows["testdb"]
        assert st["query_count"] == 100
        assert st["xact_count"] == 100
        assert st["client_login_count"] == 3
        assert st["server_assignment_count"] == 3       # session mode: once per client
        assert st["bytes_received"] == 100 * len(b"Q\0\0\0\0SELECT 1\0")
        assert st["bytes_sent"] > 100 * 20
        assert st["query_time"] > 0 and st["xact_time"] >= st["query_time"] // 2
        assert "otherdb" not in rows
        # the console counts its own logins and commands (one transaction
        # and one query each, this SHOW included), as PgBouncer's admin pool
        console = rows["pgbouncer"]
        assert console["query_count"] == console["xact_count"] >= 1
        assert console["client_login_count"] >= 1
        stats = {r["database"]: r for r in show(adm, "STATS")}
        full = stats["testdb"]
        assert full["total_query_count"] == 100 and full["total_received"] == st["bytes_received"]
        assert stats["pgbouncer"]["total_query_count"] == console["query_count"] + 1
        totals = {r["name"]: r["value"] for r in show(adm, "TOTALS")}
        # every row of SHOW STATS, and the console's SHOW TOTALS itself
        assert totals["total_query_count"] == sum(r["total_query_count"]
                                                  for r in stats.values()) + 1
        assert totals["total_client_login_count"] == sum(r["total_client_login_count"]
                                                         for r in stats.values())
        assert len(totals) == 24


def test_stats_averages_and_log_stats(linkpool):
    lp = linkpool({"stats_period": "1", "log_stats": "1"})
    c = lp.connect()
    for _ in range(30):
        c.execute("SELECT 1")
    lp.wait_log(r"stats: testdb: \d+ xacts/s, \d+ queries/s", timeout=5)
    with admin_conn(lp) as adm:
        avg = {r["database"]: r for r in show(adm, "STATS_AVERAGES")}["testdb"]
        assert avg["query_count"] > 0 and avg["query_time"] > 0


# ---------------------------------------------------------------- access

def test_role_matrix(lp):
    with admin_conn(lp, "stats") as st:
        for what in SHOW_ALL:
            if what == "FDS":
                assert sqlstate_of(st, "SHOW FDS") == "42501"
            else:
                assert sqlstate_of(st, f"SHOW {what}") is None, what
        for cmd in ADMIN_ONLY_CMDS:
            assert sqlstate_of(st, cmd) == "42501", cmd
        assert st.execute("SHOW VERSION").fetchone()  # still usable after refusals
    assert re.search(r"admin command refused: admin access needed for pause", lp.log_text())
    with admin_conn(lp) as adm:
        for what in SHOW_ALL:
            assert sqlstate_of(adm, f"SHOW {what}") is None, what
        for cmd in HARMLESS_CMDS:
            expected = "08P01" if cmd.startswith("KILL_CLIENT") else None
            assert sqlstate_of(adm, cmd) == expected, cmd
    # an ordinary user cannot even log in, whatever the command
    with pytest.raises(psycopg.OperationalError, match="not allowed"):
        psycopg.connect(lp.dsn("scram_user", "pgbouncer"))
    with pytest.raises(psycopg.OperationalError, match="not allowed"):
        psycopg.connect(lp.dsn("scram_user", "linkpool"))
    # the alias works for allowed users
    with psycopg.connect(lp.dsn("stats", "linkpool"), autocommit=True) as st:
        assert st.execute("SHOW STATE").fetchall()


def test_errors_keep_the_session(lp):
    with admin_conn(lp) as adm:
        assert sqlstate_of(adm, "FROBNICATE") == "42601"
        assert sqlstate_of(adm, "SHOW NOTHING") == "42601"
        assert sqlstate_of(adm, "SHOW") == "42601"
        assert sqlstate_of(adm, "PAUSE a b") == "42601"
        assert sqlstate_of(adm, "SELECT 1 + 1") == "42601"
        assert sqlstate_of(adm, "RELOAD now") == "42601"
        assert sqlstate_of(adm, "DISABLE") == "42601"
        assert sqlstate_of(adm, "DISABLE nosuchdb") == "08P01"   # PgBouncer's code
        assert sqlstate_of(adm, "PAUSE pgbouncer") == "42601"
        assert sqlstate_of(adm, "KILL_CLIENT abc") == "08P01"
        assert sqlstate_of(adm, "RESUME") == "55000"
        assert sqlstate_of(adm, "SHUTDOWN LATER") == "42601"
        assert sqlstate_of(adm, "SHOW 'x" + "x" * 100) == "42601"
        assert adm.execute("SHOW VERSION").fetchone()


def test_command_longer_than_pkt_buf_keeps_the_session(lp):
    """A console command that does not fit pkt_buf is refused and skipped as it
    streams in (issue 3); the session goes on."""
    with admin_conn(lp) as adm:
        for size in (5000, 200_000):
            assert sqlstate_of(adm, "SHOW " + "x" * size) == "54000"
            assert adm.execute("SHOW VERSION").fetchone()
    # raw: the error names the limit, ReadyForQuery follows, and a pipelined
    # command behind the long one is answered
    c = lp.raw_login("admin", "pgbouncer")
    c.send(rawpg.query("SHOW " + "y" * 70_000) + rawpg.query("SHOW VERSION"))
    mtype, body = c.recv_msg()
    fields = rawpg.parse_error_fields(body)
    assert mtype == "E" and fields["C"] == "54000" and "pkt_buf" in fields["M"]
    assert c.recv_msg()[0] == "Z"
    rows, tags, status = c.read_result()
    assert rows[0][0].startswith("linkpool") and status == "I"
    # an over-long extended-protocol message gets the usual refusal up to Sync
    c.send(rawpg.msg("P", b"\0SHOW " + b"z" * 9000 + b"\0\0\0") + rawpg.sync())
    mtype, body = c.recv_msg()
    assert mtype == "E" and rawpg.parse_error_fields(body)["C"] == "0A000"
    assert c.recv_msg()[0] == "Z"
    assert c.run("SHOW VERSION")[0]


def test_extended_protocol_refused_session_survives(lp):
    c = lp.raw_login("admin", "pgbouncer")
    c.send(rawpg.msg("P", b"\0SHOW VERSION\0\0\0") + rawpg.msg("B", b"\0\0\0\0\0\0\0\0")
           + rawpg.msg("E", b"\0\0\0\0\0") + rawpg.sync())
    mtype, body = c.recv_msg()
    assert mtype == "E"
    fields = rawpg.parse_error_fields(body)
    assert fields["C"] == "0A000" and "simple query" in fields["M"]
    assert c.recv_msg()[0] == "Z"
    rows, tags, _ = c.run("SHOW VERSION")
    assert rows[0][0].startswith("linkpool") and tags == ["SHOW"]


def test_startup_parameters_tools_send(lp):
    c = lp.raw()
    c.login("stats", "pgbouncer", LP_ONLY_PASSWORDS["stats"], extra_float_digits="3",
            application_name="exporter", client_encoding="UTF8", DateStyle="ISO")
    rows, _, _ = c.run("SHOW CLIENTS")
    assert any(r[18] == "exporter" for r in rows)


def test_peer_login_over_unix_socket(lp):
    with psycopg.connect(host=lp.sockdir, port=lp.port, user="pgbouncer", dbname="pgbouncer",
                         autocommit=True) as conn:
        assert conn.execute("SHOW VERSION").fetchone()
        assert sqlstate_of(conn, "KILL_CLIENT 999999") == "08P01"  # admin rights
    # over TCP the same user is an unknown user
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(lp.dsn("pgbouncer", "pgbouncer", password="x"))


# ---------------------------------------------------------------- commands

def test_pause_waits_for_transaction_and_queries_wait_for_resume(linkpool):
    lp = linkpool({"pool_mode": "transaction"})
    busy = lp.connect()
    busy.execute("BEGIN")
    busy.execute("SELECT 1")
    other = lp.connect()
    adm = admin_conn(lp)
    done = threading.Event()
    threading.Thread(target=lambda: (adm.execute("PAUSE"), done.set()), daemon=True).start()
    assert not done.wait(0.6), "PAUSE returned while a transaction held a server"
    busy.execute("COMMIT")
    assert done.wait(5), "PAUSE did not return after the transaction ended"
    with admin_conn(lp) as a2:
        assert {r["key"]: r["value"] for r in show(a2, "STATE")}["paused"] == "yes"
        assert all(r["sv_active"] + r["sv_idle"] + r["sv_used"] == 0
                   for r in show(a2, "POOLS"))
        result = []
        t = threading.Thread(target=lambda: result.append(other.execute("SELECT 42").fetchone()))
        t.start()
        time.sleep(0.5)
        assert not result, "query ran while paused"
        row = [r for r in show(a2, "POOLS") if r["database"] == "testdb"][0]
        assert row["cl_waiting"] == 1
        a2.execute("RESUME")
        t.join(5)
        assert result == [(42,)]
    adm.close()


def test_pause_restart_resume_under_pgbench(linkpool, pg):
    from test_pgbench import BENCH_DB, _check_run, _ensure_bench_db, _pgbench
    _ensure_bench_db(pg)
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "4"},
                  databases={BENCH_DB: pg.db_entry(BENCH_DB)})
    init = _pgbench(lp, BENCH_DB, "-i", "-s", "1", "-q")
    assert init.returncode == 0, init.stdout + init.stderr
    out = {}
    bench = threading.Thread(target=lambda: out.setdefault(
        "r", _pgbench(lp, BENCH_DB, "-c", "8", "-j", "2", "-T", "8", "-n")))
    bench.start()
    time.sleep(1.5)
    with admin_conn(lp) as adm:
        adm.execute("PAUSE")
        pg.restart()
        adm.execute("RESUME")
    bench.join(60)
    _check_run(out["r"])


def test_disable_enable_kill_reconnect_wait_close(linkpool):
    lp = linkpool({"pool_mode": "transaction"})
    lp.connect().execute("SELECT 1")
    with admin_conn(lp) as adm:
        adm.execute("DISABLE testdb")
        assert [r["disabled"] for r in show(adm, "DATABASES") if r["name"] == "testdb"] == [1]
        with pytest.raises(psycopg.OperationalError, match="disabled"):
            psycopg.connect(lp.dsn())
        adm.execute("ENABLE testdb")
        c = lp.connect()
        c.execute("SELECT 1")
        # RECONNECT closes the idle server; WAIT_CLOSE returns once all are gone
        adm.execute("RECONNECT testdb")
        adm.execute("WAIT_CLOSE testdb")
        assert not [r for r in show(adm, "SERVERS") if r["database"] == "testdb"]
        c.execute("SELECT 1")  # a new server is opened as needed
        # KILL_CLIENT by id from SHOW CLIENTS
        victim = lp.connect(application_name="victim")
        victim.execute("SELECT 1")
        ids = [r["id"] for r in show(adm, "CLIENTS") if r["application_name"] == "victim"]
        assert len(ids) == 1
        adm.execute(f"KILL_CLIENT {ids[0]}")
        with pytest.raises(psycopg.OperationalError):
            victim.execute("SELECT 1")
        c.execute("SELECT 1")
        # KILL drops everything and pauses the database until RESUME
        k = lp.connect()
        k.execute("SELECT 1")
        adm.execute("KILL testdb")
        with pytest.raises(psycopg.OperationalError):
            k.execute("SELECT 1")
        assert [r["paused"] for r in show(adm, "DATABASES") if r["name"] == "testdb"] == [1]
        late = lp.connect()
        res = []
        t = threading.Thread(target=lambda: res.append(late.execute("SELECT 7").fetchone()))
        t.start()
        time.sleep(0.4)
        assert not res
        adm.execute("RESUME testdb")
        t.join(5)
        assert res == [(7,)]


def test_suspend_resume(linkpool):
    lp = linkpool({"pool_mode": "transaction"})
    c = lp.connect()
    c.execute("SELECT 1")
    with admin_conn(lp) as adm:
        adm.execute("SUSPEND")
        assert {r["key"]: r["value"] for r in show(adm, "STATE")}["suspended"] == "yes"
        assert sqlstate_of(adm, "PAUSE") == "55000"
        adm.execute("RESUME")
        assert {r["key"]: r["value"] for r in show(adm, "STATE")}["active"] == "yes"
    c.execute("SELECT 1")


@pytest.mark.parametrize("pool_mode", ["session", "transaction"])
def test_suspend_stops_reading_clients_until_resume(linkpool, pool_mode):
    """SUSPEND stops reading client sockets, even of a client holding a
    server (session pooling); a query sent meanwhile runs after RESUME, and
    SIGUSR2 ends a SUSPEND as RESUME does."""
    lp = linkpool({"pool_mode": pool_mode})
    c = lp.raw_login()
    assert c.run("SELECT 1")[0] == [("1",)]
    for resume in ("RESUME", "SIGUSR2"):
        with admin_conn(lp) as adm:
            adm.execute("SUSPEND")
            c.send(rawpg.query("SELECT 'after ' || 'resume'"))
            with pytest.raises(TimeoutError):
                c.recv_msg(timeout=0.5)
            # the console still answers
            assert {r["key"]: r["value"] for r in show(adm, "STATE")}["suspended"] == "yes"
            if resume == "RESUME":
                adm.execute("RESUME")
            else:
                lp.signal(signal.SIGUSR2)
            rows, _, status = c.read_result(timeout=5)
            assert rows == [("after resume",)] and status == "I"
            assert {r["key"]: r["value"] for r in show(adm, "STATE")}["suspended"] == "no"


def test_shutdown_wait_for_clients_console_keeps_answering(lp):
    c = lp.connect()
    with admin_conn(lp) as adm:
        adm.execute("SHUTDOWN WAIT_FOR_CLIENTS")
        time.sleep(0.3)
        assert lp.proc.poll() is None
        assert show(adm, "VERSION")
        c.close()
        assert lp.wait_exit(5) == 0


# ---------------------------------------------------------------- the runbook

def _psql(lp, user, password, sql):
    env = dict(os.environ, PGPASSWORD=password, PGSSLMODE="disable", PGCONNECT_TIMEOUT="5")
    return subprocess.run(["psql", "-h", "localhost", "-p", str(lp.port), "-U", user, "-d",
                           "pgbouncer", "-X", "-c", sql], capture_output=True, text=True,
                          env=env, timeout=30)


def test_runbook_commands(linkpool):
    # The README's users: pgbouncer_stats (stats_users), pgbouncer_admin (admin_users).
    lp = linkpool({"admin_users": "pgbouncer_admin", "stats_users": "pgbouncer_stats"},
                  userlist=list(PASSWORDS.items()) + [("pgbouncer_admin", "admin-pw"),
                                                      ("pgbouncer_stats", "stats-pw")])
    lp.connect().execute("SELECT 1")
    # Administrative Queries + Troubleshooting (Pool Exhaustion, High Connection Churn)
    for sql, header in (("SHOW POOLS;", "cl_waiting"), ("SHOW CLIENTS;", "application_name"),
                        ("SHOW SERVERS;", "remote_pid"), ("SHOW STATS;", "total_client_login_count")):
        r = _psql(lp, "pgbouncer_stats", "stats-pw", sql)
        assert r.returncode == 0 and header in r.stdout, r.stdout + r.stderr
    # Maintenance: reload (killall -HUP pgbouncer)
    lp.signal(signal.SIGHUP)
    lp.wait_log("configuration reloaded")
    # Graceful shutdown: PAUSE (returns once session clients released their servers)
    lp.close_clients()
    r = _psql(lp, "pgbouncer_admin", "admin-pw", "PAUSE;")
    assert r.returncode == 0 and "PAUSE" in r.stdout, r.stderr
    r = _psql(lp, "pgbouncer_admin", "admin-pw", "SHUTDOWN;")
    assert r.returncode == 0, r.stderr
    assert lp.wait_exit(5) == 0


def test_new_pool_during_pause_waits_for_resume(lp):
    with admin_conn(lp) as adm:
        adm.execute("PAUSE")
        res = []
        # otherdb has no pool yet: the login itself waits for RESUME
        t = threading.Thread(target=lambda: res.append(
            lp.connect(db="otherdb").execute("SELECT 3").fetchone()))
        t.start()
        time.sleep(0.5)
        assert not res
        adm.execute("RESUME")
        t.join(5)
        assert res == [(3,)]
