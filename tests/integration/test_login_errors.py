"""What a refused login says, to the client and in the log (issue 15).

PgBouncer's words where they reveal nothing about which user names exist:
the server's refusal is logged with PostgreSQL's severity and closes the
server with PostgreSQL's own text; a stored secret the server cannot use is
"wrong password type"; trust refuses an unknown name as PgBouncer does.
"""

import re

import psycopg
import pytest

import rawpg
from conftest import PASSWORDS, md5_secret


def test_server_refusal_logged_with_severity_and_reason(linkpool, pg):
    lp = linkpool({"auth_type": "trust"},
                  databases={"gone": pg.db_entry("no_such_pg_db"), "testdb": pg.db_entry()})
    c = lp.raw()
    with pytest.raises(rawpg.PgError) as ei:
        c.login("scram_user", "gone")
    assert (ei.value.sqlstate, ei.value.message) == (
        "3D000", 'database "no_such_pg_db" does not exist')
    # PgBouncer's lines, which operators grep: the severity, then the text;
    # the server closes with PostgreSQL's reason, the client with the same
    lp.wait_log(r'S-\d+: gone/scram_user@\S+ server login failed: FATAL database '
                r'"no_such_pg_db" does not exist')
    lp.wait_log(r'S-\d+: gone/scram_user@\S+ closing because: database "no_such_pg_db" '
                r'does not exist')
    lp.wait_log(r'C-\d+: gone/scram_user@\S+ closing because: database "no_such_pg_db" '
                r'does not exist')
    # the metrics still count it as a failed login, not by PostgreSQL's text
    page = lp.http_get("/metrics")[2].decode()
    assert re.search(r'linkpool_server_connections_closed_total\{database="gone",'
                     r'reason="login_failed"\} 1', page), page


def test_long_cleartext_server_password(linkpool, pg):
    """A cleartext password longer than the 1200-byte login buffer used to be
    dropped unsent: the server login hung until the client gave up."""
    long_pw = "q" * 5000
    pg.sql(f"ALTER ROLE plain_user PASSWORD '{long_pw}'")
    try:
        lp = linkpool({"auth_type": "trust"},
                      userlist=[("plain_user", long_pw)],
                      databases={"testdb": pg.db_entry()})
        with psycopg.connect(lp.dsn("plain_user", "testdb", "x", connect_timeout=5)) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("plain_user",)
    finally:
        pg.sql(f"ALTER ROLE plain_user PASSWORD '{PASSWORDS['plain_user']}'")


def test_wrong_password_type_for_the_server(linkpool, pg):
    # PostgreSQL asks scram_user for SCRAM; an md5 hash cannot answer it
    lp = linkpool({"auth_type": "trust"},
                  userlist=[("scram_user", md5_secret("scram_user", PASSWORDS["scram_user"]))],
                  databases={"testdb": pg.db_entry()})
    c = lp.raw()
    with pytest.raises(rawpg.PgError) as ei:
        c.login("scram_user", "testdb")
    assert ei.value.message == ("wrong password type: server asked for SCRAM, "
                                "the stored secret is an md5 hash")
    lp.wait_log("server login failed: wrong password type")


@pytest.mark.parametrize("auth_type", ["trust", "hba"])
def test_trust_refuses_unknown_user_in_pgbouncer_words(linkpool, tmp_path, auth_type):
    hba = tmp_path / "hba.conf"
    hba.write_text("host all all 127.0.0.1/32 trust\n")
    lp = linkpool({"auth_type": auth_type, "auth_hba_file": str(hba)})
    c = lp.raw()
    with pytest.raises(rawpg.PgError) as ei:
        c.login("no_such_user", "testdb")
    assert (ei.value.sqlstate, ei.value.message) == ("28000", '"trust" authentication failed')
    lp.wait_log(r'closing because: "trust" authentication failed')
    # a listed user still gets in without a password
    c = lp.raw()
    c.login("trust_user", "testdb")
    assert c.run("SELECT 1")[0] == [("1",)]
