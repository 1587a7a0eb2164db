"""A configuration generation is applied whole or not at all.

pgbouncer.ini, its %include files, auth_file, auth_hba_file and the TLS files
are read as one generation by `--check`, at start and on every reload
(SIGHUP or the console's RELOAD): a file `--check` refuses makes the start
fail and a reload keep the running generation, with every problem logged as
file:line and the first one returned to RELOAD (SQLSTATE F0000, PgBouncer's
"RELOAD failed, see logs for additional details"). An admin SET is stored only
when what it rebuilds (TLS contexts, HBA rules, the auth_file's users, the log
file) could be built.
"""

import re
import subprocess

import psycopg
import pytest

from conftest import LINKPOOL_BIN, LP_ONLY_PASSWORDS, PASSWORDS, wait_for

PGB_RELOAD_FAILED = "RELOAD failed, see logs for additional details"


def _check(lp):
    return subprocess.run([LINKPOOL_BIN, "--check", lp.ini_path], capture_output=True, text=True,
                          timeout=30)


def _logs_in(lp, user, password=None):
    try:
        with psycopg.connect(lp.dsn(user=user, password=password), autocommit=True,
                             connect_timeout=5) as c:
            return c.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


def _databases(lp):
    return {r[0] for r in lp.admin("SHOW DATABASES")}


def _config(lp, key):
    return {r[0]: r[1] for r in lp.admin("SHOW CONFIG")}[key]


def _userlist_with_bad_line(lp):
    """The default userlist with md5_user's line malformed (its secret lost its
    quotes). Returns the bad line's number."""
    lines, bad = [], None
    for user, secret in lp.userlist:
        if user == "md5_user":
            lines.append(f'"{user}" {secret}')
            bad = len(lines)
        else:
            lines.append(f'"{user}" "{secret}"')
    with open(lp.userlist_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return bad


def _reload_error(lp):
    with pytest.raises(psycopg.errors.ConfigFileError) as ei:
        lp.admin("RELOAD")
    e = ei.value
    assert e.sqlstate == "F0000"
    assert e.diag.message_primary == PGB_RELOAD_FAILED
    return e.diag.message_detail or ""


def test_reload_with_bad_userlist_line_keeps_everything(linkpool, pg):
    """The issue's case: a bad line in auth_file used to be skipped with a
    WARNING and "configuration reloaded" (the user on it locked out), while
    --check called the file invalid. Now RELOAD refuses the whole generation:
    the user keeps logging in, and an ini change made with it is not applied."""
    lp = linkpool()
    assert _logs_in(lp, "md5_user")
    lp.write_ini(databases={"newdb": pg.db_entry("otherdb")})
    bad = _userlist_with_bad_line(lp)
    where = f"{lp.userlist_path}:{bad}:"

    out = _check(lp)
    assert out.returncode == 1 and where in out.stderr, out.stdout + out.stderr

    detail = _reload_error(lp)
    assert detail.startswith(where), detail
    assert "malformed auth_file line" in detail
    assert PASSWORDS["md5_user"] not in detail
    lp.wait_log(rf"reload failed: {re.escape(where)}")
    assert _logs_in(lp, "md5_user"), "the old userlist must stay in force"
    assert "newdb" not in _databases(lp), "the ini of a refused generation was applied"
    assert not re.search(r"configuration reloaded", lp.log_text())

    # Fixed: the next reload takes all of it.
    lp.write_ini()
    lp.admin("RELOAD")
    assert "newdb" in _databases(lp)
    assert _logs_in(lp, "md5_user")


def test_sighup_with_bad_userlist_line_keeps_old(linkpool):
    lp = linkpool()
    bad = _userlist_with_bad_line(lp)
    lp.reload()
    lp.wait_log(rf"reload failed: {re.escape(lp.userlist_path)}:{bad}: malformed auth_file line")
    lp.wait_log(r"reload failed: keeping the running configuration")
    assert "configuration reloaded" not in lp.log_text()
    assert _logs_in(lp, "md5_user")
    assert lp.proc.poll() is None


def test_start_fails_on_bad_userlist_line_as_check_does(linkpool):
    """PgBouncer logs "broken auth file" and runs with the lines before it;
    linkpool refuses to start, as --check refuses the file."""
    lp = linkpool(start=False)
    bad = _userlist_with_bad_line(lp)
    where = f"{lp.userlist_path}:{bad}:"
    out = _check(lp)
    assert out.returncode == 1 and where in out.stderr
    lp.start(wait=False)
    rc = lp.wait_exit(15)
    lp.check_exit_code = False
    assert rc == 1, lp.output_text()
    assert where in lp.stderr_text()


def test_duplicate_user_is_a_warning_everywhere(linkpool):
    """A user listed twice (the later line wins, as in PgBouncer) is not an
    error: --check, start and reload all accept it and print a warning."""
    lp = linkpool(start=False)
    lp.write_ini(userlist=lp.userlist + [("md5_user", PASSWORDS["md5_user"])])
    out = _check(lp)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"warning: .*userlist\.txt:\d+: user \"md5_user\" appears again", out.stderr)
    lp.start()
    assert _logs_in(lp, "md5_user")
    lp.admin("RELOAD")
    lp.wait_log(r"WARNING .*user \"md5_user\" appears again")


def _break_ini(lp, tmp_path, pg, what):
    """Makes one file of the next generation invalid; returns the file name
    the error must name."""
    if what == "ini":
        lp.write_ini({"max_client_conn": "lots"})
        return lp.ini_path
    if what == "include":
        inc = tmp_path / "extra.ini"
        inc.write_text("[pgbouncer]\nno_such_setting = 1\n")
        with open(lp.ini_path, "a") as f:
            f.write(f"%include {inc}\n")
        return str(inc)
    if what == "hba":
        hba = tmp_path / "hba.conf"
        hba.write_text("host all all 127.0.0.1/32 md5\nhost all all nonsense md5\n")
        lp.write_ini({"auth_type": "hba", "auth_hba_file": str(hba)})
        return str(hba)
    if what == "tls":
        lp.write_ini({"client_tls_sslmode": "require",
                      "client_tls_key_file": str(tmp_path / "missing.key"),
                      "client_tls_cert_file": str(tmp_path / "missing.crt")})
        return "client_tls_sslmode"
    if what == "nul":
        with open(lp.ini_path, "ab") as f:
            f.write(b"max_client_conn = 10\x00junk\n")
        return lp.ini_path
    raise AssertionError(what)


@pytest.mark.parametrize("what", ["ini", "include", "hba", "tls", "nul"])
def test_reload_refuses_any_bad_file_of_a_generation(linkpool, pg, tmp_path, what):
    """Every file a generation reads: a problem in any of them keeps the whole
    running generation (a database added in the same edit stays out) and is
    returned to RELOAD with its file name."""
    lp = linkpool()
    lp.write_ini(databases={"newdb": pg.db_entry("otherdb")})
    name = _break_ini(lp, tmp_path, pg, what)
    out = _check(lp)
    assert out.returncode == 1 and name in out.stderr, out.stderr
    detail = _reload_error(lp)
    assert name in detail, detail
    assert "newdb" not in _databases(lp)
    assert _config(lp, "auth_type") == "md5"
    assert _logs_in(lp, "scram_user")


def test_nul_byte_in_ini_line_is_an_error(linkpool):
    """A NUL byte used to end its line silently (the rest ignored) and pass
    --check, while auth_file's reader refused the same byte. Both refuse it now,
    with file:line, at --check and at start."""
    lp = linkpool(start=False)
    text = lp.ini_text().rstrip("\n").split("\n")
    idx = next(i for i, line in enumerate(text) if line.startswith("pool_mode"))
    text[idx] = "pool_mode = session\x00 ; pool_mode = transaction"
    with open(lp.ini_path, "wb") as f:
        f.write(("\n".join(text) + "\n").encode())
    where = f"{lp.ini_path}:{idx + 1}: NUL byte in line"
    out = _check(lp)
    assert out.returncode == 1, out.stdout + out.stderr
    assert where in out.stderr
    lp.start(wait=False)
    assert lp.wait_exit(15) == 1
    lp.check_exit_code = False
    assert where in lp.stderr_text()


def test_reload_with_unopenable_logfile_keeps_old(linkpool, pg, tmp_path):
    """The log destinations are part of a generation: a logfile that cannot be
    opened used to be logged as an error after the new generation had already
    been swapped in (half applied). Now the reload is refused before anything
    changes."""
    lp = linkpool()
    lp.write_ini({"logfile": str(tmp_path / "no" / "such" / "dir" / "lp.log")},
                 databases={"newdb": pg.db_entry("otherdb")})
    detail = _reload_error(lp)
    assert "cannot open logfile" in detail
    assert "newdb" not in _databases(lp)
    assert _config(lp, "logfile") == lp.logfile
    lp.wait_log(r"reload failed: keeping the running configuration")


# ---------------------------------------------------------------- admin SET

def _set_refused(lp, sql):
    with pytest.raises(psycopg.Error) as ei:
        lp.admin(sql)
    return ei.value


def test_set_auth_type_hba_without_rules_is_refused(linkpool):
    """SET auth_type = hba used to be stored with no HBA rules loaded: every
    following login was refused (a lockout from one SET)."""
    lp = linkpool()
    e = _set_refused(lp, "SET auth_type = 'hba'")
    assert e.sqlstate == "22023"
    assert "auth_hba_file" in str(e)
    assert _config(lp, "auth_type") == "md5"
    assert _logs_in(lp, "scram_user")


def test_set_tls_with_missing_key_is_refused(linkpool, tmp_path):
    """A TLS setting whose files do not load is refused and nothing changes
    (PgBouncer keeps the new value and only says so in a NOTICE)."""
    lp = linkpool()
    lp.admin(f"SET client_tls_key_file = '{tmp_path / 'missing.key'}'")  # sslmode disable: unused
    e = _set_refused(lp, "SET client_tls_sslmode = 'require'")
    assert e.sqlstate == "22023"
    assert _config(lp, "client_tls_sslmode") == "disable"
    assert _logs_in(lp, "scram_user")


def test_set_auth_file_loads_it_whole_or_refuses(linkpool, tmp_path):
    """SET auth_file used to change the setting while the old users stayed in
    force (SHOW CONFIG said one file, logins used another). Now the file is
    read as a reload reads it: a bad line refuses the SET, a good file takes
    effect at once."""
    lp = linkpool()
    bad = tmp_path / "bad.txt"
    bad.write_text('"scram_user" "x"\n"md5_user" unquoted\n')
    e = _set_refused(lp, f"SET auth_file = '{bad}'")
    assert f"{bad}:2:" in str(e)
    assert _config(lp, "auth_file") == lp.userlist_path
    assert _logs_in(lp, "md5_user")

    good = tmp_path / "good.txt"
    good.write_text(f'"admin" "{LP_ONLY_PASSWORDS["admin"]}"\n"scram_user" "{PASSWORDS["scram_user"]}"\n')
    lp.admin(f"SET auth_file = '{good}'")
    assert _config(lp, "auth_file") == str(good)
    assert _logs_in(lp, "scram_user")
    assert not _logs_in(lp, "md5_user"), "md5_user is not in the new auth_file"


def test_set_logfile_unopenable_is_refused(linkpool, tmp_path):
    lp = linkpool()
    e = _set_refused(lp, f"SET logfile = '{tmp_path / 'no' / 'dir' / 'x.log'}'")
    assert e.sqlstate == "22023"
    assert _config(lp, "logfile") == lp.logfile
    lp.admin("SHOW VERSION")
    wait_for(lambda: "admin command refused" in lp.log_text(), what="the refusal in the old log")
