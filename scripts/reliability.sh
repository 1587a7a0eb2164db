#!/usr/bin/env bash
# The reliability record (issue 19) in one command: a fuzzing campaign
# (scripts/fuzz.sh), the network and server fault matrix
# (tests/integration/test_fault_matrix.py, when present), the hostile-client
# load tests (tests/integration/test_hostile_load.py) and the soak
# (scripts/soak.sh), each writing its figures as JSON lines to one record
# file; then the record rendered as markdown, one table per suite, as
# docs/reliability.md shows it. On Debian 12, as root (PostgreSQL 15, clang,
# python3-psycopg, python3-pytest: scripts/test.sh installs them).
#
#   bash scripts/reliability.sh [FUZZ_SECONDS [SOAK_MINUTES]]    defaults 60 and 5
#
# FUZZ_SECONDS is per harness (0 skips the fuzzers), SOAK_MINUTES 0 skips the
# soak. Environment:
#   LINKPOOL_BIN   the binary the matrix, the hostile tests and the soak run
#                  (default: builds build/linkpool, debugoptimized)
#   LP_RECORD      the record file (default: a new reliability-<time>.jsonl
#                  under /tmp); lines are appended
#   LP_FUZZ_JOBS   ninja -j for the fuzz build
# Writes the tables next to the record (same name, .md) and prints them.
# Exit status: 0 when every step passed, 1 otherwise (the tables are still
# written: a failed step shows as a missing or failing row).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
FUZZ_SECONDS=${1:-60}
SOAK_MINUTES=${2:-5}
if ! [[ $FUZZ_SECONDS =~ ^[0-9]+$ ]] || ! [[ $SOAK_MINUTES =~ ^[0-9]+([.][0-9]+)?$ ]]; then
	echo "usage: $0 [FUZZ_SECONDS [SOAK_MINUTES]]" >&2
	exit 2
fi
LP_RECORD=${LP_RECORD:-/tmp/reliability-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
export LP_RECORD
touch "$LP_RECORD" || exit 1
PY=/usr/bin/python3
status=0
step() { printf '\n==== %s ====\n' "$*"; }
failed() {
	echo "reliability: $1 FAILED" >&2
	status=1
}

if [ -z "${LINKPOOL_BIN:-}" ]; then
	step "build (build/linkpool)"
	[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized >/dev/null || exit 1
	ninja -C build linkpool >/dev/null || exit 1
	LINKPOOL_BIN=$ROOT/build/linkpool
fi
export LINKPOOL_BIN

if [ "$FUZZ_SECONDS" != 0 ]; then
	step "fuzzing, ${FUZZ_SECONDS}s per harness"
	bash scripts/fuzz.sh "$FUZZ_SECONDS" || failed "fuzzing"
fi

for t in test_fault_matrix test_hostile_load; do
	if [ -f "tests/integration/$t.py" ]; then
		step "$t"
		timeout --kill-after=30 1800 $PY -m pytest -p no:cacheprovider -q \
			"tests/integration/$t.py" || failed "$t"
	else
		echo "tests/integration/$t.py is not in this tree: skipped"
	fi
done

if [ "$SOAK_MINUTES" != 0 ]; then
	step "soak, $SOAK_MINUTES min"
	bash scripts/soak.sh "$SOAK_MINUTES" || failed "soak"
fi

step "record ($LP_RECORD)"
$PY tests/integration/record.py render "$LP_RECORD" >"${LP_RECORD%.jsonl}.md" || status=1
cat "${LP_RECORD%.jsonl}.md"
echo "tables: ${LP_RECORD%.jsonl}.md"
exit $status
