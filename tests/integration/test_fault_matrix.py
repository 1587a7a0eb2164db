"""The fault matrix: network and server faults under a transaction-mode write
load, with a commit ledger.

Database `testdb` reaches a PostgreSQL cluster of this module's own (so that
restarting or crashing it does not disturb other tests) through faultproxy;
`otherdb` is the session cluster, reached directly: the "other pool" that
must keep being served while testdb's path misbehaves.

Each case runs:
  - writers: short transactions (BEGIN; a check; INSERT of a unique id;
    optionally a result of some KB; COMMIT) on transaction-pooled clients;
    each id ends up "acked" (COMMIT answered), "failed" (an error before
    COMMIT was sent: it must not be in the table; errors are counted by
    stage: connect, begin -- the transaction's first statement --, body,
    commit) or "unknown" (the
    connection was lost while COMMIT was out: either outcome is right, and
    it is counted apart, never as lost);
  - a sentinel: clients that open a transaction, SET LOCAL lp.sentinel and
    insert a row into `sentinel`, then die (RST or Terminate) inside it. A
    writer that sees lp.sentinel, or finds a transaction id already
    assigned when its transaction starts, was handed a dirty server; a row
    in `sentinel` means someone committed a dead client's transaction;
  - a probe on otherdb (SELECT 1 every 50 ms);
then the fault, recovery, and the checks: linkpool running and its console
answering, the probe never failed nor stalled, 0 acked ids missing, 0 failed
ids present, 0 dirty servers, 0 sentinel rows. Figures go to record().
"""

import collections
import itertools
import os
import random
import signal
import struct
import threading
import time

import psycopg
import pytest

import rawpg
from conftest import own_cluster, wait_for
from faultproxy import FaultProxy
from record import record

# linkpool settings of every case: the detection bounds below follow from them
QUERY_TIMEOUT = 2          # s: the blackhole and SIGSTOP cases' query_timeout: a query
                           #    (or a queued client) unanswered this long fails
CONNECT_TIMEOUT = 5        # s: server login, and pooler queries (check, reset)
JANITOR = 0.25             # s: linkpool checks its timers this often
SLACK = 1.5                # s: scheduling under ASan on a shared 2-core machine
STALL_BOUND = QUERY_TIMEOUT + JANITOR + SLACK
PROBE_BOUND = 3.0          # s: the other pool's longest SELECT 1 during a fault

_ids = itertools.count(int(time.time()) % 100000 * 100000)
_ids_lock = threading.Lock()


def next_id():
    with _ids_lock:
        return next(_ids)


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def fpg():
    """A cluster of this module's own, durable commits (synchronous_commit on:
    a crash must not lose what PostgreSQL acknowledged)."""
    def setup(cluster):
        cluster.sql("ALTER SYSTEM SET synchronous_commit = on")
        cluster.sql("SELECT pg_reload_conf()")
        cluster.sql("CREATE TABLE ledger (id bigint PRIMARY KEY, writer int); "
                    "CREATE TABLE sentinel (id bigint); "
                    "CREATE TABLE copyin (batch bigint, n int, t text); "
                    "GRANT ALL ON ledger, sentinel, copyin TO PUBLIC", db="testdb")
    with own_cluster(setup) as cluster:
        yield cluster


@pytest.fixture
def proxy(fpg):
    p = FaultProxy(fpg.host, fpg.port).start()
    yield p
    p.stop()


@pytest.fixture
def fault_lp(linkpool, pg, proxy):
    def make(**ini):
        conf = {"pool_mode": "transaction", "default_pool_size": "4",
                "query_timeout": "10", "server_connect_timeout": str(CONNECT_TIMEOUT),
                "server_login_retry": "1", "query_wait_timeout": "10",
                "server_reset_query": "DISCARD ALL"}
        conf.update(ini)
        return linkpool(conf, databases={"testdb": proxy.db_entry("testdb"),
                                         "otherdb": pg.db_entry("otherdb")})
    return make


# ---------------------------------------------------------------- load

class Load:
    """Writers, the sentinel and the other-pool probe, in threads."""

    def __init__(self, lp, writers=6, result_rows=0, think=0.005):
        self.lp = lp
        self.writers, self.result_rows, self.think = writers, result_rows, think
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.acked, self.failed, self.unknown = set(), set(), set()
        self.errors = collections.Counter()
        self.error_times = []
        self.dirty = []
        self.in_call = {}          # writer -> start of the call it is in
        self.longest_call = 0.0
        self.sentinels = collections.Counter()
        self.probe_ok = 0
        self.probe_fail = []
        self.probe_max = 0.0
        self.threads = []

    def start(self):
        targets = [(self._writer, (n,)) for n in range(self.writers)]
        targets += [(self._sentinel, ()), (self._probe, ())]
        for fn, args in targets:
            t = threading.Thread(target=fn, args=args, daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self):
        self.stop_ev.set()
        deadline = time.monotonic() + 15
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        hung = [t for t in self.threads if t.is_alive()]
        assert not hung, f"{len(hung)} load threads still blocked 15 s after the load stopped"

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def _call(self, n, fn):
        self.in_call[n] = time.monotonic()
        try:
            return fn()
        finally:
            took = time.monotonic() - self.in_call.pop(n)
            self.longest_call = max(self.longest_call, took)

    def _error(self, e, kind):
        with self.lock:
            if getattr(e, "sqlstate", None) in ("25P02", "25001"):
                # an aborted, or already open, transaction that was not ours
                self.dirty.append((kind, e.sqlstate, str(e)[:80]))
            what = getattr(e, "sqlstate", None) or str(e).strip().splitlines()[0][:70]
            self.errors[f"{kind}: {what}"] += 1
            self.error_times.append(time.monotonic())

    def _writer(self, n):
        conn = None
        while not self.stop_ev.is_set():
            if conn is None:
                try:
                    conn = self._call(n, lambda: psycopg.connect(
                        self.lp.dsn(connect_timeout=5), autocommit=False, prepare_threshold=None))
                except psycopg.Error as e:
                    self._error(e, "connect")
                    time.sleep(0.05)
                    continue
            wid = next_id()
            stage = "begin"    # "begin": no transaction of ours is open yet
            try:
                row = self._call(n, lambda: conn.execute(
                    "SELECT current_setting('lp.sentinel', true), "
                    "txid_current_if_assigned()::text").fetchone())
                if row[0] == "dirty" or row[1] is not None:
                    with self.lock:
                        self.dirty.append((wid, row))
                stage = "body"     # inside our transaction
                self._call(n, lambda: conn.execute(
                    "INSERT INTO ledger (id, writer) VALUES (%s, %s)", (wid, n)))
                if self.result_rows and wid % 2:
                    self._call(n, lambda: conn.execute(
                        "SELECT g, repeat('r', 200) FROM generate_series(1, %s) g",
                        (self.result_rows,)).fetchall())
                elif self.result_rows:
                    self._call(n, lambda: self._copy_out(conn))
                stage = "commit"
                self._call(n, conn.commit)
                with self.lock:
                    self.acked.add(wid)
            except psycopg.Error as e:
                with self.lock:
                    (self.unknown if stage == "commit" else self.failed).add(wid)
                self._error(e, stage)
                conn.close()
                conn = None
                time.sleep(0.02)
                continue
            time.sleep(self.think)
        if conn is not None:
            conn.close()

    def _copy_out(self, conn):
        with conn.cursor().copy("COPY (SELECT g, repeat('c', 200) FROM generate_series(1, %s) g) "
                                "TO STDOUT" % int(self.result_rows)) as cp:
            return sum(len(b) for b in cp)

    def _sentinel(self):
        """Dies inside transactions that no one may ever see or commit."""
        i = 0
        while not self.stop_ev.is_set():
            i += 1
            c = None
            try:
                c = rawpg.RawConn(self.lp.host, self.lp.port, timeout=3)
                c.login("scram_user", "testdb", "scram-secret-1")
                c.run("BEGIN")
                c.run("SET LOCAL lp.sentinel = 'dirty'")
                c.run(f"INSERT INTO sentinel VALUES ({next_id()})")
                if i % 2:
                    c.close(abort=True)                  # RST, like a killed process
                else:
                    c.send(rawpg.terminate())            # a clean exit, inside a transaction
                    c.close()
                self.sentinels["died_in_transaction"] += 1
            except (OSError, rawpg.PgError, rawpg.Closed, TimeoutError, ValueError):
                self.sentinels["refused"] += 1
                if c is not None:
                    c.close(abort=True)
            time.sleep(0.1)

    def _probe(self):
        conn = None
        while not self.stop_ev.is_set():
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = psycopg.connect(self.lp.dsn(db="otherdb", connect_timeout=5),
                                           autocommit=True, prepare_threshold=None)
                conn.execute("SELECT 1").fetchone()
                self.probe_ok += 1
            except psycopg.Error as e:
                self.probe_fail.append(repr(e))
                if conn is not None:
                    conn.close()
                conn = None
            self.probe_max = max(self.probe_max, time.monotonic() - t0)
            time.sleep(0.05)
        if conn is not None:
            conn.close()


# ---------------------------------------------------------------- the case runner

def settle(fpg, timeout=15):
    """Every transaction left open behind the proxy has ended (after heal)."""
    wait_for(lambda: not [b for b in fpg.backends(db="testdb") if b[3] and "transaction" in b[3]],
             timeout=timeout, interval=0.2, what="open transactions on the faulted cluster to end")


def check_ledger(fpg, load):
    ids = list(load.acked | load.failed | load.unknown)
    present = {r[0] for r in fpg.sql("SELECT id FROM ledger WHERE id = ANY(%s)", (ids,), db="testdb")}
    lost = load.acked - present
    phantom = load.failed & present
    sentinel_rows = fpg.sql("SELECT count(*) FROM sentinel", db="testdb")[0][0]
    assert not lost, f"{len(lost)} acknowledged commits missing: {sorted(lost)[:10]}"
    assert not phantom, f"{len(phantom)} writes that failed before COMMIT were committed"
    assert not load.dirty, f"servers handed out inside another client's transaction: {load.dirty[:5]}"
    assert sentinel_rows == 0, f"{sentinel_rows} rows of dead clients' transactions were committed"
    return {"acked": len(load.acked), "failed": len(load.failed), "unknown": len(load.unknown),
            "unknown_committed": len(load.unknown & present), "lost": len(lost),
            "phantom": len(phantom), "dirty": len(load.dirty),
            "sentinel_deaths": load.sentinels["died_in_transaction"]}


def assert_alive(lp):
    assert lp.proc.poll() is None, "linkpool exited"
    assert lp.admin_rows("SHOW POOLS"), "console gave no pools"


def run_case(name, lp, fpg, proxy, fault, writers=6, result_rows=0, probe=True, alive=True,
             recover=True, think=0.005, probe_bound=PROBE_BOUND):
    """Load, fault (a function returning its figures), recovery, checks, record."""
    load = Load(lp, writers, result_rows, think).start()
    try:
        wait_for(lambda: load.acked_count() >= 10, timeout=20, what="the write load to get going")
        t0 = time.monotonic()
        figures = fault(load) or {}
        if proxy is not None:
            proxy.heal()
        if recover:
            base = load.acked_count()
            t1 = time.monotonic()
            wait_for(lambda: load.acked_count() >= base + 10, timeout=20,
                     what="writes to succeed again after the fault")
            figures["recovery_s"] = round(time.monotonic() - t1, 2)
        figures["fault_s"] = round(time.monotonic() - t0, 2)
    finally:
        if proxy is not None:
            proxy.heal()
        load.stop()
    if alive:
        assert_alive(lp)
    settle(fpg)
    figures.update(check_ledger(fpg, load))
    figures["longest_call_s"] = round(load.longest_call, 2)
    if alive:
        assert figures["sentinel_deaths"] > 0, "the sentinel never died inside a transaction"
    figures["errors"] = dict(load.errors)
    if probe:
        assert not load.probe_fail, f"the other pool failed during the fault: {load.probe_fail[:3]}"
        assert load.probe_max < probe_bound, f"the other pool stalled {load.probe_max:.2f}s"
        figures["other_pool_queries"] = load.probe_ok
        figures["other_pool_max_s"] = round(load.probe_max, 3)
    record("faults", name, writers=writers, **figures)
    return figures, load


def first_error_after(load, t0, timeout):
    def seen():
        with load.lock:
            return next((t for t in load.error_times if t >= t0), None)
    return wait_for(seen, timeout=timeout, interval=0.05, what="clients to see the fault") - t0


# ---------------------------------------------------------------- the proxy itself

@pytest.mark.timeout(60)
def test_proxy_faults_direct(fpg, proxy):
    """faultproxy does what it says, straight to PostgreSQL (no linkpool)."""
    dsn = (f"host={proxy.host} port={proxy.port} user=scram_user dbname=testdb "
           "password=scram-secret-1 sslmode=disable connect_timeout=5")
    big = "SELECT g, md5(g::text) FROM generate_series(1, 2000) g"
    with psycopg.connect(dsn, autocommit=True) as c:
        plain = c.execute(big).fetchall()
        proxy.slice()
        assert c.execute(big).fetchall() == plain
        proxy.latency(0.2)
        t = time.monotonic()
        c.execute("SELECT 1")
        assert time.monotonic() - t >= 0.35        # both directions delayed
        proxy.bandwidth(20000)
        t = time.monotonic()
        assert c.execute("SELECT repeat('b', 20000)").fetchone()[0] == "b" * 20000
        assert time.monotonic() - t >= 0.7
        proxy.heal()
        assert c.execute("SELECT 2").fetchone() == (2,)
    for kind in ("reset", "fin"):
        with psycopg.connect(dsn, autocommit=True) as c:
            getattr(proxy, f"{kind}_after")(1000)
            with pytest.raises(psycopg.OperationalError):
                c.execute(big).fetchall()
            proxy.heal()
    assert proxy.counts["reset"] == 1 and proxy.counts["fin"] == 1
    # blackhole: no answer, no close; healed, the held bytes flow on
    with psycopg.connect(dsn, autocommit=True) as c:
        proxy.blackhole()
        done = []
        t = threading.Thread(target=lambda: done.append(c.execute("SELECT 3").fetchone()))
        t.start()
        t.join(1.0)
        assert t.is_alive() and not done
        proxy.heal()
        t.join(5)
        assert done == [(3,)]
    # new connections only
    proxy.blackhole(live=False)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn.replace("connect_timeout=5", "connect_timeout=1"))
    proxy.heal()
    with psycopg.connect(dsn) as c:
        assert c.execute("SELECT 4").fetchone() == (4,)


# ---------------------------------------------------------------- the matrix

@pytest.mark.timeout(90)
@pytest.mark.parametrize("scope", ["all", "live"])
def test_blackholed_server(fault_lp, fpg, proxy, scope):
    """Nothing comes back and nothing closes. scope=all: every link and every
    new login; scope=live: the links open now (new logins go through).
    query_timeout fails the clients whose query is out, server_connect_timeout
    the logins, within QUERY_TIMEOUT + janitor period (+ slack); with only
    the old links dead, writes go on over new ones while the fault lasts."""
    lp = fault_lp(query_timeout=str(QUERY_TIMEOUT))

    def fault(load):
        t0 = time.monotonic()
        proxy.blackhole(new=(scope == "all"))
        detect = first_error_after(load, t0, STALL_BOUND + 2)
        if scope == "live":
            base = load.acked_count()
            wait_for(lambda: load.acked_count() >= base + 10, timeout=STALL_BOUND + 5,
                     what="writes over new links while the old ones are blackholed")
        time.sleep(STALL_BOUND + 0.5)
        stuck = [round(time.monotonic() - s, 2) for s in list(load.in_call.values())
                 if time.monotonic() - s > STALL_BOUND]
        assert not stuck, f"clients blocked past the bound {STALL_BOUND}s: {stuck}"
        assert detect <= STALL_BOUND
        return {"detection_s": round(detect, 2), "bound_s": STALL_BOUND,
                "still_blackholed_links": proxy.live_count()}

    name = "blackholed server" if scope == "all" else "blackholed live links (new logins pass)"
    figures, load = run_case(name, lp, fpg, proxy, fault)
    assert load.failed or load.unknown
    assert figures["longest_call_s"] <= STALL_BOUND + 0.5


@pytest.mark.timeout(90)
def test_blackholed_idle_links(fault_lp, fpg, proxy):
    """Links blackholed while idle in the pool (new logins pass): with
    server_check_delay 0 each is checked at reuse, the check goes unanswered
    for server_connect_timeout, the link is closed and the client is given
    another one -- it waits, it does not fail. Each idle link is checked in
    turn, so a client may wait server_connect_timeout once per blackholed
    idle link it is handed: at most default_pool_size (4) times."""
    lp = fault_lp(server_check_delay="0", server_connect_timeout="2")
    bound = 4 * (2 + JANITOR) + SLACK

    def fault(load):
        # writers think 0.3 s between transactions: the links are mostly idle
        t0 = time.monotonic()
        proxy.blackhole(new=False)
        time.sleep(3)
        base = load.acked_count()
        wait_for(lambda: load.acked_count() >= base + 5, timeout=bound + 5,
                 what="writes over new links")
        return {"bound_s": bound, "checks_unanswered": proxy.live_count(),
                "fault_window_s": round(time.monotonic() - t0, 2)}

    figures, load = run_case("blackholed idle links (server_check_delay 0)", lp, fpg, proxy,
                             fault, writers=3, think=0.3)
    assert figures["longest_call_s"] <= bound + 0.5
    assert figures["failed"] + figures["unknown"] <= 1, figures["errors"]


def _keepalive_timers(port):
    """Seconds left on the keepalive timer of each established TCP socket
    to 127.0.0.1:port (from /proc/net/tcp: timer 2 is keepalive)."""
    out = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            rem, st, timer = cols[2], cols[3], cols[5]
            if st != "01" or rem != f"0100007F:{port:04X}":
                continue
            kind, when = timer.split(":")
            if int(kind, 16) == 2:
                out.append(int(when, 16) / os.sysconf("SC_CLK_TCK"))
    return out


@pytest.mark.timeout(60)
def test_keepalive_on_server_links(fault_lp, proxy):
    """tcp_keepidle reaches linkpool's server sockets: an idle link's
    keepalive timer fires within tcp_keepidle, not the OS's 2 hours. (The
    proxy's own kernel answers keepalive probes, so a blackhole made by it
    cannot show the probes failing; against a real dead network the bound
    is tcp_keepidle + tcp_keepintvl * tcp_keepcnt for an idle link and
    tcp_user_timeout for one with unacknowledged data.)"""
    lp = fault_lp(tcp_keepalive="1", tcp_keepidle="7", tcp_keepintvl="1", tcp_keepcnt="2",
                  tcp_user_timeout="3000")
    with lp.connect() as c:
        c.execute("SELECT 1")
    timers = wait_for(lambda: _keepalive_timers(proxy.port), timeout=5,
                      what="a keepalive timer on a server link")
    assert all(t <= 7 for t in timers), timers
    record("faults", "keepalive settings on server links", links=len(timers),
           keepidle_s=7, bound_idle_link_s=7 + 1 * 2, longest_timer_s=max(timers))


@pytest.mark.timeout(90)
@pytest.mark.parametrize("kind", ["reset", "fin"])
def test_server_cut_mid_result(fault_lp, fpg, proxy, kind):
    """The server's side goes (RST, or FIN) anywhere: in a login, in a result
    of ~10 KB (rows or COPY out), in the pooler's own check and reset queries
    (run at every reuse here): the client gets an error at once, nothing
    else is touched."""
    lp = fault_lp(server_check_delay="0", server_reset_query_always="1")

    def fault(load):
        rng = random.Random(19)
        t0 = time.monotonic()
        while time.monotonic() < t0 + 2.5:
            # anywhere: in a login, a header, a row, a COMMIT's answer
            getattr(proxy, f"{kind}_after")(rng.randint(1, 12000))
            time.sleep(0.25)
        detect = first_error_after(load, t0, 1)
        return {"cuts": proxy.counts[kind], "detection_s": round(detect, 2)}

    name = "server RST mid-result" if kind == "reset" else "server FIN mid-result"
    figures, load = run_case(name, lp, fpg, proxy, fault, result_rows=50)
    assert figures["cuts"] > 0
    assert figures["longest_call_s"] <= STALL_BOUND


QUERIES = [
    "SELECT g, md5(g::text), repeat('y', g % 97), g::numeric / 7 FROM generate_series(1, 400) g",
    "SELECT NULL::text, ''::text, E'\\\\x00'::bytea, 'ünïcødé', now() - now()",
    "SELECT oid, typname, typlen FROM pg_type ORDER BY oid LIMIT 150",
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["slice", "slow"])
def test_one_byte_slices_and_slow_link(fault_lp, fpg, proxy, how):
    """Every write on the server path in 1-byte pieces (and, for the results
    check, on the client path too), or a slow link (30 ms each way, 64 KB/s):
    no error, and results (simple and extended protocol, an error, COPY out,
    COPY in) identical to a direct connection's."""
    lp = fault_lp()

    def outcome(conn, q, params=None):
        try:
            cur = conn.execute(q, params)
            return ("rows", cur.fetchall(), [d.name for d in cur.description])
        except psycopg.Error as e:
            return ("error", e.sqlstate, str(e))

    def copy_out(conn):
        with conn.cursor().copy("COPY (SELECT g, md5(g::text) FROM generate_series(1, 300) g) "
                                "TO STDOUT") as cp:
            return b"".join(bytes(b) for b in cp)

    def answers(conn):
        out = [outcome(conn, q) for q in QUERIES]
        out.append(outcome(conn, "SELECT %s::int + 1, %s::text", (41, "param")))
        out.append(outcome(conn, "SELECT 1 / 0"))
        out.append(copy_out(conn))
        return out

    with psycopg.connect(fpg.dsn(), autocommit=True) as direct:
        expected = answers(direct)

    def copy_in(conn):
        batch = next_id()
        with conn.cursor().copy("COPY copyin FROM STDIN") as cp:
            for i in range(300):
                cp.write_row((batch, i, "t" * (i % 40)))
        return fpg.sql("SELECT count(*), sum(length(t)) FROM copyin WHERE batch = %s", (batch,),
                       db="testdb")[0]

    def fault(load):
        if how == "slice":
            proxy.slice()
        else:
            proxy.degrade(latency=0.03, rate=64 * 1024)
        with lp.connect() as c:
            got = answers(c)
            assert copy_in(c) == (300, sum(i % 40 for i in range(300)))
        assert got == expected
        figures = {"identical_results": len(expected) + 1}
        if how == "slice":
            # and between the client and linkpool too: linkpool reads every
            # message of the client's (startup, SCRAM, Parse/Bind, COPY data)
            # one byte at a time
            with FaultProxy(lp.host, lp.port) as front:
                front.slice()
                dsn = lp.dsn().replace(f"port={lp.port}", f"port={front.port}")
                with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as c:
                    assert answers(c) == expected
                    assert copy_in(c) == (300, sum(i % 40 for i in range(300)))
            figures["client_side_sliced_too"] = True
        time.sleep(2)
        return figures

    name = "1-byte slices" if how == "slice" else "slow link (30 ms, 64 KB/s)"
    # the proxy's byte-at-a-time pumps share this process (and its GIL) with
    # the probe: its bound is wider here
    figures, load = run_case(name, lp, fpg, proxy, fault, writers=3, result_rows=20,
                             probe_bound=2 * PROBE_BOUND)
    assert figures["failed"] == 0 and figures["unknown"] == 0, figures["errors"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restart_and_crash(fault_lp, fpg, proxy, mode):
    """pg_ctl restart -m fast, and -m immediate (a crash: every backend
    killed, recovery at start): the pool recovers within server_login_retry."""
    lp = fault_lp()

    def fault(load):
        t0 = time.monotonic()
        if mode == "fast":
            fpg.restart("fast")
        else:
            fpg.stop("immediate")
            time.sleep(0.5)
            fpg.start()
        return {"restart_s": round(time.monotonic() - t0, 2)}

    name = "PostgreSQL restart (fast)" if mode == "fast" else "PostgreSQL crash (immediate)"
    run_case(name, lp, fpg, proxy, fault)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("state", ["busy", "idle"])
def test_terminate_backends(fault_lp, fpg, proxy, state):
    """pg_terminate_backend of servers running a transaction, or idle in the pool."""
    lp = fault_lp()

    def fault(load):
        killed = 0
        end = time.monotonic() + 3
        while time.monotonic() < end:
            rows = fpg.backends(db="testdb")
            if state == "busy":
                pids = [r[0] for r in rows if r[3] and r[3] != "idle"]
            else:
                pids = [r[0] for r in rows if r[3] == "idle"]
            for pid in pids[:2]:
                killed += fpg.sql("SELECT pg_terminate_backend(%s)", (pid,))[0][0]
            time.sleep(0.3)
        assert killed > 0
        return {"terminated": killed}

    run_case(f"pg_terminate_backend ({state})", lp, fpg, proxy, fault)


@pytest.mark.timeout(90)
def test_sigstop_backend(fault_lp, fpg, proxy):
    """A backend frozen (SIGSTOP) for 4 s: the client on it fails by
    query_timeout; the others keep going; SIGCONT afterwards."""
    lp = fault_lp(query_timeout=str(QUERY_TIMEOUT))

    def fault(load):
        pid = wait_for(lambda: next((r[0] for r in fpg.backends(db="testdb")
                                     if r[3] and r[3] != "idle"), None),
                       timeout=5, what="a busy backend")
        t0 = time.monotonic()
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(4)
        finally:
            os.kill(pid, signal.SIGCONT)
        with load.lock:
            errs = [t - t0 for t in load.error_times if t >= t0]
        return {"detection_s": round(errs[0], 2) if errs else None, "bound_s": STALL_BOUND,
                "stopped_s": 4}

    figures, load = run_case("SIGSTOP of a backend", lp, fpg, proxy, fault)
    assert figures["longest_call_s"] <= STALL_BOUND + 0.5


def _copy_then_rst(lp, in_tx):
    c = rawpg.RawConn(lp.host, lp.port, timeout=3)
    c.login("scram_user", "testdb", "scram-secret-1")
    if in_tx:
        c.run("BEGIN")
        c.run(f"INSERT INTO sentinel VALUES ({next_id()})")
    c.send(rawpg.query("COPY sentinel FROM STDIN"))
    mtype, _ = c.recv_msg()
    assert mtype == "G", mtype
    rows = "".join(f"{next_id()}\n" for _ in range(50)).encode()
    c.send(rawpg.msg("d", rows))
    c.send(rawpg.msg("d", b"12"))       # a row cut in half
    c.close(abort=True)


def _big_result_then_rst(lp):
    """Killed while a ~5 MB result streams to it, inside a transaction."""
    c = rawpg.RawConn(lp.host, lp.port, timeout=3)
    c.login("scram_user", "testdb", "scram-secret-1")
    c.run("BEGIN")
    c.run("SET LOCAL lp.sentinel = 'dirty'")
    c.run(f"INSERT INTO sentinel VALUES ({next_id()})")
    c.send(rawpg.query("SELECT repeat('z', 1000) FROM generate_series(1, 5000)"))
    while c.recv_msg()[0] != "D":
        pass
    c.close(abort=True)


def _unsynced_insert_then_rst(lp, in_tx):
    """Extended protocol: an INSERT executed but no Sync yet (in autocommit
    its implicit transaction commits only at Sync), then killed."""
    c = rawpg.RawConn(lp.host, lp.port, timeout=3)
    c.login("scram_user", "testdb", "scram-secret-1")
    if in_tx:
        c.run("BEGIN")
    sql = f"INSERT INTO sentinel VALUES ({next_id()})"
    c.send(rawpg.msg("P", rawpg.cstr("") + rawpg.cstr(sql) + struct.pack("!H", 0))
           + rawpg.msg("B", rawpg.cstr("") + rawpg.cstr("") + struct.pack("!HHH", 0, 0, 0))
           + rawpg.msg("E", rawpg.cstr("") + struct.pack("!I", 0))
           + rawpg.msg("H"))
    while c.recv_msg()[0] != "C":
        pass
    c.close(abort=True)


@pytest.mark.timeout(90)
def test_client_rst_mid_transaction_and_copy(fault_lp, fpg, proxy):
    """Clients killed (RST) inside a transaction, in the middle of COPY FROM
    STDIN (autocommit and inside a transaction), while a big result streams
    to them, and after an extended-protocol INSERT with no Sync yet: none of
    their rows is ever committed, no one inherits their state."""
    lp = fault_lp()

    def fault(load):
        n = collections.Counter()
        for i in range(40):
            try:
                if i % 5 == 3:
                    _big_result_then_rst(lp)
                    n["rst_mid_result"] += 1
                elif i % 5 == 4:
                    _unsynced_insert_then_rst(lp, in_tx=(i % 2 == 0))
                    n["rst_before_sync"] += 1
                elif i % 5 == 0:
                    c = rawpg.RawConn(lp.host, lp.port, timeout=3)
                    c.login("scram_user", "testdb", "scram-secret-1")
                    c.run("BEGIN")
                    c.run("SET LOCAL lp.sentinel = 'dirty'")
                    c.run(f"INSERT INTO sentinel VALUES ({next_id()})")
                    c.send(rawpg.query("SELECT pg_sleep(0.2)"))   # mid-query too
                    c.close(abort=True)
                    n["rst_mid_transaction"] += 1
                else:
                    _copy_then_rst(lp, in_tx=(i % 5 == 2))
                    n["rst_mid_copy"] += 1
            except (OSError, rawpg.PgError, rawpg.Closed, TimeoutError) as e:
                n[f"refused:{type(e).__name__}"] += 1
        return dict(n)

    figures, load = run_case("client RST mid-transaction / mid-COPY", lp, fpg, proxy, fault)
    assert figures["failed"] == 0 and figures["unknown"] == 0, figures["errors"]


@pytest.mark.timeout(90)
def test_pause_resume_under_load(fault_lp, fpg, proxy):
    """PAUSE testdb waits for the running transactions, holds the writers
    queued, RESUME lets them on: no write fails, otherdb is not paused.
    (query_timeout, 10 s here, counts a queued client's wait, paused or not.)"""
    lp = fault_lp()

    def fault(load):
        t0 = time.monotonic()
        lp.admin("PAUSE testdb")
        paused_after = time.monotonic() - t0
        before = load.acked_count()
        time.sleep(1.5)
        during = load.acked_count() - before
        lp.admin("RESUME testdb")
        assert during == 0, f"{during} commits while paused"
        return {"pause_s": round(paused_after, 2), "held_s": 1.5}

    figures, load = run_case("PAUSE/RESUME", lp, fpg, proxy, fault)
    assert figures["failed"] == 0 and figures["unknown"] == 0, figures["errors"]


@pytest.mark.timeout(90)
def test_reload_under_load(fault_lp, fpg, proxy):
    """RELOAD of a changed file, then of a broken one (kept out, logged),
    then of the good one: no write fails."""
    lp = fault_lp()

    def fault(load):
        lp.write_ini({"default_pool_size": "3"})
        lp.admin("RELOAD")
        wait_for(lambda: lp.admin("SHOW CONFIG") and any(
            r[0] == "default_pool_size" and r[1] == "3" for r in lp.admin("SHOW CONFIG")),
            timeout=5, what="the new pool size")
        time.sleep(1)
        good = lp.ini_text()
        lp.write_raw(good + "\n[pgbouncer\nno_such_setting_xyz = 1\n")
        try:
            lp.admin("RELOAD")
            broken = "accepted"
        except psycopg.Error as e:
            broken = e.sqlstate or "error"
        time.sleep(1)
        assert any(r[0] == "default_pool_size" and r[1] == "3" for r in lp.admin("SHOW CONFIG"))
        lp.write_raw(good)
        lp.admin("RELOAD")
        time.sleep(1)
        return {"broken_reload": broken}

    figures, load = run_case("RELOAD (valid, broken)", lp, fpg, proxy, fault)
    assert figures["failed"] == 0 and figures["unknown"] == 0, figures["errors"]


@pytest.mark.timeout(90)
def test_sigint_drain_under_load(fault_lp, fpg, proxy):
    """SIGINT (SHUTDOWN WAIT_FOR_SERVERS) under load: running transactions
    finish, new ones are refused with 57P01, linkpool exits 0 once its
    servers are gone -- and nothing acknowledged is lost."""
    lp = fault_lp()

    long_id = next_id()
    long_tx = {}

    def long_transaction():
        """Under way when the signal comes: 1 s of work, then COMMIT."""
        try:
            with psycopg.connect(lp.dsn(), prepare_threshold=None) as c:
                c.execute("INSERT INTO ledger (id, writer) VALUES (%s, -1)", (long_id,))
                long_tx["started"] = time.monotonic()
                c.execute("SELECT pg_sleep(1)")
                c.commit()
                long_tx["acked"] = True
        except psycopg.Error as e:
            long_tx["error"] = repr(e)

    def fault(load):
        t = threading.Thread(target=long_transaction, daemon=True)
        t.start()
        wait_for(lambda: "started" in long_tx or "error" in long_tx, timeout=10,
                 what="the long transaction to start")
        time.sleep(0.2)
        t0 = time.monotonic()
        lp.signal(signal.SIGINT)
        rc = lp.wait_exit(20)
        assert rc == 0, f"linkpool exit code {rc} after SIGINT"
        t.join(5)
        assert long_tx.get("acked"), f"the transaction under way was not let finish: {long_tx}"
        return {"exit_s": round(time.monotonic() - t0, 2), "long_transaction": "committed"}

    figures, load = run_case("SIGINT drain", lp, fpg, proxy, fault, probe=False, alive=False,
                             recover=False)
    # a transaction already under way when the signal came is let finish:
    # only new transactions (and new connections) are refused
    cut = {k: v for k, v in load.errors.items() if not k.startswith(("begin:", "connect:"))}
    assert not cut, f"transactions cut by the drain: {cut}"
    assert fpg.sql("SELECT count(*) FROM ledger WHERE id = %s", (long_id,), db="testdb") == [(1,)]
