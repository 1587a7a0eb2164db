"""Raw PostgreSQL v3 wire protocol client for malformed-input tests.

Builds and parses messages by hand so tests can send exactly the bytes they
want (bad lengths, truncated packets, unknown types) and see exactly what
linkpool answers. Knows enough authentication (cleartext, md5, SCRAM-SHA-256)
to get a session going.
"""

import base64
import errno
import hashlib
import hmac
import os
import random
import select
import socket
import struct
import threading
import time

PROTO_3_0 = 196608
PROTO_3_1 = 196609
PROTO_2_0 = 131072
SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102


# Test servers listen below the ephemeral range (32768-60999): a port the
# kernel hands out for "port 0" can be taken at any moment by some other
# program's outgoing connection, which makes tests flaky. PgBouncer's suite
# (../shared/pgbouncer-suite) uses 20000-24999; ours stays clear of it.
TEST_PORT_LOW, TEST_PORT_HIGH = 25000, 32000
_handed_out = set()


def bind_low_port(sock, host="127.0.0.1"):
    """Binds sock to a free port in [TEST_PORT_LOW, TEST_PORT_HIGH] on host
    and returns the port. Ports already handed out by this process are
    skipped, so two callers never get the same one."""
    for _ in range(2000):
        port = random.randint(TEST_PORT_LOW, TEST_PORT_HIGH)
        if port in _handed_out:
            continue
        try:
            sock.bind((host, port))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES):
                continue
            raise
        _handed_out.add(port)
        return port
    raise RuntimeError("no free test port below the ephemeral range")


def free_port():
    """A port below the ephemeral range that nothing listens on now, for a
    server the test is about to start."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return bind_low_port(s)


class PgError(Exception):
    """An ErrorResponse: .fields maps field codes ('S', 'C', 'M', ...) to text."""

    def __init__(self, fields):
        self.fields = fields
        super().__init__(f"{fields.get('S', '?')} {fields.get('C', '?')}: {fields.get('M', '')}")

    @property
    def sqlstate(self):
        return self.fields.get("C")

    @property
    def message(self):
        return self.fields.get("M", "")


class Closed(Exception):
    """The peer closed the connection (EOF or reset)."""


# ---------------------------------------------------------------- encoders

def cstr(s):
    if isinstance(s, str):
        s = s.encode()
    return s + b"\x00"


def msg(mtype, body=b""):
    """A typed message: 1-byte type, int32 length (self-inclusive), body."""
    if isinstance(mtype, str):
        mtype = mtype.encode()
    return mtype + struct.pack("!I", len(body) + 4) + body


def startup(user, database=None, protocol=PROTO_3_0, **params):
    body = struct.pack("!I", protocol)
    items = {"user": user}
    if database is not None:
        items["database"] = database
    items.update(params)
    for k, v in items.items():
        body += cstr(k) + cstr(v)
    body += b"\x00"
    return struct.pack("!I", len(body) + 4) + body


def ssl_request():
    return struct.pack("!II", 8, SSL_REQUEST_CODE)


def gssenc_request():
    return struct.pack("!II", 8, GSSENC_REQUEST_CODE)


def cancel_request(pid, key):
    return struct.pack("!IIII", 16, CANCEL_REQUEST_CODE, pid, key)


def query(sql):
    return msg("Q", cstr(sql))


def terminate():
    return msg("X")


def password_message(data):
    return msg("p", data)


def sync():
    return msg("S")


# ---------------------------------------------------------------- decoders

def parse_error_fields(body):
    fields = {}
    for part in body.split(b"\x00"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return fields


def md5_password(user, password, salt):
    inner = hashlib.md5((password + user).encode()).hexdigest()
    return "md5" + hashlib.md5(inner.encode() + salt).hexdigest()


class _ScramClient:
    def __init__(self, password):
        self.password = password.encode()
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n=,r={self.nonce}"

    def first(self):
        data = ("n,," + self.first_bare).encode()
        return cstr("SCRAM-SHA-256") + struct.pack("!i", len(data)) + data

    def final(self, server_first):
        self.server_first = server_first.decode()
        attrs = dict(kv.split("=", 1) for kv in self.server_first.split(","))
        if not attrs["r"].startswith(self.nonce):
            raise ValueError("server nonce does not extend ours")
        salt = base64.b64decode(attrs["s"])
        iters = int(attrs["i"])
        salted = hashlib.pbkdf2_hmac("sha256", self.password, salt, iters)
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={attrs['r']}"
        auth_msg = f"{self.first_bare},{self.server_first},{without_proof}".encode()
        sig = hmac.new(stored_key, auth_msg, "sha256").digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        server_key = hmac.new(salted, b"Server Key", "sha256").digest()
        self.expected_server_sig = base64.b64encode(
            hmac.new(server_key, auth_msg, "sha256").digest()).decode()
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def check(self, server_final):
        attrs = dict(kv.split("=", 1) for kv in server_final.decode().split(","))
        if attrs.get("v") != self.expected_server_sig:
            raise ValueError("bad SCRAM server signature")


# ---------------------------------------------------------------- connection

class RawConn:
    """One TCP (or unix) connection speaking raw v3 protocol."""

    def __init__(self, host="127.0.0.1", port=6432, timeout=5.0, unix_path=None):
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(unix_path)
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.params = {}
        self.backend_key = None
        self.notices = []
        self.auth_requests = []

    # -- plumbing
    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from peer")
        # poll, not select: a test holding over 1024 sockets gets fds past FD_SETSIZE
        p = select.poll()
        p.register(self.sock, select.POLLIN)
        if not p.poll(remaining * 1000):
            raise TimeoutError("no data from peer")
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError) as e:
            raise Closed(str(e)) from e
        if not chunk:
            raise Closed("EOF")
        self.buf += chunk

    def recv_bytes(self, n, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_msg(self, timeout=None):
        """Next (type_char, body). Raises Closed on EOF, TimeoutError on silence."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.buf) < 5:
            self._fill(deadline)
        mtype = chr(self.buf[0])
        (length,) = struct.unpack("!I", self.buf[1:5])
        if length < 4:
            raise ValueError(f"bad length {length} from peer")
        while len(self.buf) < 1 + length:
            self._fill(deadline)
        body = self.buf[5:1 + length]
        self.buf = self.buf[1 + length:]
        return mtype, body

    def close(self, abort=False):
        """Close; abort=True sends a RST (SO_LINGER 0) like a killed process."""
        try:
            if abort:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def wait_closed(self, timeout=5.0):
        """True if the peer closes within timeout (data received meanwhile is kept)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
        except Closed:
            return True
        except TimeoutError:
            return False

    def error_or_close(self, timeout=5.0):
        """Reads until an ErrorResponse or close. Returns the PgError, 'closed' or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                mtype, body = self.recv_msg(timeout=max(0.01, deadline - time.monotonic()))
            except Closed:
                return "closed"
            except ValueError:
                return "closed"  # garbage framing from a peer that gave up on us
            if mtype == "E":
                return PgError(parse_error_fields(body))

    # -- higher level
    def login(self, user, database, password=None, protocol=PROTO_3_0, **params):
        """Startup + authentication until the first ReadyForQuery. Raises PgError."""
        self.send(startup(user, database, protocol, **params))
        return self.finish_login(user, password)

    def finish_login(self, user, password=None):
        scram = None
        while True:
            mtype, body = self.recv_msg()
            if mtype == "E":
                raise PgError(parse_error_fields(body))
            if mtype == "v":
                (newest,) = struct.unpack("!I", body[:4])
                self.negotiated_minor = newest
                continue
            if mtype == "R":
                (code,) = struct.unpack("!I", body[:4])
                self.auth_requests.append(code)
                if code == 0:
                    continue
                if code == 3:
                    self.send(password_message(cstr(password or "")))
                elif code == 5:
                    self.send(password_message(cstr(md5_password(user, password or "", body[4:8]))))
                elif code == 10:
                    mechs = [m for m in body[4:].split(b"\x00") if m]
                    if b"SCRAM-SHA-256" not in mechs:
                        raise ValueError(f"no SCRAM-SHA-256 in {mechs}")
                    scram = _ScramClient(password or "")
                    self.send(password_message(scram.first()))
                elif code == 11:
                    self.send(password_message(scram.final(body[4:])))
                elif code == 12:
                    scram.check(body[4:])
                else:
                    raise ValueError(f"unsupported auth request {code}")
            elif mtype == "S":
                k, v, _ = body.split(b"\x00", 2)
                self.params[k.decode()] = v.decode()
            elif mtype == "K":
                self.backend_key = struct.unpack("!II", body[:8])
            elif mtype == "N":
                self.notices.append(parse_error_fields(body))
            elif mtype == "Z":
                return body
            else:
                raise ValueError(f"unexpected message {mtype!r} during login")

    def run(self, sql, timeout=None):
        """Simple query; returns (rows, command_tags, status). Raises PgError on ErrorResponse
        (after draining to ReadyForQuery)."""
        self.send(query(sql))
        return self.read_result(timeout)

    def read_result(self, timeout=None):
        rows, tags, err = [], [], None
        while True:
            mtype, body = self.recv_msg(timeout)
            if mtype == "D":
                (n,) = struct.unpack("!H", body[:2])
                pos, row = 2, []
                for _ in range(n):
                    (ln,) = struct.unpack("!i", body[pos:pos + 4])
                    pos += 4
                    if ln < 0:
                        row.append(None)
                    else:
                        row.append(body[pos:pos + ln].decode())
                        pos += ln
                rows.append(tuple(row))
            elif mtype == "C":
                tags.append(body.rstrip(b"\x00").decode())
            elif mtype == "E":
                err = PgError(parse_error_fields(body))
            elif mtype == "Z":
                if err:
                    raise err
                return rows, tags, body.decode()
            # T, N, S, I, etc. are ignored


# ---------------------------------------------------------------- fake servers

def recv_exact(sock, n):
    """Exactly n bytes from sock; OSError on EOF."""
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise OSError("eof")
        data += chunk
    return data


class FakeServer:
    """A loopback listener for tests that play PostgreSQL: each accepted
    connection goes to self.handle(conn) (timeout-second socket timeout;
    OSError ends that connection quietly). host/port: where to listen (a
    free low port on 127.0.0.1 by default); concurrent: a thread per
    connection instead of one at a time. close() stops it."""

    def __init__(self, host="127.0.0.1", port=None, concurrent=False, timeout=5):
        self.sock = socket.socket()
        if port is None:
            self.port = bind_low_port(self.sock, host)
        else:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((host, port))
            self.port = port
        self.sock.listen(8)
        self.stop = False
        self.concurrent, self.timeout = concurrent, timeout
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def handle(self, conn):
        raise NotImplementedError

    def _serve(self, c):
        with c:
            c.settimeout(self.timeout)
            try:
                self.handle(c)
            except OSError:
                pass

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            if self.concurrent:
                threading.Thread(target=self._serve, args=(c,), daemon=True).start()
            else:
                self._serve(c)

    def close(self):
        self.stop = True
        self.t.join(5)
        self.sock.close()
