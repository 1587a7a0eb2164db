"""Peering (PgBouncer 1.19+): several linkpool processes forward cancel
requests to the one that owns the key -- on two ports, and three processes
sharing one port with so_reuseport, peered over their unix sockets."""

import struct
import threading
import time

import psycopg
import pytest

import rawpg


def _peer_of(pid):
    """The peer id PgBouncer's key layout puts in bytes 1 and 2 of the pid."""
    b = struct.pack("!I", pid)
    return b[1] | (b[2] << 8)


def _pair(linkpool, **ini):
    """Two processes on two ports, peer ids 1 and 2, each knowing the other."""
    a = linkpool(dict({"peer_id": "1", "pool_mode": "transaction", "verbose": "2"}, **ini),
                 start=False)
    b = linkpool(dict({"peer_id": "2", "pool_mode": "transaction", "verbose": "2"}, **ini),
                 start=False)
    a.write_ini(peers={"2": f"host=127.0.0.1 port={b.port}"})
    b.write_ini(peers={"1": f"host=127.0.0.1 port={a.port}"})
    a.start()
    b.start()
    return a, b


def _sleeping(lp, seconds=30):
    """A raw client of lp running pg_sleep; returns it with its cancel key."""
    c = lp.raw_login("md5_user")
    pid, key = c.backend_key
    c.send(rawpg.query(f"SELECT pg_sleep({seconds})"))
    time.sleep(0.3)                 # the query reaches PostgreSQL
    return c, pid, key


def _cancel_via(lp, pid, key):
    """Sends a CancelRequest to lp; returns once lp closed the connection
    (it does so after the cancel was delivered, as PostgreSQL does)."""
    c = lp.raw()
    c.send(rawpg.cancel_request(pid, key))
    assert c.wait_closed(10)


def _error_of(c, timeout=10.0):
    """The error the running query ends with (None: it completed)."""
    try:
        c.read_result(timeout)
        return None
    except rawpg.PgError as e:
        return e


def test_key_layout(linkpool):
    """Keys carry the peer id as PgBouncer lays it out, so PgBouncer and
    linkpool processes can forward to each other during a migration."""
    lp = linkpool({"peer_id": "300"})
    for _ in range(20):
        c = lp.raw_login("md5_user")
        pid, key = c.backend_key
        assert 0 < pid < 2**31                  # sign bit clear
        assert _peer_of(pid) == 300
        assert key & 3 == 3                     # hops left: 3
        c.close()
    plain = linkpool()                          # no peer_id: all random
    pids = {plain.raw_login("md5_user").backend_key[0] for _ in range(8)}
    assert len({_peer_of(p) for p in pids}) > 1


@pytest.mark.parametrize("first", [0, 1])
def test_two_ports_cancel_each_other(linkpool, first):
    """A cancel sent to the other process reaches the query, both ways;
    a bystander on the owner is not touched."""
    pair = _pair(linkpool)
    owner, other = pair[first], pair[1 - first]
    bystander = owner.connect(user="md5_user")
    c, pid, key = _sleeping(owner)
    t0 = time.monotonic()
    _cancel_via(other, pid, key)
    err = _error_of(c)
    assert err is not None and err.sqlstate == "57014", err
    assert time.monotonic() - t0 < 5
    assert "canceling statement due to user request" in err.message
    other.wait_log(r"closing because: cancel request forwarded to a peer")
    time.sleep(0.3)                  # PostgreSQL's second signal lands on an idle backend
    assert bystander.execute("SELECT 1").fetchone() == (1,)
    assert c.run("SELECT 7")[0] == [("7",)]


def test_ttl_exhausted_not_forwarded(linkpool):
    """A cancel whose key has no hops left is not forwarded: the query runs on."""
    a, b = _pair(linkpool)
    c, pid, key = _sleeping(a, seconds=1.5)
    _cancel_via(b, pid, key & ~3)
    b.wait_log(r"TTL was exhausted")
    assert _error_of(c) is None             # pg_sleep completed
    # One hop left: forwarded, and a's copy has none left -- still delivered.
    c2, pid2, key2 = _sleeping(a)
    _cancel_via(b, pid2, (key2 & ~3) | 1)
    err = _error_of(c2)
    assert err is not None and err.sqlstate == "57014"


def test_unknown_peer_and_own_unknown_key(linkpool):
    """A key naming a peer not in [peers], or this process but no client:
    nothing is cancelled and the asker's connection is closed."""
    a, b = _pair(linkpool)
    c, pid, key = _sleeping(a, seconds=1)
    bogus_pid = (pid & 0x7f0000ff) | (77 << 16)     # peer 77
    _cancel_via(b, bogus_pid, key)
    b.wait_log(r"key of an unknown peer")
    _cancel_via(a, pid ^ 0x1000000, key)            # a's id, no such client
    assert _error_of(c) is None


def test_show_peers(linkpool):
    a, b = _pair(linkpool)
    rows = a.admin("SHOW PEERS")
    assert rows == [(2, "127.0.0.1", b.port, 10)]
    with psycopg.connect(a.dsn("admin", "pgbouncer"), autocommit=True) as conn:
        cur = conn.execute("SHOW PEER_POOLS")
        assert [d.name for d in cur.description] == [
            "peer_id", "cl_active_cancel_req", "cl_waiting_cancel_req", "sv_active_cancel",
            "sv_login"]
        assert cur.fetchall() == [(2, 0, 0, 0, 0)]
        cur = conn.execute("SHOW PEERS")
        assert [d.name for d in cur.description] == ["peer_id", "host", "port", "pool_size"]


def test_peer_metrics(linkpool):
    a, b = _pair(linkpool)
    c, pid, key = _sleeping(a)
    _cancel_via(b, pid, key)
    assert _error_of(c).sqlstate == "57014"
    _cancel_via(b, pid, key & ~3)          # dropped: no hops left
    status, _, body = b.http_get("/metrics")
    text = body.decode()
    assert status == 200
    assert 'linkpool_peer_cancel_requests_total{peer_id="2",result="forwarded"}' not in text
    assert 'linkpool_peer_cancel_requests_total{peer_id="1",result="forwarded"} 1' in text
    assert 'linkpool_peer_cancel_requests_total{peer_id="1",result="ttl_exhausted"} 1' in text
    assert 'linkpool_peer_cancel_requests_total{peer_id="1",result="failed"} 0' in text
    assert 'linkpool_peer_cancel_requests_active{peer_id="1"} 0' in text


def test_so_reuseport_three_processes(linkpool):
    """Three processes share one port (so_reuseport), each with its own
    unix_socket_dir, peered over those sockets. 24 clients each run
    pg_sleep; every cancel psycopg sends to the shared port -- whichever
    process the kernel gives it to -- cancels its own query and no other."""
    procs = [linkpool({"peer_id": str(i + 1), "so_reuseport": "1", "pool_mode": "transaction",
                       "default_pool_size": "30"}, start=False) for i in range(3)]
    port = procs[0].port
    for i, p in enumerate(procs):
        p.port = port
        others = {str(j + 1): f"host={q.sockdir} port={port}"
                  for j, q in enumerate(procs) if j != i}
        p.write_ini({"listen_port": str(port)}, peers=others)
    for p in procs:
        p.start()

    n = 24
    conns = [psycopg.connect(procs[0].dsn("md5_user"), autocommit=True) for _ in range(n)]
    owners = {_peer_of(c.info.backend_pid) for c in conns}
    assert owners <= {1, 2, 3}
    outcome = [None] * n

    def run(i):
        try:
            conns[i].execute("SELECT pg_sleep(60)")
            outcome[i] = "completed"
        except psycopg.errors.QueryCanceled:
            outcome[i] = "cancelled"
        except Exception as e:          # noqa: BLE001 - reported below
            outcome[i] = repr(e)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    try:
        for i in range(n):
            conns[i].cancel()
            threads[i].join(10)
            assert outcome[i] == "cancelled", (i, outcome)
            assert all(o is None for o in outcome[i + 1:]), (i, outcome)
        forwarded = 0
        for p in procs:
            text = p.http_get("/metrics")[2].decode()
            forwarded += sum(int(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                             if line.startswith("linkpool_peer_cancel_requests_total{")
                             and 'result="forwarded"' in line)
        assert forwarded > 0, "the kernel gave every cancel to its owner: nothing tested"
    finally:
        for c in conns:
            c.close()



