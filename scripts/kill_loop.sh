#!/usr/bin/env bash
# The long kill test of issue 6: SIGKILL ingest 1000 times (or $1) at
# random moments and check that nothing is lost or damaged. Needs `make`.
set -euo pipefail
cd "$(dirname "$0")/.."
KILLS=${1:-1000} exec bash tests/golden/kill_ingest.sh "$PWD/build/celltrace" "$PWD/tests" "$PWD/../shared"
