#!/usr/bin/python3
"""Benchmark: attention layers, Loom against ONNX Runtime, and the peak memory
of long-sequence attention.

  bench/attention.py [--repeats 3] [--runs 10] [--threads 2] [--cases ...]
                     [--memory-seq 8192]

Each case is one layer as exporters emit it, on q, k, v of shape
[1, 12, S, 64]: decomposed softmax attention (ONNX MatMul / Div /
[Where(Trilu) causal mask] / Softmax / MatMul, built with onnx.helper), which
Loom raises to loom.attention and tiles (flash attention); or causal linear
attention exported by torch with cumsum (test/Integration/Inputs/
scan_models.py), which Loom raises to loom.scan. ONNX Runtime runs the same
graph with all graph optimizations. Both are timed on the same inputs,
alternating, --repeats times (medians of medians; ratio loom/ort, below 1
Loom is faster). Not a test: the machine is noisy.

The memory figure: one run of causal attention at --memory-seq (12 heads,
head dim 64) under loom-run, its peak RSS from getrusage (inputs and
output included); a score matrix would need 12 * S * S * 4 bytes. A slice of
the output is checked against numpy, head by head.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

# The numpy reference check multiplies matrices in this process; OpenBLAS's
# worker threads then spin on the two cores while loom-run and ONNX Runtime
# are timed (attention S = 512 read 5.3-6.6 ms instead of 2.95). One BLAS
# thread here; the timed processes do not use OpenBLAS.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
import numpy as np  # noqa: E402
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from run import ensure_ort, sh  # noqa: E402

H, D = 12, 64
# case -> (sequence length, kind): softmax attention, causal softmax attention,
# causal linear attention (torch export with cumsum, raised to loom.scan).
CASES = {"attn512": (512, "full"), "attn2048": (2048, "full"), "causal1024": (1024, "causal"),
         "linattn1024": (1024, "linear")}


def const(name, value):
    return helper.make_node("Constant", [], [name], name=name,
                            value=numpy_helper.from_array(np.asarray(value)))


def attention_model(causal):
    """q, k, v [1, H, S, D] -> softmax(q k^T / 8 (+ causal)) v."""
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], name="k_t", perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s"], name="scores"),
        const("c8", np.float32(8.0)),
        helper.make_node("Div", ["s", "c8"], ["ss"], name="scale"),
    ]
    scores = "ss"
    if causal:
        nodes += [
            helper.make_node("Shape", ["q"], ["qs"], name="qshape"),
            const("two", np.int64(2)),
            helper.make_node("Gather", ["qs", "two"], ["n"], name="seq_len", axis=0),
            const("ax0", np.array([0], np.int64)),
            helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"], name="n1"),
            helper.make_node("Concat", ["n1", "n1"], ["nn"], name="nn", axis=0),
            helper.make_node("ConstantOfShape", ["nn"], ["ones"], name="ones",
                             value=numpy_helper.from_array(np.array([True]))),
            const("one", np.int64(1)),
            helper.make_node("Trilu", ["ones", "one"], ["upper"], name="upper", upper=1),
            const("ninf", np.float32(-np.inf)),
            helper.make_node("Where", ["upper", "ninf", "ss"], ["m"], name="mask"),
        ]
        scores = "m"
    nodes += [helper.make_node("Softmax", [scores], ["p"], name="probs", axis=-1),
              helper.make_node("MatMul", ["p", "v"], ["o"], name="context")]
    shape = [1, H, "seq", D]
    graph = helper.make_graph(nodes, "attention",
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)
                               for n in "qkv"],
                              [helper.make_tensor_value_info("o", TensorProto.FLOAT, shape)])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def reference(q, k, v, causal, heads):
    """numpy attention for the given heads (float64)."""
    out = []
    for h in heads:
        s = q[0, h].astype(np.float64) @ k[0, h].T.astype(np.float64) / 8.0
        if causal:
            n = s.shape[0]
            s = np.where(np.triu(np.ones((n, n), bool), 1), -np.inf, s)
        e = np.exp(s - s.max(-1, keepdims=True))
        out.append((e / e.sum(-1, keepdims=True)) @ v[0, h])
    return np.stack(out)


def prepare(d, seq, kind, loomc):
    os.makedirs(os.path.join(d, "in"), exist_ok=True)
    arrays = []
    if kind == "linear":
        sh([sys.executable, os.path.join(ROOT, "test", "Integration", "Inputs", "scan_models.py"),
            "linear_attention", d, "--seq", str(seq), "--heads", str(H), "--dim", str(D)])
        for i in range(3):
            t = onnx.TensorProto()
            t.ParseFromString(open(os.path.join(d, "in", "input_%d.pb" % i), "rb").read())
            arrays.append(numpy_helper.to_array(t))
    else:
        onnx.save(attention_model(kind == "causal"), os.path.join(d, "model.onnx"))
        r = np.random.default_rng(0)
        for i in range(3):
            a = r.standard_normal((1, H, seq, D)).astype(np.float32)
            arrays.append(a)
            np.save(os.path.join(d, "in", "input_%d.npy" % i), a)
    spec = []
    for i, (name, a) in enumerate(zip("qkv", arrays)):
        a.tofile(os.path.join(d, "input_%d.bin" % i))
        spec.append({"name": name, "dtype": "float32", "dims": list(a.shape),
                     "file": os.path.join(d, "input_%d.bin" % i)})
    json.dump(spec, open(os.path.join(d, "inputs.json"), "w"))
    sh([loomc, os.path.join(d, "model.onnx"), "-o", os.path.join(d, "model.so")])
    return arrays


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--memory-seq", type=int, default=8192, help="0 skips the memory run")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench", "attention"))
    args = ap.parse_args()
    loomc = os.path.join(ROOT, "build", "bin", "loomc")
    loom_run = os.path.join(ROOT, "build", "bin", "loom-run")
    rows = []
    if args.cases:
        ensure_ort()
    for name in filter(None, args.cases.split(",")):
        seq, kind = CASES[name]
        d = os.path.join(args.work, name)
        q, k, v = prepare(d, seq, kind, loomc)
        out_dir = os.path.join(d, "out")
        os.makedirs(out_dir, exist_ok=True)
        if kind == "linear":
            # Against torch's output (scan_models.py wrote it).
            out = sh([loom_run, os.path.join(d, "model.so"), "--inputs", os.path.join(d, "in"),
                      "--expected", os.path.join(d, "exp"), "--json"])
            err = max(json.loads(line).get("max_abs_err", 0.0)
                      for line in out.strip().splitlines())
        else:
            # Two heads against numpy.
            sh([loom_run, os.path.join(d, "model.so"), "--inputs", os.path.join(d, "in"),
                "--outputs", out_dir, "--npy"])
            got = np.load(os.path.join(out_dir, "output_0.npy"))[0, [0, H - 1]]
            err = float(np.abs(got - reference(q, k, v, kind == "causal", [0, H - 1])).max())
        loom_ms, ort_ms = [], []
        for _ in range(args.repeats):
            out = sh([loom_run, os.path.join(d, "model.so"), "--inputs", os.path.join(d, "in"),
                      "--bench", str(args.runs), "--warmup", str(args.warmup), "--json",
                      "--threads", str(args.threads)])
            loom_ms.append(json.loads(out.strip().splitlines()[-1])["median_ms"])
            out = sh(["node", os.path.join(ROOT, "bench", "ort_bench.mjs"),
                      os.path.join(d, "model.onnx"), os.path.join(d, "inputs.json"),
                      str(args.runs), str(args.warmup), str(args.threads)])
            ort_ms.append(json.loads(out.strip().splitlines()[-1])["median_ms"])
        lm, om = statistics.median(loom_ms), statistics.median(ort_ms)
        if kind == "linear":
            flops = 4.0 * H * seq * D * D  # state update and readout per step
        else:
            flops = 4.0 * H * seq * seq * D * (0.5 if kind == "causal" else 1.0)
        rows.append((name, lm, om, lm / om, flops / lm / 1e6, err))
    if rows:
        print("%-11s %10s %10s %9s %12s %12s" % ("case", "loom ms", "ort ms", "loom/ort",
                                                 "loom GFLOP/s", "max abs err"))
        for name, lm, om, ratio, gf, err in rows:
            print("%-11s %10.2f %10.2f %9.2f %12.1f %12.2e" % (name, lm, om, ratio, gf, err))

    if args.memory_seq:
        seq = args.memory_seq
        d = os.path.join(args.work, "memory%d" % seq)
        q, k, v = prepare(d, seq, "causal", loomc)
        out_dir = os.path.join(d, "out")
        os.makedirs(out_dir, exist_ok=True)
        # A fresh Python runs loom-run alone, so its children's peak RSS is
        # loom-run's.
        probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
                 "stdout=subprocess.DEVNULL); "
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        peak_kb = int(sh([sys.executable, "-c", probe, loom_run, os.path.join(d, "model.so"),
                          "--inputs", os.path.join(d, "in"), "--outputs", out_dir, "--npy",
                          "--threads", str(args.threads)]).split()[-1])
        got = np.load(os.path.join(out_dir, "output_0.npy"))
        rows_checked = slice(seq - 256, seq)
        want = reference(q, k, v, True, [0])[0][rows_checked]
        err = float(np.abs(got[0, 0, rows_checked] - want).max())
        io_mb = 4 * 4 * H * seq * D / 2 ** 20
        print("causal attention S=%d, %d heads, d=%d: loom-run peak RSS %.0f MiB "
              "(inputs + output %.0f MiB; a score matrix would be %.0f MiB); "
              "max abs err (head 0, last 256 rows) %.2e" % (
                  seq, H, D, peak_kb / 1024, io_mb, H * seq * seq * 4 / 2 ** 20, err))


if __name__ == "__main__":
    main()
