#!/usr/bin/env bash
# Scale-out benchmark (docs/scale-out.md): pairs/s of one process against P MPI ranks, and
# what a checkpoint costs at P = 1..4, all in one run on this machine. Not a test: it only
# prints figures.
#
#   bench/scale-out.sh [BUILD_DIR] [PAIRS] [CONFIG]      REPEAT=3 by default
#
# BUILD_DIR (default build) must hold synthpix and synthpix-mpi; PAIRS (default 600) pairs
# of CONFIG (default: the embedded default, 256x256) are written to a scratch directory
# under ${TMPDIR:-/tmp} and removed. Every run writes the same dataset (checked with diff).
# The throughput runs are interleaved REPEAT times (a shared machine's load drifts) and
# each line is printed, then the median per configuration.
# Checkpoint costs come from generate's closing note: the data made durable (with P > 1 the
# slowest rank's sync) and the step committed (with P > 1: from every rank's report to the
# step on disk), median and maximum over the run's checkpoints.
set -euo pipefail
build=${1:-build}
pairs=${2:-600}
repeat=${REPEAT:-3}
config=${3:-}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 # harmless when not root
mpirun=$(command -v mpirun || true)
[ -x "$build/synthpix" ] || { echo "scale-out.sh: $build/synthpix is not built" >&2; exit 2; }
[ -x "$build/synthpix-mpi" ] && [ -n "$mpirun" ] || { echo "scale-out.sh: needs $build/synthpix-mpi and mpirun (make deps)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/sp-scale-out.XXXXXX")
trap 'rm -rf "$work"' EXIT
cfg=()
[ -n "$config" ] && cfg=(-c "$config")

# run NAME P THREADS [extra generate options...]: prints pairs/s and the checkpoint note.
run() {
    local name=$1 P=$2 T=$3
    shift 3
    local out="$work/$name" log="$work/$name.log"
    if [ "$P" -eq 1 ]; then
        "$build/synthpix" generate "${cfg[@]}" -n "$pairs" -o "$out" --threads "$T" "$@" 2> "$log"
    else
        "$mpirun" --oversubscribe -n "$P" "$build/synthpix-mpi" generate "${cfg[@]}" -n "$pairs" -o "$out" \
            --threads "$T" "$@" 2> "$log"
    fi
    local rate note
    rate=$(sed -n 's/.*(\([0-9.]*\) pairs\/s.*/\1/p' "$log" | tail -n 1)
    note=$(sed -n 's/^synthpix: \([0-9]* checkpoints*: .*\)/\1/p' "$log")
    printf '%-34s %8s pairs/s   %s\n' "$name" "$rate" "${note:-}"
    if [ -d "$work/ref" ] && [ "$name" != ref ]; then
        diff -rq "$work/ref" "$out" > /dev/null || { echo "scale-out.sh: $name differs from the one-process dataset" >&2; exit 1; }
    fi
    rm -rf "$out" "$out.ck"
}

echo "synthpix scale-out: $pairs pairs of ${config:-the embedded default}, $(nproc) cores, $(date -u +%FT%TZ)"
"$build/synthpix" generate "${cfg[@]}" -n "$pairs" -o "$work/ref" -q --threads 1
echo "-- throughput (no checkpoints), $repeat interleaved rounds"
for r in $(seq "$repeat"); do
    run "P=1 x 1 thread" 1 1
    run "P=1 x 2 threads" 1 2
    run "P=2 x 1 thread" 2 1
done | tee "$work/rates"
echo "-- medians"
for name in "P=1 x 1 thread" "P=1 x 2 threads" "P=2 x 1 thread"; do
    grep -F "$name " "$work/rates" | awk '{print $(NF-1)}' | sort -n |
        awk -v n="$name" '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%-34s %8.1f pairs/s\n", n, m}'
done
echo "-- checkpoint cost (--checkpoint-every 5, 1 thread per rank)"
for P in 1 2 3 4; do
    run "P=$P checkpoints" "$P" 1 --checkpoint-dir "$work/P$P.ck" --checkpoint-every 5
done
