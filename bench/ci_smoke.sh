#!/usr/bin/env bash
# ci_smoke.sh — the 10k benchmark as a smoke test of equality only: loads
# the 10k city (20 cases) into celltrace, DuckDB and PostgreSQL/PostGIS,
# traces every case in each and exits non-zero when any answer differs.
# No timing is asserted and no results file is written. 2 to 5 minutes on
# the 2-core machine (most of it PostgreSQL's load).
set -euo pipefail
exec "$(dirname "$0")/run.sh" --size 10k --cases "${BENCH_SMOKE_CASES:-20}" --repeat 1 --check-only "$@"
