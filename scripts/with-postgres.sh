#!/usr/bin/env bash
# Runs CMD with a throwaway PostgreSQL cluster and SANCTUARY_TEST_POSTGRES_URL
# pointing at a fresh database in it; the cluster is stopped and removed
# afterwards, whatever CMD's outcome. CMD's exit status is returned.
#
#   scripts/with-postgres.sh cargo test -p sanctuary-store
#
# Needs the PostgreSQL server binaries under /usr/lib/postgresql/*/bin
# (Debian/Ubuntu: apt-get install -y postgresql). PostgreSQL refuses to run as
# root, so when invoked as root the server runs as the `postgres` user.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "with-postgres: PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin" >&2
    echo "with-postgres: install them with: apt-get update && apt-get install -y postgresql" >&2
    exit 1
fi

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "with-postgres: running as root and there is no 'postgres' user to run the server as" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sanctuary-pg.XXXXXX")
if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$tmp"
fi
data="$tmp/data"
started=0

cleanup() {
    if [ "$started" -eq 1 ]; then
        as_pg "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

as_pg "$bindir/initdb" -D "$data" -U sanctuary --auth=trust -E UTF8 --no-sync >"$tmp/initdb.log" 2>&1 \
    || { cat "$tmp/initdb.log" >&2; exit 1; }

for _attempt in 1 2 3 4 5; do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    port_free "$port" || continue
    # fsync off: a throwaway test cluster; the tests exercise client-side crash
    # behaviour, not server power loss.
    if as_pg "$bindir/pg_ctl" -D "$data" -l "$tmp/server.log" -w -t 30 \
        -o "-F -p $port -h 127.0.0.1 -k $tmp" start >/dev/null 2>&1; then
        started=1
        break
    fi
done
if [ "$started" -ne 1 ]; then
    echo "with-postgres: could not start PostgreSQL; server log:" >&2
    cat "$tmp/server.log" >&2 || true
    exit 1
fi

"$bindir/createdb" -h 127.0.0.1 -p "$port" -U sanctuary sanctuary_test
export SANCTUARY_TEST_POSTGRES_URL="postgres://sanctuary@127.0.0.1:$port/sanctuary_test"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on port $port" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
