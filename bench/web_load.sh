#!/usr/bin/env bash
# web_load.sh — the headquarters' page (docs/WEB.md) on the benchmark's
# city, in headless chromium: how long each view's data takes to come in,
# and screenshots of every view on a real-sized city.
#
#   bench/web_load.sh --size 10k|100k
#
# Starts from the data directory `bench/api_load.sh --size S --keep` left
# (its run done), files one appeal, adds a federal user, starts `celltrace
# serve` and runs bench/web_load.mjs, which opens the overview, the map,
# the case with the most contacts (its first 1 000 contacts: the target
# of issue 13 is under 200 ms for them), one contact's evidence and the
# appeals queue, five times each, and reports the median and worst.
# Writes bench/results/web-<size>-<date>.md; screenshots in
# bench/work/<size>/web/ (not committed).
set -euo pipefail
SIZE=
while [ $# -gt 0 ]; do
    case "$1" in
        --size) SIZE=${2:-}; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "web_load.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$SIZE" in 10k|100k) ;; *) echo "web_load.sh: --size must be 10k or 100k" >&2; exit 2 ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
CT=$ROOT/build/celltrace
A=$HERE/work/$SIZE/api
OUT_DIR=$HERE/work/$SIZE/web
. "$HERE/common.sh"
[ -f "$A/run.txt" ] || { echo "web_load.sh: run bench/api_load.sh --size $SIZE --keep first" >&2; exit 1; }
[ -x /usr/bin/chromium ] && [ -d "$ROOT/web/node_modules/playwright-core" ] ||
    { echo "web_load.sh: run scripts/setup.sh first (chromium, web/node_modules)" >&2; exit 1; }
export CELLTRACE_DATA=$A/data
SERVER=
trap '[ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null; wait' EXIT
read -r CASE N < <(sqlite3 -separator ' ' "$A/data/catalog.db" \
    "SELECT case_id, count(*) FROM nt_contacts GROUP BY case_id ORDER BY 2 DESC LIMIT 1")
# one pending appeal on that case's most likely contact, for the queue
if [ "$("$CT" --quiet appeals list --state pending --format json)" = "[]" ]; then
    sub=$(sqlite3 "$A/data/catalog.db" "SELECT subscriber FROM nt_contacts WHERE case_id = '$CASE'
          ORDER BY p_contact DESC LIMIT 1")
    num=$("$CT" --quiet export --region "$(sqlite3 "$A/data/catalog.db" "SELECT home_region FROM nt_contacts
          WHERE case_id = '$CASE' AND subscriber = $sub")" --format csv | awk -F, -v c="$CASE" 'NR > 1 && $2 == c && !done { print $1; done = 1 }')
    "$CT" --quiet appeals file --msisdn "$num" --case "$CASE" --reason "web benchmark" >/dev/null
fi
FED=$("$CT" users add "web-$(date +%s)" --role federal 2>/dev/null | tail -n 1)
serve_start "$A/web-serve.err"
mkdir -p "$OUT_DIR" "$HERE/results"
RESULT=$HERE/results/web-$SIZE-$(date -u +%Y-%m-%d).md
CT_URL=$URL CT_TOKEN=$FED CT_CASE=$CASE CT_CASE_CONTACTS=$N CT_SHOTS=$OUT_DIR \
CT_WEB=$ROOT/web CT_SIZE=$SIZE CT_COMMIT=$(git -C "$ROOT" rev-parse --short HEAD) \
    node "$HERE/web_load.mjs" > "$RESULT"
cat "$RESULT"
echo "screenshots: $OUT_DIR" >&2
