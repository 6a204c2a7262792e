#!/usr/bin/env bash
# The whole Loom test suite: installs what is missing, builds, then runs every
# lit test and every GoogleTest binary through one lit invocation; then builds
# everything again with AddressSanitizer + UndefinedBehaviorSanitizer and the
# libFuzzer targets (build-asan/) and runs the whole suite there too, fuzz
# smoke runs included. LOOM_SKIP_SANITIZERS=1 runs the first pass only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh

# Runs lit over $1/test; prints "<label>: N passed, M failed, K skipped".
run_suite() {
  local dir="$1" label="$2" status
  set +e
  /usr/lib/llvm-22/bin/lit -sv "$dir/test" | tee "$dir/lit.log"
  status=${PIPESTATUS[0]}
  set -e
  passed=$(grep -Eo 'Passed *: *[0-9]+' "$dir/lit.log" | grep -Eo '[0-9]+' || echo 0)
  failed=$(grep -Eo 'Failed *: *[0-9]+' "$dir/lit.log" | grep -Eo '[0-9]+' || echo 0)
  skipped=$(grep -Eo 'Unsupported *: *[0-9]+' "$dir/lit.log" | grep -Eo '[0-9]+' || echo 0)
  echo "$label: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
  total_passed=$((total_passed + ${passed:-0}))
  total_failed=$((total_failed + ${failed:-0}))
  total_skipped=$((total_skipped + ${skipped:-0}))
  return "$status"
}

total_passed=0 total_failed=0 total_skipped=0 status=0
BUILD_DIR="${LOOM_BUILD_DIR:-build}"
LOOM_BUILD_DIR="$BUILD_DIR" scripts/build.sh
run_suite "$BUILD_DIR" "loom tests (release build)" || status=1
if [ "${LOOM_SKIP_SANITIZERS:-0}" != 1 ]; then
  LOOM_BUILD_DIR=build-asan \
    LOOM_CMAKE_ARGS="-DLOOM_ENABLE_SANITIZERS=ON -DLOOM_ENABLE_FUZZERS=ON" \
    scripts/build.sh
  run_suite build-asan "loom tests (ASan + UBSan build)" || status=1
fi
echo "loom tests: $total_passed passed, $total_failed failed, $total_skipped skipped"
exit "$status"
