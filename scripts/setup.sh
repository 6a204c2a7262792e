#!/usr/bin/env bash
# Installs Loom's build and test dependencies from Debian 12's packages
# (LLVM/MLIR 22 come from bookworm-security). Runs apt-get only when something
# is missing; needs root for that.
set -euo pipefail

PACKAGES=(
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools llvm-22 clang-22 lld-22 libomp-22-dev
  libclang-rt-22-dev
  libonnx-dev libonnx-testdata python3-onnx libprotobuf-dev protobuf-compiler
  ninja-build ccache cmake g++ googletest libgtest-dev python3-numpy python3-torch
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
