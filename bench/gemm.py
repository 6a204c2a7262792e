#!/usr/bin/python3
"""Benchmark: Loom's GEMM against OpenBLAS sgemm (the roofline) and ONNX Runtime.

  bench/gemm.py [--sizes 1024,2048] [--repeats 5] [--runs 10] [--warmup 40] [--threads 2]

For each size N it builds a one-node ONNX model Y = MatMul(A, B) with N x N
fp32 inputs, compiles it with build/bin/loomc and times, alternating, in the
same run: `loom-run --bench` (the model call alone), OpenBLAS's sgemm through
numpy (Debian's libopenblas0-openmp, installed by this script if missing,
with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset) and ONNX Runtime
(onnxruntime-node, bench/ort_bench.mjs). Prints the median GFLOP/s of each and
Loom's throughput as a fraction of OpenBLAS's and of ORT's. Also checks Loom's
product against numpy's. Not a test: the machine is noisy; compare ratios.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
sys.path.insert(0, BENCH)
from run import ensure_ort, sh  # noqa: E402

BLAS_TIMER = r"""
import json, sys, time
import numpy as np
n, runs = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
a = rng.standard_normal((n, n), dtype=np.float32)
b = rng.standard_normal((n, n), dtype=np.float32)
c = np.empty((n, n), dtype=np.float32)
for _ in range(2):
    np.matmul(a, b, out=c)
ts = []
for _ in range(runs):
    t = time.perf_counter(); np.matmul(a, b, out=c); ts.append(time.perf_counter() - t)
ts.sort()
print(json.dumps({"median_ms": 1e3 * ts[len(ts) // 2]}))
"""


def ensure_openblas():
    """Installs Debian's OpenMP OpenBLAS (numpy's BLAS through alternatives)."""
    if os.path.exists("/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3"):
        return
    subprocess.run(["apt-get", "update"], check=True)
    subprocess.run(["apt-get", "install", "-y", "libopenblas0-openmp"], check=True)


def blas_env(threads):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env["OMP_NUM_THREADS"] = str(threads)
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    return env


def make_model(n, d):
    os.makedirs(os.path.join(d, "in"), exist_ok=True)
    os.makedirs(os.path.join(d, "exp"), exist_ok=True)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["A", "B"], ["Y"], name="gemm")], "gemm",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [n, n]),
         helper.make_tensor_value_info("B", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [n, n])])
    model = os.path.join(d, "gemm.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), model)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    spec = []
    for i, (name, x) in enumerate((("A", a), ("B", b))):
        open(os.path.join(d, "in", "input_%d.pb" % i), "wb").write(
            numpy_helper.from_array(x).SerializeToString())
        raw = os.path.join(d, "input_%d.bin" % i)
        x.tofile(raw)
        spec.append({"name": name, "dtype": "float32", "dims": [n, n], "file": raw})
    y = (a.astype(np.float64) @ b.astype(np.float64)).astype(np.float32)
    open(os.path.join(d, "exp", "output_0.pb"), "wb").write(
        numpy_helper.from_array(y).SerializeToString())
    inputs = os.path.join(d, "inputs.json")
    json.dump(spec, open(inputs, "w"))
    return model, inputs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1024,2048")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    # Untimed runs first: on the VMs this was measured on, the first calls
    # of a fresh process fault in their fresh output (16 MiB at N = 2048)
    # at up to 7 us a page, for Loom and ORT alike, for ~10 calls (~0.7 s
    # at N = 2048): 2 warm-up runs measured 160 GFLOP/s where the steady
    # state is 340, and 20 were not enough at N = 2048.
    ap.add_argument("--warmup", type=int, default=40)
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench", "gemm"))
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    ensure_openblas()
    ensure_ort()
    loomc = os.path.join(ROOT, "build", "bin", "loomc")
    loom_run = os.path.join(ROOT, "build", "bin", "loom-run")
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        d = os.path.join(args.work, str(n))
        model, inputs = make_model(n, d)
        so = os.path.join(d, "gemm.so")
        sh([loomc, model, "-o", so])
        check = subprocess.run([loom_run, so, "--inputs", os.path.join(d, "in"), "--expected",
                                os.path.join(d, "exp"), "--rtol", "1e-3", "--atol", "1e-3"],
                               stdout=subprocess.PIPE).stdout.decode().strip()
        loom, blas, ort = [], [], []
        for _ in range(args.repeats):
            out = sh([loom_run, so, "--inputs", os.path.join(d, "in"), "--bench", str(args.runs),
                      "--warmup", str(args.warmup), "--json", "--threads", str(args.threads)])
            loom.append(json.loads(out.strip().splitlines()[-1])["median_ms"])
            out = sh([sys.executable, "-c", BLAS_TIMER, str(n), str(args.runs)],
                     env=blas_env(args.threads))
            blas.append(json.loads(out.strip().splitlines()[-1])["median_ms"])
            out = sh(["node", os.path.join(BENCH, "ort_bench.mjs"), model, inputs,
                      str(args.runs), str(args.warmup), str(args.threads)])
            ort.append(json.loads(out.strip().splitlines()[-1])["median_ms"])
        flop = 2.0 * n ** 3
        g = {k: flop / statistics.median(v) / 1e6 for k, v in
             (("loom", loom), ("openblas", blas), ("ort", ort))}
        rows.append({"n": n, "loom_gflops": g["loom"], "openblas_gflops": g["openblas"],
                     "ort_gflops": g["ort"], "loom_vs_openblas": g["loom"] / g["openblas"],
                     "loom_ms_over_ort_ms": g["ort"] / g["loom"], "check": check})
    print("%-6s %10s %10s %10s %14s %12s" % ("N", "loom GF/s", "blas GF/s", "ort GF/s",
                                            "loom/openblas", "loom÷ort ms"))
    for r in rows:
        print("%-6d %10.1f %10.1f %10.1f %14.2f %12.2f" % (
            r["n"], r["loom_gflops"], r["openblas_gflops"], r["ort_gflops"],
            r["loom_vs_openblas"], r["loom_ms_over_ort_ms"]))
        print("       check vs float64 numpy: %s" % r["check"].replace("\n", "; "))
    if args.json:
        json.dump(rows, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
