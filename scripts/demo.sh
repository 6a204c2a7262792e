#!/usr/bin/env bash
# Fresh Debian 12 to a working Loom: installs the dependencies, builds into
# build/, makes the bundled example transformer (scripts/example_model.py:
# a GPT-style decoder exported by torch), compiles it to a shared library and
# an executable, runs both and compares with torch's output.
#   scripts/demo.sh [model.onnx INPUT_DIR]     (default: the bundled example)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
scripts/build.sh
BUILD_DIR="${LOOM_BUILD_DIR:-build}"
bin="$BUILD_DIR/bin"
model="${1:-}"
data="${2:-}"
if [ -z "$model" ]; then
  mkdir -p "$BUILD_DIR/example"
  model="$BUILD_DIR/example/tiny_transformer.onnx"
  data="$BUILD_DIR/example/data"
  /usr/bin/python3 scripts/example_model.py "$model" --data "$data"
fi
echo "== loomc $model --emit=summary"
"$bin/loomc" "$model" --emit=summary
lib="${model%.onnx}.so"
exe="${model%.onnx}.exe"
echo "== loomc $model -o $lib"
"$bin/loomc" "$model" -o "$lib"
"$bin/loomc" "$model" -o "$exe" --emit=exe
if [ -n "$data" ]; then
  expected=()
  [ -d "$data/exp" ] && expected=(--expected "$data/exp")
  echo "== loom-run $lib --inputs $data/in ${expected[*]} --bench 20"
  "$bin/loom-run" "$lib" --inputs "$data/in" "${expected[@]}" --bench 20
  mkdir -p "$BUILD_DIR/example/out"
  echo "== $exe --inputs $data/in --outputs $BUILD_DIR/example/out"
  "$exe" --inputs "$data/in" --outputs "$BUILD_DIR/example/out"
  ls "$BUILD_DIR/example/out"
fi
