#!/usr/bin/env bash
# linkpool vs PgBouncer vs direct PostgreSQL (issues 7 and 20). On Debian 12, as root:
#
#   bash bench/run.sh                 # full run (~40 min), writes bench/RESULTS.md,
#                                     # RESULTS.json and the plots in bench/plots/
#   BENCH_QUICK=1 bash bench/run.sh   # smoke run (~8 min)
#   BENCH_SCENARIOS="8 9 10 11 12" BENCH_MERGE=1 bash bench/run.sh   # issue 20's only
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
	postgresql-15 postgresql-client-15 pgbouncer python3 python3-matplotlib openssl)
# shellcheck source=scripts/lib/packages.sh
. "$ROOT/scripts/lib/packages.sh"
if [ "${BENCH_SKIP_INSTALL:-0}" != 1 ]; then
	lp_install_missing "${PKGS[@]}"
	lp_stop_packaged pgbouncer postgresql
fi

if [ -z "${LINKPOOL_BIN:-}" ]; then
	[ -f build-bench/build.ninja ] || meson setup build-bench --buildtype=debugoptimized >/dev/null
	ninja -C build-bench linkpool >/dev/null
	export LINKPOOL_BIN=$ROOT/build-bench/linkpool
fi
exec /usr/bin/python3 "$ROOT/bench/bench.py" "$@"
