# Golden test: celltrace-mpi (docs/CLUSTER.md) answers byte for byte as
# celltrace on the same data, with 1, 2 and 3 ranks on this machine
# (oversubscribed): ingest summaries, stats, trace --all plain, scored and
# by level, a single case's table, two deliveries, `run` after each (the
# shards' stored contacts and queued messages together equal one
# machine's); the conformance case;
# and a rank killed at each step of the two-phase ingest leaves the
# cluster at the old generation or the new one, never between, with the
# next job continuing and a rerun completing.
. "$(dirname "$0")/common.bash"
MPI="$(dirname "$CT")/celltrace-mpi"
if [ ! -x "$MPI" ] || ! command -v mpirun >/dev/null; then
    echo "SKIP: celltrace-mpi or mpirun missing (apt-get install openmpi-bin libopenmpi-dev)" >&2
    exit 77
fi
ROOT_FLAG=()
[ "$(id -u)" = 0 ] && ROOT_FLAG=(--allow-run-as-root)
# Shared memory between ranks without cross-memory attach (containers).
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# mpirun waits a second or two before it ends a job whose rank exited
# non-zero (3 is only "rows rejected"); the ranks have exited already.
export OMPI_MCA_odls_base_sigkill_timeout=0
# Under ASan (make check-asan) Open MPI leaks at MPI_Finalize from its
# dlopen'ed components, whose frames LeakSanitizer can neither name nor
# suppress: the ranks are checked for memory errors, not leaks (the
# library's leaks are checked by every other test).
mpi() { # mpi N ARGS...: celltrace-mpi on N ranks
    local n=$1
    shift
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
        mpirun --oversubscribe --bind-to none "${ROOT_FLAG[@]}" -n "$n" "$MPI" "$@"
}
# The mpirun wrapper prints its own lines when a rank exits non-zero: only
# celltrace's lines are compared.
ours() { grep -v -e '^---' -e 'mpirun' -e 'Primary job' -e 'non-zero' -e 'Process name' \
              -e 'Exit code' -e 'job has been aborted' -e 'the job to be terminated' \
              -e '^ *$' "$1"; }

expect_exit 0 "$CT" simulate --out "$WORK/city" --subscribers 3000 --days 4 --seed 5 --cases 12
OPS=$(ls "$WORK/city" | grep -v '\.')
REGIONS=$(awk -F, 'FNR == 1 { for (i = 1; i <= NF; i++) if ($i == "region") c = i; next }
                   c && $c != "" { print $c }' "$WORK"/city/*/cells.csv | sort -u)
part() { # part OP 1|2: the first or second half of OP's feed files
    local files
    mapfile -t files < <(ls "$WORK/city/$1/events/"*)
    local half=$(((${#files[@]} + 1) / 2))
    if [ "$2" = 1 ]; then printf '%s\n' "${files[@]:0:half}"; else printf '%s\n' "${files[@]:half}"; fi
}

# A run of a whole job: init, cells, the first deliveries, cases, traces,
# the second deliveries, traces. $1: a label; the rest: the command
# prefix. Outputs land in $WORK/<label>.*; summaries in $WORK/<label>.log.
job() {
    local label=$1 op
    shift
    local D="$WORK/$label-data"
    "$@" --data "$D" init >/dev/null 2>&1 || fail "$label: init"
    : >"$WORK/$label.log"
    for op in $OPS; do
        "$@" --data "$D" cells import --operator "$op" "$WORK/city/$op/cells.csv" >>"$WORK/$label.log" 2>/dev/null ||
            fail "$label: cells import"
    done
    for op in $OPS; do
        # shellcheck disable=SC2046
        "$@" --quiet --data "$D" ingest --operator "$op" $(part "$op" 1) >>"$WORK/$label.log" 2>/dev/null
    done
    "$@" --data "$D" cases import "$WORK/city/cases.csv" >>"$WORK/$label.log" 2>/dev/null ||
        fail "$label: cases import"
    "$@" --data "$D" trace --all --format csv >"$WORK/$label.first.csv" 2>"$WORK/err" || fail "$label: trace"
    "$@" --data "$D" run >>"$WORK/$label.log" 2>/dev/null || fail "$label: run"
    for op in $OPS; do
        # shellcheck disable=SC2046
        "$@" --quiet --data "$D" ingest --operator "$op" $(part "$op" 2) >>"$WORK/$label.log" 2>/dev/null
    done
    "$@" --data "$D" trace --all --format csv >"$WORK/$label.all.csv" 2>/dev/null || fail "$label: trace --all"
    "$@" --data "$D" trace --all --score --format csv >"$WORK/$label.score.csv" 2>/dev/null ||
        fail "$label: trace --score"
    "$@" --data "$D" trace --all --level test --format json >"$WORK/$label.level.json" 2>/dev/null ||
        fail "$label: trace --level"
    "$@" --data "$D" trace C0003 C0001 --format csv >"$WORK/$label.two.csv" 2>/dev/null ||
        fail "$label: trace of two cases"
    "$@" --data "$D" trace C0002 >"$WORK/$label.table" 2>/dev/null || fail "$label: trace table"
    "$@" --data "$D" stats >"$WORK/$label.stats" 2>/dev/null || fail "$label: stats"
    head -6 "$WORK/$label.stats" >"$WORK/$label.stats6"
    # run again after the second deliveries (the cases whose windows got
    # data in any shard), then once more (nothing to do)
    "$@" --data "$D" run >>"$WORK/$label.log" 2>/dev/null || fail "$label: second run"
    "$@" --data "$D" run >>"$WORK/$label.log" 2>/dev/null || fail "$label: third run"
    # what the runs stored and queued: each shard is a data directory, and
    # together they must hold one machine's contacts and messages (the
    # time a row was written, and subscriber ids, aside)
    local dirs=("$D")
    [ -d "$D/shard-000" ] && dirs=("$D"/shard-*)
    for r in $REGIONS; do
        for d in "${dirs[@]}"; do
            "$CT" --data "$d" export --region "$r" --format csv 2>/dev/null | tail -n +2
        done | cut -d, -f1-8,10- | sort >"$WORK/$label.export.$r"
    done
    for d in "${dirs[@]}"; do
        "$CT" --data "$d" outbox list --format csv 2>/dev/null | tail -n +2
    done | awk -F, '{ n = split($2, key, "-"); print $3 "," $4 "," $5 "," $6 "," $7 "," $8 "," key[1] "," key[n] }' |
        sort >"$WORK/$label.outbox"
}

job single "$CT"
[ "$(wc -l <"$WORK/single.all.csv")" -gt 1000 ] || fail "the city should give many contacts"
[ "$(cat "$WORK"/single.export.* | wc -l)" -gt 1000 ] || fail "the runs should store many contacts"
[ "$(wc -l <"$WORK/single.outbox")" -gt 100 ] || fail "the runs should queue many messages"
grep -q "^0 of 12 cases traced" "$WORK/single.log" || fail "the third run should trace nothing"
[ "$(grep -c '^[1-9][0-9]* of 12 cases traced' "$WORK/single.log")" = 2 ] ||
    fail "the first and second runs should trace cases"
cmp -s "$WORK/single.first.csv" "$WORK/single.all.csv" && fail "the second deliveries should change contacts"
for n in 1 2 3; do
    job "mpi$n" mpi "$n"
    for out in log first.csv all.csv score.csv level.json two.csv table stats6 outbox; do
        expect_same "$WORK/single.$out" "$WORK/mpi$n.$out"
    done
    for r in $REGIONS; do expect_same "$WORK/single.export.$r" "$WORK/mpi$n.export.$r"; done
    [ -d "$WORK/mpi$n-data/shard-00$((n - 1))" ] || fail "expected $n shards"
done
# Each shard holds only its own subscribers: with 3 shards no shard holds
# them all, and together they hold each once (stats sums them).
for k in 0 1 2; do
    "$CT" --data "$WORK/mpi3-data/shard-00$k" stats >"$WORK/shard.stats" 2>/dev/null
    subs=$(sed -n 's/^subscribers *//p' "$WORK/shard.stats")
    [ "$subs" -gt 0 ] && [ "$subs" -lt 3000 ] || fail "shard $k holds $subs subscribers"
done
# A cluster is run with its own number of ranks.
expect_exit 1 mpi 2 --data "$WORK/mpi3-data" stats
expect_grep "cluster of 3 shards: run it with mpirun -n 3" "$WORK/err"
expect_exit 2 mpi 3 --data "$WORK/mpi3-data" trace C0001 --explain 79000000000
expect_exit 1 mpi 3 --data "$WORK/mpi3-data" trace NOPE
expect_grep "no case with case_id NOPE" "$WORK/err"

# The conformance case on 2 ranks: rejected rows reported, K1 exact.
C="$SRC/conformance/basic"
D="$WORK/conf"
# (its keys off the data directory: one key folder per shard, one keyring)
expect_exit 0 mpi 2 --data "$D" init --key-dir "$WORK/conf-keys"
cmp -s "$WORK/conf-keys/shard-000/keyring" "$WORK/conf-keys/shard-001/keyring" || fail "shards' keyrings differ"
[ "$(stat -c %a "$WORK/conf-keys/shard-001/keyring")" = 600 ] || fail "a shard's keyring is not 0600"
[ -e "$D/shard-001/keys/keyring" ] && fail "a shard keeps its keys inside its data directory"
expect_exit 2 mpi 2 --data "$WORK/conf-pass" init --key-provider passphrase
expect_exit 0 mpi 2 --data "$D" cells import --operator 250-01 "$C/cells_250-01.csv"
expect_exit 0 mpi 2 --data "$D" cells import --operator 250-02 "$C/cells_250-02.csv"
expect_exit 3 mpi 2 --data "$D" ingest --operator 250-01 "$C/events_250-01.csv"
expect_grep "19 rows read, 13 stored, 2 duplicates, 4 rejected" "$WORK/out"
expect_grep "events_250-01.csv,17,msisdn," "$(ls "$D"/shard-000/rejects/*.csv)"
expect_exit 0 mpi 2 --data "$D" ingest --operator 250-02 "$C/events_250-02.csv"
expect_exit 0 mpi 2 --data "$D" cases import "$C/cases.csv"
expect_exit 0 mpi 2 --data "$D" trace K1 --format csv
expect_same "$C/expected_K1.csv" "$WORK/out"
expect_exit 0 mpi 2 --data "$D" trace K1 --format csv --min-exposure 600 --max-presence 1800 --distance 500
expect_same "$C/expected_K1_params.csv" "$WORK/out"

# A case_id is one case in the whole cluster: the same id with another
# number (so in another shard) is rejected as one machine rejects it, from
# the registry or from earlier in the file, and its number is kept alike.
printf 'case_id,msisdn,onset\nX1,79990000001,2020-03-24\nX1,79990000002,2020-03-24\nX2,79990000003,2020-03-24\nX2,79990000003,2020-03-24\nK1,79990000009,2020-03-24\n' \
    >"$WORK/conflicts.csv"
for n in 1 2 3; do
    if [ "$n" = 1 ]; then run=("$CT"); else run=(mpi "$n"); fi
    "${run[@]}" --data "$WORK/ids$n" init >/dev/null 2>&1
    "${run[@]}" --data "$WORK/ids$n" cases import "$C/cases.csv" >"$WORK/ids$n.out" 2>/dev/null
    "${run[@]}" --data "$WORK/ids$n" cases import "$WORK/conflicts.csv" >>"$WORK/ids$n.out" 2>/dev/null
    "${run[@]}" --data "$WORK/ids$n" stats 2>/dev/null | head -1 >>"$WORK/ids$n.out"
    [ "$n" = 1 ] || expect_same "$WORK/ids1.out" "$WORK/ids$n.out"
done
expect_grep "5 rows read, 2 stored, 1 duplicates, 2 rejected" "$WORK/ids1.out"


# The reference: one machine after the first deliveries and the first
# operator's second delivery.
first_op=$(echo "$OPS" | head -1)
R="$WORK/ref-data"
"$CT" --data "$R" init >/dev/null 2>&1
for op in $OPS; do
    "$CT" --data "$R" cells import --operator "$op" "$WORK/city/$op/cells.csv" >/dev/null 2>&1
    # shellcheck disable=SC2046
    "$CT" --quiet --data "$R" ingest --operator "$op" $(part "$op" 1) >/dev/null 2>&1
done
"$CT" --data "$R" cases import "$WORK/city/cases.csv" >/dev/null 2>&1
# shellcheck disable=SC2046
"$CT" --quiet --data "$R" ingest --operator "$first_op" $(part "$first_op" 2) >/dev/null 2>&1
"$CT" --data "$R" trace --all --format csv >"$WORK/ref.csv" 2>/dev/null || fail "reference trace"
cmp -s "$WORK/ref.csv" "$WORK/single.first.csv" && fail "the killed delivery should change contacts"

K="$WORK/kill-data"
expect_exit 0 mpi 3 --data "$K" init
for op in $OPS; do
    expect_exit 0 mpi 3 --data "$K" cells import --operator "$op" "$WORK/city/$op/cells.csv"
    # shellcheck disable=SC2046
    mpi 3 --quiet --data "$K" ingest --operator "$op" $(part "$op" 1) >/dev/null 2>&1
done
expect_exit 0 mpi 3 --data "$K" cases import "$WORK/city/cases.csv"
for where in routed:2 prepared:1 prepared:0; do
    # shellcheck disable=SC2046
    CT_CLUSTER_FAULT=$where mpi 3 --quiet --data "$K" ingest --operator "$first_op" \
        $(part "$first_op" 2) >"$WORK/out" 2>"$WORK/err" && fail "the ingest killed at $where succeeded"
    expect_exit 0 mpi 3 --data "$K" trace --all --format csv
    expect_same "$WORK/single.first.csv" "$WORK/out" # the old generation, everywhere
    if ls "$K"/shard-*/store/MANIFEST.c* >/dev/null 2>&1; then fail "a pending manifest outlived $where"; fi
done
# Killed after the commit: the next job finds the new generation everywhere.
# shellcheck disable=SC2046
CT_CLUSTER_FAULT=committed:0 mpi 3 --quiet --data "$K" ingest --operator "$first_op" \
    $(part "$first_op" 2) >"$WORK/out" 2>"$WORK/err" && fail "the ingest killed after its commit succeeded"
expect_exit 0 mpi 3 --data "$K" trace --all --format csv
expect_same "$WORK/ref.csv" "$WORK/out"
# Rerunning it completes nothing more: every row is a duplicate now.
# shellcheck disable=SC2046
expect_exit 3 mpi 3 --quiet --data "$K" ingest --operator "$first_op" $(part "$first_op" 2)
expect_grep " 0 stored, " "$WORK/out"
expect_exit 0 mpi 3 --data "$K" trace --all --format csv
expect_same "$WORK/ref.csv" "$WORK/out"

# ---- a rank killed during a run -----------------------------------------------------------
# One machine's run on the same data is the reference: what the shards
# store and queue together after the kill and a new run.
stored() { # stored LABEL DIR...: the contacts and messages of the directories
    local label=$1 r d
    shift
    for r in $REGIONS; do
        for d in "$@"; do "$CT" --data "$d" export --region "$r" --format csv 2>/dev/null | tail -n +2; done |
            cut -d, -f1-8,10- | sort >"$WORK/$label.export.$r"
    done
    for d in "$@"; do "$CT" --data "$d" outbox list --format csv 2>/dev/null | tail -n +2; done |
        awk -F, '{ n = split($2, key, "-"); print $3 "," $4 "," $5 "," $6 "," $7 "," $8 "," key[1] "," key[n] }' |
        sort >"$WORK/$label.outbox"
}
expect_exit 0 "$CT" --data "$R" run
cp "$WORK/out" "$WORK/ref.run"
stored ref "$R"
# killed while tracing: no shard commits; the next run does all of it
CT_CLUSTER_FAULT=run-traced:1 mpi 3 --data "$K" run >"$WORK/out" 2>"$WORK/err" && fail "the killed run succeeded"
stored killed "$K"/shard-*
[ -s "$WORK/killed.outbox" ] && fail "a run killed before any commit queued messages"
expect_exit 0 mpi 3 --data "$K" run
expect_same "$WORK/ref.run" "$WORK/out"
stored after "$K"/shard-*
for f in outbox $(for r in $REGIONS; do echo "export.$r"; done); do expect_same "$WORK/ref.$f" "$WORK/after.$f"; done
# killed after its own commit, the others' commits racing with the kill:
# the next run traces again what any shard lacks, and the shards end as
# one machine, with nothing queued twice
"$CT" --data "$R" cases import "$WORK/city/cases.csv" >/dev/null 2>&1
mpi 3 --quiet --data "$K" --reason "more data" ingest --operator "$(echo "$OPS" | tail -1)" \
    $(part "$(echo "$OPS" | tail -1)" 2) >/dev/null 2>&1
# shellcheck disable=SC2046
"$CT" --quiet --data "$R" ingest --operator "$(echo "$OPS" | tail -1)" $(part "$(echo "$OPS" | tail -1)" 2) >/dev/null 2>&1
expect_exit 0 "$CT" --data "$R" run
stored ref2 "$R"
CT_CLUSTER_FAULT=run-committed:2 mpi 3 --data "$K" run >"$WORK/out" 2>"$WORK/err" && fail "the killed run succeeded"
expect_exit 0 mpi 3 --data "$K" run
expect_exit 0 mpi 3 --data "$K" run
expect_grep "^0 of 12 cases traced" "$WORK/out"
stored after2 "$K"/shard-*
for f in outbox $(for r in $REGIONS; do echo "export.$r"; done); do expect_same "$WORK/ref2.$f" "$WORK/after2.$f"; done
echo "cluster: 1, 2 and 3 ranks identical to one machine; kills at routed, prepared, committed, run-traced, run-committed"
