# Golden test: same options, same bytes (docs/SIMULATOR.md, "Determinism").
#
# One small city (metro, several cases, GPS fixes, roaming, late files,
# duplicates and dirty rows) is simulated twice under different
# surroundings: locale, time zone, working directory, length of the output
# path, and MALLOC_PERTURB_ (glibc fills fresh and freed memory with that
# byte, so a read of uninitialised heap memory shows up as a difference).
# The two trees must be byte-identical (diff -r).
#
# Across compilers: set CT_SIM_OTHER to a second celltrace binary (say a
# clang build when $CT is a gcc one) and its tree must be identical too.
# That is what once failed: the order of two random draws in one
# expression (function arguments, an initializer, the two operands of +)
# is left open by C, and gcc and clang chose differently.
. "$(dirname "$0")/common.bash"
case $CT in /*) ;; *) CT=$PWD/$CT ;; esac # the runs below change directory

OPTS="--subscribers 1200 --days 3 --seed 2024 --cases 6 --precise-share 0.5
      --roaming-rate 0.1 --late-rate 0.05 --duplicate-rate 0.01 --dirty-rate 0.01"

mkdir -p "$WORK/a" "$WORK/b/a/much/longer/path/to/the/output"
# shellcheck disable=SC2086
(cd "$WORK/a" && LC_ALL=C TZ=UTC MALLOC_PERTURB_=0 \
    "$CT" simulate --out city $OPTS >/dev/null 2>"$WORK/a.err") ||
    { cat "$WORK/a.err" >&2; fail "simulate (first run)"; }
# shellcheck disable=SC2086
(cd / && LC_ALL=C.UTF-8 TZ=Pacific/Kiritimati MALLOC_PERTURB_=165 \
    "$CT" simulate --out "$WORK/b/a/much/longer/path/to/the/output/city" $OPTS \
    >/dev/null 2>"$WORK/b.err") ||
    { cat "$WORK/b.err" >&2; fail "simulate (second run)"; }
[ -s "$WORK/a/city/truth.csv" ] || fail "no truth.csv"
diff -r "$WORK/a/city" "$WORK/b/a/much/longer/path/to/the/output/city" >&2 ||
    fail "two runs with the same options differ"

if [ -n "${CT_SIM_OTHER:-}" ]; then
    # shellcheck disable=SC2086
    "$CT_SIM_OTHER" simulate --out "$WORK/other" $OPTS >/dev/null 2>"$WORK/other.err" ||
        { cat "$WORK/other.err" >&2; fail "simulate ($CT_SIM_OTHER)"; }
    diff -r "$WORK/a/city" "$WORK/other" >&2 ||
        fail "$CT and $CT_SIM_OTHER write different bytes for the same options"
fi
exit 0
