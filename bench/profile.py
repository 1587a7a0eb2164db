#!/usr/bin/env python3
"""Per-transaction cost of each pooler that does not depend on machine noise:
user-space instructions (valgrind --tool=callgrind) and system calls
(strace -c), for pgbench select-only with a fixed transaction count.

    /usr/bin/python3 bench/profile.py [callgrind|strace|both|perf|segs|idle] [simple|extended|churn ...]

Environment: PROFILE_USER (bench = md5, bench_scram = SCRAM), PROFILE_CLIENTS (default 20), PROFILE_XACTS per client (default
500), PROFILE_POOLERS (default "linkpool pgbouncer"), PROFILE_OUT (directory
for callgrind.out files, default /tmp/lp-profile), plus bench.py's
LINKPOOL_BIN / PGBOUNCER_BIN. Prints one line per measurement; callgrind
files can be read with callgrind_annotate.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

CLIENTS = int(os.environ.get("PROFILE_CLIENTS", "20"))
XACTS = int(os.environ.get("PROFILE_XACTS", "500"))
POOLERS = os.environ.get("PROFILE_POOLERS", "linkpool pgbouncer").split()
OUTDIR = os.environ.get("PROFILE_OUT", "/tmp/lp-profile")
USER = os.environ.get("PROFILE_USER", "bench")   # bench (md5) or bench_scram


def pgbench(port, mode, xacts=XACTS, clients=CLIENTS):
    """mode: simple, extended, or churn (simple with a new connection per
    transaction, -C)."""
    env = dict(os.environ, PGPASSWORD=bench.USERS[USER])
    extra = ["-C"] if mode == "churn" else []
    r = subprocess.run([bench.PGBENCH, "-h", "127.0.0.1", "-p", str(port), "-U", USER, "-n", "-S", *extra,
                        "-M", "simple" if mode == "churn" else mode, "-c", str(clients), "-j", "2", "-t", str(xacts), "bench"],
                       capture_output=True, text=True, env=env, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(r.stdout + r.stderr)
    m = re.search(r"number of transactions actually processed: (\d+)", r.stdout)
    return int(m.group(1))


def callgrind_total(pl, mode, xacts):
    """Instructions of one whole pooler run: start under callgrind, pool
    fill, xacts per client, stop."""
    f = os.path.join(OUTDIR, f"callgrind.{pl.name}.{mode}.{xacts}")
    pl.start(wrapper=["valgrind", "--tool=callgrind", f"--callgrind-out-file={f}"], timeout=60)
    pgbench(pl.port, mode, xacts=5)
    n = pgbench(pl.port, mode, xacts=xacts)
    pl.stop()
    with open(f) as fh:
        for line in fh:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1]), n, f
    raise RuntimeError(f"no totals in {f}")


def callgrind(pl, modes):
    """Two runs that differ only in transaction count: the difference is
    the steady-state cost per transaction, start-up and logins cancelled."""
    os.makedirs(OUTDIR, exist_ok=True)
    os.chmod(OUTDIR, 0o777)
    out = []
    pl.stop()
    for mode in modes:
        ir0, n0, _ = callgrind_total(pl, mode, XACTS // 10)
        ir1, n1, f = callgrind_total(pl, mode, XACTS)
        out.append(f"callgrind {pl.name:<10} {mode:<9} {(ir1 - ir0) / (n1 - n0):8.0f} instructions/tx "
                   f"({n1 - n0} tx difference) -> {f}")
        print(out[-1], flush=True)
    pl.start()
    return out


def strace(pl, modes):
    out = []
    for mode in modes:
        pgbench(pl.port, mode, xacts=20)
        log = tempfile.mktemp(prefix="strace-")
        st = subprocess.Popen(["strace", "-c", "-f", "-o", log, "-p", str(pl.proc.pid)],
                              stderr=subprocess.DEVNULL)
        time.sleep(1)
        n = pgbench(pl.port, mode)
        st.send_signal(signal.SIGINT)
        st.wait(30)
        counts = {}
        with open(log) as fh:
            for line in fh:
                p = line.split()
                if len(p) >= 5 and p[0][0].isdigit() and p[-1] != "total":
                    calls = int(p[3])
                    counts[p[-1]] = calls
        os.unlink(log)
        total = sum(counts.values())
        detail = ", ".join(f"{k} {v / n:.2f}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
        out.append(f"strace {pl.name:<10} {mode:<9} {total / n:6.2f} syscalls/tx: {detail}")
        print(out[-1], flush=True)
    return out


# Inclusive shares of the pooler's CPU worth naming: where a proxy's kernel
# time goes (perf report --children, cpu-clock samples).
PERF_PATHS = (
    ("write", "ksys_write"), ("read", "ksys_read"), ("epoll_wait", "do_epoll_wait"),
    ("loopback delivery to the peer", "net_rx_action"), ("waking the peer", "sock_def_readable"),
    ("preempted after a system call", "exit_to_user_mode_loop"), ("sendto", "__sys_sendto"),
    ("recvfrom", "__sys_recvfrom"),
)


def perf(pl, modes):
    """Where the pooler's CPU goes: kernel against user space, and the
    kernel paths of a proxy (cpu-clock samples with call graphs; hardware
    counters are often missing in VMs)."""
    out = []
    for mode in modes:
        pgbench(pl.port, mode, xacts=20)
        data = tempfile.mktemp(prefix="perf-")
        rec = subprocess.Popen(["perf", "record", "-q", "-g", "-e", "cpu-clock", "-F", "2000", "-o", data,
                                "-p", str(pl.proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        n = pgbench(pl.port, mode, xacts=XACTS * 4)
        rec.send_signal(signal.SIGINT)
        rec.wait(60)
        rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso",
                              "-g", "none", "--percent-limit", "1"], capture_output=True, text=True).stdout
        inc = subprocess.run(["perf", "report", "-i", data, "--stdio", "--children", "--sort", "sym",
                              "-g", "none"], capture_output=True, text=True).stdout
        os.unlink(data)
        dsos = [" ".join(ln.split()) for ln in rep.splitlines() if ln.strip() and not ln.startswith("#")]
        share = {}
        for ln in inc.splitlines():
            f = ln.split()
            if len(f) >= 4 and f[0].endswith("%"):
                share.setdefault(f[-1], f[0])
        paths = "; ".join(f"{label} {share[sym]}" for label, sym in PERF_PATHS if sym in share)
        out.append(f"perf {pl.name:<10} {mode:<9} ({n} tx) by dso: " + "; ".join(dsos))
        out.append(f"perf {pl.name:<10} {mode:<9} kernel paths (inclusive): {paths}")
        print("\n".join(out[-2:]), flush=True)
    return out


def tcp_counters():
    """Namespace-wide TCP counters: segments sent, pure ACKs received,
    delayed ACKs sent (every party on this host is in the same namespace)."""
    vals = {}
    for path in ("/proc/net/snmp", "/proc/net/netstat"):
        with open(path) as fh:
            lines = fh.read().splitlines()
        for head, body in zip(lines[0::2], lines[1::2]):
            names, nums = head.split()[1:], body.split()[1:]
            prefix = head.split(":")[0]
            for k, v in zip(names, nums):
                vals[f"{prefix}.{k}"] = int(v)
    return vals


def switches(pid):
    """(voluntary, involuntary) context switches of a process so far."""
    if not pid:
        return 0, 0
    with open(f"/proc/{pid}/status") as fh:
        st = dict(ln.split(":", 1) for ln in fh.read().splitlines() if ":" in ln)
    return int(st["voluntary_ctxt_switches"]), int(st["nonvoluntary_ctxt_switches"])


SEG_KEYS = ("Tcp.OutSegs", "TcpExt.TCPPureAcks", "TcpExt.DelayedACKs", "TcpExt.TCPHPAcks")


def segs(port, label, modes, pid=None):
    """TCP segments per transaction for the whole path (pgbench, pooler,
    PostgreSQL): data segments plus the pure ACKs that each cost a trip
    through the loopback stack. With pid, also the pooler's CPU per tx."""
    out = []
    for mode in modes:
        pgbench(port, mode, xacts=20)
        c0, t0, s0 = tcp_counters(), (bench.proc_stat(pid)[0] if pid else 0), switches(pid)
        w0 = time.monotonic()
        n = pgbench(port, mode, xacts=XACTS * 4)
        wall = time.monotonic() - w0
        c1, t1, s1 = tcp_counters(), (bench.proc_stat(pid)[0] if pid else 0), switches(pid)
        detail = ", ".join(f"{k.split('.')[1]} {(c1[k] - c0[k]) / n:.2f}" for k in SEG_KEYS)
        cpu = (f"; pooler CPU {1e6 * (t1 - t0) / bench.HZ / n:.1f} us/tx, context switches/tx "
               f"voluntary {(s1[0] - s0[0]) / n:.2f} involuntary {(s1[1] - s0[1]) / n:.2f}") if pid else ""
        out.append(f"segs {label:<10} {mode:<9} {n / wall:7.0f} tx/s; per tx: {detail}{cpu}")
        print(out[-1], flush=True)
    return out


def idle(pl, n=int(os.environ.get("PROFILE_IDLE_N", "10000"))):
    """RSS per idle client: n raw md5 logins held open (bench.hold_idle),
    after 200 warm-up logins so pools and buffers exist already."""
    conns, _ = bench.hold_idle(pl.port, 200)
    for c in conns:
        c.close()
    time.sleep(0.3)
    r0 = bench.rss_kb(pl.proc.pid)
    conns, secs = bench.hold_idle(pl.port, n)
    time.sleep(0.5)
    r1 = bench.rss_kb(pl.proc.pid)
    for c in conns:
        c.close()
    out = f"idle {pl.name:<10} {n} clients: {(r1 - r0) * 1024 / n:.0f} bytes RSS per idle client ({secs:.1f} s of logins)"
    print(out, flush=True)
    return [out]


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "both"
    modes = sys.argv[2:] or ["simple", "extended"]
    binaries = [(name, bench.LINKPOOL_BIN if name == "linkpool" else bench.PGBOUNCER_BIN) for name in POOLERS]
    with bench.poolers_on_postgres("lp-profile-", binaries) as (pg, poolers):
        if what == "segs":
            segs(pg.port, "direct", modes)
        for pl in poolers:
            pl.start(wrapper=os.environ.get("PROFILE_WRAPPER", "").split())
            if what == "segs":
                segs(pl.port, pl.name, modes, pl.proc.pid)
            if what in ("strace", "both"):
                strace(pl, modes)
            if what == "perf":
                perf(pl, modes)
            if what == "idle":
                idle(pl)
            if what in ("callgrind", "both"):
                callgrind(pl, modes)


if __name__ == "__main__":
    main()
