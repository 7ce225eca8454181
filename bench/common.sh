# common.sh — helpers shared by the bench scripts (sourced, not run).

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }   # microseconds, no fork
secs_since() { awk -v a="$1" -v b="$(now_us)" 'BEGIN { printf "%.3f", (b - a) / 1e6 }'; }

# work_fields FILE: "candidates contacts ns_per_candidate ms" from the line
# `celltrace trace CASE --work` wrote on stderr (nothing if it is absent);
# ms is the library call's own time (ct_trace: the case, the trace, the
# numbers, the audit record), without process start, opening or printing.
work_fields() {
    sed -n 's/^work: [^:]*: [0-9]* case intervals, \([0-9]*\) candidates, [0-9]* overlaps, \([0-9]*\) contacts, \([0-9.]*\) ms, \([0-9.]*\) ns per candidate$/\1 \2 \4 \3/p' "$1"
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

# serve_start ERRFILE [SERVE OPTIONS...]: `celltrace serve` ($CT, data from
# CELLTRACE_DATA) on a free loopback port; sets SERVER (its pid) and URL.
serve_start() {
    local err=$1 port=
    shift
    "$CT" serve --listen 127.0.0.1:0 "$@" 2> "$err" &
    SERVER=$!
    for _ in $(seq 100); do
        port=$(sed -n 's/^celltrace: listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$err")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { cat "$err" >&2; exit 1; }
    URL=http://127.0.0.1:$port
}
