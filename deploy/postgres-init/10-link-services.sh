#!/usr/bin/env bash
# PostgreSQL side of the Link kit for docker-compose: mounted into the postgres
# container's /docker-entrypoint-initdb.d, it runs once, on the first start of
# an empty data volume. It creates the eight service roles and databases and
# gives each role the SCRAM-SHA-256 verifier that deploy/startup.sh writes for
# it into linkpool's userlist.txt: same derived salt, same iterations, so the
# two are byte-identical and linkpool's SCRAM pass-through can log in to
# PostgreSQL with the client's own proof. The verifier is computed in SQL
# (pgcrypto's hmac, which the postgres image ships); passwords are read with
# psql's \getenv, never put on a command line.
#
# Outside the container (tests, an existing server): set PGHOST/PGPORT and
# POSTGRES_USER (a superuser) and run it with bash.
set -euo pipefail

SERVICES=(user_service chat_service ai_service discovery_service search_service
	location_service stories_service opportunities_service)
ITERATIONS=${SCRAM_ITERATIONS:-4096}
psql_su() { psql -X -q -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres "$@"; }

missing=()
for svc in "${SERVICES[@]}"; do
	for suffix in DB_USER DB_PASSWORD; do
		var=${svc^^}_$suffix
		[ -n "${!var:-}" ] || missing+=("$var")
	done
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "10-link-services.sh: missing environment variables: ${missing[*]}" >&2
	exit 1
fi

psql_su <<'SQL'
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS link_init CASCADE;
CREATE SCHEMA link_init;
CREATE EXTENSION pgcrypto SCHEMA link_init;
-- The same computation as deploy/startup.sh: PBKDF2-HMAC-SHA-256 (RFC 7677)
-- with salt = first 16 bytes of sha256('linkpool-scram-salt' || '\0' || user).
CREATE FUNCTION link_init.scram_verifier(username text, password text, iterations int)
RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
	salt bytea := substring(sha256(convert_to('linkpool-scram-salt', 'UTF8') || '\x00'::bytea
	                               || convert_to(username, 'UTF8')) FROM 1 FOR 16);
	pw bytea := convert_to(password, 'UTF8');
	u bytea;
	t bit(256);
	salted bytea := ''::bytea;
	client_key bytea;
	server_key bytea;
BEGIN
	u := link_init.hmac(salt || '\x00000001'::bytea, pw, 'sha256');
	t := ('x' || encode(u, 'hex'))::bit(256);
	FOR i IN 2..iterations LOOP
		u := link_init.hmac(u, pw, 'sha256');
		t := t # ('x' || encode(u, 'hex'))::bit(256);
	END LOOP;
	FOR i IN 0..31 LOOP
		salted := salted || set_byte('\x00'::bytea, 0, substring(t FROM i * 8 + 1 FOR 8)::int);
	END LOOP;
	client_key := link_init.hmac(convert_to('Client Key', 'UTF8'), salted, 'sha256');
	server_key := link_init.hmac(convert_to('Server Key', 'UTF8'), salted, 'sha256');
	RETURN format('SCRAM-SHA-256$%s:%s$%s:%s', iterations, encode(salt, 'base64'),
	              encode(sha256(client_key), 'base64'), encode(server_key, 'base64'));
END
$fn$;
SQL

for svc in "${SERVICES[@]}"; do
	up=${svc^^}
	psql_su -v db="$svc" -v iterations="$ITERATIONS" <<SQL
\\getenv role_name ${up}_DB_USER
\\getenv role_password ${up}_DB_PASSWORD
SELECT format('CREATE ROLE %I LOGIN', :'role_name')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role_name') \\gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'role_name',
              link_init.scram_verifier(:'role_name', :'role_password', :iterations)) \\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role_name')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \\gexec
-- isolation: only the owning service may connect (PUBLIC may by default)
SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', :'db') \\gexec
SQL
	echo "10-link-services.sh: $svc ready"
done

psql_su -c 'SET client_min_messages = warning' -c 'DROP SCHEMA link_init CASCADE'
