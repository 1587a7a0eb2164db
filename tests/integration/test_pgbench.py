"""pgbench through linkpool: correctness under concurrency and pool size limits."""

import os
import re
import subprocess
import threading
import time

from conftest import PASSWORDS

BENCH_DB = "benchdb"


def _ensure_bench_db(pg):
    if not pg.sql("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,)):
        pg.sql(f"CREATE DATABASE {BENCH_DB} OWNER scram_user")


def _pgbench(lp, db, *args, timeout=120):
    env = dict(os.environ, PGPASSWORD=PASSWORDS["scram_user"], PGSSLMODE="disable")
    cmd = ["pgbench", "-h", lp.host, "-p", str(lp.port), "-U", "scram_user", *args, db]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


def _check_run(out):
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    m = re.search(r"number of transactions actually processed: (\d+)", text)
    assert m and int(m.group(1)) > 0, text
    failed = re.search(r"number of failed transactions: (\d+)", text)
    assert failed is None or int(failed.group(1)) == 0, text
    return int(m.group(1))


class BackendSampler(threading.Thread):
    """Samples how many server connections linkpool holds for user/db."""

    def __init__(self, pg, user, db):
        super().__init__(daemon=True)
        self.pg, self.user, self.db = pg, user, db
        self.max_seen = 0
        self.samples = 0
        self.stop_evt = threading.Event()

    def run(self):
        while not self.stop_evt.is_set():
            try:
                n = len(self.pg.backends(user=self.user, db=self.db))
                self.max_seen = max(self.max_seen, n)
                self.samples += 1
            except Exception:  # noqa: BLE001 - sampling is best effort
                pass
            time.sleep(0.1)

    def stop(self):
        self.stop_evt.set()
        self.join(5)


def test_pgbench_transaction_mode_pool_limit(linkpool, pg):
    _ensure_bench_db(pg)
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "5"},
                  databases={BENCH_DB: pg.db_entry(BENCH_DB)})
    init = _pgbench(lp, BENCH_DB, "-i", "-s", "1", "-q")
    assert init.returncode == 0, init.stdout + init.stderr
    sampler = BackendSampler(pg, "scram_user", BENCH_DB)
    sampler.start()
    try:
        out = _pgbench(lp, BENCH_DB, "-c", "50", "-j", "2", "-T", "10", "-n")
    finally:
        sampler.stop()
    _check_run(out)
    assert sampler.samples > 5
    assert 1 <= sampler.max_seen <= 5, f"saw {sampler.max_seen} server connections, pool size is 5"


def test_pgbench_extended_transaction_mode(linkpool, pg):
    _ensure_bench_db(pg)
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "5"},
                  databases={BENCH_DB: pg.db_entry(BENCH_DB)})
    init = _pgbench(lp, BENCH_DB, "-i", "-s", "1", "-q")
    assert init.returncode == 0, init.stdout + init.stderr
    _check_run(_pgbench(lp, BENCH_DB, "-M", "extended", "-c", "20", "-j", "2", "-T", "5", "-n"))


def test_pgbench_prepared_session_mode(linkpool, pg):
    _ensure_bench_db(pg)
    lp = linkpool({"pool_mode": "session", "default_pool_size": "20"},
                  databases={BENCH_DB: pg.db_entry(BENCH_DB)})
    init = _pgbench(lp, BENCH_DB, "-i", "-s", "1", "-q")
    assert init.returncode == 0, init.stdout + init.stderr
    _check_run(_pgbench(lp, BENCH_DB, "-M", "prepared", "-c", "10", "-j", "2", "-T", "5", "-n"))
