"""Malformed SCRAM messages, from clients and from a fake server: each one is
answered with an error (no crash, no hang; ASan runs in CI) and the pooler
keeps serving."""

import struct

import psycopg
import pytest

import rawpg


def sasl_initial(data, mech="SCRAM-SHA-256"):
    return rawpg.password_message(rawpg.cstr(mech) + struct.pack("!i", len(data)) + data)


def expect_error(c):
    while True:
        mtype, body = c.recv_msg()
        if mtype == "E":
            return rawpg.parse_error_fields(body)
        assert mtype == "R", f"unexpected {mtype}"


FIRST_CASES = {
    "long_nonce": b"n,,n=,r=" + b"x" * 2000,
    "missing_nonce": b"n,,n=",
    "empty": b"",
    "no_gs2": b"n=,r=abc",
    "authzid": b"n,a=admin,n=,r=abc",
    "cbind_without_plus": b"p=tls-server-end-point,,n=,r=abc",
    "bad_nonce_chars": b"n,,n=,r=ab,c\x01",
    "nul_inside": b"n,,n=,r=ab\x00cd",
    "huge": b"n,,n=,r=" + b"y" * 5000,
}


@pytest.fixture
def scram_lp(linkpool):
    return linkpool({"auth_type": "scram-sha-256"})


@pytest.mark.parametrize("case", sorted(FIRST_CASES))
def test_client_first_malformed(scram_lp, case):
    c = scram_lp.raw()
    c.send(rawpg.startup("scram_user", "testdb"))
    mtype, body = c.recv_msg()
    assert mtype == "R" and struct.unpack("!I", body[:4])[0] == 10
    c.send(sasl_initial(FIRST_CASES[case]))
    f = expect_error(c)
    assert f["C"] in ("08P01", "28000", "28P01")
    with scram_lp.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


FINAL_CASES = {
    "no_proof": lambda r: f"c=biws,r={r}".encode(),
    "wrong_nonce": lambda r: b"c=biws,r=zzz,p=" + b"A" * 44,
    "bad_cbind": lambda r: f"c=eSws,r={r},p=".encode() + b"A" * 44,
    "short_proof": lambda r: f"c=biws,r={r},p=AAAA".encode(),
    "garbage_after": lambda r: f"c=biws,r={r},p=".encode() + b"A" * 43 + b"=,x=1",
    "long": lambda r: b"c=biws,r=" + b"q" * 3000,
}


@pytest.mark.parametrize("case", sorted(FINAL_CASES))
def test_client_final_malformed(scram_lp, case):
    c = scram_lp.raw()
    c.send(rawpg.startup("scram_user", "testdb"))
    c.recv_msg()
    c.send(sasl_initial(b"n,,n=,r=clientnonce123"))
    mtype, body = c.recv_msg()
    assert mtype == "R" and struct.unpack("!I", body[:4])[0] == 11
    attrs = dict(kv.split("=", 1) for kv in body[4:].decode().split(","))
    c.send(rawpg.password_message(FINAL_CASES[case](attrs["r"])))
    f = expect_error(c)
    assert f["C"] in ("08P01", "28P01")
    with scram_lp.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


class FakeScramServer(rawpg.FakeServer):
    """Speaks just enough of PostgreSQL to send a chosen server-first-message."""

    def __init__(self, make_server_first):
        self.make = make_server_first
        super().__init__()

    def handle(self, c):
        (n,) = struct.unpack("!I", rawpg.recv_exact(c, 4))
        rawpg.recv_exact(c, n - 4)                       # startup packet
        c.sendall(rawpg.msg("R", struct.pack("!I", 10) + b"SCRAM-SHA-256\x00\x00"))
        hdr = rawpg.recv_exact(c, 5)
        body = rawpg.recv_exact(c, struct.unpack("!I", hdr[1:])[0] - 4)
        first = body.split(b"\x00", 1)[1][4:].decode()
        nonce = first.split("r=", 1)[1]
        c.sendall(rawpg.msg("R", struct.pack("!I", 11) + self.make(nonce)))
        c.recv(100)


SERVER_FIRST = {
    "long_nonce": lambda n: f"r={n}{'x' * 300},s=AAECAwQFBgcICQoLDA0ODw==,i=4096".encode(),
    "huge_message": lambda n: f"r={n}{'x' * 5000},s=QUJD,i=4096".encode(),
    "iter_zero": lambda n: f"r={n}abc,s=AAECAwQFBgcICQoLDA0ODw==,i=0".encode(),
    "iter_huge": lambda n: f"r={n}abc,s=AAECAwQFBgcICQoLDA0ODw==,i=99999999999".encode(),
    "iter_negative": lambda n: f"r={n}abc,s=AAECAwQFBgcICQoLDA0ODw==,i=-1".encode(),
    "missing_salt": lambda n: f"r={n}abc,i=4096".encode(),
    "missing_iter": lambda n: f"r={n}abc,s=AAECAwQFBgcICQoLDA0ODw==".encode(),
    "foreign_nonce": lambda n: b"r=notours,s=AAECAwQFBgcICQoLDA0ODw==,i=4096",
    "bad_salt": lambda n: f"r={n}abc,s=!!!,i=4096".encode(),
    "empty": lambda n: b"",
}


@pytest.mark.parametrize("case", sorted(SERVER_FIRST))
def test_server_first_malformed(linkpool, case):
    fake = FakeScramServer(SERVER_FIRST[case])
    try:
        lp = linkpool({"server_tls_sslmode": "disable", "auth_type": "scram-sha-256"},
                      databases={"fake": f"host=127.0.0.1 port={fake.port} dbname=x"})
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(lp.dsn("scram_user", "fake"))
        lp.wait_log("server login failed")
        with lp.connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        fake.close()
