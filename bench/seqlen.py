#!/usr/bin/python3
"""Benchmark: one compiled model over many sequence lengths, against ONNX Runtime.

  bench/seqlen.py [--model bert|gpt2] [--seqs 1,2,4,8,16,32,64,128,256,512]
                  [--repeats 3] [--runs 20] [--warmup 5] [--threads 2] [--json FILE]

The bench models' sequence axis is dynamic (`seq` in the ONNX graph), so one
library serves every length: this script compiles the model once (loomc on
the export at the longest length) and runs that same library at each length
against torch's outputs (loom-run --expected, rtol 1e-3, atol 1e-4), then
times it (`loom-run --bench`) and ONNX Runtime (`bench/ort_bench.mjs`, 2
intra-op threads, all graph optimizations) on the same inputs, alternating,
--repeats times. Prints per length the medians of the per-repeat medians,
the ratio loom/ort and the GFLOP/s both reach (run.py's model_flops): a
length where Loom's rate falls off while ORT's does not is a small-M cliff.

Models: bert (run.py's bert512 shape: d 768, 12 heads, 4 layers) or gpt2
(run.py's gpt2: d 768, 12 heads, 6 layers, vocabulary 8192; a prefill of
each length, causal). scripts/real_models.py seeds the weights before it
draws the input, so the exports at every length carry the same weights; each
length's directory holds its export (what ORT runs), input and torch output.
Not a test: the machine is noisy, so compare ratios and repeat.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import ROOT, SIZES, ensure_ort, model_flops, sh, time_both, write_inputs  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["bert", "gpt2"], default="bert")
    ap.add_argument("--seqs", default="1,2,4,8,16,32,64,128,256,512")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench", "seqlen"))
    args = ap.parse_args()
    seqs = [int(s) for s in args.seqs.split(",")]
    if not seqs or min(seqs) < 1:
        raise SystemExit("--seqs: positive lengths, comma-separated")
    if args.model == "bert" and max(seqs) > 512:
        raise SystemExit("--seqs: bert's position table has 512 rows")
    ensure_ort()
    loomc = os.path.join(ROOT, "build", "bin", "loomc")
    loom_run = os.path.join(ROOT, "build", "bin", "loom-run")
    kind, base = SIZES["bert512" if args.model == "bert" else "gpt2"]

    def sizes_at(s):
        sizes = list(base)
        sizes[sizes.index("--seq") + 1] = str(s)
        return sizes

    dirs = {}
    for s in seqs:
        d = os.path.join(args.work, "%s-%d" % (args.model, s))
        sh([sys.executable, os.path.join(ROOT, "scripts", "real_models.py"), kind, d]
           + sizes_at(s))
        dirs[s] = d
    so = os.path.join(args.work, args.model + ".so")
    t0 = time.perf_counter()
    sh([loomc, os.path.join(dirs[max(seqs)], "model.onnx"), "-o", so])
    compile_s = time.perf_counter() - t0

    rows = []
    for s in seqs:
        d = dirs[s]
        model = os.path.join(d, "model.onnx")
        check = subprocess.run([loom_run, so, "--inputs", os.path.join(d, "in"), "--expected",
                                os.path.join(d, "exp"), "--rtol", "1e-3", "--atol", "1e-4"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        check_text = check.stdout.decode().strip().replace("\n", "; ")
        inputs = write_inputs(d)
        flops = model_flops(kind, sizes_at(s))
        loom_ms, ort_ms = time_both(so, model, os.path.join(d, "in"), inputs, args)
        lm, om = statistics.median(loom_ms), statistics.median(ort_ms)
        rows.append({"model": args.model, "seq": s, "loom_ms": lm, "ort_ms": om,
                     "ratio": lm / om, "gflop": flops / 1e9,
                     "loom_gflops": flops / lm / 1e6, "ort_gflops": flops / om / 1e6,
                     "loom_ms_all": loom_ms, "ort_ms_all": ort_ms,
                     "check_ok": check.returncode == 0, "check": check_text})
    print("%s: one library for every length (loomc %.1f s)" % (args.model, compile_s))
    print("%6s %9s %9s %9s %10s %10s  %s" % ("seq", "loom ms", "ort ms", "loom/ort",
                                            "loom GF/s", "ort GF/s", "check vs torch"))
    for r in rows:
        print("%6d %9.3f %9.3f %9.2f %10.1f %10.1f  %s" % (
            r["seq"], r["loom_ms"], r["ort_ms"], r["ratio"], r["loom_gflops"],
            r["ort_gflops"], r["check"]))
    if args.json:
        json.dump({"compile_s": compile_s, "rows": rows}, open(args.json, "w"), indent=1)
    if not all(r["check_ok"] for r in rows):
        raise SystemExit("outputs differ from torch's at some length")


if __name__ == "__main__":
    main()
