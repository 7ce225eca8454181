#!/usr/bin/env bash
# Regenerates models/risk-model.txt, the contact risk model built into
# celltrace (docs/RISK.md section 4): simulates the training cities,
# loads each into its own data directory, writes the evidence of every
# contact of the net with its truth label (`celltrace risk features`),
# and fits the model on all of them (`celltrace risk fit`).
#
# The training seeds (1-8) are never used to evaluate the model: the
# evaluation cities of docs/RISK.md use seeds 101-104. The cities vary
# size, density and the share of phones with GPS, so the fit does not
# learn one city's habits. Same binary, same model file, byte for byte.
#
# Usage: scripts/calibrate.sh [--out FILE] [--work DIR] [--version TEXT]
# Takes about 10 minutes and 3 GB of disk on the 2-core machine.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${CELLTRACE_BIN:-$ROOT/build/celltrace}
OUT=$ROOT/models/risk-model.txt
WORK=$ROOT/build/calibrate
VERSION="risk-1 (seeds 1-8)"
while [ $# -gt 0 ]; do
  case $1 in
    --out) OUT=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --version) VERSION=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "calibrate.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$B" ] || { echo "calibrate.sh: build celltrace first (make)" >&2; exit 1; }

# seed subscribers extra-simulate-options
CITIES=(
  "1 20000"
  "2 20000"
  "3 20000"
  "4 20000"
  "5 20000 --precise-share 0.4"
  "6 20000 --density 3000"
  "7 30000 --density 8000"
  "8 50000"
)

city() { # seed subscribers [options]: writes $WORK/features-<seed>.csv
  local seed=$1 subs=$2; shift 2
  local dir=$WORK/city-$seed
  rm -rf "$dir"
  mkdir -p "$dir"
  "$B" simulate --out "$dir/sim" --subscribers "$subs" --days 14 --seed "$seed" --cases 30 "$@" >/dev/null
  export CELLTRACE_DATA=$dir/data
  "$B" --quiet init >/dev/null 2>&1
  local op
  for op in "$dir"/sim/*/; do
    "$B" --quiet cells import --operator "$(basename "$op")" "$op/cells.csv" >/dev/null
  done
  for op in "$dir"/sim/*/; do
    "$B" --quiet ingest --compact now --operator "$(basename "$op")" --rejects "$dir/rejects.csv" "$op"/events/* >/dev/null \
      || [ $? -eq 3 ] # the simulator writes bad rows on purpose
  done
  "$B" --quiet cases import "$dir/sim/cases.csv" >/dev/null
  "$B" --quiet --reason "risk model calibration" risk features --truth "$dir/sim/truth.csv" \
    > "$WORK/features-$seed.csv"
  rm -rf "$dir" # the features are all the fit needs
  echo "calibrate.sh: city $seed ($subs people) done" >&2
}

mkdir -p "$WORK"
for c in "${CITIES[@]}"; do
  # shellcheck disable=SC2086
  city $c
done
files=()
for c in "${CITIES[@]}"; do
  files+=("features-${c%% *}.csv")
done
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
cd "$WORK" # the model file names the feature files as given: no path of this machine
"$B" risk fit --version "$VERSION" --out "$OUT" "${files[@]}"
