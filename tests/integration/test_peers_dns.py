"""Peers found through DNS (peers_dns, linkpool's own): the A records of one
name are the processes of the group -- as a Kubernetes headless Service
lists its pods. Three processes on 127.0.0.2-4 (one port) resolve the name
through a DNS server the test runs with records the test writes; a cancel
sent to any of them reaches the query it names, also after the records
change; and peer_id = auto takes the StatefulSet ordinal of the host name."""

import os
import shutil
import socket
import struct
import subprocess
import threading
import time

import psycopg
import pytest

import rawpg
from conftest import LINKPOOL_BIN, wait_for


class FakeDns:
    """A DNS server on 127.0.0.1 (UDP) answering A queries from a dict the
    test changes at will; everything else gets an empty answer."""

    def __init__(self):
        self.records = {}               # name -> [ipv4 text]
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.port = rawpg.bind_low_port(self.sock)
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self.sock.sendto(self._answer(data), addr)
            except Exception:           # noqa: BLE001 - a bad query is dropped
                pass

    def _answer(self, q):
        qid, _flags, qd = struct.unpack("!HHH", q[:6])
        pos, labels = 12, []
        while q[pos]:
            n = q[pos]
            labels.append(q[pos + 1:pos + 1 + n].decode())
            pos += 1 + n
        qend = pos + 5
        qtype = struct.unpack("!H", q[pos + 1:pos + 3])[0]
        name = ".".join(labels).lower()
        self.queries.append((name, qtype))
        ips = self.records.get(name, []) if qtype == 1 else []
        known = name in self.records
        rcode = 0 if known else 3
        hdr = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(ips), 0, 0)
        out = hdr + q[12:qend]
        for ip in ips:
            out += struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(ip)
        return out

    def close(self):
        self._stop = True
        self.sock.close()


@pytest.fixture
def dns(tmp_path):
    d = FakeDns()
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"nameserver 127.0.0.1:{d.port}\n")
    d.resolv_conf = str(conf)
    yield d
    d.close()


def _group(linkpool, dns, n=3, same_id=False):
    """n processes on 127.0.0.2.. sharing one port, peer ids 1..n (or all
    1, as the pods of a Deployment), peered by peers_dns only."""
    procs = [linkpool(start=False) for _ in range(n)]
    port = procs[0].port
    for i, p in enumerate(procs):
        p.host = f"127.0.0.{i + 2}"
        p.port = port
        p.write_ini({"listen_addr": p.host, "listen_port": str(port), "peer_id": "1" if same_id else str(i + 1),
                     "peers_dns": "lp-peers.test", "resolv_conf": dns.resolv_conf,
                     "dns_max_ttl": "1", "pool_mode": "transaction", "verbose": "2"})
    return procs


def _sleeping(lp):
    c = lp.raw_login("md5_user")
    pid, key = c.backend_key
    c.send(rawpg.query("SELECT pg_sleep(30)"))
    time.sleep(0.3)
    return c, pid, key


def _cancel_via(lp, pid, key):
    c = lp.raw()
    c.send(rawpg.cancel_request(pid, key))
    assert c.wait_closed(10)


def _cancelled(c):
    try:
        c.read_result(10)
    except rawpg.PgError as e:
        return e.sqlstate == "57014"
    return False


def _start_pair(dns, a, b):
    """a and b are the records of the name, and know each other."""
    dns.records["lp-peers.test"] = [a.host, b.host]
    a.start()
    b.start()
    wait_for(lambda: len(a.admin("SHOW PEERS")) == 1, 5, what="a knows b")


def test_cancel_through_dns_peers(linkpool, dns):
    a, b, c3 = _group(linkpool, dns)
    _start_pair(dns, a, b)
    assert a.admin("SHOW PEERS") == [(0, b.host, b.port, 10)]
    assert (0, 0, 0, 0, 0) in a.admin("SHOW PEER_POOLS")

    conn, pid, key = _sleeping(a)
    _cancel_via(b, pid, key)            # b: key of peer 1, not its own
    assert _cancelled(conn)

    # A third process joins: once the records name it, the others find it.
    c3.start()
    victim, pid, key = _sleeping(c3)
    dns.records["lp-peers.test"] = [a.host, b.host, c3.host]
    wait_for(lambda: len(a.admin("SHOW PEERS")) == 2, 5, what="a sees the new record")
    _cancel_via(a, pid, key)
    assert _cancelled(victim)
    # b (not the owner) got a copy too, with no hops left: dropped, nothing
    # of b's is touched.
    wait_for(lambda: "TTL was exhausted" in b.log_text(), 5, what="b dropped its copy")
    text = a.http_get("/metrics")[2].decode()
    assert 'linkpool_peer_cancel_requests_total{peer_id="dns",result="forwarded"} 2' in text
    # The owner never forwards its own key.
    own = c3.http_get("/metrics")[2].decode()
    assert "linkpool_peer_cancel_requests_total{" not in own


def test_dns_peers_need_no_unique_id(linkpool, dns):
    """The pods of a Deployment have no ordinal: with peers_dns they may all
    have the same peer_id; whichever process holds the key acts on it."""
    procs = _group(linkpool, dns, same_id=True)
    dns.records["lp-peers.test"] = [p.host for p in procs]
    for p in procs:
        p.start()
    for p in procs:
        wait_for(lambda: len(p.admin("SHOW PEERS")) == 2, 5, what="the group is known")
    for owner in range(3):
        for via in range(3):
            if via == owner:
                continue
            conn, pid, key = _sleeping(procs[owner])
            _cancel_via(procs[via], pid, key)
            assert _cancelled(conn), (owner, via)
            conn.close()


def test_dns_failure_keeps_known_peers(linkpool, dns):
    a, b, _ = _group(linkpool, dns)
    _start_pair(dns, a, b)
    del dns.records["lp-peers.test"]            # NXDOMAIN from now on
    a.wait_log(r"peers_dns \"lp-peers.test\": .*keeping the 1 peer", timeout=10)
    conn, pid, key = _sleeping(b)
    _cancel_via(a, pid, key)
    assert _cancelled(conn)


def test_peers_dns_needs_peer_id(linkpool, dns):
    lp = linkpool({"peers_dns": "lp-peers.test"}, start=False)
    r = subprocess.run([LINKPOOL_BIN, "--check", lp.ini_path], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode != 0
    assert "peers_dns needs peer_id" in r.stderr + r.stdout


def _unshare_uts():
    return os.geteuid() == 0 and shutil.which("unshare") and subprocess.run(
        ["unshare", "--uts", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _unshare_uts(), reason="needs root and unshare --uts")
@pytest.mark.parametrize("host,expect", [("linkpool-0", 1), ("linkpool-4.peers.ns", 5),
                                         ("link-pool-12", 13), ("linkpool", None),
                                         ("linkpool-x", None), ("linkpool-16383", None)])
def test_peer_id_auto(linkpool, host, expect):
    """peer_id = auto: the StatefulSet ordinal at the end of the host name, plus one."""
    lp = linkpool({"peer_id": "auto"}, start=False)
    r = subprocess.run(["unshare", "--uts", "sh", "-c",
                        f'hostname "$1" && exec "$2" --check "$3"', "sh", host, LINKPOOL_BIN,
                        lp.ini_path], capture_output=True, text=True, timeout=30)
    if expect is None:
        assert r.returncode != 0, r.stdout + r.stderr
        assert "does not end in -<ordinal>" in r.stdout + r.stderr
        return
    assert r.returncode == 0, r.stdout + r.stderr
    proc = subprocess.Popen(["unshare", "--uts", "sh", "-c",
                             f'hostname "$1" && exec "$2" "$3"', "sh", host, LINKPOOL_BIN,
                             lp.ini_path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lp.proc = proc
        lp.wait_listening()
        cfg = dict((row[0], row[1]) for row in lp.admin("SHOW CONFIG"))
        assert cfg["peer_id"] == str(expect)
        key_pid = lp.raw_login("md5_user").backend_key[0]
        b = struct.pack("!I", key_pid)
        assert b[1] | (b[2] << 8) == expect
    finally:
        lp.close_clients()
        proc.terminate()
        proc.wait(10)
        lp.proc = None
