#!/usr/bin/python3
"""Runs loomc over ONNX's backend node tests (Debian's libonnx-testdata).

  onnx_node_tests.py import --loomc build/bin/loomc [--floor N] [--list]
  onnx_node_tests.py run --loomc build/bin/loomc --loom-run build/bin/loom-run
                         [--floor N] [--list] [--filter REGEX]

`import`: every `model.onnx` that ONNX's own checker accepts must import with
`loomc --emit=onnx-ir` (exit 0, no crash).

`run`: every node test whose ops are all in the CPU op set (IN_SCOPE below)
is compiled to a shared library and run on each of its test_data_set_*
against ONNX's expected outputs (rtol 1e-3, atol 1e-4). Prints pass/fail per
op and in total; a failure prints the first line of its error.

Both fail when fewer than --floor models pass or when any tool crashes.
"""
import argparse
import concurrent.futures
import glob
import os
import subprocess
import sys

import onnx

DATA = "/usr/share/libonnx-testdata/data/node"


def checker_accepts(path):
    try:
        onnx.checker.check_model(path)
        return True
    except Exception:
        return False


def run_import(loomc, path):
    proc = subprocess.run([loomc, path, "--emit=onnx-ir", "-o", os.devnull],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    return proc.returncode, proc.stdout.decode(errors="replace")


# The op set of the CPU end-to-end issue.
IN_SCOPE = set("""
MatMul Gemm Add Sub Mul Div Pow Sqrt Reciprocal Neg Abs Exp Log Erf Tanh Sigmoid Relu LeakyRelu
Elu Softplus Clip Max Min Where Equal Less Greater Not And Or Cast Softmax LogSoftmax ReduceMean
ReduceSum ReduceMax ReduceMin ReduceSumSquare ArgMax Transpose Reshape Flatten Squeeze Unsqueeze
Concat Split Slice Gather GatherElements ScatterElements Expand Shape Size ConstantOfShape Constant
Range Trilu CumSum Einsum TopK Identity Dropout LayerNormalization Conv LessOrEqual GreaterOrEqual
HardSigmoid HardSwish If Loop Scan SequenceEmpty SequenceInsert ConcatFromSequence SplitToSequence
SequenceAt SequenceLength Round Floor Ceil QuantizeLinear DequantizeLinear DynamicQuantizeLinear
MatMulInteger QLinearMatMul
""".split())


def graph_ops(graph):
    ops = set()
    for node in graph.node:
        ops.add(node.op_type)
        for attr in node.attribute:
            if attr.HasField("g"):
                ops |= graph_ops(attr.g)
            for g in attr.graphs:
                ops |= graph_ops(g)
    return ops


def run_one(args, model, workdir):
    """Compiles and runs one node test; returns (status, message)."""
    name = os.path.basename(os.path.dirname(model))
    so = os.path.join(workdir, name + ".so")
    proc = subprocess.run([args.loomc, model, "-o", so], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=300)
    out = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        first = next((l for l in out.splitlines() if "error" in l), out.strip()[:200])
        return ("crash" if proc.returncode < 0 or proc.returncode > 1 else "compile"), first
    for data in sorted(glob.glob(os.path.join(os.path.dirname(model), "test_data_set_*"))):
        proc = subprocess.run([args.loom_run, so, "--inputs", data, "--expected", data,
                               "--rtol", "1e-3", "--atol", "1e-4"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        out = proc.stdout.decode(errors="replace")
        if proc.returncode != 0:
            first = next((l for l in out.splitlines() if "MISMATCH" in l or "error" in l),
                         out.strip()[:200])
            kind = "crash" if proc.returncode < 0 or proc.returncode > 2 else "run"
            return kind, "%s: %s" % (os.path.basename(data), first)
    os.remove(so)
    return "pass", ""


def run_mode(args):
    import re
    import tempfile
    models = sorted(glob.glob(os.path.join(DATA, "*", "model.onnx")))
    if args.filter:
        models = [m for m in models if re.search(args.filter, m)]
    scoped = []
    for m in models:
        try:
            ops = graph_ops(onnx.load(m).graph)
        except Exception:
            continue
        if ops and ops <= IN_SCOPE:
            scoped.append((m, ops))
    workdir = tempfile.mkdtemp(prefix="loom-node-")
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda mo: (mo, run_one(args, mo[0], workdir)), scoped))
    per_op = {}
    counts = {"pass": 0, "compile": 0, "run": 0, "crash": 0}
    for (model, ops), (status, message) in results:
        name = os.path.basename(os.path.dirname(model))
        counts[status] += 1
        for op in ops:
            p, t = per_op.get(op, (0, 0))
            per_op[op] = (p + (status == "pass"), t + 1)
        if args.list or status != "pass":
            print("%-6s %-55s %s" % (status.upper() if status != "pass" else "ok", name, message))
    print("per op (passing tests / in-scope tests using the op):")
    for op in sorted(per_op):
        print("  %-20s %d/%d" % (op, per_op[op][0], per_op[op][1]))
    failed = counts["compile"] + counts["run"]
    print("in-scope node tests: %d" % len(scoped))
    print("run: %d passed, %d failed, %d crashed" % (counts["pass"], failed, counts["crash"]))
    if counts["crash"] or counts["pass"] < args.floor:
        print("below floor %d or crashed" % args.floor)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["import", "run"])
    ap.add_argument("--loomc", required=True)
    ap.add_argument("--loom-run", dest="loom_run")
    ap.add_argument("--floor", type=int, default=0)
    ap.add_argument("--filter", help="only node tests whose path matches REGEX")
    ap.add_argument("--list", action="store_true", help="print every model's result")
    args = ap.parse_args()
    if args.mode == "run":
        return run_mode(args)

    models = sorted(glob.glob(os.path.join(DATA, "*", "model.onnx")))
    accepted = [m for m in models if checker_accepts(m)]
    passed, failed, crashed = [], [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda m: (m, run_import(args.loomc, m)), accepted))
    for model, (code, out) in results:
        name = os.path.basename(os.path.dirname(model))
        if code == 0:
            passed.append(name)
        elif code < 0 or code > 1:
            crashed.append((name, code, out))
        else:
            failed.append((name, out))
        if args.list:
            print("%-60s %s" % (name, "ok" if code == 0 else "exit %d" % code))
    for name, out in failed:
        print("FAIL %s: %s" % (name, out.strip().splitlines()[0] if out.strip() else ""))
    for name, code, out in crashed:
        print("CRASH %s (exit %d): %s" % (name, code, out.strip()[-300:]))
    print("node models: %d, accepted by the ONNX checker: %d" % (len(models), len(accepted)))
    print("import: %d passed, %d failed, %d crashed" % (len(passed), len(failed), len(crashed)))
    if crashed or len(passed) < args.floor:
        print("below floor %d or crashed" % args.floor)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
