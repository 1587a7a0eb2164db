"""The monitoring kit against a live linkpool: a real Prometheus (Debian's)
scrapes linkpool during a short pgbench run, then every dashboard expression
and every alert rule is evaluated through Prometheus's HTTP API. Also
promtool's own checks of the rules and their unit tests, and health-check.sh."""

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
import yaml

from conftest import PASSWORDS, REPO, _die_with_parent, free_port, wait_for

MON = os.path.join(REPO, "deploy", "monitoring")
ALERTS = os.path.join(MON, "prometheus-alerts.yaml")
DASHBOARD = os.path.join(MON, "grafana-dashboard.json")
HEALTH = os.path.join(REPO, "deploy", "health-check.sh")
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")

needs_prometheus = pytest.mark.skipif(PROMETHEUS is None or PROMTOOL is None,
                                      reason="Debian package prometheus not installed")


def dashboard_exprs():
    dash = json.load(open(DASHBOARD))
    out = []
    for p in dash["panels"]:
        for t in p.get("targets", []):
            out.append((p["title"], t["expr"]))
    return dash, out


def alert_rules():
    return [r for g in yaml.safe_load(open(ALERTS))["groups"] for r in g["rules"]]


@needs_prometheus
def test_promtool_rules_check_and_unit_tests():
    r = subprocess.run([PROMTOOL, "check", "rules", ALERTS], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([PROMTOOL, "test", "rules", "alerts-test.yaml"], cwd=MON, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    names = {r["alert"] for r in alert_rules()}
    for want in ("PoolExhaustion", "HighClientWait", "HighClientMaxWait", "ConnectionChurn",
                 "ClientLoginChurn", "PoolerDown", "BackendUnavailable"):
        assert want in names


def test_dashboard_shape():
    dash, exprs = dashboard_exprs()
    tvars = {v["name"]: v for v in dash["templating"]["list"]}
    assert tvars["datasource"]["type"] == "datasource"
    assert {"instance", "database"} <= set(tvars)
    assert len(exprs) >= 20
    for p in dash["panels"]:
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}", p["title"]
    for title, e in exprs:
        assert 'instance=~"$instance"' in e, title


class Prometheus:
    def __init__(self, workdir, target_port):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cfg = os.path.join(workdir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {ALERTS}
scrape_configs:
  - job_name: linkpool
    static_configs:
      - targets: ["127.0.0.1:{target_port}"]
""")
        self.log = open(os.path.join(workdir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={workdir}/tsdb",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        wait_for(self._ready, timeout=30, interval=0.2, what="prometheus ready")

    def _ready(self):
        with urllib.request.urlopen(self.base + "/-/ready", timeout=2) as r:
            return r.status == 200

    def api(self, path, **params):
        url = self.base + path + "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr):
        return self.api("/api/v1/query", query=expr)["result"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def _substitute(expr):
    return (expr.replace("$instance", ".*").replace("$database", ".*")
            .replace("$__rate_interval", "15s"))


@needs_prometheus
@pytest.mark.timeout(120)
def test_prometheus_scrapes_dashboard_and_alerts(linkpool, tmp_path):
    lp = linkpool({"pool_mode": "transaction", "default_pool_size": "2", "max_client_conn": "50"})
    prom = Prometheus(str(tmp_path), lp.metrics_port)
    try:
        wait_for(lambda: prom.query('up{job="linkpool"} == 1'), timeout=20, interval=0.3,
                 what="first successful scrape")
        script = tmp_path / "bench.sql"
        script.write_text("BEGIN;\nSELECT 1;\nSELECT pg_sleep(0.002);\nEND;\nSELECT 1;\n")
        env = dict(os.environ, PGPASSWORD=PASSWORDS["scram_user"], PGSSLMODE="disable")
        out = subprocess.run(["pgbench", "-n", "-h", lp.host, "-p", str(lp.port), "-U", "scram_user",
                              "-f", str(script), "-c", "6", "-j", "2", "-T", "6", "testdb"],
                             capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        # Named prepared statements for the prepared-statement panels: 4
        # clients prepare one statement, on at most 2 servers.
        one = tmp_path / "one.sql"
        one.write_text("SELECT 1;\n")
        out = subprocess.run(["pgbench", "-n", "-h", lp.host, "-p", str(lp.port), "-U", "scram_user",
                              "-M", "prepared", "-f", str(one), "-c", "4", "-j", "2", "-T", "3", "testdb"],
                             capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        # Two more scrapes after the run so that every rate window holds it.
        time.sleep(2.5)

        _, exprs = dashboard_exprs()
        empty = []
        for title, e in exprs:
            res = prom.query(_substitute(e))
            if not res:
                empty.append((title, e))
        assert not empty, f"dashboard expressions without data: {empty}"
        ratio = [e for title, e in exprs if title.startswith("Server-parse hit ratio")]
        assert len(ratio) == 1
        by_db = {r["metric"]["database"]: float(r["value"][1]) for r in prom.query(_substitute(ratio[0]))}
        # 4 client parses, at most 2 on servers; no parses: no value (NaN)
        assert 0.4 <= by_db["testdb"] <= 1, by_db
        assert by_db["otherdb"] != by_db["otherdb"], by_db

        for metric in ("linkpool_query_duration_seconds", "linkpool_client_wait_seconds",
                       "linkpool_transaction_duration_seconds"):
            qs = {}
            for p in (0.5, 0.99):
                res = prom.query(f'histogram_quantile({p}, sum by (le) (rate({metric}_bucket[15s])))')
                qs[p] = float(res[0]["value"][1])
            assert qs[0.5] == qs[0.5] and qs[0.99] == qs[0.99], (metric, qs)  # not NaN
            assert 0 <= qs[0.5] <= qs[0.99], (metric, qs)
        p99 = float(prom.query('histogram_quantile(0.99, sum by (le) '
                               '(rate(linkpool_transaction_duration_seconds_bucket[15s])))')[0]["value"][1])
        assert p99 >= 0.002  # half the transactions sleep 2 ms

        # Every alert expression evaluates, over series that exist.
        for rule in alert_rules():
            prom.query(rule["expr"])
            for metric in set(re.findall(r"\b((?:pgbouncer|linkpool)_[a-z_]+|up)\b", rule["expr"])):
                assert prom.query(f"count({metric})"), (rule["alert"], metric)
        rules = prom.api("/api/v1/rules")
        for group in rules["groups"]:
            for r in group["rules"]:
                assert r["health"] == "ok", r
        alerts = prom.api("/api/v1/alerts")["alerts"]
        firing = {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}
        assert not firing & {"PoolerDown", "BackendUnavailable", "PoolerNotReady"}, alerts
    finally:
        prom.stop()


def test_health_check_script(linkpool):
    lp = linkpool()
    env = dict(os.environ, LINKPOOL_METRICS_URL=f"http://127.0.0.1:{lp.metrics_port}",
               LINKPOOL_HOST=lp.host, LINKPOOL_PORT=str(lp.port), LINKPOOL_ADMIN_USER="admin",
               LINKPOOL_ADMIN_PASSWORD="admin-secret")

    def run(*args, **extra):
        return subprocess.run(["bash", HEALTH, *args], env=dict(env, **extra), capture_output=True,
                              text=True, timeout=30)
    r = run("--ready")
    assert r.returncode == 0, r.stderr
    lp.signal(signal.SIGUSR1)
    wait_for(lambda: run("--ready").returncode == 3, what="health-check --ready fails while paused")
    assert "paused" in run("--ready").stderr
    assert run().returncode == 0  # paused is still alive
    r = run(LINKPOOL_ADMIN_PASSWORD="wrong")
    assert r.returncode == 2 and "admin console" in r.stderr
    lp.signal(signal.SIGUSR2)
    r = run(LINKPOOL_METRICS_URL=f"http://127.0.0.1:{free_port()}")
    assert r.returncode == 1 and "healthz" in r.stderr
