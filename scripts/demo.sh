#!/usr/bin/env bash
# Fresh Debian 12 to a working Loom: installs the dependencies, builds into
# build/, makes the bundled example transformer (scripts/example_model.py),
# imports it and prints what it holds.
#   scripts/demo.sh [model.onnx]     (default: the bundled example)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
scripts/build.sh
BUILD_DIR="${LOOM_BUILD_DIR:-build}"
model="${1:-}"
if [ -z "$model" ]; then
  mkdir -p "$BUILD_DIR/example"
  model="$BUILD_DIR/example/tiny_transformer.onnx"
  [ -f "$model" ] || /usr/bin/python3 scripts/example_model.py "$model"
fi
echo "== loomc $model --emit=summary"
"$BUILD_DIR/bin/loomc" "$model" --emit=summary
out="${model%.onnx}.onnx.mlir"
"$BUILD_DIR/bin/loomc" "$model" --emit=onnx-ir --elide-weights-larger=256 -o "$out"
echo "== imported IR (weights elided): $out ($(wc -l < "$out") lines)"
head -n 12 "$out"
echo "..."
