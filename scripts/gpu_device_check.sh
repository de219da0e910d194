#!/usr/bin/env bash
# Runs on the GPU machine of the `device` tool, from the repository root, with gpu-carry/
# carried (scripts/gpu_carry.sh prepares it). Writes every log under $OUT (default out/):
#   env.txt          GPU, driver, the CUDA libraries found
#   gpu_tests.txt    the ignored GPU tests (agreement with the CPU, f64 and f32): population
#   gpu_data_tests.txt                                   and the data modes
#   bench_gpu.jsonl  meanfield bench on the GPU: pop1, pop2, data1, data2 (f64, f32),
#                    m = 65,536, 262,144 (f64, f32), 10^6
#   peers_gpu.json   peer_step.py with torch on the GPU (eager and compile, f32 and f64)
#   threads.jsonl    CPU strong scaling 1..16 threads on pop2 and data2 (issue 7)
# Each part has its own time limit, cut to what is left of a 570 s deadline (a `run` call may
# take 600 s), so that one slow part leaves the others' results and the last parts are the
# first to go: the GPU tests, then meanfield's GPU bench, the torch peers, the CPU scaling.
set -uo pipefail
out="${OUT:-out}"
mkdir -p "$out"
carry=gpu-carry
bin="$carry/meanfield"
exec > >(tee "$out/log.txt") 2>&1
deadline=$((SECONDS + 570))
# cap S: S seconds, or what is left before the deadline (at least 1).
cap() {
    local left=$((deadline - SECONDS))
    ((left < 1)) && left=1
    echo $(($1 < left ? $1 : left))
}

# CUDA libraries: cudarc (bindings of CUDA 12.8) opens libcuda.so.1 and libnvrtc.so or .so.12;
# a CUDA 13 toolkit ships libnvrtc.so.13, which gets an unversioned link here.
libs=/tmp/meanfield-cuda-libs
mkdir -p "$libs"
nvrtc=$(ls /usr/local/cuda/lib64/libnvrtc.so* 2>/dev/null | head -1)
[[ -z "$nvrtc" ]] && nvrtc=$(find / -name 'libnvrtc.so*' -not -name '*builtins*' 2>/dev/null | head -1)
if [[ -n "$nvrtc" ]]; then
    ln -sf "$nvrtc" "$libs/libnvrtc.so"
    export LD_LIBRARY_PATH="$libs:$(dirname "$nvrtc"):${LD_LIBRARY_PATH:-}"
fi
{
    nvidia-smi || true
    echo "nvrtc: ${nvrtc:-not found}"
    ldconfig -p | grep -E 'libcuda\.so|libnvrtc' || true
    nproc
} > "$out/env.txt" 2>&1

echo "== GPU tests"
MEANFIELD_ROOT="$PWD" timeout "$(cap 90)" "$carry/gpu-tests" --ignored --nocapture --test-threads 1 > "$out/gpu_tests.txt" 2>&1
echo "gpu tests: exit $?"; tail -5 "$out/gpu_tests.txt"
MEANFIELD_ROOT="$PWD" timeout "$(cap 90)" "$carry/gpu-data-tests" --ignored --nocapture --test-threads 1 > "$out/gpu_data_tests.txt" 2>&1
echo "gpu data tests: exit $?"; tail -5 "$out/gpu_data_tests.txt"

echo "== meanfield bench on the GPU"
{
    timeout "$(cap 30)" "$bin" bench --device cuda --case pop1,pop2,data1,data2 --json
    timeout "$(cap 30)" "$bin" bench --device cuda --precision f32 --case pop1,pop2,data1,data2 --json
    for m in 65536 262144; do
        timeout "$(cap 30)" "$bin" bench --device cuda --size "m=$m" --reps 5 --json
        timeout "$(cap 30)" "$bin" bench --device cuda --precision f32 --size "m=$m" --reps 5 --json
    done
    timeout "$(cap 90)" "$bin" bench --device cuda --size m=1000000 --reps 1 --json
} > "$out/bench_gpu.jsonl" 2> "$out/bench_gpu.err"
cat "$out/bench_gpu.jsonl"

echo "== torch on the GPU"
timeout "$(cap 180)" python3 "$carry/peer_step.py" --device cuda --cases pop1,pop2,pop65k,pop262k,data1,data2 \
    --backends torch64,torch32,torch64-compile,torch32-compile --reps 3 --json "$out/peers_gpu.json" \
    > "$out/peers_gpu.txt" 2>&1
echo "peers: exit $?"; grep -v '^#' "$out/peers_gpu.txt" | tail -30

echo "== CPU thread scaling"
for case in pop2 data2; do
    for t in 1 2 4 8 16; do
        timeout "$(cap 30)" "$bin" bench --case "$case" --threads "$t" --reps 3 --json
    done
done > "$out/threads.jsonl" 2> "$out/threads.err"
cat "$out/threads.jsonl"
