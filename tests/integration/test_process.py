"""Process handling as PgBouncer: -d daemonizes and writes the pidfile,
-u switches user after binding, SIGTERM removes the pidfile."""

import os
import pwd
import signal
import subprocess
import tempfile

import pytest

from conftest import LINKPOOL_BIN, wait_for


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _uid_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    return None


def _run_daemon(lp, extra_args=()):
    r = subprocess.run([LINKPOOL_BIN, "-d", *extra_args, lp.ini_path], capture_output=True,
                       timeout=20, text=True)
    assert r.returncode == 0, r.stderr
    pid = int(wait_for(lambda: open(lp.ini["pidfile"]).read().strip()
                       if os.path.exists(lp.ini["pidfile"]) else None,
                       timeout=10, what="pidfile"))
    return pid


def _stop(pid, pidfile):
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not _alive(pid), timeout=15, what="daemon exit")
    assert not os.path.exists(pidfile), "pidfile left behind"


def test_daemon_writes_pidfile_and_serves(linkpool):
    lp = linkpool(start=False)
    pid = _run_daemon(lp)
    try:
        with lp.connect() as c:
            assert c.execute("SELECT 1").fetchone() == (1,)
    finally:
        _stop(pid, lp.ini["pidfile"])


def test_daemon_needs_a_log_destination(linkpool):
    lp = linkpool(start=False)
    lp.write_ini({"logfile": None})
    r = subprocess.run([LINKPOOL_BIN, "-d", lp.ini_path], capture_output=True, timeout=20,
                       text=True)
    assert r.returncode != 0
    assert "logfile" in r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch user")
def test_user_switch_after_bind(linkpool):
    piddir = tempfile.mkdtemp(prefix="lp-pid-")
    os.chmod(piddir, 0o777)
    lp = linkpool(start=False)
    lp.write_ini({"pidfile": os.path.join(piddir, "linkpool.pid")})
    os.chmod(lp.logfile if os.path.exists(lp.logfile) else lp.workdir, 0o777)
    pid = _run_daemon(lp, ("-u", "postgres"))
    try:
        assert _uid_of(pid) == pwd.getpwnam("postgres").pw_uid
        with lp.connect() as c:
            assert c.execute("SELECT 1").fetchone() == (1,)
    finally:
        _stop(pid, lp.ini["pidfile"])
