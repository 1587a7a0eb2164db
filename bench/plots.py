"""PNG plots of bench.py's results (Debian's python3-matplotlib): the growth
curves of scenario 11 and the latency distributions of scenarios 8-10.

    /usr/bin/python3 bench/plots.py [bench/RESULTS.json [OUTDIR]]

redraws them from a results file (default OUTDIR: plots/ next to it).
"""

import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

# bench.DIST_Q, repeated so that this file runs without bench.py's setup
DIST_Q = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999)
STYLE = {"linkpool": dict(color="tab:blue", marker="o"), "pgbouncer": dict(color="tab:orange", marker="s")}
LABEL = {"linkpool": "linkpool", "pgbouncer": "PgBouncer 1.18"}


def _median(vals):
    vals = sorted(v for v in vals if v is not None)
    if not vals:
        return None
    n = len(vals)
    return vals[n // 2] if n % 2 else (vals[n // 2 - 1] + vals[n // 2]) / 2


def _curve(points, kind, key):
    xs, ys = [], []
    for p in points:
        v = _median([r.get(key) for r in p["runs"].get(kind, [])])
        if v is not None:
            xs.append(p["x"])
            ys.append(v)
    return xs, ys


def growth(res, fn, panels, title):
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6))
    for ax, (key, ylabel, scale) in zip(axes, panels):
        for kind in ("linkpool", "pgbouncer"):
            xs, ys = _curve(res["points"], kind, key)
            ax.plot(xs, [y * scale for y in ys], label=LABEL[kind], **STYLE[kind])
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel(res["x"])
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    axes[0].legend()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(fn, dpi=90)
    plt.close(fig)
    return fn


def databases(res, fn):
    panels = (("start_s", "start time (s)"), ("reload_s", "RELOAD time (s)"),
              ("probe_worst_ms", "worst query during RELOAD (ms)"), ("rss_kb", "RSS after start (MB)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(16, 3.6))
    for ax, (key, ylabel) in zip(axes, panels):
        for kind in ("linkpool", "pgbouncer"):
            xs = [p["x"] for p in res["points"]]
            ys = [p["per"][kind][key] / (1024.0 if key == "rss_kb" else 1) for p in res["points"]]
            ax.plot(xs, ys, label=LABEL[kind], **STYLE[kind])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("databases in the ini")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3, which="both")
    axes[0].legend()
    fig.suptitle(res["title"], fontsize=10)
    fig.tight_layout()
    fig.savefig(fn, dpi=90)
    plt.close(fig)
    return fn


def latency(results, fn, keys):
    """Latency against percentile on a 'nines' axis: -log10(1 - q)."""
    present = [(k, t) for k, t in keys if k in results]
    if not present:
        return None
    fig, axes = plt.subplots(1, len(present), figsize=(4.4 * len(present), 3.8), squeeze=False)
    import math
    xs = [-math.log10(1 - q) for q in DIST_Q]
    for ax, (key, title) in zip(axes[0], present):
        runs = results[key]["runs"]
        for kind in ("linkpool", "pgbouncer"):
            rs = [r for r in runs.get(kind, []) if r.get("dist_ms")]
            if not rs:
                continue
            ys = [_median(v) for v in zip(*[r["dist_ms"] for r in rs])]
            ax.plot(xs, ys, label=LABEL[kind], **dict(STYLE[kind], markersize=3))
        ax.set_yscale("log")
        ticks = [0.5, 0.9, 0.99, 0.999, 0.9999]
        ax.set_xticks([-math.log10(1 - q) for q in ticks])
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"p{100 * (1 - 10 ** -v):g}"))
        ax.set_xlabel("percentile")
        ax.set_ylabel("latency (ms)")
        ax.set_title(title, fontsize=9)
        ax.grid(True, alpha=0.3, which="both")
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(fn, dpi=90)
    plt.close(fig)
    return fn


def plot_all(results, outdir):
    os.makedirs(outdir, exist_ok=True)
    out = []
    per_tx = [("pooler_cpu_per_k", "pooler CPU µs per transaction", 1.0), ("tps", "transactions/s", 1.0),
              ("p99_ms", "p99 latency (ms)", 1.0), ("rss_kb", "pooler RSS (MB)", 1 / 1024.0)]
    if "s11clients" in results:
        out.append(growth(results["s11clients"], os.path.join(outdir, "growth-clients.png"), per_tx,
                          results["s11clients"]["title"]))
    if "s11pools" in results:
        out.append(growth(results["s11pools"], os.path.join(outdir, "growth-pools.png"), per_tx,
                          results["s11pools"]["title"]))
    if "s11dbs" in results:
        out.append(databases(results["s11dbs"], os.path.join(outdir, "growth-databases.png")))
    fn = latency(results, os.path.join(outdir, "latency.png"),
                 (("s8a", "8a TLS select-only, 100 clients"), ("s8b", "8b TLS TPC-B-like, 50 clients"),
                  ("s9", f"9 Link shape, 8 dbs, {results.get('s9', {}).get('clients')} clients"),
                  ("s10", f"10 saturation, {results.get('s10', {}).get('clients')} clients on 25")))
    if fn:
        out.append(fn)
    return out


if __name__ == "__main__":
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                             "RESULTS.json")
    with open(src) as f:
        res = json.load(f)
    for fn in plot_all(res, sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(src), "plots")):
        print(fn)
