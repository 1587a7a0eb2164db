"""auth_query under load (issue 12, item 3): lookups run on the servers of
one pool per auth database, within its pool size; the rest wait in a bounded
FIFO queue; a name the query did not find leaves nothing behind.

Before the fix every lookup opened its own connection as auth_user and every
made-up user name stayed in memory as a user object: a flood of unknown names
exhausted PostgreSQL's max_connections.
"""

import contextlib
import threading
import time

import psycopg
import pytest

import rawpg
from test_auth_query import AUTH_PW, AUTH_USER, aq_lp, roles  # noqa: F401 (fixture)

POOL_SIZE = 4
FLOOD = 1000


def sleepy(seconds, source="pg_catalog.pg_shadow"):
    """An auth_query that takes `seconds` whether or not the user exists (a
    sleep joined to the rows would be skipped when there are none)."""
    return (f"SELECT usename, passwd FROM {source} "
            f"WHERE (SELECT pg_catalog.pg_sleep({seconds})) IS NOT NULL AND usename = $1")


class BackendSampler(threading.Thread):
    """Counts auth_user's backends in pg_stat_activity every few ms."""

    def __init__(self, pg):
        super().__init__(daemon=True)
        self.conn = psycopg.connect(pg.superuser_conninfo(), autocommit=True)
        self.stop_ev = threading.Event()
        self.max = 0
        self.samples = 0

    def count(self):
        return self.conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s",
                                 (AUTH_USER,)).fetchone()[0]

    def run(self):
        while not self.stop_ev.is_set():
            self.max = max(self.max, self.count())
            self.samples += 1
            time.sleep(0.005)

    def finish(self):
        self.stop_ev.set()
        self.join(5)
        self.conn.close()
        return self.max


def users_count(lp):
    return len(lp.admin("SHOW USERS"))


def refused_like_wrong_password(c, user):
    with pytest.raises(rawpg.PgError) as ei:
        c.finish_login(user, "wrong-password")
    assert ei.value.sqlstate == "28P01", ei.value.message
    # (the lookups here use auth_type scram-sha-256: PgBouncer's words)
    assert ei.value.message == f'SASL authentication failed for user "{user}"'


def flood(lp, prefix, n, during=None):
    """n clients with made-up user names send their startup packets at once,
    then each finishes its login with a password: every one must be refused
    exactly as a wrong password is. during() runs while the lookups queue."""
    conns = []
    try:
        for i in range(n):
            c = rawpg.RawConn(lp.host, lp.port, timeout=60)
            conns.append(c)
            c.send(rawpg.startup(f"{prefix}{i:05d}", "testdb"))
        if during:
            during()
        for i, c in enumerate(conns):
            refused_like_wrong_password(c, f"{prefix}{i:05d}")
    finally:
        for c in conns:
            c.close()


@pytest.mark.timeout(300)
def test_auth_query_flood_of_unknown_users_is_bounded(linkpool, pg, roles):
    # A lookup that takes a little while, so that lookups overlap and the
    # pool limit is what keeps the backend count down.
    ini = {"auth_type": "scram-sha-256", "auth_user": AUTH_USER,
           "default_pool_size": str(POOL_SIZE), "max_client_conn": "3000",
           "auth_query_cache_ttl": "1", "auth_query": sleepy(0.002)}
    # Under ASan too, freed memory is reused at once (no quarantine) and
    # RSS does not shrink behind our back (no periodic release to the OS).
    asan = "detect_leaks=1:abort_on_error=0:quarantine_size_mb=0:allocator_release_to_os_interval_ms=-1"
    lp = linkpool(ini, userlist=[(AUTH_USER, AUTH_PW), ("admin", "admin-secret")],
                  env={"ASAN_OPTIONS": asan})
    base_users = users_count(lp)
    known = {}

    def known_user_logs_in():
        # a real user whose answer is not cached gets in during the flood,
        # waiting its turn behind the lookups already queued
        def login():
            t0 = time.monotonic()
            c = lp.raw(timeout=60)
            c.login("aq_user", "testdb", "aq-pass-1")
            known["rows"] = c.run("SELECT current_user")[0]
            known["seconds"] = time.monotonic() - t0
            c.close()
        known["rows"] = None
        th = threading.Thread(target=login)
        th.start()
        known["thread"] = th

    def flood_with_known_user(prefix):
        flood(lp, prefix, FLOOD, during=known_user_logs_in)
        known["thread"].join(60)
        assert known["rows"] == [("aq_user",)], known
        assert known["seconds"] < 30, known
        time.sleep(1.5)                 # the answers expire (auth_query_cache_ttl)

    # Two floods grow the heap to what so many clients need at once (and
    # make aq_user's pool): the baseline.
    for rnd in range(2):
        flood_with_known_user(f"warm{rnd}_")
    base_rss = lp.rss_kb()

    sampler = BackendSampler(pg)
    sampler.start()
    try:
        for rnd in range(2):
            flood_with_known_user(f"nobody{rnd}_")
    finally:
        peak = sampler.finish()
    grown = lp.rss_kb() - base_rss
    print(f"\nflood: peak {peak} auth_user backends in {sampler.samples} samples; known user "
          f"in {known['seconds']:.2f} s; RSS {grown:+d} kB")
    assert sampler.samples > 20
    assert peak <= POOL_SIZE, f"{peak} auth_user backends at once, pool size {POOL_SIZE}"
    # Nothing of the made-up names stays: no user objects, no memory
    # (before the fix: ~550 kB more per 1000 names, ~1100 kB under ASan).
    assert users_count(lp) <= base_users + 1     # + aq_user, who logged in
    assert grown < 768, f"RSS grew by {grown} kB after {2 * FLOOD} unknown names"
    # and the pool's servers are still there for the next lookup
    c = lp.raw()
    c.send(rawpg.startup("nobody-after", "testdb"))
    refused_like_wrong_password(c, "nobody-after")


def auth_backend_pids(pg):
    return {r[0] for r in pg.sql("SELECT pid FROM pg_stat_activity WHERE usename = %s",
                                 (AUTH_USER,))}


def test_auth_query_lookups_reuse_pooled_servers(linkpool, pg, roles):
    lp = aq_lp(linkpool)
    c = lp.raw()
    c.login("aq_user", "testdb", "aq-pass-1")
    c.close()
    first = auth_backend_pids(pg)
    assert len(first) == 1, "the lookup's server stays in the auth pool"
    for i in range(5):
        c = lp.raw()
        c.send(rawpg.startup(f"nobody_{i}", "testdb"))
        refused_like_wrong_password(c, f"nobody_{i}")
    assert auth_backend_pids(pg) == first, "one server served every lookup in turn"
    pools = {(r[0], r[1]) for r in lp.admin("SHOW POOLS")}
    assert ("testdb", AUTH_USER) in pools


@pytest.fixture
def counted_lookup(pg, roles):  # noqa: F811
    """An auth_query that counts its calls in testdb.aq_calls."""
    pg.sql("DROP TABLE IF EXISTS aq_calls; CREATE TABLE aq_calls (u text)", db="testdb")
    pg.sql("""CREATE OR REPLACE FUNCTION aq_lookup(u text, OUT usename name, OUT passwd text)
              RETURNS SETOF record LANGUAGE plpgsql AS $$
              BEGIN
                INSERT INTO public.aq_calls VALUES (u);
                RETURN QUERY SELECT s.usename, s.passwd FROM pg_catalog.pg_shadow s
                             WHERE s.usename = u;
              END $$""", db="testdb")
    yield "SELECT * FROM public.aq_lookup($1)"
    pg.sql("DROP FUNCTION IF EXISTS aq_lookup(text); DROP TABLE IF EXISTS aq_calls", db="testdb")


def calls(pg, user):
    return pg.sql("SELECT count(*) FROM aq_calls WHERE u = %s", (user,), db="testdb")[0][0]


def test_auth_query_answers_are_cached_without_user_objects(linkpool, pg, counted_lookup):
    lp = aq_lp(linkpool, auth_query=counted_lookup, auth_query_cache_ttl="30")
    base_users = users_count(lp)
    for _ in range(3):
        c = lp.raw()
        c.send(rawpg.startup("aq_nobody", "testdb"))
        refused_like_wrong_password(c, "aq_nobody")
        c = lp.raw()
        c.login("aq_user", "testdb", "aq-pass-1")
        c.close()
    # one lookup each: a name not found is remembered as well as one found
    # (so that asking again costs the same), but only the real user is kept
    # as a user object
    assert calls(pg, "aq_nobody") == 1
    assert calls(pg, "aq_user") == 1
    assert users_count(lp) == base_users + 1
    names = {r[0] for r in lp.admin("SHOW USERS")}
    assert "aq_user" in names and "aq_nobody" not in names


def test_auth_query_queue_bound(linkpool, pg, roles):
    # One server; a lookup that runs 1.5 s holds it; two more may wait.
    lp = aq_lp(linkpool, default_pool_size="1", auth_query_max_waiting="2",
               auth_query=sleepy(1.5))
    conns = {}
    try:
        for name in ("q_run", "q_wait1", "q_wait2", "q_wait1"):
            c = lp.raw(timeout=20)
            c.send(rawpg.startup(name, "testdb"))
            conns.setdefault(name, []).append(c)
            if name == "q_run":
                time.sleep(0.5)       # its lookup is running, no longer queued
        # the queue is full; a client asking for a name already queued is
        # not refused: it waits for that same lookup
        over = lp.raw(timeout=20)
        over.send(rawpg.startup("q_over", "testdb"))
        err = over.error_or_close(timeout=5)
        assert isinstance(err, rawpg.PgError), err
        assert err.sqlstate == "53300"
        assert "auth_query_max_waiting" in err.message
        for name, cs in conns.items():
            for c in cs:
                refused_like_wrong_password(c, name)
    finally:
        for cs in conns.values():
            for c in cs:
                c.close()
    # the queue drained: a new name is looked up again
    c = lp.raw(timeout=20)
    c.send(rawpg.startup("q_after", "testdb"))
    refused_like_wrong_password(c, "q_after")


def test_auth_query_wait_timeout(linkpool, pg, roles):
    lp = aq_lp(linkpool, default_pool_size="1", query_wait_timeout="1",
               auth_query=sleepy(3))
    first = lp.raw(timeout=20)
    first.send(rawpg.startup("w_first", "testdb"))
    time.sleep(0.5)
    second = lp.raw(timeout=20)
    t0 = time.monotonic()
    second.send(rawpg.startup("w_second", "testdb"))
    err = second.error_or_close(timeout=10)
    assert isinstance(err, rawpg.PgError), err
    assert (err.sqlstate, err.message) == ("08P01", "query_wait_timeout")
    assert time.monotonic() - t0 < 3
    refused_like_wrong_password(first, "w_first")


def test_auth_query_client_leaving_drops_queued_lookup(linkpool, pg, counted_lookup):
    # Clients that send a startup packet and leave must not leave lookups
    # behind to be run later: a queued lookup nobody waits for is dropped.
    slow = sleepy(1, "public.aq_lookup($1)")
    lp = aq_lp(linkpool, default_pool_size="1", auth_query=slow)
    hold = lp.raw(timeout=20)
    hold.send(rawpg.startup("d_hold", "testdb"))
    time.sleep(0.3)
    for i in range(5):
        c = lp.raw()
        c.send(rawpg.startup(f"d_gone{i}", "testdb"))
        time.sleep(0.05)
        c.close(abort=True)
    refused_like_wrong_password(hold, "d_hold")
    time.sleep(0.5)
    assert calls(pg, "d_hold") == 1
    assert sum(calls(pg, f"d_gone{i}") for i in range(5)) == 0
    with contextlib.suppress(Exception):
        hold.close()
