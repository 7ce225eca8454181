# common.sh — helpers shared by run.sh, places.sh and scale.sh (sourced, not run).

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }   # microseconds, no fork
secs_since() { awk -v a="$1" -v b="$(now_us)" 'BEGIN { printf "%.3f", (b - a) / 1e6 }'; }

# work_fields FILE: "candidates contacts ns_per_candidate" from the line
# `celltrace trace CASE --work` wrote on stderr (nothing if it is absent).
work_fields() {
    sed -n 's/^work: [^:]*: [0-9]* case intervals, \([0-9]*\) candidates, [0-9]* overlaps, \([0-9]*\) contacts, .*, \([0-9.]*\) ns per candidate$/\1 \2 \3/p' "$1"
}

# ensure_city DIR SUBSCRIBERS DAYS SEED CASES: the simulated city of the
# benchmark, reused when DIR holds one made with the same numbers (and the
# venues the area queries need), else simulated with $CT.
ensure_city() {
    local city=$1 subs=$2 days=$3 seed=$4 cases=$5
    if [ -f "$city/manifest.json" ] && [ -f "$city/venues.csv" ] &&
       grep -q "\"subscribers\": $subs," "$city/manifest.json" &&
       grep -q "\"cases\": $cases," "$city/manifest.json"; then
        log "city: reusing $city"
        return
    fi
    rm -rf "$city"
    log "city: celltrace simulate --subscribers $subs --days $days --cases $cases"
    "$CT" simulate --out "$city" --subscribers "$subs" --days "$days" --seed "$seed" --cases "$cases" >&2
}
