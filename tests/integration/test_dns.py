"""Database hosts given by name are resolved without blocking the loop
(libevent evdns, cached for dns_max_ttl); a name that does not resolve gives
the waiting client an 08006 error naming the host, and other pools keep
working."""

import psycopg
import pytest


def test_host_by_name(linkpool, pg):
    if pg.host != "127.0.0.1":
        pytest.skip("cluster not on 127.0.0.1")
    lp = linkpool(databases={"byname": f"host=localhost port={pg.port} dbname=testdb"})
    for _ in range(3):      # the second and third use the cache
        with lp.connect(db="byname") as c:
            assert c.execute("SELECT 1").fetchone() == (1,)
    hosts = {row[0]: row for row in lp.admin("SHOW DNS_HOSTS")}
    assert "localhost" in hosts and "127.0.0.1" in hosts["localhost"][2]
    lists = dict(lp.admin("SHOW LISTS"))
    assert lists["dns_names"] == 1 and lists["dns_pending"] == 0


def test_unresolvable_host(linkpool):
    lp = linkpool(databases={"nowhere": "host=nonexistent.invalid port=5432 dbname=x"})
    with pytest.raises(psycopg.OperationalError) as ei:
        lp.connect(db="nowhere")
    assert "could not resolve host" in str(ei.value)
    with lp.connect() as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
