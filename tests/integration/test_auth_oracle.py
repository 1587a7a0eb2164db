"""A failed login says nothing about whether the user exists (issue 6).

For every client auth_type and every kind of stored secret, an unknown user
and a known user with a wrong password must see the same exchange -- the same
message types and lengths, the same number of round trips, the same SQLSTATE
and text -- and take about the same time. The timing bound is loose (3x on
medians) so it never flakes; it is there to catch a skipped key derivation,
which costs far more than 3x the rest of a local login.
"""

import statistics
import struct
import time

import psycopg
import pytest

import rawpg
from conftest import PASSWORDS, md5_secret, scram_verifier
from test_auth_query import AUTH_PW, AUTH_USER, aq_lp, roles  # noqa: F401 (fixture)

ATTEMPTS = 30


def exchange(lp, user, password, db="testdb"):
    """One failed login: (shape, error fields, seconds the server spent answering).

    shape lists (type, length, auth code) of everything the server sent, and
    a SCRAM salt and iteration count (a salt must not change between attempts:
    a fresh one each time would give a real user away); the
    time sums the intervals from each of our messages to the first byte of the
    answer, leaving out our own SCRAM key derivation."""
    c = lp.raw()
    shape, spent, err = [], 0.0, None
    scram = None
    try:
        c.send(rawpg.startup(user, db))
        sent_at = time.perf_counter()
        while err is None:
            mtype, body = c.recv_msg()
            spent += time.perf_counter() - sent_at
            code = struct.unpack("!I", body[:4])[0] if mtype == "R" else None
            shape.append((mtype, len(body), code))
            if mtype == "E":
                err = rawpg.parse_error_fields(body)
                break
            assert mtype == "R", f"unexpected {mtype!r} before the refusal"
            if code == 3:
                out = rawpg.cstr(password)
            elif code == 5:
                out = rawpg.cstr(rawpg.md5_password(user, password, body[4:8]))
            elif code == 10:
                scram = rawpg._ScramClient(password)
                out = scram.first()
            elif code == 11:
                attrs = dict(kv.split("=", 1) for kv in body[4:].decode().split(","))
                shape.append(("salt", attrs["s"], attrs["i"]))
                out = scram.final(body[4:])
            else:
                pytest.fail(f"auth request {code} in a login that must fail")
            c.send(rawpg.password_message(out))
            sent_at = time.perf_counter()
        assert c.wait_closed(5.0), "the connection stays open after a failed login"
    finally:
        c.close()
    return shape, err, spent


def refusals(user):
    """The words of a refused login: the method's, never the user's existence
    (scram-sha-256 says SASL, as PgBouncer does)."""
    return (f'password authentication failed for user "{user}"',
            f'SASL authentication failed for user "{user}"')


def assert_indistinguishable(lp, known, unknown, first_code):
    assert len(known) == len(unknown), "test users must have names of one length"
    # warm up both (caches of derived secrets, auth_query answers)
    exchange(lp, known, "wrong-password-1")
    exchange(lp, unknown, "wrong-password-1")
    times = {known: [], unknown: []}
    shapes = {}
    for i in range(ATTEMPTS):
        for user in (known, unknown) if i % 2 else (unknown, known):
            shape, err, spent = exchange(lp, user, "wrong-password-1")
            assert err["C"] == "28P01"
            assert err["M"] in refusals(user)
            key = (tuple(shape), err["S"], err["C"], err["M"].replace(user, "<user>"))
            shapes.setdefault(user, key)
            assert shapes[user] == key, f"{user}: the exchange changed between attempts"
            times[user].append(spent)
    def without_salt(key):
        return tuple(x for x in key[0] if x[0] != "salt"), key[1:]

    assert without_salt(shapes[known]) == without_salt(shapes[unknown]), \
        f"known {shapes[known]} vs unknown {shapes[unknown]}"
    assert shapes[known][0][0][2] == first_code
    mk, mu = statistics.median(times[known]), statistics.median(times[unknown])
    # below 0.1 ms a local login is all noise: compare against that floor
    ratio = max(mk, mu) / max(min(mk, mu), 1e-4)
    assert ratio < 3.0, f"median {known} {mk * 1e3:.2f} ms vs {unknown} {mu * 1e3:.2f} ms"


SCRAM = scram_verifier(PASSWORDS["scram_user"])
MD5 = md5_secret("md5_user", PASSWORDS["md5_user"])

# (auth_type, userlist, known user, unknown user of the same name length, first auth request)
CASES = {
    "plain-plaintext": ("plain", None, "scram_user", "nosuchuser", 3),
    "plain-scram": ("plain", [("scram_user", SCRAM)], "scram_user", "nosuchuser", 3),
    "plain-md5": ("plain", [("md5_user", MD5)], "md5_user", "nobody_x", 3),
    "md5-plaintext": ("md5", None, "scram_user", "nosuchuser", 5),
    "md5-md5": ("md5", [("md5_user", MD5)], "md5_user", "nobody_x", 5),
    "md5-scram": ("md5", [("scram_user", SCRAM)], "scram_user", "nosuchuser", 10),
    "scram-plaintext": ("scram-sha-256", None, "scram_user", "nosuchuser", 10),
    "scram-scram": ("scram-sha-256", [("scram_user", SCRAM)], "scram_user", "nosuchuser", 10),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unknown_user_looks_like_wrong_password(linkpool, case):
    auth_type, userlist, known, unknown, first = CASES[case]
    lp = linkpool({"auth_type": auth_type}, userlist=userlist)
    assert_indistinguishable(lp, known, unknown, first)


@pytest.mark.parametrize("auth_type", ["scram-sha-256", "md5", "plain"])
def test_auth_query_unknown_user_looks_like_wrong_password(linkpool, roles, auth_type):  # noqa: F811
    # a short cache, so that the lookup round trip to PostgreSQL is measured too
    lp = aq_lp(linkpool, auth_type=auth_type, auth_query_cache_ttl="0")
    first = 3 if auth_type == "plain" else 10
    assert_indistinguishable(lp, "aq_user", "aq_nope", first)
    assert AUTH_USER and AUTH_PW


# Issue 12 item 4: whether a database exists (or is disabled) is told only
# after a successful login, as PgBouncer does; before that, a database name
# that does not exist gets the exchange and timing of one that does.

def assert_db_indistinguishable(lp, user, first_code, known_db="testdb", other_db="nosuch"):
    exchange(lp, user, "wrong-password-1", db=known_db)
    exchange(lp, user, "wrong-password-1", db=other_db)
    times = {known_db: [], other_db: []}
    shapes = {}
    for i in range(ATTEMPTS):
        for db in (known_db, other_db) if i % 2 else (other_db, known_db):
            shape, err, spent = exchange(lp, user, "wrong-password-1", db=db)
            assert err["C"] == "28P01", f"{db}: {err}"
            assert err["M"] in refusals(user)
            key = (tuple(shape), err["S"], err["C"], err["M"])
            shapes.setdefault(db, key)
            assert shapes[db] == key, f"{db}: the exchange changed between attempts"
            times[db].append(spent)
    # one user: the same salt too, whatever the database
    assert shapes[known_db] == shapes[other_db], f"{shapes[known_db]} vs {shapes[other_db]}"
    assert shapes[known_db][0][0][2] == first_code
    mk, mu = statistics.median(times[known_db]), statistics.median(times[other_db])
    ratio = max(mk, mu) / max(min(mk, mu), 1e-4)
    assert ratio < 3.0, f"median {known_db} {mk * 1e3:.2f} ms vs {other_db} {mu * 1e3:.2f} ms"


def refused_after_login(lp, user, password, db):
    """A login with the right password that is refused: (auth requests seen, PgError)."""
    c = lp.raw()
    with pytest.raises(rawpg.PgError) as ei:
        c.login(user, db, password)
    return c.auth_requests, ei.value


FINAL = {3: [3], 5: [5], 10: [10, 11, 12]}   # the whole exchange of each method


@pytest.mark.parametrize("case", sorted(CASES))
def test_unknown_database_looks_like_a_known_one(linkpool, case):
    auth_type, userlist, known, _, first = CASES[case]
    lp = linkpool({"auth_type": auth_type}, userlist=userlist)
    assert_db_indistinguishable(lp, known, first)
    # the right password: the answer comes after the whole exchange
    seen, err = refused_after_login(lp, known, PASSWORDS[known], "nosuch")
    assert seen == FINAL[first]
    assert (err.sqlstate, err.message) == ("3D000", "no such database: nosuch")


def test_disabled_database_told_after_login(linkpool):
    lp = linkpool({"auth_type": "scram-sha-256"})
    lp.admin("DISABLE otherdb")
    assert_db_indistinguishable(lp, "scram_user", 10, known_db="testdb", other_db="otherdb")
    seen, err = refused_after_login(lp, "scram_user", PASSWORDS["scram_user"], "otherdb")
    assert seen == [10, 11, 12]
    assert (err.sqlstate, err.message) == ("55000", 'database "otherdb" is disabled')


def test_auth_query_user_on_unknown_database(linkpool, roles):  # noqa: F811
    # With auth_dbname the lookup has a database to run in whatever the
    # client named: the user's own secret decides, for a missing database too.
    lp = aq_lp(linkpool, auth_dbname="testdb", auth_query_cache_ttl="0")
    assert_db_indistinguishable(lp, "aq_user", 10)
    seen, err = refused_after_login(lp, "aq_user", "aq-pass-1", "nosuch")
    assert seen == [10, 11, 12]
    assert (err.sqlstate, err.message) == ("3D000", "no such database: nosuch")
    # Without it the lookup would run in the missing database itself:
    # nobody to ask, so the user is unknown there (PgBouncer's answer too).
    lp = aq_lp(linkpool)
    seen, err = refused_after_login(lp, "aq_user", "aq-pass-1", "nosuch")
    assert seen == [10, 11]
    assert err.sqlstate == "28P01"
    with psycopg.connect(lp.dsn("aq_user", "testdb", "aq-pass-1")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("aq_user",)


def test_refused_login_logged_before_the_client_reads_it(linkpool):
    """log_disconnections covers refused logins too, and the line is written
    before the error goes out: read right after the refusal, it is there."""
    lp = linkpool({"auth_type": "scram-sha-256"})
    for db, why in (("nosuch", "no such database: nosuch"),
                    ("testdb", 'SASL authentication failed for user "scram_user"')):
        pw = PASSWORDS["scram_user"] if db == "nosuch" else "wrong"
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(lp.dsn("scram_user", db, pw))
        assert f"closing because: {why}" in lp.log_text()
