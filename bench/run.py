#!/usr/bin/python3
"""Benchmark: Loom against ONNX Runtime on the same models, in the same run.

  bench/run.py [--repeats 3] [--runs 20] [--threads 2] [--models bert,gpt2,vit]

Installs onnxruntime-node into bench/node_modules (ONNXRUNTIME_NODE_INSTALL=skip:
its install step would otherwise download GPU libraries), builds each model
with scripts/real_models.py at benchmark size, compiles it with build/bin/loomc,
times the model call alone with `loom-run --bench` and ONNX Runtime
(`bench/ort_bench.mjs`, CPU, --threads intra-op threads) on the same inputs,
alternating the two, --repeats times. Prints per model the median of the
per-repeat medians and the ratio loom/ort (below 1: Loom is faster). Not a
test: the machine is noisy, so compare ratios and repeat.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import numpy as np
from onnx import numpy_helper, TensorProto

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
SIZES = {
    "bert": ["--d", "256", "--layers", "4", "--heads", "8", "--batch", "1", "--seq", "128"],
    "gpt2": ["--d", "256", "--layers", "4", "--heads", "8", "--batch", "1", "--seq", "128"],
    "vit": ["--d", "256", "--layers", "4", "--heads", "8", "--batch", "4"],
}


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, **kw).stdout.decode()


def ensure_ort():
    if os.path.isdir(os.path.join(BENCH, "node_modules", "onnxruntime-node")):
        return
    env = dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip")
    subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=BENCH, env=env,
                   check=True)


def write_inputs(model_dir):
    spec = []
    dtypes = {TensorProto.FLOAT: "float32", TensorProto.INT64: "int64", TensorProto.INT32: "int32"}
    t = TensorProto()
    t.ParseFromString(open(os.path.join(model_dir, "in", "input_0.pb"), "rb").read())
    a = numpy_helper.to_array(t)
    path = os.path.join(model_dir, "input_0.bin")
    a.tofile(path)
    name = "tokens" if a.dtype == np.int64 else "images"
    spec.append({"name": name, "dtype": dtypes[t.data_type], "dims": list(a.shape), "file": path})
    out = os.path.join(model_dir, "inputs.json")
    json.dump(spec, open(out, "w"))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="bert,gpt2,vit")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench"))
    args = ap.parse_args()
    ensure_ort()
    loomc = os.path.join(ROOT, "build", "bin", "loomc")
    loom_run = os.path.join(ROOT, "build", "bin", "loom-run")
    rows = []
    for name in args.models.split(","):
        d = os.path.join(args.work, name)
        sh([sys.executable, os.path.join(ROOT, "scripts", "real_models.py"), name, d] + SIZES[name])
        model = os.path.join(d, "model.onnx")
        so = os.path.join(d, "model.so")
        sh([loomc, model, "-o", so])
        check = subprocess.run([loom_run, so, "--inputs", os.path.join(d, "in"), "--expected",
                                os.path.join(d, "exp"), "--rtol", "1e-3", "--atol", "1e-4"],
                               stdout=subprocess.PIPE).stdout.decode().strip()
        inputs = write_inputs(d)
        loom_ms, ort_ms = [], []
        for _ in range(args.repeats):
            out = sh([loom_run, so, "--inputs", os.path.join(d, "in"), "--bench", str(args.runs),
                      "--warmup", str(args.warmup), "--json", "--threads", str(args.threads)])
            loom_ms.append(json.loads(out.strip().splitlines()[-1])["median_ms"])
            out = sh(["node", os.path.join(BENCH, "ort_bench.mjs"), model, inputs,
                      str(args.runs), str(args.warmup), str(args.threads)])
            ort_ms.append(json.loads(out.strip().splitlines()[-1])["median_ms"])
        lm, om = statistics.median(loom_ms), statistics.median(ort_ms)
        rows.append((name, lm, om, lm / om, check))
    print("%-6s %12s %12s %12s  %s" % ("model", "loom ms", "ort ms", "loom/ort", "check vs torch"))
    for name, lm, om, ratio, check in rows:
        print("%-6s %12.3f %12.3f %12.2f  %s" % (name, lm, om, ratio, check))


if __name__ == "__main__":
    main()
