#!/usr/bin/python3
"""Benchmark: int8 weight-only matrix multiplies against fp32, Loom and ONNX
Runtime, in the same run.

  bench/quant.py [--repeats 3] [--runs 20] [--threads 2] [--shapes M,K,N;...]

Each shape is one ONNX MatMul of an input [M, K] by a constant weight
[K, N] (random normal). Loom compiles it twice, fp32 and with
--quantize=int8-weight (loom.quantized_matmul: int8 weights dequantized in
registers); ONNX Runtime (onnxruntime-node, all graph optimizations) runs
the fp32 model. All three are timed on the same inputs, alternating,
--repeats times; the table gives medians of the per-repeat medians, the
speedup of int8 over Loom fp32 and the ratio Loom int8 / ORT fp32 (below 1
Loom is faster), the bytes of the compiled libraries, and the int8 result's
cosine against the fp32 one. M = 1 is a decoding step (GEMV), memory bound:
int8 weights are a quarter of the bytes. Not a test: the machine is noisy.
"""
import argparse
import json
import os
import statistics
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from run import ensure_ort, sh  # noqa: E402


def prepare(d, m, k, n, loomc):
    os.makedirs(os.path.join(d, "in"), exist_ok=True)
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")], "gemv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, os.path.join(d, "model.onnx"))
    x = rng.standard_normal((m, k)).astype(np.float32)
    np.save(os.path.join(d, "in", "input_0.npy"), x)
    x.tofile(os.path.join(d, "input_0.bin"))
    json.dump([{"name": "x", "dtype": "float32", "dims": [m, k],
                "file": os.path.join(d, "input_0.bin")}],
              open(os.path.join(d, "inputs.json"), "w"))
    sh([loomc, os.path.join(d, "model.onnx"), "-o", os.path.join(d, "fp32.so")])
    sh([loomc, os.path.join(d, "model.onnx"), "--quantize=int8-weight", "-o",
        os.path.join(d, "int8.so")])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shapes", default="1,768,3072;1,4096,4096;128,768,3072",
                    help="M,K,N;... (default: two decoding GEMVs and a prefill)")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench", "quant"))
    args = ap.parse_args()
    loomc = os.path.join(ROOT, "build", "bin", "loomc")
    loom_run = os.path.join(ROOT, "build", "bin", "loom-run")
    ensure_ort()
    rows = []
    for shape in args.shapes.split(";"):
        m, k, n = (int(v) for v in shape.split(","))
        d = os.path.join(args.work, "%dx%dx%d" % (m, k, n))
        prepare(d, m, k, n, loomc)
        outs = {}
        for v in ("fp32", "int8"):
            o = os.path.join(d, "out_" + v)
            os.makedirs(o, exist_ok=True)
            sh([loom_run, os.path.join(d, v + ".so"), "--inputs", os.path.join(d, "in"),
                "--outputs", o, "--npy"])
            outs[v] = np.load(os.path.join(o, "output_0.npy")).astype(np.float64).ravel()
        cos = float(outs["int8"] @ outs["fp32"] /
                    (np.linalg.norm(outs["int8"]) * np.linalg.norm(outs["fp32"])))
        times = {"fp32": [], "int8": [], "ort": []}
        for _ in range(args.repeats):
            for v in ("fp32", "int8"):
                out = sh([loom_run, os.path.join(d, v + ".so"), "--inputs",
                          os.path.join(d, "in"), "--bench", str(args.runs), "--warmup",
                          str(args.warmup), "--json", "--threads", str(args.threads)])
                times[v].append(json.loads(out.strip().splitlines()[-1])["median_ms"])
            out = sh(["node", os.path.join(ROOT, "bench", "ort_bench.mjs"),
                      os.path.join(d, "model.onnx"), os.path.join(d, "inputs.json"),
                      str(args.runs), str(args.warmup), str(args.threads)])
            times["ort"].append(json.loads(out.strip().splitlines()[-1])["median_ms"])
        med = {v: statistics.median(t) for v, t in times.items()}
        size = {v: os.path.getsize(os.path.join(d, v + ".so")) for v in ("fp32", "int8")}
        rows.append((shape, med, size, cos))
    print("%-16s %9s %9s %9s %10s %10s %10s %10s %10s" % (
        "M,K,N", "fp32 ms", "int8 ms", "ort ms", "int8 speed", "int8/ort",
        "fp32 KiB", "int8 KiB", "cos"))
    for shape, med, size, cos in rows:
        print("%-16s %9.3f %9.3f %9.3f %9.2fx %10.2f %10d %10d %10.6f" % (
            shape, med["fp32"], med["int8"], med["ort"], med["fp32"] / med["int8"],
            med["int8"] / med["ort"], size["fp32"] // 1024, size["int8"] // 1024, cos))


if __name__ == "__main__":
    main()
