#!/usr/bin/env bash
# ingest_memory.sh — the memory of each step that builds a store (issue 15,
# part 5): each operator's ingest (--compact off) and the compaction after
# it, one process each, with its peak RSS and time.
#
#   bench/ingest_memory.sh [--size 10k|100k|1m] [--bin BIN]
#
#   --size S   the city of scale.sh (bench/work/scale/S/city, simulated
#              there if missing; default 100k)
#   --bin BIN  the celltrace binary (default build/celltrace)
#
# Prints one line per step and the largest peak; the store is made in
# bench/work/ingest_memory and removed at the end. 1m needs about 40 GB of
# disk (the city's CSV and the store) and 20 minutes on 2 cores.
set -euo pipefail

SIZE=100k BIN=
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --size) SIZE=${2:-}; shift 2 ;;
        --bin) BIN=${2:-}; shift 2 ;;
        -h|--help) usage ;;
        *) echo "ingest_memory.sh: unknown argument $1" >&2; usage ;;
    esac
done
case "$SIZE" in 10k) subs=10000 ;; 100k) subs=100000 ;; 1m) subs=1000000 ;; *) usage ;; esac

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
CT=${BIN:-$ROOT/build/celltrace}
[ -x "$CT" ] || { echo "ingest_memory.sh: no binary $CT (make first)" >&2; exit 2; }
. "$HERE/common.sh"
city=$HERE/work/scale/$SIZE/city
if ! { [ -f "$city/manifest.json" ] && grep -q "\"subscribers\": $subs," "$city/manifest.json"; }; then
    log "simulate --subscribers $subs --days 14 --cases 20"
    rm -rf "$city"
    "$CT" simulate --out "$city" --subscribers "$subs" --days 14 --seed 1 --cases 20 >&2
fi
W=$HERE/work/ingest_memory
export CELLTRACE_DATA=$W/ct
trap 'rm -rf "$W"' EXIT
rm -rf "$W"
mkdir -p "$W"
"$CT" --quiet init
ops=()
for d in "$city"/*/; do
    [ -f "$d/cells.csv" ] || continue
    ops+=("$(basename "$d")")
    "$CT" --quiet cells import --operator "${ops[-1]}" "$d/cells.csv" >/dev/null
done
step() { # label, then the command: its peak RSS (MB) and seconds
    local label=$1; shift
    rc=0
    /usr/bin/time -f '%M %e' -o "$W/time" "$@" >/dev/null 2>"$W/err" || rc=$?
    [ $rc = 0 ] || [ $rc = 3 ] || { cat "$W/err" >&2; exit 1; } # 3: some rows rejected
    read -r kb secs < <(tail -1 "$W/time")
    printf '| %s | %.0f | %s |\n' "$label" "$((kb / 1024))" "$secs"
    echo "$kb" >> "$W/peaks"
}
echo "| step ($SIZE, $(basename "$CT")) | peak RSS (MB) | s |"
echo "|---|---:|---:|"
for op in "${ops[@]}"; do
    step "ingest $op" "$CT" --quiet ingest --compact off --operator "$op" "$city/$op/events/"*.csv
    step "compact after $op" "$CT" --quiet compact
done
echo
echo "largest peak: $(( $(sort -n "$W/peaks" | tail -1) / 1024 )) MB; events stored: $("$CT" stats --format json | sed -n 's/.*"events":\([0-9]*\).*/\1/p')"
