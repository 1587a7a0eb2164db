# Regenerates alerts-test.yaml from the synthetic cases below and the rules in
# prometheus-alerts.yaml (annotations are rendered here, so they never drift).
# Run from deploy/monitoring: python3 gen-alerts-test.py && promtool test rules alerts-test.yaml
import re, yaml, json
rules = {r["alert"]: r for g in yaml.safe_load(open("prometheus-alerts.yaml"))["groups"] for r in g["rules"]}
J = {"job": "linkpool", "instance": "lp:9127"}
J2 = {"job": "linkpool", "instance": "lp2:9127"}

def sel(metric_, **l):
    return metric_ + "{" + ",".join(f'{k}="{v}"' for k, v in l.items()) + "}"

def render(t, labels):
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), t)

def fire(alert, t, labels):
    r = rules[alert]
    full = dict(labels); full.update(r["labels"]); full["alertname"] = alert
    ann = {k: render(v, full) for k, v in r["annotations"].items()}
    exp_labels = dict(labels); exp_labels.update(r["labels"])
    return {"eval_time": t, "alertname": alert, "exp_alerts": [{"exp_labels": exp_labels, "exp_annotations": ann}]}

def quiet(alert, t):
    return {"eval_time": t, "alertname": alert, "exp_alerts": []}

tests = []
# availability
db = dict(J, database="app"); db_ok = dict(J, database="other")
tests.append({"interval": "1m", "input_series": [
    {"series": sel("up", **J), "values": "1 1 0x20"},
    {"series": sel("up", **J2), "values": "1x22"},
    {"series": sel("linkpool_ready", **J), "values": "1 0x20"},
    {"series": sel("linkpool_shutting_down", **J), "values": "0x21"},
    {"series": sel("linkpool_ready", **J2), "values": "1 0x20"},
    {"series": sel("linkpool_shutting_down", **J2), "values": "0 1x20"},
    {"series": sel("linkpool_paused", **J), "values": "1x21"},
    {"series": sel("linkpool_backend_up", **db), "values": "1 1 0x20"},
    {"series": sel("linkpool_backend_up", **db_ok), "values": "1x22"},
    {"series": sel("linkpool_process_start_time_seconds", **J), "values": "100 100 100 200x20"},
    {"series": sel("linkpool_process_start_time_seconds", **J2), "values": "100x22"},
    {"series": sel("linkpool_host_up", **dict(db, host="a")), "values": "1 1 0x20"},
    {"series": sel("linkpool_host_up", **dict(db, host="b")), "values": "0x22"},
    {"series": sel("linkpool_host_up", **dict(db_ok, host="a")), "values": "1x22"},
    {"series": sel("linkpool_host_up", **dict(db_ok, host="b")), "values": "0x22"},
], "alert_rule_test": [
    quiet("PoolerDown", "1m"), fire("PoolerDown", "4m", J),
    quiet("PoolerNotReady", "1m"), fire("PoolerNotReady", "4m", J),
    quiet("PoolerPaused", "5m"), fire("PoolerPaused", "11m", J),
    quiet("BackendUnavailable", "1m"), fire("BackendUnavailable", "4m", db),
    quiet("NoUsableHost", "1m"), fire("NoUsableHost", "4m", db),
    quiet("PoolerRestarted", "1m"), fire("PoolerRestarted", "4m", J), quiet("PoolerRestarted", "20m"),
]})
# pools
pu = dict(J, database="app", user="u"); po = dict(J, database="other", user="u")
def pool_series(l, waiting, active):
    out = [{"series": sel("pgbouncer_pools_client_waiting_connections", **l), "values": waiting},
           {"series": sel("pgbouncer_pools_server_active_connections", **l), "values": active}]
    for s in ("idle", "used", "testing", "login"):
        out.append({"series": sel(f"pgbouncer_pools_server_{s}_connections", **l), "values": "0x21"})
    return out
def pool_size(l, n):
    return {"series": sel("pgbouncer_databases_pool_size", job=l["job"], instance=l["instance"], name=l["database"],
                          host="db", port="5432", database=l["database"] + "_backend", force_user="", pool_mode="transaction"),
            "values": f"{n}x21"}
def hist(name, l, buckets):
    return [{"series": sel(name + "_bucket", **dict(l, le=le)), "values": v} for le, v in buckets]
wa = dict(J, database="app"); wf = dict(J, database="fast")
tests.append({"interval": "1m", "input_series":
    pool_series(pu, "0 3x20", "5x21") + pool_series(po, "0 3x20", "5x21") + [pool_size(pu, 5), pool_size(po, 10)]
    + hist("linkpool_client_wait_seconds", wa, [("0.1", "0+10x20"), ("0.5", "0+10x20"), ("1", "0+100x20"), ("+Inf", "0+100x20")])
    + hist("linkpool_client_wait_seconds", wf, [("0.1", "0+100x20"), ("0.5", "0+100x20"), ("1", "0+100x20"), ("+Inf", "0+100x20")])
    + [{"series": sel("pgbouncer_pools_client_maxwait_seconds", **pu), "values": "0 15x20"},
       {"series": sel("pgbouncer_pools_client_maxwait_seconds", **po), "values": "0 2x20"},
       {"series": sel("pgbouncer_used_clients", **J), "values": "95x21"},
       {"series": sel("pgbouncer_config_max_client_connections", **J), "values": "100x21"},
       {"series": sel("pgbouncer_used_clients", **J2), "values": "10x21"},
       {"series": sel("pgbouncer_config_max_client_connections", **J2), "values": "100x21"},
       {"series": sel("linkpool_client_connections_refused_total", **dict(J, reason="max_client_conn")), "values": "0 0 3 3x20"},
       {"series": sel("linkpool_client_connections_refused_total", **dict(J2, reason="max_client_conn")), "values": "0x22"}],
    "alert_rule_test": [
    quiet("PoolExhaustion", "2m"), fire("PoolExhaustion", "4m", pu),
    quiet("HighClientWait", "3m"), fire("HighClientWait", "8m", wa),
    quiet("HighClientMaxWait", "1m"), fire("HighClientMaxWait", "3m", pu),
    quiet("ClientConnectionsNearLimit", "3m"), fire("ClientConnectionsNearLimit", "6m", J),
    quiet("MaxClientConnRefusals", "1m"), fire("MaxClientConnRefusals", "3m", dict(J, reason="max_client_conn")),
    quiet("MaxClientConnRefusals", "10m"),
]})
# churn and errors
ca = dict(J, database="app"); cc = dict(J, database="calm")
tests.append({"interval": "1m", "input_series": [
    {"series": sel("linkpool_server_connections_opened_total", **ca), "values": "0+600x30"},
    {"series": sel("linkpool_server_connections_opened_total", **cc), "values": "0+60x30"},
    {"series": sel("linkpool_client_logins_total", **ca), "values": "0+12000x30"},
    {"series": sel("linkpool_client_logins_total", **dict(J2, database="app")), "values": "0+60x30"},
    {"series": sel("linkpool_client_login_failures_total", **dict(J, reason="auth_failed")), "values": "0+120x30"},
    {"series": sel("linkpool_client_login_failures_total", **dict(J, reason="max_client_conn")), "values": "0+600x30"},
    {"series": sel("linkpool_server_connections_closed_total", **dict(ca, reason="error")), "values": "0+60x30"},
    {"series": sel("linkpool_server_connections_closed_total", **dict(cc, reason="lifetime")), "values": "0+600x30"},
    {"series": sel("linkpool_protocol_errors_total", **dict(J, source="server")), "values": "0 0 1 1x30"},
    {"series": sel("linkpool_protocol_errors_total", **dict(J, source="client")), "values": "0+10x30"},
] + hist("linkpool_query_duration_seconds", ca, [("1", "0+1x30"), ("2.5", "0+100x30"), ("+Inf", "0+100x30")])
  + hist("linkpool_query_duration_seconds", cc, [("1", "0+100x30"), ("2.5", "0+100x30"), ("+Inf", "0+100x30")]),
  "alert_rule_test": [
    quiet("ConnectionChurn", "5m"), fire("ConnectionChurn", "15m", ca),
    quiet("ClientLoginChurn", "5m"), fire("ClientLoginChurn", "15m", J),
    quiet("ClientLoginFailures", "3m"), fire("ClientLoginFailures", "10m", dict(J, reason="auth_failed")),
    quiet("ServerConnectionErrors", "5m"), fire("ServerConnectionErrors", "15m", ca),
    quiet("ServerProtocolErrors", "1m"), fire("ServerProtocolErrors", "3m", dict(J, source="server")),
    quiet("ServerProtocolErrors", "20m"),
    quiet("HighQueryLatency", "5m"), fire("HighQueryLatency", "15m", ca),
]})
# resources
tests.append({"interval": "1m", "input_series": [
    {"series": sel("linkpool_process_open_fds", **J), "values": "900x10"},
    {"series": sel("linkpool_process_max_fds", **J), "values": "1000x10"},
    {"series": sel("linkpool_process_open_fds", **J2), "values": "900x10"},
    {"series": sel("linkpool_process_max_fds", **J2), "values": "-1x10"},
    {"series": sel("linkpool_metrics_series_dropped_total", **J), "values": "0x4 0+500x6"},
    {"series": sel("linkpool_metrics_series_dropped_total", **J2), "values": "0x10"},
], "alert_rule_test": [quiet("FileDescriptorsNearLimit", "3m"), fire("FileDescriptorsNearLimit", "6m", J),
                       quiet("MetricsSeriesDropped", "3m"), fire("MetricsSeriesDropped", "6m", J)]})

covered = {t["alertname"] for tc in tests for t in tc["alert_rule_test"] if t["exp_alerts"]}
assert covered == set(rules), set(rules) - covered
doc = {"rule_files": ["prometheus-alerts.yaml"], "evaluation_interval": "1m", "tests": tests}
hdr = ("# promtool unit tests of prometheus-alerts.yaml: every alert fires on a synthetic\n"
       "# series that should trigger it and stays quiet on a similar one that should not.\n"
       "# Run: promtool test rules deploy/monitoring/alerts-test.yaml\n")
open("alerts-test.yaml", "w").write(hdr + yaml.safe_dump(doc, sort_keys=False, width=200))
