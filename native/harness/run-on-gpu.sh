#!/usr/bin/env bash
# One shot on a machine with an NVIDIA GPU and CUDA 13 (no Node.js or network needed):
# builds the kernels and the harness, validates every kernel on the GPU against the CPU
# reference (large cases included), times them against the device's measured peaks, compares
# conv3d with cuDNN when PyTorch is there, and prints a summary.
#
# Usage: native/harness/run-on-gpu.sh [OUTPUT_DIR]   (default: $OUT, else ./gpu-results)
# Exit status: 0 when the build and the validation pass, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:-${OUT:-gpu-results}}
mkdir -p "$out"
build=build/gpu
harness=$build/harness/voxseg_harness

step() { printf '\n== %s\n' "$*"; }

step "device"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$out/device.txt"

step "build"
started=$(date +%s)
if command -v cmake >/dev/null; then
  cmake -S . -B $build -DCMAKE_BUILD_TYPE=Release >"$out/build.log" 2>&1 &&
    cmake --build $build -j"$(nproc)" >>"$out/build.log" 2>&1
else
  # No CMake: the same harness in one nvcc call (sm_80, sm_90 and compute_90 PTX).
  mkdir -p $build/harness
  nvcc -std=c++17 -O3 -gencode arch=compute_80,code=sm_80 \
    -gencode arch=compute_90,code='[sm_90,compute_90]' \
    -DVOXSEG_HARNESS_KERNELS=1 -DVOXSEG_HARNESS_TIMING=1 -Ikernels/cuda -Inative/harness \
    kernels/cuda/*.cu native/harness/probes.cu \
    native/harness/{case,ops_common,cpu_reference,validate,reference_checks,shapes,main}.cc \
    native/harness/{device_ops,timing}.cc \
    -o $harness >"$out/build.log" 2>&1
fi
build_status=$?
echo "build status $build_status in $(($(date +%s) - started)) s (log: $out/build.log)"
if [ $build_status -ne 0 ]; then
  tail -40 "$out/build.log"
  exit 1
fi

step "CPU reference self-check"
$harness --cpu | tee "$out/reference.txt"

step "validation on the GPU"
$harness --validate --large | tee "$out/validate.txt"
validate_status=${PIPESTATUS[0]}

step "timing"
$harness --time --json "$out/timings.json" | tee "$out/timing.txt"
time_status=${PIPESTATUS[0]}

step "cuDNN comparison"
python3 native/harness/cudnn_conv3d.py --harness $harness --timings "$out/timings.json" \
  --json "$out/cudnn.json" 2>&1 | tee "$out/cudnn.txt"

step "summary"
{
  echo "device: $(grep -m1 '^device:' "$out/validate.txt" | cut -d' ' -f2-)"
  echo "reference: $(grep -E '^[0-9]+ passed' "$out/reference.txt")"
  echo "validation: $(grep -E '^[0-9]+ passed' "$out/validate.txt") (exit $validate_status)"
  grep -E '^FAIL' "$out/validate.txt" | head -20
  grep -m1 '^peaks:' "$out/timing.txt"
  echo "timing exit $time_status; slowest conv3d (auto) by fraction of peak:"
  grep '(auto)' "$out/timing.txt" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /%$/) print $i, $0}' |
    sort -n | head -5 | cut -d' ' -f2-
  grep -E 'geometric mean|skipped' "$out/cudnn.txt"
} | tee "$out/summary.txt"

[ "$validate_status" -eq 0 ]
