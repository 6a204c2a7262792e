#!/usr/bin/env python3
"""Attention and GEMM on the GPU: Loom (loomc --target=cuda libraries, run by
loom-run) against torch (scaled_dot_product_attention, matmul), in TFLOP/s.

  gpu_bench.py models DIR --loomc LOOMC [--arch sm_90a] [--gemm-archs sm_80]
                      [--seqs ...] [--gemms ...]
      (here, with Loom's toolchain) writes DIR/attention_d<D>_s<S>/model.so and
      DIR/gemm_<N>/model.so: ONNX graphs as exporters write them (MatMul with a
      transposed K, scale, Softmax, MatMul; one MatMul), compiled for the GPU
      (--arch), and the GEMMs again for each of --gemm-archs as
      DIR/gemm_<N>_<arch> (sm_80: mma.sync, run on an sm_90a GPU beside the
      sm_90a build's wgmma).
  gpu_bench.py run DIR --loom-run LOOM_RUN [--runs N] [--json FILE]
      (on the GPU machine) makes random inputs with numpy, times every library
      with loom-run --bench (the whole call: input copies included) and torch
      on the same shapes (CUDA events; fp16 attention and bf16 GEMM as the issue
      states the baseline, and fp32 for the like-for-like ratio), prints a
      table and the ratios Loom / torch.

Attention: batch 8, 16 heads, head dim 64 and 128, sequence lengths --seqs
(FLOPs 4·B·H·S²·D). GEMM: N³ for --gemms (FLOPs 2·N³). Loom computes fp32.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

BATCH, HEADS = 8, 16


def attention_model(path, seq, dim):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    shape = [BATCH, HEADS, seq, dim]
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2], name="kt"),
        helper.make_node("MatMul", ["q", "kt"], ["s"], name="qk"),
        helper.make_node("Mul", ["s", "scale"], ["ss"], name="scale"),
        helper.make_node("Softmax", ["ss"], ["p"], axis=-1, name="softmax"),
        helper.make_node("MatMul", ["p", "v"], ["o"], name="pv"),
    ]
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in "qkv"]
    out = helper.make_tensor_value_info("o", TensorProto.FLOAT, shape)
    scale = numpy_helper.from_array(np.array(dim ** -0.5, np.float32), "scale")
    graph = helper.make_graph(nodes, "attention", inputs, [out], [scale])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def gemm_model(path, n):
    import onnx
    from onnx import TensorProto, helper
    nodes = [helper.make_node("MatMul", ["a", "b"], ["c"], name="mm")]
    inputs = [helper.make_tensor_value_info(x, TensorProto.FLOAT, [n, n]) for x in "ab"]
    out = helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])
    graph = helper.make_graph(nodes, "gemm", inputs, [out])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def cases(seqs, dims, gemms, arch, gemm_archs):
    """(name, (kind, a, b), arch) of each library to build."""
    for d in dims:
        for s in seqs:
            yield "attention_d%d_s%d" % (d, s), ("attention", s, d), arch
    for n in gemms:
        yield "gemm_%d" % n, ("gemm", n, None), arch
        for other in gemm_archs:
            if other != arch:
                yield "gemm_%d_%s" % (n, other), ("gemm", n, None), other


def flops(kind, a, b):
    return 4.0 * BATCH * HEADS * a * a * b if kind == "attention" else 2.0 * a ** 3


def build(args):
    for name, (kind, a, b), arch in cases(args.seqs, args.dims, args.gemms, args.arch,
                                          args.gemm_archs):
        d = os.path.join(args.dir, name)
        os.makedirs(d, exist_ok=True)
        onnx_path = os.path.join(d, "model.onnx")
        (attention_model(onnx_path, a, b) if kind == "attention" else gemm_model(onnx_path, a))
        subprocess.run([args.loomc, onnx_path, "--target=cuda", "--gpu-arch=" + arch,
                        "-o", os.path.join(d, "model.so")], check=True)
        os.remove(onnx_path)
        json.dump({"kind": kind, "a": a, "b": b, "arch": arch},
                  open(os.path.join(d, "case.json"), "w"))
        print("built", name)


def torch_time(fn, runs):
    import torch
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(runs):
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return float(np.median(times))


def run(args):
    import torch
    rows = []
    for name in sorted(os.listdir(args.dir)):
        d = os.path.join(args.dir, name)
        if not os.path.exists(os.path.join(d, "case.json")):
            continue
        case = json.load(open(os.path.join(d, "case.json")))
        kind, a, b = case["kind"], case["a"], case["b"]
        rng = np.random.default_rng(0)
        shapes = [[BATCH, HEADS, a, b]] * 3 if kind == "attention" else [[a, a]] * 2
        inputs = os.path.join("/tmp", "loom-gpu-bench", name)
        os.makedirs(inputs, exist_ok=True)
        arrays = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
        for i, x in enumerate(arrays):
            np.save(os.path.join(inputs, "input_%d.npy" % i), x)
        outputs = os.path.join(inputs, "out")
        os.makedirs(outputs, exist_ok=True)
        try:
            p = subprocess.run([args.loom_run, os.path.join(d, "model.so"), "--inputs", inputs,
                                "--bench", str(args.runs), "--warmup", "2", "--json",
                                "--profile", "--outputs", outputs, "--npy"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=args.timeout)
        except subprocess.TimeoutExpired as e:
            p = subprocess.CompletedProcess(e.cmd, 124, "timed out after %d s" % args.timeout)
        loom_ms = call_ms = None
        kernels = []
        if p.returncode == 0:
            timing = json.loads(p.stdout.strip().splitlines()[-1])
            # The kernels' device time (CUDA events, as torch's is measured);
            # the whole call (input and output copies too) is reported beside it.
            call_ms = timing["median_ms"]
            loom_ms = timing.get("kernel_median_ms", call_ms)
            kernels = timing.get("kernels", [])
        else:
            print("%s: loom-run failed: %s" % (name, p.stdout.strip()[-300:]))
        t = [torch.from_numpy(x).cuda() for x in arrays]
        if kind == "attention":
            sdpa = torch.nn.functional.scaled_dot_product_attention
            half = [x.half() for x in t]
            torch_low = torch_time(lambda: sdpa(*half), args.runs)
            torch_fp32 = torch_time(lambda: sdpa(*t), args.runs)
        else:
            low = [x.bfloat16() for x in t]
            torch_low = torch_time(lambda: low[0] @ low[1], args.runs)
            torch.backends.cuda.matmul.allow_tf32 = False
            torch_fp32 = torch_time(lambda: t[0] @ t[1], args.runs)
        # Loom's output against torch's in fp32 (TF32 off).
        err = None
        if loom_ms:
            torch.backends.cuda.matmul.allow_tf32 = False
            if kind == "attention":
                want = torch.nn.functional.scaled_dot_product_attention(*t)
            else:
                want = t[0] @ t[1]
            got = torch.from_numpy(np.load(os.path.join(outputs, "output_0.npy"))).cuda()
            diff = (got - want).abs()
            err = {"max_abs_err": float(diff.max()),
                   "max_rel_err": float((diff / want.abs().clamp_min(1e-3)).max()),
                   "ref_max_abs": float(want.abs().max())}
            del want, got, diff
        f = flops(kind, a, b)
        tf = lambda ms: f / (ms * 1e-3) / 1e12 if ms else None  # noqa: E731
        row = {"case": name, "loom_ms": loom_ms, "loom_tflops": tf(loom_ms),
               "loom_call_ms": call_ms, "error": err, "kernels": kernels,
               "torch_lowp_ms": torch_low, "torch_lowp_tflops": tf(torch_low),
               "torch_fp32_ms": torch_fp32, "torch_fp32_tflops": tf(torch_fp32)}
        row["ratio_vs_lowp"] = row["loom_tflops"] / row["torch_lowp_tflops"] if loom_ms else None
        row["ratio_vs_fp32"] = row["loom_tflops"] / row["torch_fp32_tflops"] if loom_ms else None
        rows.append(row)
        print("%s: loom kernels %s ms (whole call %s ms), torch 16-bit %.3f ms, torch fp32 %.3f ms;"
              " loom vs torch fp32: %s" % (
                  name, "%.3f" % loom_ms if loom_ms else "-", "%.3f" % call_ms if call_ms else "-",
                  torch_low, torch_fp32, json.dumps(err)), flush=True)
        for k in kernels[:6]:
            print("    %-26s %9.3f ms per call, %5.1f launches" % (k["name"], k["ms"], k["launches"]),
                  flush=True)
        del t
        torch.cuda.empty_cache()
    print("%-22s %10s %10s %12s %12s %9s %9s" % ("case", "loom ms", "loom TF/s", "torch16 TF/s",
                                                 "torch32 TF/s", "÷ 16-bit", "÷ fp32"))
    fmt = lambda v, p: ("%." + str(p) + "f") % v if v is not None else "-"  # noqa: E731
    for r in rows:
        print("%-22s %10s %10s %12s %12s %9s %9s" % (
            r["case"], fmt(r["loom_ms"], 2), fmt(r["loom_tflops"], 1),
            fmt(r["torch_lowp_tflops"], 1), fmt(r["torch_fp32_tflops"], 1),
            fmt(r["ratio_vs_lowp"], 3), fmt(r["ratio_vs_fp32"], 3)))
    if args.json:
        json.dump({"device": torch.cuda.get_device_name(0), "rows": rows}, open(args.json, "w"),
                  indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("models")
    m.add_argument("dir")
    m.add_argument("--loomc", required=True)
    m.add_argument("--arch", default="sm_90a")
    m.add_argument("--gemm-archs", dest="gemm_archs", nargs="*", default=["sm_80"],
                   help="also build the GEMMs for these architectures")
    m.add_argument("--seqs", type=int, nargs="+", default=[1024, 2048, 4096])
    m.add_argument("--dims", type=int, nargs="+", default=[64, 128])
    m.add_argument("--gemms", type=int, nargs="+", default=[4096, 8192])
    r = sub.add_parser("run")
    r.add_argument("dir")
    r.add_argument("--loom-run", dest="loom_run", required=True)
    r.add_argument("--runs", type=int, default=5)
    r.add_argument("--json")
    r.add_argument("--timeout", type=int, default=90, help="seconds per loom-run call")
    args = ap.parse_args()
    build(args) if args.cmd == "models" else run(args)


if __name__ == "__main__":
    sys.exit(main())
