"""auth_type = hba: rule order (first match wins), every method, local vs
host rules, no matching rule, and parse errors named file:line on reload."""

import getpass

import psycopg
import pytest

import rawpg
from conftest import PASSWORDS

HBA = """
# first match wins: otherdb is refused to everyone before the per-user rules
host    otherdb     all          127.0.0.1/32      reject
local   all         all                            trust
host    all         md5_user     127.0.0.1/32      md5
host    all         plain_user   127.0.0.1/32      password
host    all         trust_user   127.0.0.1 255.255.255.255  trust
host    all         scram_user   127.0.0.0/8       scram-sha-256
host    all         scram_user   127.0.0.1/32      reject
hostssl all         all          0.0.0.0/0         cert
"""


def hba_lp(linkpool, tmp_path, text=HBA):
    path = tmp_path / "hba.conf"
    path.write_text(text)
    return linkpool({"auth_type": "hba", "auth_hba_file": str(path)}), path


@pytest.mark.parametrize("user,code", [("md5_user", 5), ("plain_user", 3), ("trust_user", 0),
                                       ("scram_user", 10)])
def test_hba_methods(linkpool, tmp_path, user, code):
    lp, _ = hba_lp(linkpool, tmp_path)
    c = lp.raw()
    c.login(user, "testdb", PASSWORDS[user])
    assert c.auth_requests[0] == code
    assert c.run("SELECT current_user")[0] == [(user,)]
    if code:
        with pytest.raises(rawpg.PgError) as ei:
            lp.raw().login(user, "testdb", "wrong")
        assert ei.value.sqlstate == "28P01"


def test_hba_order_reject_and_no_match(linkpool, tmp_path):
    lp, _ = hba_lp(linkpool, tmp_path)
    with pytest.raises(rawpg.PgError) as ei:
        lp.raw().login("scram_user", "otherdb", PASSWORDS["scram_user"])
    assert ei.value.sqlstate == "28000" and "rejects connection" in ei.value.message
    # no rule for this user over TCP without TLS (hostssl cert only)
    with pytest.raises(rawpg.PgError) as ei:
        lp.raw().login("admin", "testdb", "x")
    assert ei.value.sqlstate == "28000" and "no pg_hba.conf entry" in ei.value.message


def test_hba_local_rule(linkpool, tmp_path):
    lp, _ = hba_lp(linkpool, tmp_path)
    with psycopg.connect(f"host={lp.sockdir} port={lp.port} user=scram_user dbname=testdb "
                         f"password=wrong sslmode=disable connect_timeout=5") as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("scram_user",)


def test_hba_reload_parse_error_keeps_rules(linkpool, tmp_path):
    lp, path = hba_lp(linkpool, tmp_path)
    path.write_text("host all all 127.0.0.1/32 trust\nhost all all 10.0.0.0/99 md5\n")
    lp.reload()
    m = lp.wait_log(r"reload failed: .*hba\.conf:2: invalid CIDR mask")
    assert m
    with pytest.raises(rawpg.PgError):
        lp.raw().login("scram_user", "otherdb", PASSWORDS["scram_user"])   # old rules still apply
    # a valid file is taken
    path.write_text("host all all 127.0.0.1/32 trust\n")
    lp.reload()
    lp.wait_log("configuration reloaded")
    c = lp.raw()
    c.login("scram_user", "otherdb", "anything")
    assert c.auth_requests[0] == 0


def test_hba_bad_file_at_start(linkpool, tmp_path):
    path = tmp_path / "hba.conf"
    path.write_text("host all all all ident\n")
    lp = linkpool({"auth_type": "hba", "auth_hba_file": str(path)}, start=False)
    lp.check_exit_code = False
    lp.start(wait=False)
    assert lp.wait_exit(10) not in (None, 0)
    assert "hba.conf:1: authentication method ident is not supported by linkpool" in lp.output_text()


# PgBouncer's HBA syntax (issue 15): these lines load as PgBouncer reads them.
PGBOUNCER_SYNTAX = """
host    db_a , db_b   u1,u2 , u3          10.0.0.0/8        md5
host    "x""y"        "a , b"             11.0.0.0/8        cert
local   sameuser      all                                   trust
host    db2,replication  admin2           ::1/128           trust
host    all           all                 12.0.0.0 255.0.0.0  password
local   all           all                                   peer map=m
host    all           trust_user          127.0.0.1/32      trust
host    all           all                 127.0.0.1/32      cert
"""


def test_hba_pgbouncer_syntax_loads(linkpool, tmp_path):
    ident = tmp_path / "ident.conf"
    ident.write_text(f"m {getpass.getuser()} scram_user\n")
    hba = tmp_path / "hba.conf"
    hba.write_text(PGBOUNCER_SYNTAX)
    lp = linkpool({"auth_type": "hba", "auth_hba_file": str(hba),
                   "auth_ident_file": str(ident)})
    c = lp.raw()
    c.login("trust_user", "testdb")
    assert c.run("SELECT 1")[0] == [("1",)]
    # cert on a host line: accepted in the file, refused at login without TLS
    with pytest.raises(rawpg.PgError) as ei:
        lp.raw().login("scram_user", "testdb", PASSWORDS["scram_user"])
    assert ei.value.message.startswith('certificate authentication failed for user "scram_user"')


def unix_dsn(lp, user, db="testdb"):
    return (f"host={lp.sockdir} port={lp.port} user={user} dbname={db} "
            f"password=unused sslmode=disable connect_timeout=5")


def test_hba_peer_with_ident_map(linkpool, tmp_path):
    me = getpass.getuser()
    ident = tmp_path / "ident.conf"
    ident.write_text(f"m {me} scram_user\n")
    hba = tmp_path / "hba.conf"
    hba.write_text("local all all peer map=m\nhost all all 127.0.0.1/32 peer\n")
    lp = linkpool({"auth_type": "hba", "auth_hba_file": str(hba),
                   "auth_ident_file": str(ident)})
    with psycopg.connect(unix_dsn(lp, "scram_user")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("scram_user",)
    # the map does not let this OS user be md5_user
    with pytest.raises(psycopg.OperationalError, match='peer authentication failed for user "md5_user"'):
        psycopg.connect(unix_dsn(lp, "md5_user"))
    lp.wait_log(f"ident map m has no entry for {me} as user md5_user")
    # peer over TCP: refused
    with pytest.raises(rawpg.PgError) as ei:
        lp.raw().login("scram_user", "testdb")
    assert (ei.value.sqlstate, ei.value.message) == (
        "28000", 'peer authentication failed for user "scram_user"')
    # "all" in the map: any user; a name no list knows is still refused
    ident.write_text(f"m {me} all\n")
    lp.reload()
    lp.wait_log("configuration reloaded")
    with psycopg.connect(unix_dsn(lp, "md5_user")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("md5_user",)
    with pytest.raises(psycopg.OperationalError, match="peer authentication failed"):
        psycopg.connect(unix_dsn(lp, "no_such_user"))
    # a rule naming a map the file lacks is refused at load, the old rules stay
    hba.write_text("local all all peer map=other\n")
    lp.reload()
    lp.wait_log(r'reload failed: .*hba\.conf:1: map "other" is not defined in auth_ident_file')
    with psycopg.connect(unix_dsn(lp, "scram_user")) as conn:
        conn.execute("SELECT 1")
