#!/bin/sh
# Whole-model CPU benchmark: synthetic Llama-3.2-1B-shaped models in Q4_0 and Q4_K_M (written by
# hearth-synth), pp512 and tg128 with hearth bench, plus the machine's memory read bandwidth.
#   bench/llama1b_cpu.sh [BUILD_DIR] [THREADS] [REPS]     (JSON lines on stdout)
# Speeds depend on what else runs: on a shared machine, run it when the load average is near 0.
set -eu
build=${1:-build/release}
threads=${2:-2}
reps=${3:-5}
dir=${HEARTH_BENCH_MODELS:-${TMPDIR:-/tmp}/hearth-bench-models}
mkdir -p "$dir"
for type in q4_0 q4_k_m; do
  model="$dir/llama-3.2-1b-$type.gguf"
  [ -f "$model" ] || "$build/bin/hearth-synth" llama-3.2-1b -t "$type" -o "$model" >&2
done
"$build/bin/hearth" bench --memory -t "$threads" --json
for type in q4_0 q4_k_m; do
  "$build/bin/hearth" bench "$dir/llama-3.2-1b-$type.gguf" -p 512 -n 128 -r "$reps" -t "$threads" --json
done
