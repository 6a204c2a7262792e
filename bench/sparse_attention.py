#!/usr/bin/python3
"""Benchmark: sliding-window attention against Loom's dense flash attention.

  bench/sparse_attention.py [--repeats 2] [--runs 3] [--threads 2]
                            [--seqs 4096,16384] [--window 512] [--heads 1]

Each case is one loom.attention on q, k, v of shape [1, H, S, 64], written
as MLIR and compiled by loomc: full attention and the same with
`window = W` (what `--attention=sliding-window:W` sets), non-causal
(Longformer-style band, 2W - 1 keys per query) and causal (Mistral-style,
the last W keys). Both are timed alternating, --repeats times (medians of
medians). The issue's goal is time proportional to the computed tiles: the
table gives the measured time ratio window/full next to the ratio of key
tiles the tiled loops visit (tile-q 128, tile-kv 256: loomc's defaults) and
of the scores inside the band. One window output row block is checked
against numpy. Not a test: the machine is noisy.
"""
import argparse
import json
import os
import statistics
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from run import sh  # noqa: E402

TILE_Q, TILE_KV, D = 128, 256, 64


def tiles(seq, window, causal):
    """Key tiles the flash loops visit, summed over query tiles."""
    total = 0
    for q0 in range(0, seq, TILE_Q):
        rows = min(TILE_Q, seq - q0)
        end = seq
        if causal:
            end = min(seq, q0 + rows)
        elif window:
            end = min(seq, q0 + rows + window - 1)
        first = max(0, q0 - (window - 1)) if window else 0
        total += -(-(end - first) // TILE_KV)
    return total


def scores(seq, window, causal):
    i = np.arange(seq)
    lo = np.maximum(0, i - (window - 1)) if window else np.zeros(seq, int)
    hi = i + 1 if causal else (np.minimum(seq, i + window) if window else np.full(seq, seq))
    return int((hi - lo).sum())


def write(d, heads, seq, window, causal):
    os.makedirs(os.path.join(d, "in"), exist_ok=True)
    ty = "tensor<1x%dx%dx%dxf32>" % (heads, seq, D)
    attrs = []
    if causal:
        attrs.append("causal")
    if window:
        attrs.append("window = %d : i64" % window)
    attr = " {%s}" % ", ".join(attrs) if attrs else ""
    open(os.path.join(d, "model.mlir"), "w").write(
        "func.func @main(%%q: %s, %%k: %s, %%v: %s) -> %s {\n"
        "  %%r = loom.attention %%q, %%k, %%v%s : (%s, %s, %s) -> %s\n"
        "  return %%r : %s\n}\n" % (ty, ty, ty, ty, attr, ty, ty, ty, ty, ty))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seqs", default="4096,16384")
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--heads", type=int, default=1)
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench", "sparse_attention"))
    args = ap.parse_args()
    loomc = os.path.join(ROOT, "build", "bin", "loomc")
    loom_run = os.path.join(ROOT, "build", "bin", "loom-run")
    rng = np.random.default_rng(0)
    rows = []
    for seq in (int(s) for s in args.seqs.split(",")):
        base = os.path.join(args.work, str(seq))
        q, k, v = (rng.standard_normal((1, args.heads, seq, D)).astype(np.float32)
                   for _ in range(3))
        for causal in (False, True):
            med = {}
            for window in (0, args.window):
                d = os.path.join(base, "%s_w%d" % ("causal" if causal else "full", window))
                write(d, args.heads, seq, window, causal)
                for i, a in enumerate((q, k, v)):
                    np.save(os.path.join(d, "in", "input_%d.npy" % i), a)
                sh([loomc, os.path.join(d, "model.mlir"), "-o", os.path.join(d, "model.so")])
                med[window] = d
            times = {0: [], args.window: []}
            for _ in range(args.repeats):
                for window, d in med.items():
                    out = sh([loom_run, os.path.join(d, "model.so"), "--inputs",
                              os.path.join(d, "in"), "--bench", str(args.runs), "--warmup",
                              str(args.warmup), "--json", "--threads", str(args.threads)])
                    times[window].append(json.loads(out.strip().splitlines()[-1])["median_ms"])
            # Check rows 1000..1063 of the window's output against numpy.
            d = med[args.window]
            o = os.path.join(d, "out")
            os.makedirs(o, exist_ok=True)
            sh([loom_run, os.path.join(d, "model.so"), "--inputs", os.path.join(d, "in"),
                "--outputs", o, "--npy"])
            got = np.load(os.path.join(o, "output_0.npy"))[0, 0, 1000:1064]
            s = (q[0, 0, 1000:1064] @ k[0, 0].T) / np.sqrt(D)
            i = np.arange(1000, 1064)[:, None]
            j = np.arange(seq)[None, :]
            bad = np.abs(j - i) >= args.window
            if causal:
                bad |= j > i
            s = np.where(bad, -np.inf, s)
            p = np.exp(s - s.max(-1, keepdims=True))
            want = (p / p.sum(-1, keepdims=True)) @ v[0, 0]
            err = float(np.abs(got - want).max())
            t = {w: statistics.median(x) for w, x in times.items()}
            rows.append((seq, causal, t[0], t[args.window],
                         tiles(seq, args.window, causal) / tiles(seq, 0, causal),
                         scores(seq, args.window, causal) / scores(seq, 0, causal), err))
    print("heads %d, head dim %d, window %d, tiles %dx%d" % (args.heads, D, args.window,
                                                          TILE_Q, TILE_KV))
    print("%-6s %-7s %10s %10s %9s %9s %9s %10s" % (
        "S", "mask", "full ms", "window ms", "time x", "tiles x", "scores x", "max err"))
    for seq, causal, full, win, tr, sr, err in rows:
        print("%-6d %-7s %10.2f %10.2f %9.4f %9.4f %9.4f %10.2g" % (
            seq, "causal" if causal else "none", full, win, win / full, tr, sr, err))


if __name__ == "__main__":
    main()
