#!/bin/sh
# Make sure Debian's PostgreSQL server binaries are installed for the test suite, which
# starts its own throwaway server (tests/pgserver.py). Never fails the build: when the
# server cannot be installed it says so loudly and the PostgreSQL tests are skipped.
set -u

found() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }

if found; then
    exit 0
fi
warn() {
    echo "=================================================================" >&2
    echo "ensure-postgres: $1" >&2
    echo "ensure-postgres: the PostgreSQL half of the test suite will be SKIPPED" >&2
    echo "=================================================================" >&2
    exit 0
}
if [ "$(id -u)" != 0 ]; then
    warn "PostgreSQL is not installed and this is not root; run: sudo apt-get install postgresql"
fi
if ! command -v apt-get >/dev/null 2>&1; then
    warn "PostgreSQL is not installed and apt-get is not available on this machine"
fi
echo "ensure-postgres: installing Debian's postgresql (server binaries for the tests)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq >/dev/null 2>&1; then
    warn "apt-get update failed; cannot install postgresql"
fi
if ! apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1; then
    warn "apt-get install postgresql failed"
fi
found || warn "postgresql installed but no /usr/lib/postgresql/*/bin/initdb was found"
echo "ensure-postgres: installed $(ls -d /usr/lib/postgresql/*/bin | tail -1)" >&2
