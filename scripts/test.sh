#!/usr/bin/env bash
# linkpool's full test run: installs what is missing (Debian 12, as root),
# builds with ASan+UBSan, runs the cmocka unit tests, the libFuzzer harnesses
# for LP_FUZZ_SECONDS each (default 60), then the pytest integration suite
# against a real PostgreSQL 15, then the soak (scripts/soak.sh) for
# LP_SOAK_MINUTES. Idempotent; safe to run again.
#
#   bash scripts/test.sh
#
# Environment:
#   LP_FUZZ_SECONDS   seconds per fuzz harness (default 60; 0 skips fuzzing)
#   LP_SKIP_INSTALL=1 do not touch apt
#   LP_PYTEST_TIMEOUT seconds for the whole integration suite (default 2400)
#   LP_SOAK_MINUTES   minutes of soak on the ASan build (default 5; 0 skips it)
#   PYTEST_ARGS       extra pytest arguments, shell-quoted (e.g. '-x -k "auth or modes"')
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
FUZZ_SECONDS=${LP_FUZZ_SECONDS:-60}
PY=/usr/bin/python3

declare -a STAGES=()
passed=0
failed=0
skipped=0

say() { printf '\n==== %s ====\n' "$*"; }
record() { # record NAME RESULT(pass|fail|skip)
	STAGES+=("$1: $2")
	case $2 in
	pass) passed=$((passed + 1)) ;;
	fail) failed=$((failed + 1)) ;;
	skip) skipped=$((skipped + 1)) ;;
	esac
}
finish() {
	say "summary"
	for s in "${STAGES[@]}"; do echo "  $s"; done
	echo "stages: $passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit $?
}
die_stage() { # a stage that later stages depend on failed
	record "$1" fail
	finish
}

# ---------------------------------------------------------------- packages
PKGS=(build-essential meson ninja-build pkg-config libevent-dev libssl-dev
	libcmocka-dev clang libclang-rt-14-dev postgresql-15 postgresql-client-15
	python3-pytest python3-psycopg python3-yaml shellcheck prometheus curl
	python3-asyncpg libpostgresql-jdbc-java
	libldap-dev libpam0g-dev slapd ldap-utils)
# slapd and ldap-utils: test_ldap.py (and the conformance suite's LDAP test)
# start their own throwaway slapd; the packaged one is stopped below.
# Client libraries of test_prepared_clients.py: a JDK for pgJDBC, Node.js and
# npm for node-postgres (which the test installs from its package-lock.json).
# Only when the command is missing: a machine may have them from elsewhere
# (a nodejs package that bundles npm conflicts with Debian's npm).
command -v javac >/dev/null || PKGS+=(default-jdk-headless)
command -v node >/dev/null || PKGS+=(nodejs)
command -v npm >/dev/null || PKGS+=(npm)

# shellcheck source=scripts/lib/packages.sh
. "$ROOT/scripts/lib/packages.sh"

say "packages"
if [ "${LP_SKIP_INSTALL:-0}" = 1 ]; then
	echo "LP_SKIP_INSTALL=1: not installing"
else
	lp_install_missing "${PKGS[@]}" || die_stage "packages"
fi
lp_stop_packaged postgresql pgbouncer prometheus slapd
record "packages" pass

# ---------------------------------------------------------------- build + unit
say "ASan+UBSan build (build-asan)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# LeakSanitizer needs ptrace-like access; it works as root in our containers.
# shellcheck disable=SC2054 # commas are part of the meson option
ASAN_ARGS=(-Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fno-sanitize-recover=all)
if [ -f build-asan/build.ninja ]; then
	meson setup --reconfigure build-asan "${ASAN_ARGS[@]}" || die_stage "build-asan configure"
else
	rm -rf build-asan
	meson setup build-asan "${ASAN_ARGS[@]}" || die_stage "build-asan configure"
fi
ninja -C build-asan || die_stage "build-asan"
record "build-asan" pass

say "unit tests"
unit_list=$(meson test -C build-asan --list 2>/dev/null | grep -v "^ninja:" || true)
if [ -n "$unit_list" ]; then
	if meson test -C build-asan --print-errorlogs; then
		record "unit tests" pass
	else
		record "unit tests" fail
	fi
else
	echo "no unit tests defined yet"
	record "unit tests" skip
fi

# ---------------------------------------------------------------- fuzzing
say "fuzzers (${FUZZ_SECONDS}s each)"
if [ "$FUZZ_SECONDS" = 0 ]; then
	echo "LP_FUZZ_SECONDS=0: fuzzing skipped"
	record "fuzz" skip
elif ! ls tests/fuzz/fuzz_*.c >/dev/null 2>&1 && [ ! -f tests/fuzz/meson.build ]; then
	echo "no fuzz harness in tests/fuzz yet: fuzzing skipped"
	record "fuzz" skip
else
	# shellcheck disable=SC2054
	FUZZ_ARGS=(-Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false)
	fuzz_ok=1
	if [ -f build-fuzz/build.ninja ]; then
		CC=clang meson setup --reconfigure build-fuzz "${FUZZ_ARGS[@]}" || fuzz_ok=0
	else
		rm -rf build-fuzz
		CC=clang meson setup build-fuzz "${FUZZ_ARGS[@]}" || fuzz_ok=0
	fi
	[ $fuzz_ok = 1 ] && { ninja -C build-fuzz || fuzz_ok=0; }
	if [ $fuzz_ok = 0 ]; then
		record "fuzz build" fail
	else
		record "fuzz build" pass
		found=0
		for exe in build-fuzz/tests/fuzz/fuzz_*; do
			if [ ! -f "$exe" ] || [ ! -x "$exe" ]; then continue; fi
			case $exe in *.p | *.o | *.d) continue ;; esac
			found=1
			name=$(basename "$exe")
			short=${name#fuzz_}
			work=$(mktemp -d "/tmp/linkpool-fuzz-$short.XXXXXX")
			mkdir -p "$work/corpus" "$work/artifacts"
			if [ -d "tests/fuzz/corpus/$short" ]; then
				cp -r "tests/fuzz/corpus/$short/." "$work/corpus/"
			fi
			echo "--- $name (corpus: $(find "$work/corpus" -type f | wc -l) files)"
			if "$exe" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
				-print_final_stats=1 -artifact_prefix="$work/artifacts/" \
				"$work/corpus" >"$work/log" 2>&1; then
				tail -n 15 "$work/log"
				record "fuzz $short" pass
				rm -rf "$work"
			else
				tail -n 80 "$work/log"
				echo "crash artifacts kept in $work/artifacts"
				record "fuzz $short" fail
			fi
		done
		if [ $found = 0 ]; then
			echo "no fuzz_* executables in build-fuzz/tests/fuzz: fuzzing skipped"
			record "fuzz run" skip
		fi
	fi
fi

# ---------------------------------------------------------------- integration
say "integration tests"
if [ ! -x build-asan/linkpool ]; then
	echo "build-asan/linkpool missing" >&2
	record "integration" fail
	finish
fi
export LINKPOOL_BIN=$ROOT/build-asan/linkpool
extra=()
if [ -n "${PYTEST_ARGS:-}" ]; then
	# a developer's own words, shell-quoted: PYTEST_ARGS='-x -k "auth or modes"'
	eval "extra=(${PYTEST_ARGS})"
fi
# A hard ceiling over the per-test alarms: a hang in C code (where Python
# signal handlers cannot run) must still end the run. SIGTERM lets the
# fixtures stop PostgreSQL and linkpool.
timeout --kill-after=30 "${LP_PYTEST_TIMEOUT:-2400}" \
	$PY -m pytest -v -p no:cacheprovider tests/integration "${extra[@]}"
rc=$?
case $rc in
0) record "integration" pass ;;
5)
	echo "pytest collected no tests: counted as a failure"
	record "integration" fail
	;;
*) record "integration" fail ;;
esac

# ---------------------------------------------------------------- soak
SOAK_MINUTES=${LP_SOAK_MINUTES:-5}
say "soak (${SOAK_MINUTES} min)"
if [ "$SOAK_MINUTES" = 0 ]; then
	echo "LP_SOAK_MINUTES=0: soak skipped"
	record "soak" skip
elif timeout --kill-after=30 "$(awk -v m="$SOAK_MINUTES" 'BEGIN { print int(m * 60 + 300) }')" \
	bash scripts/soak.sh "$SOAK_MINUTES"; then
	record "soak" pass
else
	record "soak" fail
fi

finish
