#!/usr/bin/env bash
# Runs N linkpool processes as one pooler on one machine: they share
# listen_port (so_reuseport = 1, the kernel spreads new connections over
# them), each has its own unix_socket_dir, and they are peers of each other
# over those sockets, so a cancel request reaches its query whichever
# process the kernel hands it to. One linkpool process uses one core: this
# is how a machine with more cores serves more transactions.
#
#   linkpool-group.sh start N CONFIG.ini [RUN_DIR]   write N configs, start N processes
#   linkpool-group.sh stop [RUN_DIR]                 SIGTERM each, wait for it to exit
#   linkpool-group.sh reload [RUN_DIR]               SIGHUP each (CONFIG.ini re-read)
#   linkpool-group.sh status [RUN_DIR]               pid, peer id, metrics port of each
#
# RUN_DIR (default /run/linkpool) holds one directory per process, 1..N:
# its config (which %includes CONFIG.ini, then sets so_reuseport, peer_id,
# unix_socket_dir, pidfile, logfile and metrics_port), socket, pid and log.
# Process i has peer id i; its admin console is
#   psql -h RUN_DIR/i -p PORT -U <admin user> pgbouncer
# and its metrics are on metrics_port + i - 1 (each process serves its own
# counters: Prometheus scrapes every port). Environment: LINKPOOL_BIN (the
# binary, default linkpool in PATH), LINKPOOL_USER (-u USER for each).
set -euo pipefail

prog=linkpool-group.sh
die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

bin=${LINKPOOL_BIN:-linkpool}

# The value CONFIG.ini gives key (its last line for it), or the default.
setting() {
	local key=$1 file=$2 def=$3 v
	v=$(awk -v k="$key" '
		/^[ \t]*[;#]/ { next }
		{ line = $0; sub(/^[ \t]+/, "", line) }
		index(line, k) == 1 {
			rest = substr(line, length(k) + 1)
			if (rest ~ /^[ \t]*=/) { sub(/^[ \t]*=[ \t]*/, "", rest); sub(/[ \t]+$/, "", rest); v = rest }
		}
		END { print v }' "$file")
	printf '%s\n' "${v:-$def}"
}

each_dir() {
	local run=$1
	[ -d "$run" ] || die "no group in $run"
	find "$run" -mindepth 1 -maxdepth 1 -type d -regex '.*/[0-9]+' | sort -V
}

pid_of() {
	local f=$1/linkpool.pid
	[ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

start() {
	local n=$1 conf=$2 run=$3
	if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 256 ]; then
		die "N must be 1..256"
	fi
	[ -r "$conf" ] || die "cannot read $conf"
	conf=$(cd "$(dirname "$conf")" && pwd)/$(basename "$conf")
	local port metrics
	port=$(setting listen_port "$conf" 6432)
	metrics=$(setting metrics_port "$conf" 0)
	mkdir -p "$run"
	run=$(cd "$run" && pwd)
	local i j
	for i in $(seq 1 "$n"); do
		[ -z "$(pid_of "$run/$i" || true)" ] || die "process $i already runs (pid $(cat "$run/$i/linkpool.pid"))"
		mkdir -p "$run/$i"
		{
			printf '; written by %s: process %s of %s\n' "$prog" "$i" "$n"
			printf '%%include %s\n\n[pgbouncer]\n' "$conf"
			printf 'so_reuseport = 1\npeer_id = %s\n' "$i"
			printf 'unix_socket_dir = %s\n' "$run/$i"
			printf 'pidfile = %s\n' "$run/$i/linkpool.pid"
			printf 'logfile = %s\n' "$run/$i/linkpool.log"
			[ "$metrics" -gt 0 ] && printf 'metrics_port = %s\n' $((metrics + i - 1))
			printf '\n[peers]\n'
			for j in $(seq 1 "$n"); do
				printf '%s = host=%s port=%s\n' "$j" "$run/$j" "$port"
			done
		} >"$run/$i/linkpool.ini"
		"$bin" --check "$run/$i/linkpool.ini" >/dev/null || die "process $i: $run/$i/linkpool.ini does not pass --check"
	done
	for i in $(seq 1 "$n"); do
		"$bin" -d ${LINKPOOL_USER:+-u "$LINKPOOL_USER"} "$run/$i/linkpool.ini"
	done
	printf 'started %s processes on port %s (run dir %s)\n' "$n" "$port" "$run"
}

stop() {
	local run=$1 d p
	for d in $(each_dir "$run"); do
		p=$(pid_of "$d" || true)
		[ -n "$p" ] || continue
		kill -TERM "$p"
	done
	for d in $(each_dir "$run"); do
		while p=$(pid_of "$d"); do
			sleep 0.2
		done
	done
	printf 'stopped\n'
}

status() {
	local run=$1 d p rc=0
	for d in $(each_dir "$run"); do
		p=$(pid_of "$d" || true)
		printf 'process %s: %s metrics_port %s\n' "$(basename "$d")" "${p:+pid $p}${p:-not running}" \
			"$(setting metrics_port "$d/linkpool.ini" -)"
		[ -n "$p" ] || rc=1
	done
	return $rc
}

cmd=${1:-}
case $cmd in
start)
	[ $# -ge 3 ] || die "usage: $prog start N CONFIG.ini [RUN_DIR]"
	start "$2" "$3" "${4:-/run/linkpool}"
	;;
stop) stop "${2:-/run/linkpool}" ;;
status) status "${2:-/run/linkpool}" ;;
reload)
	for d in $(each_dir "${2:-/run/linkpool}"); do
		p=$(pid_of "$d" || true)
		[ -z "$p" ] || kill -HUP "$p"
	done
	;;
-h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' ;;
*) die "usage: $prog start|stop|reload|status ... (try --help)" ;;
esac
