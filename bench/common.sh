# common.sh — helpers shared by run.sh and scale.sh (sourced, not run).

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }   # microseconds, no fork
secs_since() { awk -v a="$1" -v b="$(now_us)" 'BEGIN { printf "%.3f", (b - a) / 1e6 }'; }

# work_fields FILE: "candidates contacts ns_per_candidate" from the line
# `celltrace trace CASE --work` wrote on stderr (nothing if it is absent).
work_fields() {
    sed -n 's/^work: [^:]*: [0-9]* case intervals, \([0-9]*\) candidates, [0-9]* overlaps, \([0-9]*\) contacts, .*, \([0-9.]*\) ns per candidate$/\1 \2 \3/p' "$1"
}
