#!/usr/bin/env bash
# The GPU check of issue 9, in two halves (docs/GPU.md):
#
#   bench/gpu-check.sh prepare [DIR]   here, with Loom's toolchain: builds Loom,
#       runs the GPU lit tests that need no GPU, compiles the 42 test models
#       (fp32), the six real ones and the attention cases of the
#       flash-attention kernel again with fp16 tensor cores, and the
#       attention/GEMM benchmark models with --target=cuda (sm_90a by
#       default, LOOM_GPU_ARCH to change: on sm_90a the products use wgmma;
#       the GEMMs are also built for sm_80, mma.sync) into DIR (default
#       .gpucheck, ignored by git), with loom-run, the references and this
#       script's helpers.
#   bench/gpu-check.sh run [DIR]       on the GPU machine (CUDA driver, python3
#       with torch and numpy; no LLVM needed): the models against their torch
#       and numpy references on the GPU, then attention and GEMM against torch
#       in TFLOP/s. Writes models.txt, models16.txt, bench.txt and bench.json
#       to $OUT (the device tool's) or DIR/out. Meant to
#       finish within 8 minutes on an H200.
#   bench/gpu-check.sh dry-run [DIR]   here, without a GPU: prepare, then the
#       run half's steps with the kernels on the host (--target=cuda-host),
#       and checks that the GPU libraries fail cleanly (no GPU: DEVICE_ERROR).
#
# The device tool carries DIR (carry: [".gpucheck"]) and runs
#   bench/gpu-check.sh run
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mode="${1:-}"
dir="${2:-.gpucheck}"
arch="${LOOM_GPU_ARCH:-sm_90a}"
py=/usr/bin/python3
# Checked with fp16 tensor cores: the real models and the attention cases of
# the flash-attention kernel (loom-gpu-attention).
fp16_models='^real/|^attention/(causal|additive)$|^op/attention_(causal_long|gqa_dyn|decode|decode_split|mask_rank3|wide_cross|wide_causal)$'

prepare() {
  scripts/build.sh
  /usr/lib/llvm-22/bin/lit -sv build/test --filter 'gpu|cuda'
  rm -rf "$dir"
  mkdir -p "$dir/bin" "$dir/out"
  cp build/bin/loom-run "$dir/bin/"
  cp scripts/gpu_models.py bench/gpu_bench.py "$dir/bin/"
  # The 42 test models in fp32 (checked at loom-run's default tolerances) and
  # with fp16 tensor cores (the default; checked at 1e-2) the six real ones
  # and the attention cases that take the flash-attention kernel.
  $py scripts/gpu_models.py --mode build --precision fp32 --loomc build/bin/loomc \
    --arch "$arch" --out "$dir/models" | tail -1
  $py scripts/gpu_models.py --mode build --filter "$fp16_models" --loomc build/bin/loomc \
    --arch "$arch" --out "$dir/models16" | tail -1
  # Only what the run half reads travels: libraries and data, not the ONNX;
  # the fp16 models' inputs and references once (the same as the fp32 ones:
  # the run half copies them back).
  find "$dir/models" "$dir/models16" \( -name '*.onnx' -o -name '*.mlir' -o -name 'calib' \) \
    -prune -exec rm -rf {} +
  local m same
  for m in "$dir"/models16/*/; do
    same="$dir/models/$(basename "$m")"
    if diff -rq "$m/in" "$same/in" >/dev/null && diff -rq "$m/exp" "$same/exp" >/dev/null; then
      rm -rf "$m/in" "$m/exp"
    fi
  done
  $py bench/gpu_bench.py models "$dir/bench" --loomc build/bin/loomc --arch "$arch"
  du -sh "$dir"
}

# The fp16 models' inputs and references, from the fp32 models' (prepare
# sends them once).
restore_fp16_data() {
  local m
  for m in "$dir"/models16/*/; do
    if [ ! -d "$m/in" ]; then
      cp -r "$dir/models/$(basename "$m")/in" "$dir/models/$(basename "$m")/exp" "$m"
    fi
  done
}

run() {
  local py3="python3 -u"
  # Results go straight to the device tool's $OUT when there is one, so that
  # a run cut short still brings back what it measured.
  local out="${OUT:-$dir/out}"
  mkdir -p "$out"
  restore_fp16_data
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total \
    --format=csv,noheader | tee "$out/device.txt"
  # The models: their outputs against the references (torch/numpy) on the GPU,
  # in fp32 at loom-run's default tolerances; then the real models and the
  # flash-attention cases with their matrix products and attention on tensor
  # cores in fp16 (fp32 accumulation) at 1e-2.
  $py3 "$dir/bin/gpu_models.py" --mode gpu --prebuilt --loom-run "$dir/bin/loom-run" \
    --out "$dir/models" --bench 5 2>&1 | tee "$out/models.txt" || true
  $py3 "$dir/bin/gpu_models.py" --mode gpu --prebuilt --filter "$fp16_models" \
    --loom-run "$dir/bin/loom-run" --out "$dir/models16" --bench 5 --rtol 1e-2 --atol 1e-2 \
    2>&1 | tee "$out/models16.txt" || true
  # Attention and GEMM against torch.
  $py3 "$dir/bin/gpu_bench.py" run "$dir/bench" --loom-run "$dir/bin/loom-run" \
    --json "$out/bench.json" 2>&1 | tee "$out/bench.txt" || true
}

dry_run() {
  prepare
  # The run half's first step, with the kernels on the host instead.
  $py scripts/gpu_models.py --mode host --loomc build/bin/loomc --loom-run build/bin/loom-run \
    --out "$dir/models" | tail -1
  restore_fp16_data
  ls "$dir"/models16/*/cuda.so | wc -l | sed 's/$/ fp16 libraries ready/'
  ls -d "$dir"/models16/*/in | wc -l | sed 's/$/ fp16 input folders restored/'
  # Without a GPU the prebuilt GPU libraries must fail to load, cleanly.
  set +e
  "$dir/bin/loom-run" "$dir/models/real_bert/cuda.so" --inputs "$dir/models/real_bert/in"
  local rc=$?
  set -e
  if [ "$rc" -ne 2 ]; then
    echo "dry-run: expected exit 2 (DEVICE_ERROR) without a GPU, got $rc" >&2
    exit 1
  fi
  ls "$dir"/bench/*/model.so | wc -l | sed 's/$/ benchmark libraries ready/'
  echo "dry-run: OK"
}

case "$mode" in
  prepare) prepare ;;
  run) run ;;
  dry-run) dry_run ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac
