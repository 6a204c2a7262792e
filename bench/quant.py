#!/usr/bin/python3
"""Benchmark: weight-only quantized matrix multiplies (int8, int4) against
fp32, Loom and ONNX Runtime, in the same run.

  bench/quant.py [--repeats 3] [--runs 20] [--threads 2] [--shapes M,K,N;...]
                 [--group-size 32] [--outliers F] [--quant-scales minmax|mse]

Each shape is one ONNX MatMul of an input [M, K] by a constant weight
[K, N] (random normal). Loom compiles it three times: fp32,
--quantize=int8-weight and --quantize=int4-weight (loom.quantized_matmul:
the weights dequantized in registers or a cache-sized block at a time);
ONNX Runtime (onnxruntime-node, all graph optimizations) runs the fp32
model. All are timed on the same inputs, alternating, --repeats times; the
table gives medians of the per-repeat medians, the speedups of int8 and int4
over Loom fp32, the ratio Loom int4 / ORT fp32 (below 1 Loom is faster), the
bytes of the compiled libraries, and the quantized results' cosine against
the fp32 one. M = 1 is a decoding step (GEMV), memory bound: int8 weights
are a quarter of the bytes, int4 at group 32 about a seventh. Not a test:
the machine is noisy. --outliers F multiplies a random 1% of W's input
rows (channels) by F, as large language models' weights have a few
outlier channels; --quant-scales passes loomc's choice of ranges.
"""
import argparse
import json
import os
import statistics
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from run import ensure_ort, matmul_model, sh  # noqa: E402


VARIANTS = ("fp32", "int8", "int4")


def prepare(d, m, k, n, loomc, group, outliers=1.0, scales="minmax"):
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
    if outliers != 1.0:
        rows = rng.choice(k, max(1, k // 100), replace=False)
        w[rows] *= outliers
    matmul_model(d, m, k, n, w, rng)
    sh([loomc, os.path.join(d, "model.onnx"), "-o", os.path.join(d, "fp32.so")])
    sh([loomc, os.path.join(d, "model.onnx"), "--quantize=int8-weight",
        "--quant-scales", scales, "-o", os.path.join(d, "int8.so")])
    sh([loomc, os.path.join(d, "model.onnx"), "--quantize=int4-weight",
        "--quant-scales", scales, "--group-size", str(group), "-o",
        os.path.join(d, "int4.so")])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shapes", default="1,768,3072;1,4096,4096;128,768,3072",
                    help="M,K,N;... (default: two decoding GEMVs and a prefill)")
    ap.add_argument("--group-size", type=int, default=32)
    ap.add_argument("--outliers", type=float, default=1.0)
    ap.add_argument("--quant-scales", default="minmax")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench", "quant"))
    args = ap.parse_args()
    loomc = os.path.join(ROOT, "build", "bin", "loomc")
    loom_run = os.path.join(ROOT, "build", "bin", "loom-run")
    ensure_ort()
    rows = []
    for shape in args.shapes.split(";"):
        m, k, n = (int(v) for v in shape.split(","))
        d = os.path.join(args.work, "%dx%dx%d" % (m, k, n))
        prepare(d, m, k, n, loomc, args.group_size, args.outliers, args.quant_scales)
        outs = {}
        for v in VARIANTS:
            o = os.path.join(d, "out_" + v)
            os.makedirs(o, exist_ok=True)
            sh([loom_run, os.path.join(d, v + ".so"), "--inputs", os.path.join(d, "in"),
                "--outputs", o, "--npy"])
            outs[v] = np.load(os.path.join(o, "output_0.npy")).astype(np.float64).ravel()
        cos = {v: float(outs[v] @ outs["fp32"] /
                        (np.linalg.norm(outs[v]) * np.linalg.norm(outs["fp32"])))
               for v in ("int8", "int4")}
        times = {"fp32": [], "int8": [], "int4": [], "ort": []}
        for _ in range(args.repeats):
            for v in VARIANTS:
                out = sh([loom_run, os.path.join(d, v + ".so"), "--inputs",
                          os.path.join(d, "in"), "--bench", str(args.runs), "--warmup",
                          str(args.warmup), "--json", "--threads", str(args.threads)])
                times[v].append(json.loads(out.strip().splitlines()[-1])["median_ms"])
            out = sh(["node", os.path.join(ROOT, "bench", "ort_bench.mjs"),
                      os.path.join(d, "model.onnx"), os.path.join(d, "inputs.json"),
                      str(args.runs), str(args.warmup), str(args.threads)])
            times["ort"].append(json.loads(out.strip().splitlines()[-1])["median_ms"])
        med = {v: statistics.median(t) for v, t in times.items()}
        size = {v: os.path.getsize(os.path.join(d, v + ".so")) for v in VARIANTS}
        rows.append((shape, med, size, cos))
    print("%-15s %8s %8s %8s %8s %7s %7s %8s %8s %8s %8s %9s %9s" % (
        "M,K,N", "fp32 ms", "int8 ms", "int4 ms", "ort ms", "int8 x", "int4 x",
        "int4/ort", "fp32 KiB", "int8 KiB", "int4 KiB", "int8 cos", "int4 cos"))
    for shape, med, size, cos in rows:
        print("%-15s %8.3f %8.3f %8.3f %8.3f %6.2fx %6.2fx %8.2f %8d %8d %8d %9.6f %9.6f" % (
            shape, med["fp32"], med["int8"], med["int4"], med["ort"],
            med["fp32"] / med["int8"], med["fp32"] / med["int4"],
            med["int4"] / med["ort"], size["fp32"] // 1024, size["int8"] // 1024,
            size["int4"] // 1024, cos["int8"], cos["int4"]))


if __name__ == "__main__":
    main()
