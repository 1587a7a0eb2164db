"""Client-side authentication (auth_type) and server-side login to PostgreSQL."""

import psycopg
import pytest

import rawpg
from conftest import PASSWORDS, md5_secret, scram_verifier, wait_for

AUTH_TYPES = ["plain", "md5", "scram-sha-256"]
# The auth request code a client sees first for each auth_type.
FIRST_REQUEST = {"plain": 3, "md5": 5, "scram-sha-256": 10}


def _failed_msg(user, auth_type="md5"):
    """A refused login's words name the configured method (SASL for
    scram-sha-256, as PgBouncer says), whether or not the user exists."""
    method = "SASL" if auth_type == "scram-sha-256" else "password"
    return f'{method} authentication failed for user "{user}"'


def test_trust_accepts_any_password(linkpool):
    lp = linkpool({"auth_type": "trust"})
    for password in (PASSWORDS["scram_user"], "wrong-password"):
        with lp.connect("scram_user", "testdb", password=password) as conn:
            assert conn.execute("SELECT current_user").fetchone()[0] == "scram_user"
    c = lp.raw()
    c.login("scram_user", "testdb", None)
    assert c.auth_requests == [0]


@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_right_password(linkpool, auth_type):
    lp = linkpool({"auth_type": auth_type})
    with lp.connect("scram_user", "testdb") as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("scram_user", "testdb")
    c = lp.raw()
    c.login("scram_user", "testdb", PASSWORDS["scram_user"])
    assert c.auth_requests[0] == FIRST_REQUEST[auth_type]
    rows, _, status = c.run("SELECT 41 + 1")
    assert rows == [("42",)] and status == "I"


@pytest.mark.parametrize("auth_type", AUTH_TYPES)
@pytest.mark.parametrize("user", ["scram_user", "no_such_user"])
def test_wrong_password_or_unknown_user(linkpool, auth_type, user):
    lp = linkpool({"auth_type": auth_type})
    c = lp.raw()
    with pytest.raises(rawpg.PgError) as ei:
        c.login(user, "testdb", "definitely-wrong")
    assert ei.value.sqlstate == "28P01"
    assert ei.value.message == _failed_msg(user, auth_type)
    # libpq sees the same message
    with pytest.raises(psycopg.OperationalError, match=_failed_msg(user, auth_type)):
        psycopg.connect(lp.dsn(user, "testdb", "definitely-wrong"))
    # and the pooler still serves good clients
    with lp.connect("scram_user", "testdb") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_md5_auth_type_falls_back_to_scram_for_scram_secret(linkpool, pg):
    userlist = [("scram_user", pg.get_verifier("scram_user"))]
    lp = linkpool({"auth_type": "md5"}, userlist=userlist)
    c = lp.raw()
    c.login("scram_user", "testdb", PASSWORDS["scram_user"])
    assert c.auth_requests[0] == 10, "md5 auth_type with a SCRAM secret must ask for SCRAM"
    assert c.run("SELECT current_user")[0] == [("scram_user",)]
    with lp.connect("scram_user", "testdb") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    # wrong password is still refused the same way
    c2 = lp.raw()
    with pytest.raises(rawpg.PgError) as ei:
        c2.login("scram_user", "testdb", "nope")
    assert ei.value.sqlstate == "28P01"


def test_md5_secret_in_userlist(linkpool):
    """Client md5 auth against an md5 secret (no plain password known)."""
    userlist = [("md5_user", md5_secret("md5_user", PASSWORDS["md5_user"]))]
    lp = linkpool({"auth_type": "md5"}, userlist=userlist)
    with lp.connect("md5_user", "testdb") as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "md5_user"
    with pytest.raises(psycopg.OperationalError, match=_failed_msg("md5_user")):
        psycopg.connect(lp.dsn("md5_user", "testdb", "bad"))


def test_scram_client_auth_with_generated_verifier(linkpool):
    """auth_type scram-sha-256 with a verifier linkpool did not get from PostgreSQL;
    server login uses trust (trust_user), so only the client side is exercised."""
    userlist = [("trust_user", scram_verifier(PASSWORDS["trust_user"]))]
    lp = linkpool({"auth_type": "scram-sha-256"}, userlist=userlist)
    with lp.connect("trust_user", "testdb") as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "trust_user"
    with pytest.raises(psycopg.OperationalError, match=_failed_msg("trust_user", "scram-sha-256")):
        psycopg.connect(lp.dsn("trust_user", "testdb", "bad"))


def test_scram_verifier_replaced_by_reload(linkpool):
    """The parsed verifier is cached per user: a reload that changes the
    verifier (new password) must take effect at the next login."""
    userlist = [("trust_user", scram_verifier("old-password"))]
    lp = linkpool({"auth_type": "scram-sha-256"}, userlist=userlist)
    with lp.connect("trust_user", "testdb", "old-password") as conn:
        conn.execute("SELECT 1")
    lp.write_ini({"auth_type": "scram-sha-256"}, userlist=[("trust_user", scram_verifier("new-password"))])
    lp.reload()

    def new_works():
        try:
            psycopg.connect(lp.dsn("trust_user", "testdb", "new-password"), connect_timeout=3).close()
            return True
        except psycopg.OperationalError:
            return False
    wait_for(new_works, timeout=5, what="new verifier after reload")
    with pytest.raises(psycopg.OperationalError, match=_failed_msg("trust_user", "scram-sha-256")):
        psycopg.connect(lp.dsn("trust_user", "testdb", "old-password"), connect_timeout=3)


@pytest.mark.parametrize("user", ["md5_user", "scram_user", "trust_user", "plain_user"])
def test_server_login_with_plain_password_from_userlist(linkpool, user):
    """linkpool logs into PostgreSQL with each hba method (md5, scram, trust, password)."""
    lp = linkpool({"auth_type": "md5"})
    with lp.connect(user, "testdb") as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == user


def test_server_md5_login_with_md5_secret(linkpool):
    userlist = [("md5_user", md5_secret("md5_user", PASSWORDS["md5_user"]))]
    lp = linkpool({"auth_type": "md5"}, userlist=userlist)
    with lp.connect("md5_user", "otherdb") as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("md5_user", "otherdb")


def test_server_login_with_password_in_db_entry(linkpool, pg):
    """A [databases] entry with user= and password= forces that server login."""
    lp = linkpool(databases={
        "forced": pg.db_entry("testdb", user="scram_user", password=PASSWORDS["scram_user"]),
    })
    with lp.connect("trust_user", "forced") as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("scram_user", "testdb")


def test_scram_passthrough_with_real_verifier(linkpool, pg):
    """userlist holds scram_user's verifier from pg_authid and no plain password:
    linkpool must reuse the client's SCRAM keys to log into PostgreSQL."""
    userlist = [("scram_user", pg.get_verifier("scram_user"))]
    lp = linkpool({"auth_type": "scram-sha-256", "pool_mode": "transaction"}, userlist=userlist)
    with lp.connect("scram_user", "testdb") as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "scram_user"
        for i in range(3):
            assert conn.execute("SELECT %s::int * 2", (i,)).fetchone() == (i * 2,)
    # a second client reuses (or re-creates) the server connection
    with lp.connect("scram_user", "otherdb") as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "otherdb"
