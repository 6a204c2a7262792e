#!/usr/bin/python3
"""Benchmark: quantized matrix multiplies (int8 and int4 weight-only, W8A8)
against fp32, Loom and ONNX Runtime, in the same run.

  bench/quant.py [--repeats 3] [--runs 20] [--threads 2] [--shapes M,K,N;...]
                 [--group-size 32] [--outliers F] [--quant-scales minmax|mse]
                 [--models gpt2,bert128]

Each shape is one ONNX MatMul of an input [M, K] by a constant weight
[K, N] (random normal). Loom compiles it four times: fp32,
--quantize=int8-weight and --quantize=int4-weight (loom.quantized_matmul:
the weights dequantized in registers or a cache-sized block at a time) and
--quantize=w8a8 (the input quantized per row too, integer products:
loomrt_igemm_f32, vpdpbusd where the CPU has VNNI) and --quantize=w4a8
(int4's groups, the input quantized per row and group: loomrt_i4gemm_f32);
ONNX Runtime (onnxruntime-node, all graph optimizations) runs the fp32
model. All are timed on the same inputs, alternating, --repeats times; the
table gives medians of the per-repeat medians, the speedups of int8, int4
w8a8 and w4a8 over Loom fp32, the ratio Loom int4 / ORT fp32 (below 1 Loom is faster), the
bytes of the compiled libraries, and the quantized results' cosine against
the fp32 one. M = 1 is a decoding step (GEMV), memory bound: int8 weights
are a quarter of the bytes, int4 at group 32 about a seventh. Not a test:
the machine is noisy. --outliers F multiplies a random 1% of W's input
rows (channels) by F, as large language models' weights have a few
outlier channels; --quant-scales passes loomc's choice of ranges.

--nbits M,K,N;... runs com.microsoft MatMulNBits models (4-bit blocks of
--group-size, no zero points) as ONNX Runtime and Loom both compile them,
with accuracy_level 0 (fp32 inputs; Loom: loomrt_qgemm_w4_f32) and 4 (int8
inputs; Loom: W4A8, loomrt_i4gemm_f32): the same model in both, timed in the
same run, with the cosine of Loom's output against ORT's and of each against
the float64 product of the dequantized weights.

--models runs whole models of bench/run.py's sizes (e.g. gpt2: the
GPT-2-small-shaped prefill, 6 layers, sequence 256) as fp32, int8-weight,
w8a8 with dynamic activations, w8a8 calibrated (--calibration on four
other sample inputs, min-max) and w4a8, with ORT fp32, and each one's cosine against
torch's output.
"""
import argparse
import json
import os
import statistics
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from run import SIZES, ensure_ort, matmul_model, sh, write_inputs  # noqa: E402


VARIANTS = ("fp32", "int8", "int4", "w8a8", "w4a8")


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
    sh([loomc, os.path.join(d, "model.onnx"), "--quantize=w8a8",
        "-o", os.path.join(d, "w8a8.so")])
    sh([loomc, os.path.join(d, "model.onnx"), "--quantize=w4a8",
        "--quant-scales", scales, "--group-size", str(group), "-o",
        os.path.join(d, "w4a8.so")])


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def run_outputs(d, variants, loom_run):
    """Each compiled variant's output on d/in, flattened, in float64."""
    outs = {}
    for v in variants:
        o = os.path.join(d, "out_" + v)
        os.makedirs(o, exist_ok=True)
        sh([loom_run, os.path.join(d, v + ".so"), "--inputs", os.path.join(d, "in"),
            "--outputs", o, "--npy"])
        outs[v] = np.load(os.path.join(o, "output_0.npy")).astype(np.float64).ravel()
    return outs


def time_variants(d, variants, model, inputs, args, loom_run):
    """Medians of per-repeat medians of each compiled variant and of ORT."""
    times = {v: [] for v in variants + ("ort",)}
    for _ in range(args.repeats):
        for v in variants:
            out = sh([loom_run, os.path.join(d, v + ".so"), "--inputs",
                      os.path.join(d, "in"), "--bench", str(args.runs), "--warmup",
                      str(args.warmup), "--json", "--threads", str(args.threads)])
            times[v].append(json.loads(out.strip().splitlines()[-1])["median_ms"])
        out = sh(["node", os.path.join(ROOT, "bench", "ort_bench.mjs"), model, inputs,
                  str(args.runs), str(args.warmup), str(args.threads)])
        times["ort"].append(json.loads(out.strip().splitlines()[-1])["median_ms"])
    return {v: statistics.median(t) for v, t in times.items()}


def run_models(args, loomc, loom_run):
    """Whole models: fp32, int8-weight, w8a8 dynamic and calibrated, w4a8."""
    from onnx import TensorProto, numpy_helper
    variants = ("fp32", "int8", "w8a8", "w8a8-cal", "w4a8")
    flags = {"fp32": [], "int8": ["--quantize=int8-weight"], "w8a8": ["--quantize=w8a8"],
             "w4a8": ["--quantize=w4a8"]}
    rows = []
    for name in args.models.split(","):
        kind, sizes = SIZES[name]
        d = os.path.join(args.work, name)
        sh([sys.executable, os.path.join(ROOT, "scripts", "real_models.py"), kind, d] + sizes +
           ["--calibration-sets", "4"])
        model = os.path.join(d, "model.onnx")
        flags["w8a8-cal"] = ["--quantize=w8a8", "--calibration", os.path.join(d, "calib")]
        for v in variants:
            sh([loomc, model, "-o", os.path.join(d, v + ".so")] + flags[v])
        t = TensorProto()
        t.ParseFromString(open(os.path.join(d, "exp", "output_0.pb"), "rb").read())
        ref = numpy_helper.to_array(t).astype(np.float64).ravel()
        outs = run_outputs(d, variants, loom_run)
        cos = {v: cosine(outs[v], ref) for v in variants}
        med = time_variants(d, variants, model, write_inputs(d), args, loom_run)
        rows.append((name, med, cos))
    print("%-8s %8s %8s %8s %9s %8s %8s %7s %7s %7s %9s %9s %9s %9s %9s %9s" % (
        "model", "fp32 ms", "int8 ms", "w8a8 ms", "w8a8c ms", "w4a8 ms", "ort ms", "w8a8 x",
        "w8a8c x", "w4a8 x", "w8a8c/ort", "fp32 cos", "int8 cos", "w8a8 cos", "w8a8c cos",
        "w4a8 cos"))
    for name, med, cos in rows:
        print("%-8s %8.2f %8.2f %8.2f %9.2f %8.2f %8.2f %6.2fx %6.2fx %6.2fx %9.2f %9.6f %9.6f "
              "%9.6f %9.6f %9.6f" % (
                  name, med["fp32"], med["int8"], med["w8a8"], med["w8a8-cal"], med["w4a8"],
                  med["ort"], med["fp32"] / med["w8a8"], med["fp32"] / med["w8a8-cal"],
                  med["fp32"] / med["w4a8"], med["w8a8-cal"] / med["ort"], cos["fp32"],
                  cos["int8"], cos["w8a8"], cos["w8a8-cal"], cos["w4a8"]))


def run_nbits(args, loomc, loom_run):
    """MatMulNBits in Loom and ORT, accuracy levels 0 and 4."""
    gen = os.path.join(ROOT, "test", "Integration", "Inputs", "matmul_nbits.py")
    rows = []
    for shape in args.nbits.split(";"):
        m, k, n = (int(v) for v in shape.split(","))
        for level in (0, 4):
            d = os.path.join(args.work, "nbits_%dx%dx%d_l%d" % (m, k, n, level))
            sh(["/usr/bin/python3", gen, d, "--k", str(k), "--n", str(n), "--block",
                str(args.group_size), "--rows", str(m), "--accuracy-level", str(level)])
            from run import write_inputs
            inputs = write_inputs(d)
            model = os.path.join(d, "model.onnx")
            sh([loomc, model, "-o", os.path.join(d, "loom.so")])
            out = os.path.join(d, "out")
            os.makedirs(out, exist_ok=True)
            sh([loom_run, os.path.join(d, "loom.so"), "--inputs", os.path.join(d, "in"),
                "--outputs", out, "--npy"])
            loom_y = np.load(os.path.join(out, "output_0.npy")).astype(np.float64).ravel()
            ort_out = os.path.join(d, "ort_y.bin")
            sh(["node", os.path.join(ROOT, "bench", "ort_bench.mjs"), model, inputs, "1", "0",
                str(args.threads), ort_out])
            ort_y = np.fromfile(ort_out, np.float32).astype(np.float64)
            from onnx import TensorProto, numpy_helper
            t = TensorProto()
            t.ParseFromString(open(os.path.join(d, "exp", "output_0.pb"), "rb").read())
            if level == 0:
                # The float64 product of the dequantized weights; the level-4
                # model has the same weights and input (same seed), and its
                # exp holds W4A8's arithmetic instead.
                exact = numpy_helper.to_array(t).astype(np.float64).ravel()
            times = {"loom": [], "ort": []}
            for _ in range(args.repeats):
                o = sh([loom_run, os.path.join(d, "loom.so"), "--inputs", os.path.join(d, "in"),
                        "--bench", str(args.runs), "--warmup", str(args.warmup), "--json",
                        "--threads", str(args.threads)])
                times["loom"].append(json.loads(o.strip().splitlines()[-1])["median_ms"])
                o = sh(["node", os.path.join(ROOT, "bench", "ort_bench.mjs"), model, inputs,
                        str(args.runs), str(args.warmup), str(args.threads)])
                times["ort"].append(json.loads(o.strip().splitlines()[-1])["median_ms"])
            med = {v: statistics.median(t) for v, t in times.items()}
            rows.append((shape, level, med, cosine(loom_y, ort_y),
                         float(np.abs(loom_y - ort_y).max()),
                         cosine(loom_y, exact), cosine(ort_y, exact)))
    print("%-15s %5s %9s %9s %9s %12s %12s %10s %10s" % (
        "M,K,N", "level", "loom us", "ort us", "loom/ort", "cos loom-ort", "max|diff|",
        "cos loom", "cos ort"))
    for shape, level, med, c, diff, cl, co in rows:
        print("%-15s %5d %9.1f %9.1f %9.2f %12.6f %12.3g %10.6f %10.6f" % (
            shape, level, med["loom"] * 1000, med["ort"] * 1000, med["loom"] / med["ort"],
            c, diff, cl, co))


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
    ap.add_argument("--models", default="",
                    help="whole models of bench/run.py (e.g. gpt2,bert128) instead of shapes")
    ap.add_argument("--nbits", default="",
                    help="M,K,N;... MatMulNBits models in Loom and ORT instead of shapes")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench", "quant"))
    args = ap.parse_args()
    loomc = os.path.join(ROOT, "build", "bin", "loomc")
    loom_run = os.path.join(ROOT, "build", "bin", "loom-run")
    ensure_ort()
    if args.models:
        return run_models(args, loomc, loom_run)
    if args.nbits:
        return run_nbits(args, loomc, loom_run)
    rows = []
    for shape in args.shapes.split(";"):
        m, k, n = (int(v) for v in shape.split(","))
        d = os.path.join(args.work, "%dx%dx%d" % (m, k, n))
        prepare(d, m, k, n, loomc, args.group_size, args.outliers, args.quant_scales)
        outs = run_outputs(d, VARIANTS, loom_run)
        cos = {v: cosine(outs[v], outs["fp32"]) for v in VARIANTS[1:]}
        med = time_variants(d, VARIANTS, os.path.join(d, "model.onnx"),
                            os.path.join(d, "inputs.json"), args, loom_run)
        size = {v: os.path.getsize(os.path.join(d, v + ".so")) for v in VARIANTS}
        rows.append((shape, med, size, cos))
    print("%-15s %8s %8s %8s %8s %8s %8s %7s %7s %7s %7s %8s %8s %8s %8s %9s %9s %9s %9s" % (
        "M,K,N", "fp32 ms", "int8 ms", "int4 ms", "w8a8 ms", "w4a8 ms", "ort ms", "int8 x",
        "int4 x", "w8a8 x", "w4a8 x", "int4/ort", "fp32 KiB", "int8 KiB", "int4 KiB",
        "int8 cos", "int4 cos", "w8a8 cos", "w4a8 cos"))
    for shape, med, size, cos in rows:
        print("%-15s %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f %6.2fx %6.2fx %6.2fx %6.2fx %8.2f "
              "%8d %8d %8d %9.6f %9.6f %9.6f %9.6f" % (
                  shape, med["fp32"], med["int8"], med["int4"], med["w8a8"], med["w4a8"],
                  med["ort"], med["fp32"] / med["int8"], med["fp32"] / med["int4"],
                  med["fp32"] / med["w8a8"], med["fp32"] / med["w4a8"],
                  med["int4"] / med["ort"], size["fp32"] // 1024, size["int8"] // 1024,
                  size["int4"] // 1024, cos["int8"], cos["int4"], cos["w8a8"],
                  cos["w4a8"]))


if __name__ == "__main__":
    main()
