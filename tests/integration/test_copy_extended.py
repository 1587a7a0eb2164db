"""COPY FROM STDIN started over the extended protocol, as libpq's
PQexecParams does: the client sends Parse/Bind/Execute/Sync, gets
CopyInResponse, streams CopyData, then CopyDone and a second Sync.
PostgreSQL ignores the Sync that arrives during copy-in and answers only the
last one; linkpool must count the same way, or in transaction mode it would
keep the server forever (or take a real answer for an unasked one)."""

import struct

from rawpg import msg, sync


def _extended_copy(conn, rows):
    parse = msg("P", b"\0" + b"COPY xcopy FROM STDIN\0" + struct.pack("!H", 0))
    bind = msg("B", b"\0\0" + struct.pack("!HHH", 0, 0, 0))
    execute = msg("E", b"\0" + struct.pack("!I", 0))
    conn.send(parse + bind + execute + sync())
    seen = []
    while True:
        mtype, _ = conn.recv_msg(timeout=5)
        seen.append(mtype)
        if mtype == "G":
            break
        assert mtype in ("1", "2"), seen
    data = "".join(f"{i}\n" for i in rows).encode()
    conn.send(msg("d", data) + msg("c") + sync())
    while True:
        mtype, _ = conn.recv_msg(timeout=5)
        seen.append(mtype)
        if mtype == "Z":
            return seen


def test_copy_in_over_extended_protocol(linkpool, pg):
    pg.sql("DROP TABLE IF EXISTS xcopy; CREATE TABLE xcopy (v int); "
           "GRANT ALL ON xcopy TO PUBLIC", db="testdb")
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "1"})
    a = lp.raw_login()
    b = lp.raw_login()
    for round_ in range(3):
        seen = _extended_copy(a, range(round_ * 10, round_ * 10 + 10))
        assert seen[-2:] == ["C", "Z"], seen
        # the one server went back to the pool: another client gets it
        rows, _, status = b.run("SELECT count(*) FROM xcopy", timeout=5)
        assert rows == [(str((round_ + 1) * 10),)] and status == "I"
    rows, _, _ = a.run("SELECT 1", timeout=5)
    assert rows == [("1",)]
    assert len(pg.backends(user="scram_user", db="testdb")) == 1
