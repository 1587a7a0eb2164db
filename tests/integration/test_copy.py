"""COPY of ~100 MB each way through linkpool with bounded memory."""

import threading
import time

TOTAL_BYTES = 100 * 1024 * 1024
RSS_BUDGET_KB = 64 * 1024


class RssSampler(threading.Thread):
    def __init__(self, lp):
        super().__init__(daemon=True)
        self.lp = lp
        self.max_kb = 0
        self.stop_evt = threading.Event()

    def run(self):
        while not self.stop_evt.is_set():
            try:
                self.max_kb = max(self.max_kb, self.lp.rss_kb())
            except OSError:
                return
            time.sleep(0.05)

    def stop(self):
        self.stop_evt.set()
        self.join(5)


def _chunk(start_id, rows, payload):
    return "".join(f"{i}\t{payload}\n" for i in range(start_id, start_id + rows)).encode()


def _measured(linkpool):
    """A transaction-mode linkpool, a warmed-up connection, its RSS now and a
    running RSS sampler."""
    # A small ASan quarantine: freed buffers must not be counted as linkpool's growth.
    lp = linkpool({"pool_mode": "transaction"},
                  env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:quarantine_size_mb=8"})
    conn = lp.connect()
    conn.execute("SELECT 1")
    time.sleep(0.2)
    base_kb = lp.rss_kb()
    sampler = RssSampler(lp)
    sampler.start()
    return lp, conn, base_kb, sampler


def test_copy_in_and_out_100mb(linkpool, pg):
    pg.sql("DROP TABLE IF EXISTS copy_t; CREATE UNLOGGED TABLE copy_t (id int, payload text); "
           "GRANT ALL ON copy_t TO PUBLIC", db="testdb")
    lp, conn, base_kb, sampler = _measured(linkpool)
    payload = "x" * 1000
    rows_per_chunk = 1000  # ~1 MB per write
    sent = 0
    next_id = 0
    try:
        with conn.cursor() as cur:
            with cur.copy("COPY copy_t (id, payload) FROM STDIN") as copy:
                while sent < TOTAL_BYTES:
                    data = _chunk(next_id, rows_per_chunk, payload)
                    copy.write(data)
                    sent += len(data)
                    next_id += rows_per_chunk
        assert conn.execute("SELECT count(*) FROM copy_t").fetchone()[0] == next_id

        received = 0
        lines = 0
        with conn.cursor() as cur:
            with cur.copy("COPY copy_t TO STDOUT") as copy:
                for data in copy:
                    received += len(data)
                    lines += bytes(data).count(b"\n")
        assert lines == next_id
        assert received == sent
    finally:
        sampler.stop()
    growth_kb = sampler.max_kb - base_kb
    assert growth_kb < RSS_BUDGET_KB, f"linkpool RSS grew by {growth_kb} kB during COPY"
    assert conn.execute("SELECT 1").fetchone() == (1,)
    pg.sql("DROP TABLE copy_t", db="testdb")


def test_100mb_datarow_streams(linkpool):
    """One DataRow far larger than pkt_buf passes in pieces, never held whole."""
    lp, conn, base_kb, sampler = _measured(linkpool)
    try:
        n = conn.execute("SELECT length(repeat('x', %s))", (TOTAL_BYTES,)).fetchone()[0]
        assert n == TOTAL_BYTES
        row = conn.execute("SELECT repeat('x', %s)", (TOTAL_BYTES,)).fetchone()[0]
        assert len(row) == TOTAL_BYTES
    finally:
        sampler.stop()
    growth_kb = sampler.max_kb - base_kb
    assert growth_kb < RSS_BUDGET_KB, f"linkpool RSS grew by {growth_kb} kB for one 100 MB row"
    assert conn.execute("SELECT 2").fetchone() == (2,)
