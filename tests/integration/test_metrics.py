"""The built-in metrics endpoint: compatible names on a live scrape (checked by
promtool), linkpool's own series, /healthz and /readyz in every state, bad HTTP
input, connection bounds and rebinding on reload."""

import json
import re
import shutil
import signal
import socket
import subprocess
import time

import psycopg
import pytest

from conftest import free_port, wait_for

PROMTOOL = shutil.which("promtool")

COMPAT_NAMES = [
    "pgbouncer_up", "pgbouncer_version_info",
    "pgbouncer_config_max_client_connections", "pgbouncer_config_max_user_connections",
    "pgbouncer_databases_pool_size", "pgbouncer_databases_reserve_pool",
    "pgbouncer_databases_max_connections", "pgbouncer_databases_current_connections",
    "pgbouncer_databases_paused", "pgbouncer_databases_disabled",
    "pgbouncer_pools_client_active_connections", "pgbouncer_pools_client_waiting_connections",
    "pgbouncer_pools_client_active_cancel_connections",
    "pgbouncer_pools_client_waiting_cancel_connections",
    "pgbouncer_pools_server_active_connections", "pgbouncer_pools_server_active_cancel_connections",
    "pgbouncer_pools_server_being_canceled_connections", "pgbouncer_pools_server_idle_connections",
    "pgbouncer_pools_server_used_connections", "pgbouncer_pools_server_testing_connections",
    "pgbouncer_pools_server_login_connections", "pgbouncer_pools_client_maxwait_seconds",
    "pgbouncer_databases", "pgbouncer_users", "pgbouncer_pools", "pgbouncer_free_clients",
    "pgbouncer_used_clients", "pgbouncer_login_clients", "pgbouncer_free_servers",
    "pgbouncer_used_servers", "pgbouncer_cached_dns_names", "pgbouncer_cached_dns_zones",
    "pgbouncer_in_flight_dns_queries", "pgbouncer_client_connections",
] + [f"pgbouncer_stats_totals_{n}" for n in (
    "queries_pooled_total", "queries_duration_seconds_total", "received_bytes_total",
    "sent_bytes_total", "client_wait_seconds_total", "sql_transactions_pooled_total",
    "server_in_transaction_seconds_total", "client_parses_total", "server_parses_total",
    "binds_total", "server_assignments_total")] + [f"pgbouncer_stats_{n}" for n in (
    "queries_pooled_total", "queries_duration_seconds_total", "received_bytes_total",
    "sent_bytes_total", "client_wait_seconds_total", "sql_transactions_pooled_total",
    "server_in_transaction_seconds_total")]

LINKPOOL_NAMES = [
    "linkpool_ready", "linkpool_paused", "linkpool_shutting_down", "linkpool_backend_up",
    "linkpool_client_logins_total", "linkpool_client_login_failures_total",
    "linkpool_client_connections_refused_total", "linkpool_server_connections_opened_total",
    "linkpool_server_connections_closed_total", "linkpool_cancel_requests_total",
    "linkpool_protocol_errors_total", "linkpool_client_wait_seconds",
    "linkpool_query_duration_seconds", "linkpool_transaction_duration_seconds",
    "linkpool_process_cpu_seconds_total", "linkpool_process_resident_memory_bytes",
    "linkpool_process_open_fds", "linkpool_process_max_fds",
    "linkpool_process_start_time_seconds", "linkpool_scrape_duration_seconds",
]

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse_metrics(text):
    """{(name, frozenset(labels)): value}"""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"unparsable line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples, metric, **labels):
    want = set(labels.items())
    vals = [v for (n, ls), v in samples.items() if n == metric and want <= set(ls)]
    assert vals, f"no sample {metric}{labels}"
    return sum(vals)


def scrape(lp):
    status, headers, body = lp.http_get("/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    return body.decode()


def probe(lp, path):
    status, headers, body = lp.http_get(path)
    assert headers["content-type"] == "application/json"
    return status, json.loads(body)


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian package prometheus) not installed")
def test_scrape_names_values_and_promtool(linkpool, tmp_path):
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "2"})
    with lp.connect() as conn:
        for _ in range(5):
            conn.execute("SELECT 1")
        with conn.transaction():
            conn.execute("SELECT pg_sleep(0.01)")
    # one refused login, one protocol error, one cancel with an unknown key
    with pytest.raises(Exception):
        lp.connect(password="wrong").close()
    s = socket.create_connection((lp.host, lp.port), timeout=5)
    s.sendall(b"\x00\x00\x00\x10\x04\xd2\x16\x2e\x00\x00\x00\x01\x00\x00\x00\x02")
    s.recv(10)
    s.close()
    raw = socket.create_connection((lp.host, lp.port), timeout=5)
    raw.sendall(b"\x00\x00\x00\x03")  # length word below the minimum
    raw.recv(1000)
    raw.close()
    time.sleep(0.1)

    text = scrape(lp)
    path = tmp_path / "scrape.txt"
    path.write_text(text)
    r = subprocess.run([PROMTOOL, "check", "metrics"], stdin=open(path), capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr

    s = parse_metrics(text)
    names = {n for n, _ in s}
    base = {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}
    missing = [n for n in COMPAT_NAMES + LINKPOOL_NAMES if n not in names and n not in base]
    assert not missing, missing
    assert value(s, "pgbouncer_up") == 1
    assert value(s, "pgbouncer_config_max_client_connections") == 200
    assert value(s, "pgbouncer_databases_pool_size", name="testdb", database="testdb",
                 pool_mode="transaction") == 2
    assert value(s, "pgbouncer_pools_server_idle_connections", database="testdb",
                 user="scram_user") >= 1
    assert value(s, "pgbouncer_stats_totals_queries_pooled_total", database="testdb") >= 6
    assert value(s, "pgbouncer_stats_queries_pooled_total", database="testdb") == \
        value(s, "pgbouncer_stats_totals_queries_pooled_total", database="testdb")
    assert value(s, "pgbouncer_stats_totals_server_in_transaction_seconds_total", database="testdb") >= 0.01
    assert value(s, "linkpool_query_duration_seconds_count", database="testdb") >= 6
    assert value(s, "linkpool_transaction_duration_seconds_count", database="testdb") >= 6
    assert value(s, "linkpool_transaction_duration_seconds_bucket", database="testdb", le="0.005") < \
        value(s, "linkpool_transaction_duration_seconds_count", database="testdb")
    assert value(s, "linkpool_client_wait_seconds_count", database="testdb") >= 6
    assert value(s, "linkpool_client_login_failures_total", reason="auth_failed") == 1
    assert value(s, "linkpool_cancel_requests_total", result="unknown_key") == 1
    assert value(s, "linkpool_protocol_errors_total", source="client") >= 1
    assert value(s, "linkpool_server_connections_opened_total", database="testdb") >= 1
    assert value(s, "linkpool_client_logins_total", database="testdb") >= 1
    assert value(s, "linkpool_process_open_fds") > 3
    assert value(s, "linkpool_process_resident_memory_bytes") > 1e6
    assert value(s, "linkpool_ready") == 1
    # No client address or application_name in any label value.
    assert "127.0.0.1:" not in text


def test_max_client_conn_refusals_counted(linkpool):
    lp = linkpool({"max_client_conn": "1"})
    # The harness's listening probe is a client until linkpool sees it close.
    wait_for(lambda: value(parse_metrics(scrape(lp)), "pgbouncer_used_clients") == 0,
             what="no clients connected")
    c1 = lp.connect()
    with pytest.raises(Exception):
        lp.connect()
    s = parse_metrics(scrape(lp))
    assert value(s, "linkpool_client_connections_refused_total", reason="max_client_conn") == 1
    assert value(s, "linkpool_client_login_failures_total", reason="max_client_conn") == 1
    c1.close()


def test_probes_normal_paused_shutdown(linkpool):
    lp = linkpool()
    assert probe(lp, "/healthz")[0] == 200
    assert probe(lp, "/readyz") == (200, {"status": "ready"})

    lp.signal(signal.SIGUSR1)  # PAUSE
    wait_for(lambda: probe(lp, "/readyz")[0] == 503, what="readyz 503 while paused")
    assert probe(lp, "/readyz")[1] == {"status": "not ready", "reason": "paused"}
    assert probe(lp, "/healthz")[0] == 200
    assert value(parse_metrics(scrape(lp)), "linkpool_paused") == 1
    lp.signal(signal.SIGUSR2)  # RESUME
    wait_for(lambda: probe(lp, "/readyz")[0] == 200, what="readyz 200 after resume")

    # Graceful shutdown waits for this client: the endpoint keeps answering.
    conn = lp.connect()
    conn.execute("SELECT 1")
    lp.signal(signal.SIGTERM)
    wait_for(lambda: probe(lp, "/readyz")[0] == 503, what="readyz 503 while shutting down")
    assert probe(lp, "/readyz")[1]["reason"] == "shutting down"
    assert probe(lp, "/healthz")[0] == 200
    assert value(parse_metrics(scrape(lp)), "linkpool_shutting_down") == 1
    conn.close()
    assert lp.wait_exit(10) == 0


def test_readyz_backend_down_and_back(linkpool, pg):
    port = free_port()  # nothing listens here yet
    lp = linkpool({"server_login_retry": "1"},
                  databases={"gone": f"host=127.0.0.1 port={port} dbname=testdb"})
    assert probe(lp, "/readyz")[0] == 200
    with pytest.raises(Exception):
        lp.connect(db="gone")
    status, body = probe(lp, "/readyz")
    assert status == 503 and "backend unreachable for database gone" in body["reason"], body
    s = parse_metrics(scrape(lp))
    assert value(s, "linkpool_backend_up", database="gone") == 0
    assert value(s, "linkpool_backend_up", database="testdb") == 1
    assert value(s, "linkpool_server_connections_closed_total", database="gone",
                 reason="login_failed") >= 1
    assert value(s, "linkpool_client_login_failures_total", reason="server_login") >= 1
    # The backend comes back: the probe itself retests after server_login_retry.
    lp.write_ini(databases={"gone": pg.db_entry("testdb")})
    lp.reload()
    wait_for(lambda: probe(lp, "/readyz")[0] == 200, timeout=10, interval=0.3,
             what="readyz 200 once the backend answers")


def test_readyz_ignores_a_clients_own_login_error(linkpool, pg):
    """A database name PostgreSQL does not have (3D000) or a refused password
    is that client's error, not an outage: the pooler stays in rotation."""
    lp = linkpool(databases={"typo": pg.db_entry("no_such_database")})
    with pytest.raises(psycopg.Error):
        lp.connect(db="typo")
    status, body = probe(lp, "/readyz")
    assert status == 200, body


def _raw_http(lp, data, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", lp.metrics_port), timeout=timeout)
    try:
        if data:
            s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
    finally:
        s.close()


def _alive(sock):
    """True while the server has not closed sock."""
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def test_bad_http_input(linkpool):
    lp = linkpool()
    assert lp.http_get("/nope")[0] == 404
    assert lp.http_get("/metrics/")[0] == 404
    assert lp.http_get("/metrics", method="POST")[0] == 405
    st, headers, body = lp.http_get("/metrics", method="HEAD")
    assert st == 200 and body == b"" and int(headers["content-length"]) > 1000
    assert _raw_http(lp, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03").startswith(b"HTTP/1.1 400")
    assert _raw_http(lp, b"GET /metrics\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert _raw_http(lp, b"GET /metrics HTTP/1.1\r\nBad Header\r\n\r\n").startswith(b"HTTP/1.1 400")
    big = b"GET /metrics HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 20000 + b"\r\n\r\n"
    assert _raw_http(lp, big).startswith(b"HTTP/1.1 431")
    # Pipelined second request and a body are ignored; one response, then close.
    out = _raw_http(lp, b"GET /healthz HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n")
    assert out.count(b"HTTP/1.1") == 1
    # Connections beyond the bound are closed at once; the pooler is unaffected.
    time.sleep(0.3)  # let the connections above finish draining
    idle = [socket.create_connection(("127.0.0.1", lp.metrics_port), timeout=5) for _ in range(40)]
    time.sleep(0.3)
    assert sum(_alive(s) for s in idle) == 32
    try:
        assert _raw_http(lp, b"GET /healthz HTTP/1.1\r\n\r\n", timeout=3) == b""
    except ConnectionResetError:
        pass  # closed before our request was read: refused as well
    with lp.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    for s in idle:
        s.close()
    wait_for(lambda: lp.http_get("/healthz")[0] == 200, what="endpoint free again")
    s = parse_metrics(scrape(lp))
    assert value(s, "linkpool_http_requests_total", outcome="refused") >= 1
    assert value(s, "linkpool_http_requests_total", outcome="bad_request") >= 4
    assert lp.proc.poll() is None


def test_reload_rebinds_endpoint(linkpool):
    lp = linkpool()
    old = lp.metrics_port
    new = free_port()
    lp.write_ini({"metrics_port": str(new)})
    lp.reload()
    lp.metrics_port = new

    def moved():
        try:
            socket.create_connection(("127.0.0.1", old), timeout=1).close()
            return False
        except OSError:
            return lp.http_get("/healthz")[0] == 200
    wait_for(moved, what="endpoint moved to the new port")
    lp.write_ini({"metrics_port": "0"})
    lp.reload()
    wait_for(lambda: _refused(new), what="endpoint stopped with metrics_port = 0")


def _refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True
