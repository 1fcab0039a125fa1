#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 for the store's PostgreSQL tests.
#
# - Something already answers: done (exit 0).
# - Not installed: as root on a Debian-like system, `apt-get install -y postgresql`, then trust
#   authentication for 127.0.0.1 (a test machine's server: no passwords) is configured.
# - Installed but stopped: `pg_ctlcluster --skip-systemctl-redirect VERSION main start`.
# Exits 1 with a message saying what is missing when none of this is possible.
# Tests connect as `postgres@127.0.0.1:5432` (override with KILN_TEST_POSTGRES_URL).
set -u

HOST=127.0.0.1
PORT=5432

say() { echo "ensure-postgres: $*" >&2; }
die() { say "error: $*"; exit 1; }

answers() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$HOST" -p "$PORT" -t 3
    else
        timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$PORT" 2>/dev/null
    fi
}

if answers; then
    say "PostgreSQL answers on $HOST:$PORT"
    exit 0
fi

is_root() { [ "$(id -u)" = 0 ]; }
installed_now=0
if ! ls -d /etc/postgresql/*/main >/dev/null 2>&1; then
    is_root || die "nothing answers on $HOST:$PORT and PostgreSQL is not installed; installing it needs root (sudo apt-get install -y postgresql), or point KILN_TEST_POSTGRES_URL at a server"
    command -v apt-get >/dev/null 2>&1 || die "nothing answers on $HOST:$PORT and there is no apt-get to install PostgreSQL; install PostgreSQL 15+ and start it on $HOST:$PORT"
    say "installing PostgreSQL from the distribution's packages"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; } || die "apt-get install postgresql failed"
    ls -d /etc/postgresql/*/main >/dev/null 2>&1 || die "postgresql installed but no cluster under /etc/postgresql/*/main"
    installed_now=1
fi

version="$(ls /etc/postgresql | sort -V | tail -n 1)"
conf="/etc/postgresql/$version/main"

if [ "$installed_now" = 1 ]; then
    hba="$conf/pg_hba.conf"
    say "configuring trust authentication for $HOST in $hba"
    # pg_hba.conf is read top down and the first matching line wins: put ours first.
    { printf 'host all all %s/32 trust\nlocal all postgres trust\n' "$HOST"; cat "$hba"; } >"$hba.kiln" \
        && cat "$hba.kiln" >"$hba" && rm -f "$hba.kiln" || die "could not write $hba"
fi

command -v pg_ctlcluster >/dev/null 2>&1 || die "PostgreSQL $version is installed but pg_ctlcluster is missing; start the server on $HOST:$PORT yourself"
say "starting PostgreSQL $version (cluster main)"
if ! pg_ctlcluster --skip-systemctl-redirect "$version" main start; then
    is_root || die "could not start PostgreSQL $version as $(id -un); run this script as root or the postgres user"
    die "pg_ctlcluster could not start PostgreSQL $version (see /var/log/postgresql/)"
fi

for _ in $(seq 1 30); do
    if answers; then
        say "PostgreSQL $version answers on $HOST:$PORT"
        exit 0
    fi
    sleep 1
done
die "PostgreSQL $version started but nothing answers on $HOST:$PORT after 30 s (check port and listen_addresses in $conf/postgresql.conf)"
