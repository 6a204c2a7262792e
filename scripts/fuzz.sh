#!/usr/bin/env bash
# Runs one libFuzzer target of the sanitizer + fuzzer build (build-asan) for a
# while and prints executions, coverage and crashes.
#   scripts/fuzz.sh onnx|tensor|loom-ir SECONDS [RUNS]
# Builds build-asan (LOOM_ENABLE_SANITIZERS=ON LOOM_ENABLE_FUZZERS=ON) first.
# The corpus grows in build-asan/fuzz/<target>/corpus; crashes land in
# build-asan/fuzz/<target>/ as crash-*, timeout-*, oom-* files.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="$1"
seconds="${2:-600}"
runs="${3:--1}"
LOOM_BUILD_DIR=build-asan \
  LOOM_CMAKE_ARGS="-DLOOM_ENABLE_SANITIZERS=ON -DLOOM_ENABLE_FUZZERS=ON" \
  scripts/build.sh "loom-fuzz-$target" >/dev/null
dir="build-asan/fuzz/$target"
mkdir -p "$dir/corpus" "$dir/seeds"
/usr/bin/python3 test/Fuzz/Inputs/seeds.py "$target" "$dir/seeds" 400
dict=()
[ "$target" != loom-ir ] && dict=(-dict=test/Fuzz/onnx.dict)
export ASAN_OPTIONS=detect_leaks=0:allow_user_poisoning=0
"build-asan/bin/loom-fuzz-$target" "$dir/corpus" "$dir/seeds" "${dict[@]}" \
  -max_total_time="$seconds" -runs="$runs" -timeout=30 -rss_limit_mb=4096 \
  -artifact_prefix="$dir/" -print_final_stats=1 2>&1 | tee "$dir/log" |
  grep -E "^#|INITED|Done|stat::|ERROR|SUMMARY|crash" | tail -15
