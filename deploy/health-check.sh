#!/usr/bin/env bash
# Container health check for linkpool: exit 0 when healthy, non-zero with a
# one-line reason on stderr otherwise.
#
#   health-check.sh            liveness: /healthz answers 200 and the admin
#                              console answers SHOW VERSION
#   health-check.sh --ready    also require /readyz to answer 200 (not paused,
#                              not shutting down, backends reachable)
#
# Environment (defaults in brackets):
#   LINKPOOL_METRICS_URL   [http://127.0.0.1:9127]  base URL of the metrics endpoint
#   LINKPOOL_HOST          [127.0.0.1]  where the admin console listens (a directory
#                                       means the unix socket in it)
#   LINKPOOL_PORT          [6432]
#   LINKPOOL_ADMIN_USER    [pgbouncer]  a user in admin_users or stats_users;
#                                       empty skips the console check
#   LINKPOOL_ADMIN_PASSWORD / PGPASSWORD / ~/.pgpass  its password, if one is needed
#   LINKPOOL_HEALTH_TIMEOUT [3]  seconds for each check
# Exit codes: 0 healthy, 1 /healthz failed, 2 admin console failed,
#             3 not ready (--ready), 4 usage or missing tool.
set -u

url=${LINKPOOL_METRICS_URL:-http://127.0.0.1:9127}
host=${LINKPOOL_HOST:-127.0.0.1}
port=${LINKPOOL_PORT:-6432}
user=${LINKPOOL_ADMIN_USER-pgbouncer}
timeout=${LINKPOOL_HEALTH_TIMEOUT:-3}
want_ready=0

for arg in "$@"; do
	case $arg in
	--ready) want_ready=1 ;;
	-h | --help)
		sed -n '2,20p' "$0"
		exit 0
		;;
	*)
		echo "health-check: unknown argument: $arg" >&2
		exit 4
		;;
	esac
done

# http_status PATH -> prints the HTTP status code (000 when unreachable)
http_status() {
	if command -v curl >/dev/null 2>&1; then
		curl -s -o /dev/null -m "$timeout" -w '%{http_code}' "$url$1" 2>/dev/null || true
	elif command -v wget >/dev/null 2>&1; then
		wget -q -T "$timeout" -S -O /dev/null "$url$1" 2>&1 | awk '/^  HTTP\//{c=$2} END{print c ? c : "000"}'
	else
		# bash's /dev/tcp: host and port from the URL
		local hp=${url#http://}
		hp=${hp%%/*}
		local h=${hp%:*} p=${hp##*:}
		[ "$h" = "$hp" ] && p=80
		local line
		line=$(timeout "$timeout" bash -c "exec 3<>/dev/tcp/$h/$p && printf 'GET $1 HTTP/1.0\r\n\r\n' >&3 && head -n1 <&3" 2>/dev/null)
		local code=${line#* }
		code=${code%% *}
		echo "${code:-000}"
	fi
}

code=$(http_status /healthz)
if [ "$code" != 200 ]; then
	echo "unhealthy: $url/healthz answered ${code:-nothing} (expected 200)" >&2
	exit 1
fi

if [ -n "$user" ]; then
	if ! command -v psql >/dev/null 2>&1; then
		echo "unhealthy: psql not found for the admin console check (set LINKPOOL_ADMIN_USER= to skip)" >&2
		exit 4
	fi
	if [ -n "${LINKPOOL_ADMIN_PASSWORD:-}" ]; then
		export PGPASSWORD=$LINKPOOL_ADMIN_PASSWORD
	fi
	out=$(PGCONNECT_TIMEOUT=$timeout timeout "$timeout" psql -X -q -A -t -w \
		"host=$host port=$port dbname=pgbouncer user=$user sslmode=disable" \
		-c 'SHOW VERSION' 2>&1)
	rc=$?
	if [ $rc -ne 0 ] || [ -z "$out" ]; then
		echo "unhealthy: admin console on $host:$port did not answer SHOW VERSION: $(echo "$out" | head -n1)" >&2
		exit 2
	fi
fi

if [ $want_ready = 1 ]; then
	code=$(http_status /readyz)
	if [ "$code" != 200 ]; then
		reason=""
		if command -v curl >/dev/null 2>&1; then
			reason=$(curl -s -m "$timeout" "$url/readyz" 2>/dev/null)
		fi
		echo "not ready: $url/readyz answered ${code:-nothing} ${reason}" >&2
		exit 3
	fi
fi
echo "healthy"
exit 0
