"""Log lines operators' alerts and runbooks search for are written in
PgBouncer's words (issue 15), linkpool's extra context after them."""

import re
import threading
import time

import psycopg


def test_new_connection_to_server_names_the_local_end(lp):
    c = lp.connect()
    c.execute("SELECT 1")
    local_port = lp.pg.sql("SELECT client_port FROM pg_stat_activity "
                           "WHERE usename = 'scram_user' AND datname = 'testdb'")[0][0]
    lp.wait_log(r"S-\d+: testdb/scram_user@127\.0\.0\.1:\d+ new connection to server "
                rf"\(from 127\.0\.0\.1:{local_port}\)")


def test_taking_connection_from_reserve_pool(linkpool):
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "1",
                   "reserve_pool_size": "1", "reserve_pool_timeout": "0.5"})
    busy = [lp.connect() for _ in range(2)]
    threads = [threading.Thread(target=b.execute, args=("SELECT pg_sleep(1.5)",)) for b in busy]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = lp.log_text()
    assert len(re.findall(r"C-\d+: testdb/scram_user@127\.0\.0\.1:\d+ "
                          r"taking connection from reserve_pool", text)) == 1


def test_server_fast_close_reason(linkpool):
    lp = linkpool({"server_fast_close": "1"})
    c = lp.connect()
    c.execute("SELECT 1")
    lp.admin("RECONNECT testdb")
    lp.wait_log(r"S-\d+: testdb/\S+ closing because: database configuration changed")
    time.sleep(0.1)
    try:
        c.execute("SELECT 1")
        raise AssertionError("the session should have ended")
    except psycopg.OperationalError as e:
        assert "database configuration changed" in str(e)
