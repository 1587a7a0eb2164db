"""TLS on both sides: server_tls_sslmode against PostgreSQL with and without
ssl=on, client_tls_sslmode against libpq sslmode values, certificate
authentication, channel binding, RELOAD of certificates, and bytes injected
around the SSLRequest answer in both directions."""

import socket
import ssl
import struct
import tempfile

import psycopg
import pytest

import rawpg
from conftest import PASSWORDS
from tlscerts import Certs

SSLMODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


@pytest.fixture(scope="session")
def certs():
    d = tempfile.mkdtemp(prefix="lp-certs-")
    return Certs(d)


class PgSsl:
    def __init__(self, pg, certs):
        self.pg, self.certs = pg, certs

    def use(self, name):
        files = self.certs.copy_for_postgres(name, self.pg.base)
        self.pg.sql(f"ALTER SYSTEM SET ssl_cert_file = '{files['crt']}'")
        self.pg.sql(f"ALTER SYSTEM SET ssl_key_file = '{files['key']}'")
        self.pg.sql("ALTER SYSTEM SET ssl = on")
        self.pg.sql("SELECT pg_reload_conf()")
        # the reload is asynchronous: wait until a TLS login works
        import conftest
        conftest.wait_for(lambda: psycopg.connect(self.pg.dsn().replace("sslmode=disable", "sslmode=require")).close() or True,
                          timeout=10, what="PostgreSQL ssl=on")

    def off(self):
        for k in ("ssl", "ssl_cert_file", "ssl_key_file"):
            self.pg.sql(f"ALTER SYSTEM RESET {k}")
        self.pg.sql("SELECT pg_reload_conf()")


@pytest.fixture
def pg_ssl(pg, certs):
    s = PgSsl(pg, certs)
    s.use("server")
    yield s
    s.off()


def server_ssl(lp):
    with lp.connect() as conn:
        return conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0]


def server_ini(certs, mode, ca="ca.crt"):
    return {"server_tls_sslmode": mode, "server_tls_ca_file": certs.path(ca)}


# ---------------------------------------------------------------- server side

@pytest.mark.parametrize("mode", SSLMODES)
def test_server_sslmode_pg_without_ssl(linkpool, certs, mode):
    lp = linkpool(server_ini(certs, mode))
    if mode in ("disable", "allow", "prefer"):
        assert server_ssl(lp) is False
    else:
        with pytest.raises(psycopg.OperationalError, match="SSL was required"):
            lp.connect()


@pytest.mark.parametrize("mode", SSLMODES)
def test_server_sslmode_pg_with_ssl(linkpool, certs, pg_ssl, mode):
    lp = linkpool(server_ini(certs, mode))
    assert server_ssl(lp) is (mode != "disable")


def test_server_verify_full_wrong_host_fails(linkpool, certs, pg_ssl):
    pg_ssl.use("wronghost")
    lp = linkpool(server_ini(certs, "verify-full"))
    with pytest.raises(psycopg.OperationalError, match="mismatch"):
        lp.connect()
    # the same certificate is fine when only the CA is checked
    lp2 = linkpool(server_ini(certs, "verify-ca"))
    assert server_ssl(lp2) is True


def test_server_verify_ca_untrusted_fails(linkpool, certs, pg_ssl):
    lp = linkpool(server_ini(certs, "verify-ca", ca="otherca.crt"))
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        lp.connect()


class FakeServer(rawpg.FakeServer):
    """Answers the SSLRequest with 'S' followed by bytes in clear."""

    def __init__(self, reply):
        self.reply = reply
        self.got = []
        super().__init__()

    def handle(self, c):
        self.got.append(c.recv(8))
        c.sendall(self.reply)
        c.recv(100)   # until linkpool hangs up


def test_server_bytes_after_ssl_answer_refused(linkpool):
    # 'S' then what would look like a plaintext AuthenticationOk + ReadyForQuery
    fake = FakeServer(b"S" + rawpg.msg("R", struct.pack("!I", 0)) + rawpg.msg("Z", b"I"))
    try:
        lp = linkpool({"server_tls_sslmode": "prefer"},
                      databases={"fake": f"host=127.0.0.1 port={fake.port} dbname=x"})
        with pytest.raises(psycopg.OperationalError, match="unencrypted data"):
            psycopg.connect(lp.dsn("scram_user", "fake"))
        assert fake.got and fake.got[0] == rawpg.ssl_request()
    finally:
        fake.close()


# ---------------------------------------------------------------- client side

def client_ini(certs, mode, cert="server"):
    return {"client_tls_sslmode": mode, "client_tls_cert_file": certs.path(f"{cert}.crt"),
            "client_tls_key_file": certs.path(f"{cert}.key"), "client_tls_ca_file": certs.path("ca.crt")}


def client_connect(lp, certs, sslmode, client_cert=None, user="scram_user", **extra):
    dsn = lp.dsn(user).replace("sslmode=disable", f"sslmode={sslmode}")
    dsn += f" sslrootcert={certs.path('ca.crt')}"
    if client_cert:
        dsn += f" sslcert={certs.path(client_cert + '.crt')} sslkey={certs.path(client_cert + '.key')}"
    else:
        # never pick up ~/.postgresql/postgresql.crt
        dsn += " sslcert=/nonexistent/none.crt sslkey=/nonexistent/none.key"
    for k, v in extra.items():
        dsn += f" {k}={v}"
    conn = psycopg.connect(dsn, autocommit=True)
    lp._conns.append(conn)
    return conn


# (linkpool mode, libpq sslmode, client certificate) -> True: TLS, False: plain, None: refused
CLIENT_CASES = [
    ("disable", "disable", None, False), ("disable", "prefer", None, False),
    ("disable", "require", None, None),
    ("allow", "disable", None, False), ("allow", "require", None, True),
    ("prefer", "disable", None, False), ("prefer", "prefer", None, True),
    ("prefer", "verify-full", None, True),
    ("require", "disable", None, None), ("require", "prefer", None, True),
    ("require", "verify-ca", None, True),
    ("verify-ca", "require", None, None), ("verify-ca", "require", "client_scram_user", True),
    ("verify-ca", "require", "client_untrusted", None),
    ("verify-full", "verify-full", "client_scram_user", True),
    ("verify-full", "verify-full", None, None),
]


@pytest.mark.parametrize("mode,sslmode,cert,expect", CLIENT_CASES)
def test_client_sslmode(linkpool, certs, mode, sslmode, cert, expect):
    lp = linkpool(client_ini(certs, mode))
    if expect is None:
        with pytest.raises(psycopg.OperationalError):
            client_connect(lp, certs, sslmode, cert)
        return
    conn = client_connect(lp, certs, sslmode, cert)
    assert bool(conn.pgconn.ssl_in_use) is expect
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_client_wrong_host_cert_and_reload(linkpool, certs):
    lp = linkpool(client_ini(certs, "prefer", cert="wronghost"))
    with pytest.raises(psycopg.OperationalError, match="(?i)server certificate|does not match"):
        client_connect(lp, certs, "verify-full")
    kept = client_connect(lp, certs, "verify-ca")          # CA is right, name is not checked
    assert kept.pgconn.ssl_in_use
    # RELOAD re-reads the certificate: new connections get the right one
    lp.write_ini(client_ini(certs, "prefer", cert="server"))
    lp.reload()
    lp.wait_log("configuration reloaded")
    conn = client_connect(lp, certs, "verify-full")
    assert conn.execute("SELECT 1").fetchone() == (1,)
    # the connection made before the reload is still up
    assert kept.execute("SELECT 2").fetchone() == (2,)


def test_client_bad_cert_reload_keeps_old(linkpool, certs, tmp_path):
    lp = linkpool(client_ini(certs, "prefer"))
    bad = client_ini(certs, "prefer")
    bad["client_tls_key_file"] = str(tmp_path / "missing.key")
    lp.write_ini(bad)
    lp.reload()
    lp.wait_log("reload failed: keeping the running configuration")
    conn = client_connect(lp, certs, "verify-full")
    assert conn.pgconn.ssl_in_use


def test_client_bytes_after_sslrequest_closed(linkpool, certs):
    lp = linkpool(client_ini(certs, "prefer"))
    s = socket.create_connection((lp.host, lp.port), timeout=5)
    try:
        # SSLRequest and, without waiting for the answer, a startup packet
        s.sendall(rawpg.ssl_request() + rawpg.startup("scram_user", "testdb"))
        data = b""
        while True:
            chunk = s.recv(100)
            if not chunk:
                break
            data += chunk
        assert data == b"", "no 'S' and nothing interpreted: the connection is just closed"
    finally:
        s.close()
    with lp.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_cert_auth(linkpool, certs):
    lp = linkpool({**client_ini(certs, "verify-full"), "auth_type": "cert"})
    conn = client_connect(lp, certs, "verify-full", "client_scram_user")
    assert conn.execute("SELECT current_user").fetchone() == ("scram_user",)
    with pytest.raises(psycopg.OperationalError, match="certificate authentication failed"):
        client_connect(lp, certs, "verify-full", "client_scram_user", user="md5_user")


def test_scram_channel_binding(linkpool, certs):
    lp = linkpool({**client_ini(certs, "require"), "auth_type": "scram-sha-256"})
    conn = client_connect(lp, certs, "require", channel_binding="require")
    assert conn.execute("SELECT current_user").fetchone() == ("scram_user",)
    with pytest.raises(psycopg.OperationalError, match="SASL authentication failed"):
        client_connect(lp, certs, "require", channel_binding="require", password="wrong")
    # also with a verifier in the auth_file (pass-through keys learnt over TLS)
    lp.close_clients()


def test_hba_hostssl_cert(linkpool, certs, tmp_path):
    hba = tmp_path / "hba.conf"
    hba.write_text("hostssl all all 127.0.0.1/32 cert\nhost all all 127.0.0.1/32 reject\n")
    lp = linkpool({**client_ini(certs, "prefer"), "auth_type": "hba", "auth_hba_file": str(hba)})
    conn = client_connect(lp, certs, "require", "client_scram_user")
    assert conn.execute("SELECT current_user").fetchone() == ("scram_user",)
    with pytest.raises(psycopg.OperationalError, match="rejects connection"):
        client_connect(lp, certs, "disable", "client_scram_user")
    with pytest.raises(psycopg.OperationalError, match="certificate authentication failed"):
        client_connect(lp, certs, "require")


def _raw_tls(lp, certs):
    import ssl
    c = lp.raw()
    c.send(rawpg.ssl_request())
    assert c.sock.recv(1) == b"S"
    ctx = ssl.create_default_context(cafile=certs.path("ca.crt"))
    c.sock = ctx.wrap_socket(c.sock, server_hostname="127.0.0.1")
    return c


@pytest.mark.parametrize("first,mech,err", [
    # client says "I could bind but you cannot" although PLUS was offered: a downgrade
    (b"y,,n=,r=abcdef", "SCRAM-SHA-256", "channel binding negotiation error"),
    # PLUS chosen but no binding sent, and an unknown binding type
    (b"n,,n=,r=abcdef", "SCRAM-SHA-256-PLUS", "without channel binding"),
    (b"p=tls-unique,,n=,r=abcdef", "SCRAM-SHA-256-PLUS", "unsupported SCRAM channel binding"),
])
def test_scram_channel_binding_misuse(linkpool, certs, first, mech, err):
    lp = linkpool({**client_ini(certs, "require"), "auth_type": "scram-sha-256"})
    c = _raw_tls(lp, certs)
    c.send(rawpg.startup("scram_user", "testdb"))
    mtype, body = c.recv_msg()
    assert mtype == "R" and b"SCRAM-SHA-256-PLUS" in body
    c.send(rawpg.password_message(rawpg.cstr(mech) + struct.pack("!i", len(first)) + first))
    mtype, body = c.recv_msg()
    assert mtype == "E" and err in rawpg.parse_error_fields(body)["M"]


def test_bulk_data_both_sides_tls(linkpool, certs, pg_ssl):
    """Large results and COPY through TLS on both legs: decrypted bytes that
    OpenSSL still holds must be read without waiting for a socket event."""
    ini = dict(server_ini(certs, "require"))
    ini.update(client_ini(certs, "require"))
    ini["pool_mode"] = "transaction"
    lp = linkpool(ini)
    conn = client_connect(lp, certs, "require")
    for _ in range(3):
        n = conn.execute("SELECT sum(length(x)) FROM (SELECT repeat('y', 1000 + g % 7) AS x "
                         "FROM generate_series(1, 20000) g) s").fetchone()[0]
        assert n == sum(1000 + g % 7 for g in range(1, 20001))
        rows = conn.execute("SELECT g, repeat('z', 3000) FROM generate_series(1, 3000) g").fetchall()
        assert len(rows) == 3000 and rows[-1][0] == 3000 and len(rows[-1][1]) == 3000
    big = conn.execute("SELECT repeat('q', 20000000)").fetchone()[0]
    assert len(big) == 20000000
    with conn.cursor() as cur:
        with cur.copy("COPY (SELECT g, md5(g::text) FROM generate_series(1, 50000) g) TO STDOUT") as cp:
            got = b"".join(bytes(d) for d in cp)
    assert got.count(b"\n") == 50000


# PostgreSQL 17's sslnegotiation=direct (PgBouncer 1.25): the client opens
# with a TLS ClientHello, no SSLRequest. Debian 12's libpq is 15, so the
# client here is Python's ssl over rawpg's framing.

def direct_tls(lp, certs, alpn):
    c = rawpg.RawConn(lp.host, lp.port, timeout=5)
    ctx = ssl.create_default_context(cafile=certs.path("ca.crt"))
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
    lp._conns.append(c)
    return c


def test_client_direct_tls(linkpool, certs):
    lp = linkpool(client_ini(certs, "require"))
    c = direct_tls(lp, certs, ["postgresql"])
    assert c.sock.selected_alpn_protocol() == "postgresql"
    c.login("scram_user", "testdb", PASSWORDS["scram_user"])
    assert c.run("SELECT current_user")[0] == [("scram_user",)]
    # without ALPN: PostgreSQL 17's refusal, inside the TLS session
    c = direct_tls(lp, certs, None)
    c.send(rawpg.startup("scram_user", "testdb"))
    err = c.error_or_close(timeout=5)
    assert isinstance(err, rawpg.PgError), err
    assert err.message == ("received direct SSL connection request without ALPN protocol "
                           "negotiation extension")
    # another protocol offered: the handshake itself fails
    with pytest.raises(ssl.SSLError):
        direct_tls(lp, certs, ["http/1.1"])
    # the SSLRequest way goes on as before
    conn = client_connect(lp, certs, "require")
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_client_direct_tls_when_tls_is_off(linkpool, certs):
    """No client TLS configured: a ClientHello is no startup packet (refused,
    as PostgreSQL refuses it), and the pooler goes on serving."""
    lp = linkpool()
    with pytest.raises((ssl.SSLError, OSError, rawpg.Closed)):
        direct_tls(lp, certs, ["postgresql"])
    with lp.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
