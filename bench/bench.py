#!/usr/bin/env python3
"""linkpool vs PgBouncer vs direct PostgreSQL: the issue-7 scenarios.

Run through bench/run.sh (it installs and builds). Environment knobs:
  BENCH_QUICK=1        smoke run: short runs, 1 repetition, fewer idle clients
  BENCH_T              seconds per pgbench run (default 12; quick 4)
  BENCH_CHURN_T        seconds per connection-churn run (default 10; quick 3)
  BENCH_REPS           repetitions, systems alternating (default 3; quick 1)
  BENCH_IDLE_N         idle clients for scenario 5 (default 10000; quick 1000)
  BENCH_IDLE_BIG       also hold this many idle clients on linkpool alone
                       (default 100000; quick 0 = skip)
  BENCH_STREAM_MB      size of the streamed result / COPY (default 100; quick 20)
  BENCH_SCENARIOS      which scenarios to run (default "1 2 3 4 5 6 7 8 9 10 11 12";
                       8-12 and their knobs: bench/scale.py)
  BENCH_PREP_N         statements of scenario 7's memory measurement
                       (default 10000; quick 2000)
  BENCH_OUT            markdown output (default bench/RESULTS.md; the part of
                       an existing file from the line "<!-- manual -->" on is kept)
  BENCH_DIR            work directory (default: a new /tmp/lp-bench-*; removed
                       at the end unless BENCH_KEEP=1)
  BENCH_SERVER_UNIX=1  poolers reach PostgreSQL over its unix socket (both
                       poolers alike; default: 127.0.0.1 TCP like the clients)
  LINKPOOL_BIN, PGBOUNCER_BIN, PG_BINDIR  the binaries
"""

import contextlib
import json
import os
import platform
import pwd
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgwire  # noqa: E402

if __name__ == "__main__":
    # bench/scale.py imports this module as `bench`: one copy, one set of globals
    sys.modules["bench"] = sys.modules["__main__"]

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
QUICK = os.environ.get("BENCH_QUICK") == "1"


def env_int(name, full, quick):
    return int(os.environ.get(name, quick if QUICK else full))


T = env_int("BENCH_T", 12, 4)
CHURN_T = env_int("BENCH_CHURN_T", 10, 3)
REPS = env_int("BENCH_REPS", 3, 1)
IDLE_N = env_int("BENCH_IDLE_N", 10000, 1000)
IDLE_BIG = env_int("BENCH_IDLE_BIG", 100000, 0)
STREAM_MB = env_int("BENCH_STREAM_MB", 100, 20)
SCENARIOS = os.environ.get("BENCH_SCENARIOS", "1 2 3 4 5 6 7 8 9 10 11 12").split()
PREP_N = env_int("BENCH_PREP_N", 10000, 2000)
OUT = os.environ.get("BENCH_OUT", os.path.join(HERE, "RESULTS.md"))
LINKPOOL_BIN = os.environ.get("LINKPOOL_BIN", os.path.join(ROOT, "build-bench", "linkpool"))
PGBOUNCER_BIN = os.environ.get("PGBOUNCER_BIN", "/usr/sbin/pgbouncer")
PG_BINDIR = os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin")
PGBENCH = os.path.join(PG_BINDIR, "pgbench")
HZ = os.sysconf("SC_CLK_TCK")
POOL = 20
# Poolers reach PostgreSQL over its unix socket instead of 127.0.0.1 TCP
# (profile.py: how much of a proxy's CPU is the loopback TCP stack).
SERVER_UNIX = os.environ.get("BENCH_SERVER_UNIX") == "1"
USERS = {"bench": "bench-md5-pw", "bench_scram": "bench-scram-pw"}
NOFILE = max(IDLE_N, IDLE_BIG) + 5000


def raise_nofile():
    """As high as wanted, or as the hard limit allows (a container without
    CAP_SYS_RESOURCE cannot raise it); returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
        return NOFILE
    except (ValueError, OSError):
        want = NOFILE if hard == resource.RLIM_INFINITY else min(NOFILE, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        return want


def log(*a):
    print("[bench]", *a, flush=True)


def free_port():
    """A free port below the ephemeral range (32768-60999), where no other
    program's outgoing connection can take it between the check and the
    server's bind."""
    for _ in range(2000):
        port = random.randint(25000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def pg_user():
    return pwd.getpwnam("postgres")


def as_postgres():
    """preexec_fn: raise the fd limit (for idle clients), drop to postgres
    (PgBouncer refuses to run as root), die with the benchmark."""
    raise_nofile()
    if os.geteuid() == 0:
        pw = pg_user()
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    except Exception:  # noqa: BLE001 - best effort
        pass


# ---------------------------------------------------------------- /proc

def proc_stat(pid):
    """(utime+stime, cutime+cstime) in ticks, or (0, 0) if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0, 0
    return int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14])


def children_of(ppid, zombies=None):
    """Child pids of ppid; zombie children are listed in `zombies` instead
    (their times read 0 until the parent reaps them into cutime)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(rest[1]) == ppid:
            if rest[0] == "Z":
                if zombies is not None:
                    zombies.append(int(d))
            else:
                out.append(int(d))
    return out


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def machine_busy_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # irq/softirq time is not charged to any task (IRQ time accounting):
    # leave it out so "other load" means other tasks.
    return v[0] + v[1] + v[2] + v[7]


# ---------------------------------------------------------------- PostgreSQL

class Postgres:
    def __init__(self, base, max_connections=300, ssl=False):
        self.base = base
        self.data = os.path.join(base, "pg")
        self.port = free_port()
        self.log = os.path.join(base, "postgresql.log")
        self.max_connections, self.ssl = max_connections, ssl
        # a throwaway self-signed certificate: PostgreSQL's, and the poolers'
        # for their clients (scenarios 8 and 12)
        self.cert = os.path.join(base, "server.crt")
        self.key = os.path.join(base, "server.key")

    def run(self, *cmd, **kw):
        c = list(cmd)
        if os.geteuid() == 0:
            c = ["runuser", "-u", "postgres", "--"] + c
        r = subprocess.run(c, capture_output=True, text=True, **kw)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
        return r

    def psql(self, sql, db="postgres"):
        return self.run(f"{PG_BINDIR}/psql", "-h", self.base, "-p", str(self.port), "-U", "postgres",
                        "-d", db, "-v", "ON_ERROR_STOP=1", "-Atqc", sql).stdout

    def init(self):
        self.run(f"{PG_BINDIR}/initdb", "-D", self.data, "-U", "postgres", "-E", "UTF8", "--locale=C",
                 "-A", "trust", "-N")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"""
port = {self.port}
listen_addresses = '127.0.0.1'
unix_socket_directories = '{self.base}'
max_connections = {self.max_connections}
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 256MB
logging_collector = off
log_min_messages = warning
""")
        if self.ssl:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=127.0.0.1", "-keyout", self.key, "-out", self.cert],
                           check=True, capture_output=True)
            pw = pg_user()
            for fn in (self.cert, self.key):
                os.chown(fn, pw.pw_uid, pw.pw_gid)
                os.chmod(fn, 0o600)
            with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
                f.write(f"ssl = on\nssl_cert_file = '{self.cert}'\nssl_key_file = '{self.key}'\n")
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\n"
                    "host all bench 127.0.0.1/32 md5\n"
                    "host all all 127.0.0.1/32 scram-sha-256\n")
        self.start()
        self.psql(f"SET password_encryption = 'md5'; CREATE ROLE bench LOGIN PASSWORD '{USERS['bench']}'")
        self.psql(f"SET password_encryption = 'scram-sha-256'; "
                  f"CREATE ROLE bench_scram LOGIN PASSWORD '{USERS['bench_scram']}'")
        self.psql("CREATE DATABASE bench OWNER bench")
        self.psql("GRANT ALL ON SCHEMA public TO PUBLIC", db="bench")
        log("pgbench -i -s 10")
        self.run(PGBENCH, "-i", "-s", "10", "-q", "-h", self.base, "-p", str(self.port), "-U", "bench", "bench")
        self.psql("GRANT ALL ON ALL TABLES IN SCHEMA public TO bench_scram;"
                  "CREATE UNLOGGED TABLE bench_copy (t text) ; GRANT ALL ON bench_copy TO bench_scram;"
                  "ALTER TABLE bench_copy OWNER TO bench", db="bench")
        self.psql("VACUUM ANALYZE", db="bench")

    def start(self):
        self.run(f"{PG_BINDIR}/pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "start")
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            self.pid = int(f.readline())

    def stop(self):
        try:
            self.run(f"{PG_BINDIR}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        except Exception:  # noqa: BLE001 - best effort at exit
            pass

    def cpu_ticks(self):
        """postmaster + reaped children + live children: backends that exit
        during a run stay counted through cutime/cstime. Waits (up to 3 s)
        until no backend is a zombie, whose time would be lost."""
        deadline = time.monotonic() + 3
        while True:
            zombies = []
            kids = children_of(self.pid, zombies)
            own, reaped = proc_stat(self.pid)
            live = sum(proc_stat(p)[0] for p in kids)
            if not zombies or time.monotonic() > deadline:
                return own + reaped + live
            time.sleep(0.02)


def write_userlist(base, pg):
    """userlist.txt for both poolers: md5 for bench; for bench_scram the
    server's own verifier (SCRAM pass-through needs it)."""
    verifier = pg.psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'bench_scram'").strip()
    with open(os.path.join(base, "userlist.txt"), "w") as f:
        f.write(f'"bench" "{pgwire_md5("bench", USERS["bench"])}"\n')
        f.write(f'"bench_scram" "{verifier}"\n')


def chown_tree(base, pw):
    """The poolers run as postgres: they must read and write their files."""
    for root, dirs, files in os.walk(base):
        for n in dirs + files:
            os.chown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)


# ---------------------------------------------------------------- poolers

class Pooler:
    def __init__(self, name, binary, base, pg, extra="", pool=POOL, dirname=None, dbs=("bench",),
                 admin="postgres", server_tls="disable"):
        """dbs: the [databases] names, all leading to PostgreSQL's bench;
        dirname: the work directory's name when one pooler kind runs in
        several configurations (scenarios 8-12)."""
        self.name = name
        self.binary = binary
        self.dir = os.path.join(base, dirname or name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.ini = os.path.join(self.dir, "pooler.ini")
        userlist = os.path.join(base, "userlist.txt")
        host = pg.base if SERVER_UNIX else "127.0.0.1"
        # linkpool's /metrics endpoint (default port 9127) off: several
        # linkpools run at once here, and PgBouncer has none
        metrics = "" if "pgbouncer" in os.path.basename(binary) else "metrics_port = 0\n"
        dblines = "".join(f"{d} = host={host} port={pg.port} dbname=bench\n" for d in dbs)
        with open(self.ini, "w") as f:
            f.write(f"""[databases]
{dblines}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir = {self.dir}
auth_type = md5
auth_file = {userlist}
admin_users = {admin}
stats_users = bench
server_tls_sslmode = {server_tls}
pool_mode = transaction
default_pool_size = {pool}
max_client_conn = {NOFILE - 1000}
logfile = {self.dir}/pooler.log
pidfile = {self.dir}/pooler.pid
log_connections = 0
log_disconnections = 0
{metrics}{extra}""")
        self.proc = None

    def start(self, wrapper=(), timeout=15):
        err = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.proc = subprocess.Popen([*wrapper, self.binary, self.ini], stdin=subprocess.DEVNULL, stdout=err,
                                     stderr=err, cwd=self.dir, preexec_fn=as_postgres)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.dir}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return
            except OSError:
                time.sleep(0.01)
        raise RuntimeError(f"{self.name} did not listen")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cpu_ticks(self):
        return proc_stat(self.proc.pid)[0]


# ---------------------------------------------------------------- pgbench

@contextlib.contextmanager
def poolers_on_postgres(prefix, named_binaries):
    """A throwaway PostgreSQL with the bench users and a Pooler (not started)
    per (name, binary) in front of it, for the tools beside this file
    (profile.py, ab.py); yields (pg, poolers) and removes it all after."""
    base = tempfile.mkdtemp(prefix=prefix)
    os.chmod(base, 0o755)
    pw = pg_user()
    os.chown(base, pw.pw_uid, pw.pw_gid)
    raise_nofile()
    pg = Postgres(base)
    poolers = []
    try:
        pg.init()
        write_userlist(base, pg)
        for name, binary in named_binaries:
            poolers.append(Pooler(name, binary, base, pg))
        chown_tree(base, pw)
        yield pg, poolers
    finally:
        for pl in poolers:
            pl.stop()
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)


class System:
    """Where pgbench connects: a pooler, or PostgreSQL directly with its own
    client count."""

    def __init__(self, label, port, pooler=None, clients=None):
        self.label, self.port, self.pooler, self.clients = label, port, pooler, clients


def percentile(sorted_vals, q):
    if not sorted_vals:
        return float("nan")
    return sorted_vals[min(len(sorted_vals) - 1, int(q * (len(sorted_vals) - 1) + 0.5))]


# Percentiles kept for the latency-distribution plots (scenarios 8-12).
DIST_Q = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999)


def run_pgbench(ctx, system, args, seconds, user="bench", clients=None, env_extra=None, dist=False):
    logdir = tempfile.mkdtemp(prefix="pgbench-log-", dir=ctx.base)
    n = clients or system.clients
    cmd = [PGBENCH, "-h", "127.0.0.1", "-p", str(system.port), "-U", user, "-n", "-T", str(seconds),
           "-c", str(n), "-j", "2", "--log", "--log-prefix", os.path.join(logdir, "pgbench"), *args, "bench"]
    env = dict(os.environ, PGPASSWORD=USERS[user], **(env_extra or {}))
    before = ctx.snapshot()
    t0 = time.monotonic()
    out = open(os.path.join(logdir, "out"), "w+")
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    if system.pooler is None:
        time.sleep(0.3)     # direct backends exit after pgbench: count them
    after = ctx.snapshot()
    out.seek(0)
    text = out.read()
    if p.returncode != 0:
        log(f"pgbench failed on {system.label}: {text[-2000:]}")
    m = re.search(r"tps = ([\d.]+)", text)
    mt = re.search(r"number of transactions actually processed: (\d+)", text)
    mf = re.search(r"number of failed transactions: (\d+)", text)
    lat = []
    for fn in os.listdir(logdir):
        if fn.startswith("pgbench."):
            with open(os.path.join(logdir, fn)) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3:
                        lat.append(int(parts[2]))
    lat.sort()
    shutil.rmtree(logdir, ignore_errors=True)
    xacts = int(mt.group(1)) if mt else 0
    k = max(xacts, 1) / 1000.0
    cpu = {name: (after[name] - before[name]) * 1000.0 / HZ for name in before}
    busy_ms = cpu.pop("_machine")
    ours = cpu.get("postgres", 0) + sum(cpu.get(pl, 0) for pl in ("linkpool", "pgbouncer"))
    pgbench_ms = (ru.ru_utime + ru.ru_stime) * 1000.0
    r = {
        "system": system.label,
        "tps": float(m.group(1)) if m else 0.0,
        "xacts": xacts,
        "failed": int(mf.group(1)) if mf else 0,
        "p50_ms": percentile(lat, 0.50) / 1000.0,
        "p99_ms": percentile(lat, 0.99) / 1000.0,
        "pooler_cpu_per_k": cpu[system.pooler] / k if system.pooler else None,
        "pg_cpu_per_k": cpu["postgres"] / k,
        "pgbench_cpu_per_k": pgbench_ms / k,
        "others_cpu_pct": max(0.0, (busy_ms - ours - pgbench_ms)) / (wall * 1000.0) * 100.0,
        "wall_s": wall,
        "rc": p.returncode,
    }
    if dist:
        r["p999_ms"] = percentile(lat, 0.999) / 1000.0
        r["dist_ms"] = [percentile(lat, q) / 1000.0 for q in DIST_Q]
    log(f"  {system.label:<14} tps={r['tps']:9.1f} p50={r['p50_ms']:.3f}ms p99={r['p99_ms']:.3f}ms "
        f"pooler={fmt(r['pooler_cpu_per_k'])} pg={r['pg_cpu_per_k']:.1f} pgbench={r['pgbench_cpu_per_k']:.1f} "
        f"cpu-ms/1k others={r['others_cpu_pct']:.0f}%")
    return r


def fmt(v, nd=1):
    if v is None:
        return "–"
    if isinstance(v, float) and v != v:
        return "nan"
    return f"{v:.{nd}f}"


class Ctx:
    def __init__(self, base, pg, poolers):
        self.base, self.pg, self.poolers = base, pg, poolers

    def snapshot(self):
        s = {"postgres": self.pg.cpu_ticks(), "_machine": machine_busy_ticks()}
        for p in self.poolers.values():
            s[p.name] = p.cpu_ticks()
        return s


def rotated(systems, rep):
    k = rep % len(systems)
    return systems[k:] + systems[:k]


def pgbench_scenario(ctx, title, systems, args, seconds, user="bench", env_extra=None, dist=False):
    log(f"scenario: {title}")
    runs = {s.label: [] for s in systems}
    for rep in range(REPS):
        for s in rotated(systems, rep):
            runs[s.label].append(run_pgbench(ctx, s, args, seconds, user=user, env_extra=env_extra, dist=dist))
    return {"title": title, "args": args, "seconds": seconds, "user": user,
            "systems": [(s.label, s.clients) for s in systems], "runs": runs}


# ---------------------------------------------------------------- idle clients

def hold_idle(port, n):
    """Opens n authenticated idle connections; returns (conns, seconds)."""
    conns = []
    t0 = time.monotonic()
    for i in range(n):
        src = f"127.0.{1 + i // 25000}.{1 + (i // 250) % 250}"
        conns.append(pgwire.Conn("127.0.0.1", port, "bench", USERS["bench"], "bench", src_ip=src))
    return conns, time.monotonic() - t0


def idle_scenario(ctx, systems_by_name):
    log(f"scenario 5: {IDLE_N} idle clients")
    res = {}
    for name in ("linkpool", "pgbouncer"):
        pl = ctx.poolers[name]
        sysm = systems_by_name[name]
        base_run = run_pgbench(ctx, sysm, ["-S"], T, clients=20)
        rss0 = rss_kb(pl.proc.pid)
        cpu0 = pl.cpu_ticks()
        conns, secs = hold_idle(pl.port, IDLE_N)
        time.sleep(0.5)
        cpu1 = pl.cpu_ticks()
        rss1 = rss_kb(pl.proc.pid)
        crowd_run = run_pgbench(ctx, sysm, ["-S"], T, clients=20)
        for c in conns:
            c.close()
        res[name] = {
            "n": IDLE_N, "login_s": secs, "rss0_kb": rss0, "rss1_kb": rss1,
            "bytes_per_client": (rss1 - rss0) * 1024.0 / IDLE_N,
            "login_cpu_us": (cpu1 - cpu0) * 1e6 / HZ / IDLE_N,
            "tps_alone": base_run["tps"], "tps_crowd": crowd_run["tps"],
            "p99_alone": base_run["p99_ms"], "p99_crowd": crowd_run["p99_ms"],
        }
        log(f"  {name}: {res[name]}")
        time.sleep(1)
    first_rss0 = res.get("linkpool", {}).get("rss0_kb")
    if IDLE_BIG > IDLE_N:
        log(f"scenario 5b: {IDLE_BIG} idle clients on linkpool")
        pl = ctx.poolers["linkpool"]
        sysm = systems_by_name["linkpool"]
        base_run = run_pgbench(ctx, sysm, ["-S"], T, clients=20)
        rss0 = rss_kb(pl.proc.pid)
        try:
            conns, secs = hold_idle(pl.port, IDLE_BIG)
            ok = len(conns)
            err = None
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            conns, secs, ok, err = [], 0, 0, repr(e)
        rss1 = rss_kb(pl.proc.pid)
        crowd_run = run_pgbench(ctx, sysm, ["-S"], T, clients=20)
        for c in conns:
            c.close()
        # Against the RSS before the first crowd: memory the first crowd
        # left in malloc's free lists would otherwise be counted as free.
        base = first_rss0 or rss0
        res["linkpool_big"] = {
            "n": IDLE_BIG, "accepted": ok, "error": err, "login_s": secs, "rss0_kb": base, "rss1_kb": rss1,
            "bytes_per_client": (rss1 - base) * 1024.0 / max(ok, 1),
            "tps_alone": base_run["tps"], "tps_crowd": crowd_run["tps"],
            "p99_alone": base_run["p99_ms"], "p99_crowd": crowd_run["p99_ms"],
        }
        log(f"  linkpool_big: {res['linkpool_big']}")
    return res


# ---------------------------------------------------------------- streaming

class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop_flag = pid, 0, False

    def run(self):
        while not self.stop_flag:
            try:
                self.peak = max(self.peak, rss_kb(self.pid))
            except OSError:
                return
            time.sleep(0.005)


def stream_scenario(ctx, systems):
    log(f"scenario 6: {STREAM_MB} MB result and COPY")
    rows = STREAM_MB * 1000
    res = {}
    for s in systems:
        r = {}
        for kind in ("result", "copy"):
            pid = ctx.poolers[s.pooler].proc.pid if s.pooler else None
            c = pgwire.Conn("127.0.0.1", s.port, "bench", USERS["bench"], "bench")
            c.query("TRUNCATE bench_copy")
            rss0 = rss_kb(pid) if pid else 0
            sampler = RssSampler(pid) if pid else None
            if sampler:
                sampler.start()
            t0 = time.monotonic()
            if kind == "result":
                nbytes = c.drain_query(f"SELECT repeat('x', 1000) FROM generate_series(1, {rows})")
            else:
                nbytes = c.copy_in("COPY bench_copy FROM STDIN", STREAM_MB * 1000 * 1000)
            secs = time.monotonic() - t0
            if sampler:
                sampler.stop_flag = True
                sampler.join()
            c.close()
            r[kind] = {"mb": nbytes / 1e6, "seconds": secs, "mb_s": nbytes / 1e6 / secs,
                       "rss0_kb": rss0, "peak_kb": sampler.peak if sampler else None,
                       "growth_kb": (sampler.peak - rss0) if sampler else None}
        res[s.label] = r
        log(f"  {s.label}: {r}")
    ctx.pg.psql("TRUNCATE bench_copy", db="bench")
    return res


# ---------------------------------------------------------------- prepared statements

def admin_rows(port, sql):
    """Rows of the admin console (bench is a stats user of both poolers)."""
    c = pgwire.Conn("127.0.0.1", port, "bench", USERS["bench"], "pgbouncer")
    try:
        return c.rows(sql)
    finally:
        c.close()


def parse_counts(port):
    """(client parses, server parses, binds) of database bench, and the
    server links of its pool for user bench (the one pgbench uses here)."""
    st = next(r for r in admin_rows(port, "SHOW STATS") if r["database"] == "bench")
    links = sum(1 for r in admin_rows(port, "SHOW SERVERS")
                if r["database"] == "bench" and r["user"] == "bench")
    return (int(st["total_client_parse_count"]), int(st["total_server_parse_count"]),
            int(st["total_bind_count"]), links)


def prepared_memory(base, pg):
    """Bytes per statement, from the RSS of a linkpool of its own (pool of 2,
    PREP_N statements of 57-byte texts, 11-byte client names):
      client map   another client prepares the same texts on the same server
                   (the pooler answers; nothing new on the server)
      server cache another server gets all of them (the pooler prepares each)
      statement    what the first client's prepares cost beyond those two:
                   the shared statement (text and id), once per instance."""
    pl = Pooler("linkpool-prep", LINKPOOL_BIN, base, pg, pool=2,
                extra=f"max_prepared_statements = {PREP_N * 2}\n")
    pw = pg_user()
    os.chown(pl.dir, pw.pw_uid, pw.pw_gid)
    chown_tree(pl.dir, pw)
    pl.start()
    texts = [f"SELECT abalance FROM pgbench_accounts WHERE aid = {i:07d}" for i in range(PREP_N)]

    def conn():
        return pgwire.Conn("127.0.0.1", pl.port, "bench", USERS["bench"], "bench")

    def in_tx(c, msgs):
        c.query("BEGIN")
        for k in range(0, len(msgs), 500):
            c.pipeline(b"".join(msgs[k:k + 500]) + pgwire.SYNC)
        c.query("COMMIT")

    def settle():
        time.sleep(0.5)
        return rss_kb(pl.proc.pid)

    try:
        h, a, b = conn(), conn(), conn()
        # both servers open before the first reading
        h.query("BEGIN")
        h.query("SELECT 1")
        a.query("SELECT 1")
        sp = [parse_counts(pl.port)[1]]
        rss = [settle()]
        in_tx(a, [pgwire.parse(f"a_{i:07d}", t) for i, t in enumerate(texts)])     # the free server
        sp.append(parse_counts(pl.port)[1])
        rss.append(settle())
        in_tx(b, [pgwire.parse(f"b_{i:07d}", t) for i, t in enumerate(texts)])     # the same one
        sp.append(parse_counts(pl.port)[1])
        rss.append(settle())
        b.query("BEGIN")
        b.query("SELECT 1")             # b holds that server now
        h.query("COMMIT")               # and a runs on the other
        in_tx(a, [pgwire.bind_execute(f"a_{i:07d}") for i in range(PREP_N)])
        sp.append(parse_counts(pl.port)[1])
        rss.append(settle())
        b.query("COMMIT")
        servers = [int(r["prepared_statements"]) for r in admin_rows(pl.port, "SHOW SERVERS")
                   if r["database"] == "bench"]
        for c in (h, a, b):
            c.close()
    finally:
        pl.stop()
    per = [(rss[i + 1] - rss[i]) * 1024.0 / PREP_N for i in range(3)]
    res = {
        "n": PREP_N, "text_bytes": len(texts[0]), "name_bytes": len("a_0000000"),
        "rss_kb": rss, "server_parses": sp, "server_statements": servers,
        # the measurement holds only if each step did what it should
        "valid": sp == [0, PREP_N, PREP_N, 2 * PREP_N] and sorted(servers) == [PREP_N, PREP_N],
        "client_map": per[1], "server_cache": per[2], "statement": per[0] - per[1] - per[2],
        "first_client_total": per[0],
    }
    log(f"  memory per statement: {res}")
    return res


def prepared_scenario(ctx, lp_port, base, pg):
    log("scenario 7: prepared statements, pgbench -S -M prepared vs -M extended through linkpool")
    modes = ["extended", "prepared"]
    runs = {m: [] for m in modes}
    c0 = parse_counts(lp_port)
    for rep in range(REPS):
        for m in rotated(modes, rep):
            runs[m].append(run_pgbench(ctx, System(f"linkpool-{m}", lp_port, "linkpool", 100),
                                       ["-S", "-M", m], T))
    c1 = parse_counts(lp_port)
    ext, prep = runs["extended"], runs["prepared"]
    tps_r = [p["tps"] / e["tps"] if e["tps"] else None for p, e in zip(prep, ext)]
    cpu_r = [p["pooler_cpu_per_k"] / e["pooler_cpu_per_k"] if e["pooler_cpu_per_k"] else None
             for p, e in zip(prep, ext)]
    links = max(c1[3], 1)
    res = {
        "title": "7. prepared statements: select-only, -M prepared vs -M extended, linkpool",
        "args": ["-S", "-M", "prepared|extended"], "seconds": T, "user": "bench",
        "systems": [("linkpool-extended", 100), ("linkpool-prepared", 100)],
        "runs": {"linkpool-extended": ext, "linkpool-prepared": prep},
        "tps_ratio": tps_r, "cpu_ratio": cpu_r,
        "client_parses": c1[0] - c0[0], "server_parses": c1[1] - c0[1], "binds": c1[2] - c0[2],
        "links": c1[3],
        # pgbench -S runs one statement
        "server_parses_per_stmt_link": (c1[1] - c0[1]) / links,
        "memory": prepared_memory(base, pg),
    }
    log(f"  prepared/extended TPS {[fmt(x, 2) for x in tps_r]}, pooler CPU per tx {[fmt(x, 2) for x in cpu_r]}; "
        f"parses: client {res['client_parses']}, server {res['server_parses']} on {res['links']} links")
    return res


# ---------------------------------------------------------------- report

def med(vals):
    vals = [v for v in vals if v is not None and v == v]
    return statistics.median(vals) if vals else None


def git_commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip() or "?"
    except OSError:
        return "?"


def machine_text():
    with open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    try:
        pgb = subprocess.run([PGBOUNCER_BIN, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    except OSError:
        pgb = "no PgBouncer"
    pgv = subprocess.run([f"{PG_BINDIR}/postgres", "--version"], capture_output=True, text=True).stdout.strip()
    commit = git_commit()
    return (f"- CPU: {os.cpu_count()} × {model}; RAM {mem} MB; kernel {platform.release()}\n"
            f"- {pgb}; {pgv}; linkpool {commit} ({LINKPOOL_BIN})\n")


def scenario_table(sc, lines):
    lines.append(f"### {sc['title']}\n")
    if sc.get("run"):
        lines.append(f"Run: {sc['run']}\n")
    a = " ".join(sc["args"])
    reps = max(len(v) for v in sc["runs"].values())
    lines.append(f"`pgbench -h 127.0.0.1 -p PORT -U {sc['user']} -n -T {sc['seconds']} -c N -j 2 --log {a} bench`"
                 f" ({reps} repetitions, order rotated)\n")
    lines.append("| system | clients | TPS (median) | TPS per rep | p50 ms | p99 ms | pooler CPU-ms/1k tx | "
                 "postgres CPU-ms/1k | pgbench CPU-ms/1k | other load % |")
    lines.append("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for label, clients in sc["systems"]:
        runs = sc["runs"][label]
        lines.append(
            f"| {label} | {clients} | {fmt(med([r['tps'] for r in runs]), 0)} | "
            f"{', '.join(fmt(r['tps'], 0) for r in runs)} | {fmt(med([r['p50_ms'] for r in runs]), 3)} | "
            f"{fmt(med([r['p99_ms'] for r in runs]), 3)} | {fmt(med([r['pooler_cpu_per_k'] for r in runs]))} | "
            f"{fmt(med([r['pg_cpu_per_k'] for r in runs]))} | {fmt(med([r['pgbench_cpu_per_k'] for r in runs]))} | "
            f"{fmt(med([r['others_cpu_pct'] for r in runs]), 0)} |")
    lp, pb = sc["runs"].get("linkpool"), sc["runs"].get("pgbouncer")
    if lp and pb:
        tps_r = [a["tps"] / b["tps"] if b["tps"] else None for a, b in zip(lp, pb)]
        cpu_r = [a["pooler_cpu_per_k"] / b["pooler_cpu_per_k"] if b["pooler_cpu_per_k"] else None
                 for a, b in zip(lp, pb)]
        lines.append("")
        lines.append(f"linkpool / PgBouncer per repetition — TPS: {', '.join(fmt(x, 2) for x in tps_r)} "
                     f"(median {fmt(med(tps_r), 2)}); pooler CPU per tx: {', '.join(fmt(x, 2) for x in cpu_r)} "
                     f"(median {fmt(med(cpu_r), 2)})")
        lines.append("")
        direct = f"direct-c{POOL}"
        if direct in sc["runs"]:
            p99d = med([r["p99_ms"] for r in sc["runs"][direct]])
            for name in ("linkpool", "pgbouncer"):
                eq = sc["runs"].get(f"{name}-c{POOL}")
                if eq and p99d:
                    p99 = med([r["p99_ms"] for r in eq])
                    lines.append(f"- {name} with {POOL} clients (= {POOL} server connections) vs {direct}: p99 "
                                 f"{fmt(p99, 3)} vs {fmt(p99d, 3)} ms, added {fmt(p99 - p99d, 3)} ms "
                                 f"({fmt((p99 / p99d - 1) * 100, 0)}%)")
    lines.append("")


def write_report(results, started, load0, load1):
    lines = ["# linkpool benchmark results", "",
             f"Generated by `bash bench/run.sh` ({'BENCH_QUICK=1, ' if QUICK else ''}T={T}s, churn T={CHURN_T}s, "
             f"{REPS} repetitions, idle N={IDLE_N}, stream {STREAM_MB} MB) on {started}.", "",
             "## Machine", "", machine_text(),
             f"- load average before/after: {load0} / {load1}. The *other load* column is the machine's "
             "busy CPU not spent by PostgreSQL, the poolers or pgbench during the run (other tenants): "
             "when it is high the wall-clock figures are noisy; CPU per transaction is much less affected.",
             "- All parties on one machine over 127.0.0.1 TCP; PostgreSQL 15 (fsync off, max_connections 300, "
             "shared_buffers 256MB, `pgbench -i -s 10`); both poolers: transaction mode, default_pool_size 20, "
             "md5 (SCRAM verifier for `bench_scram`), pkt_buf 4096, no connection logging, run as `postgres`.",
             "- CPU-ms per 1,000 transactions from /proc utime+stime deltas (PostgreSQL: postmaster, live "
             "backends and reaped backends; pgbench: its rusage). Latency from `pgbench --log` (every "
             "transaction).", ""]
    for key in ("s1", "s2", "s3", "s4md5", "s4scram"):
        if key in results:
            scenario_table(results[key], lines)
    if "s7" in results:
        r7 = results["s7"]
        scenario_table(r7, lines)
        mem = r7["memory"]
        lines += [
            "PgBouncer 1.18 has no prepared statements in transaction pooling (1.21+ has): linkpool only.",
            "",
            f"- TPS prepared / extended per repetition: {', '.join(fmt(x, 2) for x in r7['tps_ratio'])} "
            f"(median **{fmt(med(r7['tps_ratio']), 2)}**; target ≥ 1.10)",
            f"- pooler CPU per transaction, prepared / extended: {', '.join(fmt(x, 2) for x in r7['cpu_ratio'])} "
            f"(median **{fmt(med(r7['cpu_ratio']), 2)}**; target ≤ 1.10)",
            f"- parses over all repetitions: {r7['client_parses']} by clients, {r7['server_parses']} on servers, "
            f"{r7['binds']} binds; {r7['links']} server links: **{fmt(r7['server_parses_per_stmt_link'], 2)}** "
            "server parses per statement per link (target ≤ 1)",
            f"- memory per statement (RSS of a linkpool of its own, {mem['n']} statements of "
            f"{mem['text_bytes']}-byte texts, {mem['name_bytes']}-byte client names; "
            f"{'steps checked' if mem['valid'] else 'STEPS DID NOT GO AS PLANNED: ' + repr(mem['server_parses'])}): "
            f"per-client map **{fmt(mem['client_map'], 0)} B**, per-server cache **{fmt(mem['server_cache'], 0)} B**, "
            f"the shared statement (text, once per instance) **{fmt(mem['statement'], 0)} B**; "
            f"the first client to prepare a new text on a server pays {fmt(mem['first_client_total'], 0)} B",
            ""]
    if "s5" in results:
        r5 = results["s5"]
        lines += ["### 5. Idle clients (raw-protocol md5 logins, held idle; bench/pgwire.py)", "",
                  f"Run: {r5.get('run', '')}", "",
                  "| pooler | idle clients | RSS before → after (KB) | bytes per idle client | login CPU µs/client | "
                  "login wall s | select-only TPS of 20 clients alone → with crowd | p99 ms alone → crowd |",
                  "|---|---:|---|---:|---:|---:|---|---|"]
        for name in ("linkpool", "pgbouncer", "linkpool_big"):
            if isinstance(r5.get(name), dict):
                x = r5[name]
                lines.append(f"| {name} | {x.get('accepted', x['n'])} of {x['n']} | {x.get('rss0_kb', '')} → "
                             f"{x.get('rss1_kb', '')} | {fmt(x['bytes_per_client'], 0)} | "
                             f"{fmt(x.get('login_cpu_us'), 0)} | {fmt(x['login_s'], 1)} | "
                             f"{fmt(x['tps_alone'], 0)} → {fmt(x['tps_crowd'], 0)} "
                             f"({fmt((x['tps_crowd'] / x['tps_alone'] - 1) * 100 if x['tps_alone'] else None, 1)}%) | "
                             f"{fmt(x['p99_alone'], 3)} → {fmt(x['p99_crowd'], 3)} |")
        lines.append("")
    if "s6" in results:
        lines += [f"### 6. Streaming {STREAM_MB} MB through one connection", "",
                  "`SELECT repeat('x', 1000) FROM generate_series(1, N)` drained by a raw client; "
                  "`COPY bench_copy FROM STDIN` in 64 KB CopyData messages. Pooler RSS sampled every 5 ms.", "",
                  f"Run: {results['s6'].get('run', '')}", "",
                  "| system | result MB/s | result: pooler RSS growth KB | COPY MB/s | COPY: pooler RSS growth KB |",
                  "|---|---:|---:|---:|---:|"]
        for label, r in results["s6"].items():
            if not isinstance(r, dict):
                continue
            lines.append(f"| {label} | {fmt(r['result']['mb_s'])} | {fmt(r['result']['growth_kb'], 0)} | "
                         f"{fmt(r['copy']['mb_s'])} | {fmt(r['copy']['growth_kb'], 0)} |")
        lines.append("")
    import scale
    rows = scale.report(results, lines)
    scale.print_targets(rows)
    try:
        import plots
        for fn in plots.plot_all(results, os.path.join(os.path.dirname(OUT), "plots")):
            log(f"wrote {fn}")
    except ImportError as e:
        log(f"no plots ({e}): install python3-matplotlib")
    manual = ""
    if os.path.exists(OUT):
        with open(OUT) as f:
            old = f.read()
        i = old.find("<!-- manual -->")
        if i >= 0:
            manual = old[i:]
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n" + (manual or "<!-- manual -->\n"))
    with open(os.path.splitext(OUT)[0] + ".json", "w") as f:
        json.dump(results, f, indent=1)
    log(f"wrote {OUT}")


# ---------------------------------------------------------------- main

def main():
    if os.geteuid() != 0:
        sys.exit("run as root (PostgreSQL and the poolers run as user postgres)")
    global IDLE_BIG
    nofile = raise_nofile()
    if IDLE_BIG > nofile - 2000:
        log(f"file descriptor limit {nofile}: idle-client test capped at {nofile - 2000} (wanted {IDLE_BIG})")
        IDLE_BIG = nofile - 2000
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load0 = " ".join(open("/proc/loadavg").read().split()[:3])
    base = os.environ.get("BENCH_DIR") or tempfile.mkdtemp(prefix="lp-bench-")
    os.makedirs(base, exist_ok=True)
    os.chmod(base, 0o755)
    pw = pg_user()
    os.chown(base, pw.pw_uid, pw.pw_gid)
    import scale
    with_scale = bool(set(SCENARIOS) & set(scale.SCENARIOS))
    # TLS (scenarios 8, 12) is on in PostgreSQL only when asked for; every
    # other run keeps to plain TCP (libpq's default would be TLS)
    os.environ.setdefault("PGSSLMODE", "disable")
    pg = Postgres(base, max_connections=scale.MAX_CONNECTIONS if with_scale else 300,
                  ssl=bool(set(SCENARIOS) & {"8", "12"}))
    poolers = {}
    try:
        pg.init()
        write_userlist(base, pg)
        # PgBouncer (1.18) takes part in every scenario but 7
        with_pgb = bool(set(SCENARIOS) - {"7"})
        for name, binary in (("linkpool", LINKPOOL_BIN), ("pgbouncer", PGBOUNCER_BIN)):
            if name == "linkpool" or with_pgb:
                poolers[name] = Pooler(name, binary, base, pg)
        chown_tree(base, pw)
        for p in poolers.values():
            p.start()
        ctx = Ctx(base, pg, poolers)
        lp = System("linkpool", poolers["linkpool"].port, "linkpool", 100)
        pb = System("pgbouncer", poolers["pgbouncer"].port, "pgbouncer", 100) if with_pgb else None
        log("warm-up")
        for s in (lp, pb) if with_pgb else (lp,):
            for user in USERS:
                run_pgbench(ctx, s, ["-S"], 2, user=user, clients=40)
        results = {}

        def trio(n, latency=False):
            s = [System("linkpool", lp.port, "linkpool", n), System("pgbouncer", pb.port, "pgbouncer", n),
                 System(f"direct-c{POOL}", pg.port, None, POOL), System(f"direct-c{n}", pg.port, None, n)]
            if latency:
                # Added latency at equal server connections: as many clients as the pool.
                s += [System(f"linkpool-c{POOL}", lp.port, "linkpool", POOL),
                      System(f"pgbouncer-c{POOL}", pb.port, "pgbouncer", POOL)]
            return s

        if "1" in SCENARIOS:
            results["s1"] = pgbench_scenario(ctx, "1. select-only, simple protocol", trio(100, True),
                                             ["-S", "-M", "simple"], T)
        if "2" in SCENARIOS:
            results["s2"] = pgbench_scenario(ctx, "2. select-only, extended protocol", trio(100, True),
                                             ["-S", "-M", "extended"], T)
        if "3" in SCENARIOS:
            pg.psql("VACUUM ANALYZE", db="bench")
            results["s3"] = pgbench_scenario(ctx, "3. TPC-B-like (default script)", trio(50), [], T)
        if "4" in SCENARIOS:
            churn = [System("linkpool", lp.port, "linkpool", 20), System("pgbouncer", pb.port, "pgbouncer", 20),
                     System("direct-c20", pg.port, None, 20)]
            results["s4md5"] = pgbench_scenario(ctx, "4a. connection churn, md5 (TPS = connections/s)", churn,
                                                ["-S", "-C"], CHURN_T, user="bench")
            results["s4scram"] = pgbench_scenario(ctx, "4b. connection churn, SCRAM (TPS = connections/s)", churn,
                                                  ["-S", "-C"], CHURN_T, user="bench_scram")
        if "5" in SCENARIOS:
            results["s5"] = idle_scenario(ctx, {"linkpool": lp, "pgbouncer": pb})
        if "6" in SCENARIOS:
            results["s6"] = stream_scenario(ctx, [lp, pb, System("direct", pg.port, None, 1)])
        if "7" in SCENARIOS:
            results["s7"] = prepared_scenario(ctx, lp.port, base, pg)
        if with_scale:
            scale.run(ctx, results)
        load1 = " ".join(open("/proc/loadavg").read().split()[:3])
        for v in results.values():
            v["run"] = f"{started}, linkpool {git_commit()}, load {load0} / {load1}"
        if os.environ.get("BENCH_MERGE") == "1":
            # Re-run some scenarios; keep the others from the last report.
            old_json = os.path.splitext(OUT)[0] + ".json"
            if os.path.exists(old_json):
                with open(old_json) as f:
                    merged = json.load(f)
                merged.update(results)
                results = merged
        write_report(results, started, load0, load1)
    finally:
        for p in poolers.values():
            p.stop()
        pg.stop()
        if os.environ.get("BENCH_KEEP") != "1" and not os.environ.get("BENCH_DIR"):
            shutil.rmtree(base, ignore_errors=True)


def pgwire_md5(user, password):
    import hashlib
    return "md5" + hashlib.md5((password + user).encode()).hexdigest()


if __name__ == "__main__":
    main()
