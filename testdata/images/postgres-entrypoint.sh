#!/bin/bash
# Entrypoint of waooaw-test/postgres-redis:bookworm, the local stand-in for both
# postgres:15-alpine and redis:7-alpine (see README.md next to this file).
#
#   (no command) / postgres … / -…   PostgreSQL 15, honouring the official postgres image's
#                                    contract: POSTGRES_USER (default postgres),
#                                    POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (required
#                                    unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_DB (default:
#                                    the user), POSTGRES_INITDB_ARGS, PGDATA
#                                    (/var/lib/postgresql/data), /docker-entrypoint-initdb.d.
#                                    initdb runs on the first start only; the server runs in
#                                    the foreground as the postgres user and is PID 1.
#   redis-server … / *.conf …        Redis, as the redis user, in /data, protected mode off
#                                    unless asked for (the official redis image ships with it
#                                    off).
#   anything else                    exec'd as is (bash, psql, pg_isready, …).
set -Eeuo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*" >&2; }

# as USER CMD…: exec CMD as USER (uid, gid and groups). gosu is not in Debian's minbase;
# setpriv (util-linux) is, and it execs directly, so CMD keeps this PID and gets the signals.
as() {
	local user=$1
	shift
	exec setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"
}

# file_env VAR: VAR from the file that VAR_FILE names, as the official image allows (a secret
# in a file, not in the environment `docker inspect` shows). Exported for the re-run as postgres.
file_env() {
	local var=$1 file_var=${1}_FILE
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		printf 'error: both %s and %s are set (but are exclusive)\n' "$var" "$file_var" >&2
		exit 1
	fi
	if [ -n "${!file_var:-}" ]; then
		export "$var"="$(<"${!file_var}")"
		unset "$file_var"
	fi
}

postgres_setup_dirs() {
	mkdir -p "$PGDATA" /var/run/postgresql
	if [ "$(id -u)" = 0 ]; then
		# A fresh named volume is root-owned unless Docker copied the image's directory in.
		find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
		chmod 00700 "$PGDATA"
		chown postgres:postgres /var/run/postgresql
		chmod 03775 /var/run/postgresql
	fi
}

postgres_init() {
	local method=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$method" != trust ]; then
		cat >&2 <<-'EOE'
			Error: Database is uninitialized and superuser password is not specified.
			       You must specify POSTGRES_PASSWORD to a non-empty value for the
			       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

			       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
			       connections without a password. This is *not* recommended.
		EOE
		exit 1
	fi
	log "initialising the database cluster in $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
	# The password reaches initdb through a pipe, never a file or the command line. (A process
	# substitution lives only as long as the command it is written in: keep it inline.)
	local initdb=(initdb -D "$PGDATA" --username="$POSTGRES_USER" --auth-local=trust --auth-host="$method")
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is word-split, as the official image does
	if [ -n "${POSTGRES_PASSWORD:-}" ]; then
		"${initdb[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") ${POSTGRES_INITDB_ARGS:-} >&2
	else
		"${initdb[@]}" ${POSTGRES_INITDB_ARGS:-} >&2
	fi
	printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	printf '\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"

	# A temporary server on the Unix socket only: nobody outside sees it before it is ready.
	PGUSER=$POSTGRES_USER PGPASSWORD=${POSTGRES_PASSWORD:-} \
		pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start >&2
	local psql=(psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER")
	if [ "$POSTGRES_DB" != postgres ]; then
		"${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" >&2 <<-'EOSQL'
			CREATE DATABASE :"db";
		EOSQL
	fi
	local f
	for f in /docker-entrypoint-initdb.d/*; do
		# shellcheck disable=SC1090 # the hooks are the user's
		case "$f" in
		*.sh) log "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
		*.sql) log "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" >&2 ;;
		*.sql.gz) log "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" >&2 ;;
		*) if [ -e "$f" ]; then log "ignoring $f"; fi ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop >&2
	log "PostgreSQL init process complete; ready for start up."
}

postgres_main() {
	export PGDATA=${PGDATA:-/var/lib/postgresql/data}
	export POSTGRES_USER=${POSTGRES_USER:-postgres}
	export POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
	file_env POSTGRES_PASSWORD
	postgres_setup_dirs
	if [ "$(id -u)" = 0 ]; then
		# Everything else (initdb, the server) as postgres: re-run this script as that user.
		as postgres "${BASH_SOURCE[0]}" "$@"
	fi
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		postgres_init
	else
		log "PostgreSQL database directory appears to contain a database; skipping initialisation"
	fi
	exec "$@"
}

redis_main() {
	local a conf=no protected=no
	case "${2:-}" in *.conf) conf=yes ;; esac
	for a in "$@"; do
		if [ "$a" = --protected-mode ]; then protected=yes; fi
	done
	if [ $conf = no ] && [ $protected = no ]; then
		set -- "$@" --protected-mode no
	fi
	mkdir -p /data
	if [ "$PWD" = / ]; then cd /data; fi
	if [ "$(id -u)" = 0 ]; then
		find /data \! -user redis -exec chown redis:redis '{}' +
		as redis "$@"
	fi
	exec "$@"
}

if [ $# -eq 0 ] || [ "${1:0:1}" = - ]; then
	set -- postgres "$@"
fi
case "$1" in
*.conf) set -- redis-server "$@" ;;
esac
case "$1" in
postgres) postgres_main "$@" ;;
redis-server) redis_main "$@" ;;
*) exec "$@" ;;
esac
