"""auth_user / auth_query: users missing from auth_file are looked up in
PostgreSQL over a private connection; expired roles are refused; a hostile
search_path in the client's startup packet has no effect on the lookup; the
answer is cached for auth_query_cache_ttl and then asked again."""

import time

import psycopg
import pytest

import rawpg

AUTH_USER, AUTH_PW = "lp_auth", "auth-secret-9"


@pytest.fixture(scope="module")
def roles(pg):
    pg.sql(f"DROP ROLE IF EXISTS {AUTH_USER}")
    pg.sql(f"CREATE ROLE {AUTH_USER} LOGIN SUPERUSER PASSWORD '{AUTH_PW}'")
    for r in ("aq_user", "aq_expired"):
        with __import__("contextlib").suppress(Exception):
            pg.sql(f"REVOKE ALL ON DATABASE testdb FROM {r}")
    pg.sql("DROP ROLE IF EXISTS aq_user")
    pg.sql("CREATE ROLE aq_user LOGIN PASSWORD 'aq-pass-1'")
    pg.sql("DROP ROLE IF EXISTS aq_expired")
    pg.sql("CREATE ROLE aq_expired LOGIN PASSWORD 'aq-pass-2' VALID UNTIL '2001-01-01'")
    pg.sql("GRANT ALL ON DATABASE testdb TO aq_user, aq_expired")
    yield
    pg.sql("REVOKE ALL ON DATABASE testdb FROM aq_user, aq_expired")
    for r in ("aq_user", "aq_expired", AUTH_USER):
        pg.sql(f"DROP ROLE IF EXISTS {r}")


def aq_lp(linkpool, databases=None, **ini):
    base = {"auth_type": "scram-sha-256", "auth_user": AUTH_USER}
    base.update(ini)
    # only the auth user is in the auth_file: everyone else is looked up
    return linkpool(base, databases=databases, userlist=[(AUTH_USER, AUTH_PW), ("admin", "admin-secret")])


def dsn(lp, user, password, **extra):
    return lp.dsn(user, "testdb", password, **extra)


def test_auth_query_login(linkpool, roles):
    lp = aq_lp(linkpool)
    with psycopg.connect(dsn(lp, "aq_user", "aq-pass-1")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("aq_user",)
    # md5 auth_type with a SCRAM verifier from the query: SCRAM is asked
    c = lp.raw()
    c.login("aq_user", "testdb", "aq-pass-1")
    assert c.auth_requests[0] == 10


def test_auth_query_wrong_unknown_expired_look_the_same(linkpool, roles):
    lp = aq_lp(linkpool)
    seen = {}
    for user, pw in (("aq_user", "wrong"), ("no_such_user_x", "whatever"), ("aq_expired", "aq-pass-2")):
        c = lp.raw()
        with pytest.raises(rawpg.PgError) as ei:
            c.login(user, "testdb", pw)
        assert ei.value.sqlstate == "28P01"
        assert ei.value.message == f'SASL authentication failed for user "{user}"'
        seen[user] = c.auth_requests
    # the same exchange for all three: a SCRAM challenge, then the refusal
    assert seen["aq_user"] == seen["no_such_user_x"] == seen["aq_expired"] == [10, 11]
    # the auth user's own credentials never log anyone else in (CVE-2015-6817)
    with pytest.raises(psycopg.OperationalError, match="SASL authentication failed"):
        psycopg.connect(dsn(lp, "no_such_user_x", AUTH_PW))


def test_auth_query_hostile_search_path(linkpool, pg, roles):
    # An unqualified query would find evil.pg_shadow first on the client's path.
    pg.sql("DROP SCHEMA IF EXISTS evil CASCADE", db="testdb")
    pg.sql("CREATE SCHEMA evil", db="testdb")
    pg.sql("CREATE VIEW evil.pg_shadow AS SELECT 'aq_user'::name AS usename, 'evil-pass'::text AS passwd",
           db="testdb")
    pg.sql("GRANT USAGE ON SCHEMA evil TO PUBLIC; GRANT SELECT ON evil.pg_shadow TO PUBLIC", db="testdb")
    try:
        lp = aq_lp(linkpool, auth_query="SELECT usename, passwd FROM pg_shadow WHERE usename = $1",
                   track_extra_parameters="IntervalStyle, search_path")
        c = lp.raw()
        with pytest.raises(rawpg.PgError):
            c.login("aq_user", "testdb", "evil-pass", search_path="evil,pg_catalog")
        c = lp.raw()
        c.login("aq_user", "testdb", "aq-pass-1", search_path="evil,pg_catalog")
        assert "evil" in c.run("SHOW search_path")[0][0][0]   # the client still got its value
    finally:
        pg.sql("DROP SCHEMA IF EXISTS evil CASCADE", db="testdb")


def test_auth_query_cache_hit_and_expiry(linkpool, pg, roles):
    lp = aq_lp(linkpool, auth_query_cache_ttl="2")
    with psycopg.connect(dsn(lp, "aq_user", "aq-pass-1")) as conn:
        conn.execute("SELECT 1")
    pg.sql("ALTER ROLE aq_user PASSWORD 'aq-pass-new'")
    try:
        # within the TTL the cached verifier answers: no new query
        with psycopg.connect(dsn(lp, "aq_user", "aq-pass-1")) as conn:
            conn.execute("SELECT 1")
        time.sleep(2.2)
        # expired: asked again, the new password is the one that works
        with pytest.raises(psycopg.OperationalError, match="SASL authentication failed"):
            psycopg.connect(dsn(lp, "aq_user", "aq-pass-1"))
        with psycopg.connect(dsn(lp, "aq_user", "aq-pass-new")) as conn:
            conn.execute("SELECT 1")
    finally:
        pg.sql("ALTER ROLE aq_user PASSWORD 'aq-pass-1'")


def test_auth_query_per_database_and_bad_auth_user(linkpool, pg, roles):
    lp = aq_lp(linkpool, auth_user="nobody_here",
               databases={"testdb": pg.db_entry("testdb", auth_user=AUTH_USER)})
    with psycopg.connect(dsn(lp, "aq_user", "aq-pass-1")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    # otherdb uses the global auth_user, which cannot log in: refused, no
    # hang, and told why before any password exchange (PgBouncer tells the
    # auth pool's login error; the same for every user name)
    for user in ("aq_user", "no_such_user_x"):
        c = lp.raw()
        with pytest.raises(rawpg.PgError) as ei:
            c.login(user, "otherdb", None)
        assert c.auth_requests == []
        assert ei.value.message == "server asked for SCRAM, no usable password is configured"
    lp.wait_log("auth_query: login as nobody_here")


SLOW_QUERY = "SELECT usename, passwd FROM pg_shadow, pg_sleep({}) WHERE usename = $1"


def test_auth_query_shared_lookup_resumes_every_waiter(linkpool, roles):
    # A slow query keeps every client waiting on the one lookup in flight;
    # all are resumed with the answer: known user in, wrong/unknown refused alike.
    lp = aq_lp(linkpool, auth_query=SLOW_QUERY.format(0.5))
    users = [("aq_user", "aq-pass-1"), ("aq_user", "aq-pass-1"), ("aq_user", "wrong"),
             ("no_such_user_y", "x")]
    conns = []
    for user, _ in users:
        c = lp.raw()
        c.send(rawpg.startup(user, "testdb"))
        conns.append(c)
    try:
        conns[0].finish_login(*users[0])
        assert conns[0].run("SELECT current_user")[0][0][0] == "aq_user"
        conns[1].finish_login(*users[1])
        for c, (user, pw) in zip(conns[2:], users[2:]):
            with pytest.raises(rawpg.PgError) as ei:
                c.finish_login(user, pw)
            assert ei.value.sqlstate == "28P01"
    finally:
        for c in conns:
            c.close()


def test_auth_query_client_gone_while_waiting(linkpool, roles):
    # Clients closed (client_login_timeout) while their lookup runs leave
    # it cleanly; the late answer finds no waiter and is still cached.
    lp = aq_lp(linkpool, auth_query=SLOW_QUERY.format(2.5), client_login_timeout="1")
    conns = [lp.raw() for _ in range(2)]
    try:
        for c in conns:
            c.send(rawpg.startup("aq_user", "testdb"))
        for c in conns:
            err = c.error_or_close(timeout=5)
            assert isinstance(err, rawpg.PgError) and err.message == "client_login_timeout"
    finally:
        for c in conns:
            c.close()
    time.sleep(2)                  # the lookup ends with nobody waiting
    # served from the cache: a new 2.5 s lookup would outlast the login timeout
    c = lp.raw()
    c.login("aq_user", "testdb", "aq-pass-1")
    c.close()


def test_auth_query_reload_with_new_query_asks_again(linkpool, roles):
    # An answer is kept for the query that gave it: a reload that changes
    # auth_query does not reuse it (PgBouncer runs the new query at once).
    lp = aq_lp(linkpool, auth_query_cache_ttl="60")
    with psycopg.connect(dsn(lp, "aq_user", "aq-pass-1")):
        pass
    lp.write_ini({"auth_query": "SELECT usename, substring(passwd, 1, 3) FROM pg_shadow "
                                "WHERE usename = $1"})
    lp.admin("RELOAD")
    with pytest.raises(psycopg.OperationalError, match="SASL authentication failed"):
        psycopg.connect(dsn(lp, "aq_user", "aq-pass-1"))


def test_auth_query_error_is_a_config_error(linkpool, roles):
    # A query PostgreSQL refuses fails every user alike, and says why in the log.
    lp = aq_lp(linkpool, auth_query="SELECT usename, passwd FROM no_such_table WHERE usename = $1")
    for user in ("aq_user", "no_such_user_z"):
        c = lp.raw()
        with pytest.raises(rawpg.PgError) as ei:
            c.login(user, "testdb", "aq-pass-1")
        assert (ei.value.sqlstate, ei.value.message) == ("08P01", "bouncer config error")
    lp.wait_log('relation "no_such_table" does not exist')


def test_auth_query_reserved_console_as_auth_dbname(linkpool, pg, roles):
    lp = aq_lp(linkpool, databases={"testdb": pg.db_entry("testdb", auth_dbname="pgbouncer")})
    c = lp.raw()
    with pytest.raises(rawpg.PgError) as ei:
        c.login("aq_user", "testdb", "aq-pass-1")
    assert ei.value.message == "bouncer config error"
    lp.wait_log('cannot use the reserved "pgbouncer" database as an auth_dbname')
    # as a global setting it is refused outright
    with pytest.raises(psycopg.Error, match='reserved "pgbouncer" database'):
        lp.admin("SET auth_dbname = 'pgbouncer'")


@pytest.fixture
def nopw_role(pg, roles):  # noqa: F811
    pg.sql("DROP ROLE IF EXISTS aq_nopw")
    pg.sql("CREATE ROLE aq_nopw LOGIN")
    pg.sql("GRANT ALL ON DATABASE testdb TO aq_nopw")
    yield "aq_nopw"
    pg.sql("REVOKE ALL ON DATABASE testdb FROM aq_nopw")
    pg.sql("DROP ROLE IF EXISTS aq_nopw")


def test_auth_query_user_without_password(linkpool, pg, nopw_role):
    # A role without a password exists: trust lets it in (as PgBouncer does),
    # and trust refuses a name the query does not find in PgBouncer's words
    # (trust tells who exists anyway); a password method refuses it exactly
    # as an unknown user.
    # (PostgreSQL trusts the unix socket: the role's server login needs no password)
    lp = aq_lp(linkpool, auth_type="trust",
               databases={"testdb": f"host={pg.socket_dir} port={pg.port} dbname=testdb"})
    c = lp.raw()
    c.login(nopw_role, "testdb")
    assert c.run("SELECT current_user")[0] == [(nopw_role,)]
    c = lp.raw()
    with pytest.raises(rawpg.PgError) as ei:
        c.login("aq_nope", "testdb")
    assert (ei.value.sqlstate, ei.value.message) == ("28000", "no such user")
    from test_auth_oracle import assert_indistinguishable
    lp = aq_lp(linkpool)
    assert_indistinguishable(lp, nopw_role, "aq_nope", 10)


def test_auth_query_console_login(linkpool, pg, roles):
    """A stats_users / admin_users name known only to PostgreSQL logs into
    the console through auth_query, run in auth_dbname (PgBouncer 1.25);
    without one the console itself would be the auth database, which is a
    configuration error."""
    lp = aq_lp(linkpool, auth_dbname="testdb", stats_users="aq_user")
    c = lp.raw()
    c.login("aq_user", "pgbouncer", "aq-pass-1")
    rows = c.run("SHOW VERSION")[0]
    assert len(rows) == 1
    for user, pw in (("aq_user", "wrong"), ("no_such_user_x", "aq-pass-1")):
        c = lp.raw()
        with pytest.raises(rawpg.PgError) as ei:
            c.login(user, "pgbouncer", pw)
        assert ei.value.message == f'SASL authentication failed for user "{user}"'
    lp = aq_lp(linkpool, stats_users="aq_user")
    c = lp.raw()
    with pytest.raises(rawpg.PgError) as ei:
        c.login("aq_user", "pgbouncer", "aq-pass-1")
    assert (ei.value.sqlstate, ei.value.message) == ("08P01", "bouncer config error")
    lp.wait_log('cannot use the reserved "pgbouncer" database as an auth_dbname')


def test_auth_query_second_auth_pool_keeps_pass_through_key(linkpool, pg, roles):
    """One user looked up in two auth pools gets the same verifier twice: the
    second answer must not throw away the client key the first login proved,
    or a server login waiting for it fails ("wrong password type")."""
    lp = aq_lp(linkpool, databases={
        "testdb": pg.db_entry("testdb", auth_dbname="auth1"),
        "otherdb": pg.db_entry("otherdb", auth_dbname="auth2"),
        "auth1": pg.db_entry("testdb"),
        "auth2": pg.db_entry("otherdb"),
    })
    lp.admin("PAUSE testdb")
    waiting = lp.raw(timeout=20)
    waiting.send(rawpg.startup("aq_user", "testdb"))
    # the client's SCRAM proof lands while testdb opens no server
    import threading
    result = {}

    def login():
        try:
            waiting.finish_login("aq_user", "aq-pass-1")
            result["ok"] = waiting.run("SELECT current_user")[0]
        except Exception as e:  # noqa: BLE001 (reported below)
            result["err"] = e
    t = threading.Thread(target=login)
    t.start()
    time.sleep(0.5)
    # another pool's lookup of the same name, its SCRAM never finished
    other = lp.raw(timeout=5)
    other.send(rawpg.startup("aq_user", "otherdb"))
    mtype, body = other.recv_msg()
    assert mtype == "R"
    time.sleep(0.2)
    lp.admin("RESUME testdb")
    t.join(15)
    other.close()
    assert result.get("ok") == [("aq_user",)], result
