#!/usr/bin/env bash
# The one-command local Link stack: linkpool in front of a throwaway
# PostgreSQL 15 cluster holding Link's eight service databases, configured by
# the deployment kit itself (deploy/linkpool.ini rendered by deploy/startup.sh,
# as in the container). For trying linkpool by hand on Debian 12, as root.
#
#   bash scripts/run-local.sh
#
# Installs missing packages, builds build/linkpool, creates (or reuses) a
# cluster under .local/ on 127.0.0.1:15432 (no system service, nothing in
# /etc), creates the eight databases with their owners and generated passwords
# (kept in .local/secrets.env), writes .local/etc/userlist.txt (SCRAM
# verifiers) and .local/etc/linkpool.ini, starts linkpool on 127.0.0.1:6432
# with metrics on 127.0.0.1:9127, and prints the connection strings. Ctrl-C
# (or SIGTERM) stops linkpool and the PostgreSQL it started. Running it again
# reuses the cluster and the passwords; leftovers of a crashed run are stopped
# through their pidfiles. `rm -rf .local` starts over.
#
# Environment (all optional):
#   LP_PORT (6432), LP_PG_PORT (15432), LP_METRICS_PORT (9127)
#   LP_LOCAL_DIR       state directory (default <checkout>/.local)
#   LINKPOOL_BIN       use this binary instead of building build/linkpool
#   LP_SKIP_INSTALL=1  do not touch apt
set -euo pipefail

# Started with `... &` from a script, bash inherits SIGINT ignored and then
# cannot trap it, so Ctrl-C/kill -INT would leave everything running.
# Restore the default disposition once by re-executing.
sigign=$(awk '/^SigIgn:/ { print $2 }' /proc/$$/status 2>/dev/null || echo 0)
if (((16#${sigign:-0} & 2) != 0)) && [ -z "${LP_RUN_LOCAL_REEXEC:-}" ]; then
	LP_RUN_LOCAL_REEXEC=1 exec env --default-signal=INT bash "$0" "$@"
fi

cd "$(dirname "$0")/.."
ROOT=$PWD
LOCAL=${LP_LOCAL_DIR:-$ROOT/.local}
PG_BIN=/usr/lib/postgresql/15/bin
PG_PORT=${LP_PG_PORT:-15432}
LP_PORT=${LP_PORT:-6432}
METRICS_PORT=${LP_METRICS_PORT:-9127}
SERVICES=(user_service chat_service ai_service discovery_service search_service
	location_service stories_service opportunities_service)

log() { printf '[run-local] %s\n' "$*"; }

# ---------------------------------------------------------------- packages
PKGS=(build-essential meson ninja-build pkg-config libevent-dev libssl-dev
	libldap-dev libpam0g-dev postgresql-15 postgresql-client-15 python3)
# shellcheck source=scripts/lib/packages.sh
. "$ROOT/scripts/lib/packages.sh"
if [ "${LP_SKIP_INSTALL:-0}" != 1 ]; then
	lp_install_missing "${PKGS[@]}"
fi
lp_stop_packaged postgresql

# ---------------------------------------------------------------- build
if [ -n "${LINKPOOL_BIN:-}" ]; then
	LINKPOOL=$LINKPOOL_BIN
	[ -x "$LINKPOOL" ] || { echo "LINKPOOL_BIN=$LINKPOOL is not executable" >&2; exit 1; }
else
	if [ ! -f build/build.ninja ]; then
		meson setup build
	fi
	ninja -C build
	LINKPOOL=$ROOT/build/linkpool
fi

# ---------------------------------------------------------------- where the cluster lives
mkdir -p "$LOCAL"
LOCAL=$(cd "$LOCAL" && pwd)
chmod 755 "$LOCAL"
# state and secrets never end up in a commit
[ -f "$LOCAL/.gitignore" ] || echo '*' >"$LOCAL/.gitignore"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if as_pg test -x "$LOCAL" 2>/dev/null; then
	PGBASE=$LOCAL/pg
else
	hash=$(printf '%s' "$LOCAL" | sha1sum | cut -c1-12)
	PGBASE=/tmp/linkpool-$hash
	log "postgres cannot reach $LOCAL (a parent directory blocks it): cluster lives in $PGBASE"
fi
PGDATA=$PGBASE/data
mkdir -p "$PGBASE"
if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$PGBASE"; fi
chmod 755 "$PGBASE"

# ---------------------------------------------------------------- leftovers
LP_PIDFILE=$LOCAL/linkpool.pid
if [ -s "$LP_PIDFILE" ]; then
	old=$(cat "$LP_PIDFILE")
	if kill -0 "$old" 2>/dev/null && grep -q linkpool "/proc/$old/cmdline" 2>/dev/null; then
		log "stopping linkpool left over from an earlier run (pid $old)"
		kill -QUIT "$old" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$old" 2>/dev/null || true
	fi
	rm -f "$LP_PIDFILE"
fi
if [ -f "$PGDATA/postmaster.pid" ]; then
	if as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
		log "stopping PostgreSQL left over from an earlier run"
		as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
	fi
fi
for port in "$PG_PORT" "$LP_PORT" "$METRICS_PORT"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "port $port on 127.0.0.1 is already in use by something else" >&2
		echo "(choose others with LP_PORT, LP_PG_PORT, LP_METRICS_PORT)" >&2
		exit 1
	fi
done

# ---------------------------------------------------------------- cluster
if [ ! -f "$PGDATA/PG_VERSION" ]; then
	log "creating PostgreSQL 15 cluster in $PGDATA"
	rm -rf "$PGDATA"
	as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C \
		--auth-local=trust --auth-host=scram-sha-256 >/dev/null
fi
# rewritten on every run: the ports may differ from the previous one
as_pg tee "$PGDATA/run-local.conf" >/dev/null <<EOF
# written by scripts/run-local.sh on every run
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGBASE'
password_encryption = 'scram-sha-256'
max_connections = 300
EOF
if ! grep -qxF "include_if_exists = 'run-local.conf'" "$PGDATA/postgresql.conf"; then
	echo "include_if_exists = 'run-local.conf'" | as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null
fi

PGPID=
LPPID=
# shellcheck disable=SC2317 # invoked through trap
cleanup() {
	trap - EXIT INT TERM
	if [ -n "$LPPID" ] && kill -0 "$LPPID" 2>/dev/null; then
		log "stopping linkpool"
		kill -INT "$LPPID" 2>/dev/null || true # safe shutdown: lets transactions finish
		for _ in $(seq 50); do kill -0 "$LPPID" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$LPPID" 2>/dev/null; then
			kill -QUIT "$LPPID" 2>/dev/null || true
			sleep 1
			kill -KILL "$LPPID" 2>/dev/null || true
		fi
		wait "$LPPID" 2>/dev/null || true
	fi
	rm -f "$LP_PIDFILE"
	if [ -n "$PGPID" ]; then
		log "stopping PostgreSQL"
		as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGBASE/postgresql.log" -w -t 60 start >/dev/null
PGPID=$(head -1 "$PGDATA/postmaster.pid")
log "PostgreSQL running (pid $PGPID, 127.0.0.1:$PG_PORT, log $PGBASE/postgresql.log)"

# ---------------------------------------------------------------- credentials
# Generated once, reused by later runs. The passwords stay in this
# developer-only file; linkpool's userlist.txt gets SCRAM verifiers only.
SECRETS=$LOCAL/secrets.env
genpw() { head -c 18 /dev/urandom | base64 | tr -d '/+=\n'; }
if [ ! -s "$SECRETS" ]; then
	(
		umask 077
		echo "# generated by scripts/run-local.sh; delete it to get new passwords"
		for svc in "${SERVICES[@]}"; do
			up=${svc^^}
			echo "${up}_DB_USER=${svc}_user"
			echo "${up}_DB_PASSWORD=$(genpw)"
		done
		echo "PGBOUNCER_ADMIN_PASSWORD=$(genpw)"
		echo "PGBOUNCER_STATS_PASSWORD=$(genpw)"
	) >"$SECRETS.tmp"
	mv "$SECRETS.tmp" "$SECRETS"
fi
set -a
# shellcheck disable=SC1090 # generated above
. "$SECRETS"
set +a

# ---------------------------------------------------------------- the kit's configuration, local addresses
export LINKPOOL_BIN=$LINKPOOL
export LINKPOOL_CONFIG_DIR=$LOCAL/etc
export POSTGRES_HOST=127.0.0.1 POSTGRES_PORT=$PG_PORT
export LINKPOOL_LISTEN_ADDR=127.0.0.1 LINKPOOL_LISTEN_PORT=$LP_PORT
export LINKPOOL_UNIX_SOCKET_DIR=$LOCAL
export LINKPOOL_METRICS_LISTEN_ADDR=127.0.0.1 LINKPOOL_METRICS_PORT=$METRICS_PORT
export LINKPOOL_LOGFILE=$LOCAL/linkpool.log LINKPOOL_PIDFILE=$LP_PIDFILE
# The throwaway cluster has no certificate: no TLS to it.
export LINKPOOL_SERVER_TLS_SSLMODE=disable

psql_su() { psql -X -q -v ON_ERROR_STOP=1 -h "$PGBASE" -p "$PG_PORT" -U postgres "$@"; }
# roles get the very verifiers linkpool gets (SCRAM pass-through needs them identical)
deploy/startup.sh --print-sql | psql_su -d postgres >/dev/null

# startup.sh renders, validates, then execs linkpool: $! is linkpool's pid
deploy/startup.sh &
LPPID=$!
for _ in $(seq 150); do
	(exec 3<>"/dev/tcp/127.0.0.1/$LP_PORT") 2>/dev/null && break
	if ! kill -0 "$LPPID" 2>/dev/null; then
		wait "$LPPID" || true
		LPPID=
		echo "linkpool exited during startup (log: $LOCAL/linkpool.log)" >&2
		exit 1
	fi
	sleep 0.1
done

# the seed's per-service variables, for pointing a service at this stack
ENVFILE=$LOCAL/link-services.env
(
	umask 077
	echo "# generated by scripts/run-local.sh: source it in a service's shell"
	for svc in "${SERVICES[@]}"; do
		up=${svc^^}
		user_var=${up}_DB_USER pw_var=${up}_DB_PASSWORD
		printf '%s_DB_HOST=127.0.0.1\n%s_DB_PORT=%s\n%s_DB_NAME=%s\n%s_DB_USER=%s\n%s_DB_PASSWORD=%s\n' \
			"$up" "$up" "$LP_PORT" "$up" "$svc" "$up" "${!user_var}" "$up" "${!pw_var}"
	done
) >"$ENVFILE"

echo
echo "linkpool is running (pid $LPPID) on 127.0.0.1:$LP_PORT, in front of PostgreSQL 15 on 127.0.0.1:$PG_PORT."
echo
echo "Connection strings (the same as variables in $ENVFILE):"
for svc in "${SERVICES[@]}"; do
	up=${svc^^}
	user_var=${up}_DB_USER pw_var=${up}_DB_PASSWORD
	printf '  %-22s postgresql://%s:%s@127.0.0.1:%s/%s?sslmode=disable\n' \
		"$svc" "${!user_var}" "${!pw_var}" "$LP_PORT" "$svc"
done
cat <<EOF

Admin console:
  psql "postgresql://pgbouncer_admin:$PGBOUNCER_ADMIN_PASSWORD@127.0.0.1:$LP_PORT/pgbouncer?sslmode=disable" -c 'SHOW VERSION'
  psql "postgresql://pgbouncer_stats:$PGBOUNCER_STATS_PASSWORD@127.0.0.1:$LP_PORT/pgbouncer?sslmode=disable" -c 'SHOW POOLS'
Metrics:         http://127.0.0.1:$METRICS_PORT/metrics   (health: /healthz, /readyz)
Reload:          kill -HUP $LPPID   (after editing $LOCAL/etc/linkpool.ini; rerunning this script re-renders it)
Configuration:   $LOCAL/etc/linkpool.ini, $LOCAL/etc/userlist.txt
Logs:            $LOCAL/linkpool.log, $PGBASE/postgresql.log
Ctrl-C stops linkpool and PostgreSQL.

EOF

# wait returns early when a trapped signal arrives; the traps then clean up
rc=0
wait "$LPPID" || rc=$?
LPPID=
log "linkpool exited with code $rc"
exit "$rc"
