#!/usr/bin/env bash
# bench/run.sh: throughput on the paths users run, one JSON line per measurement
# (docs/performance.md explains the figures and gives a run of this script).
#
#   bash bench/run.sh [--reps N] [--threads "1 2"] [--seconds S] [--callgrind] [--quick]
#
# It builds its own inputs with synthpix (flow files from bench/inputs/*.yaml), then runs,
# back to back:
#   bench        `synthpix bench --json --no-bandwidth` for each configuration, thread count
#                and repetition: cylinder (SynthPix's cylinder.yaml, 256^2 .flo per pair),
#                main (SynthPix's main.yaml, 1024^2 .npy per pair), large_npy and
#                large_analytic (1216x1936, batch 2, a new flow every batch, from .npy files
#                or built in), synthpix_like_1216x1936 (bench/), default (the embedded
#                default), and cylinder_reuse (cylinder with batches_per_flow_batch 1000:
#                the same work without loading a flow per pair)
#   load_cost    per thread count: cylinder against cylinder_reuse, from the bench lines
#   writer       `synthpix generate -n 2000` (--quick: 400) of the default as --format npy
#                and --format h5 into the work folder (on /dev/shm when it exists)
#   page_faults  `perf stat -e page-faults` (or GNU time's minor faults) of bench --pairs N1
#                and N2: the steady-state faults per pair are the difference over N2 - N1
#   callgrind    (--callgrind) instructions per pair inside sp_sampler_next, 1 thread:
#                valgrind --tool=callgrind --toggle-collect=sp_sampler_next ... bench
#                --pairs N; the count covers the warm-up batch too, so it is divided by
#                the pairs rendered (N rounded up to whole batches) + batch_size. Work
#                of the prefetch thread is outside the count.
# Environment: SYNTHPIX (default build/synthpix), WORK (default a fresh folder under
# /dev/shm or /tmp, removed at the end; a given WORK is left as it is).
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=3
THREADS="1 2"
SECONDS_EACH=3
CALLGRIND=0
QUICK=0
while [ $# -gt 0 ]; do
    case "$1" in
    --reps) REPS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --seconds) SECONDS_EACH="$2"; shift 2 ;;
    --callgrind) CALLGRIND=1; shift ;;
    --quick) QUICK=1; REPS=1; SECONDS_EACH=1; shift ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

SP="${SYNTHPIX:-build/synthpix}"
[ -x "$SP" ] || { echo "bench/run.sh: $SP not found; run make first (or set SYNTHPIX)" >&2; exit 2; }
SP="$(cd "$(dirname "$SP")" && pwd)/$(basename "$SP")"
OWN_WORK=0
if [ -z "${WORK:-}" ]; then
    base=/tmp
    [ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
    WORK="$(mktemp -d "$base/synthpix-bench.XXXXXX")"
    OWN_WORK=1
fi
cleanup() { if [ "$OWN_WORK" = 1 ]; then rm -rf -- "$WORK"; fi; }
trap cleanup EXIT

log() { echo "bench/run.sh: $*" >&2; }

# ---- inputs ------------------------------------------------------------------------------
# flows DIR CONFIG N EXT: N flow files of CONFIG into $WORK/flows/DIR, named as the .flo and
# .npy sources look for them (any *.flo; flow_*.npy).
flows() {
    local dir="$1" cfg="$2" n="$3" ext="$4" out="$WORK/gen-$1"
    [ -d "$WORK/flows/$dir" ] && return 0
    log "writing $n flows to $WORK/flows/$dir"
    "$SP" generate -q -c "$cfg" -n "$n" -o "$out" --format "$( [ "$ext" = flo ] && echo png || echo npy )"
    mkdir -p "$WORK/flows/$dir"
    local i=0 f
    for f in "$out"/pair_*_flow."$ext"; do
        mv -- "$f" "$WORK/flows/$dir/flow_$(printf %04d $i).$ext"
        i=$((i + 1))
    done
    rm -rf -- "$out"
}
flows flo256 bench/inputs/flows_256x256.yaml 40 flo
flows npy1024 bench/inputs/flows_1024x1024.yaml 8 npy
flows npy1216x1936 bench/inputs/flows_1216x1936.yaml 6 npy

mkdir -p "$WORK/configs"
cp bench/configs/*.yaml bench/synthpix_like_1216x1936.yaml "$WORK/configs/"
sed 's/^batches_per_flow_batch: 1$/batches_per_flow_batch: 1000/' bench/configs/cylinder.yaml \
    > "$WORK/configs/cylinder_reuse.yaml"
# The configurations find their flows at flows/... next to them.
ln -sfn "$WORK/flows" "$WORK/configs/flows"

cfg_arg() { [ "$1" = default ] && return 0; echo "-c $WORK/configs/$1.yaml"; }

# ---- bench -------------------------------------------------------------------------------
CONFIGS="cylinder cylinder_reuse main large_npy large_analytic synthpix_like_1216x1936 default"
declare -A PPS_SUM
for t in $THREADS; do
    for r in $(seq 1 "$REPS"); do
        for c in $CONFIGS; do
            # shellcheck disable=SC2046
            j=$("$SP" bench $(cfg_arg "$c") --threads "$t" --seconds "$SECONDS_EACH" --json --no-bandwidth)
            echo "{\"measure\": \"bench\", \"config\": \"$c\", \"rep\": $r, ${j#\{}"
            pps=$(echo "$j" | sed 's/.*"pairs_per_second": \([0-9.]*\).*/\1/')
            PPS_SUM[$c/$t]=$(awk -v a="${PPS_SUM[$c/$t]:-0}" -v b="$pps" 'BEGIN { print a + b }')
        done
    done
done
for t in $THREADS; do
    awk -v t="$t" -v a="${PPS_SUM[cylinder/$t]}" -v b="${PPS_SUM[cylinder_reuse/$t]}" \
        -v c="${PPS_SUM[large_npy/$t]}" -v d="${PPS_SUM[large_analytic/$t]}" 'BEGIN {
        printf "{\"measure\": \"load_cost\", \"threads\": %d, \"cylinder_per_pair_over_reused\": %.4f, ", t, a / b
        printf "\"large_npy_over_large_analytic\": %.4f}\n", c / d }'
done

# ---- writers -----------------------------------------------------------------------------
WRITE_PAIRS=2000
[ "$QUICK" = 1 ] && WRITE_PAIRS=400
for t in $THREADS; do
    for r in $(seq 1 "$REPS"); do
        line="{\"measure\": \"writer\", \"threads\": $t, \"rep\": $r, \"pairs\": $WRITE_PAIRS"
        for fmt in npy h5; do
            rm -rf -- "$WORK/out-$fmt"
            t0=$(date +%s.%N)
            "$SP" generate -q -n "$WRITE_PAIRS" --threads "$t" --format "$fmt" -o "$WORK/out-$fmt"
            t1=$(date +%s.%N)
            line="$line, \"${fmt}_pairs_per_second\": $(awk -v a="$t0" -v b="$t1" -v n="$WRITE_PAIRS" 'BEGIN { printf "%.2f", n / (b - a) }')"
            rm -rf -- "$WORK/out-$fmt"
        done
        echo "$line}"
    done
done

# ---- page faults ---------------------------------------------------------------------------
faults() { # faults CONFIG PAIRS: minor page faults of one bench run
    local out
    # shellcheck disable=SC2046
    if command -v perf > /dev/null && out=$(perf stat -x, -e page-faults "$SP" bench $(cfg_arg "$1") --threads 1 \
        --pairs "$2" --no-bandwidth 2>&1 > /dev/null); then
        echo "$out" | awk -F, '/page-faults/ { print $1 }'
    else
        # shellcheck disable=SC2046
        /usr/bin/time -f %R "$SP" bench $(cfg_arg "$1") --threads 1 --pairs "$2" --no-bandwidth 2>&1 > /dev/null | tail -n 1
    fi
}
for c in cylinder default; do
    n1=40 n2=240
    f1=$(faults "$c" $n1)
    f2=$(faults "$c" $n2)
    awk -v c="$c" -v a="$f1" -v b="$f2" -v n1=$n1 -v n2=$n2 'BEGIN {
        printf "{\"measure\": \"page_faults\", \"config\": \"%s\", \"faults_%d_pairs\": %d, \"faults_%d_pairs\": %d, \"steady_faults_per_pair\": %.3f}\n", c, n1, a, n2, b, (b - a) / (n2 - n1) }'
done

# ---- callgrind -------------------------------------------------------------------------------
if [ "$CALLGRIND" = 1 ]; then
    command -v valgrind > /dev/null || { log "valgrind not installed: no instruction counts"; exit 0; }
    for c in cylinder main large_npy synthpix_like_1216x1936 default; do
        case "$c" in main|large_npy|synthpix_like_1216x1936) n=8 ;; *) n=100 ;; esac
        cg="$WORK/callgrind.$c"
        # shellcheck disable=SC2046
        j=$(valgrind --tool=callgrind --toggle-collect=sp_sampler_next --callgrind-out-file="$cg" \
            "$SP" bench $(cfg_arg "$c") --threads 1 --pairs "$n" --no-bandwidth --json 2> /dev/null)
        total=$(awk '/^summary:/ { print $2 }' "$cg")
        # The pairs rendered: whole batches, so --pairs N rounds up to a multiple of the batch.
        np=$(echo "$j" | sed 's/.*"pairs": \([0-9]*\).*/\1/')
        b=$(echo "$j" | sed 's/.*"batch_size": \([0-9]*\).*/\1/')
        awk -v c="$c" -v t="$total" -v n="$np" -v b="$b" 'BEGIN {
            printf "{\"measure\": \"callgrind\", \"config\": \"%s\", \"pairs\": %d, \"warmup_pairs\": %d, \"instructions\": %.0f, \"instructions_per_pair\": %.0f}\n", c, n, b, t, t / (n + b) }'
        rm -f -- "$cg"
    done
fi
