"""Scenarios 8-12 of bench.py (issue 20): where Link runs. TLS, the Link
shape (8 databases, 1000 clients, pools of 25), saturation, cost growth
with clients, pools and databases, and connection churn with TLS and
SCRAM; each side by side with PgBouncer in the same run.

Imported by bench.py (which registers itself as the module `bench` first);
the knobs are read here:
  BENCH_SCALE_T         seconds per measured run of scenarios 8-11
                        (default 12; quick 4)
  BENCH_SCALE_REPS      repetitions of scenarios 8-10 and 12 (default 3; quick 1)
  BENCH_GROWTH_REPS     repetitions per point of the growth curves (default 2; quick 1)
  BENCH_LINK_CLIENTS    clients of scenarios 9, 10 and 11b (default 1000; quick 200)
  BENCH_CLIENT_STEPS    active clients of 11a (default "100 1000 3000 10000";
                        quick "100 500")
  BENCH_POOL_STEPS      pools of 11b (default "1 10 100 1000"; quick "1 10 50")
  BENCH_DB_STEPS        databases in the ini of 11c (default "10 100 1000 10000";
                        quick "10 1000")
  BENCH_LOADGEN_PROCS   load-generator processes (default 2)
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time

import bench as B
import loadgen
import pgwire

QUICK = B.QUICK
ST = B.env_int("BENCH_SCALE_T", 12, 4)
SREPS = B.env_int("BENCH_SCALE_REPS", 3, 1)
GREPS = B.env_int("BENCH_GROWTH_REPS", 2, 1)
LINK_CLIENTS = B.env_int("BENCH_LINK_CLIENTS", 1000, 200)
LG_PROCS = B.env_int("BENCH_LOADGEN_PROCS", 2, 2)
LINK_POOL = 25
LINK_DBS = 8
LINK_WRITE_PCT = 20
WARM_S = 3


def steps(name, full, quick):
    return [int(x) for x in os.environ.get(name, quick if QUICK else full).split()]


CLIENT_STEPS = steps("BENCH_CLIENT_STEPS", "100 1000 3000 10000", "100 500")
POOL_STEPS = steps("BENCH_POOL_STEPS", "1 10 100 1000", "1 10 50")
DB_STEPS = steps("BENCH_DB_STEPS", "10 100 1000 10000", "10 1000")
KINDS = ("linkpool", "pgbouncer")
# PostgreSQL's max_connections when these scenarios run: 11b's largest step
# has a server connection per pool.
MAX_CONNECTIONS = max(300, max(POOL_STEPS) + 200)
SCENARIOS = ("8", "9", "10", "11", "11a", "11b", "11c", "12")


def wanted(name):
    """Scenario 8..12, or one part of 11 (11a, 11b, 11c)."""
    return name in B.SCENARIOS or (name.startswith("11") and "11" in B.SCENARIOS)


def binary(kind):
    return B.LINKPOOL_BIN if kind == "linkpool" else B.PGBOUNCER_BIN


def make_pooler(ctx, kind, tag, **kw):
    pl = B.Pooler(kind, binary(kind), ctx.base, ctx.pg, dirname=f"{kind}-{tag}", **kw)
    pw = B.pg_user()
    os.chown(pl.dir, pw.pw_uid, pw.pw_gid)
    B.chown_tree(pl.dir, pw)
    return pl


def pair(ctx, tag, **kw):
    return {k: make_pooler(ctx, k, tag, **kw) for k in KINDS}


def tls_extra(pg):
    return (f"client_tls_sslmode = require\nclient_tls_key_file = {pg.key}\n"
            f"client_tls_cert_file = {pg.cert}\n")


def ratio(a, b):
    return a / b if a is not None and b else None


def per_rep_ratios(runs, key):
    lp, pb = runs.get("linkpool", []), runs.get("pgbouncer", [])
    return [ratio(a.get(key), b.get(key)) for a, b in zip(lp, pb)]


def summarize(runs, keys=("tps", "p50_ms", "p99_ms", "p999_ms", "pooler_cpu_per_k")):
    """Medians per system and the medians of the per-repetition ratios."""
    out = {"median": {}, "ratio": {}}
    for label, rs in runs.items():
        out["median"][label] = {k: B.med([r.get(k) for r in rs]) for k in keys}
        if "dist_ms" in (rs[0] if rs else {}):
            out["median"][label]["dist_ms"] = [B.med(v) for v in zip(*[r["dist_ms"] for r in rs])]
    for k in keys:
        out["ratio"][k] = B.med(per_rep_ratios(runs, k))
    return out


# ---------------------------------------------------------------- load generator

class Loadgen:
    """BENCH_LOADGEN_PROCS bench/loadgen.py processes sharing the clients;
    client i goes to dbs[i % len(dbs)]."""

    def __init__(self, port, dbs, clients, write_pct=0):
        self.procs = []
        n = max(1, min(LG_PROCS, clients))
        for j in range(n):
            mine = [dbs[i % len(dbs)] for i in range(j, clients, n)]
            p = subprocess.Popen([sys.executable, os.path.join(B.HERE, "loadgen.py"), "127.0.0.1", str(port),
                                  "bench", B.USERS["bench"], ",".join(mine), str(len(mine)), str(write_pct),
                                  str(j + 1)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self.procs.append(p)
        self.connected = 0
        for p in self.procs:
            line = p.stdout.readline().split()
            if not line or line[0] != "ready":
                raise RuntimeError(f"load generator did not start: {line}")
            self.connected += int(line[1])
        if self.connected < clients:
            B.log(f"  load generator: only {self.connected} of {clients} clients logged in")

    def cpu_ticks(self):
        return sum(B.proc_stat(p.pid)[0] for p in self.procs)

    def run(self, seconds):
        for p in self.procs:
            p.stdin.write(f"{seconds}\n")
            p.stdin.flush()
        return [json.loads(p.stdout.readline()) for p in self.procs]

    def close(self):
        for p in self.procs:
            try:
                p.stdin.write("quit\n")
                p.stdin.flush()
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def hist_percentile(hist, total, q):
    """Upper edge (ms) of the bucket holding the q-quantile."""
    want = q * total
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        if seen >= want:
            return loadgen.bucket_value(b) / 1000.0
    return float("nan")


def measure(ctx, lg, pooler, seconds):
    """One measured run of a started load generator: throughput, latency
    percentiles, fairness, CPU per 1,000 transactions (pooler, PostgreSQL,
    load generator) and the pooler's RSS with every client connected."""
    before, c0 = ctx.snapshot(), lg.cpu_ticks()
    t0 = time.monotonic()
    parts = lg.run(seconds)
    wall = time.monotonic() - t0
    after, c1 = ctx.snapshot(), lg.cpu_ticks()
    hist = {}
    for part in parts:
        for b, n in part["hist"].items():
            hist[int(b)] = hist.get(int(b), 0) + n
    xacts = sum(p["xacts"] for p in parts)
    per_client = [pc for p in parts for pc in p["per_client"]]
    k = max(xacts, 1) / 1000.0
    cpu = {name: (after[name] - before[name]) * 1000.0 / B.HZ for name in before}
    busy = cpu.pop("_machine")
    lg_ms = (c1 - c0) * 1000.0 / B.HZ
    ours = sum(cpu.values())
    means = [s / n for n, s, _ in per_client if n]
    mean_lat = sum(s for _, s, _ in per_client) / max(xacts, 1)
    counts = [n for n, _, _ in per_client]
    r = {
        "system": pooler, "clients": len(per_client), "xacts": xacts,
        "tps": xacts / max(p["wall_s"] for p in parts),
        "errors": sum(p["errors"] for p in parts), "lost_clients": sum(p["lost_clients"] for p in parts),
        "p50_ms": hist_percentile(hist, xacts, 0.5), "p99_ms": hist_percentile(hist, xacts, 0.99),
        "p999_ms": hist_percentile(hist, xacts, 0.999),
        "dist_ms": [hist_percentile(hist, xacts, q) for q in B.DIST_Q],
        "mean_ms": mean_lat / 1000.0,
        # fairness: the slowest client's mean wait and the longest single
        # wait against the mean wait; the least served client's share
        "fair_mean_max": (max(means) / (mean_lat or 1)) if means else None,
        "fair_max": (max(m for _, _, m in per_client) / (mean_lat or 1)) if per_client else None,
        "starved_clients": sum(1 for n in counts if n == 0),
        "min_share": (min(counts) / (sum(counts) / len(counts))) if counts and sum(counts) else None,
        "pooler_cpu_per_k": cpu.get(pooler, 0) / k, "pg_cpu_per_k": cpu.get("postgres", 0) / k,
        "client_cpu_per_k": lg_ms / k,
        "others_cpu_pct": max(0.0, busy - ours - lg_ms) / (wall * 1000.0) * 100.0,
        "rss_kb": B.rss_kb(ctx.poolers[pooler].proc.pid),
        "wall_s": wall,
    }
    B.log(f"  {pooler:<10} {r['clients']:>5} clients tps={r['tps']:8.0f} p50={r['p50_ms']:.2f} "
          f"p99={r['p99_ms']:.2f} p99.9={r['p999_ms']:.2f} ms pooler={r['pooler_cpu_per_k']:.1f} "
          f"pg={r['pg_cpu_per_k']:.1f} client={r['client_cpu_per_k']:.1f} cpu-ms/1k "
          f"fair={B.fmt(r['fair_mean_max'], 2)}/{B.fmt(r['fair_max'], 1)} rss={r['rss_kb']} KB "
          f"errors={r['errors']} others={r['others_cpu_pct']:.0f}%")
    return r


def loadgen_run(ctx, pooler, dbs, clients, write_pct=0, seconds=None, warm=WARM_S):
    lg = Loadgen(ctx.poolers[pooler].port, dbs, clients, write_pct)
    try:
        if warm:
            lg.run(warm)    # every pool at its size, caches warm
        return measure(ctx, lg, pooler, seconds or ST)
    finally:
        lg.close()


def loadgen_scenario(ctx, title, dbs, clients, write_pct, reps=None):
    B.log(f"scenario: {title}")
    runs = {k: [] for k in KINDS}
    for rep in range(reps or SREPS):
        for k in B.rotated(list(KINDS), rep):
            runs[k].append(loadgen_run(ctx, k, dbs, clients, write_pct))
    return {"title": title, "clients": clients, "dbs": len(dbs), "write_pct": write_pct, "seconds": ST,
            "runs": runs, "summary": summarize(runs, ("tps", "p50_ms", "p99_ms", "p999_ms", "pooler_cpu_per_k",
                                                      "fair_mean_max", "fair_max", "min_share"))}


# ---------------------------------------------------------------- scenarios

def start_all(pls):
    for p in pls.values():
        p.start()


def stop_all(pls):
    for p in pls.values():
        p.stop()


def tls_server_backends(pg):
    return int(pg.psql("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                       "WHERE s.ssl AND a.usename LIKE 'bench%'").strip() or 0)


def scenario_tls(ctx, results):
    """8: TLS from clients and to PostgreSQL; 12: churn with TLS / SCRAM."""
    pls = pair(ctx, "tls", extra=tls_extra(ctx.pg), server_tls="require")
    start_all(pls)
    c = B.Ctx(ctx.base, ctx.pg, pls)
    env = {"PGSSLMODE": "require"}
    saved = B.REPS
    B.REPS = SREPS
    try:
        if wanted("8"):
            sel = [B.System(k, pls[k].port, k, 100) for k in KINDS]
            tpcb = [B.System(k, pls[k].port, k, 50) for k in KINDS]
            for s in sel:
                B.run_pgbench(c, s, ["-S"], 2, env_extra=env, clients=40)
            r = B.pgbench_scenario(c, "8a. TLS both sides, select-only, 100 clients", sel, ["-S"], ST,
                                   env_extra=env, dist=True)
            r["server_tls_backends"] = tls_server_backends(ctx.pg)
            r["summary"] = summarize(r["runs"])
            results["s8a"] = r
            ctx.pg.psql("VACUUM ANALYZE", db="bench")
            r = B.pgbench_scenario(c, "8b. TLS both sides, TPC-B-like, 50 clients", tpcb, [], ST,
                                   env_extra=env, dist=True)
            r["summary"] = summarize(r["runs"])
            results["s8b"] = r
        if wanted("12"):
            churn = [B.System(k, pls[k].port, k, 20) for k in KINDS]
            for key, title, user in (("s12tls", "12a. churn, TLS from clients, md5", "bench"),
                                     ("s12tlsscram", "12b. churn, TLS from clients, SCRAM", "bench_scram")):
                r = B.pgbench_scenario(c, title + " (TPS = connections/s)", churn, ["-S", "-C"], B.CHURN_T,
                                       user=user, env_extra=env)
                r["summary"] = summarize(r["runs"], ("tps", "pooler_cpu_per_k"))
                results[key] = r
    finally:
        B.REPS = saved
        stop_all(pls)
    if wanted("12"):
        plain = [B.System(k, ctx.poolers[k].port, k, 20) for k in KINDS]
        saved = B.REPS
        B.REPS = SREPS
        try:
            r = B.pgbench_scenario(ctx, "12c. churn, plain TCP, SCRAM (TPS = connections/s)", plain, ["-S", "-C"],
                                   B.CHURN_T, user="bench_scram", env_extra={"PGSSLMODE": "disable"})
        finally:
            B.REPS = saved
        r["summary"] = summarize(r["runs"], ("tps", "pooler_cpu_per_k"))
        results["s12scram"] = r


def scenario_link(ctx, results):
    dbs = [f"db{i}" for i in range(LINK_DBS)]
    pls = pair(ctx, "link", pool=LINK_POOL, dbs=dbs)
    start_all(pls)
    try:
        c = B.Ctx(ctx.base, ctx.pg, pls)
        results["s9"] = loadgen_scenario(
            c, f"9. Link shape: {LINK_DBS} databases, {LINK_CLIENTS} clients, pools of {LINK_POOL}, "
               f"{100 - LINK_WRITE_PCT}% reads / {LINK_WRITE_PCT}% writes", dbs, LINK_CLIENTS, LINK_WRITE_PCT)
    finally:
        stop_all(pls)


def scenario_saturation(ctx, results):
    """10: LINK_CLIENTS clients on one pool of 25; 11a: active clients
    growing on the same poolers."""
    pls = pair(ctx, "sat", pool=LINK_POOL)
    start_all(pls)
    try:
        c = B.Ctx(ctx.base, ctx.pg, pls)
        if wanted("10"):
            results["s10"] = loadgen_scenario(
                c, f"10. saturation: {LINK_CLIENTS} clients on one pool of {LINK_POOL}, select-only",
                ["bench"], LINK_CLIENTS, 0)
        if wanted("11a"):
            B.log(f"scenario 11a: active clients {CLIENT_STEPS} on one pool of {LINK_POOL}")
            pts = []
            for n in CLIENT_STEPS:
                runs = {k: [] for k in KINDS}
                for rep in range(GREPS):
                    for k in B.rotated(list(KINDS), rep):
                        runs[k].append(loadgen_run(c, k, ["bench"], n, 0))
                pts.append({"x": n, "runs": runs, "summary": summarize(runs, ("tps", "p99_ms", "pooler_cpu_per_k",
                                                                              "rss_kb"))})
            results["s11clients"] = {"title": f"11a. active clients, one pool of {LINK_POOL}, select-only",
                                     "x": "active clients", "points": pts}
    finally:
        stop_all(pls)


def scenario_pools(ctx, results):
    """11b: the same clients over 1..1000 pools (databases of one user),
    100 server connections in all (one per pool from 100 pools up). One
    pooler runs at a time (the largest step has a server per pool)."""
    B.log(f"scenario 11b: pools {POOL_STEPS}, {LINK_CLIENTS} clients")
    pts = []
    for n in POOL_STEPS:
        dbs = [f"db{i}" for i in range(n)]
        size = max(1, 100 // n)
        runs = {k: [] for k in KINDS}
        for rep in range(GREPS):
            for k in B.rotated(list(KINDS), rep):
                pl = make_pooler(ctx, k, f"pools{n}-{rep}", pool=size, dbs=dbs)
                pl.start()
                try:
                    c = B.Ctx(ctx.base, ctx.pg, {k: pl})
                    runs[k].append(loadgen_run(c, k, dbs, max(LINK_CLIENTS, n), 0,
                                               warm=WARM_S + (2 if n >= 100 else 0)))
                finally:
                    pl.stop()
        pts.append({"x": n, "pool_size": size, "runs": runs,
                    "summary": summarize(runs, ("tps", "p99_ms", "pooler_cpu_per_k", "rss_kb"))})
    results["s11pools"] = {"title": f"11b. pools (databases of one user), {LINK_CLIENTS} clients, select-only",
                           "x": "pools", "points": pts}


class Probe(threading.Thread):
    """One client running SELECT 1 in a loop; records (time, latency)."""

    def __init__(self, port, db):
        super().__init__(daemon=True)
        self.conn = pgwire.Conn("127.0.0.1", port, "bench", B.USERS["bench"], db)
        self.samples, self.stop_flag, self.error = [], False, None

    def run(self):
        try:
            while not self.stop_flag:
                t = time.monotonic()
                self.conn.query("SELECT 1")
                self.samples.append((t, time.monotonic() - t))
        except Exception as e:  # noqa: BLE001 - reported
            self.error = repr(e)

    def worst(self, t0, t1):
        """Longest query that overlapped [t0, t1]."""
        return max((d for t, d in self.samples if t <= t1 and t + d >= t0), default=None)


def scenario_databases(ctx, results):
    """11c: start time, RELOAD time (with a client running queries through
    it) and RSS with 10..10,000 databases in the ini."""
    B.log(f"scenario 11c: databases in the ini {DB_STEPS}")
    pts = []
    for n in DB_STEPS:
        dbs = [f"db{i}" for i in range(n)]
        per = {}
        for k in KINDS:
            pl = make_pooler(ctx, k, f"dbs{n}", pool=2, dbs=dbs, admin="bench")
            t0 = time.monotonic()
            pl.start()
            start_s = time.monotonic() - t0
            try:
                rss0 = B.rss_kb(pl.proc.pid)
                probe = Probe(pl.port, "db0")
                probe.start()
                deadline = time.monotonic() + 30
                while len(probe.samples) < 20 and probe.error is None and time.monotonic() < deadline:
                    time.sleep(0.05)    # its server connection is open
                time.sleep(0.5)
                reloads, worst = [], []
                for _ in range(3):
                    admin = pgwire.Conn("127.0.0.1", pl.port, "bench", B.USERS["bench"], "pgbouncer")
                    t1 = time.monotonic()
                    admin.query("RELOAD")
                    t2 = time.monotonic()
                    admin.close()
                    time.sleep(0.3)
                    reloads.append(t2 - t1)
                    worst.append(probe.worst(t1, t2))
                base = [d for t, d in probe.samples if t < t1 - 0.05]
                probe.stop_flag = True
                probe.join(10)
                probe.conn.close()
                rss1 = B.rss_kb(pl.proc.pid)
            finally:
                pl.stop()
            per[k] = {"start_s": start_s, "reload_s": B.med(reloads), "reloads_s": reloads,
                      "probe_worst_ms": max((w or 0) * 1000 for w in worst), "probe_error": probe.error,
                      "probe_median_ms": (statistics.median(base) * 1000) if base else None,
                      "rss_kb": rss0, "rss_after_reload_kb": rss1}
            B.log(f"  {k:<10} {n:>6} databases: start {start_s:.3f} s, RELOAD {B.med(reloads):.3f} s, "
                  f"probe worst {per[k]['probe_worst_ms']:.1f} ms, RSS {rss0} -> {rss1} KB")
        pts.append({"x": n, "per": per})
    results["s11dbs"] = {"title": "11c. databases in the ini: start, RELOAD, RSS", "x": "databases",
                         "points": pts}


def run(ctx, results):
    """Runs the selected scenarios 8-12 (ctx: bench.py's main poolers)."""
    if wanted("8") or wanted("12"):
        scenario_tls(ctx, results)
    if wanted("9"):
        scenario_link(ctx, results)
    if wanted("10") or wanted("11a"):
        scenario_saturation(ctx, results)
    if wanted("11b"):
        scenario_pools(ctx, results)
    if wanted("11c"):
        scenario_databases(ctx, results)


# ---------------------------------------------------------------- targets

def _flat(res, key="pooler_cpu_per_k", kind="linkpool"):
    """Largest deviation of a growth curve from its first point."""
    vals = [p["summary"]["median"][kind][key] for p in res["points"]]
    if not vals or not vals[0]:
        return None
    return max(abs(v / vals[0] - 1) for v in vals)


def targets(results):
    """(target, figure, met) rows of issue 20, each against PgBouncer in the
    same run where it is a ratio."""
    rows = []

    def ratio_of(key, k):
        r = results.get(key)
        if not r:
            return None
        if "summary" in r:
            return r["summary"]["ratio"].get(k)
        return B.med(per_rep_ratios(r["runs"], k))

    for key, name in (("s1", "1 select-only"), ("s2", "2 extended"), ("s3", "3 TPC-B"),
                      ("s8a", "8a TLS select-only"), ("s8b", "8b TLS TPC-B"), ("s9", "9 Link shape"),
                      ("s10", "10 saturation")):
        v = ratio_of(key, "pooler_cpu_per_k")
        if v is not None:
            rows.append((f"pooler CPU/tx ≤ 0.8× PgBouncer: {name}", f"{v:.2f}×", v <= 0.8))
    for key, name in (("s8a", "8a TLS select-only"), ("s8b", "8b TLS TPC-B"), ("s9", "9 Link shape"),
                      ("s10", "10 saturation")):
        v = ratio_of(key, "p99_ms")
        if v is not None:
            rows.append((f"p99 latency ≤ PgBouncer's: {name}", f"{v:.2f}×", v <= 1.0))
    for key, name in (("s12tls", "md5"), ("s12tlsscram", "SCRAM")):
        v = ratio_of(key, "tps")
        if v is not None:
            rows.append((f"TLS-from-client churn ≥ 1.5× PgBouncer ({name})", f"{v:.2f}×", v >= 1.5))
    for key, name in (("s11clients", "clients"), ("s11pools", "pools")):
        if key in results:
            r = results[key]
            v = _flat(r)
            xs = [p["x"] for p in r["points"]]
            pb = _flat(r, kind="pgbouncer")
            if v is not None:
                rows.append((f"CPU/tx flat ±10% over {name} {xs[0]}→{xs[-1]}",
                             f"±{v * 100:.0f}% (PgBouncer ±{(pb or 0) * 100:.0f}%)", v <= 0.10))
    if "s11dbs" in results:
        last = results["s11dbs"]["points"][-1]
        lp, pb = last["per"]["linkpool"], last["per"]["pgbouncer"]
        rows.append((f"RELOAD of {last['x']} databases < 1 s",
                     f"{lp['reload_s']:.3f} s (PgBouncer {pb['reload_s']:.3f} s)", lp["reload_s"] < 1.0))
        stall = lp["probe_worst_ms"]
        rows.append((f"RELOAD of {last['x']} databases does not stall traffic (a query during it ≤ 100 ms)",
                     f"{stall:.1f} ms (PgBouncer {pb['probe_worst_ms']:.1f} ms)",
                     stall <= 100 and not lp["probe_error"]))
    s5 = results.get("s5", {})
    if isinstance(s5.get("linkpool"), dict):
        v = s5["linkpool"]["bytes_per_client"]
        rows.append((f"idle memory ≤ 400 B per client at {s5['linkpool']['n']}",
                     f"{v:.0f} B (PgBouncer {s5.get('pgbouncer', {}).get('bytes_per_client', 0):.0f} B)",
                     v <= 400))
    return rows


def print_targets(rows):
    for name, fig, ok in rows:
        B.log(f"[target] {'met    ' if ok else 'NOT MET'}  {name}: {fig}")


# ---------------------------------------------------------------- report

def _m(r, label, key, nd=1):
    return B.fmt(r["summary"]["median"].get(label, {}).get(key), nd)


def report(results, lines):
    """Markdown for scenarios 8-12 and the targets."""
    for key in ("s8a", "s8b", "s12tls", "s12tlsscram", "s12scram"):
        if key in results:
            B.scenario_table(dict(results[key], seconds=results[key]["seconds"]), lines)
            if key == "s8a":
                lines.append(f"Server connections over TLS after the runs: {results[key].get('server_tls_backends')}\n")
    for key in ("s9", "s10"):
        if key not in results:
            continue
        r = results[key]
        lines += [f"### {r['title']}", "", f"Run: {r.get('run', '')}", "",
                  f"bench/loadgen.py (asyncio, md5, simple protocol, one statement per transaction), "
                  f"{r['clients']} clients over {r['dbs']} database(s), {r['seconds']} s per run after a "
                  f"{WARM_S} s warm-up, {len(r['runs']['linkpool'])} repetitions alternating. Fairness: the "
                  "slowest client's mean latency and the longest single latency against the mean latency; "
                  "min share: the least served client's transactions against the mean.", "",
                  "| system | TPS | p50 ms | p99 ms | p99.9 ms | pooler CPU-ms/1k tx | slowest client mean / mean | "
                  "max / mean | min share |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for k in KINDS:
            lines.append(f"| {k} | {_m(r, k, 'tps', 0)} | {_m(r, k, 'p50_ms', 2)} | {_m(r, k, 'p99_ms', 2)} | "
                         f"{_m(r, k, 'p999_ms', 2)} | {_m(r, k, 'pooler_cpu_per_k')} | "
                         f"{_m(r, k, 'fair_mean_max', 2)} | {_m(r, k, 'fair_max', 1)} | {_m(r, k, 'min_share', 2)} |")
        rt = r["summary"]["ratio"]
        lines += ["", f"linkpool / PgBouncer (median of per-repetition ratios): TPS {B.fmt(rt['tps'], 2)}, "
                      f"p99 {B.fmt(rt['p99_ms'], 2)}, p99.9 {B.fmt(rt['p999_ms'], 2)}, pooler CPU per tx "
                      f"{B.fmt(rt['pooler_cpu_per_k'], 2)}", ""]
    for key in ("s11clients", "s11pools"):
        if key not in results:
            continue
        r = results[key]
        lines += [f"### {r['title']}", "", f"Run: {r.get('run', '')}", "",
                  f"| {r['x']} | TPS linkpool / PgBouncer | p99 ms | pooler CPU-ms/1k tx | CPU ratio | RSS KB |",
                  "|---:|---|---|---|---:|---|"]
        for p in r["points"]:
            s = p["summary"]
            lines.append(f"| {p['x']} | {_m(p, 'linkpool', 'tps', 0)} / {_m(p, 'pgbouncer', 'tps', 0)} | "
                         f"{_m(p, 'linkpool', 'p99_ms', 2)} / {_m(p, 'pgbouncer', 'p99_ms', 2)} | "
                         f"{_m(p, 'linkpool', 'pooler_cpu_per_k')} / {_m(p, 'pgbouncer', 'pooler_cpu_per_k')} | "
                         f"{B.fmt(s['ratio']['pooler_cpu_per_k'], 2)} | "
                         f"{_m(p, 'linkpool', 'rss_kb', 0)} / {_m(p, 'pgbouncer', 'rss_kb', 0)} |")
        lines.append("")
    if "s11dbs" in results:
        r = results["s11dbs"]
        lines += [f"### {r['title']}", "", f"Run: {r.get('run', '')}", "",
                  "Each pooler started with N `dbK = host=127.0.0.1 ... dbname=bench` lines; start = exec until "
                  "the port accepts; RELOAD of the unchanged ini from the admin console (median of 3) while one "
                  "client runs `SELECT 1` in a loop through `db0` (its worst query overlapping a RELOAD).", "",
                  "| databases | start s (linkpool / PgBouncer) | RELOAD s | worst query during RELOAD ms | "
                  "RSS KB after start | RSS KB after RELOADs |",
                  "|---:|---|---|---|---|---|"]
        for p in r["points"]:
            a, b = p["per"]["linkpool"], p["per"]["pgbouncer"]
            lines.append(f"| {p['x']} | {a['start_s']:.3f} / {b['start_s']:.3f} | {a['reload_s']:.3f} / "
                         f"{b['reload_s']:.3f} | {a['probe_worst_ms']:.1f} / {b['probe_worst_ms']:.1f} | "
                         f"{a['rss_kb']} / {b['rss_kb']} | {a['rss_after_reload_kb']} / {b['rss_after_reload_kb']} |")
        lines.append("")
    rows = targets(results)
    if rows:
        lines += ["### Targets of issue 20 (ratios to PgBouncer in the same run)", "",
                  "| target | figure | status |", "|---|---|---|"]
        lines += [f"| {n} | {f} | {'met' if ok else '**not met**'} |" for n, f, ok in rows]
        lines.append("")
    return rows
