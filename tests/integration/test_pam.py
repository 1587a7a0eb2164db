"""auth_type = pam and HBA pam, checked by Linux-PAM's pam_unix without
touching the machine: linkpool runs in its own mount namespace (unshare -m,
as root) where /etc/pam.d, /etc/passwd and /etc/shadow are bind-mounted
copies holding a PAM service "pgbouncer" and a test user."""

import os
import shutil
import subprocess

import psycopg
import pytest

import conftest
import rawpg

USER, PASSWORD = "pam_pat", "pat-pam-pw-3"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None
    or not os.path.exists("/lib/x86_64-linux-gnu/security/pam_unix.so")
    and not os.path.exists("/usr/lib/x86_64-linux-gnu/security/pam_unix.so"),
    reason="needs root, unshare and pam_unix")


@pytest.fixture
def pam_env(pg, tmp_path, monkeypatch):
    pg.sql(f"DROP ROLE IF EXISTS {USER}")
    pg.sql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
    pamd = tmp_path / "pam.d"
    pamd.mkdir()
    (pamd / "pgbouncer").write_text("auth required pam_unix.so nodelay\n"
                                    "account required pam_unix.so\n")
    crypt = subprocess.run(["openssl", "passwd", "-6", PASSWORD], check=True,
                           capture_output=True, text=True).stdout.strip()
    passwd = tmp_path / "passwd"
    shadow = tmp_path / "shadow"
    passwd.write_text(open("/etc/passwd").read() +
                      f"{USER}:x:23456:23456::/nonexistent:/usr/sbin/nologin\n")
    shadow.write_text(open("/etc/shadow").read() + f"{USER}:{crypt}:19000:0:99999:7:::\n")
    os.chmod(shadow, 0o600)
    wrapper = tmp_path / "linkpool-in-ns"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"exec unshare -m sh -c 'mount --bind {pamd} /etc/pam.d && "
        f"mount --bind {passwd} /etc/passwd && mount --bind {shadow} /etc/shadow && "
        f"exec {conftest.LINKPOOL_BIN} \"$@\"' linkpool \"$@\"\n")
    os.chmod(wrapper, 0o755)
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind {pamd} /etc/pam.d"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot bind-mount in a mount namespace: {probe.stderr!r}")
    monkeypatch.setattr(conftest, "LINKPOOL_BIN", str(wrapper))
    return tmp_path


def login(lp, user, password):
    c = lp.raw(timeout=10)
    c.login(user, "testdb", password)
    return c


def test_pam_login(linkpool, pam_env):
    lp = linkpool({"auth_type": "pam", "verbose": "2"})
    c = login(lp, USER, PASSWORD)
    assert c.auth_requests[0] == 3
    assert c.run("SELECT current_user")[0] == [(USER,)]
    c.close()
    errors = []
    for user, pw in ((USER, "wrong-pw-44"), ("no_such_pam_user", "whatever-55"), (USER, "")):
        with pytest.raises(rawpg.PgError) as ei:
            login(lp, user, pw)
        errors.append((ei.value.sqlstate, ei.value.message.replace(user, "U")))
    assert errors == [("28P01", 'PAM authentication failed for user "U"')] * 3
    # the machine's own /etc/pam.d is untouched
    assert not os.path.exists("/etc/pam.d/pgbouncer") or "nodelay" not in open(
        "/etc/pam.d/pgbouncer").read()
    text = lp.output_text()
    for secret in (PASSWORD, "wrong-pw-44", "whatever-55"):
        assert secret not in text
    assert "PAM authentication failed" in text


def test_hba_pam_line(linkpool, pam_env):
    hba = pam_env / "hba.conf"
    hba.write_text(f"host all {USER} 127.0.0.1/32 pam\nhost all all 127.0.0.1/32 md5\n")
    lp = linkpool({"auth_type": "hba", "auth_hba_file": str(hba)})
    with psycopg.connect(lp.dsn(user=USER, password=PASSWORD)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (USER,)
    assert login(lp, "md5_user", "md5-secret-2").auth_requests[0] == 5
    with pytest.raises(rawpg.PgError) as ei:
        login(lp, USER, "nope")
    assert ei.value.sqlstate == "28P01"
