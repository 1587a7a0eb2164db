#!/usr/bin/env bash
# A fuzzing campaign: builds the libFuzzer harnesses (build-fuzz, as
# scripts/test.sh does), runs every tests/fuzz harness for SECONDS, one after
# the other, from a copy of its seed corpus, and prints per harness the
# executions, coverage (edges, features) and corpus size libFuzzer reached.
#
#   bash scripts/fuzz.sh SECONDS [HARNESS...]     e.g. scripts/fuzz.sh 3600 config http
#
# Environment:
#   LP_FUZZ_JOBS      ninja -j for the build (default: ninja's own)
#   LP_FUZZ_KEEP=1    keep every work directory (corpus, log), not only failing ones
#   LP_RECORD         also append one JSON line per harness to this file (the
#                     reliability record: suite "fuzz"; scripts/reliability.sh)
# Exit status: 0 when every harness ran its time without a finding, 1 otherwise;
# a finding's input is kept in /tmp/linkpool-fuzz-NAME.*/artifacts.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
SECONDS_EACH=${1:-}
if ! [[ $SECONDS_EACH =~ ^[0-9]+$ ]] || [ "$SECONDS_EACH" -lt 1 ]; then
	echo "usage: $0 SECONDS [HARNESS...]" >&2
	exit 2
fi
shift
# shellcheck disable=SC2054 # commas are part of the meson option
ARGS=(-Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false)
if [ -f build-fuzz/build.ninja ]; then
	CC=clang meson setup --reconfigure build-fuzz "${ARGS[@]}" >/dev/null || exit 1
else
	CC=clang meson setup build-fuzz "${ARGS[@]}" >/dev/null || exit 1
fi
ninja -C build-fuzz ${LP_FUZZ_JOBS:+-j"$LP_FUZZ_JOBS"} >/dev/null || {
	echo "fuzz build failed (ninja -C build-fuzz)" >&2
	exit 1
}

declare -a EXES=()
if [ $# -gt 0 ]; then
	for h in "$@"; do EXES+=("build-fuzz/tests/fuzz/fuzz_${h#fuzz_}"); done
else
	for exe in build-fuzz/tests/fuzz/fuzz_*; do
		[ -f "$exe" ] && [ -x "$exe" ] && EXES+=("$exe")
	done
fi

status=0
declare -a ROWS=()
for exe in "${EXES[@]}"; do
	name=$(basename "$exe")
	short=${name#fuzz_}
	if [ ! -x "$exe" ]; then
		echo "no harness $exe" >&2
		status=1
		continue
	fi
	work=$(mktemp -d "/tmp/linkpool-fuzz-$short.XXXXXX")
	mkdir -p "$work/corpus" "$work/artifacts"
	[ -d "tests/fuzz/corpus/$short" ] && cp -r "tests/fuzz/corpus/$short/." "$work/corpus/"
	echo "--- $name: ${SECONDS_EACH}s" >&2
	if "$exe" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$work/artifacts/" \
		"$work/corpus" >"$work/log" 2>&1; then
		result=ok
	else
		result=FINDING
		status=1
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
	# The last status line: "#N DONE cov: E ft: F corp: C/..."
	cov=$(grep -E '^#[0-9]+' "$work/log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/\1 \2 \3/p')
	read -r edges feats corp <<<"${cov:-- - -}"
	ROWS+=("$(printf '%-16s %-8s %14s %8s %8s %8s' "$short" "$result" "${execs:--}" "$edges" "$feats" "$corp")")
	if [ -n "${LP_RECORD:-}" ]; then
		num() { [[ $1 =~ ^[0-9]+$ ]] && echo "$1" || echo null; }
		printf '{"suite": "fuzz", "case": "%s", "at": "%s", "seconds": %s, "result": "%s", "executions": %s, "edges": %s, "features": %s, "corpus": %s}\n' \
			"$name" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$SECONDS_EACH" "$result" \
			"$(num "${execs:-}")" "$(num "$edges")" "$(num "$feats")" "$(num "$corp")" >>"$LP_RECORD"
	fi
	if [ $result = FINDING ]; then
		tail -n 60 "$work/log" >&2
		echo "finding kept in $work/artifacts" >&2
	elif [ "${LP_FUZZ_KEEP:-0}" != 1 ]; then
		rm -rf "$work"
	fi
done

printf '%-16s %-8s %14s %8s %8s %8s\n' harness result executions edges features corpus
printf '%s\n' "${ROWS[@]}"
exit $status
