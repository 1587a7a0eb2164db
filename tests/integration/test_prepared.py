"""Prepared statements in transaction and statement pooling
(max_prepared_statements): a client's named statements follow it from
server to server, shared by text, with the server's own errors."""

import threading
import time

import psycopg
import pytest
from psycopg import pq

import rawpg
from test_pgbench import BENCH_DB, _check_run, _ensure_bench_db, _pgbench


def tx_pool(linkpool, pool_size="5", **ini):
    cfg = {"pool_mode": "transaction", "default_pool_size": pool_size}
    cfg.update(ini)
    return linkpool(cfg)


def conn(lp, **kw):
    kw.setdefault("prepare_threshold", 0)      # prepare everything, at once
    return lp.connect(**kw)


def show(lp, what):
    with psycopg.connect(lp.dsn("admin", "pgbouncer"), autocommit=True) as c:
        cur = c.execute(f"SHOW {what}")
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def server_statements(pg):
    """Statements the pooler prepared, per backend pid."""
    return pg.sql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'scram_user'")


def test_pgbench_prepared_transaction_mode(linkpool, pg):
    """20 clients on 5 servers. pgbench prepares each statement with a
    blocking PQprepare the first time a client runs it, so a TPC-B
    transaction (which holds its server across statements) could wait on a
    sibling client of the same pgbench thread with any pooler: select-only
    here, the TPC-B script with as many servers as clients."""
    _ensure_bench_db(pg)
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "5"},
                  databases={BENCH_DB: pg.db_entry(BENCH_DB)})
    init = _pgbench(lp, BENCH_DB, "-i", "-s", "1", "-q")
    assert init.returncode == 0, init.stdout + init.stderr
    _check_run(_pgbench(lp, BENCH_DB, "-M", "prepared", "-S", "-c", "20", "-j", "2", "-T", "5", "-n"))
    totals = {r["database"]: r for r in show(lp, "STATS")}[BENCH_DB]
    # one statement: each backend parses it once, whatever the clients
    assert totals["total_server_parse_count"] <= 5, totals
    assert totals["total_client_parse_count"] >= 20, totals
    assert totals["total_bind_count"] > 1000
    _check_run(_pgbench(lp, BENCH_DB, "-M", "prepared", "-c", "5", "-j", "2", "-T", "5", "-n"))
    totals = {r["database"]: r for r in show(lp, "STATS")}[BENCH_DB]
    # TPC-B-like: 7 more statements, at most once per backend each
    assert totals["total_server_parse_count"] <= 5 + 7 * 5, totals


def test_statements_follow_the_client_across_servers(linkpool):
    lp = tx_pool(linkpool, pool_size="2")
    a, b = conn(lp), conn(lp)
    assert a.execute("SELECT %s::int + 1", (1,)).fetchone() == (2,)
    with b.transaction():
        # b holds a server; a's next statement runs on the other one, where
        # the pooler prepares it first
        b.execute("SELECT 2")
        assert a.execute("SELECT %s::int + 1", (41,)).fetchone() == (42,)
        # the same text from b is the same statement, prepared once per server
        assert b.execute("SELECT %s::int + 1", (1,)).fetchone() == (2,)
    for _ in range(20):
        assert a.execute("SELECT %s::int + 1", (1,)).fetchone() == (2,)
        assert b.execute("SELECT %s::int + 1", (2,)).fetchone() == (3,)
    clients = [r for r in show(lp, "CLIENTS") if r["user"] == "scram_user"]
    assert all(r["prepared_statements"] >= 1 for r in clients), clients
    servers = show(lp, "SERVERS")
    assert 1 <= sum(r["prepared_statements"] for r in servers) <= 2 * 2


def test_many_clients_few_servers_in_statement_mode(linkpool):
    lp = linkpool({"pool_mode": "statement", "default_pool_size": "3"})
    errors = []

    def worker(i):
        try:
            with psycopg.connect(lp.dsn(), autocommit=True, prepare_threshold=0) as c:
                for j in range(30):
                    q = f"SELECT %s::int * {j % 4}"
                    assert c.execute(q, (i,)).fetchone() == (i * (j % 4),)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors[:3]
    totals = {r["database"]: r for r in show(lp, "STATS")}["testdb"]
    assert totals["total_server_parse_count"] <= 4 * 3, totals


def test_eviction_keeps_at_most_max_prepared_statements(linkpool, pg):
    lp = tx_pool(linkpool, pool_size="1", max_prepared_statements="2")
    c = conn(lp)
    for i in range(5):
        assert c.execute(f"SELECT {i}, %s::int", (i,)).fetchone() == (i, i)
    n = c.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
    assert n == 2
    # every statement still works: an evicted one is prepared again
    for i in range(5):
        assert c.execute(f"SELECT {i}, %s::int", (i,)).fetchone() == (i, i)
    assert c.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0] == 2


def test_server_killed_between_executions(linkpool, pg):
    lp = tx_pool(linkpool, pool_size="1")
    c = conn(lp)
    assert c.execute("SELECT %s::int", (7,)).fetchone() == (7,)
    pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
    pg.sql("SELECT pg_terminate_backend(%s)", (pid,))
    time.sleep(0.3)
    # the server the statement lived on is gone; the next one gets it anew
    for _ in range(3):
        try:
            assert c.execute("SELECT %s::int", (8,)).fetchone() == (8,)
            break
        except psycopg.OperationalError:
            c = conn(lp)   # the dying server took this client along
    assert c.execute("SELECT %s::int", (9,)).fetchone() == (9,)


def test_pipeline_with_an_error_in_the_middle(linkpool):
    lp = tx_pool(linkpool, pool_size="2", max_prepared_statements="2")
    c = conn(lp)
    with pytest.raises(psycopg.errors.UndefinedTable):
        with c.pipeline() as p:
            cur1, cur2, cur3 = c.cursor(), c.cursor(), c.cursor()
            cur1.execute("SELECT 1", prepare=True)
            cur2.execute("SELECT * FROM no_such_table_here", prepare=True)
            cur3.execute("SELECT 3", prepare=True)
            p.sync()
    # the batch failed from the error on; everything works afterwards. (Not
    # "SELECT 3" again: psycopg 3.1 believes it prepared the statement the
    # server skipped, and fails the same way against PostgreSQL directly.)
    for i in range(5):
        assert c.execute(f"SELECT {i} + 10", prepare=True).fetchone() == (i + 10,)
        assert c.execute("SELECT 1", prepare=True).fetchone() == (1,)


def test_describe_before_bind_and_unknown_names(linkpool):
    lp = tx_pool(linkpool)
    c = conn(lp)
    pgc = c.pgconn
    r = pgc.prepare(b"mine", b"SELECT $1::text AS t")
    assert r.status == pq.ExecStatus.COMMAND_OK
    d = pgc.describe_prepared(b"mine")
    assert d.status == pq.ExecStatus.COMMAND_OK
    assert d.nfields == 1 and d.fname(0) == b"t"
    r = pgc.exec_prepared(b"mine", [b"abc"])
    assert r.status == pq.ExecStatus.TUPLES_OK and r.get_value(0, 0) == b"abc"
    # a name the client never prepared: the server's own error
    r = pgc.exec_prepared(b"never", [])
    assert r.status == pq.ExecStatus.FATAL_ERROR
    assert r.error_field(pq.DiagnosticField.SQLSTATE) == b"26000"
    d = pgc.describe_prepared(b"never")
    assert d.error_field(pq.DiagnosticField.SQLSTATE) == b"26000"
    # the session goes on
    r = pgc.exec_prepared(b"mine", [b"x"])
    assert r.get_value(0, 0) == b"x"


def test_second_parse_of_a_live_name_is_refused(linkpool):
    lp = tx_pool(linkpool)
    c = lp.raw_login()
    parse = rawpg.msg("P", rawpg.cstr("dup") + rawpg.cstr("SELECT 1") + b"\0\0")
    c.send(parse + rawpg.msg("S", b""))
    t, _ = c.recv_msg()
    assert t == "1"
    t, _ = c.recv_msg()
    assert t == "Z"
    c.send(parse + rawpg.msg("S", b""))
    err = c.error_or_close()
    assert isinstance(err, rawpg.PgError) and err.sqlstate == "42P05"
    lp.wait_log(r"prepared statement 'dup' was already prepared")


def test_close_is_answered_and_frees_the_name(linkpool):
    lp = tx_pool(linkpool)
    c = lp.raw_login()
    parse = rawpg.msg("P", rawpg.cstr("s1") + rawpg.cstr("SELECT 41 + 1") + b"\0\0")
    close = rawpg.msg("C", b"S" + rawpg.cstr("s1"))
    sync = rawpg.msg("S", b"")
    c.send(parse + sync)
    assert [c.recv_msg()[0] for _ in range(2)] == ["1", "Z"]
    # Close twice (the second of a name that no longer exists: no error)
    c.send(close + close + sync)
    assert [c.recv_msg()[0] for _ in range(3)] == ["3", "3", "Z"]
    # the name is free again, for another text
    parse2 = rawpg.msg("P", rawpg.cstr("s1") + rawpg.cstr("SELECT 2") + b"\0\0")
    bind = rawpg.msg("B", rawpg.cstr("") + rawpg.cstr("s1") + b"\0\0\0\0\0\0")
    execute = rawpg.msg("E", rawpg.cstr("") + b"\0\0\0\0")
    c.send(parse2 + bind + execute + sync)
    got = []
    while True:
        t, body = c.recv_msg()
        got.append((t, body))
        if t == "Z":
            break
    assert [t for t, _ in got] == ["1", "2", "D", "C", "Z"]
    assert got[2][1].endswith(b"2")


def test_discard_all_forgets_the_clients_statements(linkpool):
    lp = tx_pool(linkpool, pool_size="1")
    c = conn(lp)
    pgc = c.pgconn
    assert pgc.prepare(b"k", b"SELECT 1").status == pq.ExecStatus.COMMAND_OK
    assert pgc.exec_prepared(b"k", []).status == pq.ExecStatus.TUPLES_OK
    assert pgc.exec_(b"DISCARD ALL").status == pq.ExecStatus.COMMAND_OK
    r = pgc.exec_prepared(b"k", [])
    assert r.error_field(pq.DiagnosticField.SQLSTATE) == b"26000"
    # the name can be prepared again
    assert pgc.prepare(b"k", b"SELECT 2").status == pq.ExecStatus.COMMAND_OK
    assert pgc.exec_prepared(b"k", []).get_value(0, 0) == b"2"
    assert pgc.exec_(b"DEALLOCATE ALL").status == pq.ExecStatus.COMMAND_OK
    assert pgc.exec_prepared(b"k", []).error_field(pq.DiagnosticField.SQLSTATE) == b"26000"


def test_messages_longer_than_pkt_buf(linkpool):
    lp = tx_pool(linkpool, pkt_buf="4096")
    c = conn(lp)
    long = "1" * 4096 * 10
    assert c.execute(f"SELECT '{long}'", prepare=True).fetchone()[0] == long
    assert c.execute("SELECT %s::text", (long,), prepare=True).fetchone()[0] == long
    pgc = c.pgconn
    name = b"n" * 4096 * 4
    assert pgc.prepare(name, b"SELECT $1::text").status == pq.ExecStatus.COMMAND_OK
    assert pgc.describe_prepared(name).status == pq.ExecStatus.COMMAND_OK
    assert pgc.exec_prepared(name, [b"abc"]).get_value(0, 0) == b"abc"


def test_disabled_with_zero(linkpool):
    lp = tx_pool(linkpool, max_prepared_statements="0")
    c = conn(lp)
    pgc = c.pgconn
    # forwarded as sent: the backend knows the client's own name
    assert pgc.prepare(b"plain", b"SELECT 5").status == pq.ExecStatus.COMMAND_OK
    assert pgc.exec_prepared(b"plain", []).get_value(0, 0) == b"5"


def test_a_parse_that_failed_may_be_sent_again(linkpool, pg):
    """A name whose Parse failed does not exist for PostgreSQL: preparing it
    again (after the cause is fixed) works; a client that believes the
    failed statement exists (psycopg 3.1 after a failed pipeline) finds it
    prepared anew."""
    pg.sql("DROP TABLE IF EXISTS later_made; GRANT CREATE ON SCHEMA public TO PUBLIC", db="testdb")
    lp = tx_pool(linkpool)
    c = lp.raw_login()
    p = rawpg.msg("P", rawpg.cstr("q") + rawpg.cstr("SELECT count(*) FROM later_made") + b"\0\0")
    sync = rawpg.msg("S", b"")
    c.send(p + sync)
    err = c.error_or_close()
    assert isinstance(err, rawpg.PgError) and err.sqlstate == "42P01"
    assert c.recv_msg()[0] == "Z"
    c.run("CREATE TABLE later_made (a int)")
    c.send(p + sync)
    assert [c.recv_msg()[0] for _ in range(2)] == ["1", "Z"]
    bind = rawpg.msg("B", rawpg.cstr("") + rawpg.cstr("q") + b"\0\0\0\0\0\0")
    execute = rawpg.msg("E", rawpg.cstr("") + b"\0\0\0\0")
    c.send(bind + execute + sync)
    assert [c.recv_msg()[0] for _ in range(4)] == ["2", "D", "C", "Z"]
    c.run("DROP TABLE later_made")


def test_max_prepared_statements_is_reloadable(linkpool, pg):
    lp = tx_pool(linkpool, pool_size="1", max_prepared_statements="5")
    c = conn(lp)
    for i in range(5):
        c.execute(f"SELECT {i} + %s::int", (1,))
    assert c.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0] == 5
    lp.admin("SET max_prepared_statements = 2")
    c.execute("SELECT 100 + %s::int", (1,))
    # the next statement added makes room down to the new limit
    assert c.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0] == 2


# ---------------------------------------------- SQL-level PREPARE / EXECUTE

def test_sql_prepare_follows_the_client(linkpool):
    lp = tx_pool(linkpool, pool_size="2")
    a = lp.connect(prepare_threshold=None)
    b = lp.connect(prepare_threshold=None)
    a.execute("PREPARE /* a comment */ Plus1(int) AS SELECT $1 + 1")
    with b.transaction():
        b.execute("SELECT 1")       # holds one server: a runs on the other
        assert a.execute("EXECUTE plus1(41)").fetchone() == (42,)
        # the name is a's alone: b never prepared it
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):
            b.execute("EXECUTE plus1(1)")
    for i in range(10):
        assert a.execute(f"EXECUTE PLUS1({i})").fetchone() == (i + 1,)
    plan = a.execute("EXPLAIN EXECUTE plus1(1)").fetchall()
    assert plan and "Result" in plan[0][0]
    # a second PREPARE of the name is PostgreSQL's error; the session goes on
    with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
        a.execute("PREPARE plus1 AS SELECT 0")
    a.execute("DEALLOCATE plus1")
    with pytest.raises(psycopg.errors.InvalidSqlStatementName):
        a.execute("EXECUTE plus1(1)")
    a.execute("PREPARE plus1 AS SELECT 'again'")
    assert a.execute("EXECUTE plus1").fetchone() == ("again",)


def test_sql_execute_of_a_protocol_level_statement(linkpool):
    """PostgreSQL has one namespace for both: a statement a client prepared
    with Parse can be run with EXECUTE and dropped with DEALLOCATE (PHP's
    PDO does)."""
    lp = tx_pool(linkpool, pool_size="2")
    c = conn(lp)
    assert c.pgconn.prepare(b"pdo_stmt_1", b"SELECT $1::int * 2").status == pq.ExecStatus.COMMAND_OK
    other = lp.connect()
    with other.transaction():
        other.execute("SELECT 1")
        assert c.execute("EXECUTE pdo_stmt_1(21)", prepare=False).fetchone() == (42,)
    c.execute("DEALLOCATE pdo_stmt_1", prepare=False)
    r = c.pgconn.exec_prepared(b"pdo_stmt_1", [b"1"])
    assert r.error_field(pq.DiagnosticField.SQLSTATE) == b"26000"


def test_sql_statements_in_quotes_and_multi_statement_texts(linkpool):
    lp = tx_pool(linkpool, pool_size="1")
    c = lp.connect(prepare_threshold=None)
    # no PREPARE here: the word is inside a string and a comment
    assert c.execute("SELECT 'PREPARE x AS SELECT 1' -- EXECUTE x").fetchone() == \
        ("PREPARE x AS SELECT 1",)
    # several statements in one text pass as sent (on the one server)
    c.execute("PREPARE m AS SELECT 7; SELECT 1")
    assert c.execute("EXECUTE m").fetchone() == (7,)
    c.execute("DEALLOCATE m")


def _until_rfq(c):
    """Message types up to ReadyForQuery; errors as E:<sqlstate>."""
    out = []
    while True:
        t, body = c.recv_msg()
        if t == "E":
            t = "E:" + rawpg.PgError(rawpg.parse_error_fields(body)).sqlstate
        out.append(t)
        if t == "Z":
            return out


def test_messages_the_server_discards_after_an_error(linkpool, pg):
    """After an error PostgreSQL discards what the client sends until its
    Sync: a Parse there prepares nothing, a second Parse of a live name is
    no error and a Close closes nothing. The pooler answers as PostgreSQL
    does, and its statement cache stays true for the other clients of the
    server."""
    def P(name, q):
        return rawpg.msg("P", rawpg.cstr(name) + rawpg.cstr(q) + b"\0\0")

    def B(name):
        return rawpg.msg("B", rawpg.cstr("") + rawpg.cstr(name) + b"\0\0\0\0\0\0")

    E = rawpg.msg("E", rawpg.cstr("") + b"\0\0\0\0")
    S = rawpg.msg("S", b"")
    H = rawpg.msg("H", b"")

    def conversation(c):
        c.send(P("s1", "SELECT 1") + S)
        got = [_until_rfq(c)]
        # an error, answered at the Flush: the server discards until Sync
        c.send(P("bad", "SELEC") + H)
        t, _ = c.recv_msg()
        got.append(t)
        c.send(P("s2", "SELECT 'discarded'") + B("s2") + E + P("s1", "SELECT 1") +
               rawpg.msg("C", b"S" + rawpg.cstr("s1")) + S)
        got.append(_until_rfq(c))
        c.send(B("s1") + E + S)             # s1 was neither replaced nor closed
        got.append(_until_rfq(c))
        c.send(B("s2") + E + S)             # s2 was never prepared
        got.append(_until_rfq(c))
        c.send(P("s2", "SELECT 'discarded'") + B("s2") + E + S)
        got.append(_until_rfq(c))
        return got

    direct = rawpg.RawConn(pg.host, pg.port)
    direct.login("scram_user", "testdb", "scram-secret-1")
    want = conversation(direct)
    direct.close()
    assert want == [["1", "Z"], "E", ["Z"], ["2", "D", "C", "Z"], ["E:26000", "Z"],
                    ["1", "2", "D", "C", "Z"]]
    lp = tx_pool(linkpool, pool_size="1")
    a = lp.raw_login()
    assert conversation(a) == want
    # the same text from another client on the same server
    b = lp.raw_login()
    b.send(P("other", "SELECT 'discarded'") + B("other") + E + S)
    assert _until_rfq(b) == ["1", "2", "D", "C", "Z"]
    b.send(P("o1", "SELECT 1") + B("o1") + E + S)
    assert _until_rfq(b) == ["1", "2", "D", "C", "Z"]


def test_a_discarded_parse_leaves_no_statement_for_other_clients(linkpool):
    """A Parse the server discarded (after an error, before Sync) must not
    make the pooler believe the statement is on that server: another
    client's statement of the same text would get 26000 there."""
    lp = tx_pool(linkpool, pool_size="1")
    a = lp.raw_login()
    a.send(rawpg.msg("P", rawpg.cstr("bad") + rawpg.cstr("SELEC") + b"\0\0") + rawpg.msg("H", b""))
    assert a.recv_msg()[0] == "E"
    a.send(rawpg.msg("P", rawpg.cstr("s") + rawpg.cstr("SELECT 3") + b"\0\0") + rawpg.msg("S", b""))
    assert _until_rfq(a) == ["Z"]
    b = lp.raw_login()
    b.send(rawpg.msg("P", rawpg.cstr("x") + rawpg.cstr("SELECT 3") + b"\0\0") +
           rawpg.msg("B", rawpg.cstr("") + rawpg.cstr("x") + b"\0\0\0\0\0\0") +
           rawpg.msg("E", rawpg.cstr("") + b"\0\0\0\0") + rawpg.msg("S", b""))
    assert _until_rfq(b) == ["1", "2", "D", "C", "Z"]
