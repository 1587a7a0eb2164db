#!/usr/bin/env python3
"""Before/after of two linkpool builds: pooler CPU per transaction and TPS,
the two builds side by side on one PostgreSQL and strictly alternated (A, B,
A, B ...), each run a fixed number of pgbench select-only transactions after
a short warm-up, so that drift of the machine falls on both alike.

    AB_A=<old linkpool> AB_B=<new linkpool> /usr/bin/python3 bench/ab.py

Environment: AB_REPS (default 7), AB_CLIENTS (default "100 20"), AB_MODES
(default "simple extended"), AB_X transactions per client per run (default
400 at 100 clients = 40,000 per run; give 2000 for 20 clients). Prints each
run and then the medians per (clients, mode, build) with B/A ratios, and the
median of the paired ratios (each B run over the A run before it). The
CPU is the pooler's utime + stime from /proc over the run.
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import profile as prof  # noqa: E402  (bench/profile.py: pgbench(), switches())


def main():
    builds = [("A", os.environ["AB_A"]), ("B", os.environ["AB_B"])]
    reps = int(os.environ.get("AB_REPS", "7"))
    xacts = int(os.environ.get("AB_X", "400"))
    # The Pooler slots are named after the two configurations bench.py
    # writes; both read the same ini (linkpool reads PgBouncer's).
    slots = [(slot, binary) for slot, (_, binary) in zip(("linkpool", "pgbouncer"), builds)]
    with bench.poolers_on_postgres("lp-ab-", slots) as (_, poolers):
        for pl in poolers:
            pl.start()
        res = {}
        for clients in os.environ.get("AB_CLIENTS", "100 20").split():
            for mode in os.environ.get("AB_MODES", "simple extended").split():
                for _ in range(reps):
                    for (name, _), pl in zip(builds, poolers):
                        prof.pgbench(pl.port, mode, xacts=20, clients=int(clients))
                        t0 = bench.proc_stat(pl.proc.pid)[0]
                        w0 = time.monotonic()
                        n = prof.pgbench(pl.port, mode, xacts=xacts, clients=int(clients))
                        wall = time.monotonic() - w0
                        us = 1e6 * (bench.proc_stat(pl.proc.pid)[0] - t0) / bench.HZ / n
                        res.setdefault((clients, mode, name), []).append((us, n / wall))
                        print(f"c{clients} {mode:<8} {name} {us:5.1f} us/tx {n / wall:7.0f} tps", flush=True)
        for clients in os.environ.get("AB_CLIENTS", "100 20").split():
            for mode in os.environ.get("AB_MODES", "simple extended").split():
                a, b = res[(clients, mode, "A")], res[(clients, mode, "B")]
                ca, cb = statistics.median(x[0] for x in a), statistics.median(x[0] for x in b)
                ta, tb = statistics.median(x[1] for x in a), statistics.median(x[1] for x in b)
                # each B run against the A run just before it: a drift of the
                # machine over the whole series (a warm-up, a neighbour
                # finishing) falls on both sides of each pair alike
                pc = statistics.median(y[0] / x[0] for x, y in zip(a, b))
                pt = statistics.median(y[1] / x[1] for x, y in zip(a, b))
                print(f"median c{clients} {mode:<8} CPU us/tx B/A {cb:.1f}/{ca:.1f} ({(cb / ca - 1) * 100:+.1f} %)  "
                      f"TPS B/A {tb:.0f}/{ta:.0f} ({(tb / ta - 1) * 100:+.1f} %)  "
                      f"paired: CPU {(pc - 1) * 100:+.1f} %, TPS {(pt - 1) * 100:+.1f} %", flush=True)


if __name__ == "__main__":
    main()
