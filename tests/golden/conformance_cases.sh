# Golden test: every conformance case runs as its README says. A case is a
# folder with a README.md whose indented `celltrace --data D ...` lines
# (continued with a trailing backslash) are the commands, in order; a
# `# exit N` comment gives a command's exit status (default 0) and
# `# = FILE` the file its standard output must equal byte for byte.
# The project's own cases are in tests/conformance/; the steering
# repository's shared/conformance/ beside the checkout runs in addition
# when it is there (it may hold cases this checkout has never seen).
. "$(dirname "$0")/common.bash"

run_case() { # run_case DIR
    local dir=$1 name n=0 line cmd want_exit want_file got
    name=$(basename "$dir")
    local D="$WORK/$name-$RANDOM"
    # One command per line, continuations joined.
    sed -n '/^    celltrace /,/[^\\]$/p' "$dir/README.md" |
        awk '{ sub(/^ +/, ""); if (sub(/\\$/, "")) { buf = buf $0 " " } else { print buf $0; buf = "" } }' \
            >"$WORK/commands"
    [ -s "$WORK/commands" ] || fail "$dir/README.md names no celltrace command"
    while IFS= read -r line; do
        n=$((n + 1))
        cmd=${line%%#*}
        want_exit=0 want_file=""
        case $line in *"# exit "[0-9]*) want_exit=$(echo "$line" | sed 's/.*# exit \([0-9]*\).*/\1/') ;; esac
        case $line in *"# = "*) want_file=$(echo "$line" | sed 's/.*# = \([^ ]*\).*/\1/') ;; esac
        read -r -a words <<<"${cmd#celltrace }"
        [ "${words[0]}" = --data ] && [ "${words[1]}" = D ] || fail "$name: command $n lacks --data D: $line"
        (cd "$dir" && "$CT" --data "$D" "${words[@]:2}" >"$WORK/out" 2>"$WORK/err")
        got=$?
        [ "$got" = "$want_exit" ] || { cat "$WORK/err" >&2; fail "$name: exit $got, expected $want_exit: $line"; }
        if [ -n "$want_file" ]; then
            expect_same "$dir/$want_file" "$WORK/out"
        fi
    done <"$WORK/commands"
    echo "$name: $n commands as its README says" >&2
}

cases=0
for dir in "$SRC"/conformance/*/ "$SHARED"/conformance/*/; do
    [ -f "$dir/README.md" ] || continue
    run_case "${dir%/}"
    cases=$((cases + 1))
done
[ "$cases" -ge 1 ] || fail "no conformance case found under $SRC/conformance"
exit 0
