#!/usr/bin/python3
"""Benchmark: sliding-window and block-sparse attention against Loom's dense
flash attention.

  bench/sparse_attention.py [--repeats 2] [--runs 3] [--threads 2]
                            [--seqs 4096,16384] [--window 512] [--heads 1]
                            [--blocks 128,1,1]

Each case is one loom.attention on q, k, v of shape [1, H, S, 64], written
as MLIR and compiled by loomc: full attention, the same with `window = W`
(what `--attention=sliding-window:W` sets) and with `block_sparse = [B, L,
G]` (`--attention=block-sparse:B,local=L,global=G`: a query's block, L
blocks on either side, G global blocks) and with `routed = [B, K]`
(`--attention=routed:B,top=K`: each query block's K best key blocks by
block-mean scores), non-causal (a Longformer-style band
of 2W - 1 keys per query) and causal (Mistral-style, the last W keys). Both are timed alternating, --repeats times (medians of
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


def span(n):
    return -(-max(0, n) // TILE_KV)


def tiles(seq, window, causal, blocks=None):
    """Key tiles the flash loops visit, summed over query tiles (as
    TileAttention.cpp bounds them)."""
    total = 0
    for q0 in range(0, seq, TILE_Q):
        rows = min(TILE_Q, seq - q0)
        end = seq
        if causal:
            end = min(seq, q0 + rows)
        elif window:
            end = min(seq, q0 + rows + window - 1)
        first = max(0, q0 - (window - 1)) if window else 0
        if blocks:
            bs, local, glob = blocks
            qbf, qbl = q0 // bs, (q0 + rows - 1) // bs
            if qbf < glob:
                total += span(end - first)
                continue
            a_end = max(first, min(glob * bs, end))
            b_begin = max((qbf - local) * bs, first, a_end)
            b_end = min((qbl + local + 1) * bs, end)
            total += span(a_end - first) + span(b_end - b_begin)
        else:
            total += span(end - first)
    return total


def visible(rows, seq, window, causal, blocks=None):
    """The mask of scores the layout keeps, for query rows `rows`."""
    i = np.asarray(rows)[:, None]
    j = np.arange(seq)[None, :]
    keep = np.ones((i.shape[0], seq), bool)
    if causal:
        keep &= j <= i
    if window:
        keep &= np.abs(j - i) < window
    if blocks:
        bs, local, glob = blocks
        qb, kb = i // bs, j // bs
        keep &= (qb < glob) | (kb < glob) | (np.abs(kb - qb) <= local)
    return keep


def routed_rows(q, k, bs, top, causal=False):
    """The [Sq, Skv] mask of content routing (as loom.attention's routed):
    each block of bs queries sees the `top` key blocks whose mean key has the
    largest dot product with the block's query sum (with `causal`, of the
    blocks starting at or before the block's last query, and keys past each
    query stay hidden)."""
    sq, skv = q.shape[0], k.shape[0]
    nk = -(-skv // bs)
    means = np.stack([k[j * bs:(j + 1) * bs].astype(np.float64).mean(0) for j in range(nk)])
    keep = np.zeros((sq, skv), bool)
    for qb in range(-(-sq // bs)):
        qsum = q[qb * bs:(qb + 1) * bs].astype(np.float64).sum(0)
        score = means @ qsum
        if causal:
            score = np.where(np.arange(nk) * bs > min(sq, (qb + 1) * bs) - 1, -np.inf, score)
        for j in np.argsort(-score, kind="stable")[:top]:
            if np.isfinite(score[j]):
                keep[qb * bs:(qb + 1) * bs, j * bs:(j + 1) * bs] = True
    if causal:
        keep &= np.arange(skv)[None, :] <= np.arange(sq)[:, None]
    return keep


def scores(seq, window, causal, blocks=None):
    # Rows a block at a time, to keep memory small at 16384.
    return sum(int(visible(range(r0, min(seq, r0 + 1024)), seq, window, causal,
                           blocks).sum())
               for r0 in range(0, seq, 1024))


def write(d, heads, seq, window, causal, blocks=None, routed=None):
    os.makedirs(os.path.join(d, "in"), exist_ok=True)
    ty = "tensor<1x%dx%dx%dxf32>" % (heads, seq, D)
    attrs = []
    if causal:
        attrs.append("causal")
    if window:
        attrs.append("window = %d : i64" % window)
    if blocks:
        attrs.insert(0, "block_sparse = array<i64: %d, %d, %d>" % tuple(blocks))
    if routed:
        attrs.append("routed = array<i64: %d, %d>" % tuple(routed))
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
    ap.add_argument("--blocks", default="128,1,1",
                    help="block-sparse layout B,L,G (block size, local, global blocks)")
    ap.add_argument("--routed", default="128,4",
                    help="content routing B,K (block size, key blocks per query block)")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench", "sparse_attention"))
    args = ap.parse_args()
    loomc = os.path.join(ROOT, "build", "bin", "loomc")
    loom_run = os.path.join(ROOT, "build", "bin", "loom-run")
    rng = np.random.default_rng(0)
    blocks = [int(x) for x in args.blocks.split(",")]
    routed = [int(x) for x in args.routed.split(",")]
    rows = []
    for seq in (int(s) for s in args.seqs.split(",")):
        base = os.path.join(args.work, str(seq))
        q, k, v = (rng.standard_normal((1, args.heads, seq, D)).astype(np.float32)
                   for _ in range(3))
        for causal in (False, True):
            variants = {"full": (0, None), "window": (args.window, None),
                        "blocks": (0, blocks)}
            variants["routed"] = (0, None)
            dirs = {}
            for name, (window, layout) in variants.items():
                d = os.path.join(base, "%s_%s" % ("causal" if causal else "none", name))
                write(d, args.heads, seq, window, causal, layout,
                      routed if name == "routed" else None)
                for i, a in enumerate((q, k, v)):
                    np.save(os.path.join(d, "in", "input_%d.npy" % i), a)
                sh([loomc, os.path.join(d, "model.mlir"), "-o", os.path.join(d, "model.so")])
                dirs[name] = d
            times = {name: [] for name in variants}
            for _ in range(args.repeats):
                for name, d in dirs.items():
                    out = sh([loom_run, os.path.join(d, "model.so"), "--inputs",
                              os.path.join(d, "in"), "--bench", str(args.runs), "--warmup",
                              str(args.warmup), "--json", "--threads", str(args.threads)])
                    times[name].append(json.loads(out.strip().splitlines()[-1])["median_ms"])
            # Rows 1000..1063 of each sparse output against numpy.
            errs = {}
            for name in ("window", "blocks", "routed"):
                if name not in variants:
                    continue
                window, layout = variants[name]
                d = dirs[name]
                o = os.path.join(d, "out")
                os.makedirs(o, exist_ok=True)
                sh([loom_run, os.path.join(d, "model.so"), "--inputs", os.path.join(d, "in"),
                    "--outputs", o, "--npy"])
                got = np.load(os.path.join(o, "output_0.npy"))[0, 0, 1000:1064]
                s = (q[0, 0, 1000:1064] @ k[0, 0].T) / np.sqrt(D)
                if name == "routed":
                    keep = routed_rows(q[0, 0], k[0, 0], *routed, causal=causal)[1000:1064]
                else:
                    keep = visible(range(1000, 1064), seq, window, causal, layout)
                s = np.where(keep, s, -np.inf)
                p = np.exp(s - s.max(-1, keepdims=True))
                want = (p / p.sum(-1, keepdims=True)) @ v[0, 0]
                errs[name] = float(np.abs(got - want).max())
            t = {name: statistics.median(x) for name, x in times.items()}
            full_tiles, full_scores = tiles(seq, 0, causal), scores(seq, 0, causal)
            for name in ("window", "blocks"):
                window, layout = variants[name]
                rows.append((seq, causal, name, t["full"], t[name],
                             tiles(seq, window, causal, layout) / full_tiles,
                             scores(seq, window, causal, layout) / full_scores, errs[name]))
            # Keys visited: K blocks of B per query block, against the full
            # loops' keys (about half of them when causal).
            full_keys = scores(seq, 0, causal) / seq
            frac = min(1.0, routed[1] * routed[0] / full_keys)
            rows.append((seq, causal, "routed", t["full"], t["routed"], frac, frac,
                         errs["routed"]))
    print("heads %d, head dim %d, window %d, blocks %s, routed %s, tiles %dx%d" % (
        args.heads, D, args.window, args.blocks, args.routed, TILE_Q, TILE_KV))
    print("%-6s %-7s %-7s %10s %10s %9s %9s %9s %10s" % (
        "S", "mask", "layout", "full ms", "sparse ms", "time x", "tiles x", "scores x",
        "max err"))
    for seq, causal, name, full, sparse, tr, sr, err in rows:
        print("%-6d %-7s %-7s %10.2f %10.2f %9.4f %9.4f %9.4f %10.2g" % (
            seq, "causal" if causal else "none", name, full, sparse, sparse / full, tr, sr,
            err))


if __name__ == "__main__":
    main()
