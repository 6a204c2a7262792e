#!/usr/bin/python3
"""Seed corpora for the fuzz targets, from the project's own test inputs and
ONNX's backend node tests (nothing binary is checked in).

  seeds.py onnx DIR [N]     N node-test models (every k-th) + the malformed corpus
  seeds.py tensor DIR [N]   N node-test tensor files + numpy-written .npy files
  seeds.py loom-ir DIR      each `// -----` case of the loom dialect tests
"""
import glob
import os
import shutil
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
NODE = "/usr/share/libonnx-testdata/data/node"


def every(paths, n):
    paths = sorted(paths)
    step = max(1, len(paths) // n)
    return paths[::step][:n]


def main():
    kind, out = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    os.makedirs(out, exist_ok=True)
    if kind == "onnx":
        for i, p in enumerate(every(glob.glob(NODE + "/*/model.onnx"), n)):
            shutil.copy(p, os.path.join(out, "node%04d.onnx" % i))
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "malformed_models.py"),
                        "--out", os.path.join(out, "malformed")], check=True)
        for p in glob.glob(os.path.join(out, "malformed", "*.onnx")):
            shutil.move(p, os.path.join(out, "malformed_" + os.path.basename(p)))
        shutil.rmtree(os.path.join(out, "malformed"))
    elif kind == "tensor":
        for i, p in enumerate(every(glob.glob(NODE + "/*/test_data_set_0/*.pb"), n)):
            shutil.copy(p, os.path.join(out, "t%04d.pb" % i))
        for i, a in enumerate([np.arange(6, dtype=np.float32).reshape(2, 3),
                               np.ones((2,), np.int64), np.zeros((0, 3), np.float16),
                               np.array(3.5, np.float64), np.array([True, False])]):
            np.save(os.path.join(out, "a%d.npy" % i), a)
    elif kind == "loom-ir":
        k = 0
        for p in glob.glob(os.path.join(ROOT, "test", "Dialect", "*", "*.mlir")):
            for case in open(p).read().split("// -----"):
                with open(os.path.join(out, "case%03d.mlir" % k), "w") as f:
                    f.write(case)
                k += 1
    else:
        raise SystemExit("unknown kind " + kind)


if __name__ == "__main__":
    main()
