#!/usr/bin/env bash
# Configures (once) and builds Loom into build/ with clang-22, lld, ninja and
# ccache, linking libMLIR.so. Extra arguments go to ninja.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CCACHE_BASEDIR="$root"
BUILD_DIR="${LOOM_BUILD_DIR:-build}"
# LOOM_CMAKE_ARGS adds configure options, e.g. -DLOOM_ENABLE_SANITIZERS=ON.
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -G Ninja -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 -DLLVM_USE_LINKER=lld \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    ${LOOM_CMAKE_ARGS:-}
fi
ninja -C "$BUILD_DIR" -j"${LOOM_JOBS:-$(nproc)}" "$@"
