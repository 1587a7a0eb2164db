"""The built-in metrics endpoint: compatible names on a live scrape (checked by
promtool), linkpool's own series, /healthz and /readyz in every state, bad HTTP
input, rebinding on reload; and what a hostile or unlucky peer can do to it:
probes answered under a connection flood, the per-peer limit, the allow list,
and a page of thousands of databases streamed in bounded memory and cut at
metrics_max_series."""

import json
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import psycopg
import pytest

from conftest import LINKPOOL_BIN, free_port, wait_for

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
    # A refused connection keeps the client waiting for the retry (as in
    # PgBouncer); client_login_timeout ends its wait.
    lp = linkpool({"server_login_retry": "1", "client_login_timeout": "1"},
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


def _raw_http(lp, data, timeout=5.0, source=None, host="127.0.0.1"):
    """What the endpoint sends back to data, up to its close."""
    s = socket.create_connection((host, lp.metrics_port), timeout=timeout,
                                 source_address=(source, 0) if source else None)
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
    # the page is streamed: HEAD says so and renders nothing
    assert st == 200 and body == b"" and headers["transfer-encoding"] == "chunked"
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    assert _raw_http(lp, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03").startswith(b"HTTP/1.1 400")
    assert _raw_http(lp, b"GET /metrics\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert _raw_http(lp, b"GET /metrics HTTP/1.1\r\nBad Header\r\n\r\n").startswith(b"HTTP/1.1 400")
    big = b"GET /metrics HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 20000 + b"\r\n\r\n"
    assert _raw_http(lp, big).startswith(b"HTTP/1.1 431")
    # Pipelined second request and a body are ignored; one response, then close.
    out = _raw_http(lp, b"GET /healthz HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n")
    assert out.count(b"HTTP/1.1") == 1
    # HTTP/1.0 gets the page unchunked, ended by the close.
    out = _raw_http(lp, b"GET /metrics HTTP/1.0\r\n\r\n")
    head, _, page = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"chunked" not in head
    assert page.startswith(b"# HELP pgbouncer_up") and page.endswith(b"linkpool_metrics_series_dropped_total 0\n")
    with lp.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    s = parse_metrics(scrape(lp))
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


# ---------------------------------------------------------------- hostile peers

PER_PEER = 8            # LP_HTTP_MAX_CONNS_PER_PEER (src/metrics/http.h)


def _connect_from(port, source, timeout=3.0):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))


def _closed_by_server(sock, wait):
    """True once the server closed sock (EOF or reset) within wait seconds."""
    sock.settimeout(wait)
    try:
        while True:
            if sock.recv(4096) == b"":
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except (socket.timeout, BlockingIOError):
        return False


def _get_from(lp, source, path, host="127.0.0.1"):
    """(status, body) of one GET from source, or (None, why) when refused."""
    try:
        out = _raw_http(lp, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), 3.0, source, host)
    except OSError as e:
        return None, repr(e)
    head, _, body = out.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.1 (\d+)", head)
    return (int(m.group(1)), body) if m else (None, out[:200])


class Flood:
    """Keeps connections to the metrics endpoint open from the given local
    addresses: per address `idle` that send nothing and `slow` slow-loris
    ones that send a request one byte per second. Whatever linkpool closes is
    opened again at once, so the pressure never lets up."""

    REQUEST = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4000

    def __init__(self, port, sources, idle, slow):
        self.port = port
        self.slots = [(src, False) for src in sources for _ in range(idle)] + \
                     [(src, True) for src in sources for _ in range(slow)]
        self.socks = [None] * len(self.slots)
        self.sent = [0] * len(self.slots)
        self.opened = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        last_byte = 0.0
        while not self.stop.is_set():
            tick = time.monotonic() - last_byte >= 1.0
            if tick:
                last_byte = time.monotonic()
            for i, (src, slow) in enumerate(self.slots):
                s = self.socks[i]
                if s is not None and _closed_by_server(s, 0):
                    s.close()
                    s = self.socks[i] = None
                if s is None:
                    try:
                        s = self.socks[i] = _connect_from(self.port, src, 1.0)
                        self.sent[i] = 0
                        self.opened += 1
                    except OSError:
                        continue
                    if slow:        # the first byte at once, so it is accepted
                        s.sendall(self.REQUEST[:1])
                        self.sent[i] = 1
                elif slow and tick:
                    try:
                        s.sendall(self.REQUEST[self.sent[i]:self.sent[i] + 1])
                        self.sent[i] += 1
                    except OSError:
                        pass
            self.stop.wait(0.05)

    def __enter__(self):
        self.thread.start()
        time.sleep(1.5)         # let it fill every slot
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)
        for s in self.socks:
            if s is not None:
                s.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sources", [["127.0.0.2"], [f"127.0.0.{i}" for i in range(10, 70)]],
                         ids=["one_address", "sixty_addresses"])
def test_probes_answer_under_connection_flood(linkpool, sources):
    """Idle and slow-loris connections held open (and reopened) from one or
    many addresses: /healthz, probed every 0.5 s for 10 s from another
    address, answers 200 every time, and a scrape still gets its page."""
    lp = linkpool()
    per_source = max(1, 80 // len(sources))
    with Flood(lp.metrics_port, sources, idle=per_source // 2 or 1, slow=per_source // 2 or 1) as flood:
        results = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            status, body = _get_from(lp, "127.0.0.1", "/healthz")
            results.append((status, round(time.monotonic() - t0, 3), body[:80]))
            time.sleep(max(0.0, 0.5 - (time.monotonic() - t0)))
        status, page = _get_from(lp, "127.0.0.1", "/metrics")
        opened = flood.opened
    assert len(results) >= 18
    failed = [r for r in results if r[0] != 200]
    assert not failed, f"{len(failed)} of {len(results)} probes failed: {failed[:5]}"
    assert opened >= 80, opened
    assert status == 200, page
    # the body is chunked: the sample lines are in it
    assert b"pgbouncer_up 1" in page
    s = parse_metrics(scrape(lp))
    kept_out = sum(value(s, "linkpool_http_requests_total", outcome=o)
                   for o in ("evicted", "peer_limit", "timeout"))
    assert kept_out > 0
    with lp.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_per_peer_connection_limit(linkpool):
    """One address holds at most PER_PEER connections that have not finished
    their request: the next one is closed at accept; other addresses (the
    probes) are unaffected; the limit frees as connections end."""
    lp = linkpool()
    held = []
    for _ in range(PER_PEER):
        s = _connect_from(lp.metrics_port, "127.0.0.3")
        s.sendall(b"G")
        held.append(s)
    time.sleep(0.3)
    extra = _connect_from(lp.metrics_port, "127.0.0.3")
    extra.sendall(b"G")
    assert _closed_by_server(extra, 1.5), f"connection {PER_PEER + 1} from one address was kept"
    extra.close()
    assert not any(_closed_by_server(s, 0) for s in held), "a connection within the limit was closed"
    assert _get_from(lp, "127.0.0.1", "/healthz")[0] == 200
    held.pop().close()
    time.sleep(0.3)
    assert _get_from(lp, "127.0.0.3", "/healthz")[0] == 200
    for s in held:
        s.close()
    s = parse_metrics(scrape(lp))
    assert value(s, "linkpool_http_requests_total", outcome="peer_limit") == 1


def test_metrics_allow_and_listen_addr(linkpool):
    """metrics_listen_addr binds only there; metrics_allow closes every other
    peer at accept, reloads, and a malformed list fails --check."""
    lp = linkpool({"metrics_listen_addr": "127.0.0.5", "metrics_allow": "127.0.0.6, 10.0.0.0/8"})
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", lp.metrics_port), timeout=2).close()

    def status(source, path="/healthz"):
        return _get_from(lp, source, path, host="127.0.0.5")[0]
    assert status("127.0.0.6") == 200
    assert status("127.0.0.6", "/metrics") == 200
    assert status("127.0.0.7") is None          # closed at accept, not a byte of HTTP
    assert lp.wait_log(r"metrics endpoint accepts connections only from 127\.0\.0\.6, 10\.0\.0\.0/8")

    lp.write_ini({"metrics_allow": "127.0.0.0/29"})
    lp.reload()
    wait_for(lambda: status("127.0.0.7") == 200, what="127.0.0.7 allowed after reload")

    def refused():
        # unchunked (HTTP/1.0): the page ends at the close
        page = _raw_http(lp, b"GET /metrics HTTP/1.0\r\n\r\n", source="127.0.0.6", host="127.0.0.5")
        samples = parse_metrics(page.partition(b"\r\n\r\n")[2].decode())
        return value(samples, "linkpool_http_requests_total", outcome="not_allowed")
    # 127.0.0.7 was refused at least once (more while the reload was polled for)
    before = refused()
    assert before >= 1
    assert status("127.0.0.9") is None
    assert refused() == before + 1

    for bad in ("127.0.0.1/33", "localhost", "10.0.0.0/8;"):
        lp.write_ini({"metrics_allow": bad})
        r = subprocess.run([LINKPOOL_BIN, "--check", lp.ini_path], capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and re.search(r"linkpool\.ini:\d+: .*metrics_allow", r.stdout + r.stderr), \
            (bad, r.stdout + r.stderr)


def _count_families(text):
    """{family: number of sample lines}"""
    fams, out = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, _ = line.split(" ", 3)
            fams[name] = 0
            cur = name
        elif line and not line.startswith("#"):
            out[cur] = out.get(cur, 0) + 1
    return {**fams, **out}


@pytest.mark.timeout(300)
def test_scrape_of_thousands_of_databases_is_bounded(linkpool, pg, tmp_path):
    """3,000 databases with long names: the page is cut at metrics_max_series
    series per family, the cut is counted exactly, the page still parses,
    and a scrape costs the process a small constant of memory, not the
    page's size."""
    cap = 2000
    ndb = 3000
    databases = {f"db_{i:05d}_{'x' * 100}": pg.db_entry("testdb") for i in range(ndb)}
    lp = linkpool({"metrics_max_series": str(cap)}, databases=databases, start=False)
    lp.start(wait=False)
    lp.wait_listening(timeout=120)
    wait_for(lambda: lp.http_get("/healthz")[0] == 200, timeout=30, what="metrics endpoint")
    rss0 = lp.rss_kb()
    status, headers, body = lp.http_get("/metrics", timeout=60)
    rss1 = lp.rss_kb()
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    text = body.decode()
    assert len(text) > 10_000_000      # the page is large ...
    assert rss1 - rss0 < 8 * 1024, (rss0, rss1)   # ... what linkpool held for it is not

    counts = _count_families(text)
    assert max(counts.values()) <= cap, max(counts.items(), key=lambda kv: kv[1])
    # every per-database family was cut; the counter says by exactly how much
    n = ndb + 2         # and testdb, otherdb
    per_db = {1: 31, 11: 1, 21: 3}     # series per database: how many families
    want = sum(k * (n - cap // per) * per for per, k in per_db.items())
    assert counts["pgbouncer_stats_totals_queries_pooled_total"] == cap
    assert counts["linkpool_server_connections_closed_total"] == (cap // 11) * 11
    assert counts["linkpool_query_duration_seconds"] == (cap // 21) * 21
    s = parse_metrics(text)
    assert value(s, "linkpool_metrics_series_dropped_total") == want
    assert value(s, "pgbouncer_databases") == n       # the fixed families are whole
    if PROMTOOL:
        path = tmp_path / "big.txt"
        path.write_text(text)
        r = subprocess.run([PROMTOOL, "check", "metrics"], stdin=open(path), capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, (r.stdout + r.stderr)[:2000]
    # the second scrape adds its drops to the counter
    s = parse_metrics(scrape(lp))
    assert value(s, "linkpool_metrics_series_dropped_total") == 2 * want
    assert lp.rss_kb() - rss0 < 8 * 1024


def _dechunk(body):
    """The payload of a chunked body; fails when the final chunk is missing."""
    out, pos = bytearray(), 0
    while True:
        eol = body.index(b"\r\n", pos)
        size = int(body[pos:eol], 16)
        if size == 0:
            assert body[eol:] == b"\r\n\r\n", "bytes after the last chunk"
            return bytes(out)
        out += body[eol + 2:eol + 2 + size]
        assert body[eol + 2 + size:eol + 4 + size] == b"\r\n", "chunk framing broken"
        pos = eol + 4 + size


@pytest.mark.timeout(300)
def test_page_streamed_across_a_reload(linkpool, pg):
    """A slow scraper is still being sent its page when a reload removes and
    adds databases: the page it gets is whole and valid (each series once,
    no database added after it began), and the next page has the change."""
    old = {f"old_{i:04d}_{'y' * 100}": pg.db_entry("testdb") for i in range(1000)}
    lp = linkpool(databases=old, start=False)
    lp.start(wait=False)
    lp.wait_listening(timeout=120)
    s = socket.create_connection(("127.0.0.1", lp.metrics_port), timeout=30)
    s.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
    page = s.recv(65536)
    time.sleep(0.5)     # the socket buffers fill; linkpool waits in the middle of the page
    new = {f"new_{i:04d}": pg.db_entry("testdb") for i in range(200)}
    lp.write_ini(databases={**{k: None for k in list(old)[:500]}, **new})
    lp.reload()
    lp.wait_log("configuration reloaded")
    while chunk := s.recv(65536):
        page += chunk
    s.close()
    head, _, body = page.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding: chunked" in head
    text = _dechunk(body).decode()     # fails unless the page ended with its last chunk
    assert len(text) > 8_000_000       # far more than the socket buffers held at the reload
    assert "linkpool_metrics_series_dropped_total" in text
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(lines) == len(set(line.rsplit(" ", 1)[0] for line in lines)), "a series appears twice"
    assert 'database="new_' not in text
    if PROMTOOL:
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, (r.stdout + r.stderr)[:2000]
    after = scrape(lp)
    assert 'name="new_0199"' in after and 'name="old_0000_' not in after
