"""auth_type = ldap and HBA ldap against a real slapd started for this module:
simple bind, search+bind (attribute, filter, ldapurl), StartTLS and ldaps,
wrong password and unknown user alike, an LDAP server that is down or does
not answer, the bound on checks in flight, a client that leaves while its
check runs, --check's file:line refusals, and no password in the log."""

import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import psycopg
import pytest

import rawpg
from conftest import LINKPOOL_BIN, free_port, wait_for

SLAPD = "/usr/sbin/slapd"
SCHEMA = "/etc/ldap/schema"
BASE = "dc=example,dc=net"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PW = "ldap-admin-pw-7"
PEOPLE = f"ou=people,{BASE}"
# LDAP users; each is also a PostgreSQL role with the same password, which
# linkpool's server login uses once the LDAP bind proved it.
USERS = {"ldap_alice": "alice-ldap-pw-1", "ldap_bob": "bob-ldap-pw-2"}

pytestmark = pytest.mark.skipif(not os.path.exists(SLAPD) or shutil.which("ldapadd") is None,
                                reason="slapd / ldap-utils not installed")


class Slapd:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lp-slapd-")
        self.port = free_port()
        self.ldaps_port = free_port()
        self.pidfile = os.path.join(self.dir, "slapd.pid")
        self.ldapconf = os.path.join(self.dir, "ldap.conf")

    def start(self):
        data = os.path.join(self.dir, "data")
        os.mkdir(data)
        key, crt = os.path.join(self.dir, "server.key"), os.path.join(self.dir, "server.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", crt, "-days", "2", "-subj", "/CN=127.0.0.1"],
                       check=True, capture_output=True)
        conf = os.path.join(self.dir, "slapd.conf")
        with open(conf, "w") as f:
            f.write(f"""include {SCHEMA}/core.schema
include {SCHEMA}/cosine.schema
include {SCHEMA}/nis.schema
include {SCHEMA}/inetorgperson.schema
pidfile {self.pidfile}
TLSCertificateFile {crt}
TLSCertificateKeyFile {key}
access to * by * read by anonymous auth
database ldif
directory {data}
suffix "{BASE}"
rootdn "{ADMIN_DN}"
rootpw {ADMIN_PW}
""")
        with open(self.ldapconf, "w") as f:
            f.write("TLS_REQCERT never\n")
        subprocess.run([SLAPD, "-f", conf, "-h",
                        f"ldap://127.0.0.1:{self.port}/ ldaps://127.0.0.1:{self.ldaps_port}/"],
                       check=True, capture_output=True)
        ldif = [f"dn: {BASE}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\n"
                "dc: example\no: Example\n",
                f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n"]
        for user, pw in USERS.items():
            ldif.append(f"dn: uid={user},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {user}\n"
                        f"sn: {user}\ncn: {user}\nmail: {user}@example.net\nuserPassword: {pw}\n")
        deadline = time.monotonic() + 10
        while True:
            r = subprocess.run(["ldapadd", "-x", "-H", f"ldap://127.0.0.1:{self.port}", "-D",
                                ADMIN_DN, "-w", ADMIN_PW], input="\n".join(ldif), text=True,
                               capture_output=True)
            if r.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"ldapadd failed: {r.stderr}")
            time.sleep(0.2)

    def stop(self):
        try:
            with open(self.pidfile) as f:
                os.kill(int(f.read()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def slapd(pg):
    for user, pw in USERS.items():
        pg.sql(f"DROP ROLE IF EXISTS {user}")
        pg.sql(f"CREATE ROLE {user} LOGIN PASSWORD '{pw}'")
    s = Slapd()
    s.start()
    yield s
    s.stop()


def simple_opts(s, port=None):
    return (f'ldapserver=127.0.0.1 ldapport={port or s.port} ldapprefix="uid=" '
            f'ldapsuffix=",{PEOPLE}"')


def ldap_lp(linkpool, s, opts, **ini):
    over = {"auth_type": "ldap", "auth_ldap_options": opts, "verbose": "2"}
    over.update(ini)
    return linkpool(over, env={"LDAPCONF": s.ldapconf})


def login(lp, user, password):
    c = lp.raw(timeout=20)
    c.login(user, "testdb", password)
    return c


@pytest.mark.parametrize("mode", ["simple", "search_attr", "search_filter", "search_anon",
                                  "url", "url_filter", "starttls", "ldaps"])
def test_ldap_modes(linkpool, slapd, mode):
    s = slapd
    opts = {
        "simple": simple_opts(s),
        "search_attr": (f'ldapserver=127.0.0.1 ldapport={s.port} ldapbasedn="{BASE}" '
                        f'ldapbinddn="{ADMIN_DN}" ldapbindpasswd="{ADMIN_PW}" '
                        "ldapsearchattribute=uid"),
        "search_filter": (f'ldapserver=127.0.0.1 ldapport={s.port} ldapbasedn="{BASE}" '
                          'ldapsearchfilter="(|(uid=$username)(mail=$username))"'),
        "search_anon": f'ldapserver=127.0.0.1 ldapport={s.port} ldapbasedn="{BASE}"',
        "url": f'ldapurl="ldap://127.0.0.1:{s.port}/{BASE}?uid?sub"',
        "url_filter": f'ldapurl="ldap://127.0.0.1:{s.port}/{BASE}??sub?(uid=$username)"',
        "starttls": simple_opts(s) + " ldaptls=1",
        "ldaps": f'ldapurl="ldaps://127.0.0.1:{s.ldaps_port}/{BASE}?uid?sub"',
    }[mode]
    lp = ldap_lp(linkpool, s, opts)
    c = login(lp, "ldap_alice", USERS["ldap_alice"])
    assert c.auth_requests[0] == 3          # AuthenticationCleartextPassword
    assert c.run("SELECT current_user")[0] == [("ldap_alice",)]
    c.close()
    # the proven password serves the next login's server connection too
    with psycopg.connect(lp.dsn(user="ldap_bob", password=USERS["ldap_bob"])) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("ldap_bob",)


def test_ldap_wrong_password_and_unknown_user_alike(linkpool, slapd):
    for opts in (simple_opts(slapd), f'ldapserver=127.0.0.1 ldapport={slapd.port} ldapbasedn="{BASE}"'):
        lp = ldap_lp(linkpool, slapd, opts)
        errors = []
        for user, pw in (("ldap_alice", "not-her-password"), ("nobody_here", "whatever-pw"),
                         ("ldap_alice", ""), ("a*)(uid=*", "x")):
            with pytest.raises(rawpg.PgError) as ei:
                login(lp, user, pw)
            errors.append((ei.value.sqlstate, ei.value.message.replace(user, "U")))
        assert errors == [("28P01", 'LDAP authentication failed for user "U"')] * 4
        assert "does not exist" in lp.log_text() or "Invalid credentials" in lp.log_text()
        lp.stop()


def test_ldap_server_down(linkpool, slapd):
    dead = free_port()
    lp = ldap_lp(linkpool, slapd, f'ldapserver=127.0.0.1 ldapport={dead} ldapprefix="uid=" '
                                  f'ldapsuffix=",{PEOPLE}"')
    t0 = time.monotonic()
    with pytest.raises(rawpg.PgError) as ei:
        login(lp, "ldap_alice", USERS["ldap_alice"])
    assert ei.value.sqlstate == "08006" and ei.value.message == "LDAP server unavailable"
    assert time.monotonic() - t0 < 5
    # TLS against a plain LDAP port fails the same way
    lp.write_ini({"auth_ldap_options": f'ldapurl="ldaps://127.0.0.1:{slapd.port}/{BASE}?uid?sub"'})
    lp.reload()
    time.sleep(0.5)
    with pytest.raises(rawpg.PgError) as ei:
        login(lp, "ldap_alice", USERS["ldap_alice"])
    assert ei.value.sqlstate == "08006"


def test_hba_ldap_line(linkpool, slapd, tmp_path):
    hba = tmp_path / "hba.conf"
    hba.write_text(f"host all ldap_alice 127.0.0.1/32 ldap {simple_opts(slapd)}\n"
                   f'host all ldap_bob 127.0.0.1/32 ldap ldapserver=127.0.0.1 "ldapport"={slapd.port} '
                   f'ldapbasedn="{BASE}" ,ldapsearchfilter="(uid=$username)"\n'
                   "host all all 127.0.0.1/32 md5\n")
    lp = linkpool({"auth_type": "hba", "auth_hba_file": str(hba)},
                  env={"LDAPCONF": slapd.ldapconf})
    for user in USERS:
        c = login(lp, user, USERS[user])
        assert c.auth_requests[0] == 3
        assert c.run("SELECT current_user")[0] == [(user,)]
    c = login(lp, "md5_user", "md5-secret-2")
    assert c.auth_requests[0] == 5
    with pytest.raises(rawpg.PgError) as ei:
        login(lp, "ldap_bob", "wrong")
    assert ei.value.sqlstate == "28P01"


def test_check_refuses_bad_ldap_options(tmp_path):
    ini = tmp_path / "bad.ini"
    ini.write_text("[databases]\nx = host=127.0.0.1\n[pgbouncer]\nauth_type = ldap\n"
                   'auth_ldap_options = ldapserver=h ldapprefix="uid=" ldapbasedn="dc=x"\n')
    r = subprocess.run([LINKPOOL_BIN, "--check", str(ini)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "bad.ini:5:" in r.stdout + r.stderr and "cannot be mixed" in r.stdout + r.stderr
    ini.write_text("[databases]\nx = host=127.0.0.1\n[pgbouncer]\nauth_type = ldap\n")
    r = subprocess.run([LINKPOOL_BIN, "--check", str(ini)], capture_output=True, text=True)
    assert r.returncode == 1 and "requires auth_ldap_options" in r.stdout + r.stderr
    hba = tmp_path / "hba.conf"
    hba.write_text("host all all 0.0.0.0/0 md5\nhost all all 0.0.0.0/0 ldap ldapserver=h ldapfoo=1\n")
    ini.write_text(f"[databases]\nx = host=127.0.0.1\n[pgbouncer]\nauth_type = hba\n"
                   f"auth_hba_file = {hba}\n")
    r = subprocess.run([LINKPOOL_BIN, "--check", str(ini)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "hba.conf:2:" in r.stdout + r.stderr and "unknown LDAP option" in r.stdout + r.stderr


class BlackHole:
    """Accepts TCP connections (the kernel's backlog) and never answers: an
    LDAP server that hangs."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.port = rawpg.bind_low_port(self.sock)
        self.sock.listen(512)

    def close(self):
        self.sock.close()


def test_client_leaves_while_check_runs_and_bound(linkpool, slapd):
    hole = BlackHole()
    try:
        lp = ldap_lp(linkpool, slapd, f'ldapserver=127.0.0.1 ldapport={hole.port} '
                                      f'ldapprefix="uid=" ldapsuffix=",{PEOPLE}"',
                     max_client_conn="300")
        # 64 checks in flight (4 running, 60 queued, all waiting on nobody)
        held = []
        for _ in range(64):
            c = lp.raw(timeout=20)
            c.send(rawpg.startup("ldap_alice", "testdb"))
            mtype, body = c.recv_msg()
            assert mtype == "R" and body[:4] == b"\x00\x00\x00\x03"
            c.send(rawpg.password_message(rawpg.cstr("some-password-9")))
            held.append(c)
        time.sleep(0.5)
        with pytest.raises(rawpg.PgError) as ei:
            login(lp, "ldap_alice", "x")
        assert ei.value.sqlstate == "53300"
        # they leave while their checks run: the answers are dropped later
        for c in held:
            c.close(abort=True)
        # the pooler still answers meanwhile (the loop never waits on LDAP)
        t0 = time.monotonic()
        with lp.raw(timeout=2) as c:
            c.send(struct.pack("!II", 8, rawpg.SSL_REQUEST_CODE))
            assert c.recv_bytes(1) == b"N"
        assert time.monotonic() - t0 < 2
        # the first answers (LDAP timeout) come back to clients that left
        lp.wait_log("answered after its client left", timeout=20)
    finally:
        hole.close()


def test_password_not_in_log(linkpool, slapd):
    lp = ldap_lp(linkpool, slapd,
                 f'ldapserver=127.0.0.1 ldapport={slapd.port} ldapbasedn="{BASE}" '
                 f'ldapbinddn="{ADMIN_DN}" ldapbindpasswd="{ADMIN_PW}"', verbose="3")
    login(lp, "ldap_alice", USERS["ldap_alice"]).close()
    with pytest.raises(rawpg.PgError):
        login(lp, "ldap_bob", "bobs-wrong-password-5")
    text = lp.output_text()
    for secret in (USERS["ldap_alice"], "bobs-wrong-password-5", ADMIN_PW):
        assert secret not in text
    assert "LDAP authentication failed" in text


def test_bind_password_not_in_log_or_errors(linkpool, slapd, tmp_path):
    lp = linkpool({"verbose": "2"})
    good = (f'ldapserver=127.0.0.1 ldapport={slapd.port} ldapbasedn="{BASE}" '
            f'ldapbinddn="{ADMIN_DN}" ldapbindpasswd="{ADMIN_PW}"')
    lp.admin(f"SET auth_ldap_options = '{good}'")
    with pytest.raises(psycopg.Error) as ei:
        lp.admin(f"SET auth_ldap_options = '{good} ldapprefix=x'")
    assert "cannot be mixed" in str(ei.value) and ADMIN_PW not in str(ei.value)
    # a bad value in the file: --check names the line, not the password
    ini = tmp_path / "bad.ini"
    ini.write_text(f"[databases]\n[pgbouncer]\nauth_ldap_options = {good} ldapfoo=1\n")
    r = subprocess.run([LINKPOOL_BIN, "--check", str(ini)], capture_output=True, text=True)
    assert r.returncode == 1 and "bad.ini:3:" in r.stdout + r.stderr
    assert ADMIN_PW not in r.stdout + r.stderr
    assert ADMIN_PW not in lp.output_text()
