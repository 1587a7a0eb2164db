#!/usr/bin/env bash
# Container entrypoint of the Link deployment kit: renders linkpool's
# configuration from the environment, validates it, then execs linkpool so
# that it runs as PID 1 and receives docker's and Kubernetes' signals itself
# (SIGTERM = drain clients, SIGHUP = reload).
#
#   startup.sh                render, validate, exec linkpool
#   startup.sh --render-only  render and validate, print the paths, exit 0
#   startup.sh --print-sql    print the SQL that gives PostgreSQL the same
#                             secrets (CREATE/ALTER ROLE, CREATE DATABASE; psql)
#
# Inputs
#   linkpool.ini, userlist.txt   templates in $LINKPOOL_TEMPLATE_DIR
#   POSTGRES_HOST (required), POSTGRES_PORT (default 5432)
#                                upstream of every [databases] entry
#   <SERVICE>_DB_USER, <SERVICE>_DB_PASSWORD, PGBOUNCER_ADMIN_PASSWORD,
#   PGBOUNCER_STATS_PASSWORD     every ${VAR} the userlist template names
#   LINKPOOL_<KEY>=value         sets [pgbouncer] key; empty value drops it
#   USERLIST_FORMAT              scram-sha-256 (default) or md5
#   SCRAM_ITERATIONS             PBKDF2 iterations (default 4096, as PostgreSQL)
#   LINKPOOL_CONFIG_DIR          output directory (default /etc/pgbouncer)
#   LINKPOOL_TEMPLATE_DIR        template directory (default: this script's
#                                directory if it holds linkpool.ini, else
#                                /usr/local/share/linkpool)
#   LINKPOOL_BIN                 the binary (default: linkpool in PATH)
#
# Secrets: userlist.txt receives SCRAM-SHA-256 verifiers (or md5 secrets),
# never the passwords; passwords reach the hashing code on stdin, not argv.
# The SCRAM salt is derived from the user name, not random, so that every
# replica and every restart writes the same verifier, and PostgreSQL can be
# given that very verifier (--print-sql): linkpool's SCRAM pass-through logs
# in to PostgreSQL only when both hold identical verifiers.
set -euo pipefail

prog=startup.sh
die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

mode=run
case ${1:-} in
"") ;;
--render-only) mode=render ;;
--print-sql) mode=sql ;;
-h | --help)
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
	exit 0
	;;
*) die "unknown argument '$1' (try --help)" ;;
esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -z "${LINKPOOL_TEMPLATE_DIR:-}" ]; then
	if [ -f "$here/linkpool.ini" ]; then
		LINKPOOL_TEMPLATE_DIR=$here
	else
		LINKPOOL_TEMPLATE_DIR=/usr/local/share/linkpool
	fi
fi
INI_TEMPLATE=$LINKPOOL_TEMPLATE_DIR/linkpool.ini
USERLIST_TEMPLATE=$LINKPOOL_TEMPLATE_DIR/userlist.txt
CONFIG_DIR=${LINKPOOL_CONFIG_DIR:-/etc/pgbouncer}
LINKPOOL=${LINKPOOL_BIN:-linkpool}
FORMAT=${USERLIST_FORMAT:-scram-sha-256}
ITERATIONS=${SCRAM_ITERATIONS:-4096}
PY=${LINKPOOL_PYTHON:-python3}

[ -r "$INI_TEMPLATE" ] || die "template $INI_TEMPLATE is missing or unreadable"
[ -r "$USERLIST_TEMPLATE" ] || die "template $USERLIST_TEMPLATE is missing or unreadable"
case $FORMAT in
scram-sha-256 | md5) ;;
*) die "USERLIST_FORMAT must be scram-sha-256 or md5, not '$FORMAT'" ;;
esac
case $ITERATIONS in
'' | *[!0-9]*) die "SCRAM_ITERATIONS must be a number, not '$ITERATIONS'" ;;
esac
if [ "$ITERATIONS" -lt 4096 ] || [ "$ITERATIONS" -gt 1000000 ]; then
	die "SCRAM_ITERATIONS must be between 4096 and 1000000"
fi
command -v "$PY" >/dev/null || die "$PY is needed to compute password verifiers"

# ---------------------------------------------------------------- inputs
# Every variable the userlist template names, plus POSTGRES_HOST, must be set
# and non-empty; all missing ones are reported at once.
# shellcheck disable=SC2016 # ${VAR} is matched literally, not expanded
mapfile -t needed < <(grep -v '^[[:space:]]*[;#]' "$USERLIST_TEMPLATE" |
	grep -o '\${[A-Za-z_][A-Za-z0-9_]*}' | tr -d '${}' | awk '!seen[$0]++')
needed=(POSTGRES_HOST "${needed[@]}")
missing=()
for v in "${needed[@]}"; do
	[ -n "${!v:-}" ] || missing+=("$v")
done
if [ ${#missing[@]} -gt 0 ]; then
	die "missing environment variables: ${missing[*]} (see the Service Configuration section of docs/operations.md)"
fi

POSTGRES_PORT=${POSTGRES_PORT:-5432}
case $POSTGRES_PORT in
'' | *[!0-9]*) die "POSTGRES_PORT must be a port number, not '$POSTGRES_PORT'" ;;
esac
[[ $POSTGRES_HOST =~ ^[A-Za-z0-9._:/-]+$ ]] ||
	die "POSTGRES_HOST may hold only letters, digits and . _ : / - (got '$POSTGRES_HOST')"
# A newline in a LINKPOOL_* value would start a new ini line (a new section,
# a new database): refuse instead of rendering something else than asked.
while IFS= read -r name; do
	case $name in LINKPOOL_BIN | LINKPOOL_CONFIG_DIR | LINKPOOL_TEMPLATE_DIR | LINKPOOL_PYTHON) continue ;; esac
	case ${!name} in *$'\n'* | *$'\r'*) die "$name contains a line break" ;; esac
done < <(compgen -e | grep '^LINKPOOL_' || true)

# userlist template -> NUL-separated "user\0password\0" records on stdout
userlist_records() {
	local line user pw re='^"([^"]*)"[[:space:]]+"([^"]*)"[[:space:]]*$'
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in '' | \;* | \#*) continue ;; esac
		[[ $line =~ $re ]] || die "$USERLIST_TEMPLATE: cannot read line: $line"
		user=$(expand_vars "${BASH_REMATCH[1]}")
		pw=$(expand_vars "${BASH_REMATCH[2]}")
		case $user$pw in *'"'* | *$'\n'* | *$'\r'* | *$'\t'*)
			die "$USERLIST_TEMPLATE: user or password of '$user' contains a quote, tab or line break" ;;
		esac
		printf '%s\0%s\0' "$user" "$pw"
	done <"$USERLIST_TEMPLATE"
}

# ${NAME} -> its value; nothing else is expanded (no $(...), no globbing).
expand_vars() {
	local s=$1 out='' name re='^([^$]*)\$\{([A-Za-z_][A-Za-z0-9_]*)\}(.*)$'
	while [[ $s =~ $re ]]; do
		name=${BASH_REMATCH[2]}
		out+=${BASH_REMATCH[1]}${!name}
		s=${BASH_REMATCH[3]}
	done
	printf '%s' "$out$s"
}

# NUL-separated user/password records on stdin -> "user<TAB>secret" lines.
# Python's standard library only (hashlib, base64), as in python3-minimal.
hash_records() {
	"$PY" -c '
import base64, hashlib, sys

fmt, iterations = sys.argv[1], int(sys.argv[2])

def hmac_sha256(key, msg):
    # RFC 2104; the hmac module is not part of python3-minimal
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + msg).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in key) + inner).digest()

def scram(user, pw):
    # salt derived from the user name: identical on every replica and restart
    salt = hashlib.sha256(b"linkpool-scram-salt\0" + user).digest()[:16]
    salted = hashlib.pbkdf2_hmac("sha256", pw, salt, iterations)
    client_key = hmac_sha256(salted, b"Client Key")
    server_key = hmac_sha256(salted, b"Server Key")
    b64 = lambda b: base64.b64encode(b).decode()
    return "SCRAM-SHA-256$%d:%s$%s:%s" % (
        iterations, b64(salt), b64(hashlib.sha256(client_key).digest()), b64(server_key))

fields = sys.stdin.buffer.read().split(b"\0")
for user, pw in zip(fields[0::2], fields[1::2]):
    secret = "md5" + hashlib.md5(pw + user).hexdigest() if fmt == "md5" else scram(user, pw)
    sys.stdout.write("%s\t%s\n" % (user.decode(), secret))
' "$FORMAT" "$ITERATIONS"
}

# the template with the overrides applied, on stdout
render_ini() {
	awk -v src="$INI_TEMPLATE" '
	function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
	function reserved(n) {
		return n == "LINKPOOL_BIN" || n == "LINKPOOL_CONFIG_DIR" || \
		       n == "LINKPOOL_TEMPLATE_DIR" || n == "LINKPOOL_PYTHON"
	}
	BEGIN { print "; rendered by startup.sh from " src " -- edit the template, not this file" }
	/^[ \t]*\[/ {
		sec = tolower($0); gsub(/[ \t\[\]]/, "", sec); print; next
	}
	/^[ \t]*([;#]|$)/ || index($0, "=") == 0 { print; next }
	sec == "databases" {
		eq = index($0, "="); name = trim(substr($0, 1, eq - 1)); n = split(trim(substr($0, eq + 1)), f, /[ \t]+/)
		line = name " ="
		for (i = 1; i <= n; i++) {
			if (f[i] ~ /^host=/) f[i] = "host=" ENVIRON["POSTGRES_HOST"]
			else if (f[i] ~ /^port=/) f[i] = "port=" ENVIRON["POSTGRES_PORT"]
			line = line " " f[i]
		}
		print line; next
	}
	sec == "pgbouncer" {
		eq = index($0, "="); key = tolower(trim(substr($0, 1, eq - 1))); env = "LINKPOOL_" toupper(key)
		seen[env] = 1
		if (!(env in ENVIRON) || reserved(env)) { print; next }
		if (ENVIRON[env] != "") print key " = " ENVIRON[env]
		next
	}
	{ print }
	END {
		extra = ""
		for (env in ENVIRON)
			if (env ~ /^LINKPOOL_[A-Z0-9_]+$/ && !(env in seen) && !reserved(env) && ENVIRON[env] != "")
				extra = extra tolower(substr(env, 10)) " = " ENVIRON[env] "\n"
		if (extra != "") printf "\n; set through LINKPOOL_* environment variables\n[pgbouncer]\n%s", extra
	}' "$INI_TEMPLATE"
}

# ---------------------------------------------------------------- SQL for PostgreSQL
if [ "$mode" = sql ]; then
	# admin/stats users live only in linkpool: no role for them
	consoles=$(awk -F= '/^[ \t]*(admin_users|stats_users)[ \t]*=/ { gsub(/[ \t]/, "", $2); print $2 }' "$INI_TEMPLATE" | tr ',' '\n')
	sqlq() { printf '%s' "$1" | sed "s/'/''/g"; }
	sqli() { printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"; }
	echo "-- generated by startup.sh --print-sql: run with psql as a superuser"
	echo "SET password_encryption = 'scram-sha-256';"
	secrets=$(userlist_records | hash_records)
	while IFS=$'\t' read -r user secret; do
		if printf '%s\n' "$consoles" | grep -qxF -- "$user"; then continue; fi
		printf "SELECT 'CREATE ROLE %s LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%s')\\\\gexec\n" \
			"$(sqli "$user" | sed "s/'/''/g")" "$(sqlq "$user")"
		printf "ALTER ROLE %s LOGIN PASSWORD '%s';\n" "$(sqli "$user")" "$(sqlq "$secret")"
	done <<<"$secrets"
	# a database named like an entry of [databases], owned by <NAME>_DB_USER,
	# closed to every other role
	awk '/^[ \t]*\[/ { s = tolower($0); gsub(/[ \t\[\]]/, "", s); next }
	     s == "databases" && /=/ && !/^[ \t]*[;#]/ { split($0, a, "="); gsub(/[ \t]/, "", a[1]); print a[1] }' "$INI_TEMPLATE" |
		while read -r db; do
			var=$(printf '%s_DB_USER' "$db" | tr '[:lower:]' '[:upper:]')
			owner=${!var:-}
			[ -n "$owner" ] || continue
			printf "SELECT 'CREATE DATABASE %s OWNER %s' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '%s')\\\\gexec\n" \
				"$(sqli "$db" | sed "s/'/''/g")" "$(sqli "$owner" | sed "s/'/''/g")" "$(sqlq "$db")"
			# isolation: only the owning service may connect (PUBLIC may by default)
			printf 'REVOKE CONNECT, TEMPORARY ON DATABASE %s FROM PUBLIC;\n' "$(sqli "$db")"
		done
	exit 0
fi

# ---------------------------------------------------------------- render
mkdir -p "$CONFIG_DIR" || die "cannot create $CONFIG_DIR"
[ -w "$CONFIG_DIR" ] || die "$CONFIG_DIR is not writable by uid $(id -u)"
INI=$CONFIG_DIR/linkpool.ini
USERLIST=$CONFIG_DIR/userlist.txt
export POSTGRES_HOST POSTGRES_PORT
# auth_file in the template points at /etc/pgbouncer; follow CONFIG_DIR unless told otherwise
if [ -z "${LINKPOOL_AUTH_FILE+x}" ]; then
	export LINKPOOL_AUTH_FILE=$USERLIST
fi

umask 077
tmp_ul=$(mktemp "$CONFIG_DIR/.userlist.XXXXXX")
tmp_ini=$(mktemp "$CONFIG_DIR/.linkpool.ini.XXXXXX")
trap 'rm -f "$tmp_ul" "$tmp_ini"' EXIT
{
	echo "; written by startup.sh from $USERLIST_TEMPLATE ($FORMAT secrets, no plain passwords)"
	secrets=$(userlist_records | hash_records)
	while IFS=$'\t' read -r user secret; do
		printf '"%s" "%s"\n' "$user" "$secret"
	done <<<"$secrets"
} >"$tmp_ul"
[ "$(grep -c '^"' "$tmp_ul")" -gt 0 ] || die "$USERLIST_TEMPLATE yields no user"
render_ini >"$tmp_ini"
chmod 600 "$tmp_ul"
chmod 644 "$tmp_ini"
mv -f "$tmp_ul" "$USERLIST"
mv -f "$tmp_ini" "$INI"
trap - EXIT

if ! "$LINKPOOL" --check "$INI"; then
	die "$INI failed validation (errors above, as file:line)"
fi
printf '%s: %s users in %s, configuration %s\n' "$prog" "$(grep -c '^"' "$USERLIST")" "$USERLIST" "$INI" >&2

if [ "$mode" = render ]; then
	exit 0
fi
exec "$LINKPOOL" "$INI"
