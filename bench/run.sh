#!/usr/bin/env bash
# linkpool vs PgBouncer vs direct PostgreSQL (issue 7). On Debian 12, as root:
#
#   bash bench/run.sh                 # full run (~30 min), writes bench/RESULTS.md
#   BENCH_QUICK=1 bash bench/run.sh   # smoke run (~4 min)
#
# Installs what is missing (pgbouncer with its service stopped and disabled,
# PostgreSQL 15, build tools), builds build-bench/linkpool (-O2 -g, the same
# optimisation as Debian's pgbouncer), then runs bench/bench.py, which starts a
# throwaway PostgreSQL 15, linkpool and PgBouncer under $BENCH_DIR and runs the
# scenarios. Knobs (environment): see the header of bench/bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

log() { printf '[bench] %s\n' "$*"; }

PKGS=(build-essential meson ninja-build pkg-config libevent-dev libssl-dev
	postgresql-15 postgresql-client-15 pgbouncer python3)
if [ "${BENCH_SKIP_INSTALL:-0}" != 1 ]; then
	missing=()
	for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	if [ ${#missing[@]} -gt 0 ]; then
		[ "$(id -u)" -eq 0 ] || { echo "missing packages (${missing[*]}); run as root" >&2; exit 1; }
		log "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}"
	fi
	# The packaged services would hold ports, memory and CPU: we run our own.
	for svc in pgbouncer postgresql; do
		if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
			systemctl stop "$svc" >/dev/null 2>&1 || true
			systemctl disable "$svc" >/dev/null 2>&1 || true
		elif [ -x "/etc/init.d/$svc" ]; then
			"/etc/init.d/$svc" stop >/dev/null 2>&1 || true
			command -v update-rc.d >/dev/null && update-rc.d "$svc" disable >/dev/null 2>&1 || true
		fi
	done
fi

if [ -z "${LINKPOOL_BIN:-}" ]; then
	[ -f build-bench/build.ninja ] || meson setup build-bench --buildtype=debugoptimized >/dev/null
	ninja -C build-bench linkpool >/dev/null
	export LINKPOOL_BIN=$ROOT/build-bench/linkpool
fi
exec /usr/bin/python3 "$ROOT/bench/bench.py" "$@"
