"""The soak (issue 19, item 5), run by scripts/soak.sh MINUTES.

Starts its own PostgreSQL 15 and linkpool (the integration suite's PgCluster
and Linkpool, from conftest.py), then for MINUTES keeps up at once:

  - load: pgbench's TPC-B-like writes, 8 clients on persistent connections
    through linkpool in transaction mode, at a fixed rate (LP_SOAK_TPS, 200);
  - churn: pgbench -C, a new connection (login, SELECT, logout) per
    transaction, 4 clients at LP_SOAK_CHURN connections per second (40);
  - reloads: the admin console's RELOAD every LP_SOAK_RELOAD seconds (3),
    each of a changed file; every fourth reload reads a broken file (which
    linkpool must refuse, keeping the running configuration) and the next
    one a good file again.

linkpool's RSS (VmRSS) and open descriptors are looked at ten times every
LP_SOAK_INTERVAL seconds (5); a sample is the interval's RSS peak and its
descriptor floor (leaving out the churn's connections of the moment, so
that a leaked descriptor raises it; the pool is kept at its full size by
min_pool_size, so its server connections do not move the floor). Past the warm-up (a fifth of the run, at least
30 s) the samples must be flat: the median of the last quarter at most 5%
above the median of the first quarter, for both. Both pgbench runs must end
without a failed transaction and linkpool without a sanitizer report. Prints
every sample and a summary, appends a "soak" line to $LP_RECORD when set,
exits 0 when flat, 1 otherwise.

An ASan build (CI's) gets a 16 MiB quarantine (ASAN_OPTIONS), so that freed
memory waiting there fills during the warm-up instead of looking like growth.
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import LINKPOOL_BIN, PASSWORDS, PG_BINDIR, Linkpool, PgCluster  # noqa: E402
from record import record  # noqa: E402

TPS = int(os.environ.get("LP_SOAK_TPS", "200"))
CHURN = int(os.environ.get("LP_SOAK_CHURN", "40"))
RELOAD_S = float(os.environ.get("LP_SOAK_RELOAD", "3"))
INTERVAL_S = float(os.environ.get("LP_SOAK_INTERVAL", "5"))
FLAT = 1.05
POOL = 10


def log(*a):
    print("[soak]", *a, flush=True)


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def pgbench(lp, seconds, *args):
    env = dict(os.environ, PGPASSWORD=PASSWORDS["scram_user"])
    cmd = [f"{PG_BINDIR}/pgbench", "-h", lp.host, "-p", str(lp.port), "-U", "scram_user",
           "-n", "-M", "simple", "-T", str(int(seconds)), *args, "testdb"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def pgbench_figures(out):
    def num(pattern):
        m = re.search(pattern, out)
        return int(m.group(1)) if m else None
    return {"transactions": num(r"number of transactions actually processed: (\d+)"),
            "failed": num(r"number of failed transactions: (\d+)") or 0}


def flatness(values):
    """(first-quarter median, last-quarter median, growth in %)."""
    q = max(1, len(values) // 4)
    first, last = statistics.median(values[:q]), statistics.median(values[-q:])
    growth = round((last / first - 1) * 100, 2)
    whole = lambda v: int(v) if v == int(v) else v  # noqa: E731
    return whole(first), whole(last), growth


class Reloader(threading.Thread):
    def __init__(self, lp):
        super().__init__(daemon=True)
        self.lp = lp
        self.stop = threading.Event()
        self.good = self.broken = 0
        self.errors = []

    def run(self):
        n = 0
        while not self.stop.wait(RELOAD_S):
            n += 1
            broken = n % 4 == 0
            # a reloadable option changes every time, so each good reload
            # builds a new generation
            self.lp.write_ini({"server_idle_timeout": str(600 + n % 7)})
            if broken:
                with open(self.lp.ini_path, "a") as f:
                    f.write("this line is not an option\n")
            try:
                self.lp.admin("RELOAD")
                if broken:
                    self.errors.append(f"reload {n}: a broken file was accepted")
                self.good += 1
            except Exception as e:  # noqa: BLE001 - a broken file must be refused
                if not broken:
                    self.errors.append(f"reload {n}: {e!r}")
                self.broken += 1


def main():
    minutes = float(sys.argv[1])
    seconds = minutes * 60
    warmup = max(30.0, seconds / 5)
    if seconds < warmup + 8 * INTERVAL_S:
        sys.exit(f"soak: {minutes} min leaves too few samples past the {warmup:.0f} s warm-up")
    base = tempfile.mkdtemp(prefix="lp-soak-")
    pg = PgCluster()
    lp = None
    ok = False
    try:
        log(f"PostgreSQL 15 on 127.0.0.1:{pg.port}, linkpool {LINKPOOL_BIN}")
        pg.init()
        subprocess.run([f"{PG_BINDIR}/pgbench", "-i", "-q", "-s", "1", "-h", pg.host, "-p",
                        str(pg.port), "-U", "scram_user", "testdb"], check=True,
                       env=dict(os.environ, PGPASSWORD=PASSWORDS["scram_user"]),
                       capture_output=True)
        sockdir = tempfile.mkdtemp(prefix="lp-sock-")
        workdir = os.path.join(base, "lp")
        os.mkdir(workdir)
        lp = Linkpool(pg, workdir, sockdir)
        # min_pool_size = pool size: the pool is full from the warm-up on, so
        # the descriptor floor cannot rise because the load's bursts grow the
        # pool (up to its bound) -- only because something leaks
        lp.write_ini({"pool_mode": "transaction", "default_pool_size": str(POOL),
                      "min_pool_size": str(POOL),
                      "max_client_conn": "200", "log_connections": "0",
                      "log_disconnections": "0"})
        opts = os.environ.get("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        lp.start(env={"ASAN_OPTIONS": f"{opts}:quarantine_size_mb=16"})
        log(f"linkpool pid {lp.pid} on {lp.host}:{lp.port}; {minutes:g} min, warm-up {warmup:.0f} s, "
            f"load {TPS} tps, churn {CHURN} connections/s, RELOAD every {RELOAD_S:g} s")

        load = pgbench(lp, seconds, "-c", "8", "-j", "2", "-R", str(TPS))
        churn = pgbench(lp, seconds, "-C", "-S", "-c", "4", "-j", "1", "-R", str(CHURN))
        reloader = Reloader(lp)
        reloader.start()
        t0 = time.monotonic()
        samples = []
        print(f"{'t_s':>6} {'rss_kb':>9} {'fds':>5}    (RSS peak, descriptor floor of each interval)", flush=True)
        while time.monotonic() - t0 < seconds - 1:
            # ten looks per interval: the RSS peak, and the descriptor floor
            # (the churn's connections of the moment left out)
            rss, fds = 0, None
            for _ in range(10):
                time.sleep(INTERVAL_S / 10)
                if lp.proc.poll() is not None:
                    break
                rss, n = max(rss, lp.rss_kb()), fd_count(lp.pid)
                fds = n if fds is None else min(fds, n)
            t = time.monotonic() - t0
            if lp.proc.poll() is not None:
                break
            samples.append((round(t), rss, fds))
            print(f"{round(t):>6} {rss:>9} {fds:>5}{'' if t >= warmup else '  (warm-up)'}", flush=True)
        reloader.stop.set()
        reloader.join(30)
        load_out = load.communicate(timeout=120)[0]
        churn_out = churn.communicate(timeout=120)[0]
        alive = lp.proc.poll() is None
        lf, cf = pgbench_figures(load_out), pgbench_figures(churn_out)

        steady = [s for s in samples if s[0] >= warmup]
        rss0, rss1, rss_pct = flatness([s[1] for s in steady])
        fds0, fds1, fds_pct = flatness([s[2] for s in steady])
        problems = []
        if not alive:
            problems.append(f"linkpool exited with {lp.proc.returncode}")
        if rss_pct > (FLAT - 1) * 100:
            problems.append(f"RSS grew {rss_pct}% ({rss0} -> {rss1} KiB)")
        if fds_pct > (FLAT - 1) * 100:
            problems.append(f"descriptors grew {fds_pct}% ({fds0} -> {fds1})")
        for name, proc, fig, out in (("load", load, lf, load_out), ("churn", churn, cf, churn_out)):
            if proc.returncode != 0 or fig["failed"] or not fig["transactions"]:
                problems.append(f"pgbench {name}: exit {proc.returncode}, {fig}\n{out[-2000:]}")
        problems += reloader.errors
        rc = lp.stop()
        if alive and rc != 0:
            problems.append(f"linkpool exited with {rc} on SIGTERM")
        problems += lp.problems()
        ok = not problems
        figures = dict(minutes=minutes, samples=len(steady), warmup_s=round(warmup),
                       rss_first_kb=rss0, rss_last_kb=rss1, rss_growth_pct=rss_pct,
                       rss_max_kb=max(s[1] for s in steady), fds_first=fds0, fds_last=fds1,
                       fds_growth_pct=fds_pct, load_transactions=lf["transactions"],
                       churn_connections=cf["transactions"], failed_transactions=lf["failed"] + cf["failed"],
                       reloads=reloader.good, broken_reloads_refused=reloader.broken,
                       flat=ok)
        record("soak", f"{minutes:g} min", **figures)
        log("summary: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
        for p in problems:
            log("FAIL: " + p)
        if problems:
            log(f"linkpool output kept in {workdir}")
        log("flat: PASS" if ok else "flat: FAIL")
    finally:
        if lp is not None and lp.proc is not None and lp.proc.poll() is None:
            lp.proc.kill()
        pg.destroy()
        if ok:
            shutil.rmtree(base, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
