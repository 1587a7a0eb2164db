"""Values from the network reach the log escaped: one line stays one line.

A user name with a newline used to be logged raw, so a client could forge a
whole log line ("admin console login (admin)") before authenticating. Every
log line now passes through lp_log_escape (src/core/log.c): control bytes are
written as \\n, \\r, \\t or \\xNN, invalid UTF-8 byte by byte as \\xNN, valid
UTF-8 as it is.
"""

import re
import time

import pytest

import rawpg
from conftest import wait_for

FORGED = "2026-12-02 10:00:00.000 [1] LOG C-1: pgbouncer/admin@127.0.0.1:5000 admin console login (admin)"


def _lines_with(lp, needle):
    return [line for line in lp.log_text().splitlines() if needle in line]


def _try_login(lp, user, db="testdb", password="wrong", **params):
    c = rawpg.RawConn(lp.host, lp.port, timeout=5)
    try:
        c.send(rawpg.startup(user, db, **params))
        try:
            c.finish_login(user, password)
            return None
        except rawpg.PgError as e:
            return e
        except (rawpg.Closed, ValueError):
            return "closed"
    finally:
        c.close()


def test_newline_in_user_name_cannot_forge_a_log_line(linkpool):
    lp = linkpool({"log_connections": "1", "log_disconnections": "1"})
    user = "evil\n" + FORGED + "\r\n"
    res = _try_login(lp, user)
    assert isinstance(res, rawpg.PgError), res
    wait_for(lambda: _lines_with(lp, "admin console login (admin)"), what="the attempt in the log")
    time.sleep(0.3)  # the close is logged after the error
    lines = _lines_with(lp, "admin console login (admin)")
    assert lines, lp.log_text()
    for line in lines:
        # Every line holding the forged text is a line about the attacker's
        # client, with the newline shown escaped, never a line of its own.
        assert not line.startswith("2026-12-02 10:00:00.000"), line
        assert "evil\\n2026-12-02 10:00:00.000" in line, line
        assert "(admin)\\r\\n" in line, line
    assert not re.search(r"^2026-12-02 10:00:00\.000", lp.log_text(), re.M)
    assert "\r" not in lp.log_text()


def test_control_bytes_and_bad_utf8_in_startup_values_are_escaped(linkpool):
    """application_name and the database name carry ESC (a terminal escape),
    a tab, a NUL-free C1 control and invalid UTF-8; a valid multibyte name
    stays readable."""
    lp = linkpool({"log_connections": "1", "log_disconnections": "1"})
    db = "n\u00e4me\x1b[2J\tdb"
    user = b"scr\xffam_user\xc2\x9b"            # invalid UTF-8, then a C1 control (CSI)
    c = rawpg.RawConn(lp.host, lp.port, timeout=5)
    try:
        c.send(rawpg.startup(user, db, application_name="app\x1b]0;owned\x07"))
        # An unknown database is told only after a password exchange, which
        # a wrong password ends (its error line names user and database).
        with pytest.raises(rawpg.PgError):
            c.finish_login("scram_user", "wrong-password")
    finally:
        c.close()
    wait_for(lambda: _lines_with(lp, "scr\\xffam_user"), what="the escaped user in the log")
    text = lp.log_text()
    assert "\x1b" not in text and "\t" not in text and "\x9b" not in text and "\ufffd" not in text
    line = _lines_with(lp, "scr\\xffam_user")[0]
    assert "scr\\xffam_user\\xc2\\x9b" in line, line
    assert "n\u00e4me\\x1b[2J\\tdb" in line, line
