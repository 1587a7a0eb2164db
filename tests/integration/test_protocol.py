"""Malformed and unusual protocol input via raw sockets.

Every bad input must be answered with an ErrorResponse or a close, and a
normal client connected alongside must keep working."""

import struct

import pytest

import rawpg
from conftest import PASSWORDS


@pytest.fixture
def lp_and_bystander(linkpool):
    lp = linkpool({"max_packet_size": "10000"})
    bystander = lp.connect()
    assert bystander.execute("SELECT 1").fetchone() == (1,)
    yield lp, bystander
    assert bystander.execute("SELECT 'still here'").fetchone() == ("still here",)


def _rejected(conn, timeout=5):
    res = conn.error_or_close(timeout)
    assert res == "closed" or isinstance(res, rawpg.PgError)
    return res


def _pkt(body):
    """An untyped (startup-style) packet with a correct length word."""
    return struct.pack("!I", len(body) + 4) + body


V3 = struct.pack("!I", rawpg.PROTO_3_0)

BAD_STARTUPS = {
    "length_3": struct.pack("!I", 3) + b"\x00\x03\x00",
    "length_0": struct.pack("!I", 0),
    "length_100000": struct.pack("!II", 100000, rawpg.PROTO_3_0),
    "length_2G": struct.pack("!II", 0x7FFFFFFF, rawpg.PROTO_3_0),
    "http_garbage": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "binary_garbage": bytes(range(256)) * 4,
    "unterminated_params": _pkt(V3 + b"user\x00scram_user"),
    "no_user": _pkt(V3 + b"database\x00testdb\x00\x00"),
    "odd_param_count": _pkt(V3 + b"user\x00scram_user\x00database\x00\x00"),
}


@pytest.mark.parametrize("name", sorted(BAD_STARTUPS))
def test_bad_startup(lp_and_bystander, name):
    lp, _ = lp_and_bystander
    c = lp.raw()
    c.send(BAD_STARTUPS[name])
    _rejected(c)


def test_protocol_2_gets_error(lp_and_bystander):
    lp, _ = lp_and_bystander
    c = lp.raw()
    c.send(rawpg.startup("scram_user", "testdb", protocol=rawpg.PROTO_2_0))
    res = _rejected(c)
    assert isinstance(res, rawpg.PgError), "protocol 2.0 should get an ErrorResponse"


def test_truncated_packet_then_close(lp_and_bystander):
    lp, _ = lp_and_bystander
    for cut in (1, 4, 9, 20):
        c = lp.raw()
        c.send(rawpg.startup("scram_user", "testdb")[:cut])
        c.close()
    # truncated typed message mid-session
    c = lp.raw_login()
    c.send(rawpg.query("SELECT 1")[:7])
    c.close()
    c = lp.raw_login()
    c.send(rawpg.query("SELECT 1")[:7])
    c.close(abort=True)


def test_oversized_message(lp_and_bystander):
    lp, _ = lp_and_bystander
    c = lp.raw_login()
    big = "SELECT '" + "x" * 20000 + "'"
    try:
        c.send(rawpg.query(big))
    except (BrokenPipeError, ConnectionResetError):
        pytest.fail("closed without an ErrorResponse")
    res = c.error_or_close(5)
    assert isinstance(res, rawpg.PgError), "oversized message should get an ErrorResponse"
    assert res.sqlstate == "08P01", res


def test_oversized_length_word_only(lp_and_bystander):
    """The length word alone must be enough to reject; linkpool must not wait for the body."""
    lp, _ = lp_and_bystander
    c = lp.raw_login()
    c.send(b"Q" + struct.pack("!I", 50_000_000))
    _rejected(c)


@pytest.mark.parametrize("payload", [
    rawpg.msg(b"\xff"),
    rawpg.msg("Y", b"abc"),
    b"Q" + struct.pack("!I", 2),       # length below 4
    b"Q" + struct.pack("!I", 0),
])
def test_bad_message_mid_session(lp_and_bystander, payload):
    lp, _ = lp_and_bystander
    c = lp.raw_login()
    c.send(payload)
    _rejected(c)


def test_ssl_request_then_startup(lp_and_bystander):
    lp, _ = lp_and_bystander
    c = lp.raw()
    c.send(rawpg.ssl_request())
    assert c.recv_bytes(1) == b"N"
    c.login("scram_user", "testdb", PASSWORDS["scram_user"])
    assert c.run("SELECT 7")[0] == [("7",)]


def test_protocol_3_1_negotiated(lp_and_bystander):
    lp, _ = lp_and_bystander
    c = lp.raw()
    c.login("scram_user", "testdb", PASSWORDS["scram_user"], protocol=rawpg.PROTO_3_1)
    assert getattr(c, "negotiated_minor", None) is not None, "no NegotiateProtocolVersion"
    assert c.negotiated_minor & 0xFFFF == 0
    assert c.run("SELECT 8")[0] == [("8",)]


def test_many_bad_clients_in_a_row(lp_and_bystander):
    lp, bystander = lp_and_bystander
    for i in range(50):
        c = lp.raw()
        c.send(BAD_STARTUPS[sorted(BAD_STARTUPS)[i % len(BAD_STARTUPS)]])
        c.close(abort=bool(i % 2))
    assert bystander.execute("SELECT 1").fetchone() == (1,)
    c = lp.raw_login()
    assert c.run("SELECT 9")[0] == [("9",)]
