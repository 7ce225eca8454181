#!/usr/bin/env bash
# Runs every libFuzzer target for a while and prints executions and crashes
# per target (`make fuzz` calls it after building build-fuzz/).
#
#   fuzz/run.sh BUILD_DIR SECONDS [JOBS] [TARGET...]
#
# Targets run JOBS at a time (default: the number of CPUs), each for
# SECONDS, starting from fuzz/corpus/<target> and growing
# fuzz/out/corpus/<target> (ignored by git). Logs: fuzz/out/<target>.log;
# crashing inputs: fuzz/out/crashes/<target>/. Exit status 1 if any target
# crashed. Environment: CT_FUZZ_TMP (scratch, default /dev/shm when
# writable; a folder per run is made there); CT_FUZZ_RUNS (stop each
# target after this many executions, SECONDS still being the cap).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run.sh BUILD_DIR SECONDS [JOBS] [TARGET...]}
seconds=${2:?usage: run.sh BUILD_DIR SECONDS [JOBS] [TARGET...]}
jobs=${3:-$(nproc)}
shift $(( $# < 3 ? $# : 3 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(csv textparse cells events cases segment manifest config keyring api)

declare -A max_len=([csv]=8192 [textparse]=2048 [cells]=8192 [events]=8192 [cases]=8192 [config]=4096 [keyring]=4096
                    [segment]=8192 [manifest]=16384 [api]=4096)
out="$here/out"
mkdir -p "$out"
if [ -z "${CT_FUZZ_TMP:-}" ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then CT_FUZZ_TMP=/dev/shm; else CT_FUZZ_TMP=${TMPDIR:-/tmp}; fi
fi
# one scratch folder per run, removed at the end (a target that crashes or
# is stopped by -max_total_time does not always clean up its own)
CT_FUZZ_TMP=$(mktemp -d "$CT_FUZZ_TMP/ct-fuzz-run.XXXXXX")
trap 'rm -rf "$CT_FUZZ_TMP"' EXIT
export CT_FUZZ_TMP
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for t in "${targets[@]}"; do
  len=${max_len[$t]:-8192}
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
  echo "fuzz: $t for ${seconds}s (max_len $len)" >&2
  (
    bin="$build/fuzz/fuzz_$t"
    mkdir -p "$out/corpus/$t" "$out/crashes/$t"
    if [ -x "$bin" ]; then
      "$bin" "$out/corpus/$t" "$here/corpus/$t" \
        -max_total_time="$seconds" -max_len="$len" -rss_limit_mb=2048 \
        -timeout=20 ${CT_FUZZ_RUNS:+-runs="$CT_FUZZ_RUNS"} -print_final_stats=1 -artifact_prefix="$out/crashes/$t/" \
        > "$out/$t.log" 2>&1 || true
    else
      echo "not built: no $bin (see the cmake warnings)" > "$out/$t.log"
    fi
  ) &
done
wait

status=0
printf '%-10s %14s %10s %8s %8s %s\n' target executions exec/s corpus crashes result
for t in "${targets[@]}"; do
  log="$out/$t.log"
  execs=$(awk '/^stat::number_of_executed_units:/ {v=$2} END {print v}' "$log")
  rate=$(awk '/^stat::average_exec_per_sec:/ {v=$2} END {print v}' "$log")
  corpus=$(find "$out/corpus/$t" -type f | wc -l)
  crashes=$(find "$out/crashes/$t" -type f | wc -l)
  result=ok
  if grep -q '^not built' "$log"; then
    result="not built"
  elif grep -qE '==[0-9]+==ERROR|runtime error:|fuzz property violated|ERROR: libFuzzer' "$log"; then
    result="CRASH: see $log"
    status=1
  elif [ -z "$execs" ]; then
    result="did not run: see $log"
    status=1
  fi
  printf '%-10s %14s %10s %8s %8s %s\n' "$t" "${execs:-0}" "${rate:-0}" "$corpus" "$crashes" "$result"
done
exit $status
