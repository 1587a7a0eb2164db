"""The Link deployment kit (deploy/) and the one-command local stack
(scripts/run-local.sh): static checks of the scripts and manifests, the
container entrypoint deploy/startup.sh with complete and incomplete
environments, the compose PostgreSQL init script, and the local stack end to
end with the operator runbook's commands (docs/operations.md).
"""

import glob
import hashlib
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import psycopg
import pytest

from conftest import (LINKPOOL_BIN, LP_ONLY_PASSWORDS, REPO, _die_with_parent, free_port,
                      scram_verifier, wait_for)

yaml = pytest.importorskip("yaml", reason="python3-yaml is needed (in scripts/test.sh PKGS)")

DEPLOY = os.path.join(REPO, "deploy")
K8S = os.path.join(DEPLOY, "k8s")
STARTUP = os.path.join(DEPLOY, "startup.sh")
SERVICES = ["user_service", "chat_service", "ai_service", "discovery_service", "search_service",
            "location_service", "stories_service", "opportunities_service"]


# ---------------------------------------------------------------- helpers


def service_env(prefix="pw-"):
    env = {}
    for svc in SERVICES:
        env[f"{svc.upper()}_DB_USER"] = f"{svc}_user"
        env[f"{svc.upper()}_DB_PASSWORD"] = f"{prefix}{svc}"
    env["PGBOUNCER_ADMIN_PASSWORD"] = f"{prefix}admin"
    env["PGBOUNCER_STATS_PASSWORD"] = f"{prefix}stats"
    return env


def derived_salt(user):
    return hashlib.sha256(b"linkpool-scram-salt\0" + user.encode()).digest()[:16]


def startup(tmp_path, env_extra, *args, drop=(), timeout=30):
    """Runs deploy/startup.sh with a clean environment plus env_extra."""
    env = {"PATH": os.environ["PATH"], "LINKPOOL_BIN": LINKPOOL_BIN,
           "LINKPOOL_CONFIG_DIR": str(tmp_path / "etc"), "POSTGRES_HOST": "127.0.0.1",
           "POSTGRES_PORT": "5432"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(env_extra)
    for k in drop:
        env.pop(k, None)
    return subprocess.run(["bash", STARTUP, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def parse_ini(text):
    sections, sec = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in ";#":
            continue
        if line.startswith("["):
            sec = line.strip("[]").lower()
            sections.setdefault(sec, {})
            continue
        k, _, v = line.partition("=")
        sections[sec][k.strip().lower()] = v.strip()
    return sections


def template_vars(text):
    """The ${VAR}s of the userlist template's user lines (not its comments)."""
    return {v for line in text.splitlines() if line.startswith('"')
            for v in re.findall(r"\$\{([A-Z0-9_]+)\}", line)}


def load_k8s():
    docs = {}
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        for d in yaml.safe_load_all(open(path)):
            if d and "kind" in d and d["kind"] != "Kustomization":
                docs[(d["kind"], d["metadata"]["name"])] = d
    return docs


# ---------------------------------------------------------------- static checks

def test_shellcheck_every_script():
    if not shutil.which("shellcheck"):
        pytest.fail("shellcheck is not installed (it is in scripts/test.sh PKGS)")
    scripts = sorted(set(glob.glob(os.path.join(REPO, "scripts", "*.sh"))
                         + glob.glob(os.path.join(DEPLOY, "**", "*.sh"), recursive=True)))
    assert os.path.join(DEPLOY, "startup.sh") in scripts
    r = subprocess.run(["shellcheck", "-x", *scripts], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_yaml_files_parse():
    files = sorted(glob.glob(os.path.join(DEPLOY, "**", "*.y*ml"), recursive=True))
    assert len(files) >= 7
    for path in files:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        assert docs, f"{path} holds no document"


def test_k8s_matches_ini_and_seed():
    docs = load_k8s()
    for (kind, name), d in docs.items():
        if kind != "Namespace":
            assert d["metadata"]["namespace"] == "link-internal", (kind, name)
    cm = docs[("ConfigMap", "pgbouncer-config")]
    # the ConfigMap carries the very templates of deploy/
    assert cm["data"]["linkpool.ini"] == open(os.path.join(DEPLOY, "linkpool.ini")).read(), \
        "ConfigMap differs from deploy/linkpool.ini: run python3 deploy/k8s/sync-configmap.py"
    assert cm["data"]["userlist.txt"] == open(os.path.join(DEPLOY, "userlist.txt")).read(), \
        "ConfigMap differs from deploy/userlist.txt: run python3 deploy/k8s/sync-configmap.py"
    ini = parse_ini(cm["data"]["linkpool.ini"])
    pgb = ini["pgbouncer"]
    listen, metrics = int(pgb["listen_port"]), int(pgb["metrics_port"])
    assert (listen, metrics) == (5432, 9127)
    assert pgb["pool_mode"] == "session" and pgb["max_client_conn"] == "1000"
    assert pgb["server_lifetime"] == "3600" and pgb["server_idle_timeout"] == "600"
    assert pgb["admin_users"] == "pgbouncer_admin" and pgb["stats_users"] == "pgbouncer_stats"
    assert pgb["server_tls_sslmode"] in ("require", "verify-ca", "verify-full")
    assert sorted(ini["databases"]) == sorted(SERVICES)
    for name, entry in ini["databases"].items():
        assert f"dbname={name}" in entry and "pool_size=25" in entry and "max_db_connections=30" in entry

    dep = docs[("Deployment", "pgbouncer")]
    spec = dep["spec"]["template"]["spec"]
    assert dep["spec"]["replicas"] >= 2
    c = spec["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"postgres": listen, "metrics": metrics}

    def probe_port(p):
        port = p["httpGet"]["port"]
        return ports[port] if isinstance(port, str) else port
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz" and probe_port(c["readinessProbe"]) == metrics
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz" and probe_port(c["livenessProbe"]) == metrics
    assert c["resources"] == {"requests": {"memory": "128Mi", "cpu": "200m"},
                              "limits": {"memory": "512Mi", "cpu": "1000m"}}
    pre_stop = c["lifecycle"]["preStop"]["exec"]["command"]
    assert int(pre_stop[-1]) < spec["terminationGracePeriodSeconds"]
    anti = spec["affinity"]["podAntiAffinity"]
    terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution") or \
        [t["podAffinityTerm"] for t in anti["preferredDuringSchedulingIgnoredDuringExecution"]]
    assert terms[0]["topologyKey"] == "kubernetes.io/hostname"
    assert spec["securityContext"]["runAsNonRoot"] is True
    # env comes from the ConfigMap keys and the Secret the startup script needs
    for e in c["env"]:
        ref = e.get("valueFrom", {}).get("configMapKeyRef")
        if ref:
            assert ref["name"] == "pgbouncer-config" and ref["key"] in cm["data"], e
    assert c["envFrom"][0]["secretRef"]["name"] == "pgbouncer-credentials"
    secret = docs[("Secret", "pgbouncer-credentials")]
    needed = template_vars(cm["data"]["userlist.txt"])
    assert needed == set(secret["stringData"]), "Secret template keys differ from userlist.txt's variables"
    tf = open(os.path.join(DEPLOY, "terraform", "main.tf")).read()
    assert "_DB_USER" in tf and "_DB_PASSWORD" in tf and "PGBOUNCER_ADMIN_PASSWORD" in tf \
        and "PGBOUNCER_STATS_PASSWORD" in tf and "var.secret_name" in tf
    assert 'default     = "pgbouncer-credentials"' in open(os.path.join(DEPLOY, "terraform", "variables.tf")).read()
    assert "output \"pgbouncer_connection_strings\"" in open(os.path.join(DEPLOY, "terraform", "outputs.tf")).read()

    svc = docs[("Service", "pgbouncer-service")]
    sports = {p["name"]: (p["port"], p["targetPort"]) for p in svc["spec"]["ports"]}
    assert sports == {"postgres": (5432, "postgres"), "metrics": (9127, "metrics")}
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    pdb = docs[("PodDisruptionBudget", "pgbouncer")]
    assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    assert pdb["spec"].get("maxUnavailable", 0) < dep["spec"]["replicas"]
    np_ = docs[("NetworkPolicy", "pgbouncer")]
    in_ports = sorted(p["port"] for rule in np_["spec"]["ingress"] for p in rule["ports"])
    assert in_ports == [listen, listen, metrics]
    # Peering: the replicas are the records of a headless Service, reach
    # each other on the listen port, and say so in their settings.
    peers = docs[("Service", "pgbouncer-peers")]
    assert peers["spec"]["clusterIP"] == "None" and peers["spec"]["publishNotReadyAddresses"]
    assert peers["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert [p["port"] for p in peers["spec"]["ports"]] == [listen]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["LINKPOOL_PEERS_DNS"] == "pgbouncer-peers.link-internal.svc.cluster.local"
    assert int(env["LINKPOOL_PEER_ID"]) > 0
    assert any(f.get("podSelector", {}).get("matchLabels") == dep["spec"]["selector"]["matchLabels"]
               and "namespaceSelector" not in f and [p["port"] for p in rule["ports"]] == [listen]
               for rule in np_["spec"]["ingress"] for f in rule["from"])


def test_compose_file():
    with open(os.path.join(DEPLOY, "docker-compose.yml")) as f:
        compose = yaml.safe_load(f)
    pgb = compose["services"]["pgbouncer"]
    assert pgb["container_name"] == "link_pgbouncer"
    assert "5433:5432" in pgb["ports"] and "127.0.0.1:9127:9127" in pgb["ports"]
    assert pgb["build"]["dockerfile"] == "deploy/Dockerfile"
    needed = template_vars(open(os.path.join(DEPLOY, "userlist.txt")).read())
    assert needed | {"POSTGRES_HOST"} <= set(pgb["environment"])
    pg_env = compose["services"]["postgres"]["environment"]
    assert {k for k in needed if "_DB_" in k} <= set(pg_env)
    # gen-env.sh provides every variable the compose file asks for
    out = subprocess.run(["bash", os.path.join(DEPLOY, "gen-env.sh"), "-"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    generated = {line.split("=", 1)[0] for line in out.stdout.splitlines() if "=" in line}
    asked = set(re.findall(r"\$\{([A-Z0-9_]+)", open(os.path.join(DEPLOY, "docker-compose.yml")).read()))
    assert asked <= generated, asked - generated


def test_metrics_endpoint_reachable_only_by_the_scraper():
    """The metrics port is bound to 0.0.0.0 inside the pod/container; then
    something else must keep it for the scraper: the NetworkPolicy (only
    Prometheus pods, no rule open to every peer) and, under Compose, the
    host's loopback. The probes and the scrape annotation use that port."""
    docs = load_k8s()
    ini = parse_ini(docs[("ConfigMap", "pgbouncer-config")]["data"]["linkpool.ini"])["pgbouncer"]
    metrics = int(ini["metrics_port"])
    assert ini["metrics_listen_addr"] in ("0.0.0.0", "*")
    if "metrics_allow" in ini:
        assert ini["metrics_allow"].strip(), "an empty metrics_allow lets every peer in"
    np_ = docs[("NetworkPolicy", "pgbouncer")]
    assert "Ingress" in np_["spec"]["policyTypes"]
    rules = [r for r in np_["spec"]["ingress"] if any(p["port"] == metrics for p in r["ports"])]
    assert len(rules) == 1, rules
    peers = rules[0].get("from")
    assert peers, "the metrics port is open to every peer"
    for peer in peers:
        assert "ipBlock" not in peer, peer
        assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
        assert peer["podSelector"]["matchLabels"]
    dep = docs[("Deployment", "pgbouncer")]
    pod = dep["spec"]["template"]
    c = pod["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(metrics) == str(ports["metrics"])
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert c[probe]["httpGet"]["path"] == path and ports[c[probe]["httpGet"]["port"]] == metrics
    # a restart takes three missed liveness probes, 30 s apart at least
    assert c["livenessProbe"]["periodSeconds"] * c["livenessProbe"]["failureThreshold"] >= 30
    with open(os.path.join(DEPLOY, "docker-compose.yml")) as f:
        compose = yaml.safe_load(f)
    published = [p for p in compose["services"]["pgbouncer"]["ports"] if str(p).endswith(f":{metrics}")]
    assert published == [f"127.0.0.1:{metrics}:{metrics}"], published


def test_dockerfile():
    text = open(os.path.join(DEPLOY, "Dockerfile")).read()
    assert re.search(r"^FROM debian:12 AS build$", text, re.M)
    assert re.search(r"^FROM debian:12-slim$", text, re.M)
    assert re.search(r"^USER linkpool$", text, re.M)
    assert re.search(r"^EXPOSE 5432 9127$", text, re.M)
    assert "HEALTHCHECK" in text and "health-check.sh" in text
    assert 'ENTRYPOINT ["/usr/local/bin/startup.sh"]' in text
    # every file the image copies exists (health-check.sh comes with the metrics work)
    # and the build context (Dockerfile.dockerignore) lets it through
    allowed = {line[1:] for line in open(os.path.join(DEPLOY, "Dockerfile.dockerignore")).read().splitlines()
               if line.startswith("!")}
    for src in re.findall(r"^COPY (?!--from)(?:--\S+ )*(.+) \S+$", text, re.M):
        for path in src.split():
            assert path in allowed, f"{path} is excluded by deploy/Dockerfile.dockerignore"
            if path == "deploy/health-check.sh" and not os.path.exists(os.path.join(REPO, path)):
                continue
            assert os.path.exists(os.path.join(REPO, path)), path


def test_terraform_fmt():
    if not shutil.which("terraform"):
        pytest.skip("terraform is not installed here; run `terraform fmt -check` in deploy/terraform")
    r = subprocess.run(["terraform", "fmt", "-check", "-recursive", "-diff"],
                       cwd=os.path.join(DEPLOY, "terraform"), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


# ---------------------------------------------------------------- startup.sh

def test_configmap_ini_passes_check(tmp_path):
    """The ConfigMap's templates, rendered with the ConfigMap's and the Secret
    template's values, pass `linkpool --check` (startup.sh runs it)."""
    docs = load_k8s()
    cm = docs[("ConfigMap", "pgbouncer-config")]["data"]
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "linkpool.ini").write_text(cm["linkpool.ini"])
    (tpl / "userlist.txt").write_text(cm["userlist.txt"])
    env = dict(docs[("Secret", "pgbouncer-credentials")]["stringData"])
    env.update({k: v for k, v in cm.items() if "." not in k})
    env["LINKPOOL_TEMPLATE_DIR"] = str(tpl)
    r = startup(tmp_path, env, "--render-only")
    assert r.returncode == 0, r.stderr


def test_operations_doc_render_snippet(tmp_path):
    """The "check a rendering" commands of docs/operations.md, pasted as they are."""
    doc = open(os.path.join(REPO, "docs", "operations.md")).read()
    m = re.search(r"```bash\n(export POSTGRES_HOST=.*?)```", doc, re.S)
    assert m, "snippet not found in docs/operations.md"
    snippet = m.group(1).replace("/tmp/lp-render", str(tmp_path / "render")).replace("build/linkpool", LINKPOOL_BIN)
    env = {"PATH": os.environ["PATH"]}
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", snippet], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "configuration is valid" in r.stdout and "10 users in" in r.stderr


def test_startup_missing_variables(tmp_path):
    r = startup(tmp_path, service_env(), "--render-only",
                drop=("CHAT_SERVICE_DB_PASSWORD", "AI_SERVICE_DB_USER", "POSTGRES_HOST"))
    assert r.returncode != 0
    assert "missing environment variables" in r.stderr
    for v in ("CHAT_SERVICE_DB_PASSWORD", "AI_SERVICE_DB_USER", "POSTGRES_HOST"):
        assert v in r.stderr
    assert "USER_SERVICE_DB_USER" not in r.stderr
    assert not (tmp_path / "etc" / "userlist.txt").exists()
    # run mode stops before linkpool too; an empty value counts as missing
    r = startup(tmp_path, dict(service_env(), PGBOUNCER_STATS_PASSWORD=""))
    assert r.returncode != 0 and "PGBOUNCER_STATS_PASSWORD" in r.stderr


def test_startup_rejects_bad_input(tmp_path):
    env = service_env()
    r = startup(tmp_path, dict(env, LINKPOOL_ADMIN_USERS="x\n[databases]\nevil = host=evil"), "--render-only")
    assert r.returncode != 0 and "line break" in r.stderr
    r = startup(tmp_path, dict(env, USERLIST_FORMAT="plain"), "--render-only")
    assert r.returncode != 0 and "USERLIST_FORMAT" in r.stderr
    r = startup(tmp_path, dict(env, USER_SERVICE_DB_PASSWORD='a"b'), "--render-only")
    assert r.returncode != 0 and "quote" in r.stderr
    r = startup(tmp_path, dict(env, POSTGRES_HOST="db host"), "--render-only")
    assert r.returncode != 0 and "POSTGRES_HOST" in r.stderr
    # a config linkpool refuses is reported as file:line and stops the start
    r = startup(tmp_path, dict(env, LINKPOOL_POOL_MODE="sometimes"), "--render-only")
    assert r.returncode != 0 and re.search(r"linkpool\.ini:\d+: ", r.stderr), r.stderr


def test_startup_renders_verifiers_and_overrides(tmp_path):
    env = service_env()
    r = startup(tmp_path, dict(env, POSTGRES_HOST="db.example.internal", POSTGRES_PORT="6543",
                               LINKPOOL_LISTEN_PORT="7000", LINKPOOL_VERBOSE="2",
                               LINKPOOL_LOG_STATS="", LINKPOOL_PEER_ID="1",
                               LINKPOOL_PEERS_DNS="pgbouncer-peers.link-internal.svc.cluster.local"),
                "--render-only")
    assert r.returncode == 0, r.stderr
    etc = tmp_path / "etc"
    ul = (etc / "userlist.txt").read_text()
    assert stat.S_IMODE(os.stat(etc / "userlist.txt").st_mode) == 0o600
    lines = [line for line in ul.splitlines() if line.startswith('"')]
    assert len(lines) == 10
    for name, value in env.items():
        if name.endswith("PASSWORD"):
            for f in etc.iterdir():
                assert value not in f.read_text(), f"plain password of {name} in {f}"
    want = scram_verifier("pw-user_service", derived_salt("user_service_user"))
    assert f'"user_service_user" "{want}"' in lines
    assert f'"pgbouncer_stats" "{scram_verifier("pw-stats", derived_salt("pgbouncer_stats"))}"' in lines
    ini = parse_ini((etc / "linkpool.ini").read_text())
    assert ini["pgbouncer"]["listen_port"] == "7000"
    assert ini["pgbouncer"]["verbose"] == "2"
    # the Deployment's peering settings (rendered config passed --check)
    assert ini["pgbouncer"]["peers_dns"] == "pgbouncer-peers.link-internal.svc.cluster.local"
    assert "log_stats" not in ini["pgbouncer"]
    assert ini["pgbouncer"]["auth_file"] == str(etc / "userlist.txt")
    for name, entry in ini["databases"].items():
        assert "host=db.example.internal port=6543" in entry, entry

    # md5 when asked: "md5" + md5(password + user)
    r = startup(tmp_path, dict(env, USERLIST_FORMAT="md5", LINKPOOL_AUTH_TYPE="md5"), "--render-only")
    assert r.returncode == 0, r.stderr
    md5 = "md5" + hashlib.md5(b"pw-chat_servicechat_service_user").hexdigest()
    assert f'"chat_service_user" "{md5}"' in (etc / "userlist.txt").read_text()


def test_startup_execs_linkpool(tmp_path):
    """Run mode replaces itself with linkpool (same pid, so signals reach it)."""
    fake = tmp_path / "fake-linkpool"
    record = tmp_path / "exec.txt"
    fake.write_text(f"""#!/usr/bin/env bash
if [ "$1" = --check ]; then exec {LINKPOOL_BIN} "$@"; fi
echo "$$ $*" > {record}
""")
    fake.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "LINKPOOL_BIN": str(fake), "POSTGRES_HOST": "127.0.0.1",
           "LINKPOOL_CONFIG_DIR": str(tmp_path / "etc"), **service_env()}
    p = subprocess.Popen(["bash", STARTUP], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    pid, arg = record.read_text().split()
    assert int(pid) == p.pid
    assert arg == str(tmp_path / "etc" / "linkpool.ini")


# ---------------------------------------------------------------- compose's PostgreSQL side

def test_compose_postgres_init_and_startup_agree(pg, tmp_path):
    """deploy/postgres-init (compose's PostgreSQL) and startup.sh (linkpool)
    derive identical verifiers, so services log in through linkpool end to end."""
    env = dict(os.environ, PGHOST=pg.socket_dir, PGPORT=str(pg.port), POSTGRES_USER="postgres",
               **service_env("compose-"))
    try:
        r = subprocess.run(["bash", os.path.join(DEPLOY, "postgres-init", "10-link-services.sh")],
                           env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        port = free_port()
        extra = dict(service_env("compose-"), POSTGRES_PORT=str(pg.port),
                     LINKPOOL_LISTEN_ADDR="127.0.0.1", LINKPOOL_LISTEN_PORT=str(port),
                     LINKPOOL_UNIX_SOCKET_DIR=str(tmp_path), LINKPOOL_METRICS_PORT="0",
                     LINKPOOL_SERVER_TLS_SSLMODE="disable")
        r = startup(tmp_path, extra, "--render-only")
        assert r.returncode == 0, r.stderr
        ul = (tmp_path / "etc" / "userlist.txt").read_text()
        for svc in SERVICES:
            stored = pg.get_verifier(f"{svc}_user")
            assert f'"{svc}_user" "{stored}"' in ul
        lp = subprocess.Popen([LINKPOOL_BIN, str(tmp_path / "etc" / "linkpool.ini")], stdout=subprocess.DEVNULL,
                              stderr=open(tmp_path / "lp.log", "wb"), preexec_fn=_die_with_parent)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline and lp.poll() is None, (tmp_path / "lp.log").read_text()
                    time.sleep(0.05)
            for svc in SERVICES:
                with psycopg.connect(host="127.0.0.1", port=port, dbname=svc, user=f"{svc}_user",
                                     password=f"compose-{svc}", sslmode="disable", connect_timeout=5) as c:
                    assert c.execute("select current_database()").fetchone()[0] == svc
        finally:
            lp.send_signal(signal.SIGQUIT)
            lp.wait(10)
    finally:
        for svc in SERVICES:
            pg.sql(f"DROP DATABASE IF EXISTS {svc} WITH (FORCE)")
            pg.sql(f"DROP ROLE IF EXISTS {svc}_user")


# ---------------------------------------------------------------- the local stack

class LocalStack:
    def __init__(self, local_dir):
        self.local_dir = local_dir
        self.port, self.pg_port, self.metrics_port = free_port(), free_port(), free_port()
        self.proc = None
        self.out = []
        self.urls = {}

    def start(self, timeout=180):
        env = dict(os.environ, LP_LOCAL_DIR=self.local_dir, LP_PORT=str(self.port),
                   LP_PG_PORT=str(self.pg_port), LP_METRICS_PORT=str(self.metrics_port),
                   LINKPOOL_BIN=LINKPOOL_BIN, LP_SKIP_INSTALL="1")
        self.out = []
        # the doc's "try it" command, as written (test_doc_run_local_output checks it)
        self.command = "bash scripts/run-local.sh"
        self.proc = subprocess.Popen(["bash", "-c", "exec " + self.command], cwd=REPO, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.out.append(line)
            if line.startswith("Ctrl-C stops"):
                break
        text = self.text = "".join(self.out)
        assert "Ctrl-C stops" in text, f"run-local.sh did not come up:\n{text}"
        self.urls = dict(re.findall(r"^  (\w+_service)\s+(postgresql://\S+)$", text, re.M))
        self.admin = re.search(r'psql "(postgresql://pgbouncer_admin:\S+)"', text).group(1)
        self.stats = re.search(r'psql "(postgresql://pgbouncer_stats:\S+)"', text).group(1)
        self.lp_pid = int(re.search(r"linkpool is running \(pid (\d+)\)", text).group(1))
        # keep draining output so the script never blocks on a full pipe
        self._drain = subprocess.Popen(["cat"], stdin=self.proc.stdout, stdout=open(
            os.path.join(self.local_dir, "run-local.out"), "a"))
        return text

    def stop(self, timeout=60):
        """Ctrl-C: the script must stop linkpool and PostgreSQL and exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise
        self._drain.wait(10)
        return rc

    def leftovers(self):
        alive = []
        try:
            os.kill(self.lp_pid, 0)
            alive.append(f"linkpool {self.lp_pid}")
        except ProcessLookupError:
            pass
        for pidfile in glob.glob(os.path.join(self.local_dir, "pg", "data", "postmaster.pid")) + \
                glob.glob("/tmp/linkpool-*/data/postmaster.pid"):
            if self.local_dir in open(pidfile).read() or pidfile.startswith(self.local_dir):
                alive.append(f"postgres ({pidfile})")
        return alive


def psql(url, sql, timeout=15):
    return subprocess.run(["psql", "-X", "-At", url, "-c", sql], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """run-local.sh twice in the same directory (the second run reuses the
    cluster and the passwords); tests use the second one."""
    local = str(tmp_path_factory.mktemp("run-local"))
    os.chmod(local, 0o755)
    st = LocalStack(local)
    try:
        st.start()
        first_urls = dict(st.urls)
        assert st.stop() == 130
        assert not st.leftovers(), st.leftovers()
        st.port = free_port()  # new ports are fine too
        st.start()
        assert st.urls.keys() == first_urls.keys()
        assert {k: v.split("@")[0] for k, v in st.urls.items()} == \
            {k: v.split("@")[0] for k, v in first_urls.items()}, "passwords changed between runs"
        yield st
    finally:
        if st.proc and st.proc.poll() is None:
            rc = st.stop()
            assert rc in (0, 130), rc
        assert not st.leftovers(), st.leftovers()


@pytest.mark.timeout(300)
def test_local_stack_eight_databases(stack):
    assert sorted(stack.urls) == sorted(SERVICES)
    for svc, url in stack.urls.items():
        with psycopg.connect(url, connect_timeout=5) as c:
            user, db = c.execute("select current_user, current_database()").fetchone()
            assert (user, db) == (f"{svc}_user", svc)
            c.execute("create table if not exists t (x int)")
            c.execute("insert into t values (1)")


def test_local_stack_wrong_credentials_refused(stack):
    url = stack.urls["user_service"]
    bad = re.sub(r"(://[^:]+:)[^@]+@", r"\1wrong-password@", url)
    # scram-sha-256 (deploy/linkpool.ini): PgBouncer's words
    with pytest.raises(psycopg.OperationalError, match="SASL authentication failed"):
        psycopg.connect(bad, connect_timeout=5).close()
    # one service's password does not open another service's database
    other = stack.urls["chat_service"].replace("/chat_service?", "/user_service?")
    with pytest.raises(psycopg.OperationalError):
        c = psycopg.connect(other, connect_timeout=5)
        try:
            c.execute("select 1")
        finally:
            c.close()


def test_local_stack_admin_console(stack):
    for url in (stack.admin, stack.stats):
        r = psql(url, "SHOW VERSION;")
        assert r.returncode == 0 and r.stdout.startswith("linkpool "), r.stderr


def test_local_stack_metrics(stack):
    base = f"http://127.0.0.1:{stack.metrics_port}"
    body = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    assert "pgbouncer_" in body
    for path in ("/healthz", "/readyz"):
        assert urllib.request.urlopen(base + path, timeout=5).status == 200


# ---------------------------------------------------------------- docs/operations.md, command by command
#
# Every command line of every ```bash block of the runbook is either run below
# against the local stack, as the doc writes it (only host, port, password and
# paths substituted for the local stack's), or needs a cluster tool. The
# commands are read from the doc at test time, so the two cannot drift:
# editing a covered line fails its test until the test follows.

OPS_DOC = os.path.join(REPO, "docs", "operations.md")

# test -> the doc's command lines (comments dropped) it runs
DOC_COVERAGE = {
    "test_doc_run_local_output": ["bash scripts/run-local.sh"],
    "test_doc_psql_service": [
        "psql \"postgresql://user_service_user:...@127.0.0.1:6432/user_service?sslmode=disable\" "
        "-c 'select current_user, current_database()'"],
    "test_operations_doc_render_snippet": [
        "export POSTGRES_HOST=db.internal $(deploy/gen-env.sh - | grep -v '^#' | xargs)",
        "LINKPOOL_CONFIG_DIR=/tmp/lp-render LINKPOOL_BIN=build/linkpool deploy/startup.sh --render-only"],
    "test_doc_gen_env": ["cd deploy", "./gen-env.sh"],
    "test_doc_compose_env_psql": [
        "set -a; . deploy/.env; set +a",
        "psql \"postgresql://user_service_user:$USER_SERVICE_DB_PASSWORD@localhost:5433/user_service"
        "?sslmode=disable\" -c 'select 1'"],
    "test_doc_service_environment": [
        "USER_SERVICE_DB_HOST=pgbouncer", "USER_SERVICE_DB_PORT=5432", "USER_SERVICE_DB_NAME=user_service",
        "USER_SERVICE_DB_USER=user_service_user", "USER_SERVICE_DB_PASSWORD=<generated_password>"],
    "test_doc_metrics_curl": [
        "curl -s http://localhost:9127/metrics | grep -E '^pgbouncer_(up|pools_client_waiting_connections)'",
        "curl -si http://localhost:9127/readyz | head -1"],
    "test_doc_health_check": ['LINKPOOL_HOST=.local deploy/health-check.sh --ready; echo "exit $?"'],
    "test_doc_admin_console": [
        "psql -h localhost -p 5433 -U pgbouncer_stats -d pgbouncer",
        "SHOW POOLS;", "SHOW CLIENTS;", "SHOW SERVERS;", "SHOW STATS;"],
    "test_doc_log_and_userlist": ["head -20 .local/linkpool.log", "cat .local/etc/userlist.txt"],
    "test_doc_troubleshooting_psql": [
        'psql -h localhost -p 5433 -U pgbouncer_stats -d pgbouncer -c "SHOW POOLS;"',
        'psql -h localhost -p 5433 -U pgbouncer_stats -d pgbouncer -c "SHOW CLIENTS;"',
        'psql -h localhost -p 5433 -U pgbouncer_stats -d pgbouncer -c "SHOW STATS;"'],
    "test_doc_reload_sighup": ['kill -HUP "$(cat .local/linkpool.pid)"'],
    "test_doc_group_script": [
        "deploy/linkpool-group.sh start 4 /etc/pgbouncer/linkpool.ini /run/linkpool",
        "deploy/linkpool-group.sh status /run/linkpool",
        'psql -h /run/linkpool/2 -p 5432 -U pgbouncer_admin -d pgbouncer -c "SHOW PEERS;"',
        "deploy/linkpool-group.sh stop /run/linkpool"],
    "test_doc_pause_then_shutdown": [
        'psql -h localhost -p 5433 -U pgbouncer_admin -d pgbouncer -c "PAUSE;"',
        'psql -h localhost -p 5433 -U pgbouncer_admin -d pgbouncer -c "SHUTDOWN;"'],
}

# Lines starting with these need what CI does not have.
CLUSTER_ONLY_TOOLS = {
    "docker": "needs a Docker daemon and the image; the files are checked by test_compose_file/test_dockerfile",
    "kubectl": "needs a Kubernetes cluster; the manifests are checked by test_k8s_matches_ini_and_seed",
    "terraform": "needs terraform and a cluster; `terraform fmt -check` runs in test_terraform_fmt where installed",
}
CLUSTER_ONLY_LINES = {
    "cd deploy/terraform": "only enters the directory of the terraform commands that follow",
}


def doc_bash_blocks():
    """(block text, the first untagged ``` block after it, before any other
    fence, or None) for every ```bash block."""
    text = open(OPS_DOC).read()
    return [(m.group(1), m.group(2)) for m in
            re.finditer(r"^```bash\n(.*?)^```\n(?:(?:(?!```)[^\n]*\n)*?```\n(.*?)^```\n)?", text, re.S | re.M)]


def doc_command_lines(block):
    """A block's command lines: continuations joined, comments and blank lines dropped."""
    lines = []
    for line in re.sub(r"\\\n\s*", "", block).splitlines():
        line = re.sub(r"\s+#\s.*$", "", line).strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def doc_commands(test):
    """The doc's lines test runs, each checked to be in the doc still."""
    present = {line for block, _ in doc_bash_blocks() for line in doc_command_lines(block)}
    lines = DOC_COVERAGE[test]
    missing = [line for line in lines if line not in present]
    assert not missing, f"docs/operations.md no longer has {missing}: update {test} with the doc"
    return lines


def doc_output(command):
    """The 'good output' block the doc shows after the block holding command."""
    for block, out in doc_bash_blocks():
        if command in doc_command_lines(block):
            assert out is not None, f"docs/operations.md shows no output for {command}"
            return out
    raise AssertionError(f"{command} not in docs/operations.md")


def run_doc(cmd, cwd=REPO, env=None, stdin=None, timeout=30):
    full = dict(os.environ, PSQLRC="/dev/null", **(env or {}))
    return subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=cwd, env=full, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def console_password(url):
    return re.match(r"postgresql://[^:]+:([^@]+)@", url).group(1)


def local_cmd(stack, line):
    """A doc line with the local stack's port and directory."""
    return line.replace("-p 5433", f"-p {stack.port}").replace(".local/", stack.local_dir + "/") \
        .replace("=.local ", f"={stack.local_dir} ").replace("localhost:9127", f"localhost:{stack.metrics_port}")


def aligned_rows(out, must_have):
    """psql's aligned table whose header has column must_have, as dicts."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        cols = [c.strip() for c in line.split("|")]
        if must_have in cols:
            rows = []
            for row in lines[i + 2:]:
                if not row.strip() or row.startswith("("):
                    break
                rows.append(dict(zip(cols, (v.strip() for v in row.split("|")))))
            return rows
    raise AssertionError(f"no table with column {must_have} in:\n{out}")


def test_operations_doc_every_command_accounted():
    """A new command in a ```bash block of docs/operations.md needs a test
    here (DOC_COVERAGE) or a reason it cannot run on one machine."""
    covered = {line for lines in DOC_COVERAGE.values() for line in lines}
    blocks = doc_bash_blocks()
    assert len(blocks) >= 20
    unaccounted = [line for block, _ in blocks for line in doc_command_lines(block)
                   if line not in covered and line not in CLUSTER_ONLY_LINES
                   and line.split()[0] not in CLUSTER_ONLY_TOOLS]
    assert not unaccounted, ("commands of docs/operations.md that no test runs (add one to "
                             f"DOC_COVERAGE, or to CLUSTER_ONLY_LINES with the reason): {unaccounted}")
    for test in DOC_COVERAGE:
        assert callable(globals().get(test)), f"DOC_COVERAGE names a missing test {test}"
        doc_commands(test)


def test_doc_gen_env(tmp_path):
    """`cd deploy; ./gen-env.sh` writes deploy/.env (0600, not committed) once."""
    cmds = "\n".join(doc_commands("test_doc_gen_env"))
    (tmp_path / "deploy").mkdir()
    shutil.copy(os.path.join(DEPLOY, "gen-env.sh"), tmp_path / "deploy")
    r = run_doc(cmds, cwd=tmp_path)
    assert r.returncode == 0 and "wrote ./.env" in r.stdout, r.stdout + r.stderr
    env_file = tmp_path / "deploy" / ".env"
    assert stat.S_IMODE(os.stat(env_file).st_mode) == 0o600
    first = env_file.read_text()
    keys = {line.split("=", 1)[0] for line in first.splitlines() if "=" in line}
    assert template_vars(open(os.path.join(DEPLOY, "userlist.txt")).read()) <= keys
    r = run_doc(cmds, cwd=tmp_path)
    assert r.returncode == 0 and "keeping it" in r.stderr and env_file.read_text() == first
    ignored = subprocess.run(["git", "check-ignore", "-q", "deploy/.env"], cwd=REPO, timeout=10)
    assert ignored.returncode == 0, "deploy/.env is not git-ignored"


@pytest.mark.timeout(300)
def test_doc_run_local_output(stack):
    """The doc's "good output" of run-local.sh, line by line (passwords,
    numbers and the state directory aside)."""
    (cmd,) = doc_commands("test_doc_run_local_output")
    assert stack.command == cmd

    def norm(line, local):
        line = re.sub(r"(/tmp/linkpool-[0-9a-f]+|" + re.escape(local) + ")", "LOCAL", line)
        line = re.sub(r":[^@/\s]+@", ":PW@", line)
        return re.sub(r"\d+", "N", line.rstrip())
    actual = {norm(line, stack.local_dir) for line in stack.text.splitlines()}
    for line in doc_output(cmd).splitlines():
        if line.strip().startswith("..."):
            continue
        want = norm(re.sub(r"(/\S*)?\.local(/pg)?", "LOCAL", line), "LOCAL")
        assert want in actual, f"run-local.sh does not print the doc's line {line!r}:\n{stack.text}"


def test_doc_psql_service(stack):
    (cmd,) = doc_commands("test_doc_psql_service")
    url = re.search(r'"(postgresql://[^"]+)"', cmd).group(1)
    r = run_doc(cmd.replace(url, stack.urls["user_service"]))
    assert r.returncode == 0, r.stderr
    assert [line.rstrip() for line in r.stdout.strip("\n").splitlines()] == \
        doc_output(cmd).strip("\n").splitlines()


def test_doc_compose_env_psql(stack, tmp_path):
    """The Compose check, with the local stack's passwords file as deploy/.env."""
    cmds = doc_commands("test_doc_compose_env_psql")
    (tmp_path / "deploy").mkdir()
    shutil.copy(os.path.join(stack.local_dir, "secrets.env"), tmp_path / "deploy" / ".env")
    r = run_doc("\n".join(cmds).replace("localhost:5433", f"localhost:{stack.port}"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\s+1\n\(1 row\)$", r.stdout, re.M), r.stdout


def test_doc_service_environment(stack):
    """The seed's per-service variables: the local stack writes them for all
    eight services in .local/link-services.env, and they log in."""
    doc_vars = dict(line.split("=", 1) for line in doc_commands("test_doc_service_environment"))
    env = dict(line.split("=", 1) for line in open(os.path.join(stack.local_dir, "link-services.env"))
               if "=" in line and not line.startswith("#"))
    env = {k: v.strip() for k, v in env.items()}
    for svc in SERVICES:
        up = svc.upper()
        for key, example in doc_vars.items():
            key = key.replace("USER_SERVICE", up)
            assert key in env, f"{key} missing from link-services.env"
            if key.endswith(("_NAME", "_USER")):
                assert env[key] == example.replace("user_service", svc)
        assert env[f"{up}_DB_HOST"] == "127.0.0.1" and env[f"{up}_DB_PORT"] == str(stack.port)
    with psycopg.connect(host=env["CHAT_SERVICE_DB_HOST"], port=env["CHAT_SERVICE_DB_PORT"],
                         dbname=env["CHAT_SERVICE_DB_NAME"], user=env["CHAT_SERVICE_DB_USER"],
                         password=env["CHAT_SERVICE_DB_PASSWORD"], sslmode="disable", connect_timeout=5) as c:
        assert c.execute("select current_database()").fetchone() == ("chat_service",)


def test_doc_metrics_curl(stack):
    metrics_cmd, readyz_cmd = doc_commands("test_doc_metrics_curl")
    with psycopg.connect(stack.urls["user_service"], connect_timeout=5) as c:
        c.execute("select 1")
    r = run_doc(local_cmd(stack, metrics_cmd))
    assert r.returncode == 0, r.stderr
    got = r.stdout.splitlines()
    for line in doc_output(metrics_cmd).splitlines():
        if line != "...":
            assert line in got, f"{line!r} not in:\n{r.stdout}"
    r = run_doc(local_cmd(stack, readyz_cmd))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "HTTP/1.1 200 OK"  # the doc's trailing comment


def test_doc_health_check(stack):
    (cmd,) = doc_commands("test_doc_health_check")
    env = {"LINKPOOL_METRICS_URL": f"http://127.0.0.1:{stack.metrics_port}", "LINKPOOL_PORT": str(stack.port)}
    r = run_doc(local_cmd(stack, cmd), env=env)
    assert r.stdout.splitlines() == ["healthy", "exit 0"], r.stdout + r.stderr


def test_doc_admin_console(stack):
    """The console session of "Administrative queries", and "what good looks like"."""
    login, *queries = doc_commands("test_doc_admin_console")
    for url in stack.urls.values():
        with psycopg.connect(url, connect_timeout=5) as c:
            c.execute("select 1")
    r = run_doc(local_cmd(stack, login), env={"PGPASSWORD": console_password(stack.stats)},
                stdin="\n".join(queries + ["SHOW VERSION;"]) + "\n")
    assert r.returncode == 0 and not r.stderr, r.stderr
    pools = aligned_rows(r.stdout, "cl_waiting")
    by_pair = {(row["database"], row["user"]): row for row in pools}
    for svc in SERVICES:
        row = by_pair[(svc, f"{svc}_user")]
        assert row["cl_waiting"] == "0" and row["maxwait"] == "0", row
        assert int(row["sv_active"]) + int(row["sv_idle"]) + int(row["sv_used"]) <= 25, row
    assert aligned_rows(r.stdout, "request_time") and aligned_rows(r.stdout, "total_client_login_count")
    assert re.search(r"^ S +\| +user_service_user +\| +user_service +\|", r.stdout, re.M)  # SHOW SERVERS
    # SHOW VERSION as the doc shows it
    shown = doc_output(login).splitlines()[1:]
    assert "\n".join(shown) in "\n".join(line.rstrip() for line in r.stdout.splitlines()), r.stdout


def test_doc_troubleshooting_psql(stack):
    cmds = doc_commands("test_doc_troubleshooting_psql")
    env = {"PGPASSWORD": console_password(stack.stats)}
    for cmd, column in zip(cmds, ("maxwait", "request_time", "total_client_login_count")):
        r = run_doc(local_cmd(stack, cmd), env=env)
        assert r.returncode == 0, r.stderr
        assert aligned_rows(r.stdout, column) is not None


def test_doc_log_and_userlist(stack):
    head_cmd, cat_cmd = doc_commands("test_doc_log_and_userlist")
    r = run_doc(local_cmd(stack, head_cmd))
    assert r.returncode == 0 and 0 < len(r.stdout.splitlines()) <= 20, r.stderr
    assert "listening" in r.stdout.lower(), r.stdout
    r = run_doc(local_cmd(stack, cat_cmd))
    assert r.returncode == 0, r.stderr
    users = [line for line in r.stdout.splitlines() if line.startswith('"')]
    assert len(users) == 10  # "verifiers only, one line per user, 10 users"
    assert all(re.fullmatch(r'"[a-z_]+" "SCRAM-SHA-256\$\d+:[^"]+"', u) for u in users), users
    secrets = open(os.path.join(stack.local_dir, "secrets.env")).read()
    for pw in re.findall(r"_PASSWORD=(\S+)", secrets):
        assert pw not in r.stdout


def test_doc_reload_sighup(stack):
    """`reloading configuration from ...` then `configuration reloaded`."""
    (cmd,) = doc_commands("test_doc_reload_sighup")
    log = os.path.join(stack.local_dir, "linkpool.log")
    before = len(open(log).read())
    r = run_doc(local_cmd(stack, cmd), timeout=10)
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 10
    while not re.search(r"reloading configuration from .*\n(.*\n)*.*configuration reloaded",
                        open(log).read()[before:]):
        assert time.monotonic() < deadline, "no reload in the log after SIGHUP:\n" + open(log).read()[before:]
        time.sleep(0.1)
    with psycopg.connect(stack.urls["search_service"], connect_timeout=5) as c:
        assert c.execute("select 1").fetchone() == (1,)


def test_doc_pause_then_shutdown(stack):
    """The runbook's graceful shutdown: PAUSE, pools drain, then SHUTDOWN
    (last: it ends the stack)."""
    pause, shutdown = doc_commands("test_doc_pause_then_shutdown")
    admin = {"PGPASSWORD": console_password(stack.admin)}
    r = run_doc(local_cmd(stack, pause), env=admin)
    assert r.returncode == 0 and r.stdout.strip() == "PAUSE", r.stdout + r.stderr
    r = run_doc(local_cmd(stack, pause.replace("pgbouncer_admin", "pgbouncer_stats")),
                env={"PGPASSWORD": console_password(stack.stats)})
    assert r.returncode != 0, "pgbouncer_stats must not be allowed to PAUSE"
    # "Wait for connections to drain (SHOW POOLS: sv_active reaches 0)"
    r = run_doc(f'psql "{stack.stats}" -c "SHOW POOLS;"')
    assert r.returncode == 0, r.stderr
    pools = aligned_rows(r.stdout, "sv_active")
    assert pools and all(row["sv_active"] == "0" for row in pools), r.stdout
    run_doc(local_cmd(stack, shutdown), env=admin)
    assert stack.proc.wait(30) is not None


def test_doc_group_script(linkpool):
    """The scaling section's group of processes on one port
    (deploy/linkpool-group.sh): four processes with their own consoles and
    metrics ports, each listing the group in SHOW PEERS; a cancel sent to
    the shared port reaches its query whichever process the kernel picks."""
    start, status, show, stop = doc_commands("test_doc_group_script")
    base = linkpool({"pool_mode": "transaction"}, start=False)
    metrics = int(base.ini["metrics_port"])
    run = tempfile.mkdtemp(prefix="lp-grp-")    # short: unix socket paths

    def doc(line):
        line = (line.replace("/etc/pgbouncer/linkpool.ini", base.ini_path)
                .replace("/run/linkpool", run).replace("-p 5432", f"-p {base.port}")
                .replace("pgbouncer_admin", "admin"))
        return run_doc(line, env={"LINKPOOL_BIN": LINKPOOL_BIN,
                                  "PGPASSWORD": LP_ONLY_PASSWORDS["admin"]})

    r = doc(start)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        wait_for(lambda: doc(status).returncode == 0, 10, what="4 processes")
        r = doc(status)
        assert [line.split()[-1] for line in r.stdout.splitlines()] == [
            str(metrics + i) for i in range(4)]
        r = doc(show)
        assert r.returncode == 0, r.stderr
        assert [row["peer_id"] for row in aligned_rows(r.stdout, "peer_id")] == ["1", "2", "3", "4"]
        conns = [psycopg.connect(base.dsn("md5_user"), autocommit=True) for _ in range(8)]
        try:
            for c in conns:
                t = threading.Timer(0.4, c.cancel)
                t.start()
                with pytest.raises(psycopg.errors.QueryCanceled):
                    c.execute("SELECT pg_sleep(20)")
                t.join()
        finally:
            for c in conns:
                c.close()
    finally:
        r = doc(stop)
        logs = "".join(open(f"{run}/{i}/linkpool.log").read() for i in range(1, 5))
        shutil.rmtree(run, ignore_errors=True)
    assert r.returncode == 0, r.stderr
    assert logs.count("listening on") == 4 and "ERROR" not in logs, logs[-3000:]
