"""Login packets larger than pkt_buf.

PostgreSQL takes startup packets up to 10,000 bytes, and PgBouncer documents
that packets may be longer than pkt_buf. A login packet longer than the
buffer (a startup packet with long options, a long cleartext password) is
read apart and served; only what PostgreSQL itself would refuse (a startup
packet over 10,000 bytes) or what no auth_file secret can match (a password
over 65,535 bytes) gets a clear ErrorResponse (08P01) before the close,
never "message framing broken" and a reset.
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


def _refused(lp, *packets, answers=0, sqlstate="08P01"):
    """Sends packets (reading `answers` messages after the first); returns the
    message of the ErrorResponse (sqlstate) that must follow."""
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
    assert res.sqlstate == sqlstate
    return res.message


def _served(lp, pkt, n):
    """pkt (a startup packet of scram_user) logs in and runs a query."""
    c = rawpg.RawConn(lp.host, lp.port, timeout=5)
    try:
        c.send(pkt)
        c.finish_login("scram_user", PASSWORDS["scram_user"])
        assert c.run(f"SELECT {n}")[0] == [(str(n),)]
    finally:
        c.close()


def test_startup_packet_larger_than_pkt_buf(linkpool):
    lp = linkpool({"ignore_startup_parameters": "options"})  # pkt_buf 4096
    pkt = _startup_of(9000)
    assert len(pkt) == 9000
    _served(lp, pkt, 1)
    # the same with pkt_buf below linkpool's smallest buffer (raised to 512)
    lp = linkpool({"pkt_buf": "75", "ignore_startup_parameters": "options"})
    _served(lp, _startup_of(2000), 3)


def test_startup_packet_that_fits_pkt_buf_is_served(linkpool):
    lp = linkpool({"pkt_buf": "8192", "ignore_startup_parameters": "options"})
    _served(lp, _startup_of(8000), 2)


def test_startup_packet_larger_than_pkt_buf_is_served(linkpool):
    """Legal for PostgreSQL and PgBouncer: before, linkpool refused it
    ("startup packet too long (9000 bytes, pkt_buf is 4096)")."""
    lp = linkpool({"ignore_startup_parameters": "x"})   # pkt_buf 4096
    for size in (4097, 9000, 10000):
        pkt = _startup_of(size)
        assert len(pkt) == size
        _served(lp, pkt, size)
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


def test_startup_packet_over_postgres_limit(linkpool):
    """Over PostgreSQL's 10,000 bytes: PostgreSQL's words, as before."""
    lp = linkpool()
    assert _refused(lp, _startup_of(10001)[:4096]) == "invalid length of startup packet"


def test_password_message_larger_than_pkt_buf(linkpool, pg):
    """The sibling in the authentication phase: a cleartext password longer
    than pkt_buf is read whole and checked (here pkt_buf 512)."""
    long_pw = "p" * 3000
    lp = linkpool({"pkt_buf": "512", "auth_type": "plain"},
                  userlist=[("plain_user", PASSWORDS["plain_user"]), ("trust_user", long_pw)])
    # a wrong one is refused as any wrong password...
    msg = _refused(lp, rawpg.startup("plain_user", "testdb"),
                   rawpg.password_message(rawpg.cstr(long_pw)), answers=1, sqlstate="28P01")
    assert msg == 'password authentication failed for user "plain_user"'
    # ...a right one logs in (trust_user: PostgreSQL trusts it)
    c = rawpg.RawConn(lp.host, lp.port, timeout=5)
    try:
        c.login("trust_user", "testdb", long_pw)
        assert c.run("SELECT 4")[0] == [("4",)]
    finally:
        c.close()
    # over the longest secret auth_file can hold: refused before it is read
    msg = _refused(lp, rawpg.startup("plain_user", "testdb"),
                   rawpg.password_message(rawpg.cstr("p" * 70000))[:4096], answers=1)
    assert msg == "authentication message too long (70006 bytes, at most 65541)"
