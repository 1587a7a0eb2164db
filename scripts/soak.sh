#!/usr/bin/env bash
# The soak (issue 19): linkpool under connection churn, a steady pgbench
# load and a RELOAD every few seconds for MINUTES, against a throwaway
# PostgreSQL 15 it starts itself. Samples linkpool's RSS and open descriptors
# and fails unless both stay flat (within 5%) after the warm-up; prints the
# samples and, with LP_RECORD set, appends a "soak" line to the reliability
# record. The driver is tests/integration/soak.py (its header says what runs).
#
#   bash scripts/soak.sh MINUTES          e.g. scripts/soak.sh 5
#
# Environment:
#   LINKPOOL_BIN      the binary to soak (default: builds build/linkpool,
#                     debugoptimized); CI passes its ASan build
#   LP_SOAK_TPS, LP_SOAK_CHURN, LP_SOAK_RELOAD, LP_SOAK_INTERVAL
#                     load (tps), churn (connections/s), seconds between
#                     reloads and between samples (200, 40, 3, 5)
#   LP_RECORD         append the result as one JSON line to this file
# Needs PostgreSQL 15 (pgbench included) and python3-psycopg (scripts/test.sh
# installs both). Exit status: 0 when flat, 1 otherwise, 2 on bad usage.
set -euo pipefail

cd "$(dirname "$0")/.."
MINUTES=${1:-}
if ! [[ $MINUTES =~ ^[0-9]+([.][0-9]+)?$ ]] || [ "$(echo "$MINUTES" | tr -d .0)" = "" ]; then
	echo "usage: $0 MINUTES (more than 0; 5 is CI's soak)" >&2
	exit 2
fi
if [ -z "${LINKPOOL_BIN:-}" ]; then
	[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized >/dev/null
	ninja -C build linkpool >/dev/null
	LINKPOOL_BIN=$PWD/build/linkpool
fi
export LINKPOOL_BIN
exec /usr/bin/python3 tests/integration/soak.py "$MINUTES"
