"""Pool modes with real clients (psql, psycopg) and parameter isolation."""

import subprocess

import psycopg
import pytest

import rawpg

MODES = ["session", "transaction", "statement"]


@pytest.mark.parametrize("mode", MODES)
def test_psql(linkpool, mode):
    lp = linkpool({"pool_mode": mode})
    out = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", lp.url(),
                          "-c", "SELECT 1 + 1", "-c", "SELECT current_database()"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "testdb"]


@pytest.mark.parametrize("mode", MODES)
def test_psycopg(linkpool, mode, pg):
    pg.sql(f"DROP TABLE IF EXISTS modes_{mode}; CREATE TABLE modes_{mode} (id int, t text); "
           f"GRANT ALL ON modes_{mode} TO PUBLIC", db="testdb")
    lp = linkpool({"pool_mode": mode})
    with lp.connect(autocommit=True) as conn:
        for i in range(20):
            conn.execute(f"INSERT INTO modes_{mode} VALUES (%s, %s)", (i, f"row {i}"))
        assert conn.execute(f"SELECT count(*), sum(id) FROM modes_{mode}").fetchone() == (20, 190)
        # extended protocol with parameters and several result rows
        rows = conn.execute("SELECT g, g::text FROM generate_series(1, %s) g", (100,)).fetchall()
        assert len(rows) == 100 and rows[-1] == (100, "100")
    if mode != "statement":
        with lp.connect(autocommit=False) as conn:
            conn.execute(f"INSERT INTO modes_{mode} VALUES (100, 'x')")
            conn.rollback()
            with conn.transaction():
                conn.execute(f"INSERT INTO modes_{mode} VALUES (101, 'y')")
            conn.commit()
        assert pg.sql(f"SELECT array_agg(id ORDER BY id) FROM modes_{mode} WHERE id >= 100",
                      db="testdb")[0][0] == [101]


def test_statement_mode_refuses_transactions(linkpool):
    lp = linkpool({"pool_mode": "statement"})
    conn = lp.connect(autocommit=True)
    assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.Error):
        conn.execute("BEGIN")
        conn.execute("SELECT 1")
    # the pooler keeps serving
    with lp.connect() as c2:
        assert c2.execute("SELECT 2").fetchone() == (2,)


def test_statement_mode_refuses_multi_statement_transaction_raw(linkpool):
    lp = linkpool({"pool_mode": "statement"})
    c = lp.raw_login()
    c.send(rawpg.query("BEGIN; SELECT 1"))
    res = c.error_or_close(5)
    assert res == "closed" or res.fields.get("S") in ("ERROR", "FATAL")


DEFAULTS = {"application_name": "", "DateStyle": "ISO, MDY", "TimeZone": "UTC"}


def _settings(conn):
    return {k: conn.execute(f"SHOW {k}").fetchone()[0] for k in DEFAULTS}


def test_transaction_mode_parameter_isolation(linkpool, pg):
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "1"})
    a = lp.connect(autocommit=True)
    b = lp.connect(autocommit=True)
    b.execute("SELECT 1")
    a.execute("SET application_name = 'client_a'")
    a.execute("SET DateStyle = 'SQL, DMY'")
    a.execute("SET TimeZone = 'Asia/Tokyo'")
    # both clients share the one server connection
    assert len(pg.backends(user="scram_user", db="testdb")) == 1
    assert _settings(b) == DEFAULTS
    assert _settings(a) == {"application_name": "client_a", "DateStyle": "SQL, DMY",
                            "TimeZone": "Asia/Tokyo"}
    assert _settings(b) == DEFAULTS
    # libpq's view of reported parameters follows too
    assert a.info.parameter_status("application_name") == "client_a"
    assert b.info.parameter_status("DateStyle") == "ISO, MDY"


def test_session_mode_set_survives(linkpool):
    lp = linkpool({"pool_mode": "session", "default_pool_size": "1"})
    with lp.connect() as conn:
        conn.execute("SET DateStyle = 'German'")
        conn.execute("SET work_mem = '7MB'")
        for _ in range(3):
            assert conn.execute("SHOW DateStyle").fetchone()[0].startswith("German")
            assert conn.execute("SHOW work_mem").fetchone()[0] == "7MB"
    # server_reset_query (DISCARD ALL) cleans up for the next client
    with lp.connect() as conn:
        assert conn.execute("SHOW work_mem").fetchone()[0] == "4MB"
        assert conn.execute("SHOW DateStyle").fetchone()[0] == "ISO, MDY"


def test_tracked_list_parameter_and_long_value(linkpool, pg):
    """A tracked list parameter keeps its list meaning on every server
    (search_path = 'a,b' is two schemas, not one named "a,b"), and a long
    value is applied whole, never truncated."""
    pg.sql("CREATE SCHEMA IF NOT EXISTS s_one; CREATE SCHEMA IF NOT EXISTS s_two; "
           "GRANT USAGE ON SCHEMA s_one, s_two TO PUBLIC", db="testdb")
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "1",
                   "track_extra_parameters": "search_path"})
    extra = [f"missing_schema_{i:03d}" for i in range(60)]      # ~1.2 kB in all
    a = lp.raw_login(search_path=",".join(["s_one", "s_two"] + extra))
    b = lp.raw_login(search_path="public")
    for _ in range(3):  # one server, alternating clients: each sync must restore
        rows, _, _ = a.run("SELECT current_schemas(false)::text, current_setting('search_path')")
        assert rows == [("{s_one,s_two}", ",".join(["s_one", "s_two"] + extra))]
        rows, _, _ = b.run("SELECT current_schemas(false)::text")
        assert rows == [("{public}",)]
