"""Host lists in [databases] (host=a,b,c) and load_balance_hosts.

PostgreSQL listens on 127.0.0.1 and on its unix socket directory: a list of
both is two hosts that work; 127.0.0.3 on the same port refuses. Which host
a server connection reached shows in inet_server_addr() (NULL over a unix
socket) and in SHOW SERVERS' addr.
"""

import subprocess
import threading
import time

import psycopg
import pytest

from conftest import LINKPOOL_BIN


def _entry(pg, hosts, **kw):
    parts = [f"host={hosts}", f"port={pg.port}", "dbname=testdb"]
    parts += [f"{k}={v}" for k, v in kw.items()]
    return " ".join(parts)


def _server_addrs(lp, n, db="hl"):
    """inet_server_addr() of n sessions held open at once (session mode,
    so each has a server of its own)."""
    conns = [lp.connect(db=db) for _ in range(n)]
    try:
        return [c.execute("SELECT host(inet_server_addr())").fetchone()[0] for c in conns]
    finally:
        for c in conns:
            c.close()


def test_round_robin_uses_every_host(linkpool, pg):
    lp = linkpool({"pool_mode": "session"},
                  databases={"hl": _entry(pg, f"127.0.0.1,{pg.socket_dir}")})
    addrs = _server_addrs(lp, 4)
    assert sorted(addrs, key=str) == sorted(["127.0.0.1", None, "127.0.0.1", None], key=str)
    addr = {r["addr"] for r in lp.admin_rows("SHOW SERVERS")}
    assert addr == {"127.0.0.1", "unix"}


def test_disable_keeps_one_host(linkpool, pg):
    lp = linkpool({"pool_mode": "session"},
                  databases={"hl": _entry(pg, f"127.0.0.1,{pg.socket_dir}",
                                          load_balance_hosts="disable")})
    assert _server_addrs(lp, 4) == ["127.0.0.1"] * 4


def test_refused_first_host_is_skipped_at_once(linkpool, pg):
    """127.0.0.3 refuses: the connection moves on to the next host at once,
    without waiting server_login_retry, and the client never hears of it."""
    lp = linkpool({"server_login_retry": "30", "server_tls_sslmode": "disable"},
                  databases={"hl": _entry(pg, "127.0.0.3,127.0.0.1",
                                          load_balance_hosts="disable")})
    start = time.monotonic()
    with lp.connect(db="hl") as c:
        assert c.execute("SELECT host(inet_server_addr())").fetchone() == ("127.0.0.1",)
    assert time.monotonic() - start < 5
    lp.wait_log(r"S-\d+: hl/\S+@127\.0\.0\.3:\d+ closing because: connect failed")
    # disable: the pool stays on the host that worked
    lp.admin("RECONNECT hl")
    with lp.connect(db="hl") as c:
        assert c.execute("SELECT host(inet_server_addr())").fetchone() == ("127.0.0.1",)
    assert lp.log_text().count("closing because: connect failed") == 1


def test_unresolvable_first_host_is_skipped(linkpool, pg):
    lp = linkpool({"server_login_retry": "30"},
                  databases={"hl": _entry(pg, "no-such-host.invalid,127.0.0.1",
                                          load_balance_hosts="disable")})
    with lp.connect(db="hl") as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    lp.wait_log(r"closing because: server DNS lookup failed")


def test_every_host_down_waits_then_fails(linkpool, pg):
    """Only when every host failed does it count as a failed login: the
    client waits (a restart may be under way) within query_wait_timeout, and
    other databases are served meanwhile."""
    lp = linkpool({"server_login_retry": "1", "query_wait_timeout": "3",
                   "server_tls_sslmode": "disable"},
                  databases={"hl": _entry(pg, "127.0.0.3,127.0.0.4"),
                             "testdb": pg.db_entry()})
    errors = []

    def victim():
        try:
            with lp.connect(db="hl") as c:
                c.execute("SELECT 1")
        except psycopg.OperationalError as e:
            errors.append(str(e))

    t = threading.Thread(target=victim)
    start = time.monotonic()
    t.start()
    with lp.connect() as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    t.join(15)
    assert errors and 2 < time.monotonic() - start < 12, errors
    text = lp.log_text()
    assert "127.0.0.3" in text and "127.0.0.4" in text


def test_reload_changes_load_balance_hosts(linkpool, pg):
    lp = linkpool(databases={"hl": _entry(pg, f"127.0.0.1,{pg.socket_dir}",
                                          load_balance_hosts="disable")})
    row = [r for r in lp.admin_rows("SHOW DATABASES") if r["name"] == "hl"][0]
    assert row["load_balance_hosts"] == "disable"
    assert row["host"] == f"127.0.0.1,{pg.socket_dir}"
    lp.write_ini(databases={"hl": _entry(pg, f"127.0.0.1,{pg.socket_dir}",
                                         load_balance_hosts="round-robin")})
    lp.reload()
    row = [r for r in lp.admin_rows("SHOW DATABASES") if r["name"] == "hl"][0]
    assert row["load_balance_hosts"] == "round-robin"


@pytest.mark.parametrize("hosts, why", [
    ("a,,b", "empty entry in the host list"),
    ("a,", "empty entry in the host list"),
    (",".join(f"h{i}" for i in range(17)), "more than 16 hosts in the list"),
    ("a," + "x" * 300, "at most 255"),
])
def test_bad_host_lists_are_refused(linkpool, pg, hosts, why):
    lp = linkpool(databases={"hl": f"host={hosts} port={pg.port}"}, start=False)
    r = subprocess.run([LINKPOOL_BIN, "--check", lp.ini_path], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1
    assert why in r.stderr and 'database "hl": invalid value' in r.stderr, r.stderr
