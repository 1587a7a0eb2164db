"""A minimal PostgreSQL v3 client for the benchmark: md5 login, idle
connections, streaming a large result or COPY without holding it, small
text results (the admin console's SHOW) and pipelined extended-protocol
messages (prepared statements).

Only what bench.py needs; blocking sockets with timeouts so nothing hangs.
"""

import hashlib
import socket
import struct

IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h: pick the source port at connect()


class PgError(Exception):
    pass


def _msg(t, body):
    return t + struct.pack("!I", len(body) + 4) + body


def parse(name, sql):
    """Parse of a named statement without parameter types."""
    return _msg(b"P", name.encode() + b"\0" + sql.encode() + b"\0" + b"\0\0")


def bind_execute(name):
    """Bind of the statement (no parameters, text results) and Execute."""
    return (_msg(b"B", b"\0" + name.encode() + b"\0" + b"\0\0" + b"\0\0" + b"\0\0") +
            _msg(b"E", b"\0" + b"\0\0\0\0"))


SYNC = _msg(b"S", b"")


def _startup(user, db):
    body = struct.pack("!I", 196608) + b"user\0" + user.encode() + b"\0database\0" + db.encode() + b"\0\0"
    return struct.pack("!I", len(body) + 4) + body


class Conn:
    """One connection; recv() buffers and yields whole messages."""

    def __init__(self, host, port, user, password, db, src_ip=None, timeout=30.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if src_ip:
            # 127.0.0.0/8 gives ~28k ports per source address: spreading the
            # source addresses allows 100,000 connections to one port.
            self.sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            self.sock.bind((src_ip, 0))
        self.sock.connect((host, port))
        self.buf = bytearray()
        self._login(user, password, db)

    def close(self):
        try:
            self.sock.sendall(_msg(b"X", b""))
        except OSError:
            pass
        self.sock.close()

    def _fill(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise PgError("connection closed")
        self.buf += chunk

    def read_msg(self):
        while True:
            if len(self.buf) >= 5:
                n = struct.unpack_from("!I", self.buf, 1)[0]
                if len(self.buf) >= n + 1:
                    t = bytes(self.buf[0:1])
                    body = bytes(self.buf[5:n + 1])
                    del self.buf[:n + 1]
                    return t, body
            self._fill()

    def _login(self, user, password, db):
        self.sock.sendall(_startup(user, db))
        while True:
            t, body = self.read_msg()
            if t == b"R":
                code = struct.unpack_from("!I", body)[0]
                if code == 5:
                    inner = hashlib.md5((password + user).encode()).hexdigest()
                    outer = "md5" + hashlib.md5(inner.encode() + body[4:8]).hexdigest()
                    self.sock.sendall(_msg(b"p", outer.encode() + b"\0"))
                elif code == 3:
                    self.sock.sendall(_msg(b"p", password.encode() + b"\0"))
                elif code != 0:
                    raise PgError(f"unsupported auth method {code}")
            elif t == b"E":
                raise PgError(body.decode(errors="replace"))
            elif t == b"Z":
                return

    def _until_ready(self):
        err = None
        while True:
            t, body = self.read_msg()
            if t == b"E":
                err = body.decode(errors="replace")
            elif t == b"Z":
                if err:
                    raise PgError(err)
                return

    def query(self, sql):
        self.sock.sendall(_msg(b"Q", sql.encode() + b"\0"))
        self._until_ready()

    def rows(self, sql):
        """A simple query's rows as dicts of text values (NULL: None)."""
        self.sock.sendall(_msg(b"Q", sql.encode() + b"\0"))
        cols, out, err = [], [], None
        while True:
            t, body = self.read_msg()
            if t == b"T":
                n = struct.unpack_from("!H", body)[0]
                pos, cols = 2, []
                for _ in range(n):
                    end = body.index(b"\0", pos)
                    cols.append(body[pos:end].decode())
                    pos = end + 1 + 18
            elif t == b"D":
                n = struct.unpack_from("!H", body)[0]
                pos, vals = 2, []
                for _ in range(n):
                    ln = struct.unpack_from("!i", body, pos)[0]
                    pos += 4
                    vals.append(None if ln < 0 else body[pos:pos + ln].decode())
                    pos += max(ln, 0)
                out.append(dict(zip(cols, vals)))
            elif t == b"E":
                err = body.decode(errors="replace")
            elif t == b"Z":
                if err:
                    raise PgError(err)
                return out

    def pipeline(self, data):
        """Sends pipelined messages ending with one Sync; waits for its
        ReadyForQuery (raises on an ErrorResponse)."""
        self.sock.sendall(data)
        self._until_ready()

    def drain_query(self, sql):
        """Runs sql and discards its result while counting bytes, framing
        walked in place (no per-message copies). Returns bytes received."""
        self.sock.sendall(_msg(b"Q", sql.encode() + b"\0"))
        total = 0
        buf = bytearray()
        pos = 0
        err = False
        while True:
            if len(buf) - pos >= 5:
                t = buf[pos]
                n = struct.unpack_from("!I", buf, pos + 1)[0]
                if len(buf) - pos >= n + 1:
                    if t == 0x45:
                        err = True
                    if t == 0x5A:
                        self.buf = buf[pos + n + 1:]
                        if err:
                            raise PgError("query failed")
                        return total
                    pos += n + 1
                    continue
            if pos:
                del buf[:pos]
                pos = 0
            chunk = self.sock.recv(262144)
            if not chunk:
                raise PgError("connection closed")
            total += len(chunk)
            buf += chunk

    def copy_in(self, sql, total_bytes, line_len=1000):
        """COPY ... FROM STDIN with total_bytes of text rows in 64 KB CopyData
        messages."""
        self.sock.sendall(_msg(b"Q", sql.encode() + b"\0"))
        t, body = self.read_msg()
        if t != b"G":
            raise PgError(f"expected CopyInResponse, got {t!r}")
        line = b"x" * (line_len - 1) + b"\n"
        per = max(1, 65536 // line_len)
        chunk = _msg(b"d", line * per)
        sent = 0
        while sent < total_bytes:
            self.sock.sendall(chunk)
            sent += len(chunk)
        self.sock.sendall(_msg(b"c", b""))
        self._until_ready()
        return sent
