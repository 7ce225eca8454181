#!/usr/bin/env bash
# setup.sh — installs the benchmark's peers from the project's own files:
#   PostgreSQL 15 + PostGIS 3 (Debian packages, apt-get; needs root once),
#   DuckDB through npm @duckdb/node-api (bench/package.json and its lock,
#   into bench/node_modules; needs Node.js >= 18).
# Idempotent: does nothing that is already done.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

need_pkgs=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || need_pkgs+=(postgresql-15)
ls /usr/share/postgresql/15/extension/postgis.control >/dev/null 2>&1 || need_pkgs+=(postgresql-15-postgis-3)
command -v psql >/dev/null 2>&1 || need_pkgs+=(postgresql-client-15)
[ -x /usr/bin/time ] || need_pkgs+=(time)
command -v cc >/dev/null 2>&1 || need_pkgs+=(gcc)
command -v node >/dev/null 2>&1 || need_pkgs+=(nodejs npm)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup.sh: please install as root: ${need_pkgs[*]}" >&2
        exit 1
    fi
    echo "setup.sh: apt-get install ${need_pkgs[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2
fi
# The Debian package may create and start a cluster of its own; the
# benchmark never uses it (it runs a private one), and leaves it as it is.

if [ ! -f "$HERE/node_modules/@duckdb/node-api/package.json" ] ||
   [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
    echo "setup.sh: npm ci (DuckDB node API)" >&2
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
