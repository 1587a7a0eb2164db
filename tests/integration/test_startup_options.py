"""The "options" startup parameter, as PgBouncer takes it (issue 15): each
"-c name=value" or "--name=value" that names a tracked parameter is the
client's value and reaches every server it uses; one listed in
ignore_startup_parameters (or any, when "options" is listed there) is
dropped; anything else ends the login with PgBouncer's words. Before,
linkpool refused every login that sent options.

Also: a value PostgreSQL spells its own way ("ISO" -> "ISO, MDY") is taken
in PostgreSQL's spelling after the first SET, so later links do not SET it
again.
"""

import psycopg
import pytest

ONLY = "unsupported options startup parameter: only '-c config=val' and '--config=val' are allowed"


def show(conn, what):
    return conn.execute(f"SHOW {what}").fetchone()[0]


@pytest.mark.parametrize("mode", ["session", "transaction"])
def test_tracked_parameters_from_options(linkpool, mode):
    lp = linkpool({"pool_mode": mode})
    cases = [
        ("  -c    datestyle=German,\\ YMD", "DateStyle", "German, YMD"),
        ("-c timezone=Europe/Lisbon  -c datestyle=German,\\ YMD", "TimeZone", "Europe/Lisbon"),
        ("-ctimezone=Europe/Lisbon -cdatestyle=Postgres,\\ DMY", "DateStyle", "Postgres, DMY"),
        ("--timezone=Asia/Tokyo  --datestyle=German,\\ YMD", "TimeZone", "Asia/Tokyo"),
        # backslashes escape any character; the first '=' splits
        ("-c t\\imezone=\\E\\u\\r\\o\\pe/Lisbon -c dat\\estyle\\=\\Ge\\rman,\\ YMD",
         "TimeZone", "Europe/Lisbon"),
    ]
    for options, param, want in cases:
        with lp.connect(options=options) as c:
            assert show(c, param) == want, options
            # a second statement: in transaction mode on a server that may
            # not have been set for this client yet
            assert show(c, param) == want, options


def test_options_refusals(lp):
    for options, message in [
        ("-d", ONLY),
        ("-c timezone", ONLY),
        ("-c =x", ONLY),
        ("x", ONLY),
        ("-c enable_seqscan=off", "unsupported startup parameter in options: enable_seqscan"),
    ]:
        with pytest.raises(psycopg.OperationalError) as e:
            lp.connect(options=options)
        assert message in str(e.value), options


def test_ignore_startup_parameters_and_options(linkpool):
    lp = linkpool({"ignore_startup_parameters": "extra_float_digits"})
    with lp.connect(options="-c extra_float_digits=3 -c timezone=Asia/Tokyo") as c:
        assert show(c, "extra_float_digits") == "1"          # dropped
        assert show(c, "TimeZone") == "Asia/Tokyo"
    with pytest.raises(psycopg.OperationalError, match="in options: enable_seqscan"):
        lp.connect(options="-c enable_seqscan=off")
    # "options" listed: unknown items are dropped, known ones still applied
    lp.admin("SET ignore_startup_parameters = 'options'")
    with lp.connect(options="-c enable_seqscan=off -c timezone=Asia/Tokyo") as c:
        assert show(c, "enable_seqscan") == "on"
        assert show(c, "TimeZone") == "Asia/Tokyo"
    # malformed is still malformed
    with pytest.raises(psycopg.OperationalError, match="only '-c config=val'"):
        lp.connect(options="-d")


def test_canonical_value_is_set_once(linkpool):
    """DateStyle=ISO comes back from PostgreSQL as "ISO, MDY" (or is not
    reported at all, being the value already): with two statements in
    transaction mode the pooler sets it once, and says so at verbose=1."""
    lp = linkpool({"pool_mode": "transaction", "verbose": "1", "default_pool_size": "1"})
    with lp.connect(options="-c DateStyle=ISO") as c:
        c.execute("SELECT 1")
        c.execute("SELECT 1")
        assert show(c, "DateStyle") == "ISO, MDY"
    log = lp.log_text()
    assert log.count("varcache_apply: ") == 1 and "SET DateStyle='ISO'" in log
    assert log.count("varcache_set_canonical: setting DateStyle to its canonical version "
                     "ISO -> ISO, MDY") == 1
