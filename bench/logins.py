#!/usr/bin/env python3
"""Pooler CPU per login with many [databases] entries: two linkpool builds
(or linkpool and PgBouncer) side by side on one PostgreSQL, each with
LOGINS_DBS entries in its ini, strictly alternated; each run is
`pgbench -C -S` (a new connection per transaction) on the last database.

    /usr/bin/python3 bench/logins.py <binary A> <binary B>

Environment: LOGINS_DBS (default 10000), LOGINS_REPS (default 5),
LOGINS_X connections per client per run (default 500, 4 clients). Prints
each run and the medians.
"""

import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    a, b = sys.argv[1], sys.argv[2]
    ndbs = int(os.environ.get("LOGINS_DBS", "10000"))
    reps = int(os.environ.get("LOGINS_REPS", "5"))
    xacts = int(os.environ.get("LOGINS_X", "500"))
    env = dict(os.environ, PGPASSWORD=bench.USERS["bench"])
    with bench.poolers_on_postgres("lp-logins-", []) as (pg, _):
        dbs = ["bench"] + [f"db{i}" for i in range(ndbs)]
        pls = [bench.Pooler(n, binary, pg.base, pg, dbs=dbs) for n, binary in (("A", a), ("B", b))]
        bench.chown_tree(pg.base, bench.pg_user())
        try:
            for pl in pls:
                pl.start()
            res = {pl.name: [] for pl in pls}
            for _ in range(reps):
                for pl in pls:
                    t0 = bench.proc_stat(pl.proc.pid)[0]
                    r = subprocess.run([bench.PGBENCH, "-h", "127.0.0.1", "-p", str(pl.port), "-U", "bench", "-n",
                                        "-S", "-C", "-c", "4", "-j", "2", "-t", str(xacts), f"db{ndbs - 1}"],
                                       capture_output=True, text=True, env=env, timeout=600)
                    m = re.search(r"processed: (\d+)", r.stdout)
                    if r.returncode != 0 or not m:
                        raise RuntimeError(r.stdout + r.stderr)
                    us = 1e6 * (bench.proc_stat(pl.proc.pid)[0] - t0) / bench.HZ / int(m.group(1))
                    res[pl.name].append(us)
                    print(f"{pl.name} {us:6.0f} us of pooler CPU per login", flush=True)
            for name, v in res.items():
                print(f"median {name} {statistics.median(v):.0f} us per login ({ndbs} databases)")
        finally:
            for pl in pls:
                pl.stop()


if __name__ == "__main__":
    main()
