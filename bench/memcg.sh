# memcg.sh — one memory limit for every engine (issue 15): each engine runs
# in a memory cgroup of its own with the same limit, so that a peer cannot
# win by using more than celltrace may, nor lose by a cache it was told to
# keep. Sourced by run.sh, not run.
#
#   memcg_init                  finds a writable memory controller: cgroup v1
#                               (/sys/fs/cgroup/memory) or v2 with memory in
#                               the root's subtree_control; MEMCG_KIND is v1,
#                               v2 or none (then limits are only configured)
#   memcg_new NAME MB           a new cgroup NAME limited to MB (swap off
#                               where the controller allows it): its path
#                               in MEMCG (empty with none)
#   memcg_exec PATH CMD...      runs CMD inside the cgroup (with its children)
#   memcg_peak_kb PATH          the cgroup's peak charge, KB (RSS and page
#                               cache charged to it), or "-"
#   memcg_oom_kills PATH        how many of its processes the limit killed
#   memcg_free PATH             removes the cgroup (once its processes ended)

MEMCG_KIND=none MEMCG_ROOT= MEMCG=

memcg_init() {
    if [ -d /sys/fs/cgroup/memory ] && [ -w /sys/fs/cgroup/memory ] &&
       [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
        MEMCG_KIND=v1 MEMCG_ROOT=/sys/fs/cgroup/memory
    elif [ -f /sys/fs/cgroup/cgroup.controllers ] && [ -w /sys/fs/cgroup ] &&
         grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
        MEMCG_KIND=v2 MEMCG_ROOT=/sys/fs/cgroup
    else
        MEMCG_KIND=none
    fi
}

memcg_new() {
    local name=$1 mb=$2
    MEMCG=
    [ "$MEMCG_KIND" = none ] && return 0
    local p=$MEMCG_ROOT/celltrace-bench-$name
    [ -d "$p" ] && rmdir "$p" 2>/dev/null
    mkdir "$p" 2>/dev/null || { MEMCG_KIND=none; return 0; }
    local ok=1
    if [ "$MEMCG_KIND" = v1 ]; then
        echo $((mb << 20)) 2>/dev/null > "$p/memory.limit_in_bytes" || ok=0
        [ -f "$p/memory.memsw.limit_in_bytes" ] && { echo $((mb << 20)) > "$p/memory.memsw.limit_in_bytes"; } 2>/dev/null
        { echo 0 > "$p/memory.swappiness"; } 2>/dev/null
    else
        echo $((mb << 20)) 2>/dev/null > "$p/memory.max" || ok=0
        [ -f "$p/memory.swap.max" ] && { echo 0 > "$p/memory.swap.max"; } 2>/dev/null
    fi
    # a controller we may configure but not join (a container's delegation)
    # enforces nothing: then no cgroup at all, and the report says so
    [ "$ok" = 1 ] && (echo "$BASHPID" > "$p/cgroup.procs") 2>/dev/null || ok=0
    if [ "$ok" = 0 ]; then
        rmdir "$p" 2>/dev/null
        MEMCG_KIND=none
        return 0
    fi
    MEMCG=$p
}

memcg_exec() {
    local p=$1; shift
    if [ -n "$p" ]; then
        (echo "$BASHPID" > "$p/cgroup.procs" && exec "$@")
    else
        "$@"
    fi
}

memcg_peak_kb() {
    local p=$1
    if [ -z "$p" ]; then echo -
    elif [ -f "$p/memory.max_usage_in_bytes" ]; then echo $(($(cat "$p/memory.max_usage_in_bytes") >> 10))
    elif [ -f "$p/memory.peak" ]; then echo $(($(cat "$p/memory.peak") >> 10))
    else echo -
    fi
}

memcg_oom_kills() {
    local p=$1
    if [ -z "$p" ]; then echo 0
    elif [ -f "$p/memory.oom_control" ]; then sed -n 's/^oom_kill \([0-9]*\)$/\1/p' "$p/memory.oom_control" | grep . || echo 0
    elif [ -f "$p/memory.events" ]; then sed -n 's/^oom_kill \([0-9]*\)$/\1/p' "$p/memory.events" | grep . || echo 0
    else echo 0
    fi
}

memcg_free() {
    local p=$1
    [ -n "$p" ] && [ -d "$p" ] && rmdir "$p" 2>/dev/null
    return 0
}
