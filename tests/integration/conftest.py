"""Integration test fixtures: a throwaway PostgreSQL 15 cluster (`pg`, one per
session) and a factory that starts linkpool against it (`linkpool`, one or more
per test).

Environment:
  LINKPOOL_BIN   the binary under test (default: <repo>/build/linkpool)
  PG_BINDIR      PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
"""

import base64
import contextlib
import ctypes
import hashlib
import hmac
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import psycopg
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import rawpg  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PG_BINDIR = os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin")
LINKPOOL_BIN = os.environ.get("LINKPOOL_BIN", os.path.join(REPO, "build", "linkpool"))

# Roles created in the test cluster and their passwords. How PostgreSQL checks
# each one over TCP is set in pg_hba.conf below.
PASSWORDS = {
    "scram_user": "scram-secret-1",  # scram-sha-256
    "md5_user": "md5-secret-2",      # md5 (stored as md5 hash)
    "trust_user": "trust-secret-3",  # trust
    "plain_user": "plain-secret-4",  # password (cleartext)
}
# linkpool-only users (admin console / stats); not PostgreSQL roles.
LP_ONLY_PASSWORDS = {"admin": "admin-secret", "stats": "stats-secret"}

# Only for running this suite against another pooler (e.g. PgBouncer < 1.23, which
# exits 1 on SIGTERM): linkpool must exit 0 after a clean shutdown.
ALLOW_NONZERO_EXIT = os.environ.get("LP_TEST_ALLOW_NONZERO_EXIT") == "1"

SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                     "UndefinedBehaviorSanitizer", "PANIC")


# ---------------------------------------------------------------- helpers

free_port = rawpg.free_port  # below the ephemeral range (rawpg.py says why)


def md5_secret(user, password):
    """userlist.txt md5 secret: "md5" + md5(password + user)."""
    return "md5" + hashlib.md5((password + user).encode()).hexdigest()


def scram_verifier(password, salt=None, iterations=4096):
    """userlist.txt SCRAM secret, the same format as pg_authid.rolpassword."""
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def wait_for(pred, timeout=5.0, interval=0.05, what="condition"):
    """Polls pred() until truthy; returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last_exc = e
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_exc!r})" if last_exc else ""))


def _as_postgres(cmd):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


def _die_with_parent():
    """In the child before exec: SIGKILL it if the test runner dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


# ---------------------------------------------------------------- PostgreSQL

class PgCluster:
    def __init__(self):
        self.base = tempfile.mkdtemp(prefix="lp-pg-")
        self.data = os.path.join(self.base, "data")
        self.logfile = os.path.join(self.base, "postgresql.log")
        self.port = free_port()
        self.host = "127.0.0.1"
        self.socket_dir = self.base
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
        os.chmod(self.base, 0o755)

    def _run(self, cmd, **kw):
        return subprocess.run(_as_postgres(cmd), check=True, capture_output=True, text=True, **kw)

    def init(self):
        self._run([f"{PG_BINDIR}/initdb", "-D", self.data, "-U", "postgres", "-E", "UTF8",
                   "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256", "-N"])
        conf = f"""
port = {self.port}
listen_addresses = '127.0.0.1'
unix_socket_directories = '{self.socket_dir}'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
password_encryption = 'scram-sha-256'
logging_collector = off
log_min_messages = warning
DateStyle = 'ISO, MDY'
TimeZone = 'UTC'
"""
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(conf)
        hba = """
local   all   all                          trust
host    all   md5_user     127.0.0.1/32    md5
host    all   trust_user   127.0.0.1/32    trust
host    all   plain_user   127.0.0.1/32    password
host    all   all          127.0.0.1/32    scram-sha-256
host    all   all          ::1/128         scram-sha-256
"""
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write(hba)
        self.start()
        pw = PASSWORDS
        self.sql(f"CREATE ROLE scram_user LOGIN PASSWORD '{pw['scram_user']}'")
        self.sql(f"SET password_encryption = 'md5'; CREATE ROLE md5_user LOGIN PASSWORD '{pw['md5_user']}'")
        self.sql(f"CREATE ROLE trust_user LOGIN PASSWORD '{pw['trust_user']}'")
        self.sql(f"CREATE ROLE plain_user LOGIN PASSWORD '{pw['plain_user']}'")
        self.sql("CREATE DATABASE testdb OWNER scram_user")
        self.sql("CREATE DATABASE otherdb OWNER scram_user")
        for db in ("testdb", "otherdb"):
            self.sql(f"GRANT ALL ON DATABASE {db} TO PUBLIC")
            self.sql("GRANT ALL ON SCHEMA public TO PUBLIC", db=db)

    def start(self):
        self._run([f"{PG_BINDIR}/pg_ctl", "-D", self.data, "-l", self.logfile, "-w", "-t", "60", "start"])

    def stop(self, mode="fast"):
        self._run([f"{PG_BINDIR}/pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop"])

    def restart(self, mode="fast"):
        self._run([f"{PG_BINDIR}/pg_ctl", "-D", self.data, "-l", self.logfile, "-m", mode,
                   "-w", "-t", "60", "restart"])

    def running(self):
        return subprocess.run(_as_postgres([f"{PG_BINDIR}/pg_ctl", "-D", self.data, "status"]),
                              capture_output=True).returncode == 0

    def destroy(self):
        with contextlib.suppress(Exception):
            if self.running():
                self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    # -- access
    def dsn(self, user="scram_user", db="testdb", password=None):
        """Direct TCP conninfo to PostgreSQL (bypassing linkpool)."""
        if password is None:
            password = PASSWORDS.get(user, "")
        return (f"host={self.host} port={self.port} user={user} dbname={db} "
                f"password={password} sslmode=disable connect_timeout=5")

    def superuser_conninfo(self, db="postgres"):
        return f"host={self.socket_dir} port={self.port} user=postgres dbname={db} connect_timeout=5"

    def sql(self, query, params=None, db="postgres"):
        """Runs query as superuser over the unix socket; returns rows (or [])."""
        with psycopg.connect(self.superuser_conninfo(db), autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def get_verifier(self, role):
        return self.sql("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,))[0][0]

    def db_entry(self, dbname="testdb", **kw):
        """A [databases] connect string for this cluster."""
        parts = [f"host={self.host}", f"port={self.port}", f"dbname={dbname}"]
        parts += [f"{k}={v}" for k, v in kw.items()]
        return " ".join(parts)

    def backends(self, user=None, db=None, state=None):
        """Client backends (as rows of (pid, usename, datname, state, query))."""
        q = ("SELECT pid, usename, datname, state, query FROM pg_stat_activity "
             "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
        args = []
        for col, val in (("usename", user), ("datname", db), ("state", state)):
            if val is not None:
                q += f" AND {col} = %s"
                args.append(val)
        return self.sql(q, args)


@contextlib.contextmanager
def own_cluster(setup):
    """A PostgreSQL cluster of a module's own: initialised, then setup(cluster)
    (its configuration, roles, tables); removed when setup fails and after use."""
    cluster = PgCluster()
    try:
        cluster.init()
        setup(cluster)
    except Exception:
        cluster.destroy()
        raise
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def pg():
    if not os.path.exists(f"{PG_BINDIR}/initdb"):
        pytest.fail(f"PostgreSQL binaries not found in {PG_BINDIR}")
    cluster = PgCluster()
    try:
        cluster.init()
    except subprocess.CalledProcessError as e:
        log = ""
        with contextlib.suppress(OSError):
            log = open(cluster.logfile).read()[-4000:]
        cluster.destroy()
        pytest.fail(f"PostgreSQL setup failed: {e.cmd}\n{e.stdout}\n{e.stderr}\n{log}")
    yield cluster
    cluster.destroy()


class TestTimeout(Exception):
    pass


@pytest.fixture(autouse=True)
def _per_test_timeout(request):
    """A hung pooler must fail one test, not hang the suite: SIGALRM after
    LP_TEST_TIMEOUT seconds (default 90) or @pytest.mark.timeout(N)."""
    marker = request.node.get_closest_marker("timeout")
    seconds = int(marker.args[0]) if marker else int(os.environ.get("LP_TEST_TIMEOUT", "90"))

    def on_alarm(signum, frame):
        raise TestTimeout(f"test exceeded {seconds}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout(seconds): per-test time limit (SIGALRM based)")
    # SIGTERM (e.g. from `timeout`) runs the teardowns that stop PostgreSQL and linkpool
    signal.signal(signal.SIGTERM, _raise_interrupt)


@pytest.fixture(autouse=True)
def _pg_alive(request):
    """Tests that stop PostgreSQL must not break the ones after them."""
    yield
    if "pg" in request.fixturenames:
        cluster = request.getfixturevalue("pg")
        if not cluster.running():
            cluster.start()


# ---------------------------------------------------------------- linkpool

def _fmt_entry(v):
    if isinstance(v, dict):
        return " ".join(f"{k}={val}" for k, val in v.items())
    return str(v)


class Linkpool:
    """One linkpool process with its own config directory."""

    def __init__(self, pg, workdir, sockdir):
        self.pg = pg
        self.workdir = workdir
        self.sockdir = sockdir
        self.host = "127.0.0.1"
        self.port = free_port()
        self.metrics_port = free_port()  # never the shared default 9127
        self.ini_path = os.path.join(workdir, "linkpool.ini")
        self.userlist_path = os.path.join(workdir, "userlist.txt")
        self.logfile = os.path.join(workdir, "linkpool.log")
        self.pidfile = os.path.join(workdir, "linkpool.pid")
        self.stderr_path = os.path.join(workdir, "stderr.log")
        self.proc = None
        self.check_exit_code = True
        self._conns = []
        self._stderr = None
        self.ini = {
            "listen_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "unix_socket_dir": sockdir,
            "logfile": self.logfile,
            "pidfile": self.pidfile,
            "auth_type": "md5",
            "auth_file": self.userlist_path,
            "admin_users": "admin",
            "stats_users": "stats",
            "pool_mode": "session",
            "default_pool_size": "10",
            "max_client_conn": "200",
            "server_reset_query": "DISCARD ALL",
            "metrics_listen_addr": "127.0.0.1",
            "metrics_port": str(self.metrics_port),
        }
        self.databases = {
            "testdb": pg.db_entry("testdb"),
            "otherdb": pg.db_entry("otherdb"),
        }
        self.users_section = {}
        self.peers_section = {}
        self.userlist = list(PASSWORDS.items()) + list(LP_ONLY_PASSWORDS.items())

    # -- config
    def write_ini(self, ini_overrides=None, databases=None, users_section=None, userlist=None,
                  peers=None):
        """Merges changes into the current config and rewrites the files (no reload).
        A value of None in a dict removes that key. peers: the [peers] section."""
        for target, upd in ((self.ini, ini_overrides), (self.databases, databases),
                            (self.users_section, users_section), (self.peers_section, peers)):
            for k, v in (upd or {}).items():
                if v is None:
                    target.pop(k, None)
                else:
                    target[k] = _fmt_entry(v)
        if userlist is not None:
            self.userlist = list(userlist)
        lines = ["[databases]"]
        lines += [f"{k} = {v}" for k, v in self.databases.items()]
        if self.users_section:
            lines += ["", "[users]"] + [f"{k} = {v}" for k, v in self.users_section.items()]
        if self.peers_section:
            lines += ["", "[peers]"] + [f"{k} = {v}" for k, v in self.peers_section.items()]
        lines += ["", "[pgbouncer]"] + [f"{k} = {v}" for k, v in self.ini.items()]
        self.write_raw("\n".join(lines) + "\n")
        with open(self.userlist_path, "w") as f:
            for user, secret in self.userlist:
                f.write(f'"{user}" "{secret}"\n')

    def write_raw(self, text):
        with open(self.ini_path, "w") as f:
            f.write(text)

    def ini_text(self):
        with open(self.ini_path) as f:
            return f.read()

    # -- process
    def start(self, args=(), env=None, wait=True):
        e = dict(os.environ)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        e.update(env or {})
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([LINKPOOL_BIN, *args, self.ini_path], stdin=subprocess.DEVNULL,
                                     stdout=self._stderr, stderr=self._stderr, env=e,
                                     cwd=self.workdir, preexec_fn=_die_with_parent)
        if wait:
            self.wait_listening()
        return self

    def wait_listening(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"linkpool exited with code {self.proc.returncode} during startup\n"
                            f"--- stderr+log ---\n{self.output_text()[-6000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"linkpool did not listen on {self.port} within {timeout}s\n{self.output_text()[-6000:]}")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self):
        self.signal(signal.SIGHUP)

    def wait_exit(self, timeout=10.0):
        """Returns the exit code, or None if still running after timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    @property
    def pid(self):
        return self.proc.pid

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    # -- logs
    def log_text(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stderr_text(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def output_text(self):
        return self.stderr_text() + "\n--- logfile ---\n" + self.log_text()

    def wait_log(self, pattern, timeout=5.0):
        """Waits until the log file or stderr matches regex pattern; returns the match."""
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log_text()) or rx.search(self.stderr_text()),
                        timeout, what=f"log line matching {pattern!r}")

    # -- clients
    def dsn(self, user="scram_user", db="testdb", password=None, **extra):
        if password is None:
            password = PASSWORDS.get(user, LP_ONLY_PASSWORDS.get(user, ""))
        s = (f"host={self.host} port={self.port} user={user} dbname={db} "
             f"password={password} sslmode=disable connect_timeout=10")
        for k, v in extra.items():
            s += f" {k}={v}"
        return s

    def url(self, user="scram_user", db="testdb", password=None):
        if password is None:
            password = PASSWORDS.get(user, LP_ONLY_PASSWORDS.get(user, ""))
        return f"postgresql://{user}:{password}@{self.host}:{self.port}/{db}?sslmode=disable"

    def connect(self, user="scram_user", db="testdb", password=None, autocommit=True, **kw):
        """psycopg connection through linkpool; closed before linkpool is stopped.
        prepare_threshold=None: no named prepared statements (transaction pooling)."""
        kw.setdefault("prepare_threshold", None)
        conn = psycopg.connect(self.dsn(user, db, password), autocommit=autocommit, **kw)
        self._conns.append(conn)
        return conn

    def raw(self, timeout=5.0):
        c = rawpg.RawConn(self.host, self.port, timeout=timeout)
        self._conns.append(c)
        return c

    def raw_login(self, user="scram_user", db="testdb", password=None, timeout=5.0, **params):
        """A logged-in rawpg connection; params go into the startup packet."""
        if password is None:
            password = PASSWORDS.get(user, LP_ONLY_PASSWORDS.get(user, ""))
        c = self.raw(timeout)
        c.login(user, db, password, **params)
        return c

    def http_get(self, path, timeout=5.0, method="GET"):
        """(status, headers dict, body bytes) from the metrics endpoint."""
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", int(self.ini["metrics_port"]), timeout=timeout)
        try:
            conn.request(method, path)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def admin(self, sql):
        """Runs sql on the admin console (database 'pgbouncer', user admin)."""
        with psycopg.connect(self.dsn("admin", "pgbouncer"), autocommit=True,
                             prepare_threshold=None) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

    def admin_rows(self, sql):
        """Rows of a console command, each a dict by column name."""
        with psycopg.connect(self.dsn("admin", "pgbouncer"), autocommit=True,
                             prepare_threshold=None) as conn:
            cur = conn.execute(sql)
            names = [d.name for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def close_clients(self):
        for c in self._conns:
            with contextlib.suppress(Exception):
                c.close()
        self._conns.clear()

    def stop(self):
        """SIGTERM, 10 s grace, SIGKILL. Returns the exit code (negative: signal)."""
        self.close_clients()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.check_exit_code = False
        if self._stderr:
            self._stderr.close()
            self._stderr = None
        return self.proc.returncode

    def problems(self):
        text = self.output_text()
        found = [m for m in SANITIZER_MARKERS if m in text]
        out = []
        if found:
            out.append(f"sanitizer/PANIC markers in linkpool output: {found}")
        return out


@pytest.fixture
def linkpool(pg, tmp_path):
    """Factory: linkpool(ini_overrides=None, databases=None, users_section=None,
    userlist=None, start=True, args=(), env=None, peers=None) -> Linkpool.

    databases/users_section/ini_overrides are merged into the defaults (value
    None deletes); userlist (list of (user, secret)) replaces the default, which
    holds every test role with its plain password plus admin and stats."""
    instances = []

    def factory(ini_overrides=None, databases=None, users_section=None, userlist=None,
                start=True, args=(), env=None, peers=None):
        n = len(instances)
        workdir = tmp_path / f"lp{n}"
        workdir.mkdir()
        sockdir = tempfile.mkdtemp(prefix="lp-sock-")  # unix socket paths must stay short
        lp = Linkpool(pg, str(workdir), sockdir)
        lp.write_ini(ini_overrides, databases, users_section, userlist, peers)
        instances.append(lp)
        if start:
            lp.start(args=args, env=env)
        return lp

    yield factory

    errors = []
    for lp in instances:
        try:
            rc = lp.stop()
        finally:
            if lp.proc is not None and lp.proc.poll() is None:
                lp.proc.kill()
                lp.proc.wait()
        errors += lp.problems()
        if lp.check_exit_code and rc not in (None, 0) and not ALLOW_NONZERO_EXIT:
            errors.append(f"linkpool exited with code {rc}")
        shutil.rmtree(lp.sockdir, ignore_errors=True)
        if errors:
            errors.append(f"--- linkpool output ({lp.workdir}) ---\n{lp.output_text()[-8000:]}")
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


@pytest.fixture
def lp(linkpool):
    """A linkpool with the default configuration."""
    return linkpool()
