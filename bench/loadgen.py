#!/usr/bin/env python3
"""Closed-loop load of many clients over many databases (asyncio, md5
logins, simple protocol): what pgbench cannot do in one process (clients
spread over hundreds of databases) and what it cannot measure apart (its
CPU window includes the logins of 10,000 clients).

    loadgen.py HOST PORT USER PASSWORD DBS CLIENTS WRITE_PCT SEED

DBS is a comma-separated list; client i uses DBS[i % len(DBS)]. Driven over
stdin/stdout so the caller can take CPU readings around the measured window
only: it logs in all CLIENTS (64 at a time) and prints "ready N_CONNECTED";
then each line SECONDS on stdin runs that long (all clients, closed loop)
and prints one JSON line: transactions, errors, a latency histogram
(buckets of 2%, microseconds) and per client (count, sum_us, max_us); an
empty line or "quit" closes every connection and exits.
A transaction is one round trip: with probability WRITE_PCT/100 an UPDATE
of one pgbench_accounts row, otherwise a SELECT of one.
"""

import asyncio
import hashlib
import json
import math
import os
import random
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgwire  # noqa: E402

LOG_BASE = math.log(1.02)
ACCOUNTS = 1_000_000     # pgbench -s 10


def bucket(us):
    return int(math.log(max(us, 1.0)) / LOG_BASE)


def bucket_value(b):
    """Upper edge of a bucket in microseconds."""
    return math.exp((b + 1) * LOG_BASE)


class Client:
    def __init__(self, db):
        self.db, self.reader, self.writer = db, None, None
        self.count, self.sum_us, self.max_us, self.errors = 0, 0.0, 0.0, 0
        self.buf = bytearray()

    async def read_msg(self):
        head = await self.reader.readexactly(5)
        n = struct.unpack_from("!I", head, 1)[0]
        body = await self.reader.readexactly(n - 4) if n > 4 else b""
        return head[0:1], body

    async def login(self, host, port, user, password):
        self.reader, self.writer = await asyncio.open_connection(host, port, limit=1 << 20)
        self.writer.write(pgwire._startup(user, self.db))
        while True:
            t, body = await self.read_msg()
            if t == b"R":
                code = struct.unpack_from("!I", body)[0]
                if code == 5:
                    inner = hashlib.md5((password + user).encode()).hexdigest()
                    outer = "md5" + hashlib.md5(inner.encode() + body[4:8]).hexdigest()
                    self.writer.write(pgwire._msg(b"p", outer.encode() + b"\0"))
                elif code == 3:
                    self.writer.write(pgwire._msg(b"p", password.encode() + b"\0"))
                elif code != 0:
                    raise pgwire.PgError(f"unsupported auth method {code}")
            elif t == b"E":
                raise pgwire.PgError(body.decode(errors="replace"))
            elif t == b"Z":
                return

    async def until_ready(self):
        """Reads the reply up to ReadyForQuery, usually in one read: walks
        the messages in place. True if it held an ErrorResponse."""
        buf, pos, err = self.buf, 0, False
        while True:
            while len(buf) - pos >= 5:
                n = struct.unpack_from("!I", buf, pos + 1)[0]
                if len(buf) - pos < n + 1:
                    break
                t = buf[pos]
                pos += n + 1
                if t == 0x45:       # E
                    err = True
                elif t == 0x5A:     # Z
                    del buf[:pos]
                    return err
            chunk = await self.reader.read(65536)
            if not chunk:
                raise pgwire.PgError("connection closed")
            buf += chunk

    async def run(self, stop_at, write_pct, rng, hist):
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                return
            aid = rng.randint(1, ACCOUNTS)
            if rng.random() * 100 < write_pct:
                sql = f"UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = {aid}"
            else:
                sql = f"SELECT abalance FROM pgbench_accounts WHERE aid = {aid}"
            self.writer.write(pgwire._msg(b"Q", sql.encode() + b"\0"))
            err = await self.until_ready()
            us = (time.perf_counter() - now) * 1e6
            if err:
                self.errors += 1
                continue
            self.count += 1
            self.sum_us += us
            if us > self.max_us:
                self.max_us = us
            b = bucket(us)
            hist[b] = hist.get(b, 0) + 1

    def close(self):
        if self.writer:
            try:
                self.writer.write(pgwire._msg(b"X", b""))
                self.writer.close()
            except Exception:  # noqa: BLE001 - closing anyway
                pass


async def main():
    host, port, user, password, dbs, clients, write_pct, seed = sys.argv[1:9]
    dbs = dbs.split(",")
    clients, write_pct = int(clients), float(write_pct)
    rng = random.Random(int(seed))
    cl = [Client(dbs[i % len(dbs)]) for i in range(clients)]
    sem = asyncio.Semaphore(64)
    failed = []

    async def login(c):
        async with sem:
            for attempt in range(3):
                try:
                    await c.login(host, int(port), user, password)
                    c.ok = True
                    return
                except (OSError, asyncio.IncompleteReadError, pgwire.PgError) as e:
                    if attempt == 2:
                        failed.append(repr(e))
                    else:
                        await asyncio.sleep(0.2)

    await asyncio.gather(*(login(c) for c in cl))
    live = [c for c in cl if getattr(c, "ok", False)]
    print(f"ready {clients - len(failed)} {failed[:1]}", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if not line or line == "quit":
            break
        seconds = float(line)
        hist = {}
        for c in cl:
            c.count, c.sum_us, c.max_us, c.errors = 0, 0.0, 0.0, 0
        stop_at = time.perf_counter() + seconds
        t0 = time.perf_counter()
        results = await asyncio.gather(*(c.run(stop_at, write_pct, rng, hist) for c in live),
                                       return_exceptions=True)
        wall = time.perf_counter() - t0
        lost = [repr(r) for r in results if isinstance(r, BaseException)]
        live = [c for c, r in zip(live, results) if not isinstance(r, BaseException)]
        print(json.dumps({
            "wall_s": wall, "xacts": sum(c.count for c in cl), "errors": sum(c.errors for c in cl),
            "lost_clients": len(lost), "lost_example": lost[:1], "login_failures": len(failed),
            "hist": hist, "per_client": [(c.count, round(c.sum_us), round(c.max_us)) for c in live],
        }), flush=True)
    for c in cl:
        c.close()
    await asyncio.sleep(0.2)


if __name__ == "__main__":
    asyncio.run(main())
