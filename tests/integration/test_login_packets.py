"""Login packets and pkt_buf.

PostgreSQL takes startup packets up to 10,000 bytes and so does PgBouncer,
whatever its pkt_buf: linkpool reads one longer than pkt_buf into a buffer of
its own size (given back once the packet is consumed). Beyond PostgreSQL's
limit the login ends with PostgreSQL's words. Authentication messages that can
never fit pkt_buf get a clear ErrorResponse (08P01) before the close, not
"message framing broken" and a reset.
"""

import rawpg

from conftest import PASSWORDS


def _startup_of(total):
    """A valid v3 startup packet of exactly `total` bytes, padded with an
    options item ("-c x=...") that ignore_startup_parameters drops."""
    base = rawpg.startup("scram_user", "testdb", options="-c x=")
    pad = total - len(base)
    assert pad > 0
    return rawpg.startup("scram_user", "testdb", options="-c x=" + "x" * pad)


def _refused(lp, *packets, answers=0):
    """Sends packets (reading `answers` messages after the first); returns the
    message of the 08P01 ErrorResponse that must follow."""
    c = rawpg.RawConn(lp.host, lp.port, timeout=5)
    try:
        c.send(packets[0])
        for _ in range(answers):
            c.recv_msg()
        for p in packets[1:]:
            c.send(p)
        res = c.error_or_close(timeout=5)
    finally:
        c.close()
    assert isinstance(res, rawpg.PgError), res
    assert res.sqlstate == "08P01"
    return res.message


def _served(lp, packet):
    c = rawpg.RawConn(lp.host, lp.port, timeout=5)
    try:
        c.send(packet)
        c.finish_login("scram_user", PASSWORDS["scram_user"])
        assert c.run("SELECT 2")[0] == [("2",)]
    finally:
        c.close()


def test_startup_packet_larger_than_pkt_buf_is_served(linkpool):
    """Legal for PostgreSQL and PgBouncer: before, linkpool refused it
    ("startup packet too long (9000 bytes, pkt_buf is 4096)")."""
    lp = linkpool({"ignore_startup_parameters": "x"})   # pkt_buf 4096
    for size in (4097, 9000, 10000):
        pkt = _startup_of(size)
        assert len(pkt) == size
        _served(lp, pkt)
    # The same, trickled in pieces smaller than pkt_buf: the packet is
    # assembled across reads.
    c = rawpg.RawConn(lp.host, lp.port, timeout=5)
    try:
        pkt = _startup_of(9000)
        for i in range(0, len(pkt), 1000):
            c.send(pkt[i:i + 1000])
        c.finish_login("scram_user", PASSWORDS["scram_user"])
        assert c.run("SELECT 3")[0] == [("3",)]
    finally:
        c.close()


def test_startup_packet_that_fits_pkt_buf_is_served(linkpool):
    lp = linkpool({"pkt_buf": "8192", "ignore_startup_parameters": "options"})
    _served(lp, _startup_of(8000))


def test_startup_packet_over_postgres_limit(linkpool):
    """Over PostgreSQL's 10,000 bytes: PostgreSQL's words, as before."""
    lp = linkpool()
    assert _refused(lp, _startup_of(10001)[:4096]) == "invalid length of startup packet"


def test_password_message_larger_than_pkt_buf(linkpool):
    """The sibling in the authentication phase: a password message that can
    never fit pkt_buf (here a 3,000-byte cleartext password with pkt_buf 512)."""
    lp = linkpool({"pkt_buf": "512", "auth_type": "plain"})
    msg = _refused(lp, rawpg.startup("plain_user", "testdb"),
                   rawpg.password_message(rawpg.cstr("p" * 3000)), answers=1)
    assert msg == "authentication message too long (3006 bytes, pkt_buf is 512)"
