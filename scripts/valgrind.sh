#!/usr/bin/env bash
# Runs the whole test suite under valgrind memcheck (issue 6): every unit
# test binary, and every golden test with the celltrace binary wrapped in
# valgrind. Fails on any memcheck error or leak. Slow (tens of minutes):
# a separate command, not part of `make check`. The golden sweeps run a
# sample of their cases under valgrind (CT_TEST_LIGHT, tests/golden/common.bash).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || apt-get install -y -qq valgrind
BUILD=build-valgrind
cmake -S . -B $BUILD -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build $BUILD -j "$(nproc)" >/dev/null
VG=(valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --track-origins=yes)
wrapper=$PWD/$BUILD/celltrace-vg
printf '#!/bin/sh\nexec %s %s "$@"\n' "${VG[*]}" "$PWD/$BUILD/celltrace" >"$wrapper"
chmod +x "$wrapper"
failed=0
for t in $BUILD/tests/test_*; do
    [ -x "$t" ] || continue
    # the random cross-checks run fewer rounds: valgrind is ~30x slower
    if CT_CROSS_ROUNDS=20 CT_SCORE_ROUNDS=5 CT_TEST_TMP=$PWD/$BUILD/tmp "${VG[@]}" "$t" >"$BUILD/vg-$(basename "$t").log" 2>&1; then
        echo "ok    $(basename "$t")"
    else
        echo "FAIL  $(basename "$t") (see $BUILD/vg-$(basename "$t").log)"
        failed=$((failed + 1))
    fi
done
for g in tests/golden/*.sh; do
    case $g in *kill_ingest*|*api_kill*) continue ;; esac # SIGKILL under valgrind proves nothing
    if CT_TEST_LIGHT=1 KILLS=3 bash "$g" "$wrapper" "$PWD/tests" "$PWD/../shared" \
        >"$BUILD/vg-$(basename "$g").log" 2>&1; then
        echo "ok    $(basename "$g")"
    else
        echo "FAIL  $(basename "$g") (see $BUILD/vg-$(basename "$g").log)"
        failed=$((failed + 1))
    fi
done
echo "valgrind: $failed failing"
[ $failed = 0 ]
