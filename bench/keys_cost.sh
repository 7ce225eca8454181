#!/usr/bin/env bash
# What keeping keys apart costs (docs/KEYS.md): on a copy of a data
# directory, the time of each rotation, and of unlocking a passphrase
# keyring at each Argon2id cost; and a check that a trace of every case
# is byte-identical before and after the rotations.
#
# Usage: bench/keys_cost.sh DATA_DIR   (a file-provider directory; it is
# copied, never changed). Needs a built celltrace. Prints a table.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${CELLTRACE_BIN:-$ROOT/build/celltrace}
SRC=${1:?usage: bench/keys_cost.sh DATA_DIR}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
D="$WORK/data"
cp -a "$SRC" "$D"
export CELLTRACE_DATA=$D
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }

subs=$("$B" --quiet stats --format json | sed 's/.*"subscribers":\([0-9]*\).*/\1/')
cases=$("$B" --quiet cases list --format csv | tail -n +2 | cut -d, -f1 | head -5)
trace_all() { for c in $cases; do "$B" --quiet --reason "keys benchmark" trace "$c" --format csv; done; }
trace_all >"$WORK/before"
stats_ms=$(ms "$B" --quiet stats)
vault_ms=$(ms "$B" --quiet keys rotate --vault)
pseudo_ms=$(ms "$B" --quiet keys rotate --pseudonym)
both_ms=$(ms "$B" --quiet keys rotate --vault --pseudonym)
dlr_ms=$(ms "$B" --quiet keys rotate --dlr)
trace_all >"$WORK/after"
cmp -s "$WORK/before" "$WORK/after" || { echo "traces differ after rotation" >&2; exit 1; }
"$B" --quiet check >/dev/null || { echo "check failed after rotation" >&2; exit 1; }
bytes=$(stat -c %s "$D/subscribers.dat")

export CT_BENCH_PASS="benchmark passphrase, long enough"
row() { printf '| %-46s | %10s |\n' "$1" "$2"; }
echo "| what ($subs subscribers, subscribers.dat $bytes bytes) | ms |"
echo "|---|---:|"
row "stats (file provider, the floor of a command)" "$stats_ms"
row "keys rotate --vault" "$vault_ms"
row "keys rotate --pseudonym" "$pseudo_ms"
row "keys rotate --vault --pseudonym" "$both_ms"
row "keys rotate --dlr" "$dlr_ms"
for kdf in interactive moderate sensitive; do
  "$B" --quiet keys rewrap --provider passphrase --passphrase-env CT_BENCH_PASS --kdf "$kdf" >/dev/null
  row "stats, passphrase provider, --kdf $kdf" "$(ms "$B" --quiet stats)"
  row "keys rotate --vault --pseudonym, --kdf $kdf" "$(ms "$B" --quiet keys rotate --vault --pseudonym)"
done
trace_all >"$WORK/after2"
cmp -s "$WORK/before" "$WORK/after2" || { echo "traces differ after rewrap" >&2; exit 1; }
echo "traces of $(echo "$cases" | wc -w) cases byte-identical before and after; check clean"
