"""A fault-injecting TCP proxy for the test suite.

Placed between linkpool and PostgreSQL (a [databases] entry's host/port point
at it), it forwards bytes both ways and, when told to at run time, misbehaves
the way networks do:

  latency(seconds)       every chunk waits this long before it is forwarded
  bandwidth(bytes_per_s) each direction is capped at this rate
  degrade(latency, rate) both of the above
  slice()                every write goes out in 1-byte pieces (TCP_NODELAY)
  blackhole()            nothing is forwarded either way and nothing is
                         closed: no RST, no FIN (new connections are accepted
                         by the kernel and then left hanging too)
  reset_after(n)         after n more bytes from the server, both sockets are
                         closed with a RST (SO_LINGER 0) -- mid-message
  fin_after(n)           after n more bytes from the server, both sockets are
                         closed with a FIN -- mid-result
  heal()                 back to plain forwarding (held bytes flow again)

Each takes live=True/False (apply to connections open now) and new=True/False
(apply to connections accepted from now on); both default to True.

The proxy runs an asyncio loop in a daemon thread; every control call is
thread-safe and waits until the loop has applied it. stop() closes the
listener and every connection and joins the thread. Only 127.0.0.1.
"""

import asyncio
import socket
import struct
import threading

import rawpg


class Fault:
    """What one connection does now. Fields are read by its pumps per chunk."""

    def __init__(self, kind=None, latency=0.0, rate=0, n=0):
        self.kind = kind        # None, "slice", "blackhole", "reset", "fin"
        self.latency = latency  # seconds added per chunk
        self.rate = rate        # bytes per second per direction, 0: no cap
        self.n = n              # server bytes before reset / fin

    def copy(self):
        return Fault(self.kind, self.latency, self.rate, self.n)


class _Conn:
    def __init__(self, proxy, cr, cw, fault):
        self.proxy = proxy
        self.cr, self.cw = cr, cw          # linkpool side
        self.sr = self.sw = None           # server side
        self.fault = fault
        self.budget = fault.n              # server bytes left before reset/fin
        self.flowing = asyncio.Event()     # cleared while blackholed
        if fault.kind != "blackhole":
            self.flowing.set()
        self.closed = False

    def set_fault(self, fault):
        self.fault = fault
        self.budget = fault.n
        if fault.kind == "blackhole":
            self.flowing.clear()
        else:
            self.flowing.set()

    def _abort(self, rst):
        if self.closed:
            return
        self.closed = True
        for w in (self.cw, self.sw):
            if w is None:
                continue
            if rst:
                sock = w.get_extra_info("socket")
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
                w.transport.abort()
            else:
                w.close()
        self.proxy.conns.discard(self)

    async def run(self):
        await self.flowing.wait()          # a blackholed accept: hang before connecting
        try:
            self.sr, self.sw = await asyncio.open_connection(self.proxy.target_host,
                                                             self.proxy.target_port)
        except OSError:
            self._abort(rst=False)         # server down: the client sees its FIN
            return
        for w in (self.cw, self.sw):
            w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.proxy.counts["connections"] += 1
        up = asyncio.ensure_future(self._pump(self.cr, self.sw, upstream=True))
        down = asyncio.ensure_future(self._pump(self.sr, self.cw, upstream=False))
        await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
        # one side ended: give the other a moment to pass on what it holds
        await asyncio.wait([up, down], timeout=1.0)
        for t in (up, down):
            t.cancel()
        self._abort(rst=False)

    async def _pump(self, reader, writer, upstream):
        try:
            while not self.closed:
                await self.flowing.wait()
                data = await reader.read(65536)
                await self.flowing.wait()   # blackholed while reading: hold the bytes
                if not data:
                    if not self.closed:
                        try:
                            writer.write_eof()  # pass the FIN on, half-close
                        except (OSError, RuntimeError):
                            pass
                    return
                f = self.fault
                if f.latency:
                    await asyncio.sleep(f.latency)
                if not upstream and f.kind in ("reset", "fin"):
                    if len(data) >= self.budget:
                        writer.write(data[:self.budget])
                        await writer.drain()
                        await asyncio.sleep(0.02)  # let loopback carry the head
                        self.proxy.counts[f.kind] += 1
                        self._abort(rst=(f.kind == "reset"))
                        return
                    self.budget -= len(data)
                if f.kind == "slice":
                    for i in range(len(data)):
                        writer.write(data[i:i + 1])
                        await writer.drain()
                elif f.rate:
                    step = max(1, f.rate // 50)
                    for i in range(0, len(data), step):
                        writer.write(data[i:i + step])
                        await writer.drain()
                        await asyncio.sleep(len(data[i:i + step]) / f.rate)
                else:
                    writer.write(data)
                    await writer.drain()
                self.proxy.counts["up" if upstream else "down"] += len(data)
        except (OSError, asyncio.IncompleteReadError):
            return


class FaultProxy:
    def __init__(self, target_host, target_port):
        self.target_host, self.target_port = target_host, target_port
        self.host = "127.0.0.1"
        self.port = None
        self.conns = set()
        self.default = Fault()
        self.counts = {"connections": 0, "up": 0, "down": 0, "reset": 0, "fin": 0}
        self._loop = asyncio.new_event_loop()
        self._server = None
        self._thread = None

    # -- lifecycle
    def start(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = rawpg.bind_low_port(sock, self.host)
        sock.listen(256)
        ready = threading.Event()

        def main():
            asyncio.set_event_loop(self._loop)

            async def setup():
                self._server = await asyncio.start_server(self._accept, sock=sock)
            self._loop.run_until_complete(setup())
            ready.set()
            self._loop.run_forever()
            # stopped: close what is left
            for c in list(self.conns):
                c._abort(rst=False)
            self._loop.run_until_complete(asyncio.sleep(0))
            pending = asyncio.all_tasks(self._loop)
            for t in pending:
                t.cancel()
            if pending:
                self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()

        self._thread = threading.Thread(target=main, name="faultproxy", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fault proxy did not start")
        return self

    def stop(self):
        if self._thread is None:
            return

        def halt():
            self._server.close()
            self._loop.stop()
        self._loop.call_soon_threadsafe(halt)
        self._thread.join(10)
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    async def _accept(self, reader, writer):
        c = _Conn(self, reader, writer, self.default.copy())
        self.conns.add(c)
        await c.run()

    # -- control (from any thread)
    def _apply(self, fault, live, new):
        done = threading.Event()

        def do():
            if new:
                self.default = fault.copy()
            if live:
                for c in list(self.conns):
                    c.set_fault(fault.copy())
            done.set()
        self._loop.call_soon_threadsafe(do)
        if not done.wait(5):
            raise RuntimeError("fault proxy loop does not answer")

    def heal(self, live=True, new=True):
        self._apply(Fault(), live, new)

    def latency(self, seconds, live=True, new=True):
        self._apply(Fault(latency=seconds), live, new)

    def bandwidth(self, bytes_per_s, live=True, new=True):
        self._apply(Fault(rate=bytes_per_s), live, new)

    def degrade(self, latency=0.0, rate=0, live=True, new=True):
        """Latency and a bandwidth cap at once (a slow, far link)."""
        self._apply(Fault(latency=latency, rate=rate), live, new)

    def slice(self, live=True, new=True):
        self._apply(Fault("slice"), live, new)

    def blackhole(self, live=True, new=True):
        self._apply(Fault("blackhole"), live, new)

    def reset_after(self, n, live=True, new=True):
        self._apply(Fault("reset", n=n), live, new)

    def fin_after(self, n, live=True, new=True):
        self._apply(Fault("fin", n=n), live, new)

    def live_count(self):
        return len(self.conns)

    def db_entry(self, dbname, **kw):
        """A [databases] connect string that goes through the proxy."""
        parts = [f"host={self.host}", f"port={self.port}", f"dbname={dbname}"]
        parts += [f"{k}={v}" for k, v in kw.items()]
        return " ".join(parts)
