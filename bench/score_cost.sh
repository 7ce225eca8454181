#!/usr/bin/env bash
# What scoring costs (issue 7, docs/RISK.md section 8): every case of a
# data directory traced three ways, one after another for each case so
# the three see the same page cache and load:
#   plain      trace CASE --format csv              (SPEC 4's net)
#   score      trace CASE --format csv --score      (every contact scored)
#   level      trace CASE --format csv --level test (only test and above)
# Prints the median and the 90th percentile of each, in the library
# (trace --work) and for the whole process, and their ratios to plain.
#
# Usage: bench/score_cost.sh DATA_DIR [ROUNDS]   (ROUNDS passes, default 2;
# each case's median over the rounds is used). Needs a built celltrace.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${CELLTRACE_BIN:-$ROOT/build/celltrace}
DATA=${1:?usage: bench/score_cost.sh DATA_DIR [ROUNDS]}
ROUNDS=${2:-2}
export CELLTRACE_DATA=$DATA
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$B" --quiet cases list --format csv | tail -n +2 | cut -d, -f1 >"$WORK/ids"

one() { # mode case: prints "library_ms process_ms"
  local mode=$1 id=$2 args=(--format csv --work) t0 t1
  case $mode in
    score) args+=(--score) ;;
    level) args+=(--level test) ;;
  esac
  t0=$(date +%s%N)
  "$B" --quiet --reason "scoring cost benchmark" trace "$id" "${args[@]}" >/dev/null 2>"$WORK/err"
  t1=$(date +%s%N)
  local lib
  lib=$(grep -o '[0-9.]* ms,' "$WORK/err" | tr -d ' ms,')
  echo "$lib $(( (t1 - t0) / 1000 ))" | awk '{ printf "%s %.2f\n", $1, $2 / 1000 }'
}

for r in $(seq "$ROUNDS"); do
  while read -r id; do
    for mode in plain score level; do
      echo "$id $mode $r $(one "$mode" "$id")" >>"$WORK/times"
    done
  done <"$WORK/ids"
done

awk -v rounds="$ROUNDS" '
  { lib[$1 " " $2] = lib[$1 " " $2] " " $4; proc[$1 " " $2] = proc[$1 " " $2] " " $5; cases[$1] = 1 }
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function pct(list, q,   a, n, i, j, t, k) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    k = int(q * (n - 1) + 0.5) + 1
    return a[k]
  }
  END {
    split("plain score level", modes, " ")
    for (m = 1; m <= 3; m++) {
      L = ""; P = ""
      for (c in cases) { L = L " " median(lib[c " " modes[m]]); P = P " " median(proc[c " " modes[m]]) }
      l50[m] = pct(L, 0.5); l90[m] = pct(L, 0.9); p50[m] = pct(P, 0.5); p90[m] = pct(P, 0.9)
    }
    printf "%d cases, %d rounds\n", length(cases), rounds
    printf "%-6s %12s %12s %14s %14s %10s %10s\n", "mode", "library p50", "library p90", "process p50", "process p90", "x plain", "x plain"
    for (m = 1; m <= 3; m++)
      printf "%-6s %9.1f ms %9.1f ms %11.1f ms %11.1f ms %9.2fx %9.2fx\n", modes[m], l50[m], l90[m], p50[m], p90[m], l50[m] / l50[1], p50[m] / p50[1]
    print "(x plain: library p50, then process p50)"
  }' "$WORK/times"
