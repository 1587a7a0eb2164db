"""PgBouncer configuration compatibility: every [pgbouncer] setting of
PgBouncer 1.18 (pgbouncer(5)) and the 1.19-1.25 additions load with --check,
SHOW CONFIG lists them, and the ones with behaviour behave: server_round_robin
(FIFO reuse of idle servers, seen through backend pids), disable_pqexec (the
simple protocol is refused with PgBouncer's error, the extended one works),
unix_socket_group (the socket's group), transaction_timeout."""

import grp
import os
import re
import socket
import subprocess
import time

import psycopg
import pytest

from conftest import LINKPOOL_BIN, wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The [pgbouncer] settings of pgbouncer(5), PgBouncer 1.18, in man page order,
# with values of the documented type (mostly the documented default).
PGBOUNCER_118 = [
    ("logfile", None), ("pidfile", None), ("listen_addr", None), ("listen_port", None),
    ("unix_socket_dir", None), ("unix_socket_mode", "0777"), ("unix_socket_group", "GROUP"),
    ("user", ""), ("pool_mode", "session"), ("max_client_conn", "100"),
    ("default_pool_size", "20"), ("min_pool_size", "0"), ("reserve_pool_size", "0"),
    ("reserve_pool_timeout", "5.0"), ("max_db_connections", "0"), ("max_user_connections", "0"),
    ("server_round_robin", "0"), ("ignore_startup_parameters", "extra_float_digits"),
    ("disable_pqexec", "0"), ("application_name_add_host", "0"), ("conffile", "CONFFILE"),
    ("service_name", "pgbouncer"), ("job_name", "pgbouncer"), ("stats_period", "60"),
    ("auth_type", "md5"), ("auth_hba_file", ""), ("auth_file", None), ("auth_user", ""),
    ("auth_query", "SELECT usename, passwd FROM pg_shadow WHERE usename=$1"),
    ("syslog", "0"), ("syslog_ident", "pgbouncer"), ("syslog_facility", "daemon"),
    ("log_connections", "1"), ("log_disconnections", "1"), ("log_pooler_errors", "1"),
    ("log_stats", "1"), ("verbose", "0"), ("admin_users", None), ("stats_users", None),
    ("server_reset_query", "DISCARD ALL"), ("server_reset_query_always", "0"),
    ("server_check_delay", "30"), ("server_check_query", "select 1"),
    ("server_fast_close", "0"), ("server_lifetime", "3600"), ("server_idle_timeout", "600"),
    ("server_connect_timeout", "15"), ("server_login_retry", "15"),
    ("client_login_timeout", "60"), ("autodb_idle_timeout", "3600"), ("dns_max_ttl", "15"),
    ("dns_nxdomain_ttl", "15"), ("dns_zone_check_period", "0"), ("resolv_conf", ""),
    ("client_tls_sslmode", "disable"), ("client_tls_key_file", ""),
    ("client_tls_cert_file", ""), ("client_tls_ca_file", ""),
    ("client_tls_protocols", "secure"), ("client_tls_ciphers", "fast"),
    ("client_tls_ecdhcurve", "auto"), ("client_tls_dheparams", "auto"),
    ("server_tls_sslmode", "disable"), ("server_tls_ca_file", ""), ("server_tls_key_file", ""),
    ("server_tls_cert_file", ""), ("server_tls_protocols", "secure"),
    ("server_tls_ciphers", "fast"), ("query_timeout", "0"), ("query_wait_timeout", "120"),
    ("client_idle_timeout", "0"), ("idle_transaction_timeout", "0"),
    ("suspend_timeout", "10"), ("pkt_buf", "4096"), ("max_packet_size", "2147483647"),
    ("listen_backlog", "128"), ("sbuf_loopcnt", "5"), ("so_reuseport", "0"),
    ("tcp_defer_accept", "45"), ("tcp_socket_buffer", "0"), ("tcp_keepalive", "1"),
    ("tcp_keepcnt", "0"), ("tcp_keepidle", "0"), ("tcp_keepintvl", "0"),
    ("tcp_user_timeout", "0"),
]

# PgBouncer 1.19-1.25 additions.
PGBOUNCER_125 = [
    ("peer_id", "1"), ("max_prepared_statements", "200"), ("scram_iterations", "4096"),
    ("auth_ident_file", ""), ("auth_dbname", "testdb"), ("auth_ldap_options", ""),
    ("query_wait_notify", "5"), ("transaction_timeout", "0"), ("cancel_wait_timeout", "10"),
    ("client_tls13_ciphers", ""), ("server_tls13_ciphers", ""),
    ("max_db_client_connections", "0"), ("max_user_client_connections", "0"),
    ("track_extra_parameters", "IntervalStyle"),
]


def _check(path):
    return subprocess.run([LINKPOOL_BIN, "--check", path], capture_output=True, text=True,
                          timeout=30)


def _own_group():
    return grp.getgrgid(os.getgid()).gr_name


def test_config_every_pgbouncer_118_setting(linkpool, pg):
    lp = linkpool(start=False)
    lp.check_exit_code = False      # never started
    settings = []
    for name, value in PGBOUNCER_118:
        if value is None:
            value = lp.ini[name]
        value = value.replace("GROUP", _own_group()).replace("CONFFILE", lp.ini_path)
        settings.append(f"{name} = {value}")
    # Every per-database key of pgbouncer(5) 1.18, and the per-user ones.
    db = (f"host={pg.host} port={pg.port} dbname=testdb user=scram_user password=x "
          "auth_user=admin pool_size=5 min_pool_size=0 reserve_pool=1 "
          "connect_query='SELECT 1' pool_mode=transaction max_db_connections=10 "
          "client_encoding=UTF8 datestyle=ISO timezone=UTC")
    text = ("[databases]\n" f"testdb = {db}\n"
            "[users]\nscram_user = pool_mode=session max_user_connections=5\n"
            "[pgbouncer]\n" + "\n".join(settings) + "\n")
    lp.write_raw(text)
    out = _check(lp.ini_path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_config_pgbouncer_125_settings_and_peers(linkpool, pg):
    lp = linkpool(start=False)
    lp.check_exit_code = False
    db = (f"host={pg.host} port={pg.port} dbname=testdb auth_dbname=testdb "
          "auth_query='SELECT 1' reserve_pool_size=2 max_db_client_connections=4 "
          "server_lifetime=60 load_balance_hosts=disable application_name=x")
    users = ("scram_user = pool_size=2 reserve_pool_size=1 max_user_client_connections=3 "
             "query_timeout=5 idle_transaction_timeout=6 client_idle_timeout=7 "
             "transaction_timeout=8")
    base = [f"{k} = {lp.ini[k]}" for k in ("listen_port", "auth_type", "auth_file", "logfile")]
    text = ("[databases]\n" f"testdb = {db}\n" f"[users]\n{users}\n"
            "[peers]\n1 = host=/tmp/lp-peer1\n2 = host=127.0.0.1 port=6433 pool_size=3\n"
            "[pgbouncer]\n" + "\n".join(base + [f"{k} = {v}" for k, v in PGBOUNCER_125])
            + "\n")
    lp.write_raw(text)
    out = _check(lp.ini_path)
    assert out.returncode == 0, out.stdout + out.stderr

    # A bad value of a new key still gets its file:line.
    lp.write_raw(text + "client_tls_dheparams = 4096\n")
    out = _check(lp.ini_path)
    assert out.returncode == 1
    line = len(text.splitlines()) + 1
    assert f"{lp.ini_path}:{line}: invalid value \"4096\" for parameter client_tls_dheparams" \
        in out.stdout + out.stderr


def test_config_show_config_has_new_settings(linkpool):
    lp = linkpool(ini_overrides={"server_round_robin": "1", "peer_id": "7"})
    rows = {r[0]: r for r in lp.admin("SHOW CONFIG")}
    assert all(len(r) == 4 for r in rows.values())
    assert rows["server_round_robin"][1:] == ("1", "0", "yes")
    assert rows["peer_id"][1:] == ("7", "0", "no")
    assert rows["max_prepared_statements"][1:3] == ("200", "200")
    assert rows["sbuf_loopcnt"][1:3] == ("5", "5")
    assert rows["job_name"][1:3] == ("pgbouncer", "pgbouncer")
    assert rows["conffile"][1] == lp.ini_path
    for name, _ in PGBOUNCER_118 + PGBOUNCER_125:
        assert name in rows, name


def _backend_pids(lp, n):
    """n transactions on one client (transaction pooling): the backend of each."""
    with lp.connect() as c:
        return [c.execute("SELECT pg_backend_pid()").fetchone()[0] for _ in range(n)]


def _open_servers(lp, n):
    """Makes the pool hold n idle servers: n clients in transactions at once."""
    conns = [lp.connect(autocommit=False) for _ in range(n)]
    for c in conns:
        c.execute("SELECT 1")
    for c in conns:
        c.commit()
        c.close()

    def idle():
        pools = lp.admin("SHOW POOLS")
        return any(r[0] == "testdb" and r[1] == "scram_user" and r[9] == n for r in pools)
    wait_for(idle, timeout=5, what=f"{n} idle servers")


@pytest.mark.parametrize("round_robin", [0, 1])
def test_server_round_robin(linkpool, round_robin):
    lp = linkpool(ini_overrides={"pool_mode": "transaction",
                                 "server_round_robin": str(round_robin)})
    _open_servers(lp, 3)
    pids = _backend_pids(lp, 6)
    if round_robin:
        # FIFO: every idle server takes its turn, in a fixed rotation.
        assert len(set(pids)) == 3, pids
        assert pids[:3] == pids[3:], pids
    else:
        # LIFO: the server just released is the one handed out again.
        assert len(set(pids)) == 1, pids


def test_disable_pqexec(linkpool):
    lp = linkpool(ini_overrides={"disable_pqexec": "1"})
    # The extended protocol (psycopg's execute) works.
    with lp.connect() as c:
        assert c.execute("SELECT %s::int + 1", [41]).fetchone() == (42,)
    # A simple Query message: PgBouncer's error, then the connection closes.
    r = lp.raw_login()
    r.send(b"Q" + (4 + 9).to_bytes(4, "big") + b"SELECT 1\x00")
    err = r.error_or_close()
    assert not isinstance(err, str), "closed without an ErrorResponse"
    assert err.sqlstate == "08P01"
    assert err.message == "PQexec disallowed"
    assert r.wait_closed(5)
    # The admin console only speaks the simple protocol: it stays usable.
    assert lp.admin("SHOW VERSION")
    wait_for(lambda: re.search(r"PQexec disallowed", lp.log_text()), timeout=5,
             what="log line")


def test_unix_socket_group(linkpool):
    groups = [g for g in grp.getgrall() if g.gr_gid != os.getgid()]
    if os.geteuid() != 0:
        groups = [g for g in groups if g.gr_gid in os.getgroups()]
    if not groups:
        pytest.skip("no second group this user may give a file to")
    g = groups[0]
    lp = linkpool(ini_overrides={"unix_socket_group": g.gr_name, "unix_socket_mode": "0770"})
    st = os.stat(os.path.join(lp.sockdir, f".s.PGSQL.{lp.port}"))
    assert st.st_gid == g.gr_gid
    assert st.st_mode & 0o777 == 0o770

    # A group that does not exist: --check names the line.
    lp.write_ini({"unix_socket_group": "lp-no-such-group"})
    out = _check(lp.ini_path)
    assert out.returncode == 1
    text = lp.ini_text().splitlines()
    line = next(i for i, t in enumerate(text, 1) if t.startswith("unix_socket_group"))
    assert (f"{lp.ini_path}:{line}: invalid value \"lp-no-such-group\" for parameter "
            "unix_socket_group: no such group") in out.stdout + out.stderr


def test_config_transaction_timeout(linkpool):
    lp = linkpool(ini_overrides={"transaction_timeout": "0.5"},
                  users_section={"md5_user": "transaction_timeout=0"})
    held = lp.connect(user="scram_user", autocommit=False)
    held.execute("SELECT 1")
    exempt = lp.connect(user="md5_user", autocommit=False)
    exempt.execute("SELECT 1")
    time.sleep(1.2)         # the janitor looks every 250 ms
    with pytest.raises(psycopg.OperationalError, match="transaction timeout"):
        held.execute("SELECT 2")
    # The [users] override (0: none) wins over the global setting.
    assert exempt.execute("SELECT 2").fetchone() == (2,)
    exempt.rollback()
    # Outside a transaction nothing times out.
    with lp.connect() as c:
        time.sleep(0.8)
        assert c.execute("SELECT 3").fetchone() == (3,)




def _tls_cipher(lp):
    """Negotiated (cipher, curve group) of a TLS 1.3 handshake with linkpool."""
    import socket
    import ssl

    import rawpg
    with socket.create_connection((lp.host, lp.port), timeout=5) as sock:
        sock.sendall(rawpg.ssl_request())
        assert sock.recv(1) == b"S"
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        with ctx.wrap_socket(sock) as tls:
            return tls.cipher()[0]


def test_config_client_tls_groups_and_tls13_ciphers(linkpool, tmp_path):
    """client_tls_ecdhcurve, client_tls_dheparams and client_tls13_ciphers
    reach OpenSSL: a TLS 1.3 client gets the one suite allowed; an unknown
    curve refuses the reload with the old configuration kept."""
    import tempfile

    from test_tls import client_connect, client_ini
    from tlscerts import Certs
    certs = Certs(tempfile.mkdtemp(prefix="lp-certs-", dir=tmp_path))
    ini = client_ini(certs, "require")
    ini.update({"client_tls_ecdhcurve": "prime256v1", "client_tls_dheparams": "none",
                "client_tls13_ciphers": "TLS_CHACHA20_POLY1305_SHA256"})
    lp = linkpool(ini)
    assert _tls_cipher(lp) == "TLS_CHACHA20_POLY1305_SHA256"
    conn = client_connect(lp, certs, "require")
    assert conn.execute("SELECT 1").fetchone() == (1,)

    lp.write_ini({"client_tls_ecdhcurve": "no-such-curve"})
    lp.reload()
    lp.wait_log("invalid TLS ECDH curve")
    lp.wait_log("reload failed: keeping the running configuration")
    assert _tls_cipher(lp) == "TLS_CHACHA20_POLY1305_SHA256"


def test_config_server_fast_close(linkpool):
    """Session pooling with server_fast_close: after RECONNECT, an idle
    session's server is closed at once and its client with it; a session in
    a transaction keeps going until the transaction ends."""
    lp = linkpool(ini_overrides={"server_fast_close": "1"})
    idle = lp.connect()
    idle.execute("SELECT 1")
    busy = lp.connect(user="md5_user", autocommit=False)
    busy.execute("SELECT 1")
    lp.admin("RECONNECT testdb")
    time.sleep(0.8)     # the janitor looks every 250 ms
    with pytest.raises(psycopg.OperationalError, match="database configuration changed"):
        idle.execute("SELECT 2")
    assert busy.execute("SELECT 2").fetchone() == (2,)
    busy.commit()
    time.sleep(0.8)
    with pytest.raises(psycopg.OperationalError, match="database configuration changed"):
        busy.execute("SELECT 3")
    # New clients get fresh servers.
    with lp.connect() as c:
        assert c.execute("SELECT 4").fetchone() == (4,)


def _local_port(conn):
    s = socket.socket(fileno=os.dup(conn.pgconn.socket))
    try:
        return s.getsockname()[1]
    finally:
        s.close()


def test_config_application_name_add_host(linkpool):
    """application_name_add_host: the server and the client itself see
    "<application_name or app> - <client host>:<client port>"."""
    lp = linkpool(ini_overrides={"application_name_add_host": "1", "pool_mode": "transaction"})
    with lp.connect(application_name="billing") as c:
        want = f"billing - 127.0.0.1:{_local_port(c)}"
        assert c.info.parameter_status("application_name") == want
        assert c.execute("SHOW application_name").fetchone() == (want,)
        assert c.execute("SELECT application_name FROM pg_stat_activity "
                         "WHERE pid = pg_backend_pid()").fetchone() == (want,)
    with lp.connect() as c:
        assert c.execute("SHOW application_name").fetchone() == (f"app - 127.0.0.1:{_local_port(c)}",)
    lp.write_ini({"application_name_add_host": "0"})
    lp.reload()
    lp.wait_log("configuration reloaded")
    with lp.connect(application_name="billing") as c:
        assert c.execute("SHOW application_name").fetchone() == ("billing",)
