"""Prepared statements in transaction pooling with real client libraries:
asyncpg (statement cache and prepare()), pgJDBC (prepareThreshold=1) and
node-postgres (named queries). Pool 5, 25 clients, many transactions each:
every result is checked, no client sees an error, and SHOW STATS says
each statement was parsed at most once per server link.

The libraries are Debian's python3-asyncpg and libpostgresql-jdbc-java with
the machine's JDK (a Java program compiled here with javac), and npm's pg,
installed from tests/integration/clients/package-lock.json on first use
(scripts/test.sh installs the rest)."""

import asyncio
import os
import shutil
import subprocess

import pytest

from conftest import PASSWORDS
from test_prepared import show, tx_pool

CLIENTS = 25
POOL = 5
HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS_DIR = os.path.join(HERE, "clients")
JDBC_JAR = "/usr/share/java/postgresql.jar"


def stats(lp, db="testdb"):
    return {r["database"]: r for r in show(lp, "STATS")}[db]


def server_links(lp, db="testdb"):
    """Server links the pool opened so far (the parse bound is per link)."""
    return sum(1 for r in show(lp, "SERVERS") if r["database"] == db)


def assert_parses_bounded(lp, statements, links_at_most):
    """Each statement parsed at most once per server link."""
    st = stats(lp)
    assert st["total_server_parse_count"] <= statements * links_at_most, st
    assert st["total_client_parse_count"] >= st["total_server_parse_count"], st
    return st


# ---------------------------------------------------------------- asyncpg

asyncpg = pytest.importorskip("asyncpg", reason="python3-asyncpg (scripts/test.sh installs it)")


def apg_connect(lp, **kw):
    return asyncpg.connect(host=lp.host, port=lp.port, user="scram_user",
                           password=PASSWORDS["scram_user"], database="testdb", ssl=False, **kw)


# Texts the asyncpg clients share: (query, expected(i, j)).
APG_QUERIES = [
    ("SELECT $1::int + 1", lambda i, j: i + 1),
    ("SELECT $1::int * 2, $2::text", lambda i, j: (i * 2, f"c{j}")),
    ("SELECT count(*) FROM generate_series(1, $1::int)", lambda i, j: i),
    ("SELECT $1::text || '-' || $2::text", lambda i, j: f"c{i}-{j}"),
    ("SELECT array_length($1::int[], 1)", lambda i, j: 3),
]


def apg_args(k, i, j):
    return [(i,), (i, f"c{j}"), (i,), (f"c{i}", str(j)), ([i, j, 0],)][k]


async def apg_statement_cache_client(lp, i, rounds):
    """The default statement cache (100): every fetch runs a named
    statement that asyncpg prepared once, on whatever server ran it."""
    c = await apg_connect(lp)
    try:
        for j in range(rounds):
            k = (i + j) % len(APG_QUERIES)
            q, want = APG_QUERIES[k]
            args = apg_args(k, i, j)
            if k == 1:
                row = await c.fetchrow(q, *args)
                assert tuple(row) == want(i, j)
            else:
                assert await c.fetchval(q, *args) == want(i, j)
            if j % 5 == 0:
                # an explicit transaction: several statements on one server
                async with c.transaction():
                    assert await c.fetchval(APG_QUERIES[0][0], j) == j + 1
                    assert await c.fetchval(APG_QUERIES[2][0], 3) == 3
    finally:
        await c.close()


async def apg_prepare_client(lp, i, rounds):
    """conn.prepare(): statement objects used over many transactions, and
    a small cache that makes asyncpg close statements (Close answered by
    the pooler)."""
    c = await apg_connect(lp, statement_cache_size=2)
    try:
        plus = await c.prepare("SELECT $1::int + $2::int")
        rows = await c.prepare("SELECT g FROM generate_series(1, $1::int) g")
        for j in range(rounds):
            assert await plus.fetchval(i, j) == i + j
            got = [r[0] for r in await rows.fetch(j % 7 + 1)]
            assert got == list(range(1, j % 7 + 2))
            # a text of its own each round: the cache of 2 evicts and closes
            assert await c.fetchval(f"SELECT $1::int + {j % 6}", i) == i + j % 6
            if j % 10 == 0:
                # pipelined Bind/Execute of one statement, one Sync
                async with c.transaction():
                    await c.executemany("INSERT INTO apg_items VALUES ($1, $2)",
                                        [(i, j * 10 + k) for k in range(5)])
        assert await c.fetchval("SELECT count(*) FROM apg_items WHERE client = $1", i) == \
            5 * len(range(0, rounds, 10))
    finally:
        await c.close()


def run_async(coro, timeout):
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.mark.timeout(150)
def test_asyncpg_statement_cache_many_clients(linkpool):
    lp = tx_pool(linkpool, pool_size=str(POOL))

    async def main():
        await asyncio.gather(*(apg_statement_cache_client(lp, i, 40) for i in range(CLIENTS)))

    run_async(main(), 120)
    # asyncpg's own type introspection query (for int[]) is one more
    st = assert_parses_bounded(lp, len(APG_QUERIES) + 1, POOL)
    assert st["total_client_parse_count"] == CLIENTS * (len(APG_QUERIES) + 1), st
    assert st["total_bind_count"] >= CLIENTS * 40, st
    assert server_links(lp) <= POOL


@pytest.mark.timeout(150)
def test_asyncpg_prepare_and_close_many_clients(linkpool, pg):
    pg.sql("DROP TABLE IF EXISTS apg_items; CREATE TABLE apg_items (client int, n int); "
           "GRANT ALL ON apg_items TO PUBLIC", db="testdb")
    lp = tx_pool(linkpool, pool_size=str(POOL))

    async def main():
        await asyncio.gather(*(apg_prepare_client(lp, i, 30) for i in range(CLIENTS)))

    run_async(main(), 120)
    # two prepared texts, six rotating ones, the INSERT and the count
    st = assert_parses_bounded(lp, 2 + 6 + 2, POOL)
    assert st["total_client_parse_count"] > st["total_server_parse_count"], st


@pytest.mark.timeout(120)
def test_asyncpg_pool_many_tasks(linkpool):
    """asyncpg's own pool (as applications use it): connections are reset
    with a multi-statement simple query on release and keep their statement
    cache; 100 tasks share 25 connections."""
    lp = tx_pool(linkpool, pool_size=str(POOL))

    async def task(pool, i):
        for j in range(10):
            async with pool.acquire() as c:
                q, want = APG_QUERIES[(i + j) % 4]
                args = apg_args((i + j) % 4, i, j)
                got = await c.fetchrow(q, *args)
                assert (tuple(got) if len(got) > 1 else got[0]) == want(i, j)

    async def main():
        async with asyncpg.create_pool(host=lp.host, port=lp.port, user="scram_user",
                                       password=PASSWORDS["scram_user"], database="testdb",
                                       ssl=False, min_size=CLIENTS, max_size=CLIENTS) as pool:
            await asyncio.gather(*(task(pool, i) for i in range(100)))

    run_async(main(), 90)
    assert_parses_bounded(lp, 4, POOL)


@pytest.mark.timeout(120)
def test_asyncpg_server_killed_between_executions(linkpool, pg):
    """A statement prepared on a server that pg_terminate_backend killed
    runs on the next server without the client seeing anything."""
    lp = tx_pool(linkpool, pool_size=str(POOL))

    async def main():
        conns = [await apg_connect(lp) for _ in range(CLIENTS)]
        first = set()

        async def prepare(i, c):
            # asyncpg prepares with Parse, Describe, Flush: the server stays
            # the client's until the Sync of its first execution (with any
            # transaction pooler), so each client executes at once
            s = await c.prepare("SELECT $1::int * 3, pg_backend_pid()")
            v, pid = await s.fetchrow(i)
            assert v == 3 * i
            first.add(pid)
            return s

        stmts = await asyncio.gather(*(prepare(i, c) for i, c in enumerate(conns)))
        # every server of the pool (one still logging in when the first
        # kill ran is killed on the next pass), until the pooler has noticed
        for _ in range(100):
            pg.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE datname = 'testdb' AND backend_type = 'client backend'")
            await asyncio.sleep(0.05)
            if not any(r["database"] == "testdb" for r in show(lp, "SERVERS")):
                break
        else:
            pytest.fail(f"killed servers still listed: {show(lp, 'SERVERS')}")

        async def again(i, s, c):
            for j in range(10):
                v, pid = await s.fetchrow(i + j)
                assert v == 3 * (i + j)
                assert pid not in first
                assert await c.fetchval("SELECT $1::int - 1", j) == j - 1
        await asyncio.gather(*(again(i, s, c) for i, (s, c) in enumerate(zip(stmts, conns))))
        for c in conns:
            await c.close()

    run_async(main(), 90)
    assert server_links(lp) <= POOL


# ---------------------------------------------------------------- pgJDBC

def tool(name):
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} not found (scripts/test.sh installs it)")
    return path


@pytest.mark.timeout(240)
def test_jdbc_prepare_threshold_1_many_clients(linkpool, pg, tmp_path):
    if not os.path.exists(JDBC_JAR):
        pytest.fail(f"{JDBC_JAR} missing: apt-get install libpostgresql-jdbc-java")
    javac, java = tool("javac"), tool("java")
    src = os.path.join(CLIENTS_DIR, "JdbcPrepared.java")
    out = subprocess.run([javac, "-d", str(tmp_path), "-cp", JDBC_JAR, src],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    pg.sql("DROP TABLE IF EXISTS jdbc_items; "
           "CREATE TABLE jdbc_items (thread int, round int); "
           "GRANT ALL ON jdbc_items TO PUBLIC", db="testdb")
    # pgJDBC sends extra_float_digits at startup: the setting PgBouncer's
    # users add for it
    lp = tx_pool(linkpool, pool_size=str(POOL), ignore_startup_parameters="extra_float_digits")
    url = f"jdbc:postgresql://{lp.host}:{lp.port}/testdb"
    rounds = 20
    out = subprocess.run([java, "-Xss512k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                          "-cp", f"{JDBC_JAR}:{tmp_path}", "JdbcPrepared", url, "scram_user",
                          PASSWORDS["scram_user"], str(CLIENTS), str(rounds)],
                         capture_output=True, text=True, timeout=200)
    assert out.returncode == 0 and out.stdout.startswith("OK"), out.stdout + out.stderr
    rows = pg.sql("SELECT count(*), count(DISTINCT thread) FROM jdbc_items", db="testdb")
    assert rows == [(CLIENTS * 3 * len(range(0, rounds, 4)), CLIENTS)]
    # five statements of every thread, six rotating texts, and the driver's
    # own BEGIN, COMMIT and ROLLBACK (named too with prepareThreshold=1)
    assert_parses_bounded(lp, 5 + 6 + 3, POOL)
    assert server_links(lp) <= POOL


# ---------------------------------------------------------------- node-postgres

def node_modules():
    """npm's pg, installed from the lock file next to the script once."""
    if not os.path.exists(os.path.join(CLIENTS_DIR, "node_modules", "pg", "package.json")):
        out = subprocess.run([tool("npm"), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                             cwd=CLIENTS_DIR, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, "npm ci failed:\n" + out.stdout + out.stderr


@pytest.mark.timeout(240)
def test_node_postgres_named_queries_many_clients(linkpool):
    node = tool("node")
    node_modules()
    lp = tx_pool(linkpool, pool_size=str(POOL))
    rounds = 40
    out = subprocess.run([node, os.path.join(CLIENTS_DIR, "node_prepared.js"), lp.host,
                          str(lp.port), "testdb", "scram_user", PASSWORDS["scram_user"],
                          str(CLIENTS), str(rounds)],
                         capture_output=True, text=True, timeout=200)
    assert out.returncode == 0 and out.stdout.startswith("OK"), out.stdout + out.stderr
    # four named queries and "div"
    st = assert_parses_bounded(lp, 4 + 1, POOL)
    # node-postgres parses a name once per connection
    assert st["total_client_parse_count"] == CLIENTS * 5, st
    assert st["total_bind_count"] >= CLIENTS * rounds, st
    assert server_links(lp) <= POOL
