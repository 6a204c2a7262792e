#!/usr/bin/python3
"""Benchmark: Loom against ONNX Runtime on the same models, in the same run.

  bench/run.py [--repeats 3] [--runs 20] [--threads 2]
               [--models bert128,bert512,gpt2,vit,mixer] [--json FILE]

The models are the shapes of docs/Performance.md: a BERT-base-shaped encoder
(d 768, 12 heads, 4 layers) at sequence 128 and 512, a GPT-2-small-shaped
decoder prefill (d 768, 12 heads, 6 layers, sequence 256, LM head over a
vocabulary of 8192), a ViT-S block (d 384, 6 heads, 224x224 images in 16x16
patches: 197 tokens), an MLP-Mixer-S block (196 tokens, d 512) and a Mamba block
(d 768, inner 1536, state 16, sequence 256; its selective scan an ONNX Loop as a
scripted torch loop exports it) and a top-2-of-8 mixture-of-experts FFN (d 768,
experts d -> 4d -> d, sequence 128, written with masks: the exported graph runs
every expert); batch 1. `--models mamba,moe` runs the last two.
"small" names (bert-small, gpt2-small, vit-small) are the earlier d 256 sizes.

Installs onnxruntime-node into bench/node_modules (ONNXRUNTIME_NODE_INSTALL=skip:
its install step would otherwise download GPU libraries), builds each model
with scripts/real_models.py at benchmark size, compiles it with build/bin/loomc,
times the model call alone with `loom-run --bench` and ONNX Runtime
(`bench/ort_bench.mjs`, CPU, --threads intra-op threads) on the same inputs,
alternating the two, --repeats times. Prints per model the median of the
per-repeat medians, the ratio loom/ort (below 1: Loom is faster), loomc's
compile time and the GFLOP/s both reach (matrix-multiply FLOPs counted from
the model's shape arguments, model_flops). Not a
test: the machine is noisy, so compare ratios and repeat.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from onnx import numpy_helper, TensorProto

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
# name -> (real_models.py model, its arguments)
SIZES = {
    "bert128": ("bert", ["--d", "768", "--layers", "4", "--heads", "12", "--batch", "1",
                         "--seq", "128"]),
    "bert512": ("bert", ["--d", "768", "--layers", "4", "--heads", "12", "--batch", "1",
                         "--seq", "512"]),
    "gpt2": ("gpt2", ["--d", "768", "--layers", "6", "--heads", "12", "--batch", "1",
                      "--seq", "256", "--vocab", "8192"]),
    "vit": ("vit", ["--d", "384", "--layers", "1", "--heads", "6", "--batch", "1",
                    "--image", "224", "--patch", "16"]),
    "mixer": ("mixer", ["--d", "512", "--layers", "1", "--batch", "1", "--seq", "196"]),
    "moe": ("moe", ["--d", "768", "--layers", "1", "--batch", "1", "--seq", "128"]),
    "mamba": ("mamba", ["--d", "768", "--layers", "1", "--batch", "1", "--seq", "256"]),
    "bert-small": ("bert", ["--d", "256", "--layers", "4", "--heads", "8", "--batch", "1",
                            "--seq", "128"]),
    "gpt2-small": ("gpt2", ["--d", "256", "--layers", "4", "--heads", "8", "--batch", "1",
                            "--seq", "128"]),
    "vit-small": ("vit", ["--d", "256", "--layers", "4", "--heads", "8", "--batch", "4"]),
}


def model_flops(kind, sizes):
    """Matrix-multiply FLOPs (2 per multiply-add) of one model call, from its
    shape arguments: projections and MLPs (24·S·d² per transformer layer),
    attention scores and values (4·S²·d), the LM head, the patch embedding,
    the Mixer's token and channel MLPs."""
    arg = dict(zip(sizes[::2], sizes[1::2]))
    d, layers, batch = int(arg["--d"]), int(arg["--layers"]), int(arg["--batch"])
    if kind in ("bert", "gpt2"):
        s = int(arg["--seq"])
        flops = layers * (24 * s * d * d + 4 * s * s * d)
        if kind == "gpt2":
            flops += 2 * s * d * int(arg.get("--vocab", 128))
    elif kind == "vit":
        image, patch = int(arg.get("--image", 16)), int(arg.get("--patch", 4))
        n = (image // patch) ** 2
        flops = 2 * n * 3 * patch * patch * d
        s = n + 1
        flops += layers * (24 * s * d * d + 4 * s * s * d) + 2 * d * 10
    elif kind == "mixer":
        s, h = int(arg["--seq"]), d // 2
        flops = layers * (4 * d * s * h + 16 * s * d * d)
    elif kind == "moe":
        # The routed work: 2 of 8 experts per token, each d -> 4d -> d (the
        # exported graph, and ONNX Runtime, compute all 8), plus the router.
        s = int(arg["--seq"])
        flops = 2 * s * (2 * 2 * d * 4 * d + d * 8)
    elif kind == "mamba":
        # in_proj d -> 4d, x_proj 2d -> rank + 32, dt_proj rank -> 2d,
        # out_proj 2d -> d; the scan (6 flops per state element and step)
        # and the depthwise conv are left out.
        s, inner, rank = int(arg["--seq"]), 2 * d, -(-d // 16)
        flops = layers * 2 * s * (d * 2 * inner + inner * (rank + 32) + rank * inner
                                  + inner * d)
    else:
        raise SystemExit("no FLOP count for " + kind)
    return batch * flops


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, **kw).stdout.decode()


def ensure_ort():
    if os.path.isdir(os.path.join(BENCH, "node_modules", "onnxruntime-node")):
        return
    env = dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip")
    subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=BENCH, env=env,
                   check=True)


def write_inputs(model_dir):
    import onnx
    input_name = onnx.load(os.path.join(model_dir, "model.onnx"),
                           load_external_data=False).graph.input[0].name
    spec = []
    dtypes = {TensorProto.FLOAT: "float32", TensorProto.INT64: "int64", TensorProto.INT32: "int32"}
    t = TensorProto()
    t.ParseFromString(open(os.path.join(model_dir, "in", "input_0.pb"), "rb").read())
    a = numpy_helper.to_array(t)
    path = os.path.join(model_dir, "input_0.bin")
    a.tofile(path)
    spec.append({"name": input_name, "dtype": dtypes[t.data_type], "dims": list(a.shape), "file": path})
    out = os.path.join(model_dir, "inputs.json")
    json.dump(spec, open(out, "w"))
    return out


def time_both(so, model, in_dir, inputs, args):
    """Times the compiled model `so` (loom-run --bench on in_dir) and the ONNX
    model in ONNX Runtime (ort_bench.mjs on `inputs`, from write_inputs),
    alternating, args.repeats times, each args.runs calls after args.warmup;
    returns the per-repeat medians (ms) of Loom and of ORT."""
    loom_run = os.path.join(ROOT, "build", "bin", "loom-run")
    loom_ms, ort_ms = [], []
    for _ in range(args.repeats):
        out = sh([loom_run, so, "--inputs", in_dir, "--bench", str(args.runs),
                  "--warmup", str(args.warmup), "--json", "--threads", str(args.threads)])
        loom_ms.append(json.loads(out.strip().splitlines()[-1])["median_ms"])
        out = sh(["node", os.path.join(BENCH, "ort_bench.mjs"), model, inputs,
                  str(args.runs), str(args.warmup), str(args.threads)])
        ort_ms.append(json.loads(out.strip().splitlines()[-1])["median_ms"])
    return loom_ms, ort_ms


def matmul_model(d, m, k, n, w, rng):
    """Writes d/model.onnx, one MatMul of an input x [m, k] by the constant
    w [k, n], and a random normal x as d/in/input_0.npy and, for
    ort_bench.mjs, d/input_0.bin described by d/inputs.json."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    os.makedirs(os.path.join(d, "in"), exist_ok=True)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")], "matmul",
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="bert128,bert512,gpt2,vit,mixer")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench"))
    args = ap.parse_args()
    ensure_ort()
    loomc = os.path.join(ROOT, "build", "bin", "loomc")
    loom_run = os.path.join(ROOT, "build", "bin", "loom-run")
    rows = []
    for name in args.models.split(","):
        kind, sizes = SIZES[name]
        d = os.path.join(args.work, name)
        sh([sys.executable, os.path.join(ROOT, "scripts", "real_models.py"), kind, d] + sizes)
        model = os.path.join(d, "model.onnx")
        so = os.path.join(d, "model.so")
        t0 = time.perf_counter()
        sh([loomc, model, "-o", so])
        compile_s = time.perf_counter() - t0
        check = subprocess.run([loom_run, so, "--inputs", os.path.join(d, "in"), "--expected",
                                os.path.join(d, "exp"), "--rtol", "1e-3", "--atol", "1e-4"],
                               stdout=subprocess.PIPE).stdout.decode().strip()
        inputs = write_inputs(d)
        flops = model_flops(kind, sizes)
        loom_ms, ort_ms = time_both(so, model, os.path.join(d, "in"), inputs, args)
        lm, om = statistics.median(loom_ms), statistics.median(ort_ms)
        rows.append({"model": name, "loom_ms": lm, "ort_ms": om, "ratio": lm / om,
                     "compile_s": compile_s, "gflop": flops / 1e9,
                     "loom_gflops": flops / lm / 1e6, "ort_gflops": flops / om / 1e6,
                     "loom_ms_all": loom_ms, "ort_ms_all": ort_ms, "check": check})
    print("%-10s %9s %9s %9s %10s %7s %10s %10s  %s" % (
        "model", "loom ms", "ort ms", "loom/ort", "compile s", "GFLOP", "loom GF/s",
        "ort GF/s", "check vs torch"))
    for r in rows:
        print("%-10s %9.3f %9.3f %9.2f %10.1f %7.2f %10.1f %10.1f  %s" % (
            r["model"], r["loom_ms"], r["ort_ms"], r["ratio"], r["compile_s"], r["gflop"],
            r["loom_gflops"], r["ort_gflops"], r["check"].replace("\n", "; ")))
    if args.json:
        json.dump(rows, open(args.json, "w"), indent=1)

if __name__ == "__main__":
    main()
