#!/usr/bin/env bash
# Runs linkpool in the foreground in front of a throwaway PostgreSQL 15
# cluster, for trying it out by hand (Debian 12, as root).
#
#   bash scripts/run-local.sh
#
# Installs missing packages, builds build/linkpool, creates (or reuses) a
# cluster on 127.0.0.1:15432 with a user and database `app`, writes
# .local/linkpool.ini and .local/userlist.txt, and starts linkpool on
# 127.0.0.1:6432. Ctrl-C stops linkpool and the PostgreSQL it started.
# Running it again reuses the cluster and the generated password; leftovers of
# a crashed run are stopped through their pidfiles. `rm -rf .local` (and the
# /tmp data directory, if one was used) starts over.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
LOCAL=$ROOT/.local
PG_BIN=/usr/lib/postgresql/15/bin
PG_PORT=${LP_PG_PORT:-15432}
LP_PORT=${LP_PORT:-6432}

log() { printf '[run-local] %s\n' "$*"; }

# ---------------------------------------------------------------- packages
PKGS=(build-essential meson ninja-build pkg-config libevent-dev libssl-dev
	postgresql-15 postgresql-client-15)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || { echo "missing packages (${missing[*]}); run as root" >&2; exit 1; }
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# the packaged cluster/service is not used; keep it from holding resources
if command -v pg_lsclusters >/dev/null; then
	pg_lsclusters -h 2>/dev/null | while read -r ver name _port status _rest; do
		if [ "$status" = online ]; then pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true; fi
	done
fi

# ---------------------------------------------------------------- build
if [ ! -f build/build.ninja ]; then
	meson setup build
fi
ninja -C build
LINKPOOL=$ROOT/build/linkpool

# ---------------------------------------------------------------- where the cluster lives
mkdir -p "$LOCAL"
chmod 755 "$LOCAL"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if as_pg test -x "$LOCAL" 2>/dev/null; then
	PGBASE=$LOCAL/pg
else
	hash=$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)
	PGBASE=/tmp/linkpool-$hash
	log "postgres cannot reach $LOCAL (a parent directory blocks it): cluster lives in $PGBASE"
fi
PGDATA=$PGBASE/data
mkdir -p "$PGBASE"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$PGBASE"
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
for port in "$PG_PORT" "$LP_PORT"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "port $port on 127.0.0.1 is already in use by something else" >&2
		exit 1
	fi
done

# ---------------------------------------------------------------- cluster
if [ ! -f "$PGDATA/PG_VERSION" ]; then
	log "creating PostgreSQL 15 cluster in $PGDATA"
	rm -rf "$PGDATA"
	as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C \
		--auth-local=trust --auth-host=scram-sha-256 >/dev/null
	cat >>"$PGDATA/postgresql.conf" <<EOF

# run-local.sh
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGBASE'
password_encryption = 'scram-sha-256'
max_connections = 100
EOF
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

psql_su() { psql -X -q -v ON_ERROR_STOP=1 -h "$PGBASE" -p "$PG_PORT" -U postgres "$@"; }

PWFILE=$LOCAL/app-password
if [ ! -s "$PWFILE" ]; then
	(umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$PWFILE")
fi
APP_PW=$(cat "$PWFILE")
if [ "$(psql_su -d postgres -Atc "SELECT 1 FROM pg_roles WHERE rolname = 'app'")" != 1 ]; then
	psql_su -d postgres -c "CREATE ROLE app LOGIN"
fi
psql_su -d postgres -v pw="$APP_PW" <<'EOF'
SET password_encryption = 'scram-sha-256';
ALTER ROLE app PASSWORD :'pw';
EOF
if [ "$(psql_su -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'app'")" != 1 ]; then
	psql_su -d postgres -c "CREATE DATABASE app OWNER app"
fi

# ---------------------------------------------------------------- linkpool config
(umask 077 && printf '"app" "%s"\n' "$APP_PW" >"$LOCAL/userlist.txt")
cat >"$LOCAL/linkpool.ini" <<EOF
; written by scripts/run-local.sh -- regenerated on every run
[databases]
app = host=127.0.0.1 port=$PG_PORT dbname=app

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $LP_PORT
unix_socket_dir = $LOCAL
auth_type = scram-sha-256
auth_file = $LOCAL/userlist.txt
admin_users = app
stats_users = app
pool_mode = transaction
default_pool_size = 20
max_client_conn = 200
logfile = $LOCAL/linkpool.log
pidfile = $LP_PIDFILE
EOF

"$LINKPOOL" "$LOCAL/linkpool.ini" &
LPPID=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$LP_PORT") 2>/dev/null && break
	kill -0 "$LPPID" 2>/dev/null || { wait "$LPPID" || true; echo "linkpool exited during startup (log: $LOCAL/linkpool.log)" >&2; exit 1; }
	sleep 0.1
done

cat <<EOF

linkpool is running (pid $LPPID) on 127.0.0.1:$LP_PORT, in front of PostgreSQL on 127.0.0.1:$PG_PORT.
  connect:        psql "postgresql://app:$APP_PW@127.0.0.1:$LP_PORT/app"
  admin console:  psql "postgresql://app:$APP_PW@127.0.0.1:$LP_PORT/pgbouncer" -c 'SHOW POOLS'
  reload config:  kill -HUP $LPPID   (after editing $LOCAL/linkpool.ini)
  log:            $LOCAL/linkpool.log
Ctrl-C stops linkpool and PostgreSQL.

EOF

# wait returns early when a trapped signal arrives; the traps then clean up
wait "$LPPID"
rc=$?
LPPID=
log "linkpool exited with code $rc"
exit "$rc"
