"""deploy/systemd/linkpool.service and the sd_notify protocol: the test plays
systemd's side -- it binds the notify socket, starts linkpool the way the
unit's ExecStart does with $NOTIFY_SOCKET set, reloads it with the unit's
ExecReload, and stops it with the unit's KillSignal -- and checks the
datagrams: READY=1 once the port answers, RELOADING=1 (with MONOTONIC_USEC,
as Type=notify-reload wants) then READY=1 around a reload, STOPPING=1 when a
shutdown begins."""

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import LINKPOOL_BIN, REPO

UNIT = os.path.join(REPO, "deploy", "systemd", "linkpool.service")


def unit_service_section():
    keys = {}
    section = None
    with open(UNIT) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]":
                k, v = line.split("=", 1)
                keys[k] = v
    return keys


class NotifySocket:
    """systemd's end of $NOTIFY_SOCKET: a datagram socket, path or abstract."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"linkpool-test-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            self.env = "@" + name
            self.dir = None
        else:
            self.dir = tempfile.mkdtemp(prefix="lp-notify-")
            path = os.path.join(self.dir, "notify")
            self.sock.bind(path)
            self.env = path

    def recv(self, timeout=10.0):
        self.sock.settimeout(timeout)
        return self.sock.recv(4096).decode()

    def expect(self, pattern, timeout=10.0):
        """Reads datagrams until one matches; returns the match."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                d = self.recv(max(0.05, deadline - time.monotonic()))
            except socket.timeout:
                break
            seen.append(d)
            m = re.fullmatch(pattern, d)
            if m:
                return m
        pytest.fail(f"no notification matching {pattern!r}; got {seen!r}")

    def close(self):
        self.sock.close()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def test_unit_file_verifies(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    keys = unit_service_section()
    assert keys["Type"] == "notify"
    assert keys["ExecReload"] == "/bin/kill -HUP $MAINPID"
    unit = tmp_path / "linkpool.service"
    with open(UNIT) as f:
        unit.write_text(f.read().replace("/usr/local/bin/linkpool", LINKPOOL_BIN))
    out = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Unknown" not in out.stderr and "ignoring" not in out.stderr, out.stderr


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_notify_ready_reload_stop(linkpool, abstract):
    keys = unit_service_section()
    lp = linkpool(start=False)
    ns = NotifySocket(abstract=abstract)
    try:
        # ExecStart's arguments, with this build and this test's config file.
        argv = shlex.split(keys["ExecStart"])
        assert argv[0] == "/usr/local/bin/linkpool" and len(argv) == 2
        lp.start(args=argv[2:-1], env={"NOTIFY_SOCKET": ns.env}, wait=False)
        ns.expect(r"READY=1")
        # READY means serving: the port answers at once.
        socket.create_connection((lp.host, lp.port), timeout=1).close()

        # ExecReload, as systemd runs it.
        reload_cmd = keys["ExecReload"].replace("$MAINPID", str(lp.pid))
        subprocess.run(shlex.split(reload_cmd), check=True, timeout=10)
        m = ns.expect(r"RELOADING=1\nMONOTONIC_USEC=(\d+)")
        assert abs(int(m.group(1)) / 1e6 - time.monotonic()) < 30
        ns.expect(r"READY=1")
        lp.wait_log("configuration reloaded")

        # KillSignal: the graceful shutdown announces itself, then ends.
        lp.signal(getattr(signal, keys["KillSignal"]))
        ns.expect(r"STOPPING=1")
        assert lp.wait_exit(10) == 0
    finally:
        ns.close()


def test_no_notify_socket_is_harmless(linkpool):
    """Without $NOTIFY_SOCKET (or with one nobody listens on) nothing changes."""
    lp = linkpool(start=False)
    gone = os.path.join(tempfile.mkdtemp(prefix="lp-notify-"), "nobody")
    lp.start(env={"NOTIFY_SOCKET": gone})
    lp.reload()
    lp.wait_log("configuration reloaded")
    assert lp.admin("SHOW VERSION")
