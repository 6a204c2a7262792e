#!/usr/bin/env bash
# The whole Loom test suite: installs what is missing, builds, then runs every
# lit test and every GoogleTest binary through one lit invocation.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
scripts/build.sh
BUILD_DIR="${LOOM_BUILD_DIR:-build}"
set +e
/usr/lib/llvm-22/bin/lit -sv "$BUILD_DIR/test" | tee "$BUILD_DIR/lit.log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo 'Passed *: *[0-9]+' "$BUILD_DIR/lit.log" | grep -Eo '[0-9]+' || echo 0)
failed=$(grep -Eo 'Failed *: *[0-9]+' "$BUILD_DIR/lit.log" | grep -Eo '[0-9]+' || echo 0)
unsupported=$(grep -Eo 'Unsupported *: *[0-9]+' "$BUILD_DIR/lit.log" | grep -Eo '[0-9]+' || echo 0)
echo "loom tests: ${passed:-0} passed, ${failed:-0} failed, ${unsupported:-0} skipped"
exit "$status"
